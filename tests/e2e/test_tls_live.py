#!/usr/bin/env python3
"""Live TLS capture end to end: sonde capture decrypting, through uprobes on
the TLS libraries, real HTTPS clients and servers on loopback — nginx and curl
(OpenSSL), Python's ssl module, openssl s_client and s_server -www (an SSL
BIO), gnutls-cli (GnuTLS), Node.js https (OpenSSL linked into node, memory
BIOs), a client linked against BoringSSL, processes started before and after
sonde, a client that dlopen()s its TLS library after sonde started, a
library named by hand (--tls-lib), OpenSSL 1.1 (Debian 11's, fetched once
into ~/.cache/sonde-openssl11) as client and as SSL-BIO server, --no-tls,
and `sonde tls`.

Every request must appear exactly once, request and response paired in one
record, with the right method, target, status and body (size and content),
capture.method naming the library (ebpf-tls-openssl, -boringssl, -gnutls),
the right process, and no record of the ciphertext of the same connection.

Usage: test_tls_live.py [--dry] [--only NAME,...] [--keep] path/to/sonde
  --dry    run every scenario's traffic without sonde (checks the clients and
           servers alone: useful where sonde has no TLS support)
  --only   run only these scenarios (names in SCENARIOS below)
  --keep   keep the temporary directory (also SONDE_E2E_KEEP=1)
Prints PASS/FAIL/SKIP/INFO lines prefixed "tls-live:"; exits non-zero on any FAIL.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import livelib
from livelib import Report, SondeRun, parse_args, sonde_tls_json, fetch_debs, free_port, kill_children, kill_sondes, unpack_debs, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
TLSDIR = os.path.join(HERE, "tls")
ANDROID_INC = "/usr/include/android"
ANDROID_LIB = "/usr/lib/x86_64-linux-gnu/android"
LIBSSL3 = "libssl.so.3"
# the file capture.tls.path must name, by library (unless a scenario says)
LIB_FILES = {"openssl": LIBSSL3, "boringssl": "android/libssl.so.0", "gnutls": "libgnutls.so.30"}

SONDE, DRY, KEEP, ONLY = parse_args(sys.argv[1:])
R = Report("tls-live")
check, info, skip = R.check, R.info, R.skip
BIG = 5 * 1024 * 1024
SMALL = b"hello from nginx\n"


def comm_of(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def children_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


class Child(livelib.Child):
    def finish(self, timeout=30):
        """Wait for the exit: (rc, stdout bytes, stderr text); rc None on timeout."""
        rc = self.wait(timeout)
        return rc, self.out, self.stderr()


def parse_http(raw):
    """(status, body bytes) of the first HTTP response in raw (Connection:
    close: the body runs to the end, or Content-Length)."""
    i = raw.find(b"HTTP/1.")
    if i < 0:
        return None, b""
    head, sep, body = raw[i:].partition(b"\r\n\r\n")
    if not sep:
        return None, b""
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        return None, b""
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        if k.strip().lower() == b"content-length":
            body = body[:int(v.strip())]
    return status, body


# ---------------------------------------------------------------- sonde runs

def start_sonde(tmp, name, extra):
    """sonde capture in the background, records to a file (a no-op with --dry)."""
    return SondeRun(SONDE, tmp, name, extra, R, dry=DRY, stop_timeout=30)


def summary(r):
    """A record in one short line for failure messages."""
    q, a = r.get("request") or {}, r.get("response") or {}
    p = r.get("process") or {}
    qb, ab = q.get("body") or {}, a.get("body") or {}
    return (f"[conn {r.get('conn', {}).get('id')} {r.get('capture', {}).get('method')} "
            f"{p.get('comm')}/{p.get('pid')} {q.get('method')} {q.get('target')} "
            f"req.body={qb.get('size')} -> {a.get('status')} body={ab.get('size')}/{ab.get('captured')} "
            f"flags={r.get('flags')}]")


class Run:
    """The records of one sonde run, and the checks on them."""

    def __init__(self, name, sonde, port):
        self.name, self.sonde, self.port = name, sonde, port
        self.dumped = False
        self.rc, self.recs = sonde.stop()
        self.ex = [r for r in self.recs if r.get("type") == "exchange"
                   and r.get("conn", {}).get("server", {}).get("port") == port]
        st = [r for r in self.recs if r.get("type") == "stats"]
        self.stats = st[-1] if st else None

    def on_port(self):
        return "; ".join(summary(r) for r in self.ex) or "(none)"

    def dump(self):
        """Once per run, on the first failure: every record for the port whole."""
        if self.dumped or DRY:
            return
        self.dumped = True
        info(f"{self.name}: {len(self.ex)} record(s) on port {self.port}:")
        for r in self.ex:
            print("INFO tls-live:   " + json.dumps(r)[:3000], flush=True)
        err = self.sonde.stderr().strip().splitlines()
        info(f"{self.name}: sonde stderr (last lines): " + " | ".join(err[-15:]))

    def ck(self, name, cond, why):
        if not check(f"{self.name}: {name}", cond, why):
            self.dump()
        return cond

    def basic(self, allow_non_tls=False):
        """Exit status, stats, no ciphertext records."""
        if DRY:
            return
        self.ck("sonde exits 0 on SIGINT", self.rc == 0, f"{self.rc}: {self.sonde.stderr()[-800:]}")
        self.ck("stats record written", self.stats is not None, "no stats record")
        st = self.stats or {}
        for k in ("ebpf_ringbuf_drops", "ebpf_missed_calls", "parse_errors", "ebpf_bad_events",
                  "tls_unbound_bytes", "ebpf_untraced_bytes"):
            self.ck(f"stats: {k} == 0", st.get(k, 0) == 0, f"{k} = {st.get(k)}")
        # Holes only where one call moved more than --capture-limit (node
        # writes 5 MB in one SSL_write): those bytes are counted as truncated.
        self.ck("stats: gap_bytes <= ebpf_truncated_bytes", st.get("gap_bytes", 0) <= st.get("ebpf_truncated_bytes", 0),
                f"gap_bytes = {st.get('gap_bytes')}, ebpf_truncated_bytes = {st.get('ebpf_truncated_bytes')}")
        if self.ex:
            info(f"{self.name}: capture/process of the first record: {json.dumps(self.ex[0].get('capture'))} "
                 f"{json.dumps(self.ex[0].get('process'))}")
        nz = {k: v for k, v in st.items() if isinstance(v, int) and v and k != "schema"}
        info(f"{self.name}: stats (non-zero): {json.dumps(nz)}")
        if not allow_non_tls:
            bad = [r for r in self.ex if not str(r.get("capture", {}).get("method", "")).startswith("ebpf-tls")]
            self.ck(f"no record of the ciphertext (every record on port {self.port} is ebpf-tls-*)", not bad,
                    "non-TLS records: " + "; ".join(summary(r) for r in bad))
            perr = [r for r in self.ex if any(f.endswith("parse_error") for f in r.get("flags", []))]
            self.ck("no record with a parse error", not perr, "; ".join(summary(r) for r in perr))
            # the ciphertext of connections whose plaintext sonde has is not
            # dissected nor counted a second time as unknown bytes
            self.ck("stats: ciphertext not counted as undetected (undetected_bytes == 0)",
                    st.get("undetected_bytes", 0) == 0, f"undetected_bytes = {st.get('undetected_bytes')}")

    def exactly(self, targets):
        """Exactly these requests on the port, nothing else."""
        if DRY:
            return
        got = sorted(str((r.get("request") or {}).get("target")) for r in self.ex)
        self.ck("exactly the expected requests on the port, nothing else", got == sorted(targets),
                f"expected {sorted(targets)}, got {got}; records: {self.on_port()}")

    def exchange(self, target, lib, procs, method="GET", status=200, size=None, data=None,
                 prefix=None, req_size=0, big=None, conn_ids=None, libpath=None):
        """One request, checked field by field. procs: {pid: comm} of the
        processes the record may be attributed to."""
        if DRY:
            return None
        label = f"{method} {target}"
        got = [r for r in self.ex if (r.get("request") or {}).get("target") == target]
        if not self.ck(f"{label}: seen exactly once", len(got) == 1,
                       f"expected 1 record, got {len(got)}; records on port {self.port}: {self.on_port()}"):
            if not got:
                return None
        r = got[0]
        q, a = r.get("request") or {}, r.get("response") or {}
        self.ck(f"{label}: request and response paired in one record",
                bool(r.get("request")) and bool(r.get("response")),
                f"got {summary(r)}")
        self.ck(f"{label}: method {method}, status {status}",
                q.get("method") == method and a.get("status") == status,
                f"expected {method} -> {status}, got {q.get('method')} -> {a.get('status')}")
        qb = q.get("body") or {}
        self.ck(f"{label}: request body size {req_size}", qb.get("size") == req_size,
                f"expected {req_size}, got {qb}")
        b = a.get("body") or {}
        if size is not None:
            self.ck(f"{label}: response body size {size}", b.get("size") == size,
                    f"expected {size}, got {b.get('size')} (captured {b.get('captured')})")
        if data is not None:
            self.ck(f"{label}: response body content", b.get("data") == data and b.get("captured") == len(data),
                    f"expected {data!r}, got {b.get('data')!r} (captured {b.get('captured')})")
        if prefix is not None:
            self.ck(f"{label}: response body starts {prefix!r}", str(b.get("data", "")).startswith(prefix),
                    f"got {str(b.get('data'))[:80]!r}")
        flags = set(r.get("flags", []))
        if big is not None:
            cap = b.get("captured", 0)
            # the body limit keeps at most 64 KiB; a single write bigger than
            # the per-call capture limit (node writes the 5 MB at once) leaves
            # a gap of exact size instead: either flag says so
            self.ck(f"{label}: large body truncated to the body limit, flagged",
                    0 < cap <= 65536 and bool({"response_truncated", "response_gap"} & flags),
                    f"captured {cap}, flags {sorted(flags)}")
            kept = b""
            try:
                kept = base64.b64decode(b.get("data", "")) if b.get("encoding") == "base64" else \
                    str(b.get("data", "")).encode()
            except ValueError:
                pass
            self.ck(f"{label}: kept body bytes are the file's first {cap} bytes (plaintext, not ciphertext)",
                    len(kept) == cap and kept == big[:cap], f"{len(kept)} bytes kept, first differ")
            flags -= {"response_truncated", "response_gap"}
        self.ck(f"{label}: no flags", not flags, f"flags {sorted(r.get('flags', []))}")
        cm = r.get("capture", {}).get("method")
        self.ck(f"{label}: capture.method ebpf-tls-{lib}", cm == "ebpf-tls-" + lib,
                f"expected ebpf-tls-{lib}, got {cm}")
        t = r.get("capture", {}).get("tls") or {}
        want_path = libpath if libpath else LIB_FILES[lib]
        self.ck(f"{label}: capture.tls names {lib} in {want_path}",
                t.get("library") == lib and want_path in str(t.get("path")),
                f"expected library {lib}, path containing {want_path}; got {t}")
        p = r.get("process") or {}
        want = " or ".join(f"{c}/{pid}" for pid, c in procs.items())
        self.ck(f"{label}: process {want}", p.get("pid") in procs and p.get("comm") == procs.get(p.get("pid")),
                f"expected {want}, got {p.get('comm')}/{p.get('pid')}")
        if conn_ids is not None:
            conn_ids.append(r.get("conn", {}).get("id"))
        return r


# ---------------------------------------------------------------- the test

class Env:
    pass


def curl(args, name="curl", stdin=False):
    return Child(["curl", "-sk", "--max-time", "30"] + args, name=name, stdin=stdin)


def curl_results(c, n, what):
    """curl -w '%{http_code} %{size_download}\\n' output: [(status, size)] ."""
    rc, out, err = c.finish()
    res = []
    for ln in out.decode(errors="replace").splitlines():
        p = ln.split()
        if len(p) == 2 and p[0].isdigit():
            res.append((int(p[0]), int(p[1])))
    check(f"{what}: curl succeeded", rc == 0 and len(res) == n, f"rc {rc}, out {out[-300:]!r}, err {err[-300:]}")
    return res + [(None, None)] * (n - len(res))


def sized_results(c, n, what):
    """Our own clients print 'STATUS SIZE' per request."""
    rc, out, err = c.finish()
    res = []
    for ln in out.decode(errors="replace").splitlines():
        p = ln.split()
        if len(p) == 2 and p[0].isdigit():
            res.append((int(p[0]), int(p[1])))
    check(f"{what}: client succeeded", rc == 0 and len(res) == n, f"rc {rc}, out {out[-300:]!r}, err {err[-300:]}")
    return res + [(None, None)] * (n - len(res))


W = "%{http_code} %{size_download}\\n"


def scen_nginx(E):
    """nginx (started before sonde) and curl, everything on one sonde run:
    keep-alive, a POST, a 5 MB response."""
    P = E.nginx_port
    B = f"https://127.0.0.1:{P}"
    s = start_sonde(E.tmp, "nginx", ["--port", str(P)])
    c1 = curl(["-w", W, "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
               f"{B}/index.html?k=1", f"{B}/missing", f"{B}/index.html?k=2"])
    pid1 = c1.pid
    r1 = curl_results(c1, 3, "nginx: keep-alive curl")
    check("nginx: keep-alive traffic answered 200, 404, 200",
          [x[0] for x in r1] == [200, 404, 200] and r1[0][1] == len(SMALL), r1)
    c2 = curl(["-w", W, "-o", "/dev/null", "-X", "POST", "--data", "a=1&b=22", f"{B}/created"])
    pid2 = c2.pid
    r2 = curl_results(c2, 1, "nginx: POST curl")
    check("nginx: POST answered 201", r2[0] == (201, 8), r2)
    c3 = curl(["-w", W, "-o", "/dev/null", f"{B}/big.bin"])
    pid3 = c3.pid
    r3 = curl_results(c3, 1, "nginx: 5 MB curl")
    check("nginx: 5 MB downloaded whole", r3[0] == (200, BIG), r3)
    run = Run("nginx", s, P)
    run.basic()
    w = E.nginx_worker
    ids = []
    run.exchange("/index.html?k=1", "openssl", {pid1: "curl", w: "nginx"}, size=len(SMALL),
                 data=SMALL.decode(), conn_ids=ids)
    run.exchange("/missing", "openssl", {pid1: "curl", w: "nginx"}, status=404, size=r1[1][1], conn_ids=ids)
    run.exchange("/index.html?k=2", "openssl", {pid1: "curl", w: "nginx"}, size=len(SMALL),
                 data=SMALL.decode(), conn_ids=ids)
    if not DRY and ids:
        run.ck("keep-alive: the three requests share one connection", len(ids) == 3 and len(set(ids)) == 1,
               f"connection ids {ids}")
    run.exchange("/created", "openssl", {pid2: "curl", w: "nginx"}, method="POST", status=201, size=8,
                 data="created\n", req_size=8)
    run.exchange("/big.bin", "openssl", {pid3: "curl", w: "nginx"}, size=BIG, big=E.big)
    run.exactly(["/index.html?k=1", "/missing", "/index.html?k=2", "/created", "/big.bin"])
    if not DRY:
        err = [ln for ln in s.stderr().splitlines() if "ssl" in ln.lower() or "tls" in ln.lower()]
        info("nginx: sonde's TLS lines on stderr: " + " | ".join(err[:12]))


def scen_sides(E):
    """Each end on its own: --pid the nginx worker (server side, nginx's
    libssl), then --pid a curl started before sonde (client side)."""
    P = E.nginx_port
    B = f"https://127.0.0.1:{P}"
    w = E.nginx_worker
    s = start_sonde(E.tmp, "server-side", ["--port", str(P), "--pid", str(w)])
    c = curl(["-w", W, "-o", "/dev/null", f"{B}/index.html?side=server",
              "-o", "/dev/null", f"{B}/big.bin?side=server"])
    r = curl_results(c, 2, "server-side: curl")
    check("server-side: traffic answered", r == [(200, len(SMALL)), (200, BIG)], r)
    run = Run("server-side", s, P)
    run.basic()
    run.exchange("/index.html?side=server", "openssl", {w: "nginx"}, size=len(SMALL), data=SMALL.decode())
    run.exchange("/big.bin?side=server", "openssl", {w: "nginx"}, size=BIG, big=E.big)
    run.exactly(["/index.html?side=server", "/big.bin?side=server"])

    # curl reads its URLs from stdin (-K -): its pid is known before it connects
    c = curl(["-K", "-"], stdin=True)
    time.sleep(0.2)
    s = start_sonde(E.tmp, "client-side", ["--port", str(P), "--pid", str(c.pid)])
    c.send(f'write-out = "{W}"\noutput = "/dev/null"\nurl = "{B}/index.html?side=client"\n'
           f'output = "/dev/null"\nurl = "{B}/big.bin?side=client"\n', close=True)
    r = curl_results(c, 2, "client-side: curl")
    check("client-side: traffic answered", r == [(200, len(SMALL)), (200, BIG)], r)
    run = Run("client-side", s, P)
    run.basic()
    run.exchange("/index.html?side=client", "openssl", {c.pid: "curl"}, size=len(SMALL), data=SMALL.decode())
    run.exchange("/big.bin?side=client", "openssl", {c.pid: "curl"}, size=BIG, big=E.big)
    run.exactly(["/index.html?side=client", "/big.bin?side=client"])


def scen_python(E):
    """Python's ssl module (SSL_read_ex/SSL_write_ex): an https server started
    before sonde; urllib clients. --pid the server, then --pid a client."""
    P = free_port()
    srv = Child([sys.executable, os.path.join(TLSDIR, "py_server.py"), str(P), E.cert, E.key, E.www],
                name="py_server")
    E.servers.append(srv)
    if not check("python: https server listening", srv.wait_for("listening") and wait_port(P),
                 srv.err.decode(errors="replace")[-500:]):
        return
    scomm = comm_of(srv.pid)
    s = start_sonde(E.tmp, "python-server", ["--port", str(P), "--pid", str(srv.pid)])
    cl = Child([sys.executable, os.path.join(TLSDIR, "py_client.py"), str(P),
                "/index.html?py=server", "POST:/created?py=server", "/big.bin?py=server"], name="py_client")
    r = sized_results(cl, 3, "python-server: urllib")
    check("python-server: traffic answered", r == [(200, len(SMALL)), (201, 10), (200, BIG)], r)
    run = Run("python-server", s, P)
    run.basic()
    pr = {srv.pid: scomm}
    run.exchange("/index.html?py=server", "openssl", pr, size=len(SMALL), data=SMALL.decode())
    run.exchange("/created?py=server", "openssl", pr, method="POST", status=201, size=10, data="created 8\n",
                 req_size=8)
    run.exchange("/big.bin?py=server", "openssl", pr, size=BIG, big=E.big)
    run.exactly(["/index.html?py=server", "/created?py=server", "/big.bin?py=server"])

    cl = Child([sys.executable, os.path.join(TLSDIR, "py_client.py"), str(P), "--wait",
                "/index.html?py=client", "POST:/created?py=client", "/big.bin?py=client"], name="py_client")
    if not check("python-client: client ready", cl.wait_for("ready"), cl.err):
        return
    ccomm = comm_of(cl.pid)
    s = start_sonde(E.tmp, "python-client", ["--port", str(P), "--pid", str(cl.pid)])
    cl.send("go\n")
    r = sized_results(cl, 3, "python-client: urllib")
    check("python-client: traffic answered", r == [(200, len(SMALL)), (201, 10), (200, BIG)], r)
    run = Run("python-client", s, P)
    run.basic()
    pr = {cl.pid: ccomm}
    run.exchange("/index.html?py=client", "openssl", pr, size=len(SMALL), data=SMALL.decode())
    run.exchange("/created?py=client", "openssl", pr, method="POST", status=201, size=10, data="created 8\n",
                 req_size=8)
    run.exchange("/big.bin?py=client", "openssl", pr, size=BIG, big=E.big)
    run.exactly(["/index.html?py=client", "/created?py=client", "/big.bin?py=client"])


def scen_openssl(E):
    """openssl s_client against nginx (SSL_read/SSL_write), and openssl
    s_server -www (an SSL BIO: BIO_f_ssl) driven by curl."""
    P = E.nginx_port
    s = start_sonde(E.tmp, "s_client", ["--port", str(P), "--comm", "openssl"])
    sc = Child(["openssl", "s_client", "-connect", f"127.0.0.1:{P}", "-servername", "localhost", "-quiet"],
               name="s_client")
    sc.send("GET /index.html?sc=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    got = sc.wait_for(SMALL, timeout=20)
    rc, out, err = sc.finish(timeout=20)
    st, body = parse_http(out)
    check("s_client: response received", got and rc == 0 and st == 200 and body == SMALL,
          f"rc {rc}, status {st}, out {out[-300:]!r}, err {err[-300:]}")
    run = Run("s_client", s, P)
    run.basic()
    run.exchange("/index.html?sc=1", "openssl", {sc.pid: "openssl"}, size=len(SMALL), data=SMALL.decode())
    run.exactly(["/index.html?sc=1"])

    P3 = free_port()
    ss = Child(["openssl", "s_server", "-www", "-accept", f"127.0.0.1:{P3}", "-cert", E.cert, "-key", E.key,
                "-quiet"], name="s_server")
    E.servers.append(ss)
    if not check("s_server: listening", wait_port(P3), ss.err.decode(errors="replace")[-300:]):
        return
    s = start_sonde(E.tmp, "s_server", ["--port", str(P3), "--pid", str(ss.pid)])
    page = os.path.join(E.tmp, "s_server.page")
    c = curl(["-w", W, "-o", page, f"https://127.0.0.1:{P3}/?ss=1"])
    r = curl_results(c, 1, "s_server: curl")
    check("s_server: page served", r[0][0] == 200 and r[0][1] > 100, r)
    with open(page, "rb") as f:
        pg = f.read()
    run = Run("s_server", s, P3)
    run.basic()
    # the plaintext comes from BIO_read/BIO_write, which live in libcrypto
    run.exchange("/?ss=1", "openssl", {ss.pid: "openssl"}, size=len(pg), prefix="<HTML><BODY BGCOLOR",
                 libpath="libcrypto.so.3")
    run.exactly(["/?ss=1"])


def scen_gnutls(E):
    """gnutls-cli against nginx: gnutls_record_send/recv. It starts after sonde
    (libgnutls mapped by nobody before) and sends its request 1.5 s after the
    handshake."""
    if not shutil.which("gnutls-cli"):
        skip("gnutls: gnutls-cli not installed (gnutls-bin; run scripts/setup)")
        return
    P = E.nginx_port
    s = start_sonde(E.tmp, "gnutls", ["--port", str(P), "--comm", "gnutls-cli"])
    gc = Child(["gnutls-cli", "--insecure", "-p", str(P), "127.0.0.1"], name="gnutls-cli")
    ok = gc.wait_for("Simple Client Mode", timeout=15)
    time.sleep(1.5)
    gc.send("GET /index.html?gnutls=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    got = gc.wait_for(SMALL, timeout=20)
    rc, out, err = gc.finish(timeout=20)
    st, body = parse_http(out)
    check("gnutls: response received", ok and got and rc == 0 and st == 200 and body == SMALL,
          f"rc {rc}, status {st}, out {out[-300:]!r}, err {err[-300:]}")
    run = Run("gnutls", s, P)
    run.basic()
    run.exchange("/index.html?gnutls=1", "gnutls", {gc.pid: "gnutls-cli"}, size=len(SMALL), data=SMALL.decode())
    run.exactly(["/index.html?gnutls=1"])


def scen_boringssl(E):
    """A client linked against BoringSSL (android-libboringssl), started before
    sonde, connecting once sonde is up."""
    if not E.boring:
        skip("boringssl: boring_client not built (android-libboringssl-dev missing?)")
        return
    P = E.nginx_port
    bc = Child([E.boring, str(P), "/index.html?boring=1", "--wait"], name="boring_client")
    if not check("boringssl: client ready", bc.wait_for("ready"), bc.err):
        return
    s = start_sonde(E.tmp, "boringssl", ["--port", str(P), "--pid", str(bc.pid)])
    bc.send("go\n")
    rc, out, err = bc.finish()
    st, body = parse_http(out)
    check("boringssl: response received", rc == 0 and st == 200 and body == SMALL,
          f"rc {rc}, status {st}, out {out[-300:]!r}, err {err[-300:]}")
    run = Run("boringssl", s, P)
    run.basic()
    run.exchange("/index.html?boring=1", "boringssl", {bc.pid: "boring_client"}, size=len(SMALL),
                 data=SMALL.decode())
    run.exactly(["/index.html?boring=1"])


def scen_tlslib(E):
    """--tls-lib: BoringSSL's libssl.so.0 named by hand, attached before any
    process maps it; a BoringSSL client started after sonde connects at once."""
    if not E.boring:
        skip("tls-lib: boring_client not built")
        return
    P = E.nginx_port
    s = start_sonde(E.tmp, "tls-lib", ["--port", str(P), "--comm", "boring_client",
                                       "--tls-lib", os.path.join(ANDROID_LIB, "libssl.so.0")])
    bc = Child([E.boring, str(P), "/index.html?tlslib=1"], name="boring_client")
    rc, out, err = bc.finish()
    st, body = parse_http(out)
    check("tls-lib: response received", rc == 0 and st == 200 and body == SMALL,
          f"rc {rc}, status {st}, out {out[-300:]!r}, err {err[-300:]}")
    run = Run("tls-lib", s, P)
    run.basic()
    run.exchange("/index.html?tlslib=1", "boringssl", {bc.pid: "boring_client"}, size=len(SMALL),
                 data=SMALL.decode())
    run.exactly(["/index.html?tlslib=1"])


def scen_dlopen(E):
    """Clients started before sonde with no TLS library mapped, which dlopen()
    libssl.so.3 (OpenSSL) or BoringSSL's libssl.so.0 once sonde is up, wait
    1.5 s and do a GET."""
    if not E.dlopen:
        skip("dlopen: dlopen_client not built")
        return
    P = E.nginx_port
    libs = [("openssl", LIBSSL3)]
    if os.path.exists(os.path.join(ANDROID_LIB, "libssl.so.0")):
        libs.append(("boringssl", os.path.join(ANDROID_LIB, "libssl.so.0")))
    cl = {}
    for lib, path in libs:
        c = Child([E.dlopen, path, str(P), f"/index.html?dlopen={lib}", "1500"], name="dlopen_client")
        cl[lib] = c
        check(f"dlopen-{lib}: client ready", c.wait_for("ready"), c.err)
    for lib, c in cl.items():
        with open(f"/proc/{c.pid}/maps") as f:
            m = f.read()
        check(f"dlopen-{lib}: no TLS library mapped before dlopen", "libssl" not in m and "libcrypto" not in m,
              [ln for ln in m.splitlines() if "ssl" in ln or "crypto" in ln][:3])
    s = start_sonde(E.tmp, "dlopen", ["--port", str(P), "--comm", "dlopen_client"])
    for c in cl.values():
        c.send("go\n")
    res = {}
    for lib, c in cl.items():
        rc, out, err = c.finish()
        st, body = parse_http(out)
        res[lib] = (rc, st, body)
        check(f"dlopen-{lib}: response received", rc == 0 and st == 200 and body == SMALL,
              f"rc {rc}, status {st}, out {out[-300:]!r}, err {err[-300:]}")
    run = Run("dlopen", s, P)
    run.basic()
    for lib, c in cl.items():
        run.exchange(f"/index.html?dlopen={lib}", lib, {c.pid: "dlopen_client"}, size=len(SMALL),
                     data=SMALL.decode())
    run.exactly([f"/index.html?dlopen={lib}" for lib in cl])


# Debian 11's OpenSSL 1.1 (libssl1.1, and openssl for its s_server), fetched
# once from the Debian security archive with private apt lists (as
# tests/kernels/run fetches kernels: the system's apt state stays untouched)
# and unpacked into this cache.
O11_CACHE = os.environ.get("SONDE_OPENSSL11_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "sonde-openssl11")
O11_PKGS = ["libssl1.1", "openssl"]


def o11_files(root):
    """(libssl.so.1.1, libcrypto.so.1.1, openssl binary) under an unpacked
    root, or None if one is missing."""
    for d in ("usr/lib/x86_64-linux-gnu", "usr/lib/aarch64-linux-gnu", "usr/lib"):
        lib = os.path.join(root, d)
        f = (os.path.join(lib, "libssl.so.1.1"), os.path.join(lib, "libcrypto.so.1.1"),
             os.path.join(root, "usr/bin/openssl"))
        if all(os.path.isfile(x) for x in f):
            return f
    return None


def fetch_openssl11():
    """The unpacked root of Debian 11's OpenSSL 1.1, fetched on first use:
    (root, None), or (None, why it cannot be had)."""
    root = os.path.join(O11_CACHE, "root")
    if o11_files(root):
        return root, None
    files, why = fetch_debs(O11_CACHE, "bullseye-security", O11_PKGS, R, timeout=300)
    if not files:
        return None, why
    tmp = root + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    why = unpack_debs(files, tmp)
    if why:
        return None, why
    names = [os.path.basename(f) for f in files]
    if not o11_files(tmp):
        return None, f"no libssl.so.1.1, libcrypto.so.1.1 and usr/bin/openssl in {names}"
    shutil.rmtree(root, ignore_errors=True)
    os.rename(tmp, root)
    info(f"openssl-1.1: unpacked {', '.join(names)} into {root}")
    return root, None


def mapped(pid, needle):
    """The distinct files of /proc/PID/maps whose path contains needle."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            return sorted({ln.split()[-1] for ln in f if needle in ln and len(ln.split()) >= 6})
    except OSError:
        return []


