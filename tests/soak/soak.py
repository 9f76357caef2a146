#!/usr/bin/env python3
"""sonde under hostile traffic (issue: bounded and alive), against a live
`sonde capture` on loopback with budgets set small:

  * many concurrent connections opened and held;
  * slowloris: request heads one byte at a time on hundreds of connections;
  * a header block far over --max-header, and a Content-Length of 4 GB
    that never comes (the connection closes after 1 MB);
  * random bytes to the HTTP port; a flood of 1-byte writes;
  * pipelining thousands of requests deep on one connection;
  * connections reset mid-message;
  * HTTP/2: h2load's streams against nghttpd (when installed).

Before, throughout (for as long as the attacks last) and after, ordinary
requests on fresh connections must all be recorded (exchange, 200), and the
completeness of each phase is reported on "INFO soak: ordinary" lines, with
the ring buffer's losses beside it, for reruns to compare; sonde must stay alive, its peak RSS under a bound
derived from its budgets (reported), its CPU back to idle afterwards, and
what it gave up on counted in --stats.

    tests/soak/soak.py [--long] path/to/sonde    (--long: the issue's full sizes)

PASS/FAIL/SKIP/INFO lines, as tests/run counts them."""
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
from livelib import Report, free_port, wait_port  # noqa: E402

R = Report("soak")


SERVER = r'''
import asyncio, sys
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
async def conn(r, w):
    buf = b""
    try:
        while True:
            d = await r.read(16384)  # answers stay under sonde's 64k per call
            if not d:
                break
            buf = (buf + d)[-65536:]
            n = buf.count(b"\r\n\r\n")
            if n:
                w.write(RESP * n)
                buf = buf[buf.rfind(b"\r\n\r\n") + 4:]
                await w.drain()
    except Exception:
        pass
    finally:
        w.close()
async def main():
    s = await asyncio.start_server(conn, "127.0.0.1", int(sys.argv[1]), backlog=4096)
    async with s:
        await s.serve_forever()
asyncio.run(main())
'''


def proc_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for ln in f:
                k, _, v = ln.partition(":")
                out[k] = v.strip()
    except OSError:
        pass
    return out


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])


def normal_requests(port, tag, n, start=0):
    """n ordinary requests (numbered from start), each on a fresh
    connection: how many got 200."""
    ok = 0
    for i in range(start, start + n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(f"GET /normal-{tag}-{i} HTTP/1.1\r\nHost: soak\r\n\r\n".encode())
            if s.recv(100).startswith(b"HTTP/1.1 200"):
                ok += 1
            s.close()
        except OSError:
            pass
    return ok


def completeness(recs, tag, n, served):
    """How the n ordinary requests of a phase were recorded: whole (an
    exchange answered 200, no loss flag), recorded incomplete, or not at
    all."""
    got = {}
    for r in recs:
        t = (r.get("request") or {}).get("target", "")
        if t.startswith(f"/normal-{tag}-"):
            got[t] = r
    whole, partial, missing = [], [], []
    for i in range(n):
        r = got.get(f"/normal-{tag}-{i}")
        if r is None:
            missing.append(i)
        elif (r.get("response") or {}).get("status") == 200 and not any(
                w in f for f in r.get("flags", []) for w in ("gap", "incomplete", "unanswered", "truncated")):
            whole.append(i)
        else:
            partial.append((i, (r.get("response") or {}).get("status"), r.get("flags")))
    return dict(tag=tag, sent=n, served=served, recorded=len(got), whole=len(whole), partial=partial,
                missing=missing)


def report_completeness(phases, stats):
    """One line per phase and one summary line (grep "INFO soak: ordinary"):
    what a rerun of the soak must compare, with the ring buffer's losses
    beside it, since events dropped there are the usual cause of a request
    not recorded at all."""
    for c in phases:
        pct = 100.0 * c["whole"] / c["sent"] if c["sent"] else 0.0
        R.info(f"ordinary {c['tag']}: {c['sent']} sent, {c['served']} answered by the server, "
               f"{c['whole']} recorded whole ({pct:.0f}%), {len(c['partial'])} recorded incomplete, "
               f"{len(c['missing'])} not recorded")
    R.info("ordinary traffic completeness: " + ", ".join(f"{c['tag']} {c['whole']}/{c['sent']}" for c in phases)
           + f"; ebpf_ringbuf_drops {stats.get('ebpf_ringbuf_drops', 0)} events "
           f"({stats.get('ebpf_ringbuf_drop_bytes', 0)} payload bytes), "
           f"ebpf_missed_calls {stats.get('ebpf_missed_calls', 0)}, "
           f"duplicate_peer_bytes {stats.get('duplicate_peer_bytes', 0)}")


def hold_connections(port, n):
    held = []
    for _ in range(n):
        try:
            held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        except OSError:
            break
    return held


def slowloris(port, conns, seconds):
    socks = hold_connections(port, conns)
    head = b"GET /slow HTTP/1.1\r\nHost: soak\r\nX-Slow: " + b"a" * 4096
    end = time.time() + seconds
    i = 0
    while time.time() < end and i < len(head):
        for s in socks:
            try:
                s.send(head[i:i + 1])
            except OSError:
                pass
        i += 1
        time.sleep(0.05)
    for s in socks:
        s.close()
    return len(socks)


def huge_header(port, size):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /huge HTTP/1.1\r\nHost: soak\r\n")
    line = b"X-Big: " + b"b" * 8000 + b"\r\n"
    sent = 0
    while sent < size:
        s.sendall(line)
        sent += len(line)
    s.sendall(b"\r\n")
    s.close()


def never_body(port, body):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"POST /never HTTP/1.1\r\nHost: soak\r\nContent-Length: 4294967296\r\n\r\n")
    chunk = b"c" * 65536
    sent = 0
    while sent < body:
        s.sendall(chunk)
        sent += len(chunk)
    s.close()


