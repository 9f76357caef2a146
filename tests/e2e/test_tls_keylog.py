#!/usr/bin/env python3
"""sonde read --tls-keylog end to end: HTTPS over loopback made by real
servers and clients, captured by tcpdump, read back with the key log curl
wrote (SSLKEYLOGFILE), and compared with tshark's dissection of the same
pcap decrypted with the same file (-o tls.keylog_file).

Servers: a /usr/bin/python3 ssl HTTP/1.1 server (keep-alive) and nghttpd
with TLS (HTTP/2 by ALPN). Clients: curl, one connection per case, several
requests on it:
  TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256 and ECDHE-RSA-CHACHA20-POLY1305 (HTTP/1.1),
  TLS 1.2 ECDHE-RSA-AES256-GCM-SHA384 (HTTP/2: the SHA-384 PRF),
  TLS 1.3 AES-128-GCM (HTTP/1.1 with a 1 MiB response: many records),
  TLS 1.3 AES-256-GCM and ChaCha20-Poly1305 (HTTP/1.1),
  TLS 1.3 (HTTP/2, curl --http2).
Checks: every exchange tshark sees (method, path, status) sonde writes, on
decrypted connections (capture.tls decrypted keylog, version and cipher as
asked, alpn h2 where HTTP/2); the key log without one connection's lines: that
connection counted as having no key, the others whole; a corrupted byte in
one record of the 1 MiB response: the record counted as failed, that
response flagged, every other exchange still there; a lost packet in the
middle of the same response: the direction found again (tls_resyncs) and the
requests after it on that connection decrypted. Nothing of the key log in
sonde's output, and an unreadable key log refused without its contents.

Usage: test_tls_keylog.py path/to/sonde
"""
import collections
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

from livelib import Report, free_port, wait_port

PY_SERVER = r'''
import http.server, ssl, sys
port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
BIG = b"0123456789abcdef" * 65536  # 1 MiB

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_GET(self):
        body = BIG if self.path == "/big" else ("hello " + self.path + "\n").encode()
        code = 404 if self.path.startswith("/missing") else 200
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        self.send_response(201)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384")
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
'''

