#!/usr/bin/env python3
"""Redaction end to end: no output of sonde carries a secret.

The same secrets are planted in real traffic on loopback — HTTP/1 headers
(Authorization, Proxy-Authorization, Cookie, Set-Cookie, X-Api-Key), URLs
(query parameters, userinfo of an absolute-form target), a JSON body, a form
body, a card number, HTTP/2 headers (nghttp to nghttpd), gRPC metadata
(python3-grpcio), Redis AUTH and HELLO ... AUTH (redis-server with
requirepass), ACL SETUSER's password, CONFIG SET masterauth and CONFIG
GET's reply, MIGRATE ... AUTH / AUTH2 to a second redis-server (and that
server connection's own AUTH), an inline CONFIG SET — and captured twice:

  * by tcpdump into a pcap, read by `sonde read` into every record format
    (JSON, text, HAR, --stats) and again with --no-redact, --redact-header,
    --redact-field, --redact-pattern, --redact-rules and --body-limit 0;
  * live, by `sonde capture` (eBPF) with -w and --store, in cleartext and
    over TLS (Python's ssl module: OpenSSL plaintext through the uprobes),
    so the recording of streams and TLS plaintext, and the store (what
    `sonde query` reads back, and its files' bytes), are checked too.

Every output is searched byte for byte for every secret; the masks must be
there, in the documented form ****[LEN:HASH], where HASH is recomputed here
from --redact-key (HMAC-SHA256 keyed with SHA-256 of the key, first 4
bytes): the length and the hash are checked, so equal tokens hash equal.
The recording keeps every length: the secret's bytes become '*' and
tshark still dissects the TLS plaintext as HTTP.

Usage: test_redact.py path/to/sonde. PASS/FAIL/SKIP lines; exit 1 on FAIL.
"""
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import livelib
from livelib import Report, SondeRun, free_port, kill_children, kill_sondes, wait_port

PY = "/usr/bin/python3"
KEY = "redact-e2e-key"
R = Report("redact")
check, info, skip = R.check, R.info, R.skip

# Every secret is a string found nowhere else.
S = {
    "bearer": "Zq1BearerTok7c9e",
    "proxy": "Zq2ProxyCred4a1",
    "cookie": "Zq3CookieVal88",
    "xapi": "Zq4ApiKeyHdr51",
    "query": "Zq5QueryTok0b",
    "urlpass": "Zq6UrlPass3f",
    "jsonpass": "Zq7JsonPass19",
    "refresh": "Zq8Refresh5d2",
    "formpass": "Zq9FormPass6e",
    "formcs": "Zq10FormCs7a",
    "setcookie": "Zq11SetCookie0",
    "resptoken": "Zq12RespTok4",
    "card": "4111111111111111",
    "h2bearer": "Zq13H2Bearer9",
    "h2apikey": "Zq14H2ApiKey2",
    "h2query": "Zq15H2Query8",
    "grpcbearer": "Zq16GrpcBear1",
    "grpcapikey": "Zq17GrpcKey6",
    "redispass": "Zq18RedisPw3",
    "redisacl": "Zq21AclPw8",
    "redismaster": "Zq22MasterPw4",
    "redismig": "Zq23MigPw6",
    "redisinline": "Zq24InlinePw2",
}
# Live only, masked by the --redact-pattern the live capture is given: in
# an HTTP/2 field no header rule names, Huffman-coded on the wire.
LIVE = {"h2pattern": "ZZ-771234"}
LIVE_PATTERN = "ZZ-[0-9]{6}"
# Only masked with the options that ask for them.
CUSTOM = {"hdr": "Zq19CustomHdr", "field": "Zq20EmpPin", "pattern": "ZZ-483920"}


def mask(secret):
    k = hashlib.sha256(KEY.encode()).digest()
    h = hmac.new(k, secret.encode(), hashlib.sha256).digest()[:4].hex()
    return "****[%d:%s]" % (len(secret.encode()), h)