def random_bytes(port, size):
    rnd = random.Random(7)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    left = size
    while left > 0:
        n = min(left, 65536)
        s.sendall(bytes(rnd.getrandbits(8) for _ in range(n)) if n < 4096 else os.urandom(n))
        left -= n
    s.close()


def one_byte_writes(port, count):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    req = b"GET /tiny HTTP/1.1\r\nHost: soak\r\n\r\n"
    for i in range(count):
        s.send(req[i % len(req):i % len(req) + 1])
    s.close()


def pipelined(port, depth):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    # All sent before any answer is read, in writes of 16 KiB: one write
    # of everything would be cut at --capture-limit (64k per call; counted
    # as a gap), which is not what is tested here.
    reqs = b"".join(f"GET /pipe-{i} HTTP/1.1\r\nHost: soak\r\n\r\n".encode() for i in range(depth))
    for at in range(0, len(reqs), 16384):
        s.sendall(reqs[at:at + 16384])
    want = depth * len(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    got = 0
    s.settimeout(10)
    try:
        while got < want:
            d = s.recv(65536)
            if not d:
                break
            got += len(d)
    except OSError:
        pass
    s.close()
    return got == want


def resets_mid_message(port, n):
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.sendall(f"POST /reset-{i} HTTP/1.1\r\nHost: soak\r\nContent-Length: 1000\r\n\r\nxx".encode())
        s.close()  # linger 0: RST


def http2(tmp, n):
    if not (shutil.which("h2load") and shutil.which("nghttpd")):
        R.skip("h2load/nghttpd not installed: no HTTP/2 attack")
        return None, None
    port = free_port()
    with open(os.path.join(tmp, "index.html"), "w") as f:
        f.write("ok\n")
    srv = subprocess.Popen(["nghttpd", "--no-tls", "-d", tmp, str(port)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    if not wait_port(port):
        return srv, None
    return srv, port


def main():
    argv = [a for a in sys.argv[1:] if not a.startswith("--")]
    long_form = "--long" in sys.argv
    sonde = os.path.abspath(argv[0] if argv else "./sonde")
    if os.geteuid() != 0:
        R.skip("needs root (live capture)")
        return 0
    size = dict(conns=20000 if long_form else 1500, loris=2000 if long_form else 200,
                header=100 << 20 if long_form else 8 << 20, body=64 << 20 if long_form else 1 << 20,
                junk=64 << 20 if long_form else 4 << 20, tiny=200000 if long_form else 20000,
                pipe=10000 if long_form else 3000, resets=2000 if long_form else 200,
                h2=100000 if long_form else 20000, normal=100 if long_form else 40)
    # The held connections take a descriptor each on both sides (root may
    # raise the hard limit too); the server inherits it.
    want = size["conns"] * 2 + 4096
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), max(hard, want)))
    except (ValueError, OSError):  # the hard limit is the machine's to give
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        if size["conns"] + size["loris"] + 1000 > hard:
            size["conns"] = hard - size["loris"] - 1000
            R.info(f"descriptors limited to {hard}: {size['conns']} held connections")
    tmp = tempfile.mkdtemp(prefix="sonde-soak-")
    children = []
    try:
        port = free_port()
        script = os.path.join(tmp, "srv.py")
        with open(script, "w") as f:
            f.write(SERVER)
        children.append(subprocess.Popen(["/usr/bin/python3", script, str(port)], stderr=subprocess.DEVNULL,
                                         start_new_session=True))
        if not R.check("HTTP server up", wait_port(port)):
            return 1
        h2srv, h2port = http2(tmp, size["h2"])
        if h2srv:
            children.append(h2srv)
        # Small budgets, so the bound checked below means something.
        budgets = dict(reasm=32 << 20, pending=32 << 20)
        ports = f"{port},{h2port}" if h2port else str(port)
        out = os.path.join(tmp, "records.json")
        err = os.path.join(tmp, "sonde.err")
        with open(out, "w") as o, open(err, "w") as e:
            sonde_p = subprocess.Popen([sonde, "capture", "--no-tls", "--audit-log", "none", "--port", ports,
                                        "--stats", "-o", "json", "--reasm-mem", "32m",
                                        "--max-pending-mem", "32m", "--ringbuf-size", "64m"],
                                       stdout=o, stderr=e, start_new_session=True)
        children.append(sonde_p)
        t0 = time.time()
        while time.time() - t0 < 60 and "capturing with" not in open(err).read():
            time.sleep(0.1)
        if not R.check("sonde started", sonde_p.poll() is None, open(err).read()[-500:]):
            return 1
        base = proc_status(sonde_p.pid)
        R.info(f"sonde RSS at start {base.get('VmRSS')}")
        ok_before = normal_requests(port, "before", size["normal"])
        held = hold_connections(port, size["conns"])
        R.info(f"{len(held)} connections open and held")
        attacks = [
            ("slowloris", lambda: slowloris(port, size["loris"], 4 if not long_form else 30)),
            ("header block", lambda: huge_header(port, size["header"])),
            ("4 GB Content-Length", lambda: never_body(port, size["body"])),
            ("random bytes", lambda: random_bytes(port, size["junk"])),
            ("1-byte writes", lambda: one_byte_writes(port, size["tiny"])),
            ("pipelining", lambda: pipelined(port, size["pipe"])),
            ("resets", lambda: resets_mid_message(port, size["resets"])),
        ]
        if h2port:
            attacks.append(("HTTP/2 streams", lambda: subprocess.run(
                ["h2load", "-n", str(size["h2"]), "-c", "4", "-m", "100", f"http://127.0.0.1:{h2port}/"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)))
        threads = [threading.Thread(target=fn, name=name, daemon=True) for name, fn in attacks]
        for t in threads:
            t.start()
        # ordinary requests for as long as the attacks last (in batches of
        # 10, at least size["normal"], at most 10 times that)
        during_sent = during_ok = 0
        while during_sent < size["normal"] or (any(t.is_alive() for t in threads)
                                               and during_sent < 10 * size["normal"]):
            during_ok += normal_requests(port, "during", 10, during_sent)
            during_sent += 10
        for t in threads:
            t.join(timeout=300)
        stuck = [t.name for t in threads if t.is_alive()]
        R.check("every attack ran to its end", not stuck, stuck)
        for s in held:
            s.close()
        alive = sonde_p.poll() is None
        R.check("sonde alive after the attacks", alive, open(err).read()[-800:])
        if not alive:
            return 1
        time.sleep(3)  # let the backlog drain
        t1 = cpu_ticks(sonde_p.pid)
        time.sleep(3)
        idle = (cpu_ticks(sonde_p.pid) - t1) / os.sysconf("SC_CLK_TCK") / 3
        R.check("CPU back to idle afterwards (under 10% of a core)", idle < 0.10, f"{idle:.0%}")
        ok_after = normal_requests(port, "after", size["normal"])
        peak = proc_status(sonde_p.pid).get("VmHWM", "0 kB")
        peak_mb = int(peak.split()[0]) / 1024
        bound = 64 + (budgets["reasm"] + budgets["pending"]) / (1 << 20) * 2 + 64 + 128
        R.info(f"peak RSS {peak_mb:.0f} MB (budgets 32m reassembly + 32m pending, 64m ring buffer)")
        R.check(f"peak RSS under {bound:.0f} MB", peak_mb < bound, f"{peak_mb:.0f} MB")
        time.sleep(1)
        sonde_p.send_signal(signal.SIGINT)
        try:
            rc = sonde_p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            sonde_p.kill()
            rc = -9
        R.check("sonde stopped cleanly", rc == 0, f"status {rc}: " + open(err).read()[-800:])
        recs, stats = [], {}
        with open(out) as f:
            for ln in f:
                try:
                    o = json.loads(ln)
                except ValueError:
                    R.check("every output line is JSON", False, ln[:200])
                    break
                if o.get("type") == "stats":
                    stats = o
                else:
                    recs.append(o)
        phases = []
        for tag, sent, served in (("before", size["normal"], ok_before), ("during", during_sent, during_ok),
                                  ("after", size["normal"], ok_after)):
            c = completeness(recs, tag, sent, served)
            phases.append(c)
            R.check(f"ordinary traffic {tag} the attacks recorded completely ({served} served)",
                    served == sent and c["whole"] == served,
                    f"{c['recorded']} records, {c['whole']} whole, {served} served; not recorded "
                    f"{c['missing'][:10]}, recorded incomplete {c['partial'][:10]}")
        report_completeness(phases, stats)
        # A connection holds at most 1024 waiting requests (pipeline.c): past
        # that the oldest are written unanswered, and the answers that come
        # for them are written unsolicited, so the newest 1024 pair right.
        pipes = [r for r in recs if (r.get("request") or {}).get("target", "").startswith("/pipe-")]
        paired = sorted(int(r["request"]["target"][6:]) for r in pipes
                        if (r.get("response") or {}).get("status") == 200)
        early = size["pipe"] - min(size["pipe"], 1024)
        unans = sum(1 for r in pipes if "unanswered" in r.get("flags", []))
        R.check(f"{size['pipe']} pipelined requests: all recorded, the newest 1024 paired with their answers, "
              "the older written unanswered",
              len(pipes) == size["pipe"] and paired == list(range(early, size["pipe"])) and unans == early,
              f"{len(pipes)} records, {len(paired)} paired from {paired[:1]}, {unans} unanswered")
        R.check("their answers written unsolicited and the flushing counted",
              stats.get("records_unsolicited", 0) >= early and stats.get("requests_flushed_for_memory", 0) >= early,
              {k: stats.get(k) for k in ("records_unsolicited", "requests_flushed_for_memory")})
        gave_up = {k: v for k, v in stats.items()
                   if k in ("gap_bytes", "unparsed_bytes", "parse_errors", "skipped_bytes", "undetected_bytes",
                            "bodies_truncated", "headers_truncated", "ebpf_ringbuf_drops",
                            "ebpf_truncated_bytes", "reassembly_budget_drops") and v}
        R.info(f"given up on, counted: {gave_up}")
        R.check("what sonde gave up on is counted (unparsed or skipped bytes, truncations)",
              any(stats.get(k) for k in ("unparsed_bytes", "skipped_bytes", "undetected_bytes",
                                         "parse_errors", "gap_bytes")), stats)
        return 1 if R.failed else 0
    finally:
        for c in children:
            if c.poll() is None:
                try:
                    os.killpg(c.pid, signal.SIGKILL)
                except OSError:
                    pass
                c.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
