#!/usr/bin/env python3
"""Live capture of Go's crypto/tls under the stack ABI (Go < 1.17: arguments
and results on the goroutine stack, the goroutine in the thread's TLS slot
fs:-8), with a real old toolchain: Debian 11's go1.15 (golang-1.15-go and
golang-1.15-src, fetched once from the Debian archive with private apt lists
— as tests/kernels/run does, the system's apt state stays untouched — and
unpacked into ~/.cache/sonde-go115; GOROOT is then
~/.cache/sonde-go115/usr/lib/go-1.15).

A net/http HTTPS server and client (written below, standard library only,
GO111MODULE=off) are built with go1.15 twice: default, and stripped
(-ldflags="-s -w": no symbol table, no DWARF; sonde finds crypto/tls in the
pcln table). For each build, separately:

  server side  sonde capture --comm <server> started first; the server started
               after it (sonde attaches when it sees the exec); an untraced
               go1.15 client makes five requests over HTTP/1.1 (forced) and
               five over HTTP/2 (ALPN): two GETs on one keep-alive connection,
               a 20 kB POST echoed back, a 404, a 50 kB download. `sonde tls
               -o json` lists the running server: library go, go1.15.x.
  client side  the same ten requests, sonde --comm <client> (the clients
               started before sonde, each waiting for a line on stdin before
               its requests).

Every request must appear exactly once, paired with its response, with the
right method, target, status, version and bodies (size and content),
capture.method "ebpf-tls-go", capture.tls go and go1.15.x, the traced
process, the connection's real addresses (the server's port, and the client's
port as the client saw it: proof that the probes followed tls.Conn to its
socket); the traced programs must exit normally (a probe that misreads the
stack ABI would at worst get garbage, but a probe placed wrongly crashes
Go); the stats record must show no drops, no lost calls, no unresolved Go
connection.

Usage: test_go_oldabi.py [--keep] path/to/sonde
  --keep   keep the temporary directory (also SONDE_E2E_KEEP=1)
SONDE_GO115_CACHE=DIR caches go1.15 there instead of ~/.cache/sonde-go115;
SONDE_DEBIAN_MIRROR names the Debian archive (else taken from apt's sources).
Prints PASS/FAIL/SKIP/INFO lines prefixed "go-oldabi:"; exits non-zero on any
FAIL; SKIP (exit 0) when go1.15 cannot be had or sonde cannot capture here.
"""
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

import livelib
from livelib import Report, SondeRun, parse_args, sonde_tls_json, fetch_debs, kill_children, kill_sondes, unpack_debs

SONDE, _, KEEP, _ = parse_args(sys.argv[1:])
R = Report("go-oldabi")
check, info, skip = R.check, R.info, R.skip

