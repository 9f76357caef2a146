#!/usr/bin/env python3
"""Live capture of Go's crypto/tls end to end: real Go programs, built in the
test with Debian's golang from tests/e2e/go/ (a net/http HTTPS server, a
net/http client, a gRPC-Go server and client), their plaintext captured by
sonde's uprobes on crypto/tls.(*Conn).Read/Write.

Scenarios (names for --only):
  sides        The server and the client, each on its own (`--comm` the
               servers, started before sonde; then `--comm` the clients,
               started before sonde and going once it is up), HTTP/1.1 forced
               and HTTP/2 by ALPN, built three ways: plain, stripped
               (-ldflags="-s -w": no symbol table, no DWARF) and PIE
               (-buildmode=pie). Keep-alive, a POST, a 404, a 100 kB upload,
               a 70 kB download.
  concurrency  One server and two clients at once (--pid the server, then
               --comm the clients, same traffic): 300 goroutines x 5
               requests over 50 HTTP/1.1 connections, 200 goroutines x 5 over
               one HTTP/2 connection; each request's path and body are its
               own and the server echoes both.
  after        Two clients (one binary) started 1.5 s after sonde ("capturing
               with"), --comm them; each makes two requests at once (reported, not required: sonde
               attaches to a new binary when it sees the exec), one 1 s
               later on the same keep-alive connection (required when the
               first ones were seen), one on a new connection (required).
  inflight     A client (started before sonde) makes a request, waits, and
               makes two more on the same connection once sonde is up: the
               Reads pending at attach on both ends (Go keeps one on every
               idle keep-alive connection) must still give whole records.
               Both ends, each on its own, HTTP/1.1 and HTTP/2.
  tls-cmd      `sonde tls` and `sonde tls -o json` list the running servers.
  grpc         gRPC-Go (Debian's golang-google-grpc-dev, built offline): the
               health-check service over TLS, a call answered and one failing.

Every request must appear exactly once, request and response paired in one
record, with the right method, target, status and bodies, version HTTP/1.1 or
HTTP/2, capture.method "ebpf-tls-go", capture.tls naming go, the Go version
and the binary, the right process, and the connection's real addresses (the
client's port as the client saw it): proof that sonde found the socket.

Usage: test_go_tls_live.py [--dry] [--only NAME,...] [--keep] path/to/sonde
  --dry    run every scenario's traffic without sonde (checks the programs)
  --only   run only these scenarios
  --keep   keep the temporary directory (also SONDE_E2E_KEEP=1)
SONDE_GO_CACHE=DIR keeps Go's build cache there instead of in the temporary
directory (the PIE build recompiles the standard library: ~45 s here).
Prints PASS/FAIL/SKIP/INFO lines prefixed "go-tls:"; exits non-zero on any FAIL.
"""
import base64
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import livelib
from livelib import Report, SondeRun, parse_args, free_port, kill_children, kill_sondes, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
GODIR = os.path.join(HERE, "go")
GOCODE = "/usr/share/gocode"  # Debian's Go library sources (golang-*-dev)
SRV, CLI, LATE, GRPC = "sondego_srv", "sondego_cli", "sondego_late", "sondego_grpc"
VARIANTS = [("plain", []), ("strip", ["-ldflags=-s -w"]), ("pie", ["-buildmode=pie"])]
PROTOS = ["h1", "h2"]
VERSION = {"h1": "HTTP/1.1", "h2": "HTTP/2"}
BODY_LIMIT = 65536
UPLOAD, DOWNLOAD = 100000, 70000

SONDE, DRY, KEEP, ONLY = parse_args(sys.argv[1:])
T0 = time.time()
R = Report("go-tls")
check, info, skip = R.check, R.info, R.skip


def wanted(name):
    return ONLY is None or name in ONLY


def pattern(n):
    """The bytes the Go programs send for big bodies: byte i = i % 251."""
    return bytes(i % 251 for i in range(n))


class Child(livelib.Child):
    def finish(self, timeout=60):
        """Wait for the exit: (rc, stdout text, stderr text); rc None on timeout."""
        rc = self.wait(timeout)
        return rc, self.stdout(), self.stderr()


# ---------------------------------------------------------------- sonde runs

def start_sonde(tmp, name, extra):
    """sonde capture in the background, records to a file (a no-op with --dry)."""
    return SondeRun(SONDE, tmp, name, extra, R, dry=DRY)


def other_sondes():
    """Other sonde processes running now, for failure messages: while one has
    a Go program probed, another cannot read the program's return
    instructions (the uprobes' breakpoints show through its mapping)."""
    mine = {s.proc.pid for s in livelib.SONDES if s.proc}
    others = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid() or int(d) in mine:
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"sonde":
            others.append(f"{d}: " + b" ".join(argv).decode(errors="replace")[:160])
    return ("; other sonde processes running now: " + " | ".join(others[:6])) if others else ""


def addr(a):
    a = a or {}
    return f"{a.get('ip')}:{a.get('port')}"


def summary(r):
    """A record in one short line for failure messages."""
    q, a = r.get("request") or {}, r.get("response") or {}
    p = r.get("process") or {}
    c = r.get("conn") or {}
    qb, ab = q.get("body") or {}, a.get("body") or {}
    return (f"[conn {c.get('id')} {addr(c.get('client'))}->{addr(c.get('server'))} "
            f"{r.get('capture', {}).get('method')} {p.get('comm')}/{p.get('pid')} {r.get('version')} "
            f"{q.get('method')} {q.get('target')} req.body={qb.get('size')} -> {a.get('status')} "
            f"body={ab.get('size')}/{ab.get('captured')} flags={r.get('flags')}]")


def body_bytes(b):
    """The kept bytes of a record's body object."""
    b = b or {}
    if "data" not in b:
        return b""
    if b.get("encoding") == "base64":
        try:
            return base64.b64decode(b["data"])
        except ValueError:
            return b"<bad base64>"
    return str(b["data"]).encode()


def target_of(r):
    return str((r.get("request") or {}).get("target"))