# (name, server, curl options, paths); each case is one curl run, one connection
CASES = [
    ("tls12-aes128gcm", "py", ["--tlsv1.2", "--tls-max", "1.2", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256"],
     ["/a", "/b", "/missing"]),
    ("tls12-chacha20", "py", ["--tlsv1.2", "--tls-max", "1.2", "--ciphers", "ECDHE-RSA-CHACHA20-POLY1305"],
     ["/c", "/d"]),
    ("tls13-aes128gcm-big", "py", ["--tlsv1.3", "--tls13-ciphers", "TLS_AES_128_GCM_SHA256", "--limit-rate", "8M"],
     ["/big", "/after1", "/after2"]),
    ("tls13-aes256gcm", "py", ["--tlsv1.3", "--tls13-ciphers", "TLS_AES_256_GCM_SHA384"], ["/e", "/f"]),
    ("tls13-chacha20", "py", ["--tlsv1.3", "--tls13-ciphers", "TLS_CHACHA20_POLY1305_SHA256"], ["/g"]),
    ("tls13-h2", "h2", ["--http2", "--tlsv1.3"], ["/h2a.txt", "/h2b.txt", "/nope"]),
    ("tls12-h2-aes256", "h2", ["--http2", "--tlsv1.2", "--tls-max", "1.2", "--ciphers",
                               "ECDHE-RSA-AES256-GCM-SHA384"], ["/h2a.txt"]),
]
WANT = {  # case → (version, cipher) sonde must name
    "tls12-aes128gcm": ("TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    "tls12-chacha20": ("TLSv1.2", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    "tls13-aes128gcm-big": ("TLSv1.3", "TLS_AES_128_GCM_SHA256"),
    "tls13-aes256gcm": ("TLSv1.3", "TLS_AES_256_GCM_SHA384"),
    "tls13-chacha20": ("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256"),
    "tls13-h2": ("TLSv1.3", None),
    "tls12-h2-aes256": ("TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
}


def read_pcap(path):
    with open(path, "rb") as f:
        d = f.read()
    recs, i = [], 24
    while i + 16 <= len(d):
        ts, tu, incl, orig = struct.unpack("<IIII", d[i:i + 16])
        recs.append([d[i:i + 16], d[i + 16:i + 16 + incl]])
        i += 16 + incl
    return d[:24], recs


def write_pcap(path, head, recs):
    with open(path, "wb") as f:
        f.write(head)
        for h, b in recs:
            f.write(h[:8] + struct.pack("<II", len(b), len(b)) + b)


def tcp_of(frame, linktype_off=14):
    """(sport, dport, payload offset, payload length) of an IPv4 TCP frame of
    tcpdump -i lo (Ethernet header), or None."""
    ip = frame[linktype_off:]
    if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
        return None
    ihl = (ip[0] & 15) * 4
    tot = struct.unpack(">H", ip[2:4])[0]
    tcp = ip[ihl:]
    doff = (tcp[12] >> 4) * 4
    sport, dport = struct.unpack(">HH", tcp[:4])
    start = linktype_off + ihl + doff
    return sport, dport, start, linktype_off + tot - start


def sonde_read(sonde, pcap, keylog, extra=()):
    args = [sonde, "read", "-o", "json", "--stats"] + list(extra)
    if keylog:
        args += ["--tls-keylog", keylog]
    p = subprocess.run(args + [pcap], capture_output=True, timeout=120)
    lines = [json.loads(l) for l in p.stdout.decode().splitlines() if l.strip()]
    ex = [l for l in lines if l.get("type") == "exchange"]
    st = [l for l in lines if l.get("type") == "stats"]
    return p, ex, st[-1] if st else {}


def tshark_exchanges(pcap, keylog):
    """(method, path) of every request and the status of every response
    tshark decrypts, HTTP/1 and HTTP/2."""
    out = subprocess.run(["tshark", "-n", "-r", pcap, "-o", "tls.keylog_file:" + keylog, "-T", "fields",
                          "-E", "separator=|", "-e", "http.request.method", "-e", "http.request.uri",
                          "-e", "http.response.code", "-e", "http2.headers.method", "-e", "http2.headers.path",
                          "-e", "http2.headers.status"], capture_output=True, text=True, timeout=120).stdout
    reqs, statuses = collections.Counter(), collections.Counter()
    for line in out.splitlines():
        f = line.split("|")
        if len(f) < 6:
            continue
        for m, u in zip(f[0].split(","), f[1].split(",")):
            if m:
                reqs[(m, u)] += 1
        for c in f[2].split(","):
            if c:
                statuses[int(c)] += 1
        for m, u in zip(f[3].split(","), f[4].split(",")):
            if m:
                reqs[(m, u)] += 1
        for c in f[5].split(","):
            if c:
                statuses[int(c)] += 1
    return reqs, statuses


def sonde_counts(ex):
    reqs, statuses = collections.Counter(), collections.Counter()
    for e in ex:
        if "request" in e:
            reqs[(e["request"]["method"], e["request"]["target"])] += 1
        if "response" in e and e["response"].get("status") is not None:
            statuses[e["response"]["status"]] += 1
    return reqs, statuses


def capture(tmp, r):
    cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    www = os.path.join(tmp, "www")
    os.makedirs(www)
    for n in ("h2a.txt", "h2b.txt"):
        with open(os.path.join(www, n), "w") as f:
            f.write(n * 100)
    with open(os.path.join(tmp, "srv.py"), "w") as f:
        f.write(PY_SERVER)
    ports = {"py": free_port(), "h2": free_port()}
    pcap, keylog = os.path.join(tmp, "tls.pcap"), os.path.join(tmp, "keys.log")
    procs, conns = [], {}
    try:
        # a large buffer, and the big response paced: loopback's 64 KiB
        # segments otherwise overrun tcpdump (seen: two segments lost)
        td = subprocess.Popen(["tcpdump", "-i", "lo", "-s", "0", "-B", "32768", "-U", "--immediate-mode", "-w", pcap,
                               "tcp port %d or tcp port %d" % (ports["py"], ports["h2"])],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(td)
        if b"listening on" not in td.stderr.readline():
            r.check("tcpdump starts", False)
            return None
        procs.append(subprocess.Popen(["/usr/bin/python3", os.path.join(tmp, "srv.py"), str(ports["py"]), cert,
                                       key]))
        procs.append(subprocess.Popen(["nghttpd", "-d", www, str(ports["h2"]), key, cert],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        if not (wait_port(ports["py"]) and wait_port(ports["h2"])):
            r.check("servers listen", False)
            return None
        # wait_port's probes are connections too: let them be over first
        time.sleep(0.3)
        env = dict(os.environ, SSLKEYLOGFILE=keylog)
        for name, srv, opts, paths in CASES:
            urls = []
            for path in paths:
                urls += ["-o", "/dev/null", "https://localhost:%d%s" % (ports[srv], path)]
            out = subprocess.run(["curl", "-sk", "-w", "%{local_port} %{http_code}\\n"] +
                                 opts + urls, env=env, capture_output=True, text=True, timeout=60)
            lp = {l.split()[0] for l in out.stdout.splitlines() if l.strip()}
            if out.returncode or len(lp) != 1:
                r.check("curl %s" % name, False, out.stderr or out.stdout)
                return None
            conns[name] = int(lp.pop())
        time.sleep(0.5)
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=10)
    return pcap, keylog, conns, ports


def check_full(r, sonde, pcap, keylog, conns):
    p, ex, st = sonde_read(sonde, pcap, keylog)
    r.check("read exits 0", p.returncode == 0, p.stderr.decode()[-500:])
    r.check("the capture lost nothing (else the comparison below means little)",
            st.get("gap_bytes") == 0 and st.get("packet_kernel_drops", 0) == 0, st.get("gap_bytes"))
    treqs, tstat = tshark_exchanges(pcap, keylog)
    sreqs, sstat = sonde_counts(ex)
    n_want = sum(len(c[3]) for c in CASES)
    r.check("tshark decrypts every request", sum(treqs.values()) == n_want, treqs)
    r.check("requests (method, path) as tshark's", sreqs == treqs, (sreqs, treqs))
    r.check("statuses as tshark's", sstat == tstat, (sstat, tstat))
    by_port = collections.defaultdict(list)
    for e in ex:
        by_port[e["conn"]["client"]["port"]].append(e)
    for name, srv, opts, paths in CASES:
        got = by_port.get(conns[name], [])
        tls = [e["capture"].get("tls", {}) for e in got]
        v, c = WANT[name]
        # (the 1 MiB body is kept to the body limit: flagged truncated, nothing else)
        r.check("%s: every exchange, paired" % name,
                len(got) == len(paths) and all("request" in e and "response" in e and
                                               set(e["flags"]) <= {"response_truncated"} for e in got), [(e.get("request", {}).get("target"), e["flags"])
                                                               for e in got])
        r.check("%s: capture.tls says keylog, %s %s" % (name, v, c or ""),
                tls and all(t.get("decrypted") == "keylog" and t.get("version") == v and
                            (c is None or t.get("cipher") == c) for t in tls), tls[:1])
        if srv == "h2":
            r.check("%s: HTTP/2 by ALPN" % name, all(e.get("version") == "HTTP/2" for e in got) and
                    all(t.get("alpn") == "h2" for t in tls), [e.get("version") for e in got])
    big = [e for e in by_port.get(conns["tls13-aes128gcm-big"], []) if e["request"]["target"] == "/big"]
    r.check("1 MiB response over many records, sized exactly",
            big and big[0]["response"]["body"]["size"] == 1 << 20 and st.get("tls_records_decrypted", 0) > 64,
            big and big[0]["response"]["body"])
    r.check("stats: every connection decrypted, nothing undecrypted",
            st.get("tls_keylog_decrypted") == len(CASES) and st.get("tls_records_failed") == 0 and
            st.get("tls_undecrypted_bytes") == 0 and st.get("tls_keylog_no_key") == 0,
            {k: v for k, v in st.items() if k.startswith("tls_")})
    with open(keylog) as f:
        secrets = [l.split()[2] for l in f if len(l.split()) == 3]
    out = p.stdout.decode() + p.stderr.decode()
    r.check("no secret of the key log in the output", not any(s in out for s in secrets))
    # without the key log: TLS recognised, nothing decrypted (as before)
    p, ex0, st0 = sonde_read(sonde, pcap, None)
    # (the servers answer wait_port's probes with an alert: TLS, never decrypted)
    r.check("without --tls-keylog: no records, the same connections counted encrypted",
            not ex0 and st0.get("tls_encrypted_connections") ==
            st.get("tls_encrypted_connections", 0) + len(CASES), (len(ex0), st0.get("tls_encrypted_connections")))
    return st.get("tls_encrypted_connections", 0)


def check_missing_key(r, sonde, tmp, pcap, keylog, conns, total, encrypted):
    """The key log without the lines of one connection (by its client random,
    as tshark reports it)."""
    out = subprocess.run(["tshark", "-n", "-r", pcap, "-Y", "tls.handshake.type == 1", "-T", "fields",
                          "-e", "tcp.srcport", "-e", "tls.handshake.random"], capture_output=True, text=True,
                         timeout=60).stdout
    randoms = dict(l.split("\t") for l in out.splitlines() if "\t" in l)
    victim = conns["tls12-chacha20"]
    cr = randoms.get(str(victim), "").replace(":", "").lower()
    with open(keylog) as f:
        lines = f.readlines()
    kept = [l for l in lines if cr not in l.lower()]
    r.check("the victim's key log lines found", cr and len(kept) < len(lines), cr)
    part = os.path.join(tmp, "part.log")
    with open(part, "w") as f:
        f.writelines(kept)
    p, ex, st = sonde_read(sonde, pcap, part)
    victims = [e for e in ex if e["conn"]["client"]["port"] == victim]
    r.check("missing key: that connection counted as no key, no record of it",
            st.get("tls_keylog_no_key") == 1 and not victims and st.get("tls_encrypted_connections") == encrypted + 1,
            {k: v for k, v in st.items() if k.startswith("tls_keylog") or k == "tls_encrypted_connections"})
    r.check("missing key: the other connections whole", len(ex) == total - 2 and
            st.get("tls_keylog_decrypted") == len(CASES) - 1, len(ex))


def big_response_frames(pcap, conns, ports):
    head, recs = read_pcap(pcap)
    port = conns["tls13-aes128gcm-big"]
    idx = []
    for i, (h, b) in enumerate(recs):
        t = tcp_of(b)
        if t and t[0] == ports["py"] and t[1] == port and t[3] > 1000:
            idx.append(i)
    return head, recs, idx


def check_corrupt(r, sonde, tmp, pcap, keylog, conns, ports, total):
    head, recs, idx = big_response_frames(pcap, conns, ports)
    if not r.check("the 1 MiB response's packets found", len(idx) > 10, len(idx)):
        return
    i = idx[len(idx) // 2]
    sport, dport, off, n = tcp_of(recs[i][1])
    b = bytearray(recs[i][1])
    b[off + n // 2] ^= 0x5a
    recs[i][1] = bytes(b)
    bad = os.path.join(tmp, "corrupt.pcap")
    write_pcap(bad, head, recs)
    p, ex, st = sonde_read(sonde, bad, keylog)
    r.check("corrupt record: counted failed", st.get("tls_records_failed", 0) >= 1 and
            p.returncode == 0, {k: v for k, v in st.items() if k.startswith("tls_records")})
    big = [e for e in ex if e.get("request", {}).get("target") == "/big"]
    after = [e for e in ex if e.get("request", {}).get("target", "").startswith("/after")]
    r.check("corrupt record: the response flagged, the rest of the capture whole",
            len(ex) == total and big and "response_gap" in big[0]["flags"] and
            all(not e["flags"] for e in after) and len(after) == 2 and
            all(not e["flags"] for e in ex if e.get("request", {}).get("target") != "/big"),
            [(e.get("request", {}).get("target"), e["flags"]) for e in ex if e["flags"]])
    r.check("corrupt record: said on the connection", big and
            big[0]["capture"]["tls"].get("records_failed", 0) >= 1, big and big[0]["capture"]["tls"])


def check_lost(r, sonde, tmp, pcap, keylog, conns, ports, total):
    head, recs, idx = big_response_frames(pcap, conns, ports)
    i = idx[len(idx) // 2]
    lost = os.path.join(tmp, "lost.pcap")
    write_pcap(lost, head, recs[:i] + recs[i + 1:])
    p, ex, st = sonde_read(sonde, lost, keylog)
    r.check("lost packet: the direction found again", st.get("tls_resyncs", 0) >= 1 and
            st.get("gap_bytes", 0) > 0, {k: v for k, v in st.items() if k.startswith("tls_") or k == "gap_bytes"})
    big = [e for e in ex if e.get("request", {}).get("target") == "/big"]
    after = [e for e in ex if e.get("request", {}).get("target", "").startswith("/after")]
    r.check("lost packet: the response flagged gap, later requests decrypted and paired",
            len(ex) == total and big and "response_gap" in big[0]["flags"] and len(after) == 2 and
            all("response" in e and not e["flags"] for e in after),
            [(e.get("request", {}).get("target"), e["flags"]) for e in ex])


def check_bad_keylog(r, sonde, tmp, pcap):
    bad = os.path.join(tmp, "bad.log")
    with open(bad, "w") as f:
        f.write("CLIENT_RANDOM zz secret-not-hex-0123456789\n")
    p = subprocess.run([sonde, "read", "--tls-keylog", bad, pcap], capture_output=True, timeout=30)
    err = p.stderr.decode()
    r.check("a key log without secrets refused (status 2), its contents not echoed",
            p.returncode == 2 and "secret-not-hex" not in err and bad in err, (p.returncode, err))


def main():
    sonde = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "./sonde")
    r = Report("tls-keylog")
    for tool in ("nghttpd", "curl", "tcpdump", "tshark", "openssl"):
        if not shutil.which(tool):
            r.skip("%s is not installed" % tool)
            return 0
    if os.geteuid() != 0:
        r.skip("tcpdump on loopback needs root")
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-keylog.")
    try:
        got = capture(tmp, r)
        if not got:
            return 1
        pcap, keylog, conns, ports = got
        total = sum(len(c[3]) for c in CASES)
        encrypted = check_full(r, sonde, pcap, keylog, conns)
        check_missing_key(r, sonde, tmp, pcap, keylog, conns, total, encrypted)
        check_corrupt(r, sonde, tmp, pcap, keylog, conns, ports, total)
        check_lost(r, sonde, tmp, pcap, keylog, conns, ports, total)
        check_bad_keylog(r, sonde, tmp, pcap)
    finally:
        if not os.environ.get("SONDE_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
