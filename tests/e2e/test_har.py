#!/usr/bin/env python3
"""-o har end to end: HTTP exchanges as HAR 1.2 logs, checked by real
consumers and against tshark.

- Every HAR sonde writes is checked against the HAR 1.2 JSON Schema of
  Debian's node-har-schema, with python3-jsonschema, and by Debian's
  node-har-validator (ajv) — both first shown a broken log, which they must
  refuse, so neither check passes by accident.
- The corpus (SONDE_CORPUS, else ../shared/corpus): for every HTTP/1,
  HTTP/2 and gRPC capture, `sonde read -o har` against tshark's HTTP fields:
  the same request methods, URLs (tshark's http.request.full_uri; for
  HTTP/2 the :path) and final statuses, as multisets. Captures where sonde's
  dissector and tshark legitimately differ (KNOWN below, the corpus tests'
  EXPECT says why) are still schema-checked, and their HAR is checked
  against sonde's own -o json records instead.
- Non-HTTP records (a DNS capture, --connections) are skipped, counted in
  the log's _skipped_records, and said on stderr; the log is still valid.
- Live (root): a raw HTTP/1.1 server and client on loopback exchange
  crafted messages — a query string with %-escapes and '+', cookies,
  Set-Cookie with every attribute, a redirect, a binary POST, a binary and a
  gzip response, header bytes that are not text — while `sonde capture -o
  har` (eBPF) and tcpdump watch. The captured HAR has each field as HAR
  wants it (queryString decoded, cookies parsed and masked, postData and
  content base64 for binary, compression, redirectURL, timings that add up
  to time), no planted secret anywhere in its bytes; `sonde read -o har` of
  the tcpdump file and `sonde query -o har` of a store it was imported into
  give the same entries.

Usage: test_har.py path/to/sonde. PASS/FAIL/SKIP lines; exit 1 on FAIL.
"""
import collections
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import livelib
from livelib import Report, SondeRun, free_port, kill_children, kill_sondes

R = Report("har")
check, info, skip = R.check, R.info, R.skip
HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.environ.get("SONDE_CORPUS") or os.path.join(HERE, "..", "..", "..", "shared", "corpus")
SCHEMA_DIR = "/usr/share/nodejs/har-schema/lib"

# Where sonde's records and tshark differ (tests/corpus/test_http*_corpus.py
# hold the details); these are compared with sonde's -o json instead.
KNOWN = {
    "http1/deepflow-client-ip.pcap": "tshark does not dissect the request (incomplete head)",
    "http1/zeek-http_09.pcap": "HTTP/0.9: tshark does not call it HTTP",
    "http1/zeek-no-version.pcap": "no version in the request line: tshark does not call it HTTP",
    "http1/zeek-methods.pcap": "tshark counts requests sonde reads as one or as body bytes",
    "http1/zeek-no-uri.pcap": "\"GET HTTP/1.1\": tshark glues the version to the host",
    "http1/wireshark-http-ooo.pcap": "no Host header: tshark has no full_uri",
    "http1/wireshark-http-ooo2.pcap": "no Host header: tshark has no full_uri",
    "http2/arkime-http2-nghttp2.pcap": "h2c upgrade: sonde writes the upgraded stream as its own exchange",
    "http2/deepflow-http2-multi.pcap": "joined mid-stream: :path unknown to both",
    "http2/deepflow-httpv2-stream-id.pcap": "joined mid-stream: :path unknown to both",
    "http2/suricata-http2-deflate.pcap": "tshark needs more than decode-as to see it",
    "http2/suricata-http2-keywords2.pcap": "h2c upgrade (as above)",
    "http2/suricata-http2-range.pcap": "tshark needs more than decode-as to see it",
    "http2/wireshark-http2-brotli.pcapng": "TLS: sonde read without the key log sees no HTTP",
    "http2/wireshark-http2-data-reassembly.pcap": "TLS: sonde read without the key log sees no HTTP",
    "http2/wireshark-http2_follow_multistream.pcapng": "TLS: sonde read without the key log sees no HTTP",
    "grpc/deepflow-grpc-unknown.pcap": "joined mid-stream: :path unknown to both",
    "grpc/suricata-http2-errorcode-grpc.pcap": "a stream tshark reads as POST sonde has as CONNECT",
    "grpc/wireshark-grpc_web.pcapng": "gRPC-Web over HTTP/1: tshark needs the ports per stream",
}