class Run:
    """The records of one sonde run, and the checks on them. The records
    looked at: those on one of ports, and any whose target starts with one
    of prefixes (a record without addresses still counts)."""

    def __init__(self, name, sonde, ports=(), prefixes=()):
        self.name, self.sonde, self.ports = name, sonde, set(ports)
        self.dumped = False
        self.rc, self.recs = sonde.stop()
        self.all = [r for r in self.recs if r.get("type") == "exchange"]
        self.ex = [r for r in self.all if (r.get("conn") or {}).get("server", {}).get("port") in self.ports
                   or any(target_of(r).startswith(p) for p in prefixes)]
        st = [r for r in self.recs if r.get("type") == "stats"]
        self.stats = st[-1] if st else None
        self.by_target = {}
        for r in self.ex:
            self.by_target.setdefault(target_of(r), []).append(r)

    def on_port(self, limit=40):
        s = "; ".join(summary(r) for r in self.ex[:limit])
        return (s or "(none)") + (f"; ... ({len(self.ex)} records)" if len(self.ex) > limit else "")

    def dump(self):
        """Once per run, on the first failure: some records whole, sonde's stderr."""
        if self.dumped or DRY:
            return
        self.dumped = True
        info(f"{self.name}: {len(self.ex)} record(s) of this run's traffic (first 8 whole):")
        for r in self.ex[:8]:
            print("INFO go-tls:   " + json.dumps(r)[:2500], flush=True)
        err = self.sonde.stderr().strip().splitlines()
        info(f"{self.name}: sonde stderr (last lines): " + " | ".join(err[-15:]))

    def ck(self, name, cond, why):
        if not check(f"{self.name}: {name}", cond, why):
            self.dump()
        return cond

    def basic(self, binaries=()):
        """Exit status, stats, every record is Go TLS plaintext; sonde said it
        probes each of binaries."""
        if DRY:
            return
        err = self.sonde.stderr()
        for b in binaries:
            self.ck(f"sonde probes {b} (\"TLS: probing\" on stderr)", f"probing {os.path.realpath(b)} (go" in err,
                    "not among: " + " | ".join(ln for ln in err.splitlines() if "probing" in ln)[:1200]
                    + other_sondes())
        self.ck("sonde exits 0 on SIGINT", self.rc == 0, f"{self.rc}: {self.sonde.stderr()[-800:]}")
        self.ck("stats record written", self.stats is not None, "no stats record")
        st = self.stats or {}
        for k in ("ebpf_ringbuf_drops", "ebpf_missed_calls", "parse_errors", "ebpf_bad_events",
                  "ebpf_read_failures"):
            self.ck(f"stats: {k} == 0", st.get(k, 0) == 0, f"{k} = {st.get(k)}")
        # Every Go call's socket is found from the runtime's structures
        # (and, with attach cookies, in every process from its first call).
        for k in ("tls_unbound_bytes", "tls_go_unresolved", "ebpf_untraced_bytes"):
            self.ck(f"stats: {k} == 0", st.get(k, 0) == 0, f"{k} = {st.get(k)}")
        self.ck("stats: gap_bytes <= ebpf_truncated_bytes (holes only where a call moved more than "
                "--capture-limit)", st.get("gap_bytes", 0) <= st.get("ebpf_truncated_bytes", 0),
                f"gap_bytes = {st.get('gap_bytes')}, ebpf_truncated_bytes = {st.get('ebpf_truncated_bytes')}")
        self.ck("stats: ciphertext not counted as undetected (undetected_bytes == 0)",
                st.get("undetected_bytes", 0) == 0, f"undetected_bytes = {st.get('undetected_bytes')}")
        nz = {k: v for k, v in st.items() if isinstance(v, int) and v and k != "schema"}
        info(f"{self.name}: stats (non-zero): {json.dumps(nz)}")
        if st.get("tls_attach_failures"):
            info(f"{self.name}: {st['tls_attach_failures']} TLS attach failure(s) (sonde's lines: "
                 + " | ".join(ln for ln in self.sonde.stderr().splitlines() if "fail" in ln.lower())[:800] + ")")
        bad = [r for r in self.ex if (r.get("capture") or {}).get("method") != "ebpf-tls-go"]
        self.ck("every record of the traffic is ebpf-tls-go (no ciphertext record)", not bad,
                f"{len(bad)} others: " + "; ".join(summary(r) for r in bad[:10]))
        go = [r for r in self.ex if (r.get("capture") or {}).get("method") == "ebpf-tls-go"]
        if go:
            info(f"{self.name}: capture/process/conn of the first record: {json.dumps(go[0].get('capture'))} "
                 f"{json.dumps(go[0].get('process'))} {json.dumps(go[0].get('conn'))}")

    def exactly(self, targets, what="the expected requests"):
        """Exactly these requests among the run's records, nothing else."""
        if DRY:
            return
        got = sorted(target_of(r) for r in self.ex)
        want = sorted(targets)
        if got == want:
            self.ck(f"exactly {what} ({len(want)}), nothing else", True, "")
            return
        missing = sorted(set(want) - set(got))
        extra = [r for r in self.ex if target_of(r) not in set(want)]
        dup = sorted(t for t in set(got) if got.count(t) > 1)
        self.ck(f"exactly {what} ({len(want)}), nothing else", False,
                f"expected {len(want)} records, got {len(got)}; missing {len(missing)}: {missing[:20]}; "
                f"seen more than once {len(dup)}: {dup[:20]}; unexpected {len(extra)}: "
                + "; ".join(summary(r) for r in extra[:20]))

    def one(self, target, label):
        """The single record of target, or None (checked)."""
        got = self.by_target.get(target, [])
        if not self.ck(f"{label}: seen exactly once", len(got) == 1,
                       f"expected 1 record, got {len(got)}: " + "; ".join(summary(r) for r in got)
                       + f"; records of this run: {self.on_port(12)}"):
            if not got:
                return None
        return got[0]


