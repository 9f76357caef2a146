#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seeds of fuzz_kafka into fuzz/corpus/fuzz_kafka/ (the layout of
fuzz/fuzz_kafka.c: an options byte, then data/gap/end events). The messages
are built here from the protocol's definition; deterministic.

    python3 fuzz/make_seeds_kafka.py
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_kafka")
C2S, S2C = 0, 1


def data(d, b):
    out = b""
    while b:
        piece, b = b[:65535], b[65535:]
        out += (bytes([d | 8]) + len(piece).to_bytes(2, "little")) if len(piece) > 255 \
            else bytes([d, len(piece)])
        out += piece
    return out


def gap(d, n):
    return bytes([d | 4]) + n.to_bytes(2, "little")


def uv(v):
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7f) | 0x80])
        v >>= 7
    return out + bytes([v])


def cstr(s):
    return uv(len(s) + 1) + s


def s16(s):
    return struct.pack(">h", len(s)) + s


def frame(b):
    return struct.pack(">i", len(b)) + b


def req(key, ver, corr, body, flexible):
    return frame(struct.pack(">hhi", key, ver, corr) + s16(b"fuzz") + (b"\0" if flexible else b"") + body)


def resp(corr, body, flexible):
    return frame(struct.pack(">i", corr) + (b"\0" if flexible else b"") + body)


def batch(n):
    rest = struct.pack(">iBihiqqqhii", 0, 2, 0, 0, n - 1, 0, 0, -1, -1, -1, n) + b"\0" * 8
    return struct.pack(">qi", 0, len(rest)) + rest


def seeds():
    b = batch(3)
    produce9 = req(0, 9, 7, uv(0) + struct.pack(">hi", -1, 1500) + uv(2) + cstr(b"orders") + uv(2)
                   + struct.pack(">i", 0) + uv(len(b) + 1) + b + b"\0\0" + uv(1) + uv(77) + uv(2)
                   + b"\xbe\xef", True)
    produce9r = resp(7, uv(2) + cstr(b"orders") + uv(2) + struct.pack(">ihqqq", 0, 0, 42, -1, 0)
                     + uv(1) + uv(0) + b"\0\0" + struct.pack(">i", 0) + b"\0", True)
    meta1 = req(3, 1, 1, struct.pack(">i", 1) + s16(b"missing"), False)
    meta1r = resp(1, struct.pack(">ii", 1, 1) + s16(b"localhost") + struct.pack(">ih", 9092, -1)
                  + struct.pack(">ii", 1, 1) + struct.pack(">h", 3) + s16(b"missing") + b"\0"
                  + struct.pack(">i", 0), False)
    apiv = req(18, 3, 2, cstr(b"fuzz") + cstr(b"1") + b"\0", True)
    apivr = resp(2, struct.pack(">hi", 35, 1) + struct.pack(">hhh", 18, 0, 2), False)
    sasl = req(36, 2, 3, uv(6) + b"\0u\0pw\0" + b"\0", True)
    hand0 = req(17, 0, 4, s16(b"PLAIN"), False)
    hand0r = resp(4, struct.pack(">hi", 0, 1) + s16(b"PLAIN"), False)
    return {
        "produce_v9": bytes([0]) + data(C2S, produce9) + data(S2C, produce9r),
        "metadata_v1": bytes([0]) + data(C2S, meta1) + data(S2C, meta1r),
        "api_versions": bytes([0]) + data(C2S, apiv) + data(S2C, apivr),
        "split": bytes([0]) + data(C2S, produce9[:5]) + data(C2S, produce9[5:]) + data(S2C, produce9r[:3])
        + data(S2C, produce9r[3:]),
        "gaps": bytes([0]) + data(C2S, meta1[:9]) + gap(C2S, 4) + data(C2S, meta1[13:] + sasl)
        + gap(S2C, 2) + data(S2C, meta1r),
        "midstream": bytes([6]) + data(C2S, b"junk" + meta1 + apiv) + data(S2C, b"xx" + meta1r + apivr),
        "sasl_v0": bytes([0]) + data(C2S, hand0 + frame(b"\0u\0pw") + meta1) + data(S2C, hand0r)
        + data(S2C, struct.pack(">i", 0) + meta1r),
        "tight": bytes([8]) + data(C2S, produce9 + meta1 + apiv) + data(S2C, produce9r + meta1r + apivr),
    }


def main():
    os.makedirs(ROOT, exist_ok=True)
    for name, blob in seeds().items():
        with open(os.path.join(ROOT, name), "wb") as fh:
            fh.write(blob)
    print(f"wrote {len(seeds())} seeds to {ROOT}")


if __name__ == "__main__":
    main()
