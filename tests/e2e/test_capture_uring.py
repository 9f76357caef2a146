#!/usr/bin/env python3
"""Live capture end to end with io_uring. Socket I/O submitted through
io_uring passes none of the syscall tracepoints sonde copies payload from;
sonde must count those bytes as gaps of exact size (ebpf_untraced_bytes,
gap_bytes) so that stream positions stay right: the next exchange on the
same connection, made with plain send()/recv(), must be captured whole and
paired, and nothing may be invented for the exchange sonde never saw.

tests/e2e/uring_client.c (built here with cc -luring) connects to a
throwaway nginx on loopback with a plain connect() and runs HTTP/1.1 GETs
one after the other on that connection, each through io_uring
(IORING_OP_SEND/RECV "u", or IORING_OP_WRITE/READ "w") or through send()/
recv() syscalls ("s"). Connections:
  small   u:/first.txt  s:/second.txt       the io_uring exchange first
  large   u:/big.bin    s:/second.txt       300 KiB received by many RECVs
  middle  s:/second.txt w:/first.txt s:/second.txt   a gap between two
                                            captured exchanges (WRITE/READ)
sonde runs with --ebpf-hook tracepoint (the hooks that cannot copy io_uring
payload); kernels without sock:sock_send_length (before 6.4) are skipped.

Usage: test_capture_uring.py path/to/sonde
Prints PASS/FAIL/SKIP lines; exits non-zero on any FAIL.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from livelib import free_port

SONDE = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "./sonde"
HERE = os.path.dirname(os.path.abspath(__file__))
NAME = "capture-uring"
EXIT_NO_URING = 77  # uring_client: io_uring_queue_init failed
failed = False


def check(name, cond, why=""):
    global failed
    print(("PASS " if cond else "FAIL ") + NAME + ": " + name + ("" if cond else ": " + str(why)))
    failed = failed or not cond
    return cond


def skip(why):
    print("SKIP " + NAME + ": " + why)
    sys.exit(0)


def info(msg):
    print("INFO " + NAME + ": " + msg)


def http_get(port, path):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path.encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data


class Sonde:
    """sonde capture in the background, records to a file."""

    def __init__(self, tmp, name, args):
        self.out = os.path.join(tmp, name + ".json")
        self.err = os.path.join(tmp, name + ".stderr")
        self.proc = subprocess.Popen([SONDE, "capture", "-o", "json", "--stats"] + args,
                                     stdout=open(self.out, "w"), stderr=open(self.err, "w"))
        deadline = time.time() + 20
        while time.time() < deadline:
            if "capturing with" in self.stderr() or self.proc.poll() is not None:
                break
            time.sleep(0.05)
        time.sleep(0.2)

    def stderr(self):
        with open(self.err) as f:
            return f.read()

    def stop(self):
        time.sleep(0.5)  # let the last events reach the ring buffer
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = -9
        recs, bad = [], []
        with open(self.out) as f:
            for line in f:
                if line.strip():
                    try:
                        recs.append(json.loads(line))
                    except ValueError:
                        bad.append(line)
        return rc, recs, bad


def build_client(tmp):
    """Compiles uring_client.c; returns its path, or skips when cc or liburing is missing."""
    if not shutil.which("cc"):
        skip("cc not installed")
    exe = os.path.join(tmp, "uring_client")
    src = os.path.join(HERE, "uring_client.c")
    r = subprocess.run(["cc", "-O2", "-o", exe, src, "-luring"], capture_output=True, text=True)
    if r.returncode != 0:
        if "liburing.h" in r.stderr or "-luring" in r.stderr:
            skip("liburing not installed (apt-get install liburing-dev): " + r.stderr.strip().splitlines()[0])
        check("uring_client.c builds", False, r.stderr.strip()[-1000:])
        sys.exit(1)
    return exe


def run_client(exe, port, exchanges):
    """Runs one client; returns (pid, rc, [per-exchange dicts], stderr)."""
    p = subprocess.Popen([exe, str(port)] + exchanges, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return p.pid, -9, [], "timed out: " + err
    done = []
    for line in out.splitlines():
        d = dict(w.partition("=")[::2] for w in line.split())
        done.append({"mode": d.get("mode"), "tx": int(d.get("tx", -1)), "rx": int(d.get("rx", -1)),
                     "status": int(d.get("status", -1))})
    return p.pid, p.returncode, done, err.strip()


FILES = {
    "/first.txt": b"first exchange, through io_uring\n",
    "/second.txt": b"exchange through send() and recv()\n",
    "/big.bin": os.urandom(300 * 1024),
}

# Connections: name and exchanges (mode:path). Every path is unique within
# the run, so a record's target says which exchange it is.
PLAN = [
    ("small", ["u:/first.txt?c=small", "s:/second.txt?c=small"]),
    ("large", ["u:/big.bin?c=large", "s:/second.txt?c=large"]),
    ("middle", ["s:/second.txt?c=middle&n=1", "w:/first.txt?c=middle", "s:/second.txt?c=middle&n=2"]),
]


def check_connection(name, spec, pid, done, ex, port):
    """Records of one client connection against what the client did."""
    mine = [r for r in ex if r.get("process", {}).get("pid") == pid]
    if not check(f"{name}: the connection's records exist, from the client's side (process uring_client)",
                 len(mine) >= 1 and all(r["process"].get("comm") == "uring_client" for r in mine),
                 [(r.get("process"), r.get("request", {}).get("target")) for r in ex]):
        return
    cports = {m["conn"]["client"]["port"] for m in mine}
    others = [r for r in ex if r.get("process", {}).get("pid") != pid and r["conn"]["client"]["port"] in cports]
    check(f"{name}: nothing of this connection attributed to nginx (loopback end kept once)",
          not others, [r.get("process") for r in others])
    check(f"{name}: one connection", len({r["conn"]["id"] for r in mine}) == 1 and len(cports) == 1,
          [r["conn"] for r in mine])

    matched = []
    for i, (arg, d) in enumerate(zip(spec, done)):
        mode, path = arg[0], arg[2:]
        hits = [r for r in ex if r.get("request", {}).get("target") == path]
        if mode != "s":
            # Through io_uring: sonde never saw a byte of it, only its size.
            check(f"{name}: #{i + 1} ({mode}, io_uring) GET {path}: not parsed (never seen), "
                  f"{d['tx']} + {d['rx']} bytes left to gaps", not hits, [json.dumps(r) for r in hits])
            continue
        if not check(f"{name}: #{i + 1} (syscalls) GET {path} recorded exactly once", len(hits) == 1,
                     [json.dumps(r) for r in mine]):
            continue
        r = hits[0]
        matched.append(r)
        req, resp = r.get("request", {}), r.get("response", {})
        body = FILES["/second.txt"]
        tag = f"{name}: #{i + 1} GET {path}"
        check(f"{tag}: paired, GET -> 200",
              r.get("process", {}).get("pid") == pid and req.get("method") == "GET"
              and resp.get("status") == 200 and req.get("version") == "HTTP/1.1",
              (r.get("process"), req.get("method"), resp.get("status")))
        check(f"{tag}: no flags (seen whole)", r.get("flags") == [], r.get("flags"))
        check(f"{tag}: request wire_bytes == captured_bytes == bytes sent ({d['tx']})",
              req.get("wire_bytes") == req.get("captured_bytes") == d["tx"],
              (req.get("wire_bytes"), req.get("captured_bytes")))
        check(f"{tag}: response wire_bytes == captured_bytes == bytes received ({d['rx']})",
              resp.get("wire_bytes") == resp.get("captured_bytes") == d["rx"],
              (resp.get("wire_bytes"), resp.get("captured_bytes")))
        check(f"{tag}: request headers as sent",
              req.get("headers") == [["Host", "127.0.0.1"], ["User-Agent", "uring_client"], ["Accept", "*/*"]],
              req.get("headers"))
        b = resp.get("body", {})
        check(f"{tag}: response body captured whole",
              b.get("size") == len(body) and b.get("captured") == len(body) and b.get("data") == body.decode(), b)
        check(f"{tag}: captured by eBPF", r.get("capture", {}).get("method", "").startswith("ebpf-"),
              r.get("capture"))
        check(f"{tag}: endpoints 127.0.0.1:ephemeral -> 127.0.0.1:{port}",
              (r["conn"]["server"]["ip"], r["conn"]["server"]["port"]) == ("127.0.0.1", port)
              and r["conn"]["client"]["ip"] == "127.0.0.1" and r["conn"]["client"]["port"] != port, r["conn"])
    order = [r["request"]["target"] for r in mine if "request" in r and r in matched]
    want = [a[2:] for a in spec if a[0] == "s"]
    check(f"{name}: syscall exchanges in order", order == want, order)

    # Anything else on this connection can only stand for an io_uring
    # exchange, and only as pure gap accounting: flagged, nothing captured,
    # nothing parsed, sizes exact.
    rest = [r for r in mine if not any(r is m for m in matched)]
    sizes = {"request": {d["tx"] for a, d in zip(spec, done) if a[0] != "s"},
             "response": {d["rx"] for a, d in zip(spec, done) if a[0] != "s"}}
    garbage = []
    for x in rest:
        for m in ("request", "response"):
            msg = x.get(m)
            if msg is not None and (m + "_gap" not in x.get("flags", []) or msg.get("captured_bytes") != 0
                                    or msg.get("wire_bytes") not in sizes[m] or msg.get("method")
                                    or msg.get("target") or msg.get("status") or msg.get("headers")):
                garbage.append(x)
    check(f"{name}: no garbage records (for the io_uring exchanges, only exact flagged gaps, if any)",
          not garbage and len(rest) <= sum(a[0] != "s" for a in spec), [json.dumps(x) for x in rest])
    info(f"{name}: records standing for io_uring exchanges: {len(rest)}")


def main():
    if os.geteuid() != 0:
        skip("needs root")
    if not shutil.which("nginx"):
        skip("nginx not installed (run scripts/setup)")
    if not os.access(SONDE, os.X_OK):
        check("sonde binary exists", False, SONDE)
        return
    try:
        with open("/sys/kernel/btf/vmlinux", "rb") as f:
            if b"btf_trace_sock_send_length\0" not in f.read():
                skip("kernel before 6.4: no sock:sock_send_length tracepoint, so sonde's tracepoint "
                     "hooks cannot account io_uring bytes")
    except OSError:
        pass  # no BTF: sonde says why it cannot start
    tmp = tempfile.mkdtemp(prefix="sonde-uring.")
    os.chmod(tmp, 0o755)  # nginx workers run unprivileged
    nginx_started = False
    sonde = None
    try:
        exe = build_client(tmp)
        r = subprocess.run([exe, "--probe"], capture_output=True, text=True, timeout=30)
        if r.returncode == EXIT_NO_URING:
            skip("io_uring unavailable: " + r.stderr.strip())
        if not check("uring_client --probe", r.returncode == 0, f"exit {r.returncode}: {r.stderr.strip()}"):
            return

        www = os.path.join(tmp, "www")
        os.makedirs(www)
        for path, body in FILES.items():
            with open(os.path.join(www, path.lstrip("/")), "wb") as f:
                f.write(body)
        port = free_port()
        conf = os.path.join(tmp, "nginx.conf")
        # sendfile off, 32k output buffers: nginx's sends are plain write
        # syscalls under the per-call capture limit, so every untraced byte
        # is the io_uring client's.
        with open(conf, "w") as f:
            f.write(f"""worker_processes 1;
