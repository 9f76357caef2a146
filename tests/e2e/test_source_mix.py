#!/usr/bin/env python3
"""Several sources at once on the real kernel (`--source ebpf,af_packet`):
each connection's records come from one source, never two.

Three network namespaces' worth of traffic, made here and removed after: a
server namespace S with a real HTTP/1.1 server, a client namespace C joined
to S by a veth pair, and the host joined to S by a second veth pair. sonde
captures packets inside S (`--netns S`, every interface) and, with eBPF, the
syscalls of the host's clients (`--comm curl,hostcli`; the server and the
namespace's client are processes it is told not to follow). So every
exchange passes a packet source, and the host's also the syscall source:

- the host's curl and a host client that waits after connecting are
  written once each, by the eBPF source (capture.method ebpf-*,
  capture.source "ebpf"), their packets dropped and counted;
- C's client, which only the packets see, once each, by af_packet
  (capture.source names the interface and namespace);
- the counters say how many connections went each way and how many the
  packets showed first (handed over);
- with -w, the recording holds each TCP stream once (tshark -z conv,tcp and
  each stream's frames): the host's as the eBPF source's synthetic packets
  (interface "ebpf"), the namespace's as af_packet's frames, one SYN each.

Usage: test_source_mix.py [--only NAME,...] path/to/sonde
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from livelib import Report, SondeRun, kill_sondes, parse_args

R = Report("source-mix")
SONDE = None
TAG = f"sm{os.getpid() % 100000}"
NS_SRV, NS_CLI = f"{TAG}s", f"{TAG}c"
IF_S_C, IF_C = f"{TAG}sc", f"{TAG}cs"  # S <-> C
IF_S_H, IF_H = f"{TAG}sh", f"{TAG}hs"  # S <-> host
NET_C, NET_H = "10.199.11", "10.199.12"
PORT = 8080

SERVER = r'''
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = ("you asked for " + self.path + "\n").encode() * 20
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), H).serve_forever()
'''

# A client that names itself (comm "hostcli" or "nscli"), connects, waits,
# then asks.
CLIENT = r'''
import socket, sys, time
with open("/proc/self/comm", "w") as f:
    f.write(sys.argv[1])
host, path, wait = sys.argv[2], sys.argv[3], float(sys.argv[4])
s = socket.create_connection((host, %d))
time.sleep(wait)
s.sendall(("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").encode())
while s.recv(65536):
    pass
''' % PORT


def sh(*argv, check=True, **kw):
    return subprocess.run(list(argv), check=check, capture_output=True, text=True, **kw)


def setup_net():
    sh("ip", "netns", "add", NS_SRV)
    sh("ip", "netns", "add", NS_CLI)
    sh("ip", "link", "add", IF_S_C, "type", "veth", "peer", "name", IF_C)
    sh("ip", "link", "add", IF_S_H, "type", "veth", "peer", "name", IF_H)
    sh("ip", "link", "set", IF_S_C, "netns", NS_SRV)
    sh("ip", "link", "set", IF_S_H, "netns", NS_SRV)
    sh("ip", "link", "set", IF_C, "netns", NS_CLI)
    for ns, dev, ip in ((NS_SRV, IF_S_C, f"{NET_C}.1"), (NS_SRV, IF_S_H, f"{NET_H}.1"),
                        (NS_CLI, IF_C, f"{NET_C}.2")):
        sh("ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
    sh("ip", "-n", NS_SRV, "link", "set", "lo", "up")
    sh("ip", "addr", "add", f"{NET_H}.2/24", "dev", IF_H)
    sh("ip", "link", "set", IF_H, "up")


def teardown_net():
    for ns in (NS_SRV, NS_CLI):
        for p in sh("ip", "netns", "pids", ns, check=False).stdout.split():
            try:
                os.kill(int(p), signal.SIGKILL)
            except OSError:
                pass
        sh("ip", "netns", "del", ns, check=False)
    sh("ip", "link", "del", IF_H, check=False)


def exchanges(recs):
    return [r for r in recs if r.get("type") == "exchange" and r.get("request")]


def stats_of(recs):
    return next((r for r in recs if r.get("type") == "stats"), {})


def traffic():
    """Each client's exchanges, by the path prefix each uses."""
    srv = f"http://{NET_H}.1:{PORT}"
    for i in range(3):
        sh("curl", "-sf", "-o", "/dev/null", f"{srv}/host{TAG}/curl{i}")
    for i in range(2):
        sh("/usr/bin/python3", "-c", CLIENT, "hostcli", f"{NET_H}.1", f"/host{TAG}/slow{i}", "0.2")
    for i in range(3):
        sh("ip", "netns", "exec", NS_CLI, "/usr/bin/python3", "-c", CLIENT, "nscli", f"{NET_C}.1",
           f"/ns{TAG}/py{i}", "0")
    return {"host": 5, "ns": 3}


