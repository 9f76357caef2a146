#!/usr/bin/env python3
"""UDP flows are keyed by network namespace, live: two namespaces of the
test's own, each with the same addresses (10.251.0.1 and .2 on its
loopback device) and its own dnsmasq on 10.251.0.1:53 answering the same
name differently. dig in each asks from the same source port, so both
namespaces carry the very same 5-tuple. sonde (no --port: UDP port 53)
must keep two flows: each record's answer is its own namespace's and its
process the dig that asked it. Then a flow between two namespaces (dig in
one, dnsmasq in the other, over a veth pair): seen sent in one and
received in the other, it stays one flow whose queries and answers pair.
Usage: test_udp_netns.py [path/to/sonde]. PASS/FAIL/SKIP/INFO lines."""
import json, os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from livelib import Report, Child, SondeRun, kill_children, kill_sondes, parse_args

R = Report("udp-netns")
NS = ("sonde-udpns-a", "sonde-udpns-b")
ANSWER = {NS[0]: "10.7.0.1", NS[1]: "10.7.0.2"}
SRV, CLI, SPORT = "10.251.0.1", "10.251.0.2", 40053
ZONE = ("port=53\nlisten-address={srv}\nbind-interfaces\nno-resolv\nno-hosts\n"
        "address=/svc.test/{ans}\nlocal=/test/\n")


def ns(name, *argv, check=True):
    return subprocess.run(["ip", "netns", "exec", name] + list(argv), capture_output=True,
                          text=True, check=check, timeout=20)