def tls_json(pid):
    """`sonde tls -o json`: the objects of process pid, and all the output."""
    _, mine, out = sonde_tls_json(SONDE, pid)
    return mine, out


def scen_openssl11(E):
    """OpenSSL 1.1 (Debian 11's libssl1.1 and openssl, fetched once into a
    cache: not in a system directory, so sonde finds it only in the
    processes' mappings), sonde started before the processes: the dlopen
    client on libssl.so.1.1 against nginx (SSL_read/SSL_write), and 1.1's
    openssl s_server -www (an SSL BIO: BIO_read/BIO_write on
    libcrypto.so.1.1, where a BIO's method pointer is at offset 0, not 8 as
    in 3.x) driven by curl."""
    root, why = fetch_openssl11()
    if not root:
        skip("openssl-1.1: " + why)
        return
    libssl, libcrypto, ossl = (os.path.realpath(x) for x in o11_files(root))
    libdir = os.path.dirname(libssl)
    env = dict(os.environ, LD_LIBRARY_PATH=libdir, OPENSSL_CONF=os.path.join(root, "etc/ssl/openssl.cnf"))
    v = subprocess.run([ossl, "version"], capture_output=True, text=True, env=env)
    if not check("openssl-1.1: the 1.1 openssl runs on the cached libraries",
                 v.returncode == 0 and v.stdout.startswith("OpenSSL 1.1.1"), f"{v.returncode}: {v.stdout} {v.stderr}"):
        return
    info(f"openssl-1.1: {v.stdout.strip()}, libraries in {libdir}")

    def version_ok(run, label, r):
        t = (r or {}).get("capture", {}).get("tls") or {}
        run.ck(f"{label}: capture.tls.version starts 'OpenSSL 1.1.1'", str(t.get("version")).startswith("OpenSSL 1.1.1"),
               f"got {t}")

    # client: dlopen()s libssl.so.1.1 (libcrypto.so.1.1 through LD_LIBRARY_PATH)
    if not E.dlopen:
        skip("openssl-1.1-client: dlopen_client not built")
    else:
        P = E.nginx_port
        tgt = "/index.html?openssl11=client"
        s = start_sonde(E.tmp, "openssl-1.1-client", ["--port", str(P), "--comm", "dlopen_client"])
        c = Child([E.dlopen, libssl, str(P), tgt, "1500"], name="dlopen_client", env=env)
        if check("openssl-1.1-client: client ready", c.wait_for("ready"), c.err):
            c.send("go\n")
            if c.wait_for("loaded"):
                m = mapped(c.pid, "libssl") + mapped(c.pid, "libcrypto")
                check("openssl-1.1-client: the client maps the 1.1 libraries, not 3.x",
                      libssl in m and libcrypto in m and not any(".so.3" in x for x in m), m)
        rc, out, err = c.finish()
        st, body = parse_http(out)
        check("openssl-1.1-client: response received", rc == 0 and st == 200 and body == SMALL,
              f"rc {rc}, status {st}, out {out[-300:]!r}, err {err[-300:]}")
        run = Run("openssl-1.1-client", s, P)
        run.basic()
        r = run.exchange(tgt, "openssl", {c.pid: "dlopen_client"}, size=len(SMALL), data=SMALL.decode(),
                         libpath=libssl)
        if r:
            version_ok(run, f"GET {tgt}", r)
        run.exactly([tgt])

    # server: 1.1's s_server -www, an SSL BIO (BIO_f_ssl), curl (3.x) as client
    P3 = free_port()
    tgt = "/?openssl11=server"
    s = start_sonde(E.tmp, "openssl-1.1-server", ["--port", str(P3), "--comm", "openssl"])
    ss = Child([ossl, "s_server", "-www", "-accept", f"127.0.0.1:{P3}", "-cert", E.cert, "-key", E.key, "-quiet"],
               name="s_server-1.1", env=env)
    E.servers.append(ss)
    if not check("openssl-1.1-server: s_server listening", wait_port(P3), ss.err.decode(errors="replace")[-300:]):
        s.stop()
        return
    m = mapped(ss.pid, "libssl") + mapped(ss.pid, "libcrypto")
    check("openssl-1.1-server: s_server maps the 1.1 libraries, not 3.x",
          libssl in m and libcrypto in m and not any(".so.3" in x for x in m), m)
    time.sleep(1.0)  # discovery from the process's mappings
    if not DRY:
        mine, alltext = tls_json(ss.pid)
        text = json.dumps(mine)
        info(f"openssl-1.1-server: sonde tls -o json for s_server (pid {ss.pid}): {text[:1500]}")
        bio = [o for o in mine if str(o.get("path", "")).endswith("libcrypto.so.1.1")]
        check("openssl-1.1-server: sonde tls lists libcrypto.so.1.1 (OpenSSL 1.1.1, BIO_read/BIO_write, capturing)",
              len(bio) == 1 and str(bio[0].get("version")).startswith("OpenSSL 1.1.1")
              and {"BIO_read", "BIO_write"} <= set(bio[0].get("functions") or [])
              and bio[0].get("status") == "capturing", f"objects for pid {ss.pid}: {text[:1500]}; "
              f"all output: {alltext[:1500]}")
    page = os.path.join(E.tmp, "s_server-1.1.page")
    c = curl(["-w", W, "-o", page, f"https://127.0.0.1:{P3}{tgt}"])
    r = curl_results(c, 1, "openssl-1.1-server: curl")
    check("openssl-1.1-server: page served", r[0][0] == 200 and r[0][1] > 100, r)
    try:
        with open(page, "rb") as f:
            pg = f.read()
    except OSError:
        pg = b""
    run = Run("openssl-1.1-server", s, P3)
    run.basic()
    # the plaintext comes from BIO_read/BIO_write on the SSL BIO: libcrypto
    r = run.exchange(tgt, "openssl", {ss.pid: "openssl"}, size=len(pg), prefix="<HTML><BODY BGCOLOR",
                     data=pg.decode() if pg.isascii() else None, libpath=libcrypto)
    if r:
        version_ok(run, f"GET {tgt}", r)
    run.exactly([tgt])


