#!/usr/bin/env python3
"""The embedded store end to end (docs/store.md): captures of the shared
corpus (SONDE_CORPUS, else ../shared/corpus) imported with
`sonde read --store DIR`, then asked with `sonde query`:

- every question finds exactly the records jq (Debian's) selects, with the
  same question in jq, from `sonde read -o json` of the same captures, line
  for line byte-identical; newest first by default, --oldest-first, --limit;
- the text view is the one sonde read prints;
- --top endpoints counts what jq counts;
- --store-size holds: the oldest segments are deleted, counted in
  store_expired_records, the newest records still answered;
- a sonde killed with SIGKILL while writing (a pipe still feeding it)
  leaves a store that opens and answers;
- a damaged segment is named and skipped, the others still answered;
- a bad expression is a usage error naming its column.

Usage: test_store.py path/to/sonde
"""
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time

CASES = [
    ('protocol == "redis"', 'select(.protocol == "redis")'),
    ('protocol == "http" && response.status >= 400',
     'select(.protocol == "http" and .response.status >= 400)'),
    ('conn.server.port == 53', 'select(.conn.server.port == 53)'),
    ('latency_ms > 20', 'select(.latency_us.last_byte > 20000)'),
    ('request.method matches "^(GET|POST)$"',
     'select(.request.method | strings | test("^(GET|POST)$"))'),
    ('!(protocol == "dns")', 'select(.protocol != "dns")'),
]

failed = 0


def report(ok, name, why=""):
    global failed
    if ok:
        print(f"PASS {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {why}")


def corpus():
    root = os.environ.get("SONDE_CORPUS") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "../../../shared/corpus")
    picks = []
    for sub in ("http1", "redis", "dns"):
        d = os.path.join(root, sub)
        if not os.path.isdir(d):
            continue
        for n in sorted(os.listdir(d)):
            if n.endswith((".pcap", ".pcapng")):
                picks.append(os.path.join(d, n))
    return picks


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def key(r):
    return (r["capture"]["source"], r["seq"])


def jq(expr, lines):
    """The original lines jq selects (jq itself rewrites numbers: 2365.000
    becomes 2365, so its output is matched back to sonde's lines by key)."""
    p = subprocess.run(["jq", "-c", expr + ' | [.capture.source, .seq]'],
                       input="".join(lines), capture_output=True, text=True, check=True)
    keys = {tuple(json.loads(x)) for x in p.stdout.splitlines()}
    return [x for x in lines if key(json.loads(x)) in keys]


def import_corpus(sonde, store, files):
    """The JSON lines `sonde read` writes while storing them too."""
    lines = []
    for f in files:
        p = run([sonde, "read", "-q", "--store", store, "-o", "json", f])
        if p.returncode not in (0, 1):
            raise RuntimeError(f"{f}: {p.stderr}")
        lines += p.stdout.splitlines(keepends=True)
    return lines


def ts_of(line):
    return json.loads(line)["ts"]


def test_queries(sonde, store, lines):
    for expr, jexpr in CASES:
        want = jq(jexpr, lines)
        p = run([sonde, "query", "--store", store, "-o", "json", expr])
        got = p.stdout.splitlines(keepends=True)
        ok = p.returncode == 0 and sorted(got) == sorted(want)
        report(ok, f"query {expr!r} = jq ({len(want)} records)",
               f"rc {p.returncode} {p.stderr.strip()}: {len(got)} records, "
               f"{len(set(got) - set(want))} unexpected, {len(set(want) - set(got))} missing")
        # newest first, by the records' ts (RFC 3339 strings sort as times)
        stamps = [ts_of(x) for x in got]
        report(stamps == sorted(stamps, reverse=True), f"query {expr!r} newest first")
    p = run([sonde, "query", "--store", store, "-o", "json", "--oldest-first", "-n", "5"])
    got = p.stdout.splitlines(keepends=True)
    oldest = sorted(lines, key=ts_of)[:5]
    report([ts_of(x) for x in got] == [ts_of(x) for x in oldest] and len(got) == 5,
           "--oldest-first -n 5: the five oldest")


def test_text(sonde, store, files):
    f = next(x for x in files if "redis" in x)
    want = run([sonde, "read", "-u", "-o", "text", f]).stdout.splitlines()
    d = tempfile.mkdtemp(prefix="sonde-store-text.")
    run([sonde, "read", "-q", "--store", d, "-o", "none", f])
    got = run([sonde, "query", "--store", d, "-u", "-o", "text", "--oldest-first"]).stdout
    report(sorted(got.splitlines()) == sorted(want) and want,
           f"text view as sonde read prints it ({len(want)} lines)")


