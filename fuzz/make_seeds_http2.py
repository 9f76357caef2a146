#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seeds of fuzz_http2 into fuzz/corpus/fuzz_http2/ (layout: see fuzz/fuzz_http2.c).

    python3 fuzz/make_seeds_http2.py

Header blocks use HPACK static-table indexes only (0x82 :method GET, 0x83
:method POST, 0x84 :path /, 0x86 :scheme http, 0x88 :status 200, 0x8d
:status 404) plus one literal with incremental indexing, so no encoder is needed.
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_http2")


def frame(t, fl, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([t, fl]) + struct.pack(">I", sid) + payload


def data_ev(d, b):
    out = b""
    while b:
        k, b = b[:255], b[255:]
        out += bytes([d, len(k)]) + k
    return out


def seed(name, opts, events):
    os.makedirs(ROOT, exist_ok=True)
    with open(os.path.join(ROOT, name), "wb") as f:
        f.write(bytes([opts]) + b"".join(events))


lit = b"\x40\x0ax-custom-k\x05value"  # literal, incremental indexing, new name
c2s = (frame(4, 0, 0) + frame(4, 1, 0) +
       frame(1, 0x1, 1, b"\x82\x86\x84" + lit[:6]) + frame(9, 0x4, 1, lit[6:]) +
       frame(1, 0x4, 3, b"\x83\x86\x84\xbe") + frame(0, 0x9, 3, b"\x02abc\0\0"))
s2c = (frame(4, 1, 0) + frame(1, 0x4, 3, b"\x8d") + frame(1, 0x4, 1, b"\x88") +
       frame(0, 0x1, 1, b"hello") + frame(0, 0x1, 3, b"") +
       frame(5, 0x4, 1, b"\0\0\0\x02\x82\x86\x84") + frame(1, 0x5, 2, b"\x88") +
       frame(3, 0, 5, b"\0\0\0\x08") + frame(7, 0, 0, b"\0\0\0\x03\0\0\0\0"))
seed("exchange", 0, [data_ev(0, c2s), data_ev(1, s2c)])
seed("exchange-split", 0, [data_ev(0, c2s[:7]), data_ev(1, s2c[:3]), data_ev(0, c2s[7:]),
                           data_ev(1, s2c[3:])])
seed("gap", 0, [data_ev(0, c2s[:20]), bytes([0 | 4, 5, 0]), data_ev(0, c2s[20:]), data_ev(1, s2c)])
seed("raw-preface", 32, [data_ev(0, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + c2s),
                         data_ev(1, frame(4, 0, 0, b"\0\x01\0\0\x10\0") + s2c), bytes([6]), bytes([7])])