def scen_after(E):
    """A TLS server started after sonde: a Node.js https server (OpenSSL linked
    into node: found by its ELF symbols), driven 1.5 s after it started."""
    if not E.node:
        skip("after: node not installed")
        return
    others = [p for p in os.listdir("/proc") if p.isdigit() and comm_of(p) == "node"]
    if others:
        info(f"after: node processes already running (pids {others[:5]}): node may already be attached")
    P = free_port()
    s = start_sonde(E.tmp, "after", ["--port", str(P), "--comm", "node"])
    srv = Child([E.node, os.path.join(TLSDIR, "node_server.js"), str(P), E.key, E.cert, E.www], name="node_after")
    E.servers.append(srv)
    if not check("after: node server listening", srv.wait_for("listening") and wait_port(P),
                 srv.err.decode(errors="replace")[-500:]):
        s.stop()
        return
    time.sleep(1.5)
    c = curl(["-w", W, "-o", "/dev/null", f"https://127.0.0.1:{P}/index.html?after=1",
              "-o", "/dev/null", f"https://127.0.0.1:{P}/big.bin?after=1"])
    r = curl_results(c, 2, "after: curl")
    check("after: traffic answered", r == [(200, len(SMALL)), (200, BIG)], r)
    run = Run("after", s, P)
    run.basic()
    pr = {srv.pid: "node"}
    run.exchange("/index.html?after=1", "openssl", pr, size=len(SMALL), data=SMALL.decode(), libpath=E.node_lib)
    run.exchange("/big.bin?after=1", "openssl", pr, size=BIG, big=E.big, libpath=E.node_lib)
    run.exactly(["/index.html?after=1", "/big.bin?after=1"])