CACHE = os.environ.get("SONDE_GO115_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "sonde-go115")
GO_PKGS = ["golang-1.15-go", "golang-1.15-src"]
GOROOT = os.path.join(CACHE, "usr/lib/go-1.15")

# comm names (at most 15 characters); the untraced peers are the default builds
SRV, CLI = "go115srv", "go115cli"
BUILDS = {"default": "", "stripped": "_s"}


# ------------------------------------------------------------ the programs

SERVER_GO = r'''// An HTTPS server (net/http, HTTP/1.1 and HTTP/2 by ALPN) on 127.0.0.1,
// a port of its own: "listening PORT" on stdout; SIGTERM shuts it down
// gracefully and it exits 0 after "bye after N requests".
package main

import (
	"context"
	"fmt"
	"io/ioutil"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func big() []byte {
	b := make([]byte, 50000)
	for i := range b {
		b[i] = "0123456789abcdefghijklmnopqrstuvwxyz\n"[i%37]
	}
	return b
}

func main() {
	var n int64
	download := big()
	mux := http.NewServeMux()
	mux.HandleFunc("/hello/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s over %s\n", r.URL.Path, r.Proto)
	})
	mux.HandleFunc("/echo/", func(w http.ResponseWriter, r *http.Request) {
		b, err := ioutil.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write(b)
	})
	mux.HandleFunc("/big/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(download)
	})
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		atomic.AddInt64(&n, 1)
		if strings.HasPrefix(r.URL.Path, "/missing/") {
			http.NotFound(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: counted}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, os.Args[1], os.Args[2]) }()
	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	select {
	case <-sig:
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := srv.Shutdown(ctx)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "shutdown:", err)
			os.Exit(1)
		}
		fmt.Printf("bye after %d requests\n", atomic.LoadInt64(&n))
	case err := <-done:
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}
'''

CLIENT_GO = r'''// An HTTPS client (net/http): client MODE BASEURL TAG, MODE h1 (HTTP/1.1
// forced) or h2 (HTTP/2 by ALPN). Prints "ready", waits for a line on
// stdin, then makes five requests on one keep-alive connection, printing
// "result METHOD PATH STATUS PROTO LOCALADDR BODYLEN" for each, and "done".
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"io/ioutil"
	"net/http"
	"net/http/httptrace"
	"os"
)

func upload(tag string) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 20000; i++ {
		fmt.Fprintf(&b, "line %05d of the upload of %s\n", i, tag)
	}
	return b.Bytes()
}

func main() {
	mode, base, tag := os.Args[1], os.Args[2], os.Args[3]
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	if mode == "h2" {
		tr.ForceAttemptHTTP2 = true
	} else {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	client := &http.Client{Transport: tr}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "stdin:", err)
		os.Exit(1)
	}
	reqs := []struct {
		method, path string
		body         []byte
	}{
		{"GET", "/hello/" + tag + "/1", nil},
		{"GET", "/hello/" + tag + "/2", nil},
		{"POST", "/echo/" + tag, upload(tag)},
		{"GET", "/missing/" + tag, nil},
		{"GET", "/big/" + tag, nil},
	}
	for _, q := range reqs {
		local := "?"
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
			local = i.Conn.LocalAddr().String()
		}}
		var body io.Reader
		if q.body != nil {
			body = bytes.NewReader(q.body)
		}
		req, err := http.NewRequest(q.method, base+q.path, body)
		if err != nil {
			fmt.Fprintln(os.Stderr, "request:", err)
			os.Exit(1)
		}
		req = req.WithContext(httptrace.WithClientTrace(context.Background(), trace))
		resp, err := client.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, q.path+":", err)
			os.Exit(1)
		}
		b, err := ioutil.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, q.path+": body:", err)
			os.Exit(1)
		}
		fmt.Printf("result %s %s %d %s %s %d\n", q.method, q.path, resp.StatusCode, resp.Proto, local, len(b))
	}
	tr.CloseIdleConnections()
	fmt.Println("done")
}
'''


def upload_body(tag):
    out, i = [], 0
    n = 0
    while n < 20000:
        ln = f"line {i:05d} of the upload of {tag}\n"
        out.append(ln)
        n += len(ln)
        i += 1
    return "".join(out)


BIG = "".join("0123456789abcdefghijklmnopqrstuvwxyz\n"[i % 37] for i in range(50000))


def expected(tag, h2):
    """(method, target, status, request body, response body) of a client's
    five requests."""
    proto = "HTTP/2.0" if h2 else "HTTP/1.1"
    h = [f"/hello/{tag}/1", f"/hello/{tag}/2"]
    return [("GET", h[0], 200, "", f"hello {h[0]} over {proto}\n"),
            ("GET", h[1], 200, "", f"hello {h[1]} over {proto}\n"),
            ("POST", f"/echo/{tag}", 200, upload_body(tag), upload_body(tag)),
            ("GET", f"/missing/{tag}", 404, "", "404 page not found\n"),
            ("GET", f"/big/{tag}", 200, "", BIG)]


# -------------------------------------------------------------- processes

class Child(livelib.Child):
    def wait_for(self, text, timeout=20):
        return super().wait_for(text, timeout)

    def finish(self, timeout=30):
        """Wait for the exit: rc (None on timeout)."""
        return self.wait(timeout)


def crashed(text):
    """A Go crash's words in stderr, or None."""
    for w in ("fatal error:", "panic:", "unexpected signal", "SIGSEGV", "SIGILL", "SIGTRAP", "goroutine 1 ["):
        if w in text:
            return w
    return None


# ------------------------------------------------------------------ go1.15

def go_ok(goroot):
    return (os.access(os.path.join(goroot, "bin/go"), os.X_OK)
            and os.path.isfile(os.path.join(goroot, "src/crypto/tls/conn.go"))
            and os.path.isfile(os.path.join(goroot, "src/net/http/server.go")))


def fetch_go115():
    """GOROOT of Debian 11's go1.15, fetched on first use: (goroot, None), or
    (None, why it cannot be had)."""
    if go_ok(GOROOT):
        return GOROOT, None
    t0 = time.time()
    files, why = fetch_debs(CACHE, "bullseye", GO_PKGS, R)
    if not files:
        return None, why
    # unpacked beside the cache's usr/, which appears whole or not at all
    tmp = os.path.join(CACHE, "unpack.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    why = unpack_debs(files, tmp)
    if why:
        return None, why
    if not go_ok(os.path.join(tmp, "usr/lib/go-1.15")):
        return None, f"no usr/lib/go-1.15 with bin/go and the sources of crypto/tls and net/http in {files}"
    usr = os.path.join(CACHE, "usr")
    if os.path.exists(usr):
        os.rename(usr, os.path.join(tmp, "old-usr"))
    os.rename(os.path.join(tmp, "usr"), usr)
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(os.path.join(CACHE, "debs"), ignore_errors=True)
    info(f"unpacked {', '.join(os.path.basename(f) for f in files)} into {CACHE} in {time.time() - t0:.0f} s")
    return GOROOT, None


def go_env(tmp):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO") and k != "CGO_ENABLED"}
    home = os.path.join(tmp, "home")
    os.makedirs(home, exist_ok=True)
    env.update(GOROOT=GOROOT, GO111MODULE="off", GOPATH=os.path.join(tmp, "gopath"), HOME=home,
               GOCACHE=os.path.join(tmp, "gocache"), GOENV="off", GOFLAGS="", GOPROXY="off",
               PATH=os.path.join(GOROOT, "bin") + ":" + env.get("PATH", "/usr/bin:/bin"))
    return env


def build(tmp, env, src_name, src, out_name, stripped):
    d = os.path.join(tmp, "src", src_name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "main.go"), "w") as f:
        f.write(src)
    out = os.path.join(tmp, "bin", out_name)
    argv = ["go", "build", "-o", out] + (["-ldflags=-s -w"] if stripped else []) + ["main.go"]
    t0 = time.time()
    p = subprocess.run(argv, cwd=d, env=env, capture_output=True, text=True, timeout=900)
    ok = check(f"go1.15 build {out_name} ({'stripped' if stripped else 'default'})",
               p.returncode == 0 and os.path.isfile(out), (p.stderr + p.stdout)[-1500:])
    if ok:
        info(f"built {out_name} in {time.time() - t0:.1f} s: {describe(out)}")
    return out if ok else None


def describe(path):
    """What file(1)-like facts matter: linking, symbols."""
    facts = []
    p = subprocess.run(["readelf", "-lS", "-W", path], capture_output=True, text=True)
    if p.returncode == 0:
        facts.append("dynamically linked" if "INTERP" in p.stdout else "static")
        facts.append("symtab" if ".symtab" in p.stdout else "no symtab")
        facts.append("DWARF" if ".debug_info" in p.stdout or ".zdebug_info" in p.stdout else "no DWARF")
        sec = [s for s in (".go.buildinfo", ".gopclntab", ".note.go.buildid") if s in p.stdout]
        facts.append("sections " + ",".join(sec))
    facts.append(f"{os.path.getsize(path)} bytes")
    facts.append(go_formats(path))
    return ", ".join(facts)


PCLN_MAGICS = {0xfffffffb: "go1.2", 0xfffffffa: "go1.16", 0xfffffff0: "go1.18", 0xfffffff1: "go1.20"}


def go_formats(path):
    """The pcln table's magic and the build info's header, from the section
    headers (what goinfo.c reads first)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        shoff = struct.unpack_from("<Q", data, 0x28)[0]
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
        secs = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
        stroff = secs[shstrndx][4]

        def name(s):
            end = data.index(b"\0", stroff + s[0])
            return data[stroff + s[0]:end].decode()
        byname = {name(s): s for s in secs}
        out = []
        if ".gopclntab" in byname:
            off = byname[".gopclntab"][4]
            magic, _, quantum, ptr = struct.unpack_from("<IHBB", data, off)
            out.append(f"pcln magic {magic:#x} ({PCLN_MAGICS.get(magic, 'unknown')} layout, quantum {quantum}, "
                       f"pointer {ptr})")
        if ".go.buildinfo" in byname:
            off = byname[".go.buildinfo"][4]
            head = data[off:off + 16]
            ptr, flags = head[14], head[15]
            magic = "build info" if head[:14] == b"\xff Go buildinf:" else f"build info (magic {head[:14]!r}?)"
            out.append(f"{magic}: pointer size {ptr}, flags {flags:#x} "
                       f"({'inline strings' if flags & 2 else 'version by pointer'})")
        return "; ".join(out) or "no .gopclntab or .go.buildinfo section"
    except (OSError, ValueError, struct.error, IndexError) as e:
        return f"formats unreadable: {e}"


# ------------------------------------------------------------------ sonde

def Sonde(tmp, name, extra):
    """sonde capture -o json --stats in the background, records to a file."""
    return SondeRun(SONDE, tmp, name, extra, R)


def summary(r):
    q, a = r.get("request") or {}, r.get("response") or {}
    qb, ab = q.get("body") or {}, a.get("body") or {}
    c = r.get("conn") or {}
    return (f"[conn {c.get('id')} {c.get('client')}->{c.get('server')} {r.get('capture', {}).get('method')} "
            f"{r.get('version')} {q.get('method')} {q.get('target')} req.body={qb.get('size')}/{qb.get('captured')} "
            f"-> {a.get('status')} body={ab.get('size')}/{ab.get('captured')} "
            f"pid={r.get('process', {}).get('pid')} {r.get('process', {}).get('comm')} flags={r.get('flags')}]")


STAT_ZERO = ["ebpf_ringbuf_drops", "ebpf_ringbuf_drop_bytes", "ebpf_missed_calls", "ebpf_missed_exits",
             "ebpf_read_failures", "ebpf_truncated_bytes", "ebpf_bad_events", "gap_bytes", "gaps",
             "tls_go_unresolved", "tls_unbound_bytes", "tls_attach_failures", "parse_errors",
             "records_unanswered", "records_unsolicited"]
STAT_INFO = ["tls_libraries", "tls_calls", "tls_plaintext_bytes", "tls_ciphertext_bytes", "tls_unbound_calls",
             "tls_go_unresolved", "tls_encrypted_connections", "records", "connections", "ebpf_events",
             "duplicate_peer_bytes", "skipped_bytes", "undetected_bytes"]


def check_run(label, recs, rc, sonde, groups, srv_port):
    """The records of one sonde run. groups: [(label, traced Child, [(tag,
    h2, client port)])], each traced process's records checked alone (its
    pid); the run's stats and lines once."""
    check(f"{label}: sonde exits 0 on SIGINT", rc == 0, f"rc {rc}: {sonde.stderr()[-1500:]}")
    probing = [ln for ln in sonde.stderr().splitlines() if "probing" in ln and "(go1." in ln]
    info(f"{label}: sonde's Go probing lines: " + (" | ".join(probing) or "none"))
    bad = [r for r in recs if r.get("type") not in ("exchange", "connection", "stats")]
    check(f"{label}: every line is an exchange, connection or stats record", not bad, bad[:3])
    ex = [r for r in recs if r.get("type") == "exchange"]
    stats = [r for r in recs if r.get("type") == "stats"]
    if not check(f"{label}: one stats record", len(stats) == 1, f"{len(stats)}"):
        st = {}
    else:
        st = stats[0]
    info(f"{label}: stats " + ", ".join(f"{k}={st.get(k)}" for k in STAT_INFO))
    nz = {k: st.get(k) for k in STAT_ZERO if st.get(k) != 0}
    check(f"{label}: stats: no drops, gaps, lost calls or unresolved Go connections ({', '.join(STAT_ZERO)} all 0)",
          not nz, nz)
    check(f"{label}: stats: tls_calls > 0 and tls_libraries >= 1",
          (st.get("tls_calls") or 0) > 0 and (st.get("tls_libraries") or 0) >= 1,
          f"tls_calls={st.get('tls_calls')} tls_libraries={st.get('tls_libraries')}")
    pids = {g[1].pid for g in groups}
    stray = [r for r in ex if (r.get("process") or {}).get("pid") not in pids]
    check(f"{label}: no record of another process", not stray, " ".join(summary(r) for r in stray[:5]))
    for glabel, traced, clients in groups:
        mine = [r for r in ex if (r.get("process") or {}).get("pid") == traced.pid]
        check_records(glabel, mine, traced, clients, srv_port)