def test_mix(tmp, packet_kind="af_packet"):
    name = f"ebpf+{packet_kind}"
    run = SondeRun(SONDE, tmp, name, ["--source", f"ebpf,{packet_kind}", "--netns", NS_SRV,
                                      "--comm", "curl,hostcli", "--no-tls"], R)
    if not run.ok:
        return
    want = traffic()
    rc, recs = run.stop()
    # --comm curl follows every curl on the host: only this test's count
    ex = [r for r in exchanges(recs) if TAG in r["request"]["target"]]
    targets = [r["request"]["target"] for r in ex]
    R.check(f"{name}: stopped cleanly", rc == 0, run.stderr()[-800:])
    R.check(f"{name}: every exchange once ({sum(want.values())})",
            len(ex) == sum(want.values()) and len(set(targets)) == len(targets), str(sorted(targets)))
    host = [r for r in ex if r["request"]["target"].startswith(f"/host{TAG}/")]
    ns = [r for r in ex if r["request"]["target"].startswith(f"/ns{TAG}/")]
    R.check(f"{name}: the host's clients from the syscall source ({want['host']})",
            len(host) == want["host"] and all(r["capture"]["method"].startswith("ebpf-") and
                                              r["capture"]["source"] == "ebpf" for r in host),
            json.dumps([(r["request"]["target"], r["capture"]) for r in host]))
    want_method = {"af_packet": "af_packet", "libpcap": "libpcap", "tc": "ebpf-tc"}[packet_kind]
    R.check(f"{name}: the other namespace's client from the packets ({want['ns']})",
            len(ns) == want["ns"] and all(r["capture"]["method"] == want_method and
                                          r["capture"]["source"] == f"any@/run/netns/{NS_SRV}"
                                          for r in ns),
            json.dumps([(r["request"]["target"], r["capture"]) for r in ns]))
    comms = {(r.get("process") or {}).get("comm") for r in host}
    R.check(f"{name}: the syscall source's records name the process", comms <= {"curl", "hostcli"}
            and comms, str(comms))
    st = stats_of(recs)
    R.info(f"{name}: stream conns {st.get('source_stream_conns')}, packet conns "
           f"{st.get('source_packet_conns')}, handed over {st.get('source_handoffs')}, "
           f"packet bytes dropped {st.get('source_dropped_packet_bytes')}")
    R.check(f"{name}: counted: connections each way, the packets' copies dropped",
            st.get("source_stream_conns", 0) >= want["host"] and
            st.get("source_packet_conns", 0) >= want["ns"] and
            st.get("source_dropped_packet_bytes", 0) > 0 and
            st.get("source_late_stream_bytes") == 0 and st.get("source_hold_overflows") == 0,
            json.dumps({k: v for k, v in st.items() if k.startswith("source_")}))
    # Which source shows a connection first is a race (af_packet hands its
    # blocks over every 50 ms, eBPF is read every 100 ms); either way each
    # exchange is written once (above, and tests/unit/test_arbiter.c).
    R.check(f"{name}: hand-overs counted among the syscall source's connections",
            0 <= st.get("source_handoffs", -1) <= st.get("source_stream_conns", 0),
            f"handoffs {st.get('source_handoffs')}")


def recorded_streams(path):
    """{(client ip, port, server ip, port): [interfaces, SYNs, payload bytes]}
    of a pcapng, by tshark, and the conversations tshark -z conv,tcp lists."""
    out = sh("tshark", "-n", "-r", path, "-Y", "tcp", "-T", "fields", "-E", "separator=|", "-e",
             "frame.interface_name", "-e", "ip.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "tcp.dstport",
             "-e", "tcp.flags.syn", "-e", "tcp.flags.ack", "-e", "tcp.len", timeout=120).stdout
    streams = {}
    for line in out.splitlines():
        f = line.split("|")
        if len(f) < 8:
            continue
        ends = sorted([(f[1], int(f[2])), (f[3], int(f[4]))], key=lambda e: e[1] == PORT)
        key = ends[0] + ends[1]  # the client first (the server's port is PORT)
        st = streams.setdefault(key, [set(), 0, 0])
        st[0].add(f[0])
        if f[5] in ("1", "True") and f[6] in ("0", "False"):
            st[1] += 1
        st[2] += int(f[7] or 0)
    conv = sh("tshark", "-n", "-r", path, "-q", "-z", "conv,tcp", timeout=120).stdout
    convs = [l.split() for l in conv.splitlines() if "<->" in l]
    return streams, convs