def scen_node(E):
    """Node.js https as server and client, against each other: --pid the
    server (started before sonde), then --pid a client (started before
    sonde, going once it is up); keep-alive, POST, 5 MB."""
    if not E.node:
        skip("node: node not installed")
        return
    P = free_port()
    srv = Child([E.node, os.path.join(TLSDIR, "node_server.js"), str(P), E.key, E.cert, E.www], name="node_server")
    E.servers.append(srv)
    E.node_server = srv
    if not check("node: server listening", srv.wait_for("listening") and wait_port(P),
                 srv.err.decode(errors="replace")[-500:]):
        return
    for side in ("server", "client"):
        reqs = [f"/index.html?node={side}", f"/missing?node={side}", f"POST:/created?node={side}",
                f"/big.bin?node={side}"]
        cl = Child([E.node, os.path.join(TLSDIR, "node_client.js"), str(P), "--wait"] + reqs, name="node_client")
        if not check(f"node-{side}: client ready", cl.wait_for("ready"), cl.err):
            continue
        who = srv if side == "server" else cl
        s = start_sonde(E.tmp, f"node-{side}", ["--port", str(P), "--pid", str(who.pid)])
        cl.send("go\n")
        r = sized_results(cl, 4, f"node-{side}: node client")
        check(f"node-{side}: traffic answered", r == [(200, len(SMALL)), (404, 10), (201, 11), (200, BIG)], r)
        run = Run(f"node-{side}", s, P)
        run.basic()
        pr = {who.pid: "node"}
        ids = []
        nl = E.node_lib
        run.exchange(f"/index.html?node={side}", "openssl", pr, size=len(SMALL), data=SMALL.decode(),
                     conn_ids=ids, libpath=nl)
        run.exchange(f"/missing?node={side}", "openssl", pr, status=404, size=10, data="not found\n", conn_ids=ids,
                     libpath=nl)
        run.exchange(f"/created?node={side}", "openssl", pr, method="POST", status=201, size=11,
                     data="created 10\n", req_size=10, conn_ids=ids, libpath=nl)
        run.exchange(f"/big.bin?node={side}", "openssl", pr, size=BIG, big=E.big, conn_ids=ids, libpath=nl)
        if not DRY and ids:
            run.ck("keep-alive: the four requests share one connection", len(ids) == 4 and len(set(ids)) == 1,
                   f"connection ids {ids}")
        run.exactly([f"/index.html?node={side}", f"/missing?node={side}", f"/created?node={side}",
                     f"/big.bin?node={side}"])


