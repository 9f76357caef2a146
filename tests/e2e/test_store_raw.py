#!/usr/bin/env python3
"""The store's raw bytes and `sonde query --redissect` (docs/store.md).

- Captures of the shared corpus imported with --store-raw: --redissect
  dissects the stored bytes again and finds the same exchanges the store
  kept and tshark sees (methods, URIs, statuses); EXPR filters them.
- With other read options (--body-limit 16) the fresh records differ from
  the stored ones as those options say.
- --store-raw within its quota: generated captures larger than it leave at
  most the quota on disk, the newest bytes kept.
- Without --store-raw nothing raw is stored and --redissect says so.
- Live (root): curl through a real http.server seen by eBPF with a bearer
  token and a token in the URL: the stored raw bytes hold neither (masked,
  same length), and the redissected records still pair every exchange.

Usage: test_store_raw.py [path/to/sonde]
"""
import glob
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import livelib  # noqa: E402

CORPUS = os.environ.get("SONDE_CORPUS", os.path.join(os.path.dirname(__file__), "../../../shared/corpus"))
SECRET = "Zq8sekritTOKEN4242"


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def raw_files(d):
    return sorted(glob.glob(os.path.join(d, "raw-*.pcapng*")))


def exchanges(lines):
    """(method, target, status) of the HTTP exchanges of JSON lines."""
    out = []
    for x in lines:
        r = json.loads(x)
        if r.get("type") != "exchange" or r.get("protocol") != "http":
            continue
        out.append((r.get("request", {}).get("method"), r.get("request", {}).get("target"),
                    r.get("response", {}).get("status")))
    return sorted(out, key=repr)


def tshark_exchanges(files):
    """tshark's requests (method, uri) and response codes over the files."""
    reqs, codes = [], []
    for f in files:
        p = run(["tshark", "-r", f, "-Y", "http.request || http.response", "-T", "fields",
                 "-e", "http.request.method", "-e", "http.request.uri", "-e", "http.response.code"])
        for line in p.stdout.splitlines():
            m, u, c = (line.split("\t") + ["", "", ""])[:3]
            if m:
                reqs.append((m, u))
            if c:
                codes.append(int(c.split(",")[0]))
    return sorted(reqs), sorted(codes)


def test_corpus(sonde, R, tmp):
    files = sorted(glob.glob(os.path.join(CORPUS, "http1", "*.pcap")))
    if not files:
        R.skip("corpus: no http1 captures in " + CORPUS)
        return
    d = os.path.join(tmp, "corpus")
    for f in files:
        p = run([sonde, "read", "-q", "--store", d, "--store-raw", "8m", "-o", "none", f])
        if p.returncode != 0:
            R.check(f"import {f}", False, p.stderr)
            return
    R.check("--store-raw: one raw file per import", len(raw_files(d)) == len(files),
            raw_files(d))
    stored = run([sonde, "query", "--store", d, "-o", "json"]).stdout.splitlines()
    fresh = run([sonde, "query", "--store", d, "--redissect", "-o", "json"])
    lines = fresh.stdout.splitlines()
    R.check("--redissect: the exchanges the store kept, dissected again",
            fresh.returncode == 0 and exchanges(lines) == exchanges(stored) and lines,
            f"{len(lines)} vs {len(stored)}: {fresh.stderr[-500:]}")
    # the same masks on both sides: the same key (the default is random per run)
    lines = run([sonde, "query", "--store", d, "--redissect", "-o", "json", "--",
                 "--redact-key", "k"]).stdout.splitlines()
    want = []
    for f in files:
        want += run([sonde, "read", "-o", "json", "--redact-key", "k", f]).stdout.splitlines()
    strip = lambda x: {k: v for k, v in json.loads(x).items() if k not in ("capture", "seq", "conn")}
    R.check("--redissect -- --redact-key k: record for record what sonde read of the "
            "captures writes",
            sorted(map(repr, map(strip, lines))) == sorted(map(repr, map(strip, want))),
            f"{len(lines)} vs {len(want)}")
    reqs = [(m, t) for m, t, _ in exchanges(want) if m]
    posts = [x for x in reqs if x[0] == "POST"]
    p = run([sonde, "query", "--store", d, "--redissect", "-o", "json", 'request.method == "POST"'])
    R.check(f"--redissect EXPR: the {len(posts)} POSTs only",
            len(exchanges(p.stdout.splitlines())) == len(posts) and posts,
            p.stdout[-300:] + p.stderr[-300:])
    p = run([sonde, "query", "--store", d, "--redissect", "-o", "json", "-n", "2"])
    R.check("--redissect -n 2: two records", len(p.stdout.splitlines()) == 2, p.stdout[-300:])
    p = run([sonde, "query", "--store", d, "--redissect", "-o", "text", "--utc"])
    R.check("--redissect -o text", p.returncode == 0 and "HTTP" in p.stdout and
            not p.stdout.lstrip().startswith("{"), p.stdout[:300] + p.stderr[-300:])
    p = run([sonde, "query", "--store", d, "--redissect", "--since", "1h", "-o", "json"])
    R.check("--redissect --since 1h: none (the captures are years old)",
            p.returncode == 0 and not p.stdout.strip(), p.stdout[:300] + p.stderr[-300:])
    p = run([sonde, "query", "--store", d, "--redissect", "bogus ==", "-o", "json"])
    R.check("--redissect: a bad EXPR is a usage error", p.returncode == 2, p.stderr)


