#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seeds of fuzz_redis into fuzz/corpus/fuzz_redis/ (the layout
of fuzz/fuzz_redis.c: an options byte, then data/gap/end events).

    python3 fuzz/make_seeds_redis.py            the hand-made seeds (committed)
    python3 fuzz/make_seeds_redis.py --from-corpus DIR OUT
                                                seeds from the TCP payloads of
                                                the captures in DIR (tshark),
                                                written to OUT, never here

Deterministic. The captures' bytes stay out of the repository: they are
test data under their own licenses.
"""
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_redis")
C2S, S2C = 0, 1


def data(d, b):
    out = b""
    while b:
        piece, b = b[:65535], b[65535:]
        if len(piece) > 255:
            out += bytes([d | 8]) + len(piece).to_bytes(2, "little")
        else:
            out += bytes([d, len(piece)])
        out += piece
    return out


def gap(d, n):
    return bytes([d | 4]) + n.to_bytes(2, "little")


def end(d):
    return bytes([d | 6])


def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


SEEDS = {
    "get_set": data(C2S, cmd("SET", "k", "v") + cmd("GET", "k")) + data(S2C, b"+OK\r\n$1\r\nv\r\n"),
    "pipeline_split": data(C2S, cmd("INCR", "n") * 3) + data(S2C, b":1\r\n:2") + data(S2C, b"\r\n:3\r\n"),
    "resp2_types": data(C2S, cmd("PING") * 6) + data(
        S2C, b"-ERR x\r\n$-1\r\n*-1\r\n*2\r\n*1\r\n:1\r\n$0\r\n\r\n*0\r\n+OK\r\n"),
    "resp3": data(C2S, cmd("HELLO", "3") + cmd("GET", "a") * 8) + data(
        S2C, b"%1\r\n+proto\r\n:3\r\n_\r\n#t\r\n,1.5\r\n(12345678901234567890\r\n"
        b"!3\r\nERR\r\n=7\r\ntxt:abc\r\n~1\r\n+a\r\n|1\r\n+k\r\n:1\r\n*1\r\n:2\r\n"
        b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n"),
    "pubsub": data(C2S, cmd("SUBSCRIBE", "a", "b") + cmd("PSUBSCRIBE", "x*")) + data(
        S2C, b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"
        b"*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n*3\r\n$10\r\npsubscribe\r\n$2\r\nx*\r\n:3\r\n"
        b"*4\r\n$8\r\npmessage\r\n$2\r\nx*\r\n$2\r\nxy\r\n$1\r\nz\r\n"),
    "multi": data(C2S, cmd("MULTI") + cmd("INCR", "a") + cmd("EXEC") + cmd("SELECT", "2")) + data(
        S2C, b"+OK\r\n+QUEUED\r\n*1\r\n:1\r\n+OK\r\n"),
    "client_reply": data(C2S, cmd("CLIENT", "REPLY", "OFF") + cmd("PING") + cmd("CLIENT", "REPLY", "ON")
                         + cmd("CLIENT", "REPLY", "SKIP") + cmd("PING") + cmd("PING"))
    + data(S2C, b"+OK\r\n+PONG\r\n"),
    "inline": data(C2S, b"PING\r\n\r\nset a  b\nGET a\r\n") + data(S2C, b"+PONG\r\n+OK\r\n$1\r\nb\r\n"),
    "gaps": data(C2S, cmd("GET", "a") * 2) + data(S2C, b"$10\r\nab") + gap(S2C, 4)
    + data(S2C, b"ghij\r\n*2\r\n:1") + gap(S2C, 3) + data(S2C, b"\r\n:5\r\n") + end(S2C),
    "huge": data(C2S, cmd("GET", "a")) + data(S2C, b"$4294967295\r\nxxxx") + data(
        S2C, b"*99999999999\r\n" + b"*1\r\n" * 40 + b":1\r\n"),
    "garbage": data(C2S, b"*-1\r\n" + b"$" * 200) + data(S2C, b"\n:x\n" * 10),
}
OPTIONS = {"garbage": 6}  # both directions midstream; the others 0


def from_corpus(src, out):
    os.makedirs(out, exist_ok=True)
    for name in sorted(os.listdir(src)):
        if not name.endswith((".pcap", ".pcapng")):
            continue
        r = subprocess.run(["tshark", "-n", "-r", os.path.join(src, name), "-T", "fields",
                            "-e", "tcp.dstport", "-e", "tcp.payload", "-Y", "tcp.len > 0"],
                           capture_output=True, text=True, check=False)
        seed = b"\0"
        for line in r.stdout.splitlines():
            port, _, hexb = line.partition("\t")
            if hexb and len(seed) < 200000:
                seed += data(C2S if port == "6379" else S2C, bytes.fromhex(hexb.replace(":", "")))
        with open(os.path.join(out, name + ".seed"), "wb") as f:
            f.write(seed)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--from-corpus":
        from_corpus(sys.argv[2], sys.argv[3])
        return
    os.makedirs(ROOT, exist_ok=True)
    for name, body in SEEDS.items():
        with open(os.path.join(ROOT, name), "wb") as f:
            f.write(bytes([OPTIONS.get(name, 0)]) + body)


if __name__ == "__main__":
    main()