def scen_notls(E):
    """--no-tls: no ebpf-tls record, and the ciphertext is no HTTP record."""
    P = E.nginx_port
    s = start_sonde(E.tmp, "no-tls", ["--port", str(P), "--no-tls"])
    c = curl(["-w", W, "-o", "/dev/null", f"https://127.0.0.1:{P}/index.html?notls=1"])
    r = curl_results(c, 1, "no-tls: curl")
    check("no-tls: traffic answered", r[0] == (200, len(SMALL)), r)
    run = Run("no-tls", s, P)
    run.basic(allow_non_tls=True)
    if DRY:
        return
    tls = [r for r in run.recs if str(r.get("capture", {}).get("method", "")).startswith("ebpf-tls-")]
    run.ck("--no-tls: no ebpf-tls record", not tls, "; ".join(summary(r) for r in tls))
    seen = [r for r in run.ex if (r.get("request") or {}).get("target") == "/index.html?notls=1"]
    run.ck("--no-tls: the request is not seen (encrypted)", not seen, "; ".join(summary(r) for r in seen))
    run.ck("--no-tls: the socket layer still saw the connection's bytes",
           (run.stats or {}).get("ebpf_bytes", 0) > 0, (run.stats or {}).get("ebpf_bytes"))


def scen_tlscmd(E):
    """`sonde tls` while nginx and a node server run."""
    if DRY:
        return
    p = subprocess.run([SONDE, "tls", "-o", "json"], capture_output=True, text=True, timeout=60)
    check("sonde tls -o json: exits 0", p.returncode == 0, f"{p.returncode}: {p.stderr[-500:]}")
    objs, bad = [], []
    for ln in p.stdout.splitlines():
        if ln.strip():
            try:
                objs.append(json.loads(ln))
            except ValueError:
                bad.append(ln)
    check("sonde tls -o json: JSON Lines", objs and not bad, f"{len(objs)} objects, bad lines {bad[:3]}")

    def has_pid(o, pid):
        if isinstance(o, dict):
            return o.get("pid") == pid or any(has_pid(v, pid) for v in o.values())
        if isinstance(o, list):
            return any(has_pid(v, pid) for v in o)
        return False

    failing = ("attach_failed", "attach failed", "no_symbols", "no symbols", "unsupported", "disabled", "stripped")

    def proc_check(what, pid, needle):
        mine = [o for o in objs if has_pid(o, pid)]
        text = json.dumps(mine)
        info(f"sonde tls: {what} (pid {pid}): {text[:1500]}")
        check(f"sonde tls: lists {what} (pid {pid}) with {needle}", mine and needle in text,
              f"objects for pid {pid}: {text[:1500]}; all output: {p.stdout[:2000]}")
        check(f"sonde tls: {what}: capturable (no failure status)", mine and not any(w in text.lower()
              for w in failing), text[:1500])

    proc_check("nginx worker", E.nginx_worker, LIBSSL3)
    proc_check("nginx master", E.nginx.pid, LIBSSL3)
    ns = getattr(E, "node_server", None)
    if ns and ns.alive():
        proc_check("node server (OpenSSL linked in)", ns.pid, "node")
    t = subprocess.run([SONDE, "tls"], capture_output=True, text=True, timeout=60)
    check("sonde tls (text): exits 0, names nginx and its libssl",
          t.returncode == 0 and "nginx" in t.stdout and LIBSSL3 in t.stdout, f"{t.returncode}: {t.stdout[:1500]}"
          f" {t.stderr[-300:]}")
    info("sonde tls (text), first lines: " + " | ".join(t.stdout.splitlines()[:12]))