def test_top(sonde, store, lines):
    p = run([sonde, "query", "--store", store, "--top", "endpoints", "-o", "json", "-n", "3"])
    tops = [json.loads(x) for x in p.stdout.splitlines()]
    counts = {}
    for x in lines:
        r = json.loads(x)
        s = r["conn"]["server"]
        ep = f"[{s['ip']}]:{s['port']}" if ":" in s["ip"] else f"{s['ip']}:{s['port']}"
        if "name" in s:
            ep = f"{s['name']}:{s['port']}"
        counts[ep] = counts.get(ep, 0) + 1
    ok = len(tops) == 3 and all(counts.get(t["endpoint"]) == t["records"] for t in tops)
    best = max(counts.values())
    report(ok and tops[0]["records"] == best, "--top endpoints counts as jq does",
           f"{tops} vs the largest {best}")


def test_quota(sonde, files):
    d = tempfile.mkdtemp(prefix="sonde-store-quota.")
    expired = 0
    for _ in range(3):
        for f in files:
            p = run([sonde, "read", "-q", "--redact-key", "k", "--stats", "-o", "json", "--store", d,
                     "--store-size", "1m", f])
            for x in p.stdout.splitlines():
                r = json.loads(x)
                if r.get("type") == "stats":
                    expired += r["store_expired_records"]
    total = sum(os.path.getsize(os.path.join(d, n)) for n in os.listdir(d))
    segs = sorted(n for n in os.listdir(d) if n.startswith("seg-"))
    # the bound is kept after every commit; the segment being written may
    # pass it by at most one commit's worth (a capture file here)
    report(total <= (1 << 20) + (512 << 10) and expired > 0,
           f"--store-size 1m: {total} bytes in {len(segs)} segments, {expired} expired records counted")
    last = files[-1]
    want = run([sonde, "read", "--redact-key", "k", "-o", "json", last]).stdout.splitlines()
    got = run([sonde, "query", "--store", d, "-o", "json"]).stdout.splitlines()
    report(set(want) <= set(got), "the newest records are still there")


def pcap_http_exchange(i):
    """Ethernet/IPv4/TCP frames of one HTTP exchange on its own connection."""
    def frame(src, dst, sport, dport, seq, ack, flags, payload):
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0, 64, 6,
                         0, bytes(src), bytes(dst))
        return b"\x00" * 12 + b"\x08\x00" + ip + tcp + payload
    # a new client address every 50000 ports: every exchange its own connection
    cli, srv = [127, 1 + i // 50000 // 256 % 250, i // 50000 % 256, 1], [127, 0, 0, 2]
    port = 10000 + i % 50000
    req = f"GET /item/{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    return [frame(cli, srv, port, 80, 1000, 0, 0x02, b""),
            frame(srv, cli, 80, port, 5000, 1001, 0x12, b""),
            frame(cli, srv, port, 80, 1001, 5001, 0x18, req),
            frame(srv, cli, 80, port, 5001, 1001 + len(req), 0x18, resp)]


def test_sigkill(sonde):
    d = tempfile.mkdtemp(prefix="sonde-store-kill.")
    p = subprocess.Popen([sonde, "read", "-q", "--store", d, "-o", "none", "-"],
                         stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    t0 = time.time()
    i = 0
    while time.time() - t0 < 2.0:
        buf = b""
        for _ in range(500):
            for fr in pcap_http_exchange(i):
                sec = 1700000000 + i // 1000
                buf += struct.pack("<IIII", sec, i % 1000 * 1000, len(fr), len(fr)) + fr
            i += 1
        p.stdin.write(buf)
        p.stdin.flush()
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    q = run([sonde, "query", "--store", d, "-o", "json"])
    n = len(q.stdout.splitlines())
    q2 = run([sonde, "query", "--store", d, 'request.target == "/item/1"', "-o", "json"])
    report(q.returncode == 0 and 0 < n <= i and len(q2.stdout.splitlines()) == 1,
           f"SIGKILL while writing: the store opens, {n} of {i} records kept",
           f"rc {q.returncode} {q.stderr.strip()}")
    return d


def test_corrupt(sonde, files):
    d = tempfile.mkdtemp(prefix="sonde-store-bad.")
    for f in files[:3]:
        run([sonde, "read", "-q", "--redact-key", "k", "--store", d, "-o", "none", f])
    segs = sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(".db"))
    with open(segs[0], "r+b") as fh:
        fh.write(b"this is no database" * 10)
    want = set()
    for f in files[1:3]:
        want |= set(run([sonde, "read", "--redact-key", "k", "-o", "json", f]).stdout.splitlines())
    p = run([sonde, "query", "--store", d, "-o", "json"])
    got = set(p.stdout.splitlines())
    report(p.returncode == 0 and os.path.basename(segs[0]) in p.stderr and "skipped" in p.stderr
           and got == want, "a damaged segment is named and skipped, the rest answered",
           f"rc {p.returncode} stderr {p.stderr.strip()!r}: {len(got)} vs {len(want)}")


