#!/usr/bin/env python3
"""Packet sources on the real kernel: two network namespaces joined by a veth
pair (made here, removed after), a real HTTP/1.1 server in one and curl in
the other. Each packet source (af_packet, libpcap, tc) captures the exchanges
from inside the server's namespace, and its records must be those `sonde
read` makes of tcpdump's recording of the same traffic, with the method and
interface named. Also: --filter runs in the kernel, `any` in a namespace
with loopback traffic gives each exchange once, --netns by pid, and every
wrong option or missing interface is refused with the reason; tc's hooks
are gone after sonde stops, by signal or SIGKILL; cgroup_skb on a cgroup
of the test's own gives that cgroup's exchanges as tcpdump's recording
does, and leaves nothing attached either; af_xdp captures through its own
mirror veth while traffic flows, and leaves nothing after SIGINT or SIGKILL; --all-netns follows a
namespace made after start and one deleted, and writes each exchange once.

Usage: test_packet_sources.py [--only NAME,...] path/to/sonde
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from livelib import Report, SondeRun, kill_sondes, parse_args

R = Report("packet-sources")
SONDE = None
TAG = f"sp{os.getpid() % 100000}"
NS_SRV, NS_CLI = f"{TAG}a", f"{TAG}b"
IF_SRV, IF_CLI = f"{TAG}va", f"{TAG}vb"
SRV_IP, CLI_IP = "10.199.7.1", "10.199.7.2"
PORT = 8080

SERVER = r'''
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def reply(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        self.reply(("you asked for " + self.path + "\n").encode() * 40)
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        self.reply(b"got " + self.rfile.read(n))
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
'''


def sh(*argv, check=True, **kw):
    return subprocess.run(list(argv), check=check, capture_output=True, text=True, **kw)


def setup_net():
    sh("ip", "netns", "add", NS_SRV)
    sh("ip", "netns", "add", NS_CLI)
    sh("ip", "link", "add", IF_SRV, "type", "veth", "peer", "name", IF_CLI)
    sh("ip", "link", "set", IF_SRV, "netns", NS_SRV)
    sh("ip", "link", "set", IF_CLI, "netns", NS_CLI)
    for ns, dev, ip in ((NS_SRV, IF_SRV, SRV_IP), (NS_CLI, IF_CLI, CLI_IP)):
        sh("ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")


def teardown_net():
    for ns in (NS_SRV, NS_CLI, NS_NEW):
        sh("ip", "netns", "pids", ns, check=False)
        pids = sh("ip", "netns", "pids", ns, check=False).stdout.split()
        for p in pids:
            try:
                os.kill(int(p), signal.SIGKILL)
            except OSError:
                pass
        sh("ip", "netns", "del", ns, check=False)


def clients(ns=NS_CLI, host=SRV_IP, tag="a", port=PORT):
    """Real curl traffic: a keep-alive connection with two GETs, a POST, and
    a fresh connection. Returns the number of exchanges."""
    base = f"http://{host}:{port}"
    sh("ip", "netns", "exec", ns, "curl", "-sf", "-o", "/dev/null", "-o", "/dev/null",
       f"{base}/{tag}/one", f"{base}/{tag}/two")
    sh("ip", "netns", "exec", ns, "curl", "-sf", "-o", "/dev/null", "-d", "x" * 3000, f"{base}/{tag}/post")
    sh("ip", "netns", "exec", ns, "curl", "-sf", "-o", "/dev/null", f"{base}/{tag}/three")
    return 4


def exchanges(recs):
    return [r for r in recs if r.get("type") == "exchange"]


def addr(end):
    """An end as a recording shows it: live capture adds who is talking
    (process, container, pod: tests/e2e/test_packet_enrich.py)."""
    return {k: v for k, v in end.items() if k not in ("process", "container", "pod")}


def key(r):
    """What two captures of the same exchange must agree on."""
    q, s = r.get("request") or {}, r.get("response") or {}
    return json.dumps([addr(r["conn"]["client"]), addr(r["conn"]["server"]), q.get("method"), q.get("target"),
                       q.get("headers"), q.get("body"), s.get("status"), s.get("headers"),
                       s.get("body"), r.get("flags")], sort_keys=True)


def stats_of(recs):
    for r in recs:
        if r.get("type") == "stats":
            return r
    return {}


def read_pcap(path):
    p = sh(SONDE, "read", "-o", "json", path, check=False)
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def test_source(tmp, kind):
    pcap = os.path.join(tmp, f"tcpdump-{kind}.pcap")
    td = subprocess.Popen(["ip", "netns", "exec", NS_SRV, "tcpdump", "-i", IF_SRV, "-U", "-s", "0",
                           "-w", pcap], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # tcpdump says "listening on" once its socket is up
    line = td.stderr.readline()
    run = SondeRun(SONDE, tmp, kind, ["--source", kind, "--netns", NS_SRV, "-i", IF_SRV], R)
    if not run.ok:
        td.terminate()
        return
    n = clients(tag=kind)
    time.sleep(0.5)
    rc, recs = run.stop()
    time.sleep(0.3)
    td.send_signal(signal.SIGINT)
    td.wait(timeout=10)
    live = exchanges(recs)
    ref = exchanges(read_pcap(pcap))
    R.check(f"{kind}: stopped cleanly", rc == 0, f"status {rc}: {run.stderr()[-500:]}")
    R.check(f"{kind}: every exchange captured ({n})", len(live) == n,
            f"{len(live)} records; tcpdump's recording has {len(ref)} ({line.strip()})")
    method = {r["capture"]["method"] for r in live}
    source = {r["capture"]["source"] for r in live}
    want_method = {"af_packet": "af_packet", "libpcap": "libpcap", "tc": "ebpf-tc",
                   "af_xdp": "af_xdp"}[kind]
    R.check(f"{kind}: records name the method and the interface",
            method == {want_method} and source == {f"{IF_SRV}@/run/netns/{NS_SRV}"}, f"{method} {source}")
    R.check(f"{kind}: the same records as sonde read of tcpdump's recording",
            sorted(map(key, live)) == sorted(map(key, ref)) and len(ref) == n,
            f"live {len(live)}, tcpdump {len(ref)}; first live {live[:1]} first ref {ref[:1]}")
    st = stats_of(recs)
    R.check(f"{kind}: nothing dropped, frames counted",
            st.get("packet_kernel_drops") == 0 and st.get("frames", 0) > 0 and st.get("gap_bytes") == 0,
            f"drops {st.get('packet_kernel_drops')} frames {st.get('frames')} gaps {st.get('gap_bytes')}")


def test_filter(tmp, kind="af_packet"):
    for expr, want in ((f"tcp port {PORT}", 4), ("tcp port 9", 0)):
        run = SondeRun(SONDE, tmp, "filter", ["--source", kind, "--netns", NS_SRV, "-i", IF_SRV,
                                              "--filter", expr], R)
        if not run.ok:
            return
        clients(tag="f")
        rc, recs = run.stop()
        st = stats_of(recs)
        R.check(f"{kind} filter '{expr}': {want} exchanges", len(exchanges(recs)) == want and rc == 0,
                f"{len(exchanges(recs))} records, status {rc}")
        if want == 0:
            # af_packet: in the kernel, nothing read; tc: in sonde, nothing decoded.
            R.check(f"{kind} filter: unwanted packets never decoded (no frames)", st.get("frames") == 0,
                    f"frames {st.get('frames')}")


def test_any_loopback(tmp, server_pid, kind="af_packet"):
    """`any` in the server's namespace by pid: its loopback traffic (each
    packet shows twice on lo) and the veth's, each exchange once."""
    run = SondeRun(SONDE, tmp, "any", ["--source", kind, "--netns", str(server_pid)], R)
    if not run.ok:
        return
    n = clients(tag="veth") + clients(ns=NS_SRV, host=SRV_IP, tag="lo")
    rc, recs = run.stop()
    ex = exchanges(recs)
    targets = sorted(r["request"]["target"] for r in ex if r.get("request"))
    R.check(f"{kind} any by pid: every exchange once ({n})", len(ex) == n and len(set(targets)) == len(targets),
            f"{len(ex)} records: {targets}")
    st = stats_of(recs)
    R.check(f"{kind} any: no retransmission seen (no duplicate reached reassembly)",
            st.get("retransmitted_bytes") == 0, f"retransmitted {st.get('retransmitted_bytes')}")
    R.check(f"{kind} any: source names the namespace", {r["capture"]["source"] for r in ex} == {f"any@/proc/{server_pid}/ns/net"},
            str({r["capture"]["source"] for r in ex}))


