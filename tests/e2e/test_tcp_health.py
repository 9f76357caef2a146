#!/usr/bin/env python3
"""TCP health on the real kernel: two network namespaces joined by a veth
pair (made here, removed after), a real Python HTTP server in one, curl and
Python clients in the other, `sonde capture --connections` (eBPF) watching,
tcpdump recording the client's veth at the same time.

  - a connect to a closed port: a connection record "refused", ECONNREFUSED,
    with the client's process;
  - a server that accepts, sends half a response and resets: the exchange
    says reset by the server, and so does the connection record;
  - a SYN dropped (iptables in the server's namespace) with
    tcp_syn_retries=1 in the client's: a "timeout" record, ETIMEDOUT;
  - loss on the server's ingress (iptables' statistic match, 15 %) during a
    large upload: retransmissions counted on the connection record and
    shown on the exchange;
  - 25 ms each way added by a userspace relay between two TUN devices (a
    second path between the namespaces; netem is not built here): srtt
    and the handshake show the 50 ms round trip, on the connection record
    and on the exchange;
  - only the server traced (--pid): SYN-ACK to ACK over the relay shows
    the round trip; under loss the client's segments that reached the
    server out of order are counted (tcp_sock.rcv_ooopack);
  - both ends traced (the server in one namespace, curl in the other, and
    again both on one namespace's loopback): one connection record per
    connection with both ends' facts (ends "both"): both processes, each
    end's handshake half, each end's own retransmissions, the other end's
    RTT;
  - the same traffic read back from tcpdump's file by `sonde read`
    (connection records are on by default): refused and timed-out
    attempts, the reset, handshake times close to the kernel's, and per
    connection the retransmission count of tshark's
    tcp.analysis.retransmission exactly (a FIN sent again after both FINs
    included; on a mismatch every segment tshark flagged is listed).

Usage: test_tcp_health.py [--keep] path/to/sonde
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from livelib import Report, SondeRun, kill_sondes, parse_args

R = Report("tcp-health")
SONDE = None
TAG = f"th{os.getpid() % 100000}"
NS_SRV, NS_CLI = f"{TAG}s", f"{TAG}c"
IF_SRV, IF_CLI = f"{TAG}vs", f"{TAG}vc"
SRV_IP, CLI_IP = "10.199.9.1", "10.199.9.2"
PORT, CLOSED_PORT, DROP_PORT, LO_PORT = 8080, 8081, 8082, 8083

SERVER = r'''
import http.server, socket, struct, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def reply(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path == "/reset":
            # half a response, then an abortive close: SO_LINGER 0 sends RST
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if self.path == "/close":  # the server closes first
            self.close_connection = True
        self.reply(b"small\n")
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        left = n
        while left:
            left -= len(self.rfile.read(min(left, 65536)))
        self.reply(b"got %d\n" % n)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
'''

RELAY = r'''
import fcntl, heapq, os, select, struct, sys, time
# two TUN devices; every packet read from one is written to the other
# DELAY seconds later: a path with a round trip of twice DELAY
DELAY = float(sys.argv[3])
def tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", name.encode(), 0x0001 | 0x1000))  # TUNSETIFF, TUN|NO_PI
    return fd
a, b = tun(sys.argv[1]), tun(sys.argv[2])
print("ready", flush=True)
q, seq = [], 0
while True:
    wait = max(0.0, q[0][0] - time.monotonic()) if q else 1.0
    r, _, _ = select.select([a, b], [], [], wait)
    for fd in r:
        try:  # EIO while a device is down (being moved to its namespace)
            pkt = os.read(fd, 65536)
        except OSError:
            time.sleep(0.01)
            continue
        seq += 1
        heapq.heappush(q, (time.monotonic() + DELAY, seq, b if fd == a else a, pkt))
    while q and q[0][0] <= time.monotonic():
        _, _, out, pkt = heapq.heappop(q)
        try:
            os.write(out, pkt)
        except OSError:
            pass
'''
# The server closes first; once its FIN is in, the client closes when told
# (the test drops the server's last ACK in between): its FIN goes again.
CLOSER = r'''
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.sendall(b"GET /close HTTP/1.1\r\nHost: x\r\n\r\n")
while s.recv(65536):
    pass
print("ready", s.getsockname()[1], flush=True)
sys.stdin.readline()
s.close()
time.sleep(1.5)
print("done", flush=True)
'''

TUN_SRV, TUN_CLI = "10.199.10.1", "10.199.10.2"
DELAY_S = 0.025

CONNECT = r'''
import socket, sys
s = socket.socket()
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("connected")
except OSError as e:
    print(e.errno)
'''


def sh(*argv, check=True, **kw):
    return subprocess.run(list(argv), check=check, capture_output=True, text=True, **kw)


def in_cli(*argv, check=False, timeout=60):
    return sh("ip", "netns", "exec", NS_CLI, *argv, check=check, timeout=timeout)


def setup_net():
    sh("ip", "netns", "add", NS_SRV)
    sh("ip", "netns", "add", NS_CLI)
    sh("ip", "link", "add", IF_SRV, "type", "veth", "peer", "name", IF_CLI)
    sh("ip", "link", "set", IF_SRV, "netns", NS_SRV)
    sh("ip", "link", "set", IF_CLI, "netns", NS_CLI)
    for ns, dev, ip in ((NS_SRV, IF_SRV, SRV_IP), (NS_CLI, IF_CLI, CLI_IP)):
        sh("ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev)
        # one segment per packet: tcpdump and the kernel count the same units
        sh("ip", "-n", ns, "link", "set", dev, "gso_max_segs", "1", check=False)
        sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    # a SYN never answered, retried once: ETIMEDOUT after about 3 s
    sh("ip", "netns", "exec", NS_CLI, "sysctl", "-qw", "net.ipv4.tcp_syn_retries=1")
    sh("ip", "netns", "exec", NS_SRV, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", str(DROP_PORT),
       "-j", "DROP")


def setup_relay():
    """The delayed path: tun devices made by the relay, one moved into each
    namespace, addressed point to point."""
    t_srv, t_cli = f"{TAG}ts", f"{TAG}tc"
    relay = subprocess.Popen(["/usr/bin/python3", "-c", RELAY, t_srv, t_cli, str(DELAY_S)],
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
    if relay.stdout.readline().strip() != "ready":
        return relay, False
    for dev, ns, ip, peer in ((t_srv, NS_SRV, TUN_SRV, TUN_CLI), (t_cli, NS_CLI, TUN_CLI, TUN_SRV)):
        sh("ip", "link", "set", dev, "netns", ns)
        sh("ip", "-n", ns, "addr", "add", ip, "peer", peer, "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
    return relay, True


def check_delay(recs):
    delayed = [r for r in by_type(recs, "connection") if r["conn"]["server"]["ip"] == TUN_SRV]
    ex = [r for r in by_type(recs, "exchange") if r["conn"]["server"]["ip"] == TUN_SRV]
    rtt_us = 2 * DELAY_S * 1e6
    R.check("delay: one connection over the relay", len(delayed) == 1, len(delayed))
    if delayed:
        t = delayed[0]["tcp"]
        R.info(f"delay: handshake {t.get('handshake_us')} us, rtt {t.get('rtt_us')}")
        R.check("delay: handshake shows the round trip", rtt_us <= t.get("handshake_us", 0) < 3 * rtt_us, t)
        R.check("delay: srtt shows the round trip", rtt_us <= t.get("rtt_us", {}).get("srtt", 0) < 3 * rtt_us, t)
    R.check("delay: the exchanges' srtt at the request shows it",
            len(ex) >= 2 and all(rtt_us <= r.get("tcp", {}).get("srtt_us", 0) < 3 * rtt_us for r in ex),
            [r.get("tcp") for r in ex])


def server_only(tmp, dry, srv_pid, body, loss):
    """Only the server traced (--pid): its accepted sockets own the
    connections, so their records give the listener's view — the SYN-ACK's
    round trip over the delayed path, and the client's segments that
    arrived out of order under loss (what the server's tcp_sock shows of
    the peer's retransmissions)."""
    run = SondeRun(SONDE, tmp, "server", ["--connections", "--pid", str(srv_pid), "--port", str(PORT)], R,
                   dry=dry)
    in_cli("curl", "-sf", "-o", "/dev/null", f"http://{TUN_SRV}:{PORT}/small")
    sh("ip", "netns", "exec", NS_SRV, "iptables", "-A", *loss)
    in_cli("curl", "-s", "-o", "/dev/null", "--data-binary", "@" + body, f"http://{SRV_IP}:{PORT}/upload",
           timeout=120)
    sh("ip", "netns", "exec", NS_SRV, "iptables", "-D", *loss)
    time.sleep(1)
    rc, recs = run.stop()
    R.check("server only: sonde exited 0", rc == 0, run.stderr()[-2000:])
    conns = by_type(recs, "connection")
    far = [r for r in conns if r["conn"]["server"]["ip"] == TUN_SRV]
    near = [r for r in conns if r["conn"]["server"]["ip"] == SRV_IP]
    R.check("server only: one connection each way", len(far) == 1 and len(near) == 1, conns)
    rtt_us = 2 * DELAY_S * 1e6
    if far:
        t = far[0]["tcp"]
        R.info(f"server only: SYN-ACK to ACK {t.get('server_handshake_us')} us over the relay")
        R.check("server only: the server's process", far[0].get("process", {}).get("pid") == srv_pid,
                far[0].get("process"))
        R.check("server only: no connect-side handshake", "handshake_us" not in t, t)
        R.check("server only: SYN-ACK to ACK shows the round trip",
                rtt_us <= t.get("server_handshake_us", 0) < 3 * rtt_us, t)
    if near:
        t = near[0]["tcp"]
        ooo = t.get("out_of_order", {})
        R.info(f"server only: under loss, the client's segments out of order at the server {ooo}, "
               f"server handshake {t.get('server_handshake_us')} us")
        R.check("server only: the client's losses show as its out-of-order segments",
                ooo.get("client", 0) > 0 and "server" not in ooo, t)
        R.check("server only: SYN-ACK to ACK on the direct path is short",
                0 < t.get("server_handshake_us", 0) < rtt_us, t)


def teardown_net():
    for ns in (NS_SRV, NS_CLI):
        for p in sh("ip", "netns", "pids", ns, check=False).stdout.split():
            try:
                os.kill(int(p), signal.SIGKILL)
            except OSError:
                pass
        sh("ip", "netns", "del", ns, check=False)


def by_type(recs, t):
    return [r for r in recs if r.get("type") == t]


def conn_to(recs, port):
    return [r for r in by_type(recs, "connection") if r["conn"]["server"]["port"] == port]


def tshark_retrans(pcap):
    """tshark's tcp.analysis.retransmission count per client port."""
    p = sh("tshark", "-r", pcap, "-Y", "tcp.analysis.retransmission", "-T", "fields", "-e", "tcp.srcport",
           "-e", "tcp.dstport", check=False)
    n = {}
    for ln in p.stdout.splitlines():
        a, b = ln.split("\t")
        cport = int(a) if int(b) in (PORT, CLOSED_PORT, DROP_PORT) else int(b)
        n[cport] = n.get(cport, 0) + 1
    return n


def tshark_flagged(pcap):
    """Each segment tshark calls a retransmission: frame, ports, time, flags, seq, len, ack."""
    p = sh("tshark", "-r", pcap, "-Y", "tcp.analysis.retransmission", "-T", "fields", "-e", "frame.number",
           "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "frame.time_relative", "-e", "tcp.flags.str",
           "-e", "tcp.seq", "-e", "tcp.len", "-e", "tcp.ack", check=False)
    return p.stdout.splitlines()


def retrans_of(r):
    t = r.get("tcp", {}).get("retransmits", {})
    return t.get("client", 0) + t.get("server", 0)


def check_both_ends(what, conns, client_comm, server_comm):
    """Connection records of connections whose two ends are both traced."""
    ports = [r["conn"]["client"]["port"] for r in conns]
    R.check(f"{what}: one connection record per connection", conns and len(ports) == len(set(ports)), ports)
    closed = [r for r in conns if r["tcp"].get("outcome") == "closed"]
    R.check(f"{what}: clean connections closed, by the client (curl)",
            closed and all(r["tcp"].get("closed_by") == "client" for r in closed), [r["tcp"] for r in closed])
    for r in closed:
        t, c = r["tcp"], r["conn"]
        R.check(f"{what}: port {c['client']['port']}: both ends' facts", t.get("ends") == "both" and
                set(t.get("retransmits", {})) == {"client", "server"} and
                set(t.get("retransmitted_bytes", {})) == {"client", "server"}, t)
        R.check(f"{what}: port {c['client']['port']}: both processes",
                c["client"].get("process", {}).get("comm") == client_comm and
                c["server"].get("process", {}).get("comm") == server_comm, c)
        R.check(f"{what}: port {c['client']['port']}: each end's handshake half, each end's RTT",
                t.get("handshake_us", 0) > 0 and t.get("server_handshake_us", 0) > 0 and
                t.get("rtt_us", {}).get("measured_by") == "client" and
                t.get("peer_rtt_us", {}).get("measured_by") == "server" and
                t.get("peer_rtt_us", {}).get("srtt", 0) > 0 and t.get("peer_cwnd_of") == "server", t)


def fin_again():
    """The server's ACK of the client's FIN (the server closed first) lost:
    the client sends its FIN again after both FINs. Returns its port."""
    p = subprocess.Popen(["ip", "netns", "exec", NS_CLI, "/usr/bin/python3", "-c", CLOSER, SRV_IP, str(PORT)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
    ready = p.stdout.readline().split()
    # the first bare ACK from the server from now on: the one of the client's FIN
    rule = ["INPUT", "-p", "tcp", "--sport", str(PORT), "--tcp-flags", "ALL", "ACK", "-m", "statistic",
            "--mode", "nth", "--every", "1000000", "--packet", "0", "-j", "DROP"]
    sh("ip", "netns", "exec", NS_CLI, "iptables", "-A", *rule)
    p.stdin.write("go\n")
    p.stdin.flush()
    done = p.stdout.readline().strip()
    sh("ip", "netns", "exec", NS_CLI, "iptables", "-D", *rule)
    p.wait(timeout=10)
    R.check("fin again: the client closed after the server", ready[:1] == ["ready"] and done == "done",
            (ready, done))
    return int(ready[1]) if len(ready) == 2 else 0


def loopback_phase(tmp, dry):
    """Both ends on the loopback of one namespace (the server's)."""
    srv = subprocess.Popen(["ip", "netns", "exec", NS_SRV, "/usr/bin/python3", "-c", SERVER, "127.0.0.1",
                            str(LO_PORT)], start_new_session=True)
    run = SondeRun(SONDE, tmp, "loopback", ["--port", str(LO_PORT)], R, dry=dry)
    ok = False
    for _ in range(50):
        if sh("ip", "netns", "exec", NS_SRV, "curl", "-sf", "-o", "/dev/null",
              f"http://127.0.0.1:{LO_PORT}/small", check=False).returncode == 0:
            ok = True
            break
        time.sleep(0.1)
    for _ in range(2):
        sh("ip", "netns", "exec", NS_SRV, "curl", "-sf", "-o", "/dev/null", f"http://127.0.0.1:{LO_PORT}/small",
           check=False)
    time.sleep(1)
    rc, recs = run.stop()
    srv.kill()
    R.check("loopback: the server answered, sonde exited 0", ok and rc == 0, run.stderr()[-2000:])
    conns = conn_to(recs, LO_PORT)
    stats = (by_type(recs, "stats") or [{}])[0]
    R.check("loopback: three connections, three records", len(conns) == 3, [r["tcp"] for r in conns])
    check_both_ends("loopback", conns, "curl", "python3")
    R.check("loopback: both ends' facts merged, none missed",
            stats.get("tcp_peer_ends_merged", 0) >= 3 and stats.get("tcp_peer_ends_missed") == 0, stats)


def check_live(recs, stats, fin_port):
    refused = conn_to(recs, CLOSED_PORT)
    R.check("refused: one connection record", len(refused) == 1, refused)
    if refused:
        t, p = refused[0]["tcp"], refused[0].get("process", {})
        R.check("refused: outcome and errno", t.get("outcome") == "refused" and t.get("error") == "ECONNREFUSED",
                t)
        R.check("refused: the client's process", p.get("comm") == "curl" and p.get("pid"), p)
        R.check("refused: the client's port", refused[0]["conn"]["client"]["port"] > 0, refused[0]["conn"])
    timeout = conn_to(recs, DROP_PORT)
    R.check("timeout: one connection record", len(timeout) == 1, timeout)
    if timeout:
        t = timeout[0]["tcp"]
        R.check("timeout: outcome and errno", t.get("outcome") == "timeout" and t.get("error") == "ETIMEDOUT", t)
        R.check("timeout: the python client", timeout[0].get("process", {}).get("comm") == "python3",
                timeout[0].get("process"))
        R.check("timeout: lifetime is the SYN retries (~3 s)", 2.5e6 < t.get("lifetime_us", 0) < 6e6, t)
    ex = [r for r in by_type(recs, "exchange") if r["conn"]["server"]["port"] == PORT]
    reset_ex = [r for r in ex if (r.get("request") or {}).get("target") == "/reset"]
    R.check("reset: the exchange is recorded", len(reset_ex) == 1, [r.get("request", {}).get("target") for r in ex])
    if reset_ex:
        r = reset_ex[0]
        R.check("reset: flagged reset, by the server",
                "reset" in r["flags"] and r.get("tcp", {}).get("reset_by") == "server", (r["flags"], r.get("tcp")))
    resets = [r for r in conn_to(recs, PORT) if r["tcp"].get("outcome") == "reset"]
    R.check("reset: the connection record says the server reset",
            len(resets) == 1 and resets[0]["tcp"].get("reset_by") == "server", [r["tcp"] for r in resets])
    uploads = [r for r in ex if (r.get("request") or {}).get("method") == "POST"]
    R.check("loss: the upload exchange", len(uploads) == 1, len(uploads))
    if uploads:
        u = uploads[0]
        R.check("loss: retransmissions shown on the exchange", u.get("tcp", {}).get("retransmits", 0) > 0,
                u.get("tcp"))
        R.check("loss: srtt known at the request", u.get("tcp", {}).get("srtt_us", 0) > 0, u.get("tcp"))
    lossy = [r for r in conn_to(recs, PORT) if retrans_of(r) > 0]
    R.check("loss: retransmissions counted on the connection", len(lossy) >= 1,
            [r["tcp"].get("retransmits") for r in conn_to(recs, PORT)])
    closed = [r for r in conn_to(recs, PORT) if r["tcp"].get("outcome") == "closed"]
    R.check("closed: handshake, bytes, rtt on clean connections",
            closed and all("handshake_us" in r["tcp"] and r["tcp"].get("bytes", {}).get("client", 0) > 0
                           and r["tcp"].get("rtt_us", {}).get("srtt", 0) > 0 for r in closed),
            [r["tcp"] for r in closed])
    R.check("stats: failed connects and connection records counted",
            stats.get("tcp_failed_connects", 0) >= 2 and stats.get("tcp_connection_records", 0) >= 4, stats)
    # curl in one namespace, the server in the other, both traced
    check_both_ends("two namespaces", [r for r in conn_to(recs, PORT) if r["conn"]["server"]["ip"] == SRV_IP
                                       and r["conn"]["client"]["port"] != fin_port], "curl", "python3")
    uploads = [r for r in conn_to(recs, PORT) if retrans_of(r) > 0]
    R.check("loss: the client's own retransmissions on the record, from its socket",
            any(r["tcp"]["retransmits"].get("client", 0) > 0 for r in uploads), [r["tcp"] for r in uploads])
    text_lines = sh(SONDE, "read", "--help", check=False)  # keep the binary honest: it still runs
    R.check("sonde still answers --help", text_lines.returncode == 0, text_lines.stderr)


def check_pcap(pcap, live, fin_port=0):
    p = sh(SONDE, "read", "-o", "json", pcap, check=False)
    recs = [json.loads(ln) for ln in p.stdout.splitlines() if ln.strip()]
    R.check("read: exit status 0", p.returncode == 0, p.stderr)
    refused = conn_to(recs, CLOSED_PORT)
    R.check("read: the refused attempt", len(refused) == 1 and refused[0]["tcp"].get("outcome") == "refused",
            [r["tcp"] for r in refused])
    timeout = conn_to(recs, DROP_PORT)
    R.check("read: the timed-out attempt", len(timeout) == 1 and timeout[0]["tcp"].get("outcome") == "timeout",
            [r["tcp"] for r in timeout])
    resets = [r for r in conn_to(recs, PORT) if r["tcp"].get("outcome") == "reset"]
    R.check("read: the reset, by the server", len(resets) == 1 and resets[0]["tcp"].get("reset_by") == "server",
            [r["tcp"] for r in resets])
    ts = tshark_retrans(pcap)
    mine = {r["conn"]["client"]["port"]: retrans_of(r) for r in by_type(recs, "connection")}
    R.info(f"retransmissions per client port: tshark {ts}, sonde read {mine}")
    # Wireshark's rules in its order (spurious first, then fast, out of
    # order, plain): the count must be tshark's, connection by connection
    same = all(mine.get(k, 0) == v for k, v in ts.items()) and sum(mine.values()) == sum(ts.values())
    R.check("read: retransmissions per connection = tshark's tcp.analysis.retransmission", same, (ts, mine))
    # the client's FIN sent again after both FINs (the server's ACK lost)
    again = [ln.split("\t") for ln in tshark_flagged(pcap) if ln.split("\t")[1] == str(fin_port)]
    R.check("read: a FIN sent again after both FINs, counted as tshark counts it",
            fin_port and len(again) == 1 and "F" in again[0][4] and again[0][6] == "0" and
            mine.get(fin_port) == ts.get(fin_port) == 1, (fin_port, again, ts.get(fin_port), mine.get(fin_port)))
    if not same:  # every segment tshark flagged, of the connections that differ
        bad = {k for k in set(ts) | set(mine) if ts.get(k, 0) != mine.get(k, 0)}
        for ln in tshark_flagged(pcap):
            if {int(ln.split("\t")[1]), int(ln.split("\t")[2])} & bad:
                R.info("tshark flagged: " + ln)
    live_by_port = {r["conn"]["client"]["port"]: r for r in conn_to(live, PORT)}
    for r in conn_to(recs, PORT):
        k = r["conn"]["client"]["port"]
        lv = live_by_port.get(k)
        if not lv:
            continue
        hs_pcap, hs_live = r["tcp"].get("handshake_us"), lv["tcp"].get("handshake_us")
        R.info(f"port {k}: handshake live {hs_live} us, pcap {hs_pcap} us; retransmits live "
               f"{lv['tcp'].get('retransmits')} pcap {r['tcp'].get('retransmits')}")
        if hs_pcap is not None and hs_live is not None:
            R.check(f"handshake agrees within 1 ms (port {k})", abs(hs_pcap - hs_live) < 1000, (hs_pcap, hs_live))
        # the kernel counts what the client retransmitted; tcpdump at the
        # client's veth sees each of those segments leave, which Wireshark's
        # analysis calls retransmissions or, sent in a burst within one
        # initial RTT, out of order
        lc = lv["tcp"].get("retransmits", {}).get("client", 0)
        pc = r["tcp"].get("retransmits", {}).get("client", 0) + r["tcp"].get("out_of_order", {}).get("client", 0)
        R.check(f"client retransmissions agree with the kernel's (port {k})", abs(lc - pc) <= max(2, lc // 10),
                (lc, pc))


def main():
    global SONDE
    SONDE, dry, keep, _ = parse_args(sys.argv[1:])
    if os.geteuid() != 0:
        R.skip("needs root")
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-tcp-health-")
    pcap = os.path.join(tmp, "client.pcap")
    try:
        setup_net()
        relay, relay_ok = setup_relay()
        R.check("the delaying relay is up", relay_ok)
        srv = subprocess.Popen(["ip", "netns", "exec", NS_SRV, "/usr/bin/python3", "-c", SERVER, "0.0.0.0",
                                str(PORT)], start_new_session=True)
        run = SondeRun(SONDE, tmp, "live", ["--port", f"{PORT},{CLOSED_PORT},{DROP_PORT}"], R,
                       dry=dry)
        td = subprocess.Popen(["ip", "netns", "exec", NS_CLI, "tcpdump", "-i", IF_CLI, "-U", "-s", "0", "-w",
                               pcap, "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
        time.sleep(1.5)
        base = f"http://{SRV_IP}:{PORT}"
        for _ in range(50):
            if in_cli("curl", "-sf", "-o", "/dev/null", f"{base}/small").returncode == 0:
                break
            time.sleep(0.1)
        in_cli("curl", "-s", "-o", "/dev/null", f"http://{SRV_IP}:{CLOSED_PORT}/")
        in_cli("curl", "-s", "-o", "/dev/null", f"{base}/reset")
        t0 = time.time()
        out = in_cli("/usr/bin/python3", "-c", CONNECT, SRV_IP, str(DROP_PORT)).stdout.strip()
        R.info(f"dropped SYN: connect ended with errno {out} after {time.time() - t0:.1f} s")
        body = os.path.join(tmp, "body")
        with open(body, "wb") as f:
            f.write(os.urandom(400 * 1024))
        # lost on the way in to the server: the client really sent them
        # (tcpdump at its veth sees each copy) and retransmits
        loss = ["INPUT", "-p", "tcp", "--dport", str(PORT), "-m", "statistic", "--mode", "random",
                "--probability", "0.15", "-j", "DROP"]
        sh("ip", "netns", "exec", NS_SRV, "iptables", "-A", *loss)
        in_cli("curl", "-s", "-o", "/dev/null", "--data-binary", "@" + body, f"{base}/upload", timeout=120)
        sh("ip", "netns", "exec", NS_SRV, "iptables", "-D", *loss)
        in_cli("curl", "-sf", "-o", "/dev/null", f"{base}/small")
        fin_port = fin_again()
        far = f"http://{TUN_SRV}:{PORT}/small"
        in_cli("curl", "-sf", "-o", "/dev/null", "-o", "/dev/null", far, far)
        time.sleep(1)
        rc, recs = run.stop()
        td.send_signal(signal.SIGINT)
        td.wait(timeout=10)
        server_only(tmp, dry, srv.pid, body, loss)
        loopback_phase(tmp, dry)
        relay.kill()
        srv.kill()
        R.check("sonde exited 0", rc == 0, run.stderr()[-2000:])
        stats = (by_type(recs, "stats") or [{}])[0]
        check_live(recs, stats, fin_port)
        check_delay(recs)
        check_pcap(pcap, recs, fin_port)
        fin = [r for r in conn_to(recs, PORT) if r["conn"]["client"]["port"] == fin_port]
        R.check("fin again: live, one record, closed by the server, its FIN sent again counted by the client",
                len(fin) == 1 and fin[0]["tcp"].get("closed_by") == "server" and
                fin[0]["tcp"].get("retransmits", {}).get("client", 0) >= 1, [r["tcp"] for r in fin])
    finally:
        kill_sondes()
        teardown_net()
        if keep:
            R.info(f"kept {tmp}")
        else:
            subprocess.run(["rm", "-rf", tmp])
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