error_log {tmp}/error.log; pid {tmp}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off; keepalive_requests 10000; keepalive_timeout 60s; default_type text/plain;
  sendfile off; gzip off; output_buffers 2 32k;
  client_body_temp_path {tmp}/b; proxy_temp_path {tmp}/p; fastcgi_temp_path {tmp}/f;
  uwsgi_temp_path {tmp}/u; scgi_temp_path {tmp}/s;
  server {{ listen 127.0.0.1:{port}; root {www}; }}
}}
""")
        subprocess.run(["nginx", "-p", tmp, "-c", conf], check=True)
        nginx_started = True
        for _ in range(50):
            try:
                http_get(port, "/first.txt")
                break
            except OSError:
                time.sleep(0.1)

        # The syscall tracepoint hooks, whatever the kernel would pick: they
        # cannot copy io_uring payload and must account it as exact gaps. (The
        # fentry/kprobe hooks on tcp_sendmsg/tcp_recvmsg are a different case:
        # they can see io_uring's user buffers.)
        sonde = Sonde(tmp, "uring", ["--ebpf-hook", "tracepoint", "--port", str(port)])
        if not check("sonde started", sonde.proc.poll() is None and "capturing with" in sonde.stderr(),
                     sonde.stderr()[-1000:]):
            return
        hook = sonde.stderr().split("capturing with ")[-1].split(" ")[0]
        if not check("tracepoint hooks in use", hook == "tracepoint", hook):
            return

        clients = []
        for name, spec in PLAN:
            pid, rc, done, err = run_client(exe, port, spec)
            if rc == EXIT_NO_URING:
                sonde.stop()
                sonde = None
                skip("io_uring unavailable: " + err)
            ok = check(f"{name}: client ran {' '.join(spec)}",
                       rc == 0 and len(done) == len(spec)
                       and [d["mode"] for d in done] == [a[0] for a in spec]
                       and all(d["status"] == 200 and d["tx"] > 0 and d["rx"] > 0 for d in done),
                       f"exit {rc}, {done}, {err}")
            info(f"{name}: pid {pid}: " + ", ".join(f"{d['mode']} tx={d['tx']} rx={d['rx']}" for d in done))
            if ok:
                clients.append((name, spec, pid, done))

        rc, recs, bad = sonde.stop()
        sonde = None
        check("sonde exits 0 on SIGINT", rc == 0, f"{rc}: {open(os.path.join(tmp, 'uring.stderr')).read()[-500:]}")
        check("every output line is JSON", not bad, bad[:3])
        stats = [r for r in recs if r.get("type") == "stats"]
        if not check("stats record written, once and last", len(stats) == 1 and recs[-1].get("type") == "stats",
                     len(stats)):
            return
        if len(clients) != len(PLAN):
            return
        st = stats[0]
        ex = [r for r in recs if r.get("type") == "exchange"]
        for name, spec, pid, done in clients:
            check_connection(name, spec, pid, done, ex, port)

        ds = [(a[0], d) for _, spec, _, done in clients for a, d in zip(spec, done)]
        uring = sum(d["tx"] + d["rx"] for m, d in ds if m != "s")
        total = sum(d["tx"] + d["rx"] for m, d in ds)
        info(f"bytes via io_uring {uring}, all bytes {total}; stats: "
             + json.dumps({k: st.get(k) for k in ("ebpf_untraced_bytes", "gap_bytes", "gaps", "ebpf_bytes",
                                                   "ebpf_captured_bytes", "duplicate_peer_bytes",
                                                   "ebpf_ignored_bytes",
                                                   "unparsed_bytes", "records", "connections")}))
        check(f"ebpf_untraced_bytes == bytes moved via io_uring ({uring})",
              st.get("ebpf_untraced_bytes") == uring, st.get("ebpf_untraced_bytes"))
        check(f"gap_bytes == bytes moved via io_uring ({uring})", st.get("gap_bytes") == uring, st.get("gap_bytes"))
        holes = 2 * sum(m != "s" for m, _ in ds)
        check(f"gaps >= {holes} (a hole per direction per io_uring exchange)", st.get("gaps", 0) >= holes,
              st.get("gaps"))
        check(f"ebpf_bytes == both loopback ends' bytes (2 x {total})", st.get("ebpf_bytes") == 2 * total,
              st.get("ebpf_bytes"))
        # nginx's end is the second local end of the client's connection: the
        # kernel mutes it before its first event (peers map), so none of its
        # bytes is copied and every one is accounted there.
        dup, ign, peer = (st.get("duplicate_peer_bytes", 0), st.get("ebpf_ignored_bytes", 0),
                          st.get("ebpf_peer_copy_bytes", 0))
        check(f"nginx's end muted in the kernel, every byte accounted ({total})",
              peer == total and dup == 0 and ign == 0, (peer, dup, ign))
        check(f"ebpf_captured_bytes == client's syscall bytes ({total - uring}), none of nginx's end",
              st.get("ebpf_captured_bytes") == total - uring, st.get("ebpf_captured_bytes"))
        check("nothing skipped while resynchronising after the gaps", st.get("unparsed_bytes") == 0,
              st.get("unparsed_bytes"))
        check("no parse errors", st.get("parse_errors") == 0, st.get("parse_errors"))
        check("no unanswered or unsolicited records",
              st.get("records_unanswered") == 0 and st.get("records_unsolicited") == 0,
              (st.get("records_unanswered"), st.get("records_unsolicited")))
        check(f"connections == {len(clients)}, none mid-stream",
              st.get("connections") == len(clients) and st.get("connections_midstream") == 0,
              (st.get("connections"), st.get("connections_midstream")))
        conns = [r for r in recs if r.get("type") == "connection"]
        check(f"a connection record for each client's connection ({len(clients)})",
              len(conns) == len(clients) and st.get("tcp_connection_records") == len(conns),
              (len(conns), st.get("tcp_connection_records")))
        check("records counter matches the exchange and connection lines",
              st.get("records") == len(ex) + len(conns), (st.get("records"), len(ex), len(conns)))
        check("no events lost", st.get("ebpf_ringbuf_drops") == 0 and st.get("ebpf_bad_events") == 0,
              (st.get("ebpf_ringbuf_drops"), st.get("ebpf_bad_events")))
        check("no bytes truncated or missed by the kernel side",
              st.get("ebpf_truncated_bytes") == 0 and st.get("ebpf_missed_calls") == 0
              and st.get("ebpf_read_failures") == 0,
              (st.get("ebpf_truncated_bytes"), st.get("ebpf_missed_calls"), st.get("ebpf_read_failures")))
        strays = [x for x in ex if x.get("process", {}).get("pid") not in {c[2] for c in clients}]
        check("no records from anything else", not strays, [json.dumps(x) for x in strays[:3]])
    finally:
        if sonde is not None:
            sonde.proc.kill()
            sonde.proc.wait()
        if nginx_started:
            try:
                with open(os.path.join(tmp, "nginx.pid")) as f:
                    os.kill(int(f.read().strip()), signal.SIGTERM)
            except (OSError, ValueError):
                pass
        if not os.environ.get("SONDE_E2E_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept " + tmp, file=sys.stderr)


main()
sys.exit(1 if failed else 0)
