#!/usr/bin/env python3
"""DNS, live: dnsmasq serving a local zone on loopback (its own port),
queried with dig over UDP and over TCP (+tcp).

1. From a capture: tcpdump on lo (udp port P or tcp port P) while dig asks
   A, AAAA (no such record: NOERROR with no answer), a name outside the zone
   (NXDOMAIN), TXT, MX, SRV, over UDP and TCP; then `sonde read` of the file
   must have every exchange, paired, with the right transport, rcode and
   answer data. A query to a port nobody answers is written unanswered.
2. Live: `sonde capture --port P` during the same dig queries: every one is
   a record, once (dig and dnsmasq are both traced: each datagram is seen
   sent and received).
3. Names: an HTTP server and a redis-server on 127.0.0.5, the address the
   zone gives web.svc.test; dig resolves it, curl and redis-cli talk to it.
   From a capture (the lookup over UDP) and live (over TCP), their records
   name the server end web.svc.test and leave the client unnamed; with
   --no-names nothing is named; the text line shows the name.
4. The resolver path: getaddrinfo (getent, curl) in a network namespace
   whose resolv.conf points at dnsmasq on its port 53; sonde with no --port.

Usage: test_dns_live.py [path/to/sonde]. PASS/FAIL/SKIP lines.
"""
import json
import re
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from livelib import Child, Report, SondeRun, free_port, kill_children, kill_sondes, parse_args  # noqa: E402

R = Report("dns-live")

ZONE = """port={port}
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
local=/svc.test/
address=/web.svc.test/127.0.0.5
txt-record=txt.svc.test,"hello world"
mx-host=svc.test,mail.svc.test,10
srv-host=_http._tcp.svc.test,web.svc.test,8080,1,2
"""

# (name, type, transport, rcode, answer data that must appear)
QUERIES = [
    ("web.svc.test", "A", "udp", "NOERROR", "127.0.0.5"),
    ("web.svc.test", "AAAA", "udp", "NOERROR", None),
    ("nope.svc.test", "A", "udp", "NXDOMAIN", None),
    ("txt.svc.test", "TXT", "udp", "NOERROR", '"hello world"'),
    ("svc.test", "MX", "udp", "NOERROR", "10 mail.svc.test"),
    ("_http._tcp.svc.test", "SRV", "udp", "NOERROR", "1 2 8080 web.svc.test"),
    ("web.svc.test", "A", "tcp", "NOERROR", "127.0.0.5"),
    ("txt.svc.test", "TXT", "tcp", "NOERROR", '"hello world"'),
    ("nope.svc.test", "A", "tcp", "NXDOMAIN", None),
]


def dig(port, name, qtype, transport):
    argv = ["dig", "@127.0.0.1", "-p", str(port), name, qtype, "+tries=1", "+time=2"]
    if transport == "tcp":
        argv.append("+tcp")
    return subprocess.run(argv, capture_output=True, text=True, timeout=20)


def run_queries(port):
    """Ask every query; what dig says each status was (its rcode name)."""
    said = {}
    for name, qtype, transport, _, _ in QUERIES:
        p = dig(port, name, qtype, transport)
        if p.returncode != 0:
            R.info(f"dig {name} {qtype} {transport} exited {p.returncode}")
        m = re.search(r"status: ([A-Z]+)", p.stdout)
        said[(name, qtype, transport)] = m.group(1) if m else None
    return said


def dns_records(recs):
    return [r for r in recs if r.get("type") == "exchange" and r.get("protocol") == "dns"]


def find(recs, name, qtype, transport):
    for r in recs:
        q = (r.get("request") or r.get("response") or {}).get("questions") or [{}]
        if (q[0].get("name") == name and q[0].get("type") == qtype
                and r["conn"]["transport"] == transport):
            return r
    return None


def check_records(what, recs, queries, said):
    for name, qtype, transport, rcode, data in queries:
        # dnsmasq answers a type it has no data for NOERROR or NXDOMAIN
        # (versions differ): the record must say what dig saw.
        if said.get((name, qtype, transport)) and not data:
            rcode = said[(name, qtype, transport)]
        r = find(recs, name, qtype, transport)
        label = f"{what}: {transport} {qtype} {name}"
        if not R.check(label + ": a record", r is not None, f"{len(recs)} DNS records"):
            continue
        resp = r.get("response")
        ok = (r.get("request") and resp and resp["rcode"] == rcode and r["flags"] == []
              and r["request"]["id"] == resp["id"] and r["conn"]["server"]["port"] > 0)
        if ok and data:
            ok = any(a["data"] == data for a in resp["answers"])
        R.check(label + f": paired, {rcode}" + (f", {data}" if data else ""), ok,
                json.dumps({k: r.get(k) for k in ("flags", "request", "response")})[:1500])