def test_disk_full(sonde, files):
    """A store on a full disk (a 1 MiB tmpfs made here): sonde goes on
    writing records, the store stops growing, the loss is counted; a run
    that starts on the full disk goes on too, and its store starts keeping
    records again once there is room."""
    if os.geteuid() != 0:
        print("SKIP store on a full disk: needs root (a tmpfs)")
        return
    m = tempfile.mkdtemp(prefix="sonde-store-full.")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", m]).returncode:
        print("SKIP store on a full disk: mount tmpfs failed")
        return
    try:
        d = os.path.join(m, "store")
        want = made = 0
        stored = drops = failed = 0
        # each run is a segment of ~50 KB: the 1 MiB is full after about 20
        for f in files[:40]:
            p = run([sonde, "read", "-q", "--stats", "-o", "json", "--store", d, f])
            out = [json.loads(x) for x in p.stdout.splitlines()]
            st = out[-1] if out and out[-1].get("type") == "stats" else {}
            want += sum(1 for r in out if r.get("type") in ("exchange", "connection"))
            made += st.get("records", 0)
            stored += st.get("store_records", 0)
            drops += st.get("store_write_drops", 0)
            failed += p.returncode != 0
        report(want == made and drops > 0 and stored + drops == made and not failed,
               f"a full disk: records go on ({made}), {stored} stored, {drops} counted lost",
               f"{want} written, {made} made, {stored} stored, {drops} drops, {failed} runs failed")
        # On the full disk a WAL reader has no room for its shared-memory
        # file: the query reads the segments as they are.
        q = run([sonde, "query", "--store", d, "-o", "json"])
        got = len(q.stdout.splitlines())
        report(q.returncode == 0 and got == stored and "skipped" not in q.stderr,
               f"a full disk: the query still reads all {stored} stored records",
               f"rc {q.returncode}, {got} records, stderr {q.stderr.strip()[:300]!r}")
        disk_full_then_room(sonde, m, d)
    finally:
        subprocess.run(["umount", m])
        os.rmdir(m)


def disk_full_then_room(sonde, m, d):
    """A run started on the full disk, the disk then made larger: the first
    records are dropped and counted, the later ones stored."""
    p = subprocess.Popen([sonde, "read", "-q", "--stats", "-o", "none", "--store", d, "-"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def feed(first, n):
        buf = b""
        for i in range(first, first + n):
            for fr in pcap_http_exchange(i):
                buf += struct.pack("<IIII", 1700000000, i * 1000, len(fr), len(fr)) + fr
        p.stdin.write(buf)
        p.stdin.flush()
    p.stdin.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    feed(0, 50)
    time.sleep(1.0)
    grown = subprocess.run(["mount", "-o", "remount,size=4m", m]).returncode == 0
    time.sleep(2.5)  # past the store's 2 s between tries
    feed(50, 50)
    time.sleep(0.5)
    feed(100, 50)
    _, err = p.communicate(timeout=60)
    st = {}
    for x in err.decode().splitlines():
        f = x.split()
        if x.startswith("  ") and len(f) >= 2 and f[1].isdigit():
            st[f[0]] = int(f[1])
    kept, lost = st.get("store_records", 0), st.get("store_write_drops", 0)
    report(p.returncode == 0 and grown and kept > 0 and lost > 0 and kept + lost == st.get("records"),
           f"a run started on the full disk: {lost} records counted lost, then {kept} stored "
           f"once there was room", f"rc {p.returncode} grown {grown} {st} {err.decode()[-300:]!r}")


def test_follow(sonde, files):
    """--follow: records stored after the query started are printed as
    they are committed (a new segment of another sonde run)."""
    d = tempfile.mkdtemp(prefix="sonde-store-follow.")
    dns = [f for f in files if "/dns/" in f][0]
    redis = [f for f in files if "/redis/" in f][0]
    run([sonde, "read", "-q", "--store", d, "-o", "none", dns])
    q = subprocess.Popen([sonde, "query", "--store", d, "--follow", "-o", "json",
                          '!(protocol == "dns")'], stdout=subprocess.PIPE, text=True)
    time.sleep(1)
    want = run([sonde, "read", "-q", "--store", d, "-o", "json", redis]).stdout.splitlines()
    time.sleep(1.5)
    q.send_signal(signal.SIGINT)
    out, _ = q.communicate(10)
    report(q.returncode == 0 and sorted(out.splitlines()) == sorted(want) and want,
           f"--follow prints the {len(want)} records stored after it started",
           f"rc {q.returncode}, {len(out.splitlines())} lines")


def test_bad_expr(sonde, store):
    p = run([sonde, "query", "--store", store, 'protocol == "http" &&'])
    report(p.returncode == 2 and "column 22" in p.stderr, "a bad expression: exit 2, its column",
           f"rc {p.returncode}: {p.stderr.strip()}")


def main():
    sonde = os.path.abspath(sys.argv[1])
    files = corpus()
    if not files:
        print("SKIP test_store: no corpus")
        return 0
    store = tempfile.mkdtemp(prefix="sonde-store.")
    lines = import_corpus(sonde, store, files)
    test_queries(sonde, store, lines)
    test_text(sonde, store, files)
    test_top(sonde, store, lines)
    test_bad_expr(sonde, store)
    test_quota(sonde, files)
    test_sigkill(sonde)
    test_corrupt(sonde, files)
    test_follow(sonde, files)
    test_disk_full(sonde, files)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