def test_record(tmp):
    """-w with both sources: each connection recorded once, from its owner."""
    name = "ebpf+af_packet -w"
    pcap = os.path.join(tmp, "mix.pcapng")
    run = SondeRun(SONDE, tmp, "record", ["--source", "ebpf,af_packet", "--netns", NS_SRV,
                                          "--comm", "curl,hostcli", "--no-tls", "-w", pcap], R)
    if not run.ok:
        return
    want = traffic()
    rc, recs = run.stop()
    R.check(f"{name}: stopped cleanly", rc == 0, run.stderr()[-800:])
    streams, convs = recorded_streams(pcap)
    ours = {k: v for k, v in streams.items() if k[3] == PORT and
            (k[0].startswith(NET_H + ".") or k[0].startswith(NET_C + "."))}
    host = {k: v for k, v in ours.items() if k[0] == f"{NET_H}.2"}
    ns = {k: v for k, v in ours.items() if k[0] == f"{NET_C}.2"}
    R.info(f"{name}: {len(host)} host streams, {len(ns)} namespace streams in the recording")
    # (the host's readiness probes before sonde started are not in it; curl
    # on the host may make more connections than the test's: count at least)
    R.check(f"{name}: the host's streams once each, from the syscall source (interface ebpf)",
            len(host) >= want["host"] and all(v[0] == {"ebpf"} and v[1] == 1 for v in host.values()),
            {str(k): (sorted(v[0]), v[1]) for k, v in host.items()})
    R.check(f"{name}: the namespace's streams once each, from the packets",
            len(ns) == want["ns"] and all(len(v[0]) == 1 and "ebpf" not in v[0] and v[1] == 1
                                          for v in ns.values()),
            {str(k): (sorted(v[0]), v[1]) for k, v in ns.items()})
    mine = [c for c in convs if any(f":{PORT}" in w for w in c[:3]) and
            any(w.startswith(NET_H + ".") or w.startswith(NET_C + ".") for w in c[:3])]
    pairs = [tuple(sorted((c[0], c[2]))) for c in mine]
    R.check(f"{name}: tshark -z conv,tcp lists each stream once ({len(ours)})",
            len(pairs) == len(set(pairs)) == len(ours), "\n".join(" ".join(c[:3]) for c in mine))
    ex = [r for r in exchanges(recs) if TAG in r["request"]["target"]]
    R.check(f"{name}: and the records are each exchange once", len(ex) == sum(want.values()), len(ex))


def test_refusals():
    cases = [
        (["--source", "ebpf,ebpf"], 2, "a kind named twice"),
        (["--source", "ebpf,bogus"], 2, "or several, with commas"),
        (["--source", "af_packet", "--comm", "curl"], 2, "for the eBPF source"),
    ]
    for argv, want_rc, want_text in cases:
        p = sh(SONDE, "capture", "--duration", "1", *argv, check=False, timeout=30)
        R.check(f"refused: {' '.join(argv)}", p.returncode == want_rc and want_text in p.stderr,
                f"status {p.returncode}, {p.stderr.strip()!r}")


def main():
    global SONDE
    SONDE, _dry, _keep, only = parse_args(sys.argv[1:])
    wants = lambda name: only is None or name in only
    if os.geteuid() != 0:
        R.skip("needs root (network namespaces, eBPF, packet sockets)")
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-mix-")
    srv = None
    try:
        setup_net()
        srv = subprocess.Popen(["ip", "netns", "exec", NS_SRV, "/usr/bin/python3", "-c", SERVER,
                                str(PORT)], start_new_session=True)
        for _ in range(100):
            if sh("curl", "-s", "-o", "/dev/null", f"http://{NET_H}.1:{PORT}/ready",
                  check=False).returncode == 0:
                break
            time.sleep(0.1)
        for kind in ("af_packet", "tc"):
            if wants(kind):
                test_mix(tmp, kind)
        if wants("record"):
            test_record(tmp)
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