def check_records(label, ex, traced, clients, srv_port):
    """The exchange records of one traced process: clients is [(tag, h2,
    client port)]."""
    info(f"{label}: {len(ex)} exchange records")
    for r in ex:
        info(f"{label}:   {summary(r)}")
    want_targets = set()
    for tag, h2, cport in clients:
        mode = "HTTP/2" if h2 else "HTTP/1.1"
        for method, target, status, qbody, abody in expected(tag, h2):
            want_targets.add(target)
            lab = f"{label}: {mode} {method} {target}"
            mine = [r for r in ex if (r.get("request") or {}).get("target") == target]
            if not check(f"{lab}: exactly one record", len(mine) == 1,
                         f"{len(mine)}: " + " ".join(summary(r) for r in mine)):
                continue
            r = mine[0]
            q, a = r.get("request") or {}, r.get("response") or {}
            check(f"{lab}: paired with its response, no flags", q and a and r.get("flags") == [],
                  summary(r))
            check(f"{lab}: version {mode}", r.get("version") == mode, r.get("version"))
            check(f"{lab}: method {method}, status {status}",
                  q.get("method") == method and a.get("status") == status, summary(r))
            qb, ab = q.get("body") or {}, a.get("body") or {}
            check(f"{lab}: request body ({len(qbody)} bytes)",
                  qb.get("size") == len(qbody) and qb.get("captured") == len(qbody)
                  and (qb.get("data") or "") == qbody,
                  f"size {qb.get('size')} captured {qb.get('captured')} data {str(qb.get('data'))[:80]!r}")
            check(f"{lab}: response body ({len(abody)} bytes)",
                  ab.get("size") == len(abody) and ab.get("captured") == len(abody)
                  and (ab.get("data") or "") == abody,
                  f"size {ab.get('size')} captured {ab.get('captured')} data {str(ab.get('data'))[:80]!r}")
            cap = r.get("capture") or {}
            tls = cap.get("tls") or {}
            check(f"{lab}: capture.method ebpf-tls-go, tls go go1.15.x",
                  cap.get("method") == "ebpf-tls-go" and tls.get("library") == "go"
                  and str(tls.get("version", "")).startswith("go1.15"), json.dumps(cap))
            c = r.get("conn") or {}
            cl, sv = c.get("client") or {}, c.get("server") or {}
            check(f"{lab}: conn 127.0.0.1:{cport} -> 127.0.0.1:{srv_port} (real addresses)",
                  cl.get("ip") == "127.0.0.1" and cl.get("port") == cport
                  and sv.get("ip") == "127.0.0.1" and sv.get("port") == srv_port, json.dumps(c))
            p = r.get("process") or {}
            check(f"{lab}: process {traced.pid} {traced.name}",
                  p.get("pid") == traced.pid and p.get("comm") == traced.name, json.dumps(p))
    uns = [r for r in ex if "unsolicited" in (r.get("flags") or [])]
    if uns:
        info(f"{label}: {len(uns)} response(s) recorded before the request they answer "
             f"({', '.join(sorted({str(r.get('version')) for r in uns}))}; on HTTP/1.1 the connection's pairing "
             "then shifts by one, on HTTP/2 the stream's request is left unanswered): the Write's plaintext is "
             "emitted at its return, which can come after another goroutine's Read of the answer; an ordering "
             "problem, not the stack ABI's arguments (go1.19 programs show it too)")
    extra = [r for r in ex if (r.get("request") or {}).get("target") not in want_targets]
    check(f"{label}: no other exchange records", not extra, " ".join(summary(r) for r in extra[:5]))


