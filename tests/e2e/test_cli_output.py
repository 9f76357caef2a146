#!/usr/bin/env python3
"""Output that behaves like tcpdump's: a reader that goes away (head -1)
stops sonde at once, a failing output (/dev/full) stops it with a clear
error, and records read from a pipe appear as they complete, not in 256 KiB
blocks. Real pipes, real head, real /dev/full; live parts on loopback.

Usage: test_cli_output.py [--only NAME,...] path/to/sonde
Prints PASS/FAIL/SKIP lines; exits non-zero on any FAIL.
"""
import http.server
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from livelib import Report, free_port, kill_sondes

SONDE = None
R = Report("cli-output")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")


def big_pcap(tmp):
    """A generated capture of ~200k exchanges (bench's generator)."""
    gen = os.path.join(ROOT, "build/bench/gen_http_pcap")
    if not os.access(gen, os.X_OK):
        subprocess.run(["make", "-s", "-C", ROOT, "build/bench/gen_http_pcap"], check=True)
    path = os.path.join(tmp, "big.pcap")
    subprocess.run([gen, "-s", "100m", "-S", "1", path], check=True, stdout=subprocess.DEVNULL)
    return path


def test_read_head(pcap):
    t0 = time.monotonic()
    p = subprocess.run(f"'{SONDE}' read -o json '{pcap}' | head -n 1", shell=True,
                       capture_output=True, text=True, timeout=120)
    took = time.monotonic() - t0
    full = time.monotonic()
    subprocess.run([SONDE, "read", "-o", "json", pcap], stdout=subprocess.DEVNULL, timeout=300)
    full = time.monotonic() - full
    R.check("read | head -1 prints one record", p.stdout.count("\n") == 1 and '"protocol"' in p.stdout,
            repr(p.stdout[:200]))
    R.check("read | head -1 stops early, quietly", took < full / 3 and "error" not in p.stderr,
            f"{took:.2f}s vs {full:.2f}s for the whole file; stderr {p.stderr!r}")


def test_read_full(pcap):
    with open("/dev/full", "w") as full:
        t0 = time.monotonic()
        p = subprocess.run([SONDE, "read", "-o", "json", pcap], stdout=full, stderr=subprocess.PIPE,
                           text=True, timeout=300)
        took = time.monotonic() - t0
    R.check("read > /dev/full fails with the reason", p.returncode == 1 and "No space left" in p.stderr,
            f"status {p.returncode}, {p.stderr!r}")
    R.check("read > /dev/full stops at the first failed write", took < 2.0, f"{took:.2f}s")


