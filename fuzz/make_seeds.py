#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the hand-made seed corpora of the fuzz targets into fuzz/corpus/.

    python3 fuzz/make_seeds.py

Deterministic; the seeds it writes are committed (a few KB in all), so this
only needs running again when a seed is added or an input layout changes.
Larger real-world captures (../shared/corpus/http1) are added as seeds by
tests/fuzz-smoke at run time, never copied here.
"""
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ------------------------------------------------------------ captures ---

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", v6=False):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    seg = hdr + payload
    if v6:
        ip = struct.pack("!IHBB", 6 << 28, len(seg), 6, 64) + src + dst
        eth_type = 0x86DD
    else:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 0, 0x4000, 64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        eth_type = 0x0800
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + struct.pack("!H", eth_type)
    return eth + ip + seg


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def conversation(exchanges, v6=False, reorder=False):
    """Frames of one TCP connection carrying the given (request, response)s."""
    if v6:
        c, s = b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\x01", b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\x02"
    else:
        c, s = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    cp, sp = 40000, 80
    cs, ss = 1000, 5000
    f = [tcp(c, s, cp, sp, cs, 0, SYN, v6=v6),
         tcp(s, c, sp, cp, ss, cs + 1, SYN | ACK, v6=v6),
         tcp(c, s, cp, sp, cs + 1, ss + 1, ACK, v6=v6)]
    cs += 1
    ss += 1
    for req, resp in exchanges:
        f.append(tcp(c, s, cp, sp, cs, ss, PSH | ACK, req, v6=v6))
        cs += len(req)
        segs = [resp[i:i + 64] for i in range(0, len(resp), 64)]
        out = []
        for seg in segs:
            out.append(tcp(s, c, sp, cp, ss, cs, PSH | ACK, seg, v6=v6))
            ss += len(seg)
        if reorder and len(out) >= 2:
            out[0], out[1] = out[1], out[0]
        f += out
        f.append(tcp(c, s, cp, sp, cs, ss, ACK, v6=v6))
    f.append(tcp(c, s, cp, sp, cs, ss, FIN | ACK, v6=v6))
    f.append(tcp(s, c, sp, cp, ss, cs + 1, FIN | ACK, v6=v6))
    f.append(tcp(c, s, cp, sp, cs + 1, ss + 1, ACK, v6=v6))
    return f


def pcap(frames, snaplen=65535):
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1)
    for i, fr in enumerate(frames):
        cap = fr[:snaplen]
        out += struct.pack("<IIII", 1700000000, i * 1000, len(cap), len(fr)) + cap
    return out


def pcapng(frames):
    def block(t, body):
        body += b"\0" * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack("<II", t, n) + body + struct.pack("<I", n)
    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", 1, 0, 0))
    ts = 1700000000 * 1000000
    for i, fr in enumerate(frames):
        t = ts + i * 1000
        out += block(6, struct.pack("<IIIII", 0, t >> 32, t & 0xFFFFFFFF, len(fr), len(fr)) + fr)
    return out


GET = (b"GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: seed/1.0\r\n"
       b"Accept: */*\r\nCookie: a=b\r\n\r\n")
RESP_LEN = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nhello world\n"
RESP_CHUNKED = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n7;ext=1\r\n world!\r\n0\r\nX-Trailer: t\r\n\r\n")
POST = b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nabcde"
RESP_100 = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
GZ = zlib.compress(b"compressed body " * 20)
RESP_GZIP = (b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %d\r\n\r\n" % len(GZ)) + GZ
HEAD = b"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
RESP_HEAD = b"HTTP/1.0 200 OK\r\nContent-Length: 1000\r\nConnection: keep-alive\r\n\r\n"
UPGRADE = b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
RESP_101 = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi"


def captures():
    write("fuzz_capfile", "get-len.pcap", pcap(conversation([(GET, RESP_LEN)])))
    write("fuzz_capfile", "pipelined-chunked.pcap",
          pcap(conversation([(GET, RESP_CHUNKED), (POST, RESP_100), (HEAD, RESP_HEAD)])))
    write("fuzz_capfile", "v6-reorder-deflate.pcapng",
          pcapng(conversation([(GET, RESP_GZIP), (UPGRADE, RESP_101)], v6=True, reorder=True)))
    write("fuzz_capfile", "snaplen.pcap", pcap(conversation([(GET, RESP_CHUNKED)]), snaplen=80))


# ------------------------------------------------------------ http1 ----

def ev_data(direction, data, clock=0):
    out = b""
    for i in range(0, len(data), 255):
        piece = data[i:i + 255]
        out += bytes([(clock << 4) | direction]) + bytes([len(piece)]) + piece
    return out


def ev_data16(direction, data, clock=0):
    return bytes([(clock << 4) | 0x08 | direction]) + struct.pack("<H", len(data)) + data


def ev_gap(direction, n):
    return bytes([0x04 | direction]) + struct.pack("<H", n)


def ev_end(direction):
    return bytes([0x06 | direction])


def split(direction, data, at):
    out, prev = b"", 0
    for a in at + [len(data)]:
        out += ev_data(direction, data[prev:a], 1)
        prev = a
    return out


def http1():
    C, S = 0, 1
    write("fuzz_http1", "simple", b"\x00" + ev_data(C, GET) + ev_data(S, RESP_LEN, 2) + ev_end(C) + ev_end(S))
    write("fuzz_http1", "split-chunked", b"\x00" + split(C, GET, [1, 5, 20, 50]) +
          split(S, RESP_CHUNKED, [3, 17, 40, 52, 53, 60, 70, 75]))
    write("fuzz_http1", "pipelined", b"\x00" + ev_data16(C, GET + POST + HEAD) +
          ev_data16(S, RESP_LEN + RESP_100 + RESP_HEAD))
    write("fuzz_http1", "gap-in-body", b"\x00" + ev_data(C, GET) + ev_data(S, RESP_LEN[:60]) +
          ev_gap(S, 4) + ev_data(S, RESP_LEN[64:]) + ev_data(C, GET) + ev_gap(S, 30) +
          ev_data(S, RESP_CHUNKED))
    write("fuzz_http1", "midstream", b"\x06" + ev_data(C, b"tail of a body\r\n" + GET) +
          ev_data(S, b"garbage\r\n" + RESP_CHUNKED))
    write("fuzz_http1", "deflate-tight", b"\x09" + ev_data(C, GET) + ev_data16(S, RESP_GZIP))
    write("fuzz_http1", "upgrade-v6", b"\x10" + ev_data(C, UPGRADE) + ev_data(S, RESP_101))
    write("fuzz_http1", "http09-close", b"\x00" + ev_data(C, b"GET /old\r\n") +
          ev_data(S, b"<html>old</html>") + ev_end(S) + ev_end(C))
    write("fuzz_http1", "connect", b"\x00" + ev_data(C, b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n") +
          ev_data(S, b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01"))


# ------------------------------------------------------------ reasm ----

def reasm():
    def add(delta, caplen, extra=0, mode=0, op=0):
        return bytes([op]) + struct.pack("<hHBB", delta, caplen, extra, mode)
    hdr = struct.pack("<IHH", 0xFFFFFF00, 6000, 3000)
    write("fuzz_reasm", "in-order", hdr + add(0, 100) + add(0, 200) + bytes([6, 0, 0]) + bytes([7]))
    write("fuzz_reasm", "holes-ack", hdr + add(100, 50) + add(300, 60) + add(0, 40) +
          bytes([5]) + struct.pack("<H", 200) + add(0, 1000, 20) + bytes([7]))
    write("fuzz_reasm", "overlap-conflict", hdr + add(10, 100) + add(50, 100, 0, 1) + add(0, 300, 0, 1) +
          add(-50, 200) + bytes([7]))
    write("fuzz_reasm", "budget", struct.pack("<IHH", 7, 500, 300) + add(100, 250) + add(400, 250) +
          add(800, 250) + add(0, 90) + bytes([4]) + struct.pack("<HH", 10, 200) + bytes([7]))
    write("fuzz_reasm", "seq-wrap", hdr + bytes([3]) + struct.pack("<IHB", 0xFFFFFF00, 400, 0) +
          bytes([3]) + struct.pack("<IHB", 0x00000100, 100, 30) + bytes([7]))


if __name__ == "__main__":
    captures()
    http1()
    reasm()
