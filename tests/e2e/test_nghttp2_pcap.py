#!/usr/bin/env python3
"""HTTP/2 end to end: nghttpd (h2c, no TLS) on loopback, an nghttp client with
prior knowledge (several concurrent streams on one connection), captured by
tcpdump into a pcap that sonde reads. Every request must appear once, paired
by stream id, with the right method, path, status and body size. (nghttpd
does not implement the HTTP/1.1 Upgrade to h2c; that path is covered by the
corpus captures suricata-http2-keywords2/-deflate/-range.)

Joined mid-stream: Node's HTTP/2 client (nghttp2's HPACK encoder) makes 60
requests one after the other on one connection to nghttpd, each with its own
referer; nghttpd answers each with its own last-modified, and the client
allows the server a 512-byte table, so both tables turn over. The capture is
cut before the 11th request (handshake, preface, SETTINGS and the first ten
exchanges gone) and read again: every later exchange must still be recorded
and paired, each header field equal to the whole capture's or written as
"<unknown index N>" (never a wrong value), some unknown in each direction at
first, and the last 20 exchanges exact in both directions.

Server push: nghttpd pushes /p/style.css and /p/app.bin when /p/index.html is
asked for (-p), and nghttp accepts them (it does by default). sonde must record
each pushed stream as an exchange of its own: a request flagged "pushed" (the
PUSH_PROMISE's header block, wire_bytes 0) on the promised stream id, paired
with the pushed response, path, status and body size right. tshark's http2
dissection of the same capture must show the same PUSH_PROMISE frames: as
many, the same promised stream ids, the same header fields, and for each
promised stream the same :status and DATA byte count.

--decode-bodies: nghttp uploads a gzip body (content-encoding: gzip, several
DATA frames) to nghttpd, which echoes it back as it came (--echo-upload, no
content-encoding). Read with --decode-bodies, the request's body is the
inflated upload (content_encoding gzip, decoded, decoded_size; size and
captured the gzip bytes) and the echo is left as sent; read without it, the
request names its coding and keeps the gzip bytes. (nghttpd compresses no
response of its own, so the response side is covered by the unit test.)

Usage: test_nghttp2_pcap.py path/to/sonde
Prints PASS/FAIL/SKIP lines; exits non-zero on any FAIL.
"""
import base64
import datetime
import gzip
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

from livelib import free_port, wait_port

# Sequential requests on one connection, each with its own referer.
CLIENT_JS = r'''
const http2 = require('http2');
const [port, n] = process.argv.slice(2).map(Number);
const s = http2.connect('http://127.0.0.1:' + port, { settings: { headerTableSize: 512 } });
let i = 0;
function next() {
  if (i === n) { s.close(); return; }
  const k = i++;
  const req = s.request({ ':path': '/m/f' + k + '.txt', 'user-agent': 'sonde-e2e/1',
                          'referer': 'http://example.test/page/' + k + '/' + 'r'.repeat(100) });
  req.resume();
  req.on('end', () => setTimeout(next, 10));
  req.on('error', (e) => { console.error(e); process.exit(1); });
  req.end();
}
next();
'''
MID_REQUESTS = 60
MID_CUT = 10  # requests lost before the capture "starts"


