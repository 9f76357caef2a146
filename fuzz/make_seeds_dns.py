#!/usr/bin/env python3
"""Seeds for fuzz_dns (layout: fuzz/fuzz_dns.c) from the DNS captures.

For every permissively licensed capture in $SONDE_CORPUS/dns (default
../shared/corpus/dns; the tcpdump, Zeek, DeepFlow and Arkime ones), the
UDP payloads become one seed (option bit 0: datagrams) and the TCP payloads
another, each payload an event of its direction (sent by port 53/5353: the
server). tshark reads the captures.

Usage: /usr/bin/python3 fuzz/make_seeds_dns.py [OUTDIR]   (default fuzz/corpus/fuzz_dns)
"""
import hashlib
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.environ.get("SONDE_CORPUS") or os.path.join(ROOT, "..", "shared", "corpus")
SERVER_PORTS = {"53", "5353"}
# Seeds are committed: only captures under permissive licenses (SOURCES.md).
PERMISSIVE = ("tcpdump-", "zeek-", "deepflow-", "arkime-")


def events(path, proto):
    out = subprocess.run(["tshark", "-n", "-r", path, "-Y", "%s.payload" % proto, "-T", "fields",
                          "-e", "%s.srcport" % proto, "-e", "%s.payload" % proto],
                         capture_output=True, text=True).stdout
    seed = bytearray()
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) < 2 or not f[1]:
            continue
        data = bytes.fromhex(f[1].replace(":", ""))[:65535]
        d = 1 if f[0] in SERVER_PORTS else 0
        seed += bytes([d | 0x08]) + struct.pack("<H", len(data)) + data
    return bytes(seed)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus", "fuzz_dns")
    os.makedirs(outdir, exist_ok=True)
    dns = os.path.join(CORPUS, "dns")
    n = 0
    for f in sorted(os.listdir(dns)):
        if not f.endswith((".pcap", ".pcapng")) or not f.startswith(PERMISSIVE):
            continue
        for proto, opt in (("udp", 1), ("tcp", 0)):
            ev = events(os.path.join(dns, f), proto)
            if not ev or len(ev) > 4096:  # big seeds slow the fuzzer down
                continue
            seed = bytes([opt]) + ev
            name = hashlib.sha1(seed).hexdigest()[:16]
            with open(os.path.join(outdir, name), "wb") as fh:
                fh.write(seed)
            n += 1
    print("%d seeds in %s" % (n, outdir))


if __name__ == "__main__":
    main()
