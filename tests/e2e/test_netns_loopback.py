#!/usr/bin/env python3
"""127.0.0.1 in two network namespaces is two hosts: two namespaces this
test makes (and removes), each with its own HTTP server and HTTPS server
(Python, OpenSSL) on 127.0.0.1 on the same ports, and in each a client
bound to the same local port, so both namespaces' connections have one
4-tuple, live at the same time. One `sonde capture` (eBPF) sees all four:
every exchange is recorded once, each with its own namespace's client
process, none taken for the other namespace's second end. The plain TCP
connections are told apart by the kernel's peers map (keyed by namespace
on loopback); the TLS ones by user space's owners map, keyed by the
socket's namespace that each event carries. Within one namespace the
server's end is still a copy: its bytes are counted, not recorded.

Usage: test_netns_loopback.py [--keep] path/to/sonde
PASS/FAIL/SKIP/INFO lines."""
import os, shutil, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from livelib import Report, Child, SondeRun, kill_children, kill_sondes, parse_args

R = Report("netns-loopback")
TAG = f"nl{os.getpid() % 100000}"
NAMESPACES = (f"{TAG}a", f"{TAG}b")
PORT, TLS_PORT = 18080, 18443
# The clients' local ports, the same in both namespaces.
CLIENT_PORTS = {"tcp": 41080, "tls": 41081}

SERVER = r'''
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        b = ("you asked for " + self.path + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
if len(sys.argv) > 2:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    s.socket = ctx.wrap_socket(s.socket, server_side=True)
print("up", flush=True)
s.serve_forever()
'''

# Two GETs on one connection from a fixed local port, the second after a
# pause in which the other namespace's connection is open too.
CLIENT = r'''
import http.client, ssl, sys, time
port, lport, tag, tls = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4] == "tls"
src = ("127.0.0.1", lport)
if tls:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx, source_address=src)
else:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=src)
c.request("GET", f"/{tag}/one")
print(c.getresponse().read().decode().strip(), flush=True)
time.sleep(1.5)
c.request("GET", f"/{tag}/two")
print(c.getresponse().read().decode().strip(), flush=True)
time.sleep(0.3)
c.close()
'''


def sh(*argv, check=True):
    return subprocess.run(list(argv), check=check, capture_output=True, text=True)


def setup_net():
    for ns in NAMESPACES:
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")


def teardown_net():
    for ns in NAMESPACES:
        for p in sh("ip", "netns", "pids", ns, check=False).stdout.split():
            try:
                os.kill(int(p), signal.SIGKILL)
            except OSError:
                pass
        sh("ip", "netns", "del", ns, check=False)


def in_ns(ns, *argv):
    return ["ip", "netns", "exec", ns] + list(argv)


def exchanges(recs):
    out = {}
    for r in recs:
        if r.get("type") == "exchange":
            out.setdefault((r.get("request") or {}).get("target"), []).append(r)
    return out


def check_records(recs, clients):
    ex = exchanges(recs)
    st = next((r for r in recs if r.get("type") == "stats"), {})
    for (ns, kind), cli in clients.items():
        for step in ("one", "two"):
            target = f"/{ns}-{kind}/{step}"
            got = ex.get(target, [])
            R.check(f"{kind} {ns}: {target} recorded once", len(got) == 1, sorted(ex))
            if len(got) != 1:
                continue
            r = got[0]
            conn = r.get("conn") or {}
            pid = ((conn.get("client") or {}).get("process") or {}).get("pid")
            lport = CLIENT_PORTS[kind]
            R.check(f"{kind} {ns}: {target}: 200, from port {lport}, its own namespace's client",
                    (r.get("response") or {}).get("status") == 200 and
                    (conn.get("client") or {}).get("port") == lport and pid == cli.pid,
                    {"conn": conn, "want_pid": cli.pid, "capture": r.get("capture")})
            if kind == "tls":
                R.check(f"tls {ns}: {target} is the plaintext of OpenSSL",
                        (r.get("capture") or {}).get("method") == "ebpf-tls-openssl", r.get("capture"))
    counted = {k: st.get(k) for k in ("ebpf_peer_copy_bytes", "duplicate_peer_bytes")}
    R.info("copies counted: " + str(counted))
    R.check("each namespace's server end counted as its client's copy (kernel and TLS)",
            (st.get("ebpf_peer_copy_bytes") or 0) > 0 and (st.get("duplicate_peer_bytes") or 0) > 0, counted)


def run(sonde, tmp, dry):
    cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost")
    srv, cli = os.path.join(tmp, "srv.py"), os.path.join(tmp, "cli.py")
    for path, text in ((srv, SERVER), (cli, CLIENT)):
        with open(path, "w") as f:
            f.write(text)
    py = "/usr/bin/python3"
    for ns in NAMESPACES:
        for argv in ([py, srv, str(PORT)], [py, srv, str(TLS_PORT), cert, key]):
            s = Child(in_ns(ns, *argv), name=f"server-{ns}-{argv[2]}")
            if not R.check(f"{ns}: server on 127.0.0.1:{argv[2]} up", s.wait_for("up"), s.stderr()[-500:]):
                return
    sonde_run = SondeRun(sonde, tmp, "both", ["--port", f"{PORT},{TLS_PORT}", "--audit-log", "none"], R, dry=dry)
    if not sonde_run.ok:
        return
    clients = {}
    for ns in NAMESPACES:
        for kind, port in (("tcp", PORT), ("tls", TLS_PORT)):
            lport = CLIENT_PORTS[kind]
            clients[(ns, kind)] = Child(in_ns(ns, py, cli, str(port), str(lport), f"{ns}-{kind}", kind),
                                        name=f"client-{ns}-{kind}")
    for (ns, kind), c in clients.items():
        rc = c.wait(timeout=30)
        R.check(f"{kind} {ns}: client done", rc == 0 and "two" in c.stdout(), c.stderr()[-500:])
    rc, recs = sonde_run.stop()
    R.check("sonde exit status 0", rc == 0, sonde_run.stderr()[-1500:])
    if not dry:
        check_records(recs, clients)


def main():
    sonde, dry, keep, _ = parse_args(sys.argv[1:])
    if os.geteuid() != 0:
        R.skip("needs root (network namespaces, eBPF)")
        return 0
    # A test stopped by SIGTERM still removes its namespaces and processes.
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    tmp = tempfile.mkdtemp(prefix="sonde-nl-")
    try:
        setup_net()
        run(sonde, tmp, dry)
    finally:
        kill_sondes()
        kill_children()
        teardown_net()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