def run_client(binary, name, mode, base, tag, started=None):
    """A client (already started, or started now) told to go; returns
    (client port or None, result lines)."""
    c = started or Child([binary, mode, base, tag], name=name)
    if not c.wait_for("ready\n"):
        check(f"client {name} {mode} ready", False, c.stderr()[-800:])
        return None, []
    c.send("go\n")
    rc = c.finish(timeout=60)
    out, err = c.stdout(), c.stderr()
    res = [ln.split() for ln in out.splitlines() if ln.startswith("result ")]
    want = [(m, t, str(s)) for m, t, s, _, _ in expected(tag, mode == "h2")]
    got = [(x[1], x[2], x[3]) for x in res if len(x) == 7]
    protos = {x[4] for x in res if len(x) == 7}
    wproto = "HTTP/2.0" if mode == "h2" else "HTTP/1.1"
    check(f"client {name} {mode} ({tag}): exits 0 after its 5 requests, no crash",
          rc == 0 and "done" in out and got == want and not crashed(err),
          f"rc {rc}, crash {crashed(err)!r}, results {got}, stderr {err[-1500:]}")
    check(f"client {name} {mode}: spoke {wproto}", protos == {wproto}, protos)
    sizes = {x[2]: int(x[6]) for x in res if len(x) == 7}
    exp_sizes = {t: len(b.encode()) for _, t, _, _, b in expected(tag, mode == "h2")}
    check(f"client {name} {mode}: response sizes as served", sizes == exp_sizes, f"{sizes} vs {exp_sizes}")
    locs = {x[5] for x in res if len(x) == 7}
    if len(locs) != 1:
        check(f"client {name} {mode}: one keep-alive connection", False, locs)
        return None, res
    try:
        port = int(next(iter(locs)).rsplit(":", 1)[1])
    except (ValueError, IndexError):
        port = None
    return port, res