def pcap(path, n, tag, body=1000):
    """A classic pcap of n HTTP exchanges, each on its own connection, with
    a body of `body` bytes, targets /TAG/i."""
    def frame(src, dst, sport, dport, seq, ack, flags, payload):
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0, 64, 6,
                         0, bytes(src), bytes(dst))
        return b"\x00" * 12 + b"\x08\x00" + ip + tcp + payload
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        t = 1700000000 + 100000 * sum(map(ord, tag))
        for i in range(n):
            cli, srv, port = [127, 1, i // 50000 + 1, 1], [127, 0, 0, 2], 10000 + i % 50000
            req = f"GET /{tag}/{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
            resp = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % body + b"b" * body
            for k, fr in enumerate([frame(cli, srv, port, 80, 1000, 0, 0x02, b""),
                                    frame(srv, cli, 80, port, 5000, 1001, 0x12, b""),
                                    frame(cli, srv, port, 80, 1001, 5001, 0x18, req),
                                    frame(srv, cli, 80, port, 5001, 1001 + len(req), 0x18, resp)]):
                f.write(struct.pack("<IIII", t + i, k, len(fr), len(fr)) + fr)


def test_options(sonde, R, tmp):
    src = os.path.join(tmp, "bodies.pcap")
    pcap(src, 20, "opt", body=1000)
    d = os.path.join(tmp, "opts")
    run([sonde, "read", "-q", "--store", d, "--store-raw", "4m", "-o", "none", src], check=True)
    got = exchanges(run([sonde, "query", "--store", d, "--redissect", "-o", "json"]).stdout.splitlines())
    reqs, codes = tshark_exchanges([src])
    R.check("--redissect of a generated capture: tshark's methods, URIs and statuses",
            sorted((m, t) for m, t, _ in got) == reqs and sorted(c for _, _, c in got) == codes
            and len(reqs) == 20, f"{got[:3]} vs {reqs[:3]} {codes[:3]}")
    stored = [json.loads(x) for x in run([sonde, "query", "--store", d, "-o", "json"]).stdout.splitlines()]
    conns = [r for r in stored if r["type"] == "connection"]
    R.check("the store kept each connection's record too (20, never closed)",
            len(conns) == 20 and all(r["tcp"]["outcome"] == "open" for r in conns), conns[:2])
    stored = [r for r in stored if r["type"] == "exchange"]
    p = run([sonde, "query", "--store", d, "--redissect", "-o", "json", "--", "--body-limit", "16"])
    fresh = [json.loads(x) for x in p.stdout.splitlines()]
    fresh = [r for r in fresh if r["type"] == "exchange"]
    R.check("stored records kept the whole 1000-byte bodies",
            len(stored) == 20 and all(r["response"]["body"]["captured"] == 1000 for r in stored),
            [r["response"]["body"] for r in stored[:2]])
    R.check("--redissect -- --body-limit 16: fresh records keep 16 bytes of each body",
            len(fresh) == 20 and all(r["response"]["body"]["captured"] == 16 and
                                     r["response"]["body"]["size"] == 1000 for r in fresh),
            p.stderr[-300:] + repr([r["response"]["body"] for r in fresh[:2]]))
    p = run([sonde, "query", "--store", d, "--redissect", "--", "--no-such-option"])
    R.check("--redissect: a bad read option is a usage error", p.returncode == 2, p.stderr)


def test_quota(sonde, R, tmp):
    d = os.path.join(tmp, "quota")
    quota = 2 << 20
    for tag in ("a", "b", "c"):
        src = os.path.join(tmp, f"big-{tag}.pcap")
        pcap(src, 1500, tag)  # about 2.2 MB as pcapng
        p = run([sonde, "read", "--store", d, "--store-raw", "2m", "-o", "none", src])
        if p.returncode != 0:
            R.check(f"quota import {tag}", False, p.stderr)
            return
    total = sum(os.path.getsize(f) for f in raw_files(d))
    R.check(f"--store-raw 2m: {total} bytes in {len(raw_files(d))} raw files, within it",
            0 < total <= quota, raw_files(d))
    R.check("earlier runs' raw files deleted, said on stderr",
            "raw files of earlier runs deleted" in p.stderr, p.stderr)
    got = exchanges(run([sonde, "query", "--store", d, "--redissect", "-o", "json"]).stdout.splitlines())
    targets = {t for _, t, _ in got}
    R.check("the newest bytes are kept (the last exchange), the oldest gone",
            "/c/1499" in targets and "/a/0" not in targets and len(got) < 4500,
            f"{len(got)} records")


def test_not_asked(sonde, R, tmp):
    src = os.path.join(tmp, "small.pcap")
    pcap(src, 3, "n", body=10)
    d = os.path.join(tmp, "noraw")
    run([sonde, "read", "-q", "--store", d, "-o", "none", src], check=True)
    R.check("without --store-raw no raw bytes are stored", not raw_files(d), os.listdir(d))
    p = run([sonde, "query", "--store", d, "--redissect"])
    R.check("--redissect without raw bytes: exit 1, says how to keep them",
            p.returncode == 1 and "--store-raw" in p.stderr, p.stderr)
    p = run([sonde, "read", "--store-raw", "4m", "-o", "none", src])
    R.check("--store-raw without --store: usage error", p.returncode == 2, p.stderr)
    p = run([sonde, "read", "--store", d, "--store-raw", "4m", "-w", os.path.join(tmp, "x.pcapng"),
             "-o", "none", src])
    R.check("--store-raw with -w: usage error", p.returncode == 2, p.stderr)
    p = run([sonde, "query", "--store", d, "--redissect", "--top", "status"])
    R.check("--redissect --top: usage error", p.returncode == 2, p.stderr)


def test_live(sonde, R, tmp):
    if os.geteuid() != 0:
        R.skip("live: needs root (eBPF)")
        return
    d = os.path.join(tmp, "live")
    www = os.path.join(tmp, "www")
    os.makedirs(www)
    with open(os.path.join(www, "ok.txt"), "w") as f:
        f.write("hello\n")
    port = livelib.free_port()
    n = 12
    try:
        srv = livelib.Child(["/usr/bin/python3", "-m", "http.server", str(port), "--bind",
                             "127.0.0.1", "--directory", www], name="http.server")
        livelib.wait_port(port)
        rn = livelib.SondeRun(sonde, tmp, "raw", ["--port", str(port), "--store", d,
                                                  "--store-raw", "4m"], R)
        if not rn.ok:
            return
        for i in range(n):
            subprocess.run(["curl", "-s", "-o", "/dev/null", "-H", f"Authorization: Bearer {SECRET}",
                            f"http://127.0.0.1:{port}/ok.txt?i={i}&token={SECRET}"], check=True)
        before = {f: os.path.getsize(f) for f in raw_files(d)}
        small = os.path.join(tmp, "second.pcap")
        pcap(small, 2, "second", body=10)
        p = run([sonde, "read", "--store", d, "--store-raw", "1m", "-o", "none", small])
        R.check("live: a second sonde on the same store is refused and deletes no raw file",
                p.returncode == 1 and "another sonde" in p.stderr and
                all(os.path.exists(f) for f in before), p.stderr)
        rc, _ = rn.stop()
        srv.proc.terminate()
    finally:
        livelib.kill_children()
        livelib.kill_sondes()
    blob = b"".join(open(f, "rb").read() for f in raw_files(d))
    R.check("live: the raw bytes were stored", rc == 0 and b"GET /ok.txt" in blob,
            f"rc {rc}, {len(blob)} bytes in {raw_files(d)}")
    R.check("live: the token is in no stored raw byte (masked)",
            SECRET.encode() not in blob and b"Bearer *" in blob, len(blob))
    p = run([sonde, "query", "--store", d, "--redissect", "-o", "json",
             f"conn.server.port == {port}"])
    got = [json.loads(x) for x in p.stdout.splitlines()]
    conns = [r for r in got if r.get("type") == "connection"]
    R.check(f"live: --redissect makes the {n} connections' records again", len(conns) == n, len(conns))
    got = [r for r in got if r.get("type") == "exchange"]
    R.check(f"live: --redissect pairs the {n} exchanges again",
            len(got) == n and all(r["response"]["status"] == 200 for r in got),
            p.stderr[-400:] + f" {len(got)} records")
    R.check("live: the secret is in no redissected record", SECRET not in p.stdout, "")


def main():
    sonde = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "./sonde")
    R = livelib.Report("store-raw")
    tmp = tempfile.mkdtemp(prefix="sonde-store-raw.")
    try:
        test_corpus(sonde, R, tmp)
        test_options(sonde, R, tmp)
        test_quota(sonde, R, tmp)
        test_not_asked(sonde, R, tmp)
        test_live(sonde, R, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
