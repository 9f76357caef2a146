#!/usr/bin/env python3
"""sonde read --tls-keylog with TLS 1.2 CBC suites, the key log in a pcapng
(--record-keylog) and the line said for a connection without keys.

Real servers and clients on loopback: `openssl s_server -HTTP -tls1_2` forced
to one CBC suite each (AES128-SHA256 with encrypt_then_mac, the same with
-no_etm, AES256-SHA with -no_etm, ECDHE-RSA-AES256-SHA384 with
encrypt_then_mac), curl as the client with SSLKEYLOGFILE, tcpdump capturing.
Checks, against tshark's dissection of the same capture decrypted with the
same key log:
  - tshark's ServerHellos carry encrypt_then_mac exactly where asked (both
    record layouts are exercised), and name the suites;
  - sonde's requests and statuses are tshark's, every exchange paired, on
    connections marked decrypted keylog with the suite's IANA name;
    nothing failed, nothing undecrypted, no secret in the output;
  - a key log with every secret one hex digit off: no exchange (no garbage
    out), every connection's records counted failed;
  - a key log without one connection: a line on stderr names that
    connection and its client_random (tshark's), counted no key;
  - `read --tls-keylog K --record-keylog -w out.pcapng`: tshark, given no
    key log, decrypts out.pcapng and shows the same HTTP; without
    --record-keylog the recording holds no secrets and tshark shows none.

Usage: test_tls_keylog_cbc.py path/to/sonde
"""
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from livelib import Report, free_port

# (name, s_server cipher, s_server extra options, EtM expected, IANA name)
CASES = [
    ("aes128-sha256-etm", "AES128-SHA256", [], True, "TLS_RSA_WITH_AES_128_CBC_SHA256"),
    ("aes128-sha256-mte", "AES128-SHA256", ["-no_etm"], False, "TLS_RSA_WITH_AES_128_CBC_SHA256"),
    ("aes256-sha1-mte", "AES256-SHA", ["-no_etm"], False, "TLS_RSA_WITH_AES_256_CBC_SHA"),
    ("ecdhe-aes256-sha384-etm", "ECDHE-RSA-AES256-SHA384", [], True,
     "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"),
]
PATHS = ["/a.txt", "/big.txt"]  # s_server -HTTP: one request per connection


def tshark_http(pcap, keylog):
    """Counter of (method, uri) and of status codes tshark dissects."""
    args = ["tshark", "-n", "-r", pcap]
    if keylog:
        args += ["-o", "tls.keylog_file:" + keylog]
    out = subprocess.run(args + ["-Y", "http", "-T", "fields", "-E", "separator=|", "-e", "http.request.method",
                                 "-e", "http.request.uri", "-e", "http.response.code"],
                         capture_output=True, text=True, timeout=120).stdout
    reqs, st = collections.Counter(), collections.Counter()
    for line in out.splitlines():
        f = line.split("|")
        if len(f) < 3:
            continue
        if f[0]:
            reqs[(f[0], f[1])] += 1
        if f[2]:
            st[int(f[2])] += 1
    return reqs, st


def sonde_read(sonde, pcap, keylog, extra=()):
    args = [sonde, "read", "-o", "json", "--stats"] + list(extra)
    if keylog:
        args += ["--tls-keylog", keylog]
    p = subprocess.run(args + [pcap], capture_output=True, timeout=120)
    lines = [json.loads(l) for l in p.stdout.decode().splitlines() if l.strip()]
    ex = [l for l in lines if l.get("type") == "exchange"]
    st = [l for l in lines if l.get("type") == "stats"]
    return p, ex, st[-1] if st else {}