def diff_record(r, want):
    """The differences between record r and the expectation want: a list of
    'field: expected X, got Y' strings, grouped by what they say."""
    groups = {"content": [], "capture": [], "process": [], "conn": []}
    q, a = r.get("request") or {}, r.get("response") or {}

    def d(group, field, exp, got):
        if exp != got:
            groups[group].append(f"{field}: expected {exp!r}, got {got!r}")

    if not r.get("request") or not r.get("response"):
        groups["content"].append(f"not paired: request {bool(r.get('request'))}, "
                                 f"response {bool(r.get('response'))}")
    d("content", "version", want["version"], r.get("version"))
    d("content", "method", want["method"], q.get("method"))
    d("content", "status", want["status"], a.get("status"))
    flags = set(r.get("flags") or [])
    allowed = set()
    for side, msg, body in (("request", q, want["req_body"]), ("response", a, want["resp_body"])):
        b = msg.get("body") or {}
        d("content", f"{side}.body.size", len(body), b.get("size"))
        kept = body_bytes(b)
        if len(body) > BODY_LIMIT:
            # kept only up to the body limit; a single call above
            # --capture-limit (64k) leaves a hole instead: either flag says so
            allowed |= {f"{side}_truncated", f"{side}_gap"}
            if not ({f"{side}_truncated", f"{side}_gap"} & flags):
                groups["content"].append(f"{side}: body of {len(body)} > body limit not flagged truncated/gap")
            if not (0 < len(kept) <= BODY_LIMIT and kept == body[:len(kept)]):
                groups["content"].append(f"{side}.body: expected the first <= {BODY_LIMIT} bytes of the "
                                         f"{len(body)} sent, got {len(kept)} bytes kept"
                                         + ("" if kept == body[:len(kept)] else ", not the bytes sent"))
        else:
            d("content", f"{side}.body.data", body.decode(errors="replace"), kept.decode(errors="replace"))
    want_flags = sorted(want.get("flags", []))
    d("content", "flags", want_flags, sorted(flags - allowed))
    if want["version"] == "HTTP/2":
        sq, sa = q.get("stream_id"), a.get("stream_id")
        if not (isinstance(sq, int) and sq % 2 == 1 and sq == sa):
            groups["content"].append(f"stream_id: expected the same odd id in request and response, got {sq}/{sa}")
    c = r.get("capture") or {}
    d("capture", "capture.method", "ebpf-tls-go", c.get("method"))
    d("capture", "capture.tls", {"library": "go", "version": want["gover"], "path": want["path"]}, c.get("tls"))
    p = r.get("process") or {}
    d("process", "process", f"{want['comm']}/{want['pid']}", f"{p.get('comm')}/{p.get('pid')}")
    conn = r.get("conn") or {}
    d("conn", "conn.server", f"127.0.0.1:{want['port']}", addr(conn.get("server")))
    if want.get("client_port"):
        d("conn", "conn.client", f"127.0.0.1:{want['client_port']}", addr(conn.get("client")))
    else:
        cl = conn.get("client") or {}
        if cl.get("ip") != "127.0.0.1" or not cl.get("port") or cl.get("port") == want["port"]:
            groups["conn"].append(f"conn.client: expected 127.0.0.1:<the client's port>, got {addr(cl)}")
    return groups


GROUP_LABEL = {"content": "paired, method/target/status/version/bodies/flags right",
               "capture": "capture.method ebpf-tls-go, capture.tls go/version/binary",
               "process": "process comm/pid", "conn": "conn addresses and ports (socket resolved)"}


def check_record(run, label, want):
    """One request, field by field: four PASS/FAIL lines."""
    if DRY:
        return None
    r = run.one(want["target"], label)
    if not r:
        return None
    groups = diff_record(r, want)
    for g, errs in groups.items():
        run.ck(f"{label}: {GROUP_LABEL[g]}", not errs, "; ".join(errs) + f" — record: {summary(r)}")
    return r


# ---------------------------------------------------------------- the programs

class Env:
    pass


def go_env(E, gopath=None):
    env = dict(os.environ)
    env.update(HOME=E.gohome, GOCACHE=E.gocache, GOPATH=gopath or E.gopath, GO111MODULE="off", GOFLAGS="",
               GOTOOLCHAIN="local", GOPROXY="off")
    return env


def go_build(E, out, src, flags, what, gopath=None):
    os.makedirs(os.path.dirname(out), exist_ok=True)
    t0 = time.time()
    p = subprocess.run([E.go, "build", "-o", out] + flags + [src], env=go_env(E, gopath), cwd=E.tmp,
                       capture_output=True, text=True, timeout=900)
    E.timings.append((f"build {what}", time.time() - t0))
    ok = check(f"build: {what} ({' '.join(flags) or 'default flags'}, {time.time() - t0:.1f} s)",
               p.returncode == 0 and os.path.exists(out), p.stderr[-1500:])
    return ok, p


def elf_info(path):
    """(e_type, section names) of an ELF64 little-endian file."""
    with open(path, "rb") as f:
        data = f.read()
    e_type = struct.unpack_from("<H", data, 16)[0]
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    names = []
    if shoff and shnum:
        stroff = struct.unpack_from("<Q", data, shoff + shstrndx * shentsize + 0x18)[0]
        for k in range(shnum):
            nm = struct.unpack_from("<I", data, shoff + k * shentsize)[0]
            end = data.index(b"\0", stroff + nm)
            names.append(data[stroff + nm:end].decode(errors="replace"))
    return e_type, names


def build(E):
    """The HTTPS server and client three ways; gRPC when its sources are here."""
    E.bins = {}
    need = ["plain"] + (["strip", "pie"] if wanted("sides") or wanted("tls-cmd") else [])
    for variant, flags in VARIANTS:
        if variant not in need:
            continue
        b = {}
        for role, src, name in (("srv", "server", SRV), ("cli", "client", CLI)):
            out = os.path.join(E.tmp, "bin", variant, name)
            ok, _ = go_build(E, out, os.path.join(GODIR, src, "main.go"), flags, f"{variant} {src}")
            if not ok:
                return False
            b[role] = out
        E.bins[variant] = b
        et, secs = elf_info(b["srv"])
        if variant == "strip":
            check("build: the stripped server has no symbol table and no DWARF (a .gopclntab still)",
                  ".symtab" not in secs and not any(s.startswith((".debug", ".zdebug")) for s in secs)
                  and ".gopclntab" in secs, secs)
        elif variant == "pie":
            check("build: the PIE server is ET_DYN", et == 3, f"e_type {et}")
        else:
            check("build: the plain server is ET_EXEC with .symtab and .debug_info",
                  et == 2 and ".symtab" in secs and ".debug_info" in secs, (et, secs))
    late = os.path.join(E.tmp, "bin", "late", LATE)
    os.makedirs(os.path.dirname(late))
    shutil.copy2(E.bins["plain"]["cli"], late)  # its own file: not running, not attached, when sonde starts
    E.late = late
    return True


def build_grpc(E):
    E.grpc = None
    E.grpc_why = None
    if not os.path.isdir(os.path.join(GOCODE, "src", "google.golang.org", "grpc", "health", "grpc_health_v1")):
        E.grpc_why = (f"gRPC-Go sources not in {GOCODE} (Debian: apt-get install golang-google-grpc-dev; "
                      "nothing is fetched from the network)")
        return
    out = os.path.join(E.tmp, "bin", "grpc", GRPC)
    ok, p = go_build(E, out, os.path.join(GODIR, "grpc", "main.go"), [], "gRPC-Go health server/client",
                     gopath=GOCODE)
    if ok:
        E.grpc = out
    else:
        E.grpc_why = "gRPC-Go did not build offline: " + p.stderr.strip().splitlines()[-1][:300] \
            if p.stderr.strip() else "gRPC-Go did not build"


def start_server(E, binary, name):
    port = free_port()
    srv = Child([binary, str(port), E.cert, E.key], name=name)
    E.servers.append(srv)
    ok = check(f"{name} server listening (pid {srv.pid}, port {port})", srv.wait_for("listening") and wait_port(port),
               srv.err.decode(errors="replace")[-500:])
    return (srv, port) if ok else (None, None)


# ---------------------------------------------------------------- requests