SERVER = r'''
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self): self.reply()
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0)); self.reply()
    def reply(self):
        b = b'{"ok":true,"access_token":"%s"}' % TOKEN.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", "session=%s; Path=/; HttpOnly" % COOKIE)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a): pass
# argv: PORT --access_token=T --session_secret=C [CERT KEY]: secrets given as
# options, which sonde masks in the command lines it writes
TOKEN, COOKIE = sys.argv[2].split("=", 1)[1], sys.argv[3].split("=", 1)[1]
srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
if len(sys.argv) > 4:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[4], sys.argv[5])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("listening", flush=True)
srv.serve_forever()
'''

# The HTTP/1 requests: argv port secrets.json [tls]
CLIENT = r'''
import http.client, json, socket, ssl, sys
port, S, tls = int(sys.argv[1]), json.load(open(sys.argv[2])), len(sys.argv) > 3
ctx = ssl._create_unverified_context() if tls else None
def conn():
    return http.client.HTTPSConnection("127.0.0.1", port, context=ctx) if tls else http.client.HTTPConnection("127.0.0.1", port)
c = conn()
hdrs = {"Authorization": "Bearer " + S["bearer"], "Proxy-Authorization": "Basic " + S["proxy"],
        "Cookie": "sid=%s; theme=dark" % S["cookie"], "X-Api-Key": S["xapi"]}
for path in ("/p?x=1&token=%s&y=2" % S["query"], "/again"):
    c.request("GET", path, headers=hdrs); c.getresponse().read()
c.request("POST", "/login", body=json.dumps({"user": "bob", "password": S["jsonpass"],
          "card": S["card"], "nested": {"refresh_token": S["refresh"]}}),
          headers={"Content-Type": "application/json"}); c.getresponse().read()
c.request("POST", "/form", body="user=bob&password=%s&client_secret=%s" % (S["formpass"], S["formcs"]),
          headers={"Content-Type": "application/x-www-form-urlencoded"}); c.getresponse().read()
c.request("POST", "/custom", body=json.dumps({"employee_pin": S["field"], "note": S["pattern"]}),
          headers={"Content-Type": "application/json", "X-Custom-Secret": S["hdr"]}); c.getresponse().read()
c.close()
# an absolute-form target with userinfo (clients turn it into a header; a proxy gets it as sent)
s = socket.create_connection(("127.0.0.1", port))
if tls:
    s = ctx.wrap_socket(s)
s.sendall(b"GET http://alice:%s@127.0.0.1:%d/u HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (S["urlpass"].encode(), port))
while s.recv(65536):
    pass
s.close()
'''

GRPC = r'''
import grpc, sys
from concurrent import futures
def echo(req, ctx):
    return req
if sys.argv[1] == "serve":
    s = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    s.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("demo.Echo",
        {"Say": grpc.unary_unary_rpc_method_handler(echo)}),))
    s.add_insecure_port("127.0.0.1:" + sys.argv[2]); s.start()
    print("ready", flush=True); s.wait_for_termination(60)
else:
    ch = grpc.insecure_channel("127.0.0.1:" + sys.argv[2])
    # --token=T --api_key=K: options, masked in the command line sonde writes
    md = (("authorization", "Bearer " + sys.argv[3].split("=", 1)[1]), ("x-api-key", sys.argv[4].split("=", 1)[1]))
    assert ch.unary_unary("/demo.Echo/Say")(b"\x0a\x02hi", metadata=md, timeout=10) == b"\x0a\x02hi"
    ch.close()
'''


def start(argv, ready, name):
    """A server in its own session; waits for `ready` on its stdout."""
    c = livelib.Child(argv, name=name, stdin=False)
    if ready:
        c.wait_for(ready, 20)
    return c