def start_server(binary, name, cert, key):
    s = Child([binary, cert, key], name=name)
    if not s.wait_for("listening "):
        check(f"server {name} listening", False, s.stderr()[-800:])
        return None, None
    port = int(s.stdout().split("listening ", 1)[1].split()[0])
    return s, port


def stop_server(s, nreq):
    if s.proc.poll() is None:
        s.proc.send_signal(signal.SIGTERM)
    rc = s.finish(timeout=15)
    out, err = s.stdout(), s.stderr()
    check(f"server {s.name} (pid {s.pid}) exits 0 on SIGTERM after {nreq} requests, no crash",
          rc == 0 and f"bye after {nreq} requests" in out and not crashed(err),
          f"rc {rc}, crash {crashed(err)!r}, stdout {out[-300:]!r}, stderr {err[-1500:]}")


def tls_cmd(label, s, during):
    rc, mine, out = sonde_tls_json(SONDE, s.pid, timeout=120)
    ok = (rc == 0 and len(mine) == 1 and mine[0].get("library") == "go"
          and str(mine[0].get("version", "")).startswith("go1.15") and mine[0].get("status") == "capturing")
    check(f"{label}: sonde tls -o json {during} lists the server (pid {s.pid}) once: go, go1.15.x, capturing",
          ok, f"rc {rc}; its rows {mine}; output {out[-500:]}")
    if mine:
        info(f"{label}: sonde tls row: {json.dumps(mine[0])}")


