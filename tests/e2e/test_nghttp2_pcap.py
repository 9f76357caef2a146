#!/usr/bin/env python3
"""HTTP/2 end to end: nghttpd (h2c, no TLS) on loopback, an nghttp client with
prior knowledge (several concurrent streams on one connection), captured by
tcpdump into a pcap that sonde reads. Every request must appear once, paired
by stream id, with the right method, path, status and body size. (nghttpd
does not implement the HTTP/1.1 Upgrade to h2c; that path is covered by the
corpus captures suricata-http2-keywords2/-deflate/-range.)

Usage: test_nghttp2_pcap.py path/to/sonde
Prints PASS/FAIL/SKIP lines; exits non-zero on any FAIL.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def main():
    sonde = sys.argv[1] if len(sys.argv) > 1 else "./sonde"
    for tool in ("nghttpd", "nghttp", "tcpdump"):
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
    port = free_port()
    pcap = os.path.join(tmp, "h2.pcap")
    procs = []
    rc = 0
    try:
        td = subprocess.Popen(["tcpdump", "-i", "lo", "-s", "0", "-U", "-w", pcap, "tcp port %d" % port],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(td)
        srv = subprocess.Popen(["nghttpd", "--no-tls", "-d", www, str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(srv)
        if not wait_port(port):
            print("FAIL nghttp2-pcap: nghttpd did not listen")
            return 1
        time.sleep(0.5)  # tcpdump ready
        base = "http://127.0.0.1:%d/" % port
        subprocess.run(["nghttp", "-n", base + "a.txt", base + "b.bin", base + "c.txt", base + "missing"],
                       check=True, timeout=20)
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
    h2 = [r for r in ex if r["version"] == "HTTP/2" and r.get("request")]
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
    print("PASS nghttp2-pcap (%d exchanges)" % len(ex))
    shutil.rmtree(tmp)
    return rc


if __name__ == "__main__":
    sys.exit(main())