def traffic(tmp, ports, tls_files=None):
    """Every client once; returns why not if one failed."""
    sj = os.path.join(tmp, "secrets.json")
    with open(sj, "w") as f:
        json.dump({**S, **CUSTOM}, f)
    why = []
    runs = [[PY, os.path.join(tmp, "client.py"), str(ports["http"]), sj]]
    if tls_files:
        runs.append([PY, os.path.join(tmp, "client.py"), str(ports["https"]), sj, "tls"])
    if "h2" in ports:
        runs.append(["nghttp", "-n", "-H", "authorization: Bearer " + S["h2bearer"], "-H",
                     "x-api-key: " + S["h2apikey"], "-H", "x-note: ref %s end" % LIVE["h2pattern"],
                     "http://127.0.0.1:%d/a.txt?access_token=%s" % (ports["h2"], S["h2query"])])
    if "grpc" in ports:
        runs.append([PY, os.path.join(tmp, "grpc_demo.py"), "call", str(ports["grpc"]), "--token=" + S["grpcbearer"],
                     "--api_key=" + S["grpcapikey"]])
    # redis-cli's password through the environment, HELLO through stdin: a
    # short option (-a PASS) in a command line is not recognised (docs)
    rc = ["redis-cli", "--no-auth-warning", "-p", str(ports["redis"])]
    for argv in runs:
        p = subprocess.run(argv, capture_output=True, timeout=60)
        if p.returncode:
            why.append("%s: %s" % (" ".join(argv[:2]), p.stderr.decode()[-300:]))
    p = subprocess.run(rc + ["PING"], env={**os.environ, "REDISCLI_AUTH": S["redispass"]},
                       capture_output=True, timeout=30)
    if b"PONG" not in p.stdout:
        why.append("redis-cli AUTH: %r" % p.stdout)
    p = subprocess.run(rc, input=("HELLO 3 AUTH default %s\n" % S["redispass"]).encode(),
                       capture_output=True, timeout=30)
    if b"redis" not in p.stdout:
        why.append("redis-cli HELLO: %r" % p.stdout)
    # the commands that carry credentials, through stdin (arguments would
    # be in redis-cli's command line, which sonde does not mask for them)
    cmds = ("SET mk v\nACL SETUSER zq on >%s ~* +@all\nCONFIG SET masterauth %s\n"
            "CONFIG GET masterauth\nMIGRATE 127.0.0.1 %d mk 0 5000 COPY AUTH %s\n"
            "MIGRATE 127.0.0.1 %d \"\" 0 5000 REPLACE AUTH2 default %s KEYS mk\n"
            % (S["redisacl"], S["redismaster"], ports["redis2"], S["redismig"], ports["redis2"],
               S["redismig"]))
    p = subprocess.run(rc, input=cmds.encode(), env={**os.environ, "REDISCLI_AUTH": S["redispass"]},
                       capture_output=True, timeout=30)
    if p.stdout.count(b"OK") < 5 or S["redismaster"].encode() not in p.stdout:
        why.append("redis-cli credentials: %r" % p.stdout)
    # an inline command, as telnet or nc would send it (the secrets read
    # from the file: in the command line, sonde would write them)
    inline = ("import json, socket, sys; S = json.load(open(sys.argv[2])); "
              "s = socket.create_connection(('127.0.0.1', int(sys.argv[1]))); "
              "s.sendall(b'AUTH %s\\r\\nCONFIG SET masterauth %s\\r\\nQUIT\\r\\n' "
              "% (S['redispass'].encode(), S['redisinline'].encode())); "
              "print(b''.join(iter(lambda: s.recv(4096), b'')))")
    p = subprocess.run([PY, "-c", inline, str(ports["redis"]), sj], capture_output=True, timeout=30)
    if p.stdout.count(b"OK") < 3:
        why.append("inline CONFIG SET: %r %r" % (p.stdout, p.stderr))
    return why


