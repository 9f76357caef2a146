#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seeds of fuzz_mqtt into fuzz/corpus/fuzz_mqtt/ (the layout of
fuzz/fuzz_stream.h: an options byte, then data/gap/end events). Hand-made
packets after the MQTT 3.1.1 and 5.0 specifications; deterministic.

    /usr/bin/python3 fuzz/make_seeds_mqtt.py
"""
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_mqtt")
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


def varint(n):
    out = b""
    while True:
        c, n = n & 0x7F, n >> 7
        out += bytes([c | (0x80 if n else 0)])
        if not n:
            return out


def s(x):
    x = x.encode() if isinstance(x, str) else x
    return len(x).to_bytes(2, "big") + x


def pkt(first, body):
    return bytes([first]) + varint(len(body)) + body


def session(v5):
    p = b"\x00" if v5 else b""
    c = pkt(0x10, s("MQTT") + bytes([5 if v5 else 4, 0xC6]) + b"\x00\x1e" + p + s("cid")
            + p + s("will") + s("bye") + s("user") + s("pass"))
    c += pkt(0x82, b"\x00\x01" + p + s("a/#") + b"\x02")
    c += pkt(0x30, s("a/0") + (b"\x03\x23\x00\x01" if v5 else b"") + b"hello")
    c += pkt(0x32, s("a/1") + b"\x00\x02" + p + b"one")
    c += pkt(0x34, s("a/2") + b"\x00\x03" + p + b"two")
    c += pkt(0x62, b"\x00\x03") + pkt(0xA2, b"\x00\x04" + p + s("a/#")) + b"\xc0\x00"
    c += pkt(0xE0, b"\x00" if v5 else b"")
    r = pkt(0x20, b"\x00\x00" + (b"\x03\x21\x00\x14" if v5 else b""))
    r += pkt(0x90, b"\x00\x01" + p + b"\x02")
    r += pkt(0x40, b"\x00\x02" + (b"\x10\x00" if v5 else b""))
    r += pkt(0x50, b"\x00\x03") + pkt(0x70, b"\x00\x03")
    r += pkt(0xB0, b"\x00\x04" + (b"\x00\x00" if v5 else b"")) + b"\xd0\x00"
    r += pkt(0x32, s("a/1") + b"\x00\x09" + p + b"delivered")
    return c, r


def main():
    os.makedirs(ROOT, exist_ok=True)
    seeds = {}
    for name, v5 in (("v311", False), ("v5", True)):
        c, r = session(v5)
        seeds[name] = b"\x00" + data(C2S, c) + data(S2C, r) + end(C2S) + end(S2C)
        seeds[name + "_midstream"] = b"\x06" + data(C2S, c[20:]) + data(S2C, r[5:])
        seeds[name + "_gaps"] = (b"\x08" + data(C2S, c[:30]) + gap(C2S, 7) + data(C2S, c[37:])
                                 + data(S2C, r))
    seeds["garbage"] = b"\x00" + data(C2S, b"\x00\xff\x30\xff\xff\xff\xff\x01\xc0\x00" * 4)
    seeds["huge_length"] = b"\x00" + data(C2S, b"\x30\xff\xff\xff\x7f\x00\x01t") + gap(C2S, 9)
    for name, b in seeds.items():
        with open(os.path.join(ROOT, name), "wb") as f:
            f.write(b)


if __name__ == "__main__":
    main()