def requests_for(tag):
    """The requests one client makes, with the answers the server gives:
    [{spec (the client's argument), method, target, req_body, status, resp_body}]."""
    t = tag
    created = f"name={tag.strip('/').replace('/', '-')}".encode()
    echo = f"payload {tag}".encode()
    up = pattern(UPLOAD)
    return [
        dict(spec=f"{t}/index?q=1", method="GET", target=f"{t}/index?q=1", req_body=b"", status=200,
             resp_body=f"hello {t}/index?q=1\n".encode()),
        dict(spec=f"POST:{t}/created:{created.decode()}", method="POST", target=f"{t}/created", req_body=created,
             status=201, resp_body=f"created {t}/created {len(created)} {created.decode()}\n".encode()),
        dict(spec=f"{t}/missing", method="GET", target=f"{t}/missing", req_body=b"", status=404,
             resp_body=f"not found {t}/missing\n".encode()),
        dict(spec=f"POST:{t}/upload:@{UPLOAD}", method="POST", target=f"{t}/upload", req_body=up, status=200,
             resp_body=f"uploaded {t}/upload {UPLOAD} {sum(up)}\n".encode()),
        dict(spec=f"{t}/big?size={DOWNLOAD}", method="GET", target=f"{t}/big?size={DOWNLOAD}", req_body=b"",
             status=200, resp_body=pattern(DOWNLOAD)),
        dict(spec=f"POST:{t}/echo:{echo.decode()}", method="POST", target=f"{t}/echo", req_body=echo, status=200,
             resp_body=f"echo {t}/echo {echo.decode()}\n".encode()),
    ]


MS_OF = {}
LINE = re.compile(r'^(\d+) (\d+) (".*") (\S+) (\S+) (\d+)$')


def client_results(c, reqs, proto, what):
    """Check the client's answers ('STATUS SIZE BODY PROTO LOCALPORT MS'
    lines) against reqs; returns the local ports, one per request (None if
    unknown). E.ms_of[target]: when the client made it (ms after its start)."""
    rc, out, err = c.finish()
    lines = [ln for ln in out.splitlines() if LINE.match(ln)]
    ok = rc == 0 and len(lines) == len(reqs)
    bad = []
    ports = []
    want_proto = "HTTP/1.1" if proto == "h1" else "HTTP/2.0"
    for k, rq in enumerate(reqs):
        if k >= len(lines):
            ports.append(None)
            continue
        m = LINE.match(lines[k])
        st, size, body, pr, port = int(m[1]), int(m[2]), m[3], m[4], m[5]
        ports.append(int(port) if port.isdigit() else None)
        MS_OF[rq["target"]] = int(m[6])
        if len(rq["resp_body"]) <= 200:
            try:
                body_ok = json.loads(body).encode("latin-1") == rq["resp_body"]
            except (ValueError, UnicodeEncodeError):
                body_ok = False
        else:
            body_ok = True
        if st != rq["status"] or size != len(rq["resp_body"]) or not body_ok or pr != want_proto:
            bad.append(f"{rq['method']} {rq['target']}: got {lines[k][:160]!r}, expected {rq['status']} "
                       f"{len(rq['resp_body'])} {want_proto}")
    check(f"{what}: every answer right ({len(reqs)} requests, {want_proto})", ok and not bad,
          f"rc {rc}, {len(lines)} answers; {bad[:4]}; stderr {err[-400:]!r}")
    return ports


# ---------------------------------------------------------------- scenarios

def scen_sides(E):
    """1 and 2: each end on its own, h1 and h2, plain/stripped/PIE binaries.
    Server side: --comm the servers (started before sonde); client side:
    --comm the clients (started before sonde with -wait)."""
    for side in ("server", "client"):
        name = f"sides-{side}"
        t0 = time.time()
        plan = []  # (variant, proto, reqs, child)
        for variant, _ in VARIANTS:
            if variant not in E.bins or variant not in E.srv:
                continue
            for proto in PROTOS:
                tag = f"/{variant}/{side}/{proto}"
                reqs = requests_for(tag)
                argv = [E.bins[variant]["cli"]] + (["-h1"] if proto == "h1" else []) + \
                    (["-wait"] if side == "client" else []) + [str(E.port[variant])] + [r["spec"] for r in reqs]
                plan.append([variant, proto, reqs, argv, None])
        if side == "client":
            for p in plan:
                p[4] = Child(p[3], name=CLI)
                check(f"{name}: {p[0]} {p[1]} client ready (pid {p[4].pid})", p[4].wait_for("ready"), p[4].err)
        s = start_sonde(E.tmp, name, ["--comm", SRV if side == "server" else CLI])
        ports = {}
        for p in plan:
            variant, proto, reqs = p[0], p[1], p[2]
            if side == "server":
                p[4] = Child(p[3], name=CLI)
            else:
                p[4].send("go\n")
            ports[(variant, proto)] = client_results(p[4], reqs, proto, f"{name}: {variant} {proto} client")
        run = Run(name, s, ports=[E.port[v] for v in E.srv], prefixes=[f"/{v}/{side}/" for v, _ in VARIANTS])
        run.basic([E.bins[v]["srv" if side == "server" else "cli"] for v in E.srv])
        every = []
        for variant, proto, reqs, _, child in plan:
            who = E.srv[variant] if side == "server" else child
            conn_ids, streams = [], []
            for rq, lp in zip(reqs, ports[(variant, proto)]):
                want = dict(rq, version=VERSION[proto], gover=E.gover, port=E.port[variant], client_port=lp,
                            path=os.path.realpath(E.bins[variant]["srv" if side == "server" else "cli"]),
                            comm=SRV if side == "server" else CLI, pid=who.pid)
                r = check_record(run, f"{variant} {proto} {rq['method']} {rq['target']}", want)
                every.append(rq["target"])
                if r:
                    conn_ids.append((r.get("conn") or {}).get("id"))
                    streams.append((r.get("request") or {}).get("stream_id"))
            if not DRY and conn_ids:
                run.ck(f"{variant} {proto}: keep-alive, the {len(reqs)} requests on one connection",
                       len(conn_ids) == len(reqs) and len(set(conn_ids)) == 1, f"connection ids {conn_ids}")
                if proto == "h2":
                    run.ck(f"{variant} h2: one stream each (distinct stream ids)",
                           len(set(streams)) == len(streams), f"stream ids {streams}")
            if not DRY:
                wrong = [r for r in run.ex if r.get("version") != VERSION[proto]
                         and target_of(r).startswith(f"/{variant}/{side}/{proto}/")]
                if wrong:
                    run.ck(f"{variant} {proto}: every record says version {VERSION[proto]}", False,
                           "; ".join(summary(r) for r in wrong[:6]))
        run.exactly(every)
        if not DRY:
            by_variant = {}
            for r in run.ex:
                if target_of(r).count("/") < 2:
                    continue
                v = target_of(r).split("/")[1]
                c = r.get("conn") or {}
                by_variant.setdefault(v, set()).add(f"{addr(c.get('client'))}->{addr(c.get('server'))}")
            info(f"{name}: connections by variant: " + "; ".join(f"{v}: {sorted(a)}" for v, a in by_variant.items()))
        E.timings.append((name, time.time() - t0))