def probed(label, so, binary):
    """sonde's "probing BINARY (go1.15.x, stack ABI, N returns of Read)" line."""
    so.wait_stderr(f"probing {binary} ")
    pat = re.compile(r"probing " + re.escape(binary) + r" \((go1\.15\.\d+), stack ABI, (\d+) returns of Read\)")
    m = pat.search(so.stderr())
    check(f"{label}: sonde probes {os.path.basename(binary)} with the stack ABI "
          "('probing ... (go1.15.x, stack ABI, N returns of Read)')", m,
          [ln for ln in so.stderr().splitlines() if binary in ln or "go" in ln][-5:])


def scen_server(tmp, build_name, bins, cert, key, peer):
    """sonde --comm the server, started after sonde; an untraced client."""
    srv_bin = bins[(SRV, build_name)]
    name = os.path.basename(srv_bin)
    label = f"server side, {build_name}"
    so = Sonde(tmp, f"server-{build_name}", ["--comm", name])
    if not so.ok:
        return
    s, port = start_server(srv_bin, name, cert, key)
    if not s:
        so.kill()
        return
    probed(label, so, srv_bin)
    time.sleep(1.0)
    base = f"https://127.0.0.1:{port}"
    clients = []
    for mode in ("h1", "h2"):
        tag = f"srv-{build_name}-{mode}"
        cport, _ = run_client(peer, os.path.basename(peer), mode, base, tag)
        clients.append((tag, mode == "h2", cport))
    # another sonde's uprobes on the file: `sonde tls` must still read it
    tls_cmd(label, s, "while sonde capture probes the server")
    stop_server(s, 10)
    rc, recs = so.stop()
    check_run(label, recs, rc, so, [(label, s, clients)], port)