def dig(name, qname, server=SRV, src=CLI):
    """dig in namespace name from src:SPORT; (its pid is not known: dig's
    own) -> (answer, the process's pid)."""
    p = subprocess.Popen(["ip", "netns", "exec", name, "dig", "+tries=1", "+time=2", "+short",
                          "-b", f"{src}#{SPORT}", f"@{server}", qname, "A"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=20)
    return out.strip(), p.pid  # ip netns exec execs dig: the same pid


def dnsmasq(tmp, name, srv, ans):
    conf = os.path.join(tmp, name + ".conf")
    with open(conf, "w") as f:
        f.write(ZONE.format(srv=srv, ans=ans))
    exe = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    return Child(["ip", "netns", "exec", name, exe, "--keep-in-foreground", "--conf-file=" + conf,
                  "--user=root", "--pid-file=" + os.path.join(tmp, name + ".pid"),
                  "--log-facility=-"], name="dnsmasq-" + name)


def wait_answer(name, want, server=SRV, src=CLI):
    for _ in range(100):
        p = ns(name, "dig", "+tries=1", "+time=1", "+short", "-b", src, f"@{server}", "x.svc.test", check=False)
        if p.stdout.strip() == want:
            return True
        time.sleep(0.1)
    return False


def dns(recs, qname):
    return [r for r in recs if r.get("type") == "exchange" and r.get("protocol") == "dns"
            and r.get("request") and r["request"]["questions"][0]["name"] == qname]


def same_tuple(sonde, tmp, dry):
    servers = {}
    for n in NS:
        subprocess.run(["ip", "netns", "add", n], check=True)
        ns(n, "ip", "link", "set", "lo", "up")
        for a in (SRV, CLI):
            ns(n, "ip", "addr", "add", a + "/32", "dev", "lo")
        servers[n] = dnsmasq(tmp, n, SRV, ANSWER[n]).pid
    if not R.check("same tuple: each namespace's dnsmasq answers",
                   all(wait_answer(n, ANSWER[n]) for n in NS)):
        return
    run = SondeRun(sonde, tmp, "same", [], R, dry=dry)
    if not run.ok:
        return
    got = {}
    for i in range(3):  # the same 5-tuple from each namespace, in turn
        for n in NS:
            got[(n, i)] = dig(n, f"q{i}.svc.test")
    time.sleep(0.5)
    rc, recs = run.stop()
    R.check("same tuple: every dig answered by its own namespace",
            all(got[(n, i)][0] == ANSWER[n] for n in NS for i in range(3)), got)
    # A flow's process is the one whose datagram opened it: a dig of its
    # namespace (or its dnsmasq, when the receive was seen first); one flow
    # for both namespaces would give the other's to half the records.
    own = {n: {got[(n, i)][1] for i in range(3)} | {servers[n]} for n in NS}
    for i in range(3):
        rs = dns(recs, f"q{i}.svc.test")
        ok = len(rs) == 2 and all(r.get("response") is not None and r["conn"]["client"]["port"] == SPORT
                                  and r["conn"]["server"]["ip"] == SRV for r in rs)
        for n in NS:
            ok = ok and sum(1 for r in rs if [a["data"] for a in r["response"]["answers"]] == [ANSWER[n]]
                            and r["process"]["pid"] in own[n]) == 1
        R.check(f"same tuple: query {i}: two records, each the answer of its own namespace "
                "and a process of its own namespace", ok,
                json.dumps([{k: r.get(k) for k in ("process", "conn", "response", "flags")} for r in rs])[:2000])
    st = [x for x in recs if x.get("type") == "stats"]
    if st:
        R.info("stats: duplicate_peer_bytes=%s udp_datagrams_undissected=%s" %
               (st[0].get("duplicate_peer_bytes"), st[0].get("udp_datagrams_undissected")))


def across(sonde, tmp, dry):
    """dig in namespace a (10.252.0.2) asking dnsmasq in b (10.252.0.1) over
    a veth pair: both ends traced, each datagram seen in both namespaces."""
    a, b = NS
    subprocess.run(["ip", "link", "add", "sonde-udv0", "netns", a, "type", "veth", "peer",
                    "name", "sonde-udv1", "netns", b], check=True)
    ns(a, "ip", "addr", "add", "10.252.0.2/24", "dev", "sonde-udv0")
    ns(b, "ip", "addr", "add", "10.252.0.1/24", "dev", "sonde-udv1")
    ns(a, "ip", "link", "set", "sonde-udv0", "up")
    ns(b, "ip", "link", "set", "sonde-udv1", "up")
    conf = os.path.join(tmp, "x.conf")
    with open(conf, "w") as f:
        f.write(ZONE.format(srv="10.252.0.1", ans="10.7.0.9").replace("port=53", "port=5353"))
    exe = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    Child(["ip", "netns", "exec", b, exe, "--keep-in-foreground", "--conf-file=" + conf,
           "--user=root", "--pid-file=" + os.path.join(tmp, "x.pid"), "--log-facility=-"],
          name="dnsmasq-x")
    ok = False
    for _ in range(100):
        p = ns(a, "dig", "+tries=1", "+time=1", "+short", "-p", "5353", "@10.252.0.1", "x.svc.test", check=False)
        if p.stdout.strip() == "10.7.0.9":
            ok = True
            break
        time.sleep(0.1)
    if not R.check("across: dnsmasq in b answers dig in a", ok):
        return
    run = SondeRun(sonde, tmp, "across", ["--port", "5353"], R, dry=dry)
    if not run.ok:
        return
    for i in range(3):
        p = ns(a, "dig", "+tries=1", "+time=2", "+short", "-b", "10.252.0.2#40054", "-p", "5353",
               "@10.252.0.1", f"x{i}.svc.test", check=False)
    time.sleep(0.5)
    rc, recs = run.stop()
    for i in range(3):
        rs = dns(recs, f"x{i}.svc.test")
        R.check(f"across: query {i}: one record, paired with its answer", len(rs) == 1 and
                rs[0].get("response") is not None and
                [x["data"] for x in rs[0]["response"]["answers"]] == ["10.7.0.9"],
                json.dumps([{k: r.get(k) for k in ("process", "conn", "response", "flags")} for r in rs])[:2000])
    st = [x for x in recs if x.get("type") == "stats"]
    R.check("across: each datagram's second sight counted as a duplicate",
            st and st[0].get("duplicate_peer_bytes", 0) > 0, st[0] if st else "no stats")


def main():
    sonde, dry, keep, only = parse_args(sys.argv[1:])
    if os.geteuid() != 0:
        R.skip("needs root (eBPF, network namespaces)")
        return 0
    for tool in ("ip", "dig"):
        if not shutil.which(tool):
            R.skip(f"{tool} is not installed")
            return 0
    if not (shutil.which("dnsmasq") or os.path.exists("/usr/sbin/dnsmasq")):
        R.skip("dnsmasq is not installed")
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-udpns-")
    for n in NS:
        subprocess.run(["ip", "netns", "del", n], capture_output=True)
    try:
        if only is None or "same" in only:
            same_tuple(sonde, tmp, dry)
        if only is None or "across" in only:
            across(sonde, tmp, dry)
    finally:
        kill_sondes()
        kill_children()
        for n in NS:
            subprocess.run(["ip", "netns", "del", n], capture_output=True)
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