def start_servers(tmp, ports, tls_files=None):
    for name, text in (("server.py", SERVER), ("client.py", CLIENT), ("grpc_demo.py", GRPC)):
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text)
    opts = ["--access_token=" + S["resptoken"], "--session_secret=" + S["setcookie"]]
    start([PY, os.path.join(tmp, "server.py"), str(ports["http"]), *opts], "listening", "http")
    if tls_files:
        start([PY, os.path.join(tmp, "server.py"), str(ports["https"]), *opts, *tls_files], "listening",
              "https")
    if "h2" in ports:
        www = os.path.join(tmp, "www")
        os.makedirs(www, exist_ok=True)
        with open(os.path.join(www, "a.txt"), "w") as f:
            f.write("hello\n")
        start(["nghttpd", "--no-tls", "-d", www, str(ports["h2"])], None, "nghttpd")
    if "grpc" in ports:
        start([PY, os.path.join(tmp, "grpc_demo.py"), "serve", str(ports["grpc"])], "ready", "grpc")
    # the second: MIGRATE's target, with a password of its own
    for name, password in (("redis", S["redispass"]), ("redis2", S["redismig"])):
        rd = os.path.join(tmp, name)
        os.makedirs(rd, exist_ok=True)
        subprocess.run(["redis-server", "--port", str(ports[name]), "--bind", "127.0.0.1", "--dir", rd,
                        "--save", "", "--appendonly", "no", "--daemonize", "yes", "--pidfile",
                        rd + "/r.pid", "--logfile", rd + "/r.log", "--requirepass", password], check=True)
    return all(wait_port(p) for p in ports.values())


def stop_redis(tmp):
    for name in ("redis", "redis2"):
        try:
            with open(os.path.join(tmp, name, "r.pid")) as f:
                os.kill(int(f.read()), 15)
        except (OSError, ValueError):
            pass


def leaks(data, secrets):
    return [k for k, v in secrets.items() if v.encode() in data]


def records(out):
    recs = []
    for ln in out.splitlines():
        try:
            recs.append(json.loads(ln))
        except ValueError:
            pass
    return recs


def read(sonde, pcap, *extra):
    return subprocess.run([sonde, "read", "--redact-key", KEY, *extra, pcap], capture_output=True, timeout=120)