def from_capture(sonde, tmp, port):
    if not shutil.which("tcpdump"):
        R.skip("tcpdump not installed: no capture file test")
        return
    pcap = os.path.join(tmp, "lo.pcap")
    dead = free_port()  # nobody answers here: the query stays unanswered
    td = Child(["tcpdump", "-i", "lo", "-U", "--immediate-mode", "-Z", "root", "-w", pcap,
                f"udp port {port} or tcp port {port} or udp port {dead}"], name="tcpdump")
    deadline = time.time() + 10
    while time.time() < deadline and "listening" not in td.stderr():
        time.sleep(0.05)
    said = run_queries(port)
    dig(dead, "lost.svc.test", "A", "udp")
    time.sleep(0.5)
    td.kill()
    p = subprocess.run([sonde, "read", "-o", "json", "--stats", pcap], capture_output=True,
                       text=True, timeout=60)
    R.check("sonde read exits 0", p.returncode == 0, p.stderr[-500:])
    recs = [json.loads(ln) for ln in p.stdout.splitlines() if ln.strip()]
    dns = dns_records(recs)
    check_records("pcap", dns, QUERIES, said)
    lost = [r for r in dns if "unanswered" in r["flags"]]
    R.check("pcap: the query nobody answered is unanswered", len(lost) >= 1 and all(
        r["request"]["questions"][0]["name"] == "lost.svc.test" for r in lost), json.dumps(lost)[:400])
    st = recs[-1] if recs else {}
    R.check("pcap: every datagram dissected", st.get("udp_datagrams_undissected") == 0, st)
    R.check("pcap: nothing else", len(dns) == len(QUERIES) + len(lost), f"{len(dns)} DNS records")


def live(sonde, tmp, port, dry):
    run = SondeRun(sonde, tmp, "capture", ["--port", str(port)], R, dry=dry)
    if not run.ok:
        return
    said = run_queries(port)
    rc, recs = run.stop()
    R.check("capture: sonde exits 0", rc == 0, run.stderr()[-500:])
    dns = dns_records(recs)
    check_records("capture", dns, QUERIES, said)
    # dig and dnsmasq are both traced: each datagram is seen sent and
    # received, and must be written once.
    R.check("capture: each exchange once (loopback datagrams not doubled)",
            len(dns) == len(QUERIES), f"{len(dns)} DNS records for {len(QUERIES)} queries")
    st = recs[-1] if recs else {}
    R.check("capture: UDP datagrams counted (ebpf_udp_datagrams, duplicate_peer_bytes)",
            st.get("ebpf_udp_datagrams", 0) >= 12 and st.get("duplicate_peer_bytes", 0) > 0, st)


WEB = "127.0.0.5"  # what dnsmasq answers for web.svc.test