def scen_concurrency(E):
    """3: one server, two clients at once (HTTP/1.1: 300 goroutines x 5 over
    50 connections; HTTP/2: 200 x 5 over one connection), twice: --pid the
    server (clients started after sonde), then --comm the clients (both
    processes, started before sonde, going once it is up)."""
    srv, P = start_server(E, E.bins["plain"]["srv"], f"concurrency {SRV}")
    if not srv:
        return
    for side in ("server", "clients"):
        t0 = time.time()
        one_concurrency(E, side, srv, P)
        E.timings.append((f"concurrency-{side}", time.time() - t0))


def go_client(E, prefix, h1, g, n, conns, port, wait=False):
    return [E.bins["plain"]["cli"]] + (["-h1"] if h1 else []) + (["-wait"] if wait else []) + \
        ["-g", str(g), "-n", str(n), "-prefix", prefix, "-conns", str(conns), str(port)]


def one_concurrency(E, side, srv, P):
    name = f"concurrency-{side}"
    cfg = [(f"/{side}/ca", True, 300, 5, 50), (f"/{side}/cb", False, 200, 5, 1)]
    # the clients start before sonde when they are the ones captured (a
    # program started after sonde is the "after" scenario's business)
    cl = []
    if side == "clients":
        cl = [Child(go_client(E, prefix, h1, g, n, conns, P, wait=True), name=CLI)
              for prefix, h1, g, n, conns in cfg]
        for c in cl:
            check(f"{name}: client ready (pid {c.pid})", c.wait_for("ready"), c.err)
    s = start_sonde(E.tmp, name, ["--pid", str(srv.pid)] if side == "server" else ["--comm", CLI])
    t1 = time.time()
    if side == "clients":
        for c in cl:
            c.send("go\n")
    else:
        cl = [Child(go_client(E, prefix, h1, g, n, conns, P), name=CLI) for prefix, h1, g, n, conns in cfg]
    pids = {}
    for (prefix, h1, g, n, conns), c in zip(cfg, cl):
        rc, out, err = c.finish(timeout=120)
        check(f"{name}: {prefix} client ({'HTTP/1.1' if h1 else 'HTTP/2'}, {g} goroutines x {n}, "
              f"{conns} connection(s)) exits 0, every answer its own echo",
              rc == 0 and f"ok {g * n}" in out, f"rc {rc}, out {out[-600:]!r}, err {err[-400:]!r}")
        pids[prefix] = c.pid
    info(f"{name}: traffic took {time.time() - t1:.1f} s")
    check(f"{name}: server (pid {srv.pid}) still running", srv.alive(),
          f"exit {srv.proc.poll()}: {srv.err.decode(errors='replace')[-300:]}")
    run = Run(name, s, ports=[P], prefixes=[p for p, *_ in cfg])
    run.basic([E.bins["plain"]["srv" if side == "server" else "cli"]])
    if DRY:
        return
    want = {}
    for prefix, h1, g, n, _ in cfg:
        for a in range(g):
            for b in range(n):
                want[f"{prefix}/g{a}/r{b}"] = (prefix, h1, f"body {prefix} g{a} r{b}")
    seen = {}
    for r in run.ex:
        seen.setdefault(target_of(r), []).append(r)
    missing = [t for t in want if t not in seen]
    dups = [t for t, rs in seen.items() if len(rs) > 1]
    # A Read already in flight when sonde attached is taken at its return:
    # no response may come out without its request.
    orphans = [r for r in seen.get(None, []) if not r.get("request") and "unsolicited" in (r.get("flags") or [])]
    extra = [t for t in seen if t not in want]
    run.ck("no unsolicited response", not orphans,
           f"{len(orphans)} responses without their request: " + "; ".join(summary(r) for r in orphans[:3]))
    st = run.stats or {}
    drops = st.get("ebpf_ringbuf_drops", 0)
    info(f"{name}: {len(want)} requests made, {len(run.ex)} records; missing {len(missing)}, "
         f"duplicated {len(dups)}, unexpected {len(extra)}; ringbuf drops {drops} events / "
         f"{st.get('ebpf_ringbuf_drop_bytes', 0)} bytes, missed calls {st.get('ebpf_missed_calls', 0)}, "
         f"gap_bytes {st.get('gap_bytes', 0)}")
    run.ck("every request recorded exactly once", not missing and not dups and not extra,
           f"missing {len(missing)} {missing[:15]}; duplicated {len(dups)} {dups[:10]}; unexpected {len(extra)} "
           + "; ".join(summary(seen[t][0]) for t in extra[:10])
           + (f"; ring buffer drops {drops} events" if drops else ""))
    if drops:
        flagged = [r for r in run.ex if any(f.endswith("_gap") for f in r.get("flags", []))]
        run.ck("ring-buffer drops account for what is missing (every lost record needs a lost event)",
               len(missing) <= drops, f"{len(missing)} missing, {len(flagged)} flagged gap, {drops} drops")
    # each record: its own request and response, right process and addresses
    errs = {"pairing": [], "process": [], "conn": [], "capture": []}
    conns = {p: set() for p, *_ in cfg}
    ports = {p: set() for p, *_ in cfg}
    for t, rs in seen.items():
        if t not in want:
            continue
        prefix, h1, body = want[t]
        r = rs[0]
        q, a = r.get("request") or {}, r.get("response") or {}
        qd = body_bytes(q.get("body")).decode(errors="replace")
        ad = body_bytes(a.get("body")).decode(errors="replace")
        ver = "HTTP/1.1" if h1 else "HTTP/2"
        if (q.get("method") != "POST" or a.get("status") != 200 or qd != body or ad != f"echo {t} {body}\n"
                or r.get("flags") or r.get("version") != ver):
            errs["pairing"].append(f"{t}: expected POST {body!r} -> 200 {f'echo {t} {body}'!r} {ver}, got "
                                   f"{q.get('method')} {qd!r} -> {a.get('status')} {ad!r} {r.get('version')} "
                                   f"flags {r.get('flags')}")
        p = r.get("process") or {}
        wp, wc = (srv.pid, SRV) if side == "server" else (pids[prefix], CLI)
        if p.get("pid") != wp or p.get("comm") != wc:
            errs["process"].append(f"{t}: expected {wc}/{wp}, got {p.get('comm')}/{p.get('pid')}")
        c = r.get("conn") or {}
        cl_, sv = c.get("client") or {}, c.get("server") or {}
        if addr(sv) != f"127.0.0.1:{P}" or cl_.get("ip") != "127.0.0.1" or not cl_.get("port") \
                or cl_.get("port") == P:
            errs["conn"].append(f"{t}: expected 127.0.0.1:<port> -> 127.0.0.1:{P}, got {addr(cl_)} -> {addr(sv)}")
        conns[prefix].add(c.get("id"))
        ports[prefix].add(cl_.get("port"))
        cap = r.get("capture") or {}
        tl = cap.get("tls") or {}
        if cap.get("method") != "ebpf-tls-go" or tl.get("library") != "go" or tl.get("version") != E.gover:
            errs["capture"].append(f"{t}: {cap}")
    who = f"the server ({SRV}/{srv.pid})" if side == "server" else "the client that made it"
    for k, label in (("pairing", "each response paired with its own request (body echoes path and body), "
                      "no flags, right version"),
                     ("process", f"each record from {who} (no cross-talk between processes)"),
                     ("conn", "real addresses and ports on every record"),
                     ("capture", "capture ebpf-tls-go, go version on every record")):
        run.ck(f"{label}", not errs[k], f"{len(errs[k])} records wrong: " + " | ".join(errs[k][:8]))
    h1p, h2p = cfg[0][0], cfg[1][0]
    info(f"{name}: connections seen: HTTP/1.1 {len(conns[h1p])} ids, {len(ports[h1p])} client ports (at most 50 open at once); "
         f"HTTP/2 {len(conns[h2p])} ids, {len(ports[h2p])} ports")
    # The client keeps at most 50 open at once (a closed one may be
    # replaced); what must hold is one record connection per TCP one.
    run.ck("HTTP/1.1 requests over many connections, one record connection per TCP connection (client port)",
           1 < len(conns[h1p]) == len(ports[h1p]), f"{len(conns[h1p])} connection ids for {len(ports[h1p])} client ports")
    # Go's HTTP/2 transport may dial a second connection while the first is
    # being set up; what must hold is one record connection per TCP one.
    run.ck("HTTP/2 requests: one record connection per TCP connection (client port)",
           len(conns[h2p]) == len(ports[h2p]) and len(ports[h2p]) <= 2,
           f"{len(conns[h2p])} connection ids for client ports {sorted(ports[h2p])}")