NS_NEW = f"{TAG}c"  # made while sonde runs: a pod started after it


def test_all_netns(tmp, kind):
    """--all-netns: a namespace made after sonde started is captured, its
    loopback too (a sidecar's plaintext leg to its app); the veth exchanges,
    seen leaving one namespace and entering the other, are written once;
    the new namespace, deleted, is let go."""
    run = SondeRun(SONDE, tmp, f"all-{kind}", ["--source", kind, "--all-netns"], R)
    if not run.ok:
        return
    sh("ip", "netns", "add", NS_NEW)
    app = None
    try:
        sh("ip", "netns", "exec", NS_NEW, "ip", "link", "set", "lo", "up")
        app = subprocess.Popen(["ip", "netns", "exec", NS_NEW, "/usr/bin/python3", "-c", SERVER,
                                "127.0.0.1", str(PORT)], start_new_session=True)
        for _ in range(100):
            if sh("ip", "netns", "exec", NS_NEW, "curl", "-s", "-o", "/dev/null",
                  f"http://127.0.0.1:{PORT}/ready", check=False).returncode == 0:
                break
            time.sleep(0.1)
        time.sleep(2.5)  # sonde looks for new namespaces every 2 s
        n_side = clients(ns=NS_NEW, host="127.0.0.1", tag=f"side{kind}")
        n_veth = clients(tag=f"veth{kind}")
    finally:
        if app:
            os.killpg(app.pid, signal.SIGKILL)
            app.wait()
        sh("ip", "netns", "del", NS_NEW, check=False)
    time.sleep(2.5)
    rc, recs = run.stop()
    ex = exchanges(recs)
    side = [r for r in ex if r.get("request") and f"/side{kind}/" in r["request"]["target"]]
    veth = [r for r in ex if r.get("request") and f"/veth{kind}/" in r["request"]["target"]]
    R.check(f"all-netns {kind}: a namespace made after start, its loopback captured ({n_side})",
            len(side) == n_side and all(r["capture"]["source"] == f"any@/run/netns/{NS_NEW}"
                                        for r in side),
            json.dumps([(r["request"]["target"], r["capture"]["source"]) for r in side]))
    srcs = {r["capture"]["source"] for r in veth}
    R.check(f"all-netns {kind}: veth exchanges once though two namespaces saw them ({n_veth})",
            len(veth) == n_veth and srcs <= {f"any@/run/netns/{NS_SRV}", f"any@/run/netns/{NS_CLI}"},
            f"{len(veth)} records from {srcs}")
    st = stats_of(recs)
    R.check(f"all-netns {kind}: the second sightings counted, the gone namespace closed",
            st.get("packet_duplicates", 0) > 0 and st.get("netns_closed", 0) >= 1 and rc == 0,
            f"duplicates {st.get('packet_duplicates')} closed {st.get('netns_closed')} rc {rc}")