def check_pcap(sonde, tmp, pcap, have):
    """The pcap through every output of `sonde read`."""
    planted = {k: v for k, v in S.items() if k in have}
    outs = {
        "json": read(sonde, pcap, "-o", "json", "--stats"),
        "text": read(sonde, pcap, "-o", "text", "--stats"),
        "text -V": read(sonde, pcap, "-o", "text", "-V"),
        "json --summary": read(sonde, pcap, "-o", "json", "--summary"),
        "text --summary": read(sonde, pcap, "-o", "text", "--summary"),
        "har --stats": read(sonde, pcap, "-o", "har", "--stats"),
    }
    summ = [r for r in records(outs["json --summary"].stdout.decode()) if r.get("type") == "summary"]
    http = [g for r in summ for g in r.get("groups", []) if g.get("protocol") == "http"]
    check("--summary: masked records still classified (HTTP outcomes ok, none unknown)",
          http and all(g["outcomes"]["unknown"] == 0 and g["outcomes"]["ok"] > 0 for g in http), http)
    ids = sorted({r["conn"]["id"] for r in records(outs["json"].stdout.decode()) if r.get("type") == "exchange"})
    follow = [read(sonde, pcap, "--follow", str(i)) for i in ids]
    for name, p in outs.items():
        check(f"read -o {name}: exit 0", p.returncode == 0, p.stderr[-500:])
        raw = p.stdout + p.stderr
        bad = leaks(raw, planted)
        check(f"read -o {name}: no secret in any output byte", not bad, bad)
    raw = b"".join(p.stdout + p.stderr for p in follow)
    check(f"read --follow (each of {len(ids)} connections): no secret in the conversations",
          ids and all(p.returncode == 0 for p in follow) and not leaks(raw, planted), leaks(raw, planted))
    check("read --follow: secrets as '*', lengths kept",
          ("Authorization: Bearer " + "*" * len(S["bearer"])).encode() in raw)
    j = outs["json"].stdout.decode()
    for k, v in planted.items():
        if k in ("card",) or k.startswith("redis"):
            continue
        check(f"read -o json: {k} written as its mask {mask(v)}", mask(v) in j)
    check("read -o json: the card number's mask", mask(S["card"]) in j)
    check("read -o json: Authorization keeps its scheme", ("Bearer " + mask(S["bearer"])) in j)
    recs = records(j)
    ex = [r for r in recs if r.get("type") == "exchange"]
    auths = [v for r in ex for n, v in (r.get("request") or {}).get("headers", []) if n == "Authorization"]
    check("read -o json: the same token twice hashes equal", len(auths) >= 2 and len(set(auths)) == 1, auths)
    check("read -o json: cookie names kept, values masked",
          ("sid=%s; theme=%s" % (mask(S["cookie"]), mask("dark"))) in j)
    har = json.loads(outs["har --stats"].stdout)["log"]["entries"]
    hc = [c for e in har for c in e["request"]["cookies"] if c["name"] == "sid"]
    hq = [q for e in har for q in e["request"]["queryString"] if q["name"] == "token"]
    check("read -o har: cookies and query parameters parsed from the masked values",
          hc and hq and all(c["value"] == mask(S["cookie"]) for c in hc)
          and all(q["value"] == mask(S["query"]) for q in hq), (hc, hq))
    if "redispass" in have:
        rd = [r for r in ex if r.get("protocol") == "redis" and r["request"].get("command") in ("AUTH", "HELLO")]
        args = [a for r in rd for a in r["request"].get("arguments", [])]
        auth = [a for r in rd if r["request"]["command"] == "AUTH" for a in r["request"]["arguments"]]
        check("read -o json: Redis AUTH and HELLO AUTH passwords masked (every AUTH argument a mask)",
              len(rd) >= 2 and args.count(mask(S["redispass"])) >= 2
              and all(a.startswith("****[") for a in auth), args)
        check("read -o text: the Redis AUTH line masked", mask(S["redispass"]) in outs["text"].stdout.decode())
        for k, what in (("redisacl", "ACL SETUSER's >password"), ("redismaster", "CONFIG SET masterauth"),
                        ("redismig", "MIGRATE's AUTH"), ("redisinline", "the inline CONFIG SET")):
            m = mask(">" + S[k]) if k == "redisacl" else mask(S[k])
            check(f"read -o json: Redis {what} written as its mask", m in j, m)
        gets = [r for r in ex if r.get("protocol") == "redis" and r["request"].get("command") == "CONFIG"
                and "GET" in r["request"].get("arguments", [])]
        check("read -o json: CONFIG GET's reply masks masterauth's value",
              gets and mask(S["redismaster"]) in json.dumps(gets[0]["response"]), gets[:1])
    check("read -o text: the query token masked in the line", mask(S["query"]) in outs["text"].stdout.decode())
    st = [r for r in recs if r.get("type") == "stats"]
    check("read --stats: redacted_values counted", st and st[0].get("redacted_values", 0) >= len(planted),
          st and st[0].get("redacted_values"))
    check("read: no record flagged unredacted", not any("unredacted" in r.get("flags", []) for r in ex))
    # what the options add
    custom = read(sonde, pcap, "-o", "json")
    check("defaults leave other headers and fields alone (the options below are needed)",
          all(v.encode() in custom.stdout for v in CUSTOM.values()))
    rules = os.path.join(tmp, "rules")
    with open(rules, "w") as f:
        f.write("# test rules\nheader x-custom-secret\nfield employee_pin\npattern ZZ-[0-9]{6}\n")
    for name, extra in (("flags", ["--redact-header", "X-Custom-Secret", "--redact-field", "employee.pin",
                                   "--redact-field", "employee_pin", "--redact-pattern", "ZZ-[0-9]{6}"]),
                        ("--redact-rules", ["--redact-rules", rules])):
        p = read(sonde, pcap, "-o", "json", *extra)
        bad = leaks(p.stdout, CUSTOM)
        check(f"{name}: custom header, field and pattern masked", p.returncode == 0 and not bad, bad or p.stderr)
        check(f"{name}: their masks written", all(mask(v) in p.stdout.decode() for v in CUSTOM.values()))
    p = read(sonde, pcap, "-o", "json", "--redact-pattern", "([unclosed")
    check("--redact-pattern: a bad regex is refused (status 2)", p.returncode == 2, p.stderr)
    # --no-redact: loud
    p = read(sonde, pcap, "-o", "json", "--stats", "--no-redact")
    recs = records(p.stdout.decode())
    ex = [r for r in recs if r.get("type") == "exchange"]
    check("--no-redact: secrets written as captured", S["bearer"].encode() in p.stdout)
    check("--no-redact: a warning on stderr", b"WARNING: --no-redact" in p.stderr, p.stderr)
    # connection records are records too: flagged and counted like exchanges
    conns = [r for r in recs if r.get("type") == "connection"]
    check("--no-redact: every record flagged unredacted (exchanges and connections)",
          ex and conns and all("unredacted" in r["flags"] for r in ex + conns), len(conns))
    st = [r for r in recs if r.get("type") == "stats"]
    check("--no-redact: stats count the unredacted records",
          st and st[0].get("unredacted_records") == len(ex) + len(conns),
          st and (st[0].get("unredacted_records"), len(ex), len(conns)))
    # --body-limit 0: headers, no bodies
    p = read(sonde, pcap, "-o", "json", "--body-limit", "0")
    ex = [r for r in records(p.stdout.decode()) if r.get("type") == "exchange" and r.get("protocol") == "http"]
    check("--body-limit 0: no body data at all, sizes kept",
          ex and all("data" not in (r.get(m) or {}).get("body", {}) for r in ex for m in ("request", "response"))
          and any((r.get("request") or {}).get("body", {}).get("size", 0) > 0 for r in ex))
    # --no-bodies http: the same, by protocol; Redis records untouched
    p = read(sonde, pcap, "-o", "json", "--no-bodies", "http")
    recs = [r for r in records(p.stdout.decode()) if r.get("type") == "exchange"]
    http = [r for r in recs if r.get("protocol") == "http"]
    check("--no-bodies http: HTTP records keep headers, no body data",
          http and all("data" not in (r.get(m) or {}).get("body", {}) for r in http for m in ("request", "response"))
          and all((r.get("request") or {}).get("headers") is not None for r in http))
    check("--no-bodies http: other protocols' records still written",
          "redispass" not in have or any(r.get("protocol") == "redis" for r in recs))
    # -w of packets: recorded as the wire carried them, and said so
    rec = os.path.join(tmp, "read.pcapng")
    p = read(sonde, pcap, "-o", "json", "-w", rec)
    check("read -w: says packets are recorded as the wire carried them",
          b"recorded as the wire carried them" in p.stderr, p.stderr)