def wait_addr(addr, port, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection((addr, port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def name_servers(tmp):
    """An HTTP server and (if installed) a redis-server on WEB, the address
    the zone gives web.svc.test. Returns their ports (redis: None)."""
    hp = free_port()
    Child(["/usr/bin/python3", "-m", "http.server", str(hp), "--bind", WEB, "--directory", tmp],
          name="http.server")
    rp = None
    if shutil.which("redis-server"):
        rp = free_port()
        Child(["redis-server", "--port", str(rp), "--bind", WEB, "--save", "", "--appendonly",
               "no", "--dir", tmp], name="redis-server")
    ok = wait_addr(WEB, hp) and (rp is None or wait_addr(WEB, rp))
    R.check("names: servers on " + WEB + " up", ok)
    return hp, rp


def name_clients(port, transport, hp, rp):
    """Resolve web.svc.test through dnsmasq, then talk to what it said."""
    p = dig(port, "web.svc.test", "A", transport)
    R.check(f"names: dig {transport} gives {WEB}", WEB in p.stdout, p.stdout[-300:])
    subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://{WEB}:{hp}/"], timeout=20)
    if rp:
        subprocess.run(["redis-cli", "-h", WEB, "-p", str(rp), "PING"], capture_output=True,
                       timeout=20)


def check_names(what, recs, hp, rp, want=True):
    """HTTP and Redis records to WEB name their server web.svc.test, their
    client (127.0.0.1, which no answer named) nothing."""
    for proto, port in (("http", hp), ("redis", rp)):
        if port is None:
            continue
        rs = [r for r in recs if r.get("type") == "exchange" and r.get("protocol") == proto
              and r["conn"]["server"]["port"] == port]
        if not R.check(f"{what}: a {proto} record to {WEB}:{port}", rs, f"{len(recs)} records"):
            continue
        sv, cl = rs[0]["conn"]["server"], rs[0]["conn"]["client"]
        if want:
            ok = (sv.get("name") == "web.svc.test" and sv.get("name_source") == "dns"
                  and "name" not in cl)
            R.check(f"{what}: {proto} server named web.svc.test (dns), client unnamed", ok,
                    json.dumps(rs[0]["conn"]))
        else:
            R.check(f"{what}: --no-names: {proto} server unnamed", "name" not in sv,
                    json.dumps(rs[0]["conn"]))


def names_from_capture(sonde, tmp, port, hp, rp):
    if not shutil.which("tcpdump"):
        return
    pcap = os.path.join(tmp, "names.pcap")
    flt = f"udp port {port} or tcp port {hp}" + (f" or tcp port {rp}" if rp else "")
    td = Child(["tcpdump", "-i", "lo", "-U", "--immediate-mode", "-Z", "root", "-w", pcap, flt],
               name="tcpdump")
    deadline = time.time() + 10
    while time.time() < deadline and "listening" not in td.stderr():
        time.sleep(0.05)
    name_clients(port, "udp", hp, rp)
    time.sleep(0.5)
    td.kill()
    for extra, want in (([], True), (["--no-names"], False)):
        p = subprocess.run([sonde, "read", "-o", "json"] + extra + ["--stats", pcap],
                           capture_output=True, text=True, timeout=60)
        recs = [json.loads(ln) for ln in p.stdout.splitlines() if ln.strip()]
        check_names("pcap" + (" --no-names" if extra else ""), recs, hp, rp, want)
        if want:
            st = recs[-1] if recs else {}
            R.check("pcap: names counted (names_responses, names_attached)",
                    st.get("names_responses", 0) >= 1 and st.get("names_attached", 0) >= 1, st)
    p = subprocess.run([sonde, "read", "-o", "text", pcap], capture_output=True, text=True,
                       timeout=60)
    R.check("pcap: the text line names the server", f"web.svc.test:{hp} http" in p.stdout,
            p.stdout[-600:])


def names_live(sonde, tmp, port, hp, rp, dry):
    """The same naming, live (the lookup over UDP)."""
    ports = ",".join(str(x) for x in (port, hp, rp) if x)
    run = SondeRun(sonde, tmp, "names", ["--port", ports], R, dry=dry)
    if not run.ok:
        return
    name_clients(port, "udp", hp, rp)
    time.sleep(0.5)
    rc, recs = run.stop()
    check_names("capture", recs, hp, rp)


NS = "sonde-dns-res"


def resolver_live(sonde, tmp, dry):
    """What programs do: glibc's getaddrinfo (getent, curl) asking the
    resolver of /etc/resolv.conf on port 53 — sendmmsg of A and AAAA on a
    connected UDP socket, recvfrom of the answers — in a network namespace
    of the test's own (its loopback, its /etc/netns resolv.conf, dnsmasq on
    its port 53). sonde captures with no --port (UDP: port 53 alone) and
    --comm getent,curl: the lookups and the HTTP exchange are records, and
    the HTTP one names its server."""
    if not shutil.which("ip"):
        R.skip("resolver: no ip(8)")
        return
    etc = f"/etc/netns/{NS}"
    subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    try:
        subprocess.run(["ip", "netns", "add", NS], check=True)
        subprocess.run(["ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up"], check=True)
        os.makedirs(etc, exist_ok=True)
        with open(f"{etc}/resolv.conf", "w") as f:
            f.write("nameserver 127.0.0.1\noptions attempts:1 timeout:2\n")
        conf = os.path.join(tmp, "dnsmasq-ns.conf")
        with open(conf, "w") as f:
            f.write(ZONE.format(port=53))
        dnsmasq = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
        Child(["ip", "netns", "exec", NS, dnsmasq, "--keep-in-foreground", "--conf-file=" + conf,
               "--user=root", "--pid-file=" + os.path.join(tmp, "pid-ns"), "--log-facility=-"],
              name="dnsmasq-ns")
        hp = 8080
        Child(["ip", "netns", "exec", NS, "/usr/bin/python3", "-m", "http.server", str(hp),
               "--bind", WEB, "--directory", tmp], name="http.server-ns")
        ok = False
        for _ in range(100):
            p = subprocess.run(["ip", "netns", "exec", NS, "curl", "-s", "-o", "/dev/null",
                                f"http://{WEB}:{hp}/"], capture_output=True)
            q = subprocess.run(["ip", "netns", "exec", NS, "getent", "hosts", "web.svc.test"],
                               capture_output=True, text=True)
            if p.returncode == 0 and WEB in q.stdout:
                ok = True
                break
            time.sleep(0.1)
        if not R.check("resolver: dnsmasq and the HTTP server answer in the namespace", ok):
            return
        run = SondeRun(sonde, tmp, "resolver", ["--comm", "getent,curl"], R, dry=dry)
        if not run.ok:
            return
        g = subprocess.run(["ip", "netns", "exec", NS, "getent", "ahosts", "web.svc.test"],
                           capture_output=True, text=True, timeout=20)
        c = subprocess.run(["ip", "netns", "exec", NS, "curl", "-s", "-o", "/dev/null", "-w",
                            "%{http_code}", f"http://web.svc.test:{hp}/"],
                           capture_output=True, text=True, timeout=20)
        time.sleep(0.5)
        rc, recs = run.stop()
        R.check("resolver: getent and curl resolved", WEB in g.stdout and c.stdout == "200",
                g.stdout + c.stdout + c.stderr)
        dns = [r for r in dns_records(recs) if r["conn"]["transport"] == "udp"]
        asked = {(r["request"]["questions"][0]["name"], r["request"]["questions"][0]["type"],
                  r["process"]["comm"]) for r in dns if r.get("request") and r.get("response")}
        for comm in ("getent", "curl"):
            R.check(f"resolver: {comm}'s A lookup of web.svc.test over UDP, paired",
                    ("web.svc.test", "A", comm) in asked, json.dumps(sorted(asked)))
        R.check("resolver: the AAAA lookups too (sendmmsg sends both)",
                any(q[1] == "AAAA" for q in asked), json.dumps(sorted(asked)))
        http = [r for r in recs if r.get("type") == "exchange" and r.get("protocol") == "http"]
        ok = http and http[0]["conn"]["server"].get("name") == "web.svc.test"
        R.check("resolver: curl's request names its server web.svc.test", ok,
                json.dumps(http[0]["conn"]) if http else f"{len(recs)} records")
    finally:
        kill_children()
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)
        shutil.rmtree(etc, ignore_errors=True)


def main():
    sonde, dry, _keep, _only = parse_args(sys.argv[1:])
    for tool in ("dnsmasq", "dig"):
        if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
            R.skip(f"{tool} not installed")
            return 0
    if os.geteuid() != 0:
        R.skip("needs root (tcpdump on lo, eBPF)")
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-dns.")
    port = free_port()
    conf = os.path.join(tmp, "dnsmasq.conf")
    with open(conf, "w") as f:
        f.write(ZONE.format(port=port))
    dnsmasq = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    try:
        Child([dnsmasq, "--keep-in-foreground", "--conf-file=" + conf, "--user=root",
               "--pid-file=" + os.path.join(tmp, "pid"), "--log-facility=-"], name="dnsmasq")
        ok = False
        for _ in range(100):
            if dig(port, "web.svc.test", "A", "udp").returncode == 0:
                ok = True
                break
            time.sleep(0.05)
        if not R.check("dnsmasq answers", ok):
            return 1
        from_capture(sonde, tmp, port)
        live(sonde, tmp, port, dry)
        hp, rp = name_servers(tmp)
        names_from_capture(sonde, tmp, port, hp, rp)
        names_live(sonde, tmp, port, hp, rp, dry)
        resolver_live(sonde, tmp, dry)
    finally:
        kill_sondes()
        kill_children()
        if not R.failed:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
