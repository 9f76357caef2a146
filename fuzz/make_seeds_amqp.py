#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seeds of fuzz_amqp into fuzz/corpus/fuzz_amqp/ (the layout of
fuzz/fuzz_stream.h: an options byte, then data/gap/end events). Hand-made
frames after the AMQP 0-9-1 specification; deterministic.

    /usr/bin/python3 fuzz/make_seeds_amqp.py
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_amqp")
C2S, S2C = 0, 1


def data(d, b):
    out = b""
    while b:
        piece, b = b[:255], b[255:]
        out += bytes([d, len(piece)]) + piece
    return out


def gap(d, n):
    return bytes([d | 4]) + n.to_bytes(2, "little")


def end(d):
    return bytes([d | 6])


def frame(t, ch, payload):
    return struct.pack(">BHI", t, ch, len(payload)) + payload + b"\xce"


def method(ch, cls, m, args=b""):
    return frame(1, ch, struct.pack(">HH", cls, m) + args)


def sstr(s):
    return bytes([len(s)]) + s


def lstr(s):
    return struct.pack(">I", len(s)) + s


def table(items):
    b = b"".join(sstr(k) + b"S" + lstr(v) for k, v in items)
    return lstr(b)


def header(ch, size):
    return frame(2, ch, struct.pack(">HHQH", 60, 0, size, 0x9000) + sstr(b"text/plain")
                 + table([(b"h", b"v")]))


def session():
    c = b"AMQP\x00\x00\x09\x01"
    c += method(0, 10, 11, table([(b"product", b"fuzz")]) + sstr(b"PLAIN")
                + lstr(b"\x00user\x00pass") + sstr(b"en_US"))
    c += method(0, 10, 31, struct.pack(">HIH", 2047, 131072, 60))
    c += method(0, 10, 40, sstr(b"/") + b"\x00\x00")
    c += method(1, 20, 10, b"\x00") + method(1, 85, 10, b"\x00")
    c += method(1, 50, 10, b"\x00\x00" + sstr(b"q") + b"\x00" + lstr(b""))
    c += method(1, 60, 40, b"\x00\x00" + sstr(b"") + sstr(b"q") + b"\x00")
    c += header(1, 10) + frame(3, 1, b"hello") + frame(3, 1, b"world")
    c += method(1, 60, 80, struct.pack(">QB", 7, 0)) + method(1, 60, 120, struct.pack(">QB", 8, 3))
    c += frame(8, 0, b"") + method(0, 10, 50, struct.pack(">H", 200) + sstr(b"bye") + b"\0" * 4)
    s = b"AMQP\x00\x00\x09\x01"[:0]
    s += method(0, 10, 10, b"\x00\x09" + table([(b"product", b"rabbit")]) + lstr(b"PLAIN")
                + lstr(b"en_US"))
    s += method(0, 10, 30, struct.pack(">HIH", 2047, 131072, 60)) + method(0, 10, 41, b"\x00")
    s += method(1, 20, 11, lstr(b"")) + method(1, 85, 11)
    s += method(1, 50, 11, sstr(b"q") + struct.pack(">II", 0, 0))
    s += method(1, 60, 80, struct.pack(">QB", 1, 0))
    for tag in (7, 8):
        s += method(1, 60, 60, sstr(b"ctag") + struct.pack(">QB", tag, 0) + sstr(b"") + sstr(b"q"))
        s += header(1, 2) + frame(3, 1, b"hi")
    s += method(0, 10, 51)
    return c, s


def main():
    os.makedirs(ROOT, exist_ok=True)
    c, s = session()
    seeds = {
        "session": b"\x00" + data(C2S, c[:300]) + data(S2C, s) + data(C2S, c[300:]) + end(C2S),
        "midstream": b"\x06" + data(C2S, c[150:]) + data(S2C, s[40:]),
        "gaps": b"\x08" + data(C2S, c[:200]) + gap(C2S, 9) + data(C2S, c[209:]) + data(S2C, s),
        "garbage": b"\x00" + data(C2S, b"\x01\x00\x01\xff\xff\xff\xff" + b"\xce" * 40
                                  + method(1, 99, 99) + frame(8, 0, b"")),
    }
    for name, b in seeds.items():
        with open(os.path.join(ROOT, name), "wb") as f:
            f.write(b)


if __name__ == "__main__":
    main()