def test_read_pipe_prompt(tmp):
    """A record written into sonde's stdin pipe comes out while the pipe is
    still open (what `tcpdump -U -w - | sonde read -` needs)."""
    pcap = os.path.join(ROOT, "../shared/corpus/http1")
    files = sorted(f for f in os.listdir(pcap) if f.endswith(".pcap")) if os.path.isdir(pcap) else []
    small = None
    for f in files:
        path = os.path.join(pcap, f)
        if os.path.getsize(path) < 200000:
            out = subprocess.run([SONDE, "read", "-o", "json", path], capture_output=True, text=True)
            if out.returncode == 0 and out.stdout.count('"type":"exchange"') >= 1:
                small = path
                break
    if not small:
        R.skip("read-pipe: no small HTTP/1 capture in the corpus")
        return
    p = subprocess.Popen([SONDE, "read", "-o", "json", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    with open(small, "rb") as f:
        p.stdin.write(f.read())
    p.stdin.flush()  # the pipe stays open: sonde has not seen the end
    ready, _, _ = select.select([p.stdout], [], [], 5)
    line = p.stdout.readline() if ready else b""
    p.stdin.close()
    p.wait(timeout=10)
    R.check("read - writes records before its input ends", b'"protocol"' in line, repr(line[:120]))


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


def test_capture_head(tmp):
    if os.geteuid() != 0:
        R.skip("capture-head: needs root")
        return
    port = free_port()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Quiet)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        sh = subprocess.Popen(f"'{SONDE}' capture --port {port} -o json | head -n 1", shell=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        time.sleep(4)  # attach
        t0 = None
        for _ in range(40):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
            except OSError:
                pass
            if t0 is None:
                t0 = time.monotonic()
            if sh.poll() is not None:
                break
            time.sleep(0.25)
        try:
            out, err = sh.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(sh.pid, 9)
            out, err = sh.communicate()
            R.check("capture | head -1 exits", False, "still running 30 s after its first record")
            return
        took = time.monotonic() - t0
        R.check("capture | head -1 prints one record", out.count("\n") == 1 and '"protocol"' in out, repr(out[:200]))
        R.check("capture | head -1 exits soon after", took < 20, f"{took:.1f}s")
    finally:
        srv.shutdown()
        kill_sondes()


def test_read_nothing():
    """No record: one line on stderr says what was seen instead; -q keeps
    quiet; a capture with records says nothing of the kind."""
    import struct, tempfile as tf
    corpus = os.environ.get("SONDE_CORPUS", os.path.join(ROOT, "../shared/corpus"))
    # three UDP datagrams of no known protocol, to port 9999
    udp = tf.NamedTemporaryFile(suffix=".pcap", delete=False)
    udp.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i in range(3):
        payload = b"just bytes %d" % i
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 8 + len(payload), i, 0, 64, 17, 0,
                         bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
        frame = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + struct.pack("!HHHH", 4000, 9999, 8 + len(payload), 0) + payload
        udp.write(struct.pack("<IIII", 1700000000 + i, 0, len(frame), len(frame)) + frame)
    udp.close()
    cases = ((udp.name, "3 UDP datagrams"), ("amqp/deepflow-amqp1.pcap",
             "none in a protocol sonde dissects"))
    for rel, want in cases:
        f = os.path.join(corpus, rel)
        if not os.path.exists(f):
            R.skip(f"nothing: {rel} not in the corpus")
            continue
        p = subprocess.run([SONDE, "read", "-o", "json", f], capture_output=True, text=True)
        q = subprocess.run([SONDE, "read", "-q", "-o", "json", f], capture_output=True, text=True)
        R.check(f"read {rel}: no records, says what it saw", p.returncode == 0 and p.stdout == "" and
                "no records:" in p.stderr and want in p.stderr, repr(p.stderr))
        R.check(f"read -q {rel}: silent", q.stderr == "", repr(q.stderr))
    f = os.path.join(corpus, "http1/arkime-http-simple-get.pcap")
    if os.path.exists(f):
        p = subprocess.run([SONDE, "read", "-o", "json", f], capture_output=True, text=True)
        R.check("read with records: no such line", p.stdout and "no records" not in p.stderr, repr(p.stderr))


def test_read_compressed(tmp):
    """gzip and zstd captures, as files and through a pipe, give the records
    of the capture itself; damage inside the compression is named."""
    import gzip, shutil as sh_
    corpus = os.environ.get("SONDE_CORPUS", os.path.join(ROOT, "../shared/corpus"))
    src = os.path.join(corpus, "http1/arkime-http-post-upload.pcap")
    if not os.path.exists(src):
        R.skip("compressed: corpus not found")
        return
    norm = lambda out: [l.split('"capture"')[0] + l.split('"request"', 1)[-1] for l in out.splitlines()]
    # one key for the masks' hashes: runs are compared (the default key is random per run)
    want = subprocess.run([SONDE, "read", "-o", "json", "--redact-key", "k", src], capture_output=True,
                          text=True).stdout
    gz = os.path.join(tmp, "c.pcap.gz")
    with open(src, "rb") as f, gzip.open(gz, "wb") as g:
        sh_.copyfileobj(f, g)
    files = [("gzip", gz)]
    if sh_.which("zstd"):
        zst = os.path.join(tmp, "c.pcapng.zst")
        subprocess.run(["zstd", "-qf", src, "-o", zst], check=True)
        files.append(("zstd", zst))
    for kind, path in files:
        p = subprocess.run([SONDE, "read", "-o", "json", "--redact-key", "k", path], capture_output=True, text=True)
        q = subprocess.run(f"cat '{path}' | '{SONDE}' read -o json --redact-key k -", shell=True,
                           capture_output=True, text=True)
        R.check(f"read {kind} file: the capture's records", p.returncode == 0 and want and norm(p.stdout) == norm(want),
                p.stderr)
        R.check(f"read {kind} from a pipe: the same", q.returncode == 0 and norm(q.stdout) == norm(want), q.stderr)
    bad = os.path.join(tmp, "bad.pcap.gz")
    data = bytearray(open(gz, "rb").read())
    data[400:404] = b"\xff\xff\xff\xff"
    open(bad, "wb").write(bytes(data))
    p = subprocess.run([SONDE, "read", "-o", "json", bad], capture_output=True, text=True)
    R.check("read damaged gzip: status 1, the damage named", p.returncode == 1 and "gzip:" in p.stderr, repr(p.stderr))


def test_capture_prompt(tmp):
    """A record of a connection that stays open comes out within a poll, not
    at the connection's close (the kernel wakes the reader only when enough
    is pending; sonde reads the rest on its timeout)."""
    if os.geteuid() != 0:
        R.skip("capture-prompt: needs root")
        return
    import http.client, json as js

    class KeepAlive(Quiet):
        protocol_version = "HTTP/1.1"

    port = free_port()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), KeepAlive)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    out = os.path.join(tmp, "prompt.json")
    try:
        with open(out, "w") as o:
            p = subprocess.Popen([SONDE, "capture", "--port", str(port), "-o", "json", "-q"], stdout=o,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(4)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/first")
        c.getresponse().read()
        time.sleep(1.5)
        c.request("GET", "/second")
        c.getresponse().read()
        t0, seen = time.monotonic(), None
        while time.monotonic() - t0 < 3:
            targets = [js.loads(l).get("request", {}).get("target") for l in open(out) if l.strip()]
            if "/second" in targets:
                seen = time.monotonic() - t0
                break
            time.sleep(0.05)
        R.check("capture: a record of an open keep-alive connection comes out within a second",
                seen is not None and seen < 1.0, f"after {seen}s" if seen is not None else "not within 3 s")
        c.close()
        p.send_signal(signal.SIGINT)
        p.wait(timeout=60)
    finally:
        srv.shutdown()
        kill_sondes()


def test_capture_capabilities():
    """With the capabilities the help names and one missing, sonde says which
    one, for what, at start (a real setpriv capability set, user nobody)."""
    import shutil as sh_
    if os.geteuid() != 0 or not sh_.which("setpriv"):
        R.skip("capture-capabilities: needs root and setpriv")
        return
    # user nobody must reach the binary: a copy where anyone may (the
    # checkout may sit under a directory only root can enter)
    import tempfile as tf
    d = tf.mkdtemp(prefix="sonde-caps-")
    os.chmod(d, 0o755)
    exe = os.path.join(d, "sonde")
    sh_.copy(SONDE, exe)
    os.chmod(exe, 0o755)

    def run(caps):
        c = ",".join("+" + x for x in caps)
        argv = ["setpriv", f"--inh-caps=-all,{c}", f"--ambient-caps=-all,{c}", f"--bounding-set=-all,{c}",
                "--reuid=65534", "--regid=65534", "--clear-groups", exe, "capture", "--duration", "2",
                "-o", "json"]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120)
    p = run(["bpf", "perfmon"])
    R.check("capture with CAP_BPF, CAP_PERFMON only: names CAP_DAC_READ_SEARCH for tracefs",
            p.returncode == 1 and "CAP_DAC_READ_SEARCH" in p.stderr and "tracefs" in p.stderr, repr(p.stderr[-400:]))
    p = run(["bpf", "perfmon", "dac_read_search"])
    R.check("capture without CAP_SYS_PTRACE: starts, and says TLS of other users' processes is missed",
            p.returncode == 0 and "capturing with" in p.stderr and "without CAP_SYS_PTRACE" in p.stderr,
            repr(p.stderr[-400:]))
    p = run(["bpf", "perfmon", "dac_read_search", "sys_ptrace"])
    R.check("capture with every capability the help names: no such line", p.returncode == 0 and
            "capturing with" in p.stderr and "without CAP_" not in p.stderr, repr(p.stderr[-400:]))
    sh_.rmtree(d, ignore_errors=True)


