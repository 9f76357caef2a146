#!/usr/bin/env python3
"""Fault injection against a live capture:

  * the ring buffer full: a 64 KiB ring and 1 MB answers in bursts; the
    events that do not fit are dropped and counted (ebpf_ringbuf_drops, gaps
    on the records), sonde goes on, and small exchanges after the bursts are
    recorded whole;
  * /proc entries vanishing: 100 short-lived curl processes, each gone
    moments after its request; every exchange is recorded, the ones whose
    process left before sonde looked are counted, never a crash;
  * an exec under a probed pid: a Python process makes a TLS request, then
    exec()s curl in the same pid, which makes another over a TLS library
    mapped anew; both are recorded, each with the name of the program that
    made it.

    tests/soak/faults.py path/to/sonde

PASS/FAIL/SKIP/INFO lines, as tests/run counts them."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
from livelib import Report, free_port, wait_port  # noqa: E402

R = Report("faults")


BIG = 1 << 20

SERVER = r'''
import http.server, ssl, sys
BIG = b"x" * (1 << 20)
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        b = BIG if self.path.startswith("/big") else b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
if len(sys.argv) > 2:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
'''

EXEC_CLIENT = r'''
import os, ssl, sys, urllib.request
port = sys.argv[1]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
urllib.request.urlopen(f"https://127.0.0.1:{port}/before-exec", context=ctx).read()
os.execvp("curl", ["curl", "-sk", "-o", "/dev/null", f"https://127.0.0.1:{port}/after-exec"])
'''


class Sonde:
    def __init__(self, sonde, tmp, name, extra):
        self.out = os.path.join(tmp, name + ".json")
        self.err = os.path.join(tmp, name + ".err")
        with open(self.out, "w") as o, open(self.err, "w") as e:
            self.p = subprocess.Popen([sonde, "capture", "--stats", "-o", "json", "--audit-log", "none"] + extra,
                                      stdout=o, stderr=e, start_new_session=True)
        t0 = time.time()
        while time.time() - t0 < 60 and self.p.poll() is None and "capturing with" not in self.stderr():
            time.sleep(0.05)
        self.ok = R.check(f"{name}: sonde started", self.p.poll() is None, self.stderr()[-500:])

    def stderr(self):
        with open(self.err) as f:
            return f.read()

    def stop(self):
        time.sleep(1)
        self.p.send_signal(signal.SIGINT)
        try:
            rc = self.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = -9
        recs, stats = [], {}
        with open(self.out) as f:
            for ln in f:
                o = json.loads(ln)
                if o.get("type") == "stats":
                    stats = o
                else:
                    recs.append(o)
        return rc, recs, stats


def target(r):
    return (r.get("request") or {}).get("target", "")


def ring_full(sonde, tmp, port):
    s = Sonde(sonde, tmp, "ring", ["--port", str(port), "--no-tls", "--ringbuf-size", "64k"])
    if not s.ok:
        return
    procs = [subprocess.Popen(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/big-{i}"])
             for i in range(8)]
    for p in procs:
        p.wait(timeout=60)
    time.sleep(1)
    for i in range(5):
        subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/small-{i}"], timeout=20)
        time.sleep(0.2)
    rc, recs, st = s.stop()
    R.check("ring full: sonde goes on and stops cleanly", rc == 0, s.stderr()[-500:])
    R.info(f"ring full: drops {st.get('ebpf_ringbuf_drops')} events, {st.get('ebpf_ringbuf_drop_bytes')} bytes")
    R.check("ring full: the lost events are counted", st.get("ebpf_ringbuf_drops", 0) > 0, st)
    small = [r for r in recs if target(r).startswith("/small-") and (r.get("response") or {}).get("status") == 200]
    R.check("ring full: the small exchanges after the bursts recorded whole", len(small) == 5,
          [target(r) for r in recs][:20])
    big = [r for r in recs if target(r).startswith("/big-")]
    lossy = [r for r in big if any(w in f for f in r.get("flags", [])
                                   for w in ("gap", "incomplete", "unanswered", "truncated"))]
    R.check("ring full: no burst exchange claims to be whole when bytes were lost",
          all(r in lossy or (r.get("response") or {}).get("body", {}).get("size") == BIG for r in big),
          [(target(r), r.get("flags")) for r in big][:8])


def vanishing(sonde, tmp, port):
    s = Sonde(sonde, tmp, "vanish", ["--port", str(port), "--no-tls"])
    if not s.ok:
        return
    for i in range(100):
        subprocess.Popen(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/gone-{i}"])
    time.sleep(5)
    rc, recs, st = s.stop()
    got = {target(r) for r in recs if target(r).startswith("/gone-")}
    R.check("vanishing processes: sonde stops cleanly", rc == 0, s.stderr()[-500:])
    R.check("vanishing processes: all 100 exchanges recorded", len(got) == 100, f"{len(got)} recorded")
    R.info(f"vanishing processes: {st.get('enrich_process_lookups')} lookups, "
                f"{st.get('enrich_process_failures')} processes already gone")


def exec_under_probe(sonde, tmp, tls_port):
    s = Sonde(sonde, tmp, "exec", ["--port", str(tls_port)])
    if not s.ok:
        return
    script = os.path.join(tmp, "exec_client.py")
    with open(script, "w") as f:
        f.write(EXEC_CLIENT)
    p = subprocess.run(["/usr/bin/python3", script, str(tls_port)], timeout=60, capture_output=True, text=True)
    R.check("exec: the client ran both requests", p.returncode == 0, p.stderr[-500:])
    rc, recs, st = s.stop()
    by = {target(r): r for r in recs if target(r) in ("/before-exec", "/after-exec")}
    R.check("exec: both TLS requests recorded, before and after the exec", len(by) == 2, sorted(by))
    if len(by) == 2:
        def proc(r):
            # the record's own process: pid and comm as the kernel gave them
            # with the call (the per-end details come from /proc when the
            # record is written, which may be after the exec)
            c = r.get("process") or {}
            return c.get("pid"), c.get("comm")
        a, b = proc(by["/before-exec"]), proc(by["/after-exec"])
        R.check("exec: one pid, each request named by the program that made it",
              a[0] and a[0] == b[0] and a[1] and a[1].startswith("python") and b[1] == "curl", (a, b))


def main():
    argv = [a for a in sys.argv[1:] if not a.startswith("--")]
    sonde = os.path.abspath(argv[0] if argv else "./sonde")
    if os.geteuid() != 0:
        R.skip("needs root (live capture)")
        return 0
    if not shutil.which("curl"):
        R.skip("curl not installed")
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-faults-")
    os.chmod(tmp, 0o755)
    children = []
    try:
        script = os.path.join(tmp, "srv.py")
        with open(script, "w") as f:
            f.write(SERVER)
        key, crt = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                        "-keyout", key, "-out", crt, "-days", "1"], check=True, capture_output=True)
        port, tls_port = free_port(), free_port()
        children.append(subprocess.Popen(["/usr/bin/python3", script, str(port)], start_new_session=True))
        children.append(subprocess.Popen(["/usr/bin/python3", script, str(tls_port), crt, key],
                                         start_new_session=True))
        if not R.check("servers up", wait_port(port) and wait_port(tls_port)):
            return 1
        ring_full(sonde, tmp, port)
        vanishing(sonde, tmp, port)
        exec_under_probe(sonde, tmp, tls_port)
        return 1 if R.failed else 0
    finally:
        for c in children:
            try:
                os.killpg(c.pid, signal.SIGKILL)
            except OSError:
                pass
            c.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