SCENARIOS = [
    ("nginx", scen_nginx),
    ("sides", scen_sides),
    ("python", scen_python),
    ("openssl", scen_openssl),
    ("gnutls", scen_gnutls),
    ("boringssl", scen_boringssl),
    ("tls-lib", scen_tlslib),
    ("dlopen", scen_dlopen),
    ("openssl-1.1", scen_openssl11),
    ("after", scen_after),
    ("node", scen_node),
    ("no-tls", scen_notls),
    ("tls-cmd", scen_tlscmd),
]


def build(E):
    cc = shutil.which("cc") or shutil.which("gcc")
    E.boring = E.dlopen = None
    if not cc:
        skip("no C compiler: boringssl and dlopen scenarios skipped")
        return
    out = os.path.join(E.tmp, "dlopen_client")
    p = subprocess.run([cc, "-O1", "-Wall", "-o", out, os.path.join(TLSDIR, "dlopen_client.c"), "-ldl"],
                       capture_output=True, text=True)
    if check("build: dlopen_client", p.returncode == 0, p.stderr[-800:]):
        E.dlopen = out
    if not os.path.exists(os.path.join(ANDROID_INC, "openssl", "ssl.h")):
        skip("boringssl: android-libboringssl-dev not installed (run scripts/setup)")
        return
    out = os.path.join(E.tmp, "boring_client")
    p = subprocess.run([cc, "-O1", "-Wall", "-I" + ANDROID_INC, "-o", out, os.path.join(TLSDIR, "boring_client.c"),
                        "-L" + ANDROID_LIB, "-Wl,-rpath," + ANDROID_LIB, "-lssl", "-lcrypto"],
                       capture_output=True, text=True)
    if check("build: boring_client (BoringSSL)", p.returncode == 0, p.stderr[-800:]):
        E.boring = out


