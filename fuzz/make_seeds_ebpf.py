#!/usr/bin/env python3
"""Seeds for fuzz_ebpf (layout: fuzz/fuzz_ebpf.c): ring-buffer records as the
kernel programs write them (struct sonde_event of bpf/sonde_events.h,
version 4, 152 bytes, then the payload or a struct sonde_tcp_info of 128).

Scenarios: an HTTP/1.1 exchange over a TCP connection seen from its open
(OPEN, DATA both ways, CLOSE with TCP info); the same on loopback, both ends
traced (the second end's events must be dropped); a Redis exchange joined
mid-stream with a lost event; TLS plaintext held before its socket is known,
then bound; a DNS datagram each way; a connect() that failed (TCP_FAILED);
records cut short, of an unknown version, and with cap > len.

Usage: /usr/bin/python3 fuzz/make_seeds_ebpf.py [OUTDIR]   (default fuzz/corpus/fuzz_ebpf)
"""
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = 4
DATA, OPEN, CLOSE, MAPPED, TCP_FAILED = 1, 2, 3, 4, 5
TX, RX = 0, 1
CLIENT, SERVER = 1, 2
F_MIDSTREAM, F_AFTER_LOSS, F_TLS, F_DATAGRAM, F_TCP_INFO = 1, 8, 16, 32, 64
F_PEER_COPY, F_PEER_OWNER = 128, 256
AF_INET = 2


def v4(a):
    return bytes(int(x) for x in a.split(".")) + bytes(12)


def event(type_, conn, dir_=TX, role=CLIENT, flags=0, pos=0, rx_pos=0, payload=b"", length=None,
          laddr="10.0.0.1", lport=40000, raddr="10.0.0.2", rport=80, comm=b"curl", ts=1000,
          tls_fn=0, sock_id=0, tail=b""):
    """One record: the header, then payload (cap bytes of length) or tail."""
    length = len(payload) if length is None else length
    hdr = struct.pack("<BBBBBBH", VERSION, type_, dir_, role, AF_INET, 0, flags)
    hdr += struct.pack("<II", 4242, 4243)
    hdr += struct.pack("<QQQQQQ", ts, conn, 0xffff000000 + conn, 7, pos, rx_pos)
    hdr += struct.pack("<II", length, len(payload))
    hdr += v4(laddr) + v4(raddr) + struct.pack("<HH", lport, rport)
    hdr += comm.ljust(16, b"\0")[:16] + struct.pack("<I", 4026531840)
    hdr += struct.pack("<QQII", tls_fn, sock_id, 120, 0)
    assert len(hdr) == 152
    return hdr + payload + tail


def tcp_info(sent, received, err=0):
    """struct sonde_tcp_info: times, byte counts, RTTs, the end's facts."""
    b = struct.pack("<QQQQQQQQ", 500, 900, sent, received, sent, 0, 1000000, 240)
    b += struct.pack("<IIIIII", 2, 120, 30, 100, 140, 10)
    b += struct.pack("<IIII", 12, 11, 0, 0)
    b += struct.pack("<iBBBBB3x", err, 1, 1, 0, 3, CLIENT)
    b += struct.pack("<III", 80, 0, 0)
    assert len(b) == 128, len(b)
    return b


def records(evs):
    return b"".join(struct.pack("<H", len(e)) + e for e in evs)


REQ = b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer T0K\r\n\r\n"
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def http_open_close():
    return records([
        event(OPEN, 1),
        event(DATA, 1, TX, payload=REQ),
        event(DATA, 1, RX, payload=RESP),
        event(CLOSE, 1, pos=len(REQ), rx_pos=len(RESP), flags=F_TCP_INFO,
              tail=tcp_info(len(REQ), len(RESP))),
    ])