def capture(tmp, r):
    cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost"], check=True, capture_output=True, timeout=60)
    www = os.path.join(tmp, "www")
    os.makedirs(www)
    # -HTTP serves a file as the whole response, its headers included: a
    # Content-Length, so tshark ends the response without waiting for FIN
    for name, body in (("a.txt", "hello from a\n"), ("big.txt", "0123456789abcdef" * 4096)):  # 64 KiB: records
        with open(os.path.join(www, name), "w") as f:
            f.write("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    ports = [free_port() for _ in CASES]
    pcap, keylog = os.path.join(tmp, "cbc.pcap"), os.path.join(tmp, "keys.log")
    procs, conns = [], {}
    try:
        flt = " or ".join("tcp port %d" % p for p in ports)
        td = subprocess.Popen(["tcpdump", "-i", "lo", "-s", "0", "-B", "32768", "-U", "--immediate-mode", "-w",
                               pcap, flt], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(td)
        if b"listening on" not in td.stderr.readline():
            r.check("tcpdump starts", False)
            return None
        for (name, cipher, extra, etm, iana), port in zip(CASES, ports):
            s = subprocess.Popen(["openssl", "s_server", "-quiet", "-accept", "127.0.0.1:%d" % port, "-cert", cert,
                                  "-key", key, "-tls1_2", "-cipher", cipher, "-HTTP"] + extra, cwd=www,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            procs.append(s)
        time.sleep(1.0)  # s_server -quiet says nothing when it listens
        env = dict(os.environ, SSLKEYLOGFILE=keylog)
        for (name, cipher, extra, etm, iana), port in zip(CASES, ports):
            urls = []
            for path in PATHS:
                urls += ["-o", "/dev/null", "https://127.0.0.1:%d%s" % (port, path)]
            out = subprocess.run(["curl", "-sk", "--tlsv1.2", "--tls-max", "1.2", "--ciphers", cipher, "-w",
                                  "%{local_port} %{http_code}\\n"] + urls, env=env, capture_output=True, text=True,
                                 timeout=60)
            got = [l.split() for l in out.stdout.splitlines() if l.strip()]
            if out.returncode or len(got) != len(PATHS) or any(c != "200" for _, c in got):
                r.check("curl %s" % name, False, out.stderr or out.stdout)
                return None
            conns[name] = [int(p) for p, _ in got]
        time.sleep(0.5)
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=10)
    return pcap, keylog, conns, ports


def tshark_hellos(pcap):
    """port → (client_random hex, server port) of each ClientHello, and
    server port → (suite, EtM) of the ServerHellos."""
    out = subprocess.run(["tshark", "-n", "-r", pcap, "-Y", "tls.handshake.type == 1 || tls.handshake.type == 2",
                          "-T", "fields", "-E", "separator=|", "-e", "tcp.srcport", "-e", "tls.handshake.type",
                          "-e", "tls.handshake.random", "-e", "tls.handshake.ciphersuite", "-e",
                          "tls.handshake.extension.type"], capture_output=True, text=True, timeout=60).stdout
    randoms, server = {}, {}
    for line in out.splitlines():
        f = line.split("|")
        if len(f) < 5:
            continue
        if f[1] == "1":
            randoms[int(f[0])] = f[2].replace(":", "").lower()
        elif f[1] == "2":
            server.setdefault(int(f[0]), set()).add((int(f[3], 0), "22" in f[4].split(",")))
    return randoms, server


def check_full(r, sonde, pcap, keylog, conns, ports):
    _, server = tshark_hellos(pcap)
    for (name, cipher, extra, etm, iana), port in zip(CASES, ports):
        r.check("%s: the server %s encrypt_then_mac (tshark)" % (name, "agreed to" if etm else "declined"),
                server.get(port) and all(e == etm for _, e in server[port]), server.get(port))
    treqs, tstat = tshark_http(pcap, keylog)
    n_want = len(CASES) * len(PATHS)
    r.check("tshark decrypts every request", sum(treqs.values()) == n_want, treqs)
    p, ex, st = sonde_read(sonde, pcap, keylog)
    r.check("read exits 0", p.returncode == 0, p.stderr.decode()[-400:])
    sreqs = collections.Counter((e["request"]["method"], e["request"]["target"]) for e in ex if "request" in e)
    sstat = collections.Counter(e["response"]["status"] for e in ex if "response" in e)
    r.check("requests (method, path) as tshark's", sreqs == treqs, (sreqs, treqs))
    r.check("statuses as tshark's", sstat == tstat, (sstat, tstat))
    by_port = {e["conn"]["client"]["port"]: e for e in ex}
    for name, cipher, extra, etm, iana in CASES:
        got = [by_port.get(p) for p in conns[name]]
        r.check("%s: each exchange paired, whole, decrypted keylog %s" % (name, iana),
                all(e and "response" in e and not e["flags"] and e["capture"].get("tls", {}).get("cipher") == iana
                    and e["capture"]["tls"].get("decrypted") == "keylog" and
                    e["capture"]["tls"].get("version") == "TLSv1.2" for e in got),
                [(e or {}).get("flags") for e in got] + [(got[0] or {}).get("capture", {}).get("tls")])
        big = [e for e in got if e and e["request"]["target"] == "/big.txt"]
        r.check("%s: the 64 KiB body sized exactly" % name,
                big and big[0]["response"]["body"]["size"] == 65536, big and big[0]["response"]["body"])
    r.check("stats: every connection decrypted, no record failed or undecrypted",
            st.get("tls_keylog_decrypted") == n_want and st.get("tls_records_failed") == 0 and
            st.get("tls_undecrypted_bytes") == 0 and st.get("tls_records_decrypted", 0) > 4 * n_want,
            {k: v for k, v in st.items() if k.startswith("tls_")})
    with open(keylog) as f:
        secrets = [l.split()[2] for l in f if len(l.split()) == 3]
    out = p.stdout.decode() + p.stderr.decode()
    r.check("no secret of the key log in the output", secrets and not any(s in out for s in secrets))
    return ex


def check_wrong_key(r, sonde, tmp, pcap, keylog):
    wrong = os.path.join(tmp, "wrong.log")
    with open(keylog) as f, open(wrong, "w") as w:
        for l in f:
            parts = l.split()
            if len(parts) == 3:
                s = parts[2]
                parts[2] = s[:-1] + ("1" if s[-1] != "1" else "2")
                l = " ".join(parts) + "\n"
            w.write(l)
    p, ex, st = sonde_read(sonde, pcap, wrong)
    n = len(CASES) * len(PATHS)
    r.check("wrong master secrets: no exchange out, every connection's records counted failed",
            not ex and st.get("tls_records_failed", 0) >= 2 * n and st.get("tls_records_decrypted") == 0,
            (len(ex), {k: v for k, v in st.items() if k.startswith("tls_records")}))


def check_missing_key(r, sonde, tmp, pcap, keylog, conns, total):
    randoms, _ = tshark_hellos(pcap)
    victim = conns["aes256-sha1-mte"][0]
    cr = randoms.get(victim, "")
    with open(keylog) as f:
        lines = f.readlines()
    kept = [l for l in lines if cr not in l.lower()]
    r.check("the victim's key log line found", cr and len(kept) == len(lines) - 1, cr)
    part = os.path.join(tmp, "part.log")
    with open(part, "w") as f:
        f.writelines(kept)
    p, ex, st = sonde_read(sonde, pcap, part)
    err = p.stderr.decode()
    notes = [l for l in err.splitlines() if "no keys in the key log" in l]
    r.check("missing key: one line names the connection and its client_random",
            len(notes) == 1 and ":%d -> " % victim in notes[0] and cr in notes[0] and
            notes[0].startswith("sonde: TLS connection "), err[-600:])
    r.check("missing key: counted, the other connections whole",
            st.get("tls_keylog_no_key") == 1 and len(ex) == total - 1 and
            not any(e["conn"]["client"]["port"] == victim for e in ex), (len(ex), st.get("tls_keylog_no_key")))
    p = subprocess.run([sonde, "read", "-q", "-o", "none", "--stats", "--tls-keylog", part, pcap],
                       capture_output=True, timeout=60)
    r.check("missing key: -q says nothing of it", "no keys" not in p.stderr.decode(), p.stderr.decode()[-300:])


def sonde_exchanges(sonde, path, args):
    """(method, target, status) of each exchange `sonde read` writes, and its stats."""
    p = subprocess.run([sonde, "read", "-o", "json", "--stats"] + args + [path], capture_output=True, timeout=120)
    recs = [json.loads(l) for l in p.stdout.decode().splitlines() if l.strip()]
    ex = sorted((e["request"]["method"], e["request"]["target"], (e.get("response") or {}).get("status") or 0)
                for e in recs if e.get("type") == "exchange" and e.get("request"))
    return ex, next((x for x in recs if x.get("type") == "stats"), {})


def check_recording(r, sonde, tmp, pcap, keylog):
    treqs, tstat = tshark_http(pcap, keylog)
    out = os.path.join(tmp, "out.pcapng")
    p = subprocess.run([sonde, "read", "-o", "none", "--tls-keylog", keylog, "--record-keylog", "-w", out, pcap],
                       capture_output=True, timeout=120)
    r.check("read -w --record-keylog exits 0", p.returncode == 0, p.stderr.decode()[-400:])
    wreqs, wstat = tshark_http(out, None)
    r.check("tshark decrypts the recording alone, the same HTTP", wreqs == treqs and wstat == tstat and wreqs,
            (wreqs, treqs))
    back, bst = sonde_exchanges(sonde, out, [])
    want, _ = sonde_exchanges(sonde, pcap, ["--tls-keylog", keylog])
    r.check("sonde reads the recording back alone: its secrets block decrypts it, the same records",
            back == want and want and bst.get("pcapng_secrets_blocks") == 1 and not bst.get("tls_keylog_no_key"),
            (len(back), len(want), {k: v for k, v in bst.items() if k.startswith(("pcapng", "tls_keylog"))}))
    kinds = subprocess.run(["capinfos", "-M", out], capture_output=True, text=True, timeout=60).stdout
    r.check("capinfos reads the recording", "Number of packets" in kinds, kinds[-300:])
    plain = os.path.join(tmp, "plain.pcapng")
    p = subprocess.run([sonde, "read", "-o", "none", "--tls-keylog", keylog, "-w", plain, pcap],
                       capture_output=True, timeout=120)
    preqs, _ = tshark_http(plain, None)
    with open(keylog) as f:
        secrets = [l.split()[2] for l in f if len(l.split()) == 3]
    with open(plain, "rb") as f:
        data = f.read()
    r.check("without --record-keylog: no secret in the file, tshark sees no HTTP",
            p.returncode == 0 and not preqs and not any(s.encode() in data for s in secrets), preqs)
    p = subprocess.run([sonde, "read", "--record-keylog", "-w", plain, pcap], capture_output=True, timeout=60)
    r.check("--record-keylog without --tls-keylog refused (status 2)", p.returncode == 2, p.stderr.decode())


def main():
    sonde = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "./sonde")
    r = Report("tls-keylog-cbc")
    for tool in ("openssl", "curl", "tcpdump", "tshark", "capinfos"):
        if not shutil.which(tool):
            r.skip("%s is not installed" % tool)
            return 0
    if os.geteuid() != 0:
        r.skip("tcpdump on loopback needs root")
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-cbc.")
    try:
        got = capture(tmp, r)
        if not got:
            return 1
        pcap, keylog, conns, ports = got
        ex = check_full(r, sonde, pcap, keylog, conns, ports)
        check_wrong_key(r, sonde, tmp, pcap, keylog)
        check_missing_key(r, sonde, tmp, pcap, keylog, conns, len(ex))
        check_recording(r, sonde, tmp, pcap, keylog)
    finally:
        if not os.environ.get("SONDE_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