def scen_after(E):
    """4: two clients (one new binary) started together 1.5 s after sonde is
    up, --comm them: each makes two requests at once, one 1 s later on the
    same keep-alive connection, one more on a new connection."""
    t0 = time.time()
    srv, P = E.srv.get("plain"), E.port.get("plain")
    if not srv:
        return
    s = start_sonde(E.tmp, "after", ["--comm", LATE])
    time.sleep(max(0.0, s.started + 1.5 - time.time()) if s.started else 1.5)
    plan = []
    for who in ("a", "b"):
        now = requests_for(f"/after/{who}/now")[:2]
        later = requests_for(f"/after/{who}/later")[5]
        fresh = requests_for(f"/after/{who}/newconn")[0]
        argv = [E.late, "-h1", str(P), now[0]["spec"], now[1]["spec"], "SLEEP:1000", later["spec"], "NEWCONN",
                fresh["spec"]]
        plan.append((who, now, later, fresh, Child(argv, name=LATE)))
    started = time.time()
    ports = {who: client_results(c, now + [later, fresh], "h1", f"after: late client {who} (pid {c.pid})")
             for who, now, later, fresh, c in plan}
    run = Run("after", s, ports=[P], prefixes=["/after/"])
    run.basic([E.late])
    E.timings.append(("after", time.time() - t0))
    if DRY:
        return
    info(f"after: clients started {started - s.started:.2f} s after \"capturing with\"")
    for who, now, later, fresh, c in plan:
        pt = ports[who]
        if not check(f"after: client {who}: its first and its later connections differ (NEWCONN)",
                     pt[0] and pt[3] and pt[0] == pt[2] != pt[3], f"client ports {pt}"):
            continue

        def want(rq, lp):
            return dict(rq, version="HTTP/1.1", gover=E.gover, port=P, client_port=lp,
                        path=os.path.realpath(E.late), comm=LATE, pid=c.pid)
        # Made as soon as the process runs: sonde attaches to a new Go binary
        # when it sees the exec; a request made before that is not required.
        seen_now = [rq for rq in now if run.by_target.get(rq["target"])]
        for rq, lp in zip(now, pt):
            if rq in seen_now:
                check_record(run, f"{rq['method']} {rq['target']} (made at once when the client started)",
                             want(rq, lp))
            else:
                info(f"after: {rq['method']} {rq['target']}, made {MS_OF.get(rq['target'])} ms after the client's "
                     "main() began, not captured (before sonde attached to the new binary; not required)")
        label = f"{later['method']} {later['target']} (1 s later, same connection)"
        if seen_now:
            check_record(run, label, want(later, pt[2]))
        else:
            # Go's client keeps a tls.Conn.Read pending on an idle keep-alive
            # connection: begun before the attach, its return is not followed
            r = run.by_target.get(later["target"], [])
            groups = diff_record(r[0], want(later, pt[2])) if len(r) == 1 else {"seen": [f"{len(r)} records"]}
            errs = [e for g in groups.values() for e in g]
            info(f"after: {label}: " + ("captured whole" if not errs else
                 "; ".join(errs) + " — the client's Read on this connection began before sonde attached "
                 "(Go keeps one pending on idle keep-alive connections): its response is not seen"))
        check_record(run, f"{fresh['method']} {fresh['target']} (1 s later, new connection)", want(fresh, pt[3]))
    known = {q["target"] for _, now, later, fresh, _ in plan for q in now + [later, fresh]}
    # A response whose request was written before sonde knew the new
    # process (its first milliseconds, before discovery) comes out
    # "unsolicited": allowed, as the INFO lines above say.
    unexpected = [r for r in run.ex if target_of(r) not in known
                  and not (not r.get("request") and "unsolicited" in (r.get("flags") or []))]
    run.ck("no record other than the late clients' requests", not unexpected,
           "; ".join(summary(r) for r in unexpected[:10]))


