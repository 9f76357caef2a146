#!/usr/bin/env python3
"""-w: what sonde captured, recorded as pcapng that tshark reads. A capture
file re-recorded gives the same records; a live eBPF capture of plain HTTP
and of HTTPS (Python's ssl server, curl: both OpenSSL) is recorded as TCP/IP
whose HTTP tshark dissects exchange by exchange like sonde's records — the
TLS plaintext included, without any key; rotation keeps valid files; a
recording that fails (/dev/full) stops alone while records go on; wrong
combinations are refused.

Usage: test_record_pcapng.py [--only NAME,...] path/to/sonde
"""
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from livelib import Report, SondeRun, free_port, kill_sondes, parse_args, wait_port

R = Report("record")
SONDE = None
CORPUS = os.environ.get("SONDE_CORPUS", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                     "../../../shared/corpus"))

SERVER = r'''
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = ("page " + self.path + "\n").encode() * 30
        self.send_response(200 if "missing" not in self.path else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
if len(sys.argv) > 2:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
'''


def sh(*argv, check=False, **kw):
    return subprocess.run(list(argv), check=check, capture_output=True, text=True, **kw)


def records(path, *extra):
    # One masking key, so two reads mask the same secret the same way.
    p = sh(SONDE, "read", "-o", "json", "--redact-key", "test-key", *extra, path)
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def exchanges(recs):
    return [r for r in recs if r.get("type") == "exchange"]


def tshark_http(path, port):
    """(method, uri) of requests and response codes tshark dissects."""
    p = sh("tshark", "-r", path, "-o", "tcp.check_checksum:TRUE", "-d", f"tcp.port=={port},http",
           "-Y", "http", "-T", "fields", "-e", "http.request.method", "-e", "http.request.uri",
           "-e", "http.response.code")
    reqs, codes = [], []
    for line in p.stdout.splitlines():
        f = line.split("\t")
        if f[0]:
            reqs.append((f[0], f[1]))
        elif len(f) > 2 and f[2]:
            codes.append(int(f[2]))
    return sorted(reqs), sorted(codes), p.stderr


def tshark_ok(path):
    p = sh("tshark", "-r", path, "-q")
    return p.returncode == 0, p.stderr.strip()


def test_reread(tmp):
    src = os.path.join(CORPUS, "http1/arkime-http-post-upload.pcap")
    if not os.path.exists(src):
        R.skip("reread: corpus not found")
        return
    out = os.path.join(tmp, "re.pcapng")
    p = sh(SONDE, "read", "-o", "none", "-w", out, src)
    ok, err = tshark_ok(out)
    R.check("read -w: a pcapng tshark reads", p.returncode == 0 and ok, p.stderr + err)
    strip = lambda rs: [{k: v for k, v in r.items() if k != "capture"} for r in rs]
    R.check("read -w: the recording gives the same records", strip(records(out)) == strip(records(src)),
            "records differ")
    p = subprocess.run(f"'{SONDE}' read -w - '{src}' | tshark -r - -q", shell=True, capture_output=True,
                       text=True)
    R.check("read -w -: streams a pcapng into tshark", p.returncode == 0, p.stderr[-300:])