def loopback_both_ends():
    lo = dict(laddr="127.0.0.1", raddr="127.0.0.1")
    srv = dict(laddr="127.0.0.1", lport=80, raddr="127.0.0.1", rport=40000, role=SERVER)
    return records([
        event(OPEN, 2, **lo),
        event(OPEN, 3, **srv),
        event(DATA, 2, TX, payload=REQ, **lo),
        event(DATA, 3, RX, payload=REQ, **srv),
        event(DATA, 3, TX, flags=F_PEER_COPY, length=len(RESP), **srv),
        event(DATA, 2, RX, payload=RESP, flags=F_PEER_OWNER, **lo),
        event(CLOSE, 3, pos=len(RESP), rx_pos=len(REQ), **srv),
        event(CLOSE, 2, pos=len(REQ), rx_pos=len(RESP), **lo),
    ])


def redis_midstream():
    cmd = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
    r = dict(rport=6379, role=0, comm=b"redis-cli")
    return records([
        event(DATA, 4, TX, flags=F_MIDSTREAM, pos=1000, payload=cmd, **r),
        event(DATA, 4, RX, flags=F_MIDSTREAM, pos=77, payload=b"+OK\r\n", **r),
        event(DATA, 4, TX, flags=F_AFTER_LOSS, pos=1000 + len(cmd) + 30, payload=cmd, **r),
        event(DATA, 4, TX, pos=1000 + 2 * len(cmd) + 30, payload=cmd[:9], length=len(cmd), **r),
        event(CLOSE, 4, pos=1000 + 3 * len(cmd) + 30, rx_pos=82, **r),
    ])


def tls_held_then_bound():
    t = dict(flags=F_TLS, tls_fn=(1 << 63) | 5, comm=b"python3")
    unbound = dict(laddr="0.0.0.0", raddr="0.0.0.0", lport=0, rport=0)
    unbound_ev = event(DATA, 9, TX, payload=REQ, **unbound, **t)
    unbound_ev = unbound_ev[:4] + b"\0" + unbound_ev[5:]  # family 0: socket unknown
    return records([
        unbound_ev,
        event(DATA, 9, RX, payload=RESP, sock_id=1, rport=443, **t),
        event(DATA, 9, TX, pos=len(REQ), payload=REQ, sock_id=1, rport=443, **t),
        event(CLOSE, 1, pos=0, rx_pos=0, rport=443),
    ])


def dns_datagrams():
    q = bytes.fromhex("123401000001000000000000076578616d706c6503636f6d0000010001")
    a = bytes.fromhex("123481800001000100000000076578616d706c6503636f6d0000010001"
                      "c00c000100010000003c00045db8d822")
    d = dict(flags=F_DATAGRAM, rport=53, comm=b"dig")
    return records([event(DATA, 0, TX, payload=q, **d), event(DATA, 0, RX, payload=a, **d)])


def failed_and_odd():
    good = event(DATA, 5, TX, payload=REQ)
    bad_version = bytearray(good)
    bad_version[0] = 3
    cap_over_len = bytearray(good)
    struct.pack_into("<I", cap_over_len, 64, 4)
    return records([
        event(TCP_FAILED, 6, flags=F_TCP_INFO, tail=tcp_info(0, 0, err=111)),
        event(TCP_FAILED, 7, flags=F_TCP_INFO),  # its info missing
        event(MAPPED, 0, dir_=0),
        bytes(bad_version),
        bytes(cap_over_len),
        good[:100],
        event(OPEN, 8),
        event(DATA, 8, TX, pos=(1 << 64) - 10, payload=REQ),
    ])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus", "fuzz_ebpf")
    os.makedirs(out, exist_ok=True)
    for make in (http_open_close, loopback_both_ends, redis_midstream, tls_held_then_bound,
                 dns_datagrams, failed_and_odd):
        seed = make()
        name = "seed-%s-%s" % (make.__name__.replace("_", "-"), hashlib.sha1(seed).hexdigest()[:12])
        with open(os.path.join(out, name), "wb") as f:
            f.write(seed)
        print(name, len(seed))


if __name__ == "__main__":
    main()
