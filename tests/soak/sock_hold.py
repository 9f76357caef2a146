#!/usr/bin/env python3
"""Many loopback TCP connections opened and held, both ends in this process
(faults.py's "socket map full"): more sockets than sonde's kernel socket map
holds (262144), so the oldest lose their state there.

    sock_hold.py COUNT SOURCE_IP

Listens on 127.0.0.1 at a port the kernel picks and prints "listening
PORT" (a port chosen by the caller and bound later could be taken in
between: by then the machine's other tests and the holders before this one
hold thousands of ephemeral ports); on the line "open" it connects COUNT
clients from SOURCE_IP (a loopback address: the ephemeral ports of one
address run out near 28000), accepts them all, prints "held N", then obeys
lines on standard input:

    speak K   the K oldest connections each carry one request and its answer
              ("GET /old-I", "200 ok"), over the connection held since the
              start; prints "spoke K" (K answers read back whole)
    close     closes everything, prints "closed" and exits
"""
import resource
import socket
import sys

IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h: the port is chosen at connect, by the 4-tuple


def raise_fd_limit(n):
    """Up to the hard limit: without CAP_SYS_RESOURCE (a container) it
    cannot be raised, so the caller spreads connections over processes."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(hard, n)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def drain(listener, servers):
    while True:
        try:
            s, peer = listener.accept()
        except BlockingIOError:
            return
        servers[peer] = s


def listen():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    listener.setblocking(False)
    return listener


def open_all(listener, count, source):
    port = listener.getsockname()[1]
    clients, servers = [], {}
    for i in range(count):
        c = socket.socket()
        c.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        c.bind((source, 0))
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))  # loopback: established within the call
        clients.append(c)
        if i % 256 == 255:
            drain(listener, servers)
    for _ in range(200):
        drain(listener, servers)
        if len(servers) >= count:
            break
        socket.socket().close()  # let softirqs run
    pairs = []
    for c in clients:
        s = servers.get(c.getsockname())
        if s is not None:
            pairs.append((c, s))
    return pairs


def speak(pairs, k):
    ok = 0
    for i, (c, s) in enumerate(pairs[:k]):
        c.setblocking(True)
        s.setblocking(True)
        c.settimeout(10)
        s.settimeout(10)
        try:
            c.sendall(f"GET /old-{i} HTTP/1.1\r\nHost: held\r\n\r\n".encode())
            req = b""
            while b"\r\n\r\n" not in req:
                req += s.recv(4096)
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
            resp = b""
            while not resp.endswith(b"ok\n"):
                got = c.recv(4096)
                if not got:
                    break
                resp += got
            ok += resp.startswith(b"HTTP/1.1 200")
        except OSError:
            pass
    return ok


def main():
    count, source = int(sys.argv[1]), sys.argv[2]
    raise_fd_limit(2 * count + 64)
    listener = listen()
    print(f"listening {listener.getsockname()[1]}", flush=True)
    if sys.stdin.readline().split() != ["open"]:
        return
    pairs = open_all(listener, count, source)
    print(f"held {len(pairs)}", flush=True)
    for line in sys.stdin:
        words = line.split()
        if words and words[0] == "speak":
            print(f"spoke {speak(pairs, int(words[1]))}", flush=True)
        elif words and words[0] == "close":
            break
    for c, s in pairs:
        c.close()
        s.close()
    listener.close()
    print("closed", flush=True)


if __name__ == "__main__":
    main()