def start_nginx(E):
    P = E.nginx_port = free_port()
    t = E.tmp
    conf = os.path.join(t, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1;
error_log {t}/error.log; pid {t}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off; keepalive_requests 10000; default_type text/plain;
  client_body_temp_path {t}/b; proxy_temp_path {t}/p; fastcgi_temp_path {t}/f;
  uwsgi_temp_path {t}/u; scgi_temp_path {t}/s;
  server {{ listen 127.0.0.1:{P} ssl; root {E.www};
           ssl_certificate {E.cert}; ssl_certificate_key {E.key};
           location = /created {{ return 201 "created\\n"; }} }}
}}
""")
    E.nginx = Child(["nginx", "-p", t, "-c", conf, "-g", "daemon off;"], name="nginx", stdin=False)
    E.nginx_worker = None
    if not wait_port(P):
        return False
    for _ in range(100):
        kids = children_of(E.nginx.pid)
        if kids:
            E.nginx_worker = kids[0]
            return True
        time.sleep(0.05)
    return False


def main():
    if os.geteuid() != 0 and not DRY:
        skip("needs root")
        sys.exit(0)
    for tool in ("nginx", "curl", "openssl"):
        if not shutil.which(tool):
            skip(tool + " not installed (run scripts/setup)")
            sys.exit(0)
    if not DRY:
        h = subprocess.run([SONDE, "capture", "--help"], capture_output=True, text=True)
        if "--no-tls" not in h.stdout + h.stderr:
            skip("this sonde has no TLS capture (no --no-tls in `sonde capture --help`)")
            sys.exit(0)
    E = Env()
    E.tmp = tempfile.mkdtemp(prefix="sonde-tls.")
    os.chmod(E.tmp, 0o755)
    E.servers = []
    E.node = shutil.which("node") or shutil.which("nodejs")
    E.node_lib = None
    if E.node:
        # Node.js from nodesource links OpenSSL in; Debian's uses libssl.so.3
        ld = subprocess.run(["ldd", E.node], capture_output=True, text=True).stdout
        E.node_lib = LIBSSL3 if LIBSSL3 in ld else os.path.realpath(E.node)
    try:
        E.www = os.path.join(E.tmp, "www")
        os.makedirs(E.www)
        os.chmod(E.www, 0o755)
        with open(os.path.join(E.www, "index.html"), "wb") as f:
            f.write(SMALL)
        E.big = os.urandom(BIG)
        with open(os.path.join(E.www, "big.bin"), "wb") as f:
            f.write(E.big)
        E.cert, E.key = os.path.join(E.tmp, "cert.pem"), os.path.join(E.tmp, "key.pem")
        p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-subj", "/CN=localhost", "-days", "1", "-keyout", E.key, "-out", E.cert],
                           capture_output=True, text=True)
        if not check("self-signed certificate made", p.returncode == 0, p.stderr[-500:]):
            return
        for fn in (E.cert, E.key):
            os.chmod(fn, 0o644)
        build(E)
        if not check("nginx with TLS started", start_nginx(E), E.nginx.err.decode(errors="replace")[-500:]):
            return
        worker0 = E.nginx_worker
        info(f"nginx master {E.nginx.pid}, worker {worker0}, port {E.nginx_port}; node {E.node} (TLS in {E.node_lib}); "
             f"sonde {'(dry run)' if DRY else SONDE}")
        for name, fn in SCENARIOS:
            if ONLY and name not in ONLY:
                continue
            try:
                fn(E)
            except Exception as e:  # one scenario's bug must not hide the others
                import traceback
                check(f"{name}: scenario ran without error", False, "".join(
                    traceback.format_exception(type(e), e, e.__traceback__))[-1500:])
            finally:
                kill_sondes()
        # The traced programs did not crash.
        check("nginx master still running", E.nginx.alive(), E.nginx.err[-300:])
        check("nginx worker never restarted (no crash)", children_of(E.nginx.pid) == [worker0],
              (worker0, children_of(E.nginx.pid)))
        try:
            with open(os.path.join(E.tmp, "error.log")) as f:
                log = f.read()
        except OSError:
            log = ""
        crashes = [ln for ln in log.splitlines() if "signal" in ln and "exited" in ln]
        check("nginx error.log: no worker exited on a signal", not crashes, crashes[:3])
        for srv in E.servers:
            check(f"{srv.name} (pid {srv.pid}) still running (no crash)", srv.alive(),
                  f"exit {srv.proc.poll()}: {srv.err.decode(errors='replace')[-300:]}")
    finally:
        kill_sondes()
        kill_children()
        if KEEP:
            print("kept " + E.tmp, file=sys.stderr)
        else:
            shutil.rmtree(E.tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
    sys.exit(1 if R.failed else 0)