# ---------------------------------------------------------------- checks ---

class Consumers:
    """The two HAR readers: the JSON Schema (python3-jsonschema over
    node-har-schema) and har-validator under node."""

    def __init__(self):
        from jsonschema import Draft6Validator, FormatChecker, RefResolver
        store = {}
        for n in os.listdir(SCHEMA_DIR):
            if n.endswith(".json"):
                with open(os.path.join(SCHEMA_DIR, n)) as f:
                    store[n] = json.load(f)
        root = store["har.json"]
        self.schema = Draft6Validator(root, resolver=RefResolver("", root, store=store),
                                      format_checker=FormatChecker())
        self.node = shutil.which("node") and os.path.isdir("/usr/share/nodejs/har-validator")

    def errors(self, har_bytes):
        """What the consumers object to (empty: valid for both)."""
        try:
            har = json.loads(har_bytes)
        except ValueError as e:
            return ["not JSON: %s" % e]
        errs = ["schema: %s at %s" % (e.message, "/".join(map(str, e.absolute_path)))
                for e in list(self.schema.iter_errors(har))[:5]]
        if self.node:
            js = ('const v=require("har-validator");let d="";process.stdin.on("data",c=>d+=c);'
                  'process.stdin.on("end",()=>v.har(JSON.parse(d)).then(()=>process.exit(0),'
                  'e=>{console.log(JSON.stringify(e.errors||e.message));process.exit(1)}))')
            p = subprocess.run(["node", "-e", js], input=har_bytes, capture_output=True, timeout=60,
                               env={**os.environ, "NODE_PATH": "/usr/share/nodejs"})
            if p.returncode:
                errs.append("har-validator: %s" % (p.stdout + p.stderr).decode()[:400])
        return errs


def sonde_har(sonde, *args):
    p = subprocess.run([sonde, *args], capture_output=True, timeout=120)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def records(out):
    recs = []
    for ln in out.splitlines():
        try:
            recs.append(json.loads(ln))
        except ValueError:
            pass
    return recs


def tshark_opts():
    """Per-capture tshark options from SOURCES.md (decode-as, keys)."""
    opts = {}
    try:
        with open(os.path.join(CORPUS, "SOURCES.md")) as f:
            for ln in f:
                m = re.match(r"- `((?:http1|http2|grpc)/[^`]+)`.*tshark opts: `([^`]+)`", ln)
                if m:
                    opts[m.group(1)] = [x.replace("tls.keylog_file:", "tls.keylog_file:" + CORPUS + "/")
                                        for x in m.group(2).split()]
    except OSError:
        pass
    return opts