def tc_programs_left():
    """sonde's TC programs still in the kernel: loaded while a TCX link or a
    clsact filter holds them, gone once nothing does (Debian 12's bpftool
    does not list TCX links, so the programs are looked for)."""
    p = sh("bpftool", "-j", "prog", "show", check=False)
    progs = json.loads(p.stdout or "[]")
    return [x["id"] for x in progs if x.get("name") in ("sonde_tc_in", "sonde_tc_out")]


def test_tc_leaves_nothing(tmp):
    """The TC hooks go with sonde: after a clean stop, and after SIGKILL
    (a TCX link is the process's; the kernel removes it)."""
    for how in ("SIGINT", "SIGKILL", "clsact"):
        if how == "clsact":  # the pre-6.6 way, filters on a clsact qdisc
            os.environ["SONDE_TC_ATTACH"] = "clsact"
        run = SondeRun(SONDE, tmp, f"tc-{how}", ["--source", "tc", "--netns", NS_SRV], R)
        os.environ.pop("SONDE_TC_ATTACH", None)
        if not run.ok:
            return
        if how == "clsact":
            q = sh("ip", "netns", "exec", NS_SRV, "tc", "qdisc", "show", "dev", IF_SRV,
                   check=False).stdout
            R.check("tc clsact: the qdisc made while running", "clsact" in q, q)
        during = tc_programs_left()
        if how != "SIGKILL":
            n = clients(tag="tc" + how)
            rc, recs = run.stop()
            R.check(f"tc {how}: every exchange captured ({n})", len(exchanges(recs)) == n,
                    f"{len(exchanges(recs))} records")
        else:
            run.proc.kill()
            run.proc.wait(timeout=10)
        deadline = time.time() + 5
        while time.time() < deadline and tc_programs_left():
            time.sleep(0.1)
        R.check(f"tc: attached while running, nothing left after {how}",
                during and not tc_programs_left(), f"during {during}, after {tc_programs_left()}")
        if how == "clsact":
            q = sh("ip", "netns", "exec", NS_SRV, "tc", "qdisc", "show", "dev", IF_SRV,
                   check=False).stdout
            R.check("tc clsact: the qdisc sonde made is gone with it", "clsact" not in q, q)