def scen_tlscmd(E):
    """4: `sonde tls` while the servers (started before it) run."""
    if DRY:
        return
    # one after the other: while one sonde has uprobes in a Go program, the
    # other (reading the program's code through a mapping the kernel puts
    # the breakpoints into) finds no return instruction in it
    t0 = time.time()
    p = subprocess.run([SONDE, "tls", "-o", "json"], capture_output=True, text=True, timeout=180)
    t = subprocess.run([SONDE, "tls"], capture_output=True, text=True, timeout=180)
    others = other_sondes()
    check("sonde tls -o json: exits 0", p.returncode == 0, f"{p.returncode}: {p.stderr[-500:]}")
    objs, bad = [], []
    for ln in p.stdout.splitlines():
        if ln.strip():
            try:
                objs.append(json.loads(ln))
            except ValueError:
                bad.append(ln)
    check("sonde tls -o json: JSON Lines", objs and not bad, f"{len(objs)} objects, bad lines {bad[:3]}")
    check("sonde tls: exits 0", t.returncode == 0, f"{t.returncode}: {t.stderr[-500:]}")
    for variant, srv in E.srv.items():
        if not srv.alive():
            continue
        path = os.path.realpath(E.bins[variant]["srv"])
        mine = [o for o in objs if o.get("pid") == srv.pid]
        want = {"pid": srv.pid, "comm": SRV, "library": "go", "version": E.gover, "status": "capturing",
                "path": path}
        got = {k: mine[0].get(k) for k in want} if len(mine) == 1 else None
        probed = [ln for ln in p.stderr.splitlines() if "(go" in ln]
        check(f"sonde tls -o json: the {variant} Go server (pid {srv.pid}) listed once: go, {E.gover}, capturing",
              got == want, f"expected {want}, got {mine}; every go row: "
              + json.dumps([o for o in objs if o.get("library") == "go"])[:1500]
              + "; Go programs this `sonde tls -o json` said it probed: " + " | ".join(probed)[:1000] + others)
        rows = [ln.split() for ln in t.stdout.splitlines() if ln.split()[:1] == [str(srv.pid)]]
        wrow = [str(srv.pid), SRV, "go", E.gover, "capturing", path]
        check(f"sonde tls (text): the {variant} Go server's row: {' '.join(wrow[1:5])}", rows == [wrow],
              f"expected {wrow}, got {rows}; every go row: "
              + " | ".join(ln for ln in t.stdout.splitlines() if " go " in ln)[:1200]
              + "; Go programs this `sonde tls` said it probed: "
              + " | ".join(ln for ln in t.stderr.splitlines() if "(go" in ln)[:1000] + others)
    info("sonde tls (text), Go rows: " + " | ".join(ln for ln in t.stdout.splitlines() if " go " in ln)[:1500])
    E.timings.append(("tls-cmd", time.time() - t0))


def scen_grpc(E):
    """5: gRPC-Go over TLS: Check("alpha") answered SERVING, Check("unknown-beta")
    failing NOT_FOUND; --port, either end."""
    if not E.grpc:
        skip(f"grpc: {E.grpc_why}")
        return
    t0 = time.time()
    P = free_port()
    srv = Child([E.grpc, "server", str(P), E.cert, E.key], name=GRPC)
    E.servers.append(srv)
    if not check(f"grpc: server listening (pid {srv.pid}, port {P})", srv.wait_for("listening") and wait_port(P),
                 srv.err.decode(errors="replace")[-500:]):
        return
    cl = Child([E.grpc, "client", "-wait", str(P), "alpha", "unknown-beta"], name=GRPC)
    if not check("grpc: client ready", cl.wait_for("ready"), cl.err):
        return
    s = start_sonde(E.tmp, "grpc", ["--port", str(P)])
    cl.send("go\n")
    rc, out, err = cl.finish()
    check("grpc: calls answered (OK SERVING, then NOT_FOUND)",
          rc == 0 and out.splitlines() == ["ready", "OK SERVING", "ERR 5 unknown service unknown-beta"],
          f"rc {rc}, out {out!r}, err {err[-400:]!r}")
    run = Run("grpc", s, ports=[P])
    run.basic([E.grpc])
    if DRY:
        return
    path = "/grpc.health.v1.Health/Check"
    recs = {}
    for r in run.ex:
        msgs = ((r.get("request") or {}).get("grpc") or {}).get("messages") or [{}]
        recs.setdefault(str((msgs[0].get("decoded") or {}).get("1")), []).append(r)
    run.ck("exactly two records, one per call (told apart by the request message)",
           len(run.ex) == 2 and sorted(recs) == ["alpha", "unknown-beta"] and all(len(v) == 1 for v in recs.values()),
           f"records: {run.on_port()}; by request message field 1: { {k: len(v) for k, v in recs.items()} }")
    for name, status, message, resp_msgs in (("alpha", 0, None, [{"1": 1}]),
                                             ("unknown-beta", 5, "unknown service unknown-beta", [])):
        rs = recs.get(name)
        if not rs:
            run.ck(f"Check({name}): recorded", False, f"records: {run.on_port()}")
            continue
        r = rs[0]
        q, a = r.get("request") or {}, r.get("response") or {}
        qg, ag = q.get("grpc") or {}, a.get("grpc") or {}
        e = []

        def d(field, exp, got):
            if exp != got:
                e.append(f"{field}: expected {exp!r}, got {got!r}")
        d("version", "HTTP/2", r.get("version"))
        d("method/target", f"POST {path}", f"{q.get('method')} {q.get('target')}")
        d("status", 200, a.get("status"))
        d("request.grpc service/method", ["grpc.health.v1.Health", "Check"], [qg.get("service"), qg.get("method")])
        d("request.grpc.message_count", 1, qg.get("message_count"))
        d("request message decoded", [{"1": name}], [m.get("decoded") for m in qg.get("messages") or []])
        d("response.grpc.status", status, ag.get("status"))
        # grpc-go sends grpc-message even when empty
        d("response.grpc.message", message or "", ag.get("message"))
        d("response messages decoded", resp_msgs, [m.get("decoded") for m in ag.get("messages") or []])
        d("flags", [], r.get("flags"))
        run.ck(f"Check({name}): a gRPC record: service, method, message, grpc-status {status}", not e,
               "; ".join(e) + f" — record: {json.dumps(r)[:1500]}")
        c = r.get("capture") or {}
        run.ck(f"Check({name}): capture ebpf-tls-go, {E.gover}, the gRPC binary",
               c.get("method") == "ebpf-tls-go" and c.get("tls") == {"library": "go", "version": E.gover,
                                                                      "path": os.path.realpath(E.grpc)},
               f"got {c}")
        p = r.get("process") or {}
        run.ck(f"Check({name}): process {GRPC}/{srv.pid} or /{cl.pid}",
               p.get("pid") in (srv.pid, cl.pid) and p.get("comm") == GRPC, f"got {p}")
        conn = r.get("conn") or {}
        cc = conn.get("client") or {}
        run.ck(f"Check({name}): conn addresses 127.0.0.1:<port> -> 127.0.0.1:{P}",
               addr(conn.get("server")) == f"127.0.0.1:{P}" and cc.get("ip") == "127.0.0.1"
               and cc.get("port") not in (None, 0, P), f"got {addr(cc)} -> {addr(conn.get('server'))}")
    E.timings.append(("grpc", time.time() - t0))