def tshark_fields(path, opts, fields):
    argv = ["tshark", "-n", "-r", path, *opts, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|"]
    for f in fields:
        argv += ["-e", f]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    cols = [[] for _ in fields]
    for ln in p.stdout.splitlines():
        for i, v in enumerate(ln.split("\t")[:len(fields)]):
            cols[i] += [x for x in v.split("|") if x]
    return cols


def final(status):
    return not (100 <= status < 200) or status == 101


def har_views(har, h2):
    """(methods, urls, statuses) of a HAR's entries, as tshark's fields say
    them: the :path for HTTP/2, CONNECT's authority without a scheme."""
    E = har["log"]["entries"]
    m = collections.Counter(e["request"]["method"] for e in E if e["request"]["method"])
    u = collections.Counter()
    for e in E:
        r = e["request"]
        if not r["method"]:
            continue
        url = r["url"]
        if h2:
            url = re.sub(r"^[a-z]+://[^/]*", "", url)
        elif r["method"] == "CONNECT":
            url = re.sub(r"^[a-z]+://", "", url)
        u[url] += 1
    s = collections.Counter(e["response"]["status"] for e in E if e["response"]["status"])
    return m, u, s


def json_views(recs, h2):
    """The same from sonde's own -o json records."""
    ex = [r for r in recs if r.get("type") == "exchange" and r.get("protocol") == "http"]
    m = collections.Counter(r["request"]["method"] for r in ex if (r.get("request") or {}).get("method"))
    s = collections.Counter(r["response"]["status"] for r in ex if (r.get("response") or {}).get("status"))
    return m, s, len(ex)


def phase_consumers(cons):
    broken = json.dumps({"log": {"version": "1.2", "creator": {"name": "x", "version": "1"},
                                 "entries": [{"startedDateTime": "yesterday", "time": "slow"}]}}).encode()
    errs = cons.errors(broken)
    check("the JSON Schema refuses a broken log", any(e.startswith("schema") for e in errs), errs)
    if cons.node:
        check("har-validator refuses a broken log", any(e.startswith("har-validator") for e in errs), errs)
    else:
        skip("node or node-har-validator missing: the schema alone checks")


def compare_corpus(sonde, cons, rel, opts):
    path = os.path.join(CORPUS, rel)
    h2 = not rel.startswith("http1/")
    rc, out, err = sonde_har(sonde, "read", "-o", "har", path)
    errs = cons.errors(out)
    if not check(f"{rel}: exit 0, a HAR both consumers accept", rc == 0 and not errs, (rc, errs, err[-300:])):
        return
    har = json.loads(out)
    hm, hu, hs = har_views(har, h2)
    jm, js, jn = json_views(records(sonde_har(sonde, "read", "-o", "json", path)[1]), h2)
    check(f"{rel}: one entry per HTTP record, methods and statuses as in -o json",
          len(har["log"]["entries"]) == jn and hm == jm and hs == js, (len(har["log"]["entries"]), jn))
    if rel in KNOWN:
        info(f"{rel}: not compared with tshark: {KNOWN[rel]}")
        return
    if h2:
        tm, tu, ts = tshark_fields(path, opts.get(rel, []),
                                   ["http2.headers.method", "http2.headers.path", "http2.headers.status"])
        tstat = collections.Counter(int(x) for x in ts if not 100 <= int(x) < 200)
    else:
        tm, tu, ts = tshark_fields(path, opts.get(rel, []),
                                   ["http.request.method", "http.request.full_uri", "http.response.code"])
        tstat = collections.Counter(int(x) for x in ts if final(int(x)))
    check(f"{rel}: methods, URLs and statuses as tshark's ({sum(hm.values())} requests)",
          (collections.Counter(tm), collections.Counter(tu), tstat) == (hm, hu, hs),
          {"tshark": (dict(collections.Counter(tm)), list(collections.Counter(tu))[:3], dict(tstat)),
           "har": (dict(hm), list(hu)[:3], dict(hs))})


def phase_corpus(sonde, cons):
    if not os.path.isdir(CORPUS):
        skip(f"no corpus at {CORPUS}")
        return
    if not shutil.which("tshark"):
        skip("no tshark")
        return
    opts = tshark_opts()
    n = 0
    for sub in ("http1", "http2", "grpc"):
        d = os.path.join(CORPUS, sub)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if name.endswith((".pcap", ".pcapng")):
                compare_corpus(sonde, cons, sub + "/" + name, opts)
                n += 1
    check("the corpus had HTTP captures to compare", n >= 40, n)
    # not HTTP: skipped and counted, and still a valid log
    dns = os.path.join(CORPUS, "dns")
    pick = sorted(os.path.join(dns, f) for f in os.listdir(dns) if f.endswith(".pcap"))[:1] if os.path.isdir(dns) else []
    for path in pick:
        recs = [r for r in records(sonde_har(sonde, "read", "-o", "json", path)[1]) if r.get("type") == "exchange"]
        rc, out, err = sonde_har(sonde, "read", "-o", "har", path)
        har = json.loads(out) if rc == 0 else {}
        check(f"{os.path.basename(path)}: no entries, {len(recs)} DNS records counted as skipped, said on stderr",
              recs and not cons.errors(out) and har["log"]["entries"] == []
              and har["log"]["_skipped_records"] == len(recs)
              and f"{len(recs)} records were not HTTP" in err, (len(recs), out[-200:], err))


# ------------------------------------------------------------------ live ---

KEY = ["--redact-key", "har-e2e"]  # the same masks in every run
SECRETS = {"token": "Hq1QueryTok77", "cookie": "Hq2CookieVal31", "bearer": "Hq3BearerTok5e"}
BINARY = bytes(range(256))
GZ_TEXT = b"compressible " * 200


def gz(data):
    import gzip
    return gzip.compress(data, mtime=0)


RESPONSES = {
    "/redir": (b"HTTP/1.1 302 Found\r\nLocation: /next?x=1\r\n"
               b"Set-Cookie: id=a3fWa; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=/docs; Secure; HttpOnly\r\n"
               b"Set-Cookie: lang=en; Domain=example.test\r\nContent-Length: 0\r\n\r\n"),
    "/bin": (b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 256\r\n\r\n" + BINARY),
    "/gz": (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
            % len(gz(GZ_TEXT)) + gz(GZ_TEXT)),
    "/text": (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Weird: a\x01\"\\\xff\xfeb\r\n"
              b"Content-Length: 5\r\n\r\nhello"),
}


def serve(lsock, stop):
    """A raw HTTP/1.1 server: each request answered from RESPONSES by path."""
    lsock.settimeout(0.2)
    while not stop.is_set():
        try:
            c, _ = lsock.accept()
        except OSError:
            continue
        buf = b""
        with c:
            c.settimeout(5)
            while True:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        break
                    buf += d
                if b"\r\n\r\n" not in buf:
                    break
                head, buf = buf.split(b"\r\n\r\n", 1)
                m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                need = int(m.group(1)) if m else 0
                while len(buf) < need:
                    buf += c.recv(65536)
                buf = buf[need:]
                path = head.split(b" ")[1].split(b"?")[0].decode()
                c.sendall(RESPONSES.get(path, RESPONSES["/text"]))


def client(port):
    s = socket.create_connection(("127.0.0.1", port))
    reqs = [
        b"GET /redir?a=1&b=%%41%%zz&c=+x+&token=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
        b"Cookie: sid=%s; theme=dark\r\nAuthorization: Bearer %s\r\n\r\n"
        % (SECRETS["token"].encode(), port, SECRETS["cookie"].encode(), SECRETS["bearer"].encode()),
        b"POST /bin HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Length: 256\r\n\r\n" % port + BINARY,
        b"GET /gz HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept-Encoding: gzip\r\n\r\n" % port,
        b"GET /text?q=%%E2%%9C%%93 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Hostile: \x01\"\\\xff\r\n\r\n" % port,
    ]
    for r in reqs:
        s.sendall(r)
        got = b""
        while b"\r\n\r\n" not in got:
            got += s.recv(65536)
        head, body = got.split(b"\r\n\r\n", 1)
        m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        while m and len(body) < int(m.group(1)):
            body += s.recv(65536)
    s.close()


def by_path(har):
    out = {}
    for e in har["log"]["entries"]:
        out[re.sub(r"^http://[^/]*", "", e["request"]["url"]).split("?")[0]] = e
    return out


def check_live_entries(name, har, port):
    E = by_path(har)
    check(f"{name}: the four exchanges", sorted(E) == ["/bin", "/gz", "/redir", "/text"], sorted(E))
    if sorted(E) != ["/bin", "/gz", "/redir", "/text"]:
        return
    r = E["/redir"]
    q = {p["name"]: p["value"] for p in r["request"]["queryString"]}
    check(f"{name}: queryString decoded (%41, '+', a bad %zz kept), the token masked",
          q.get("a") == "1" and q.get("b") == "A%zz" and q.get("c") == " x " and q.get("token", "").startswith("****["),
          q)
    check(f"{name}: url is scheme://Host + target", r["request"]["url"].startswith("http://127.0.0.1:%d/redir?" % port),
          r["request"]["url"])
    ck = {c["name"]: c["value"] for c in r["request"]["cookies"]}
    check(f"{name}: request cookies parsed, values masked", set(ck) == {"sid", "theme"}
          and all(v.startswith("****[") for v in ck.values()), ck)
    sc = {c["name"]: c for c in r["response"]["cookies"]}
    want = {"name": "id", "path": "/docs", "expires": "2015-10-21T07:28:00Z", "secure": True, "httpOnly": True}
    check(f"{name}: Set-Cookie attributes (path, expires as ISO 8601, secure, httpOnly; domain)",
          set(sc) == {"id", "lang"} and all(sc["id"].get(k) == v for k, v in want.items())
          and sc["lang"].get("domain") == "example.test" and sc["id"]["value"].startswith("****["), sc)
    check(f"{name}: 302 with redirectURL", r["response"]["status"] == 302 and r["response"]["redirectURL"] == "/next?x=1",
          r["response"])
    b = E["/bin"]
    pd = b["request"].get("postData", {})
    import base64
    check(f"{name}: binary postData: mimeType, base64 text (_encoding), bodySize",
          pd.get("mimeType") == "application/octet-stream" and pd.get("_encoding") == "base64"
          and base64.b64decode(pd.get("text", "")) == BINARY and b["request"]["bodySize"] == 256, pd)
    c = b["response"]["content"]
    check(f"{name}: binary content base64, size 256",
          c.get("encoding") == "base64" and base64.b64decode(c.get("text", "")) == BINARY and c["size"] == 256
          and c["mimeType"] == "image/png", c)
    g = E["/gz"]["response"]
    check(f"{name}: gzip body (--decode-bodies): decoded text, size, compression = size - bodySize",
          g["content"].get("text", "").encode() == GZ_TEXT and g["content"]["size"] == len(GZ_TEXT)
          and g["bodySize"] == len(gz(GZ_TEXT)) and g["content"].get("compression") == len(GZ_TEXT) - len(gz(GZ_TEXT)),
          {k: v for k, v in g["content"].items() if k != "text"})
    t = E["/text"]
    wh = [h["value"] for h in t["response"]["headers"] if h["name"] == "X-Weird"]
    check(f"{name}: header bytes that are not text arrive escaped (control, quote, backslash; bad UTF-8 as U+FFFD)",
          wh and wh[0].startswith("a\x01\"\\") and "\ufffd" in wh[0], wh)
    q = {p["name"]: p["value"] for p in t["request"]["queryString"]}
    check(f"{name}: a %-encoded UTF-8 query value decoded", q.get("q") == "\u2713", q)
    for e in E.values():
        tm = e["timings"]
        if abs(tm["send"] + tm["wait"] + tm["receive"] - e["time"]) > 0.002 or e["time"] < 0:
            check(f"{name}: timings add up to time", False, (tm, e["time"]))
            break
    else:
        check(f"{name}: timings add up to time, every entry", True)
    check(f"{name}: serverIPAddress and connection", all(e.get("serverIPAddress") == "127.0.0.1" and e.get("connection")
                                                        for e in E.values()))


def keyset(har):
    return sorted((e["startedDateTime"], e["request"]["method"], e["request"]["url"], e["response"]["status"])
                  for e in har["log"]["entries"])


def phase_live(sonde, cons, tmp):
    if os.geteuid():
        skip("live capture needs root")
        return
    port = free_port()
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", port))
    lsock.listen(8)
    stop = threading.Event()
    th = threading.Thread(target=serve, args=(lsock, stop), daemon=True)
    th.start()
    pcap = os.path.join(tmp, "har.pcap")
    td = livelib.Child(["tcpdump", "-i", "lo", "-s", "0", "-U", "--immediate-mode", "-w", pcap, "tcp port %d" % port],
                       name="tcpdump", stdin=False)
    run = SondeRun(sonde, tmp, "capture", ["--port", str(port), "-o", "har", "--decode-bodies", *KEY], R)
    try:
        deadline = time.time() + 15
        while "listening on" not in td.stderr() and time.time() < deadline:
            time.sleep(0.05)
        if not run.ok:
            return
        client(port)
        time.sleep(1)
        rc, _ = run.stop()
        check("capture -o har: exit 0 on Ctrl-C (the log closed)", rc == 0, run.stderr()[-500:])
    finally:
        kill_sondes()
        td.kill()
        stop.set()
        lsock.close()
    with open(run.out, "rb") as f:
        cap = f.read()
    errs = cons.errors(cap)
    if not check("capture -o har: a HAR both consumers accept", cap and not errs, (errs, cap[-300:])):
        return
    leaked = [k for k, v in SECRETS.items() if v.encode() in cap]
    check("capture -o har: no planted secret in any byte", not leaked, leaked)
    check_live_entries("capture -o har", json.loads(cap), port)
    rc, out, err = sonde_har(sonde, "read", "-o", "har", "--decode-bodies", *KEY, pcap)
    check("read -o har of tcpdump's file: valid, the same entries as the live capture (method, url, status)",
          rc == 0 and not cons.errors(out)
          and [k[1:] for k in keyset(json.loads(out))] == [k[1:] for k in keyset(json.loads(cap))],
          (err[-300:], rc == 0 and [k[1:] for k in keyset(json.loads(out))], [k[1:] for k in keyset(json.loads(cap))]))
    check_live_entries("read -o har", json.loads(out), port)
    st = os.path.join(tmp, "store")
    rc, _, err = sonde_har(sonde, "read", "--decode-bodies", *KEY, "--store", st, "-o", "none", pcap)
    rc2, q, qerr = sonde_har(sonde, "query", "--store", st, "-o", "har", "--oldest-first")
    check("query -o har: valid, the entries read -o har wrote, byte for byte",
          rc == 0 and rc2 == 0 and not cons.errors(q) and json.loads(q)["log"]["entries"] == json.loads(out)["log"]["entries"],
          (err, qerr, rc2 == 0 and [e for e in json.loads(q)["log"]["entries"] if e not in json.loads(out)["log"]["entries"]][:1],
           rc == 0 and [e for e in json.loads(out)["log"]["entries"] if e not in json.loads(q)["log"]["entries"]][:1]))
    rc, one, _ = sonde_har(sonde, "read", "-o", "har", "-c", "1", pcap)
    check("read -o har -c 1: one entry", rc == 0 and len(json.loads(one)["log"]["entries"]) == 1)
    rc, c, err = sonde_har(sonde, "read", "-o", "har", "--connections", pcap)
    har = json.loads(c) if rc == 0 else {}
    check("read -o har --connections: the connection record skipped, counted, said",
          rc == 0 and len(har["log"]["entries"]) == 4 and har["log"]["_skipped_records"] == 1
          and "1 records were not HTTP" in err, (rc, err))


def main():
    sonde = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "./sonde")
    if not os.path.isdir(SCHEMA_DIR):
        skip("no node-har-schema (scripts/setup installs it)")
        return 0
    cons = Consumers()
    phase_consumers(cons)
    phase_corpus(sonde, cons)
    tmp = tempfile.mkdtemp(prefix="sonde-har.")
    try:
        phase_live(sonde, cons, tmp)
    finally:
        kill_children()
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