CG_PORT = PORT + 1  # the server whose sockets are in the test's cgroup


def cgroup2_root():
    with open("/proc/self/mounts") as f:
        for line in f:
            dev, path, kind = line.split()[:3]
            if kind == "cgroup2":
                return path
    return None


def cg_programs_left():
    p = sh("bpftool", "-j", "prog", "show", check=False)
    return [x["id"] for x in json.loads(p.stdout or "[]")
            if x.get("name") in ("sonde_cg_in", "sonde_cg_out")]


def start_cg_server(cg):
    """A second server, started inside cgroup cg (its sockets are the
    cgroup's from creation)."""
    def enter():
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    srv = subprocess.Popen(["ip", "netns", "exec", NS_SRV, "/usr/bin/python3", "-c", SERVER,
                            SRV_IP, str(CG_PORT)], start_new_session=True, preexec_fn=enter)
    for _ in range(100):
        if sh("ip", "netns", "exec", NS_CLI, "curl", "-s", "-o", "/dev/null",
              f"http://{SRV_IP}:{CG_PORT}/ready", check=False).returncode == 0:
            break
        time.sleep(0.1)
    return srv


def test_cgroup_skb(tmp):
    """cgroup_skb on a cgroup of the test's own, holding a real server in
    the server's namespace: the records of curl's exchanges with it are
    those of tcpdump's recording on the interface, each names the socket's
    cgroup; the other server's traffic (outside the cgroup) is not seen;
    the programs are gone after SIGINT and after SIGKILL (BPF links)."""
    root = cgroup2_root()
    if not root:
        R.skip("cgroup_skb: no cgroup v2 hierarchy mounted")
        return
    cg = os.path.join(root, f"sonde-{TAG}")
    os.makedirs(cg, exist_ok=True)
    srv = None
    try:
        srv = start_cg_server(cg)
        cg_id = os.stat(cg).st_ino
        for how in ("SIGINT", "SIGKILL"):
            pcap = os.path.join(tmp, f"tcpdump-cg-{how}.pcap")
            td = subprocess.Popen(["ip", "netns", "exec", NS_SRV, "tcpdump", "-i", IF_SRV, "-U",
                                   "-s", "0", "-w", pcap, f"tcp port {CG_PORT}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            td.stderr.readline()
            run = SondeRun(SONDE, tmp, f"cgroup_skb-{how}", ["--source", "cgroup_skb",
                                                             "--cgroup", cg], R)
            if not run.ok:
                td.terminate()
                return
            during = cg_programs_left()
            n = clients(tag="cg" + how, port=CG_PORT)
            clients(tag="outside" + how)  # the server outside the cgroup
            if how == "SIGKILL":
                time.sleep(0.5)
                run.proc.kill()
                run.proc.wait(timeout=10)
                recs = []
            else:
                rc, recs = run.stop()
                R.check("cgroup_skb: stopped cleanly", rc == 0, run.stderr()[-500:])
            time.sleep(0.3)
            td.send_signal(signal.SIGINT)
            td.wait(timeout=10)
            deadline = time.time() + 5
            while time.time() < deadline and cg_programs_left():
                time.sleep(0.1)
            R.check(f"cgroup_skb: attached while running, nothing left after {how}",
                    during and not cg_programs_left(), f"during {during}, after {cg_programs_left()}")
            if how == "SIGKILL":
                continue
            live = exchanges(recs)
            ref = exchanges(read_pcap(pcap))
            R.check(f"cgroup_skb: the cgroup's exchanges, only those ({n})", len(live) == n,
                    json.dumps([r["request"]["target"] for r in live if r.get("request")]))
            R.check("cgroup_skb: records name the method, the cgroup and the socket's cgroup id",
                    all(r["capture"] == {"method": "ebpf-cgroup-skb", "source": f"cgroup:{cg}",
                                         "cgroup_id": cg_id} for r in live),
                    json.dumps([r["capture"] for r in live][:2]) + f" want id {cg_id}")
            R.check("cgroup_skb: the same records as sonde read of tcpdump's recording",
                    sorted(map(key, live)) == sorted(map(key, ref)) and len(ref) == n,
                    f"live {len(live)}, tcpdump {len(ref)}; first live {live[:1]} first ref {ref[:1]}")
            st = stats_of(recs)
            R.check("cgroup_skb: nothing dropped, no gap",
                    st.get("packet_kernel_drops") == 0 and st.get("gap_bytes") == 0,
                    f"drops {st.get('packet_kernel_drops')} gaps {st.get('gap_bytes')}")
    finally:
        if srv:
            os.killpg(srv.pid, signal.SIGKILL)
            srv.wait()
        for _ in range(50):
            try:
                os.rmdir(cg)
                break
            except OSError:
                time.sleep(0.1)


def xdp_left():
    """What the AF_XDP source sets up: its programs, its mirror veth in the
    captured namespace."""
    progs = [x["id"] for x in json.loads(sh("bpftool", "-j", "prog", "show", check=False).stdout
                                         or "[]")
             if x.get("name") in ("sonde_xdp_mirror", "sonde_xdp_rx")]
    links = [l for l in sh("ip", "-n", NS_SRV, "-o", "link", check=False).stdout.splitlines()
             if ": sdx" in l]
    return progs + links


def test_af_xdp_leaves_nothing(tmp):
    """AF_XDP never takes the interface's packets: traffic flows while it
    captures (curl -f succeeds, every exchange captured), and the mirror
    veth and the programs are gone after SIGINT and after SIGKILL (the
    veth's peer lives in a namespace only sonde holds)."""
    for how in ("SIGINT", "SIGKILL"):
        run = SondeRun(SONDE, tmp, f"af_xdp-{how}", ["--source", "af_xdp", "--netns", NS_SRV,
                                                     "-i", IF_SRV], R)
        if not run.ok:
            return
        during = xdp_left()
        try:
            n, flowed = clients(tag="xdp" + how), True
        except subprocess.CalledProcessError as e:
            n, flowed = 0, False
        R.check(f"af_xdp {how}: traffic flows while capturing", flowed)
        if how == "SIGKILL":
            run.proc.kill()
            run.proc.wait(timeout=10)
        else:
            rc, recs = run.stop()
            R.check(f"af_xdp {how}: every exchange captured ({n})", len(exchanges(recs)) == n
                    and rc == 0, f"{len(exchanges(recs))} records, status {rc}")
        deadline = time.time() + 10
        while time.time() < deadline and xdp_left():
            time.sleep(0.2)
        R.check(f"af_xdp: mirror and programs there while running, nothing left after {how}",
                len(during) == 3 and not xdp_left(), f"during {during}, after {xdp_left()}")
        R.check(f"af_xdp: traffic flows after {how}",
                sh("ip", "netns", "exec", NS_CLI, "curl", "-sf", "-o", "/dev/null",
                   f"http://{SRV_IP}:{PORT}/after", check=False).returncode == 0)


def test_refusals():
    cases = [
        (["--source", "bogus"], 2, "tc, cgroup_skb or af_xdp"),
        (["--source", "cgroup_skb", "--cgroup", "/nonexistent"], 2, "no such cgroup"),
        (["--source", "cgroup_skb", "--cgroup", "1"], 2, "give its path"),
        (["--source", "cgroup_skb", "-i", "lo"], 2, "follows a cgroup's sockets"),
        (["--source", "af_xdp"], 1, "give -i IFACE"),
        (["--source", "af_xdp", "--queue", "x", "-i", "lo"], 2, "a queue number"),
        (["--source", "af_packet", "--cgroup", "/sys"], 2, "for the eBPF source"),
        (["--source", "tc", "--netns", NS_SRV, "-i", "nosuch0"], 1, "no interface nosuch0"),
        (["--source", "tc", "--netns", NS_SRV, "--filter", "tcp port ((("], 1, "--filter"),
        (["--source", "af_packet", "--pid", "1"], 2, "for the eBPF source"),
        (["-i", "lo"], 2, "for packet sources"),
        (["--source", "af_packet", "--netns", "/nonexistent/ns"], 2, "no network namespace"),
        (["--source", "af_packet", "--netns", NS_SRV, "-i", "nosuch0"], 1, "no interface nosuch0"),
        (["--source", "libpcap", "--netns", NS_SRV, "-i", "nosuch0"], 1, "nosuch0"),
        (["--source", "af_packet", "--netns", NS_SRV, "--filter", "tcp port ((("], 1, "--filter"),
        (["--source", "libpcap", "--netns", NS_SRV, "--filter", "tcp port ((("], 1, "--filter"),
        (["--source", "af_packet", "-B", "1k"], 2, "from 1m to 1g"),
    ]
    for argv, want_rc, want_text in cases:
        p = sh(SONDE, "capture", "--duration", "1", *argv, check=False, timeout=30)
        R.check(f"refused: {' '.join(argv)}", p.returncode == want_rc and want_text in p.stderr,
                f"status {p.returncode}, {p.stderr.strip()!r}")
    # Each source checks its own capabilities and names the missing one.
    for kind, drop, cap in (("af_packet", "cap_net_raw", "CAP_NET_RAW"),
                            ("libpcap", "cap_net_raw", "CAP_NET_RAW"),
                            ("tc", "cap_net_admin", "CAP_NET_ADMIN"),
                            ("cgroup_skb", "cap_net_admin", "CAP_NET_ADMIN"),
                            ("cgroup_skb", "cap_bpf,cap_sys_admin", "CAP_BPF"),
                            ("af_xdp", "cap_net_raw", "CAP_NET_RAW")):
        p = sh("capsh", f"--drop={drop}", "--", "-c",
               f"exec {SONDE} capture --source {kind} --duration 1", check=False, timeout=30)
        R.check(f"refused without {drop}: {kind} names {cap}",
                p.returncode == 1 and f"{kind} needs {cap}" in p.stderr, p.stderr.strip())


def main():
    global SONDE
    SONDE, _dry, _keep, only = parse_args(sys.argv[1:])
    wants = lambda name: only is None or name in only
    if os.geteuid() != 0:
        R.skip("needs root (network namespaces, packet sockets)")
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-packet-")
    srv = None
    try:
        setup_net()
        srv = subprocess.Popen(["ip", "netns", "exec", NS_SRV, "/usr/bin/python3", "-c", SERVER,
                                SRV_IP, str(PORT)], start_new_session=True)
        for _ in range(100):
            if sh("ip", "netns", "exec", NS_CLI, "curl", "-s", "-o", "/dev/null",
                  f"http://{SRV_IP}:{PORT}/ready", check=False).returncode == 0:
                break
            time.sleep(0.1)
        for kind in ("af_packet", "libpcap", "tc", "af_xdp"):
            if wants(kind):
                test_source(tmp, kind)
        if wants("filter"):
            test_filter(tmp)
            test_filter(tmp, "tc")
        if wants("any"):
            test_any_loopback(tmp, srv.pid)
            test_any_loopback(tmp, srv.pid, "tc")
        if wants("tc"):
            test_tc_leaves_nothing(tmp)
        if wants("cgroup_skb"):
            test_cgroup_skb(tmp)
        if wants("af_xdp"):
            test_af_xdp_leaves_nothing(tmp)
        for kind in ("af_packet", "tc"):
            if wants("all-netns"):
                test_all_netns(tmp, kind)
        if wants("refusals"):
            test_refusals()
    finally:
        kill_sondes()
        if srv:
            os.killpg(srv.pid, signal.SIGKILL)
        teardown_net()
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