def live(tmp, name, tls):
    port = free_port()
    argv = ["/usr/bin/python3", "-c", SERVER, str(port)]
    if tls:
        key, crt = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.pem")
        sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
           "-days", "1", "-subj", "/CN=localhost", check=True)
        argv += [crt, key]
    srv = subprocess.Popen(argv, start_new_session=True)
    try:
        wait_port(port)
        out = os.path.join(tmp, f"{name}.pcapng")
        run = SondeRun(SONDE, tmp, name, ["--port", str(port), "-w", out], R)
        if not run.ok:
            return
        scheme = "https" if tls else "http"
        urls = [f"{scheme}://127.0.0.1:{port}/{name}/{i}" for i in ("a", "b", "missing")]
        sh("curl", "-sk", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", *urls)
        sh("curl", "-sk", "-o", "/dev/null", f"{scheme}://127.0.0.1:{port}/{name}/again")
        rc, recs = run.stop()
        ex = exchanges(recs)
        want = sorted(("GET", f"/{name}/{i}") for i in ("a", "b", "missing", "again"))
        got = sorted((r["request"]["method"], r["request"]["target"]) for r in ex if r.get("request"))
        R.check(f"{name}: records of every request", got == want, f"{got}")
        if tls:
            R.check(f"{name}: records are TLS plaintext",
                    all(r["capture"]["method"].startswith("ebpf-tls") for r in ex), str({r["capture"]["method"] for r in ex}))
        ok, err = tshark_ok(out)
        reqs, codes, terr = tshark_http(out, port)
        R.check(f"{name}: tshark reads the recording", rc == 0 and ok, err)
        R.check(f"{name}: tshark dissects the same requests from it", reqs == want, f"{reqs} {terr[-200:]}")
        R.check(f"{name}: ... and the same responses", codes == sorted(r["response"]["status"] for r in ex),
                f"{codes}")
        recs2 = exchanges(records(out))
        R.check(f"{name}: sonde read of the recording gives the same exchanges",
                sorted((r["request"]["target"], r["response"]["status"], r["response"]["body"]["size"]) for r in recs2)
                == sorted((r["request"]["target"], r["response"]["status"], r["response"]["body"]["size"]) for r in ex),
                f"{len(recs2)} vs {len(ex)}")
    finally:
        os.killpg(srv.pid, signal.SIGKILL)


def test_rotation(tmp):
    src = os.path.join(CORPUS, "http2")
    caps = sorted(glob.glob(os.path.join(src, "*.pcap*")))
    big = max(caps, key=os.path.getsize) if caps else None
    if not big:
        R.skip("rotation: corpus not found")
        return
    base = os.path.join(tmp, "rot.pcapng")
    p = sh(SONDE, "read", "-o", "none", "-w", base, "-C", "20k", "-W", "3", big)
    files = sorted(glob.glob(base + "*"))
    valid = all(tshark_ok(f)[0] for f in files)
    R.check("-C 20k -W 3: at most 3 files, each valid", p.returncode == 0 and 1 <= len(files) <= 3 and valid,
            f"{files} {p.stderr}")


def test_failures(tmp):
    src = os.path.join(CORPUS, "http1/arkime-http-post-upload.pcap")
    p = sh(SONDE, "read", "-o", "json", "-w", "/dev/full", src)
    R.check("-w /dev/full: the recording stops with the reason, records go on",
            p.returncode == 1 and "No space left" in p.stderr and '"exchange"' in p.stdout,
            f"status {p.returncode}, {p.stderr!r}")
    for argv, why in ((["-o", "none"], "goes with -w"), (["-C", "1m"], "goes with -w"),
                      (["-w", "-", "-o", "json"], "cannot go there too"),
                      (["-w", "-", "-C", "1m"], "writes to stdout"),
                      (["-w", os.path.join(tmp, "x.pcapng"), "-W", "2"], "-W keeps"),
                      (["-w", "/nonexistent/dir/x.pcapng"], "-w /nonexistent")):
        p = sh(SONDE, "read", *argv, src)
        R.check(f"refused: read {' '.join(argv)}", p.returncode in (1, 2) and why in p.stderr,
                f"status {p.returncode}, {p.stderr!r}")


def main():
    global SONDE
    SONDE, _dry, _keep, only = parse_args(sys.argv[1:])
    wants = lambda n: only is None or n in only
    with tempfile.TemporaryDirectory(prefix="sonde-record-") as tmp:
        try:
            if wants("reread"):
                test_reread(tmp)
            if wants("rotation"):
                test_rotation(tmp)
            if wants("failures"):
                test_failures(tmp)
            if os.geteuid() != 0:
                R.skip("live: needs root")
            else:
                if wants("plain"):
                    live(tmp, "plain", False)
                if wants("tls"):
                    live(tmp, "tls", True)
        finally:
            kill_sondes()
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