def prog_ids():
    """Ids of every loaded BPF program (bpftool), or None without bpftool."""
    import json
    p = subprocess.run(["bpftool", "-j", "prog", "list"], capture_output=True, text=True)
    if p.returncode != 0:
        return None
    return {x["id"] for x in json.loads(p.stdout or "[]")}


def test_capture_signals(tmp):
    """The first Ctrl-C says it is stopping and finishes; a second one
    exits at once (130), and nothing of sonde stays loaded in the kernel."""
    if os.geteuid() != 0:
        R.skip("capture-signals: needs root")
        return
    for twice in (False, True):
        err = os.path.join(tmp, "sig.err")
        before = prog_ids()
        with open(err, "w") as e:
            p = subprocess.Popen([SONDE, "capture", "--port", "9", "-o", "json"], stdout=subprocess.PIPE,
                                 stderr=e, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "capturing with" not in open(err).read():
            time.sleep(0.1)
        ours = (prog_ids() or set()) - (before or set())
        p.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        if twice:
            time.sleep(0.05)
            p.send_signal(signal.SIGINT)
        try:
            p.stdout.read()  # its end: nothing holds sonde's output open
            rc = p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        took = time.monotonic() - t0
        text = open(err).read()
        name = "second Ctrl-C exits at once" if twice else "Ctrl-C stops cleanly"
        R.check(f"capture: {name}",
                "stopping (again to quit at once)" in text and
                (rc == 130 and took < 1.0 and "quitting at once" in text if twice else rc == 0),
                f"status {rc} after {took:.2f}s; stderr {text[-300:]!r}")
        # after a second signal they detach in the background: within a minute
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and ours & (prog_ids() or set()):
            time.sleep(0.5)
        left = ours & (prog_ids() or set())
        R.check(f"capture: its {len(ours)} BPF programs gone after {'two signals' if twice else 'one'}",
                before is None or (ours and not left), f"still loaded: {sorted(left)}")


def main():
    global SONDE
    from livelib import parse_args
    SONDE, _dry, _keep, only = parse_args(sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="sonde-out-") as tmp:
        if only is None or "read" in only:
            pcap = big_pcap(tmp)
            test_read_head(pcap)
            test_read_full(pcap)
            test_read_nothing()
            test_read_compressed(tmp)
        if only is None or "pipe" in only:
            test_read_pipe_prompt(tmp)
        if only is None or "live" in only:
            test_capture_head(tmp)
            test_capture_signals(tmp)
            test_capture_prompt(tmp)
            test_capture_capabilities()
    sys.exit(1 if R.failed else 0)


if __name__ == "__main__":
    main()