def scen_inflight(E):
    """5: keep-alive connections whose next Read was already waiting when
    sonde attached (Go keeps one pending on every idle connection, server and
    client): a client (started before sonde) makes one request, waits, and
    once sonde is up makes two more on the same connection. Both ends, each
    on its own, HTTP/1.1 and HTTP/2. The two later requests must be captured
    whole: the pending Reads are taken at their return from the arguments
    Read keeps on its stack."""
    srv, P = E.srv.get("plain"), E.port.get("plain")
    if not srv:
        return
    for side in ("server", "client"):
        t0 = time.time()
        name = f"inflight-{side}"
        plan = []
        for proto in PROTOS:
            reqs = requests_for(f"/inflight/{side}/{proto}")
            warm, later = reqs[0], [reqs[1], reqs[5]]
            argv = [E.bins["plain"]["cli"]] + (["-h1"] if proto == "h1" else []) + \
                [str(P), warm["spec"], "WAIT"] + [r["spec"] for r in later]
            c = Child(argv, name=CLI)
            check(f"{name}: {proto} client made its first request and waits (pid {c.pid})",
                  c.wait_for("waiting"), c.err)
            plan.append((proto, warm, later, c))
        s = start_sonde(E.tmp, name, ["--comm", SRV if side == "server" else CLI])
        for *_, c in plan:
            c.send("go\n")
        ports = {proto: client_results(c, [warm] + later, proto, f"{name}: {proto} client (pid {c.pid})")
                 for proto, warm, later, c in plan}
        run = Run(name, s, ports=[P], prefixes=["/inflight/"])
        run.basic([E.bins["plain"]["srv" if side == "server" else "cli"]])
        E.timings.append((name, time.time() - t0))
        if DRY:
            continue
        every = []
        for proto, warm, later, c in plan:
            pt = ports[proto]
            for rq, lp in zip(later, pt[1:]):
                want = dict(rq, version=VERSION[proto], gover=E.gover, port=P, client_port=lp,
                            path=os.path.realpath(E.bins["plain"]["srv" if side == "server" else "cli"]),
                            comm=SRV if side == "server" else CLI, pid=srv.pid if side == "server" else c.pid,
                            flags=["midstream"])  # the connection began before sonde: said so
                check_record(run, f"{proto} {rq['method']} {rq['target']} (the connection's Read pending at attach)",
                             want)
                every.append(rq["target"])
            check(f"{name}: {proto}: the three requests went on one connection", len(set(pt)) == 1 and pt[0],
                  f"client ports {pt}")
        run.exactly(every, "the requests made after sonde started")


SCENARIOS = [
    ("sides", scen_sides),
    ("concurrency", scen_concurrency),
    ("after", scen_after),
    ("inflight", scen_inflight),
    ("tls-cmd", scen_tlscmd),
    ("grpc", scen_grpc),
]


def main():
    if os.geteuid() != 0 and not DRY:
        skip("needs root")
        return
    E = Env()
    E.go = shutil.which("go")
    if not E.go:
        skip("no go command (Debian: apt-get install golang-go; run scripts/setup)")
        return
    if not shutil.which("openssl"):
        skip("openssl not installed")
        return
    if not DRY:
        h = subprocess.run([SONDE, "capture", "--help"], capture_output=True, text=True)
        if "--no-tls" not in h.stdout + h.stderr:
            skip("this sonde has no TLS capture (no --no-tls in `sonde capture --help`)")
            return
    E.tmp = tempfile.mkdtemp(prefix="sonde-go-tls.")
    os.chmod(E.tmp, 0o755)
    E.servers, E.timings, E.srv, E.port = [], [], {}, {}
    try:
        E.gohome = os.path.join(E.tmp, "home")
        E.gopath = os.path.join(E.tmp, "gopath")
        E.gocache = os.environ.get("SONDE_GO_CACHE") or os.path.join(E.tmp, "gocache")
        for d in (E.gohome, E.gopath):
            os.makedirs(d)
        v = subprocess.run([E.go, "env", "GOVERSION"], capture_output=True, text=True, env=go_env(E))
        E.gover = v.stdout.strip()
        if not check("go env GOVERSION", v.returncode == 0 and E.gover.startswith("go"), v.stderr[-300:]):
            return
        info(f"{E.go}: {E.gover}; sonde {'(dry run)' if DRY else SONDE}; temporary directory {E.tmp}")
        E.cert, E.key = os.path.join(E.tmp, "cert.pem"), os.path.join(E.tmp, "key.pem")
        p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-subj", "/CN=localhost", "-days", "1", "-keyout", E.key, "-out", E.cert],
                           capture_output=True, text=True)
        if not check("self-signed EC certificate made", p.returncode == 0, p.stderr[-500:]):
            return
        if not build(E):
            return
        if wanted("grpc"):
            build_grpc(E)
        # the servers start before any sonde: "a Go binary started before sonde"
        for variant in E.bins:
            srv, port = start_server(E, E.bins[variant]["srv"], f"{variant} {SRV}")
            if srv:
                E.srv[variant], E.port[variant] = srv, port
        if "plain" not in E.srv:
            return
        for name, fn in SCENARIOS:
            if not wanted(name):
                continue
            try:
                fn(E)
            except Exception as e:  # one scenario's bug must not hide the others
                import traceback
                check(f"{name}: scenario ran without error", False, "".join(
                    traceback.format_exception(type(e), e, e.__traceback__))[-1500:])
            finally:
                kill_sondes()
        # the traced programs never crashed
        for srv in E.servers:
            check(f"{srv.name} (pid {srv.pid}) still running (no crash)", srv.alive(),
                  f"exit {srv.proc.poll()}: {srv.err.decode(errors='replace')[-300:]}")
        for srv in E.servers:
            srv.send("", close=True)  # stdin closed: a clean exit
            try:
                rc = srv.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                rc = "still running 10 s after its stdin closed"
            check(f"{srv.name} (pid {srv.pid}) exits 0", rc == 0,
                  f"exit {rc}: {srv.err.decode(errors='replace')[-300:]}")
    finally:
        kill_sondes()
        kill_children()
        info("timings: " + ", ".join(f"{n} {t:.1f} s" for n, t in E.timings) + f"; total {time.time() - T0:.1f} s")
        if KEEP:
            print("kept " + E.tmp, file=sys.stderr)
        else:
            shutil.rmtree(E.tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
    sys.exit(1 if R.failed else 0)