def read_pcap(path):
    """The pcap's global header and its records as (time in ns, bytes)."""
    with open(path, "rb") as f:
        d = f.read()
    magic = d[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    off, recs = 24, []
    while off + 16 <= len(d):
        sec, frac, incl, _ = struct.unpack(endian + "IIII", d[off:off + 16])
        recs.append((sec * 10**9 + frac * (1 if nano else 1000), d[off:off + 16 + incl]))
        off += 16 + incl
    return d[:24], recs


def ts_ns(s):
    t = datetime.datetime.strptime(s[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
    return int(t.timestamp()) * 10**9 + t.microsecond * 1000


def sonde_json(sonde, path):
    out = subprocess.run([sonde, "read", "-o", "json", "--stats", path], capture_output=True)
    if out.returncode:
        raise RuntimeError("sonde exit %d: %s" % (out.returncode, out.stderr.decode()[:300]))
    return [json.loads(l) for l in out.stdout.decode().splitlines()]


PUSH_FILES = {"index.html": b"<html><link rel=stylesheet href=style.css></html>\n",
              "style.css": b"body { color: red }\n" * 50, "app.bin": bytes(range(251)) * 13}
PUSHED = ("/p/style.css", "/p/app.bin")
# hex text: gzip halves it, so the upload takes a few 16 KiB DATA frames and
# the inflated body still fits the 64 KiB body limit
UPLOAD_PLAIN = b"".join(hashlib.sha256(b"%d" % i).hexdigest().encode() + b"\n" for i in range(900))
UPLOAD_GZ = gzip.compress(UPLOAD_PLAIN, 9, mtime=0)


def check_decode(sonde, pcap):
    """The gzip upload read with and without --decode-bodies; returns failure reasons."""
    why = []
    for decode in (True, False):
        out = subprocess.run([sonde, "read", "-o", "json"] + (["--decode-bodies"] if decode else []) + [pcap],
                             capture_output=True)
        recs = [json.loads(l) for l in out.stdout.decode().splitlines()]
        up = [r for r in recs if r.get("type") == "exchange" and r.get("request")
              and r["request"].get("target") == "/u/upload"]
        if out.returncode or len(up) != 1:
            why.append("decode=%s: exit %d, %d upload exchanges" % (decode, out.returncode, len(up)))
            continue
        q, s = up[0]["request"], up[0].get("response") or {}
        qb, sb = q["body"], s.get("body", {})
        got = (qb.get("content_encoding"), qb.get("decoded", False), qb.get("decoded_size"), qb["size"], qb["captured"])
        want = ("gzip", decode, len(UPLOAD_PLAIN) if decode else None, len(UPLOAD_GZ), len(UPLOAD_GZ))
        if got != want:
            why.append("decode=%s: request body %r, want %r" % (decode, got, want))
        data = qb.get("data", "").encode() if qb.get("encoding") == "utf8" else base64.b64decode(qb.get("data", ""))
        if data != (UPLOAD_PLAIN if decode else UPLOAD_GZ):
            why.append("decode=%s: request data %d bytes, not the %s upload" % (decode, len(data), "inflated" if decode else "gzip"))
        if s.get("status") != 200 or sb.get("size") != len(UPLOAD_GZ) or "decoded" in sb \
                or "content_encoding" in sb or base64.b64decode(sb.get("data", "")) != UPLOAD_GZ:
            why.append("decode=%s: echo %r %r" % (decode, s.get("status"), {k: v for k, v in sb.items() if k != "data"}))
        if up[0]["flags"]:
            why.append("decode=%s: flags %r" % (decode, up[0]["flags"]))
    return why


def tshark_push(pcap, port):
    """tshark's view of the capture's PUSH_PROMISEs: [(promised stream id,
    [(name, value)...])], and per stream id its :status and DATA bytes."""
    out = subprocess.run(["tshark", "-r", pcap, "-d", "tcp.port==%d,http2" % port, "-Y", "http2",
                          "-T", "json", "--no-duplicate-keys"], capture_output=True, timeout=120)
    if out.returncode:
        raise RuntimeError("tshark exit %d: %s" % (out.returncode, out.stderr.decode()[-300:]))
    promises, status, data = [], {}, {}

    def listify(x):
        return x if isinstance(x, list) else [x] if x is not None else []
    for pkt in json.loads(out.stdout.decode() or "[]"):
        for h2 in listify(pkt["_source"]["layers"].get("http2")):
            for f in listify(h2.get("http2.stream")):
                t, sid = f.get("http2.type"), int(f.get("http2.streamid", 0))
                hdrs = [(h.get("http2.header.name"), h.get("http2.header.value", ""))
                        for h in listify(f.get("http2.header"))]
                if t == "5":
                    promises.append((int(f["http2.push_promise.promised_stream_id"]), hdrs))
                elif t == "1" and sid % 2 == 0:  # server-initiated: a pushed response
                    for n, v in hdrs:
                        if n == ":status":
                            status[sid] = int(v)
                elif t == "0" and sid % 2 == 0:
                    padded = int(f.get("http2.flags", "0"), 16) & 0x8
                    pad = int(f.get("http2.pad_length", "0")) + 1 if padded else 0
                    data[sid] = data.get(sid, 0) + int(f["http2.length"]) - pad
    return promises, status, data


def check_push(ex, pcap, port):
    """The pushed exchanges of the /p/ connection against tshark; returns failure reasons."""
    why = []
    recs = [r for r in ex if r.get("version") == "HTTP/2" and r.get("request")
            and (r["request"]["target"] or "").startswith("/p/")]
    pushed = sorted((r for r in recs if r["request"].get("pushed")), key=lambda r: r["request"]["stream_id"])
    page = [r for r in recs if not r["request"].get("pushed")]
    if len(page) != 1 or page[0].get("response", {}).get("status") != 200 \
            or page[0]["response"]["body"]["size"] != len(PUSH_FILES["index.html"]):
        why.append("push page: %r" % [(r["request"]["target"], r.get("response", {}).get("status")) for r in page])
    got = sorted((r["request"]["target"], r["request"]["method"], r.get("response", {}).get("status"),
                  r.get("response", {}).get("body", {}).get("size"), r["flags"]) for r in pushed)
    want = sorted((p, "GET", 200, len(PUSH_FILES[p[3:]]), []) for p in PUSHED)
    if got != want:
        why.append("pushed exchanges: %r, want %r" % (got, want))
    for r in pushed:
        q, s = r["request"], r.get("response") or {}
        if q["stream_id"] % 2 or q["stream_id"] != s.get("stream_id") or q["wire_bytes"] != 0 \
                or s.get("body", {}).get("captured") != s.get("body", {}).get("size"):
            why.append("pushed %s: stream %r/%r wire_bytes %r" % (q["target"], q["stream_id"], s.get("stream_id"), q["wire_bytes"]))
    promises, status, data = tshark_push(pcap, port)
    if len(promises) != len(pushed):
        why.append("tshark sees %d PUSH_PROMISE frames, sonde %d pushed requests" % (len(promises), len(pushed)))
    ts = {sid: hdrs for sid, hdrs in promises}
    for r in pushed:
        q, s = r["request"], r.get("response") or {}
        sid = q["stream_id"]
        if sid not in ts:
            why.append("pushed stream %d: no PUSH_PROMISE in tshark (promised %r)" % (sid, sorted(ts)))
            continue
        if [tuple(h) for h in q["headers"]] != ts[sid]:
            why.append("pushed stream %d: headers %r, tshark %r" % (sid, q["headers"], ts[sid]))
        if s.get("status") != status.get(sid) or s.get("body", {}).get("size") != data.get(sid):
            why.append("pushed stream %d: status/body %r/%r, tshark %r/%r" % (
                sid, s.get("status"), s.get("body", {}).get("size"), status.get(sid), data.get(sid)))
    return why


def same_or_unknown(got, want):
    """Fields of got equal want's or are unknown; returns (unknown count, error)."""
    if len(got) != len(want):
        return 0, "%d fields, want %d" % (len(got), len(want))
    n = 0
    for (gn, gv), (wn, wv) in zip(got, want):
        if gn.startswith("<unknown index "):
            n += 1
            if gv and gv != wv:
                return n, "unknown-named field with value %r, want %r" % (gv, wv)
        elif (gn, gv) != (wn, wv):
            return n, "field %r: %r, want %r: %r" % (gn, gv, wn, wv)
    return n, None


def midstream(sonde, pcap):
    """The capture cut before request MID_CUT: checks; returns failure reasons."""
    full = [r for r in sonde_json(sonde, pcap) if r.get("type") == "exchange"]
    full = [r for r in full if r.get("version") == "HTTP/2" and r.get("request")
            and r["request"]["target"].startswith("/m/")]
    full.sort(key=lambda r: r["request"]["stream_id"])
    if len(full) != MID_REQUESTS:
        return ["whole capture: %d exchanges, want %d" % (len(full), MID_REQUESTS)]
    hdr, recs = read_pcap(pcap)
    start = ts_ns(full[MID_CUT]["request"]["ts"])
    cut = pcap + ".cut"
    with open(cut, "wb") as f:
        f.write(hdr + b"".join(b for t, b in recs if t >= start))
    got = sonde_json(sonde, cut)
    stats, ex = got[-1], [r for r in got if r.get("type") == "exchange"]
    why = []
    if len(ex) != MID_REQUESTS - MID_CUT:
        why.append("cut capture: %d exchanges, want %d" % (len(ex), MID_REQUESTS - MID_CUT))
    want = {r["request"]["stream_id"]: r for r in full}
    unknown = {"request": [], "response": []}
    for r in sorted(ex, key=lambda r: (r.get("request") or r.get("response"))["stream_id"]):
        q, s = r.get("request"), r.get("response")
        sid = (q or s)["stream_id"]
        if not q or not s or sid not in want or r["flags"] != ["midstream"]:
            why.append("stream %d: request %s, response %s, flags %r" % (sid, bool(q), bool(s), r["flags"]))
            continue
        for side, m in (("request", q), ("response", s)):
            n, err = same_or_unknown(m["headers"], want[sid][side]["headers"])
            if err:
                why.append("stream %d %s: %s" % (sid, side, err))
            if n != m.get("hpack_unknown", 0):
                why.append("stream %d %s: hpack_unknown %r, %d unknown fields" % (sid, side, m.get("hpack_unknown"), n))
            unknown[side].append(n)
        if q["target"] != want[sid]["request"]["target"] or s["status"] != 200 \
                or s["body"]["size"] != want[sid]["response"]["body"]["size"]:
            why.append("stream %d: %s %s %s" % (sid, q["target"], s["status"], s["body"]["size"]))
    for side, ns in unknown.items():
        if not ns or not ns[0]:
            why.append("%s side: no unknown field at first (the cut lost nothing?)" % side)
        if any(ns[-20:]):
            why.append("%s side: still unknown fields in the last 20 exchanges: %r" % (side, ns[-20:]))
    if stats.get("parse_errors") or stats.get("hpack_unknown_fields") != sum(map(sum, unknown.values())):
        why.append("stats: parse_errors %s hpack_unknown_fields %s" % (stats.get("parse_errors"), stats.get("hpack_unknown_fields")))
    if not why:
        exact = next(i for i, k in enumerate(zip(unknown["request"], unknown["response"])) if not any(k))
        print("PASS nghttp2-midstream (%d exchanges after the cut, %d unknown fields, exact from the %dth on)"
              % (len(ex), stats["hpack_unknown_fields"], exact + 1))
    return why


def main():
    sonde = sys.argv[1] if len(sys.argv) > 1 else "./sonde"
    for tool in ("nghttpd", "nghttp", "tcpdump", "tshark"):
        if not shutil.which(tool):
            print("SKIP nghttp2-pcap: %s is not installed" % tool)
            return 0
    if os.geteuid() != 0:
        print("SKIP nghttp2-pcap: tcpdump on loopback needs root")
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-h2e2e.")
    www = os.path.join(tmp, "www")
    os.makedirs(www)
    files = {"a.txt": b"alpha\n" * 10, "b.bin": bytes(range(256)) * 40, "c.txt": b"c" * 70000}
    for n, b in files.items():
        with open(os.path.join(www, n), "wb") as f:
            f.write(b)
    os.makedirs(os.path.join(www, "p"))
    for n, b in PUSH_FILES.items():
        with open(os.path.join(www, "p", n), "wb") as f:
            f.write(b)
    upload = os.path.join(tmp, "upload.gz")
    with open(upload, "wb") as f:
        f.write(UPLOAD_GZ)
    # one file per mid-stream request, each with its own modification time
    os.makedirs(os.path.join(www, "m"))
    for i in range(MID_REQUESTS):
        n = os.path.join(www, "m", "f%d.txt" % i)
        with open(n, "w") as f:
            f.write("m" * (50 + i))
        os.utime(n, (1700000000 + 61 * i,) * 2)
    node = shutil.which("node")
    with open(os.path.join(tmp, "client.js"), "w") as f:
        f.write(CLIENT_JS)
    port = free_port()
    pcap = os.path.join(tmp, "h2.pcap")
    procs = []
    rc = 0
    try:
        td = subprocess.Popen(["tcpdump", "-i", "lo", "-s", "0", "-U", "--immediate-mode", "-w", pcap,
                               "tcp port %d" % port], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(td)
        # tcpdump says "listening on lo, ..." once it captures
        if b"listening on" not in td.stderr.readline():
            print("FAIL nghttp2-pcap: tcpdump did not start")
            return 1
        srv = subprocess.Popen(["nghttpd", "--no-tls", "-d", www, "--echo-upload",
                                "-p/p/index.html=" + ",".join(PUSHED), str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(srv)
        if not wait_port(port):
            print("FAIL nghttp2-pcap: nghttpd did not listen")
            return 1
        base = "http://127.0.0.1:%d/" % port
        subprocess.run(["nghttp", "-n", base + "a.txt", base + "b.bin", base + "c.txt", base + "missing"],
                       check=True, timeout=20)
        # a connection of its own: the page, and the two resources pushed with it
        subprocess.run(["nghttp", "-n", base + "p/index.html"], check=True, timeout=20)
        # a gzip upload, echoed back as it came
        subprocess.run(["nghttp", "-n", "-d", upload, "-H", "content-encoding: gzip", base + "u/upload"],
                       check=True, timeout=20)
        if node:
            subprocess.run([node, os.path.join(tmp, "client.js"), str(port), str(MID_REQUESTS)],
                           check=True, timeout=60)
        time.sleep(0.5)
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
    out = subprocess.run([sonde, "read", "-o", "json", "--stats", pcap], capture_output=True)
    if out.returncode:
        print("FAIL nghttp2-pcap: sonde exit %d: %s" % (out.returncode, out.stderr.decode()[:300]))
        return 1
    recs = [json.loads(l) for l in out.stdout.decode().splitlines()]
    stats = recs[-1]
    ex = [r for r in recs if r.get("type") == "exchange"]
    why = []
    h2 = [r for r in ex if r["version"] == "HTTP/2" and r.get("request")
          and not r["request"]["target"].startswith(("/m/", "/p/", "/u/"))]
    got = sorted((r["request"]["method"], r["request"]["target"], r.get("response", {}).get("status"),
                  r.get("response", {}).get("body", {}).get("size")) for r in h2)
    want = sorted([("GET", "/a.txt", 200, 60), ("GET", "/b.bin", 200, 10240), ("GET", "/c.txt", 200, 70000),
                   ("GET", "/missing", 404, None)])
    # the 404 body is nghttpd's HTML page: compare its presence only
    got = [g if g[1] != "/missing" else g[:3] + (None,) for g in got]
    if got != want:
        why.append("prior-knowledge streams: %r, want %r" % (got, want))
    for r in h2:
        # c.txt is longer than the 64 KiB body limit
        ok_flags = ["response_truncated"] if r["request"]["target"] == "/c.txt" else []
        if r["flags"] != ok_flags or r["request"]["stream_id"] != r["response"]["stream_id"]:
            why.append("bad pairing/flags: %r" % r["flags"])
    if stats.get("parse_errors") or stats.get("unparsed_bytes"):
        why.append("parse_errors %s unparsed_bytes %s" % (stats.get("parse_errors"), stats.get("unparsed_bytes")))
    if why:
        print("FAIL nghttp2-pcap: " + "; ".join(why))
        print("kept " + tmp)
        return 1
    print("PASS nghttp2-pcap (%d exchanges)" % len(h2))
    why = check_push(ex, pcap, port)
    if why:
        print("FAIL nghttp2-push: " + "; ".join(why[:5]))
        print("kept " + tmp)
        return 1
    print("PASS nghttp2-push (%d pushed exchanges, PUSH_PROMISEs as tshark sees them)" % len(PUSHED))
    why = check_decode(sonde, pcap)
    if why:
        print("FAIL nghttp2-decode-bodies: " + "; ".join(why[:5]))
        print("kept " + tmp)
        return 1
    print("PASS nghttp2-decode-bodies (a %d-byte gzip upload inflated to %d bytes)" % (len(UPLOAD_GZ), len(UPLOAD_PLAIN)))
    if not node:
        print("SKIP nghttp2-midstream: node is not installed (Node's HTTP/2 client makes the traffic)")
    else:
        why = midstream(sonde, pcap)
        if why:
            print("FAIL nghttp2-midstream: " + "; ".join(why[:5]))
            print("kept " + tmp)
            return 1
    shutil.rmtree(tmp)
    return rc


if __name__ == "__main__":
    sys.exit(main())
