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
    made it;
  * the socket map full: 136 000 loopback connections opened and held
    (272 000 sockets, more than the kernel socket map's 262 144 and the
    connection table's 262 144) by 14 processes, ordinary requests during
    and after; sonde goes on, the oldest held connections lose their state
    (most of them: the kernel's LRU evicts approximately) and, when they
    speak again, are joined mid-stream and still recorded
    (connections_midstream, connections_evicted), and once they close
    ordinary traffic is recorded as before;
  * a TLS library unmapped while probed: a process dlopen()s a libssl, makes
    an HTTPS request through it, dlclose()s it (really unmapped: Debian's
    libssl is linked -z nodelete, so the test loads a copy with that flag
    cleared, as libraries without it are), dlopen()s it again and makes
    another at once, then does the same with a copy sonde has never seen;
    the process is not harmed, sonde records the TLS of both loads, and the
    fresh copy's request is recorded or counted (tls_encrypted_connections).

    tests/soak/faults.py path/to/sonde

PASS/FAIL/SKIP/INFO lines, as tests/run counts them."""
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
from livelib import Report, free_port, wait_port  # noqa: E402

R = Report("faults")
HERE = os.path.dirname(os.path.abspath(__file__))


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
sys.stdin.readline()  # sonde starts on this pid meanwhile
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

    def peak_rss_mb(self):
        with open(f"/proc/{self.p.pid}/status") as f:
            for ln in f:
                if ln.startswith("VmHWM:"):
                    return int(ln.split()[1]) // 1024
        return 0

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
    script = os.path.join(tmp, "exec_client.py")
    with open(script, "w") as f:
        f.write(EXEC_CLIENT)
    p = subprocess.Popen(["/usr/bin/python3", script, str(tls_port)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # this pid alone: the server's end of each connection (probed too) is not
    # the one kept for the record
    s = Sonde(sonde, tmp, "exec", ["--pid", str(p.pid), "--port", str(tls_port)])
    if not s.ok:
        p.kill()
        return
    _, err = p.communicate("go\n", timeout=60)
    R.check("exec: the client ran both requests", p.returncode == 0, err[-500:])
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


def lossy(r):
    return [f for f in r.get("flags", []) for w in ("gap", "incomplete", "unanswered", "truncated") if w in f]


def whole(recs, prefix):
    """The exchanges of targets starting with prefix: (all, those answered
    200 with nothing lost)."""
    mine = [r for r in recs if target(r).startswith(prefix)]
    return mine, [r for r in mine if (r.get("response") or {}).get("status") == 200 and not lossy(r)]


def curl_loop(port, prefix, stop, sent):
    i = 0
    while not stop.is_set():
        subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/{prefix}-{i}"], timeout=20)
        sent.append(i)
        i += 1
        time.sleep(0.2)


HOLDERS, PER_HOLDER = 14, 9750  # 2 x 136 500 sockets; a process may hold 20 000 files here


def start_holders():
    """The holders, listening before sonde starts (its --port needs their
    ports, and a port the kernel picks at bind cannot be taken meanwhile):
    [(process, port)]; a holder that could not listen has port None."""
    holders = []
    for i in range(HOLDERS):
        h = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "sock_hold.py"), str(PER_HOLDER),
                              f"127.0.0.{2 + i}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = h.stdout.readline().split()
        holders.append((h, int(line[1]) if line[:1] == ["listening"] else None))
    return holders


def socket_map_full(sonde, tmp, port):
    holders = start_holders()
    if not R.check("map full: every holder listens", all(p for _, p in holders), [p for _, p in holders]):
        return
    s = Sonde(sonde, tmp, "maps", ["--no-tls", "--ringbuf-size", "64m", "--port",
                                   ",".join(str(p) for p in [port] + [p for _, p in holders])])
    if not s.ok:
        return
    stop, sent = threading.Event(), []
    during = threading.Thread(target=curl_loop, args=(port, "during", stop, sent))
    during.start()
    each = []
    t0 = time.time()
    for h, _ in holders:  # one after another: the first holder's are the oldest
        h.stdin.write("open\n")
        h.stdin.flush()
        line = h.stdout.readline().split()
        each.append(int(line[1]) if line[:1] == ["held"] else 0)
    held = sum(each)
    opened_s = time.time() - t0
    stop.set()
    during.join()
    R.check(f"map full: {held} connections held ({2 * held} sockets, the socket map holds 262144)",
            2 * held > 262144, each)
    holders = [h for h, _ in holders]
    R.info(f"map full: opened in {opened_s:.1f}s with sonde tracing them; sonde peak RSS {s.peak_rss_mb()} MB")
    holders[0].stdin.write("speak 200\n")
    holders[0].stdin.flush()
    spoke = holders[0].stdout.readline().split()
    R.check("map full: the 200 oldest connections carry a request and its answer (the holder unharmed)",
            spoke == ["spoke", "200"], spoke)
    for i in range(10):
        subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/full-{i}"], timeout=20)
    for h in holders:
        h.stdin.write("close\n")
        h.stdin.flush()
    for h in holders:
        h.wait(timeout=120)
    time.sleep(1)
    for i in range(10):
        subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/recovered-{i}"], timeout=20)
    rss = s.peak_rss_mb()
    rc, recs, st = s.stop()
    R.check("map full: sonde goes on and stops cleanly", rc == 0, s.stderr()[-500:])
    for prefix, n, when in (("/during-", len(sent), "while the connections opened"),
                            ("/full-", 10, "while the map was full"),
                            ("/recovered-", 10, "once they closed")):
        mine, ok = whole(recs, prefix)
        R.check(f"map full: ordinary requests {when} recorded whole ({len(ok)}/{n})",
                n > 0 and len(ok) == n, [(target(r), r.get("flags")) for r in mine if r not in ok][:5])
    old, old_ok = whole(recs, "/old-")
    mid = [r for r in old if "midstream" in json.dumps(r.get("conn", {})) or "midstream" in r.get("flags", [])]
    R.info(f"map full: {len(old_ok)}/200 requests of the oldest held connections recorded, {len(mid)} of "
           f"them flagged mid-stream; connections {st.get('connections')}, midstream "
           f"{st.get('connections_midstream')}, evicted {st.get('connections_evicted')}, missed calls "
           f"{st.get('ebpf_missed_calls')}, ring drops {st.get('ebpf_ringbuf_drops')}, peak RSS {rss} MB")
    # The kernel's LRU map evicts approximately (in batches, from per-CPU
    # lists), so not every one of the 200 oldest need have lost its state
    # (124 to 200 of them in runs here); those that did must say so.
    R.check("map full: the oldest connections whose kernel state was evicted are flagged and counted as "
            f"joined mid-stream ({len(mid)} of 200)",
            0 < len(mid) <= st.get("connections_midstream", 0), (len(mid), st.get("connections_midstream")))
    R.check("map full: what the oldest connections said afterwards is recorded (200/200)", len(old_ok) == 200,
            [(target(r), r.get("flags")) for r in old if r not in old_ok][:5])


def unloadable_libssl(src, dst):
    """A copy of a shared library with DF_1_NODELETE cleared from its
    DT_FLAGS_1 (ELF64 little-endian), so that dlclose unmaps it."""
    data = bytearray(open(src, "rb").read())
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        for off in range(p_offset, p_offset + p_filesz, 16) if p_type == 2 else ():  # PT_DYNAMIC
            tag, val = struct.unpack_from("<qQ", data, off)
            if tag == 0:
                break
            if tag == 0x6ffffffb:  # DT_FLAGS_1
                struct.pack_into("<qQ", data, off, tag, val & ~0x8)  # DF_1_NODELETE
    with open(dst, "wb") as f:
        f.write(data)


def tls_dlclose(sonde, tmp, tls_port):
    system = "/usr/lib/x86_64-linux-gnu"
    if not os.path.exists(os.path.join(system, "libssl.so.3")):
        R.skip("dlclose: no libssl.so.3")
        return
    libdir, fresh = os.path.join(tmp, "dl"), os.path.join(tmp, "dl-fresh")
    os.makedirs(libdir)
    os.makedirs(fresh)
    for lib in ("libssl.so.3", "libcrypto.so.3"):  # libcrypto pins itself too: both unloadable
        unloadable_libssl(os.path.join(system, lib), os.path.join(libdir, lib))
    shutil.copy(os.path.join(libdir, "libssl.so.3"), os.path.join(fresh, "libssl.so.3"))
    first, other = os.path.join(libdir, "libssl.so.3"), os.path.join(fresh, "libssl.so.3")
    steps = [f"wait:{first}:/dl-first", f"now:{first}:/dl-again", f"now:{other}:/dl-fresh"]
    client = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "dlclose_client.py"), str(tls_port)] + steps,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, LD_LIBRARY_PATH=libdir))
    s = Sonde(sonde, tmp, "dlclose", ["--pid", str(client.pid), "--port", str(tls_port)])
    if not s.ok:
        client.kill()
        return
    out, err = client.communicate("go\n", timeout=120)
    R.check("dlclose: the process is not harmed (exit 0, every answer whole)", client.returncode == 0,
            err[-600:])
    R.check("dlclose: the library really left the process's maps after each dlclose",
            out.count("unmapped=True") == 3, out)
    alive = s.p.poll() is None
    rc, recs, st = s.stop()
    R.check("dlclose: sonde stayed up and stops cleanly", alive and rc == 0, s.stderr()[-500:])

    def by_tls(path, tgt):
        return [r for r in recs if target(r) == tgt and (r.get("response") or {}).get("status") == 200
                and (r.get("capture", {}).get("tls") or {}).get("path") == path
                and (r.get("process") or {}).get("pid") == client.pid]
    R.check("dlclose: the first load's request recorded from its TLS plaintext", len(by_tls(first, "/dl-first")) == 1,
            [(target(r), r.get("capture")) for r in recs])
    R.check("dlclose: the second load's request, made at once, recorded from its TLS plaintext",
            len(by_tls(first, "/dl-again")) == 1, [(target(r), r.get("capture")) for r in recs])
    seen = len(by_tls(other, "/dl-fresh"))
    R.info(f"dlclose: a copy never seen before, used at once: {'recorded' if seen else 'missed'}; "
           f"tls_libraries {st.get('tls_libraries')}, tls_attach_failures {st.get('tls_attach_failures')}, "
           f"tls_encrypted_connections {st.get('tls_encrypted_connections')}")
    R.check("dlclose: the fresh copy's request is recorded or counted as ciphertext only",
            seen == 1 or st.get("tls_encrypted_connections", 0) >= 1, st)
    R.check("dlclose: no probe failed", st.get("tls_attach_failures", 1) == 0, st.get("tls_attach_failures"))


FAULTS = {"ring": lambda so, tmp, port, tls: ring_full(so, tmp, port),
          "vanish": lambda so, tmp, port, tls: vanishing(so, tmp, port),
          "exec": lambda so, tmp, port, tls: exec_under_probe(so, tmp, tls),
          "dlclose": lambda so, tmp, port, tls: tls_dlclose(so, tmp, tls),
          "maps": lambda so, tmp, port, tls: socket_map_full(so, tmp, port)}


def main():
    # [--only ring,vanish,exec,dlclose,maps] [path/to/sonde]
    only = set(FAULTS)
    if "--only" in sys.argv[1:-1]:
        only = set(sys.argv[sys.argv.index("--only") + 1].split(","))
    argv = [a for a in sys.argv[1:] if not a.startswith("--") and set(a.split(",")) - set(FAULTS)]
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
        for name, fault in FAULTS.items():
            if name in only:
                fault(sonde, tmp, port, tls_port)
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