def scen_client(tmp, build_name, bins, cert, key, peer_srv):
    """`sonde tls` lists the server of this build (no capture running); then
    sonde --comm the clients, started before sonde; the server untraced."""
    cli_bin = bins[(CLI, build_name)]
    name = os.path.basename(cli_bin)
    label = f"client side, {build_name}"
    s, port = start_server(peer_srv, os.path.basename(peer_srv), cert, key)
    if not s:
        return
    tls_cmd(f"{build_name} server", s, "(no capture running)")
    base = f"https://127.0.0.1:{port}"
    cl = {}
    for mode in ("h1", "h2"):
        tag = f"cli-{build_name}-{mode}"
        cl[mode] = (tag, Child([cli_bin, mode, base, tag], name=name))
        if not cl[mode][1].wait_for("ready\n"):
            check(f"{label}: client {mode} ready", False, cl[mode][1].stderr()[-800:])
            s.kill()
            return
    so = Sonde(tmp, f"client-{build_name}", ["--comm", name])
    if not so.ok:
        s.kill()
        return
    probed(label, so, cli_bin)
    clients = []
    for mode in ("h1", "h2"):
        tag, c = cl[mode]
        cport, _ = run_client(cli_bin, name, mode, base, tag, started=c)
        clients.append((tag, mode == "h2", cport, c))
    rc, recs = so.stop()
    stop_server(s, 10)
    # one traced process per client: each client's records alone
    check_run(label, recs, rc, so,
              [(f"{label}, {'h2' if h2 else 'h1'} client", c, [(tag, h2, cport)]) for tag, h2, cport, c in clients],
              port)


def main():
    if not os.path.isfile(SONDE) or not os.access(SONDE, os.X_OK):
        check("sonde binary", False, f"{SONDE} is not an executable")
        return
    if os.geteuid() != 0:
        skip("not root: sonde capture needs root (or CAP_BPF and CAP_PERFMON)")
        return
    if not shutil.which("openssl"):
        skip("openssl not found: cannot make the server's certificate")
        return
    goroot, why = fetch_go115()
    if not goroot:
        skip("go1.15: " + why)
        return
    tmp = tempfile.mkdtemp(prefix="sonde-go-oldabi.")
    try:
        env = go_env(tmp)
        v = subprocess.run(["go", "version"], env=env, capture_output=True, text=True)
        if not check("go1.15 runs (go version)", v.returncode == 0 and " go1.15" in v.stdout,
                     f"{v.returncode}: {v.stdout} {v.stderr}"):
            return
        info(f"{v.stdout.strip()}, GOROOT {goroot}")
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-subj", "/CN=localhost", "-days", "1", "-keyout", key, "-out", cert],
                           capture_output=True, text=True)
        if not check("self-signed certificate", p.returncode == 0, p.stderr[-500:]):
            return
        bins = {}
        for prog, src in ((SRV, SERVER_GO), (CLI, CLIENT_GO)):
            for build_name, suffix in BUILDS.items():
                b = build(tmp, env, prog, src, prog + suffix, build_name == "stripped")
                if not b:
                    return
                bins[(prog, build_name)] = b
        for build_name in BUILDS:
            scen_server(tmp, build_name, bins, cert, key, bins[(CLI, "default")])
            kill_all()
            scen_client(tmp, build_name, bins, cert, key, bins[(SRV, build_name)])
            kill_all()
    finally:
        kill_all()
        if KEEP:
            info(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def kill_all():
    kill_sondes()
    kill_children()


if __name__ == "__main__":
    try:
        main()
    finally:
        kill_all()
    sys.exit(1 if R.failed else 0)
