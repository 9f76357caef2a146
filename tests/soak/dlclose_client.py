#!/usr/bin/env python3
"""A TLS client that uses libssl directly through ctypes, loading and
unloading it around each request (faults.py's "TLS library unmapped").

    dlclose_client.py PORT STEP...

Waits for a line on standard input (the test starts sonde on this pid
meanwhile), then for each STEP, "wait:LIBSSL:/TARGET" or "now:LIBSSL:/TARGET":
dlopen()s LIBSSL, (wait: sleeps 1.5 s, the time sonde takes to probe a
library mapped moments ago), makes one HTTPS GET of /TARGET on 127.0.0.1:PORT
(handshake, SSL_write, SSL_read to the end), frees everything, dlclose()s the
library and prints "/TARGET ok unmapped=True|False" — whether LIBSSL has left
/proc/self/maps. Any failure (handshake, a short answer) is an exception:
exit status 1. No `import ssl`: this process maps no other TLS library.
"""
import ctypes
import os
import socket
import sys
import time

import _ctypes

PROTOS = (("TLS_client_method", ctypes.c_void_p, []),
          ("SSL_CTX_new", ctypes.c_void_p, [ctypes.c_void_p]),
          ("SSL_new", ctypes.c_void_p, [ctypes.c_void_p]),
          ("SSL_set_fd", ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
          ("SSL_connect", ctypes.c_int, [ctypes.c_void_p]),
          ("SSL_write", ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]),
          ("SSL_read", ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]),
          ("SSL_shutdown", ctypes.c_int, [ctypes.c_void_p]),
          ("SSL_free", None, [ctypes.c_void_p]),
          ("SSL_CTX_free", None, [ctypes.c_void_p]))


def mapped(path):
    with open("/proc/self/maps") as f:
        return any(ln.rstrip().endswith(path) for ln in f)


def load(path):
    lib = ctypes.CDLL(path, mode=os.RTLD_NOW | os.RTLD_LOCAL)
    for name, res, args in PROTOS:
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    return lib


def get(lib, port, target):
    ctx = lib.SSL_CTX_new(lib.TLS_client_method())
    s = socket.create_connection(("127.0.0.1", port))
    ssl = lib.SSL_new(ctx)
    lib.SSL_set_fd(ssl, s.fileno())
    if lib.SSL_connect(ssl) != 1:
        raise RuntimeError("handshake failed")
    req = f"GET {target} HTTP/1.1\r\nHost: dl\r\nConnection: close\r\n\r\n".encode()
    if lib.SSL_write(ssl, req, len(req)) != len(req):
        raise RuntimeError("short write")
    buf = ctypes.create_string_buffer(65536)
    got = b""
    while True:
        n = lib.SSL_read(ssl, buf, len(buf))
        if n <= 0:
            break
        got += buf.raw[:n]
    lib.SSL_shutdown(ssl)
    lib.SSL_free(ssl)
    lib.SSL_CTX_free(ctx)
    s.close()
    if not (got.startswith(b"HTTP/1.") and got.endswith(b"ok\n")):
        raise RuntimeError(f"bad answer {got[:200]!r}")


def main():
    port = int(sys.argv[1])
    sys.stdin.readline()
    for step in sys.argv[2:]:
        when, path, target = step.split(":", 2)
        lib = load(path)
        if when == "wait":
            time.sleep(1.5)
        get(lib, port, target)
        handle = lib._handle
        del lib  # ctypes holds no other reference: dlclose drops the last one
        _ctypes.dlclose(handle)
        print(f"{target} ok unmapped={not mapped(path)}", flush=True)


if __name__ == "__main__":
    main()