def phase_pcap(sonde, tmp):
    if not shutil.which("tcpdump") or os.geteuid():
        skip("tcpdump on loopback needs root and tcpdump")
        return
    ports = {"http": free_port(), "redis": free_port(), "redis2": free_port()}
    if shutil.which("nghttpd") and shutil.which("nghttp"):
        ports["h2"] = free_port()
    if subprocess.run([PY, "-c", "import grpc"], capture_output=True).returncode == 0:
        ports["grpc"] = free_port()
    have = set(S) - {"h2bearer", "h2apikey", "h2query", "grpcbearer", "grpcapikey"}
    have |= {"h2bearer", "h2apikey", "h2query"} if "h2" in ports else set()
    have |= {"grpcbearer", "grpcapikey"} if "grpc" in ports else set()
    if "h2" not in ports:
        info("no nghttp2-server/client: HTTP/2 headers not planted")
    pcap = os.path.join(tmp, "secrets.pcap")
    filt = " or ".join("tcp port %d" % p for p in ports.values())
    td = livelib.Child(["tcpdump", "-i", "lo", "-s", "0", "-U", "--immediate-mode", "-w", pcap, filt],
                       name="tcpdump", stdin=False)
    deadline = time.time() + 15
    while "listening on" not in td.stderr() and time.time() < deadline and td.alive():
        time.sleep(0.05)
    if not check("pcap: tcpdump started", "listening on" in td.stderr(), td.stderr()):
        return
    try:
        if not check("pcap: servers up", start_servers(tmp, ports)):
            return
        why = traffic(tmp, ports)
        check("pcap: every client ran", not why, why)
        time.sleep(0.5)
    finally:
        td.kill()
        stop_redis(tmp)
        kill_children()
    with open(pcap, "rb") as f:
        raw = f.read()
    # HTTP/2 and gRPC header values are HPACK-coded (Huffman) on the wire
    clear = [k for k in have if not k.startswith(("h2", "grpc"))]
    check("pcap: every planted secret is in the capture", all(S[k].encode() in raw for k in clear),
          [k for k in clear if S[k].encode() not in raw])
    check_pcap(sonde, tmp, pcap, have)


