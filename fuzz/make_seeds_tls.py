#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seeds of fuzz_tls into fuzz/corpus/fuzz_tls/ (the layout of
fuzz/fuzz_tls.c: a key log, then data/gap events of the two sides): real TLS
sessions made in process by Python's ssl (SSLObject over memory BIOs, the
client's keylog_filename), TLS 1.2 (GCM, ChaCha20, CBC with and without
encrypt_then_mac) and 1.3, a request and a reply of a few
records each. Not deterministic (fresh keys each run); run it by hand,
/usr/bin/python3 fuzz/make_seeds_tls.py, and commit what it writes.
"""
import os
import ssl
import subprocess
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_tls")


OP_NO_ENCRYPT_THEN_MAC = 1 << 19  # OpenSSL's SSL_OP_NO_ENCRYPT_THEN_MAC


def session(tmp, version, ciphers, options=0):
    cert, key, log = (os.path.join(tmp, n) for n in ("c.pem", "k.pem", "keys.log"))
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost"],
                       check=True, capture_output=True)
    if os.path.exists(log):
        os.unlink(log)
    sc = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sc.load_cert_chain(cert, key)
    cc = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cc.check_hostname = False
    cc.verify_mode = ssl.CERT_NONE
    cc.keylog_filename = log
    for c in (sc, cc):
        c.minimum_version = c.maximum_version = version
        if ciphers:
            c.set_ciphers(ciphers)
        c.options |= options
    cc.set_alpn_protocols(["http/1.1"])
    bufs = [ssl.MemoryBIO() for _ in range(4)]
    cli = cc.wrap_bio(bufs[0], bufs[1], server_hostname="localhost")
    srv = sc.wrap_bio(bufs[2], bufs[3], server_side=True)
    events = []

    def pump():
        for side, frm, to in ((0, bufs[1], bufs[2]), (1, bufs[3], bufs[0])):
            b = frm.read()
            if b:
                events.append((side, b))
                to.write(b)

    for _ in range(10):
        for o in (cli, srv):
            try:
                o.do_handshake()
            except ssl.SSLWantReadError:
                pass
        pump()
    cli.write(b"GET /seed HTTP/1.1\r\nHost: localhost\r\n\r\n")
    pump()
    srv.read(65536)
    srv.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n" + b"x" * 3000)
    pump()
    cli.read(65536)
    pump()
    with open(log, "rb") as f:
        keylog = f.read()
    out = len(keylog).to_bytes(2, "little") + keylog
    for side, b in events:
        while b:
            piece, b = b[:65535], b[65535:]
            out += bytes([side]) + len(piece).to_bytes(2, "little") + piece
    return out


def main():
    os.makedirs(ROOT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        seeds = {
            "tls13_aes128": session(tmp, ssl.TLSVersion.TLSv1_3, None),
            "tls12_aes128gcm": session(tmp, ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-GCM-SHA256"),
            "tls12_chacha20": session(tmp, ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-CHACHA20-POLY1305"),
            "tls12_aes128cbc_etm": session(tmp, ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-SHA256"),
            "tls12_aes256cbc_sha1": session(tmp, ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES256-SHA",
                                            OP_NO_ENCRYPT_THEN_MAC),
        }
    for name, b in seeds.items():
        with open(os.path.join(ROOT, name), "wb") as f:
            f.write(b)


if __name__ == "__main__":
    main()
