#!/usr/bin/env python3
"""The command line as dependable as tcpdump's: lists of --port/--pid/--comm
applied in the kernel, rejected values that say why, --version, -c/--count,
-q/--quiet and -r FILE. Real sonde processes; live parts need root and use
loopback only.

Usage: test_cli_opts.py [--only NAME,...] path/to/sonde
Prints PASS/FAIL/SKIP lines; exits non-zero on any FAIL.
"""
import glob
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from livelib import Report, SondeRun, free_port, kill_sondes

SONDE, DRY, KEEP, ONLY = None, False, False, None
R = Report("cli-opts")
CORPUS = os.environ.get("SONDE_CORPUS", os.path.join(os.path.dirname(__file__), "../../../shared/corpus"))


def run(*args, timeout=20):
    """(status, stdout, stderr); status -9 if it ran past timeout (e.g. a
    refused value accepted and the capture started)."""
    try:
        p = subprocess.run([SONDE] + list(args), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        def s(b):
            return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")
        return -9, s(e.stdout), s(e.stderr)
    return p.returncode, p.stdout, p.stderr


def refused(name, args, want):
    """args must exit 2 with a message containing want."""
    rc, out, err = run(*args)
    R.check(name, rc == 2 and want in err, f"status {rc}, stderr {err.strip()!r}, wanted {want!r}")


def test_version():
    rc, out, err = run("--version")
    R.check("--version prints 'sonde VERSION'", rc == 0 and out.startswith("sonde ") and len(out.split()) == 2,
            repr(out + err))
    rc2, out2, _ = run("version")
    R.check("'sonde version' is the same", rc2 == 0 and out2 == out, repr(out2))


def test_refusals():
    cap = ["capture"]
    refused("--comm over 15 characters says the limit", cap + ["--comm", "a_very_long_name_x"], "15")
    refused("--ringbuf-size not a power of two says so", cap + ["--ringbuf-size", "3m"],
            "must be a power of two")
    refused("--cgroup of no cgroup says so", cap + ["--cgroup", "/sys/fs/cgroup/no-such-sonde-cg"],
            "no such cgroup")
    refused("--cgroup of a name says so", cap + ["--cgroup", "nosuchcg"], "no such cgroup")
    # A pid that exists nowhere: above every running one, below pid_max.
    pid = 4194000
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    refused("--pid of no process says so", cap + ["--pid", str(pid)], f"no process {pid}")
    refused("--pid in a list, of no process", cap + ["--pid", f"1,{pid}"], f"no process {pid}")
    refused("--port 0 is refused with why", cap + ["--port", "0"], "from 1 to 65535")
    refused("--port list with an empty value", cap + ["--port", "80,"], "empty value")
    refused("17 ports are refused", cap + ["--port", ",".join(str(p) for p in range(1, 18))],
            "more than 16")
    refused("17 ports over repeated options are refused",
            cap + ["--port", ",".join(str(p) for p in range(1, 10)), "--port", ",".join(str(p) for p in range(10, 18))],
            "more than 16")
    refused("--duration 1.5ns says why", cap + ["--duration", "1.5ns"], "whole number of nanoseconds")
    refused("--body-limit 1.5 says why", ["read", "--body-limit", "1.5", "-"], "whole number of bytes")
    refused("-c 0 is refused", ["read", "-c", "0", "-"], "at least 1")
    rc, out, _ = run("capture", "--help")
    R.check("capture --help says --duration 0 is forever", rc == 0 and "0: never" in out, out[-500:])
    R.check("capture --help documents lists", "PORT[,PORT...]" in out and "at most 16" in out, "")
    R.check("capture --help documents -c and -q", "--count N" in out and "--quiet" in out, "")


def biggest_pcap():
    best, n = None, 0
    for f in sorted(glob.glob(os.path.join(CORPUS, "http1", "*.pcap*"))):
        rc, out, _ = run("read", "-o", "json", f)
        k = out.count("\n")
        if rc == 0 and k > n:
            best, n = f, k
    return best, n


def test_read():
    f, n = biggest_pcap()
    if not f or n < 5:
        R.skip(f"read: no corpus capture with 5 records under {CORPUS}")
        return
    rc, out, err = run("read", "-o", "json", "-c", "3", f)
    R.check("read -c 3 writes 3 records", rc == 0 and out.count("\n") == 3, f"status {rc}, {out.count(chr(10))} lines")
    rc, out2, err = run("-r", f, "-o", "json", "-c", "3")
    R.check("sonde -r FILE works as sonde read FILE", rc == 0 and out2 == out, f"status {rc}: {err[-300:]}")
    rc, full, _ = run("-r" + f, "-o", "json")
    R.check("sonde -rFILE reads it all", rc == 0 and full.count("\n") == n, f"{full.count(chr(10))} vs {n}")
    rc, out3, _ = run("read", "-o", "json", "--count", "1.5", f)
    R.check("--count 1.5 is refused", rc == 2, rc)
    rc, _, err = run("-r", "/nonexistent/x.pcap")
    R.check("-r of a missing file fails like read", rc == 1 and "No such file" in err, err)


class Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok " + str(self.server.server_port).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def serve(port):
    s = http.server.ThreadingHTTPServer(("127.0.0.1", port), Quiet)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s


def ports_of(recs):
    return sorted({r["conn"]["server"]["port"] for r in recs if r.get("type") != "stats" and "conn" in r})


def get(port, path="/"):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.read()


def test_live(tmp):
    if os.geteuid() != 0:
        R.skip("live: needs root")
        return
    ports = [free_port() for _ in range(4)]
    servers = [serve(p) for p in ports]
    try:
        a, b, c, d = ports
        s = SondeRun(SONDE, tmp, "ports", ["--port", f"{a},{b}", "--port", str(c)], R)
        if s.ok:
            for p in ports:
                get(p)
        rc, recs = s.stop()
        got = ports_of(recs)
        R.check("--port A,B --port C captures exactly A, B and C", rc == 0 and got == sorted([a, b, c]),
                f"status {rc}, ports {got}, wanted {sorted([a, b, c])} (not {d})")

        # -c 2 on capture: stops by itself after two records.
        t0 = time.time()
        with open(os.path.join(tmp, "count.json"), "w") as o, open(os.path.join(tmp, "count.err"), "w") as e:
            p = subprocess.Popen([SONDE, "capture", "-o", "json", "-c", "2", "--port", str(a)],
                                 stdout=o, stderr=e, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline and "capturing with" not in open(os.path.join(tmp, "count.err")).read():
            time.sleep(0.05)
        time.sleep(0.3)
        for i in range(5):
            try:
                get(a, f"/n{i}")
            except OSError:
                break
            time.sleep(0.2)
        try:
            rc = p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = -9
        lines = [ln for ln in open(os.path.join(tmp, "count.json")) if ln.strip()]
        R.check("capture -c 2 stops by itself after 2 records", rc == 0 and len(lines) == 2,
                f"status {rc}, {len(lines)} records in {time.time() - t0:.1f} s")

        # -q: no "capturing with" line; --duration 0.5s stops it.
        q = subprocess.run([SONDE, "capture", "-q", "-o", "json", "--duration", "1.5s", "--port", str(d)],
                           capture_output=True, text=True, timeout=90)
        R.check("capture -q --duration 1.5s: silent on stderr, ends by itself", q.returncode == 0 and q.stderr == "",
                f"status {q.returncode}, stderr {q.stderr!r}")

        # --comm lists: this python process by its comm, plus a name nobody has.
        comm = open("/proc/self/comm").read().strip()
        srv = serve(free_port())
        s = SondeRun(SONDE, tmp, "comm", ["--comm", f"nosuchcomm,{comm}", "--port", str(srv.server_port)], R)
        if s.ok:
            get(srv.server_port)
        rc, recs = s.stop()
        R.check(f"--comm nosuchcomm,{comm} captures {comm}", rc == 0 and ports_of(recs) == [srv.server_port],
                f"status {rc}, {ports_of(recs)}")
        s = SondeRun(SONDE, tmp, "comm-none", ["--comm", "nosuchcomm", "--comm", "other",
                                               "--port", str(srv.server_port)], R)
        if s.ok:
            get(srv.server_port)
        rc, recs = s.stop()
        R.check("--comm of other names captures nothing", rc == 0 and ports_of(recs) == [], ports_of(recs))
        # --pid lists: pid 1 and ours.
        s = SondeRun(SONDE, tmp, "pid", ["--pid", "1", "--pid", f"{os.getppid()},{os.getpid()}",
                                         "--port", str(srv.server_port)], R)
        if s.ok:
            get(srv.server_port)
        rc, recs = s.stop()
        R.check("--pid 1 --pid PPID,PID captures this process", rc == 0 and ports_of(recs) == [srv.server_port],
                f"status {rc}, {ports_of(recs)}")
        srv.shutdown()
    finally:
        for x in servers:
            x.shutdown()
        kill_sondes()


def main():
    global SONDE, DRY, KEEP, ONLY
    from livelib import parse_args
    SONDE, DRY, KEEP, ONLY = parse_args(sys.argv[1:])
    tests = [("version", test_version), ("refusals", test_refusals), ("read", test_read)]
    with tempfile.TemporaryDirectory(prefix="sonde-cli-") as tmp:
        for name, fn in tests:
            if ONLY is None or name in ONLY:
                fn()
        if ONLY is None or "live" in ONLY:
            test_live(tmp)
    sys.exit(1 if R.failed else 0)


if __name__ == "__main__":
    main()