def phase_live(sonde, tmp):
    if os.geteuid():
        skip("live capture needs root")
        return
    cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1"], capture_output=True, check=True)
    ports = {"http": free_port(), "https": free_port(), "redis": free_port(), "redis2": free_port()}
    if shutil.which("nghttpd") and shutil.which("nghttp"):
        ports["h2"] = free_port()
    if subprocess.run([PY, "-c", "import grpc"], capture_output=True).returncode == 0:
        ports["grpc"] = free_port()
    kinds = {"h2": "h2" in ports, "grpc": "grpc" in ports}
    planted = {k: v for k, v in {**S, **LIVE}.items()
               if kinds.get(k[:4] if k.startswith("grpc") else k[:2], True)}
    try:
        if not check("live: servers up", start_servers(tmp, ports, (cert, key))):
            return
        rec = os.path.join(tmp, "live.pcapng")
        plist = ",".join(str(p) for p in ports.values())
        store = os.path.join(tmp, "store")
        run = SondeRun(sonde, tmp, "live", ["--port", plist, "--redact-key", KEY, "--redact-pattern",
                                            LIVE_PATTERN, "-w", rec, "--store", store], R)
        if not run.ok:
            return
        why = traffic(tmp, ports, (cert, key))
        check("live: every client ran", not why, why)
        rc, recs = run.stop()
    finally:
        stop_redis(tmp)
        kill_children()
    check("live: sonde exited 0", rc == 0, run.stderr()[-500:])
    with open(run.out, "rb") as f:
        out = f.read()
    bad = leaks(out + run.stderr().encode(), planted)
    check("live: no secret in the records", not bad, bad)
    ex = [r for r in recs if r.get("type") == "exchange"]
    tls = [r for r in ex if r["capture"]["method"].startswith("ebpf-tls")]
    plain = [r for r in ex if r["protocol"] == "http" and not r["capture"]["method"].startswith("ebpf-tls")]
    j = out.decode()
    check("live: TLS plaintext records carry the masks",
          tls and ("Bearer " + mask(S["bearer"])) in json.dumps(tls) and mask(S["jsonpass"]) in json.dumps(tls),
          len(tls))
    check("live: cleartext records carry the masks", plain and mask(S["formpass"]) in json.dumps(plain))
    check("live: Redis AUTH masked", mask(S["redispass"]) in j)
    check("live: Redis ACL SETUSER, CONFIG SET/GET, MIGRATE AUTH/AUTH2 masked",
          all(m in j for m in (mask(">" + S["redisacl"]), mask(S["redismaster"]), mask(S["redismig"]))))
    mig = [r for r in recs if r.get("type") == "exchange" and r.get("protocol") == "redis"
           and r["request"].get("command") == "AUTH" and r["conn"]["server"]["port"] == ports["redis2"]]
    check("live: MIGRATE's own connection to the second server, its AUTH masked",
          mig and mask(S["redismig"]) in json.dumps(mig), len(mig))
    for name, keys in (("h2", ("h2bearer", "h2apikey", "h2query")), ("grpc", ("grpcbearer", "grpcapikey"))):
        if name in ports:
            check(f"live: {name} records carry the masks", all(mask(S[k]) in j for k in keys),
                  [k for k in keys if mask(S[k]) not in j])
    check("live: a server's command line written with its options masked",
          ("--access_token=" + mask(S["resptoken"])) in j)
    q = subprocess.run([sonde, "query", "--store", store, "-o", "json"], capture_output=True, timeout=120)
    stored = b"".join(open(os.path.join(d, f), "rb").read() for d, _, fs in os.walk(store) for f in fs)
    bad = leaks(q.stdout + q.stderr + stored, planted)
    check("live --store: no secret in what sonde query reads back, nor in any byte of the store's files",
          q.returncode == 0 and stored and not bad, bad or q.stderr[-300:])
    check("live --store: the stored records carry the masks",
          all(mask(m).encode() in q.stdout for m in (S["bearer"], S["redismaster"], ">" + S["redisacl"])))
    with open(rec, "rb") as f:
        pcapng = f.read()
    bad = leaks(pcapng, planted)
    check("live -w: no secret in any byte of the recording", not bad, bad)
    stars = ("Authorization: Bearer " + "*" * len(S["bearer"])).encode()
    check("live -w: a secret becomes as many '*' (lengths kept)", stars in pcapng)
    if shutil.which("tshark"):
        p = subprocess.run(["tshark", "-r", rec, "-d", "tcp.port==%d,http" % ports["https"], "-Y",
                            "http.request", "-T", "fields", "-e", "http.authorization", "-e",
                            "http.request.uri"], capture_output=True, timeout=120)
        lines = p.stdout.decode().splitlines()
        check("live -w: tshark dissects the recording, secrets as '*'",
              any(("Bearer " + "*" * len(S["bearer"])) in ln for ln in lines)
              and not leaks(p.stdout, planted), lines[:6])
        # HTTP/2 and gRPC: Huffman-coded on the wire, so decoded by tshark
        for name in ("h2", "grpc"):
            if name not in ports:
                continue
            p = subprocess.run(["tshark", "-r", rec, "-d", "tcp.port==%d,http2" % ports[name], "-Y", "http2",
                                "-T", "fields", "-e", "http2.header.name", "-e", "http2.header.value"],
                               capture_output=True, timeout=120)
            text = p.stdout.decode()
            hdr = [ln for ln in text.splitlines() if "authorization" in ln]
            check(f"live -w: {name}: tshark decodes the header blocks, secrets as '*'",
                  hdr and not leaks(p.stdout, planted) and "*" * 8 in text and ("x-api-key" in text),
                  (hdr[:2], leaks(p.stdout, planted)))


def main():
    sonde = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "./sonde")
    for tool in ("redis-server", "redis-cli", "openssl"):
        if not shutil.which(tool):
            skip(f"{tool} is not installed")
            return 0
    tmp = tempfile.mkdtemp(prefix="sonde-redact.")
    try:
        phase_pcap(sonde, tmp)
        phase_live(sonde, tmp)
    finally:
        kill_children()
        kill_sondes()
        if not os.environ.get("SONDE_E2E_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
