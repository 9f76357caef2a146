#!/usr/bin/env python3
"""gRPC corpus test: sonde against tshark on the captures in $SONDE_CORPUS/grpc.

For each capture (*.pcap, *.pcapng) this runs

    sonde read -o json FILE
    tshark -n -r FILE [opts] -T fields -e http2.request.full_uri -e grpc.message_length

(opts: the capture's `tshark opts` hint in $SONDE_CORPUS/SOURCES.md) and
compares, per capture:

  * the calls: sorted set of "service/method" of sonde's gRPC requests against
    the :paths tshark decodes (taken from http2.request.full_uri);
  * the number of gRPC messages: the sum of sonde's message_count over
    requests and responses against the number of grpc.message_length values.

Where the two tools legitimately differ, EXPECT gives sonde's values exactly
and why, so an entry that stops being true fails loudly. TLS captures would
be skipped (there are none with gRPC in the corpus today).

Output: "PASS <file>", "FAIL <file>: <why>" or "SKIP <file>: <why>" per
capture; "SKIP grpc-corpus: ..." when the corpus or tshark is absent. Exit
status 1 if any FAIL.

Usage: python3 tests/corpus/test_grpc_corpus.py --sonde ./sonde [CAPTURE ...]
Environment: SONDE_CORPUS (default ../shared/corpus from the repository).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.environ.get("SONDE_CORPUS", os.path.join(ROOT, "..", "shared", "corpus"))

TLS = {}

UNKNOWN_PATH = ("the capture starts mid-connection and the request's :path refers to an HPACK "
                "table entry from before it: sonde still records the call (service and method "
                "null, the header written as unknown) and counts its messages both ways; tshark "
                "does not dissect the stream as gRPC")

# Per capture: sonde's (calls, message count) where they differ from tshark's.
EXPECT = {
    "deepflow-grpc-unknown.pcap": {"calls": ["None/None"], "messages": 2, "why": UNKNOWN_PATH},
    "deepflow-grpc-server-stream.pcap": {
        "calls": ["timeseriesquery.TimeSeriesQueryService/ServerStreamQuery"], "messages": 3,
        "why": "three 17-byte holes between the streamed response's DATA frames: sonde cannot "
               "know which stream the lost frames belonged to, so it keeps (and splits into "
               "messages) the response body only up to the first hole (the record is flagged "
               "response_gap); tshark assumes the holes held no DATA of this stream"},
    "deepflow-grpc-unary.pcap": {
        "calls": ["agent.Synchronizer/Sync"], "messages": 2,
        "why": "the capture ends inside the response's 54864-byte message: sonde counts every "
               "message whose prefix it saw, tshark only reassembled ones"},
    "suricata-http2-errorcode-grpc.pcap": {
        "calls": ["helloworld.GreeterService/SayHello"], "messages": 2,
        "why": "the second call goes through an HTTP CONNECT proxy: sonde records the CONNECT "
               "and treats the rest as a tunnel, tshark dissects the h2c inside it"},
    "wireshark-grpc_stream_reassembly_sample.pcapng": {
        "calls": ["TestService/Unary", "streamtest.StreamTest/StreamCall"], "messages": 12,
        "why": "the capture ends inside the 10th message of StreamCall's request: sonde counts "
               "every message whose prefix it saw, tshark only reassembled ones"},
    "wireshark-grpc_web.pcapng": {
        "calls": [], "messages": 0,
        "why": "gRPC-Web (application/grpc-web, -web-text) is not recognised as gRPC by sonde"},
}


def tshark_opts(name):
    try:
        with open(os.path.join(CORPUS, "SOURCES.md"), encoding="utf-8") as f:
            for line in f:
                if ("grpc/%s`" % name) in line:
                    m = re.search(r"tshark opts: `([^`]*)`", line)
                    return m.group(1).split() if m else []
    except OSError:
        pass
    return []


def tshark_view(path):
    out = subprocess.run(["tshark", "-n", "-r", path] + tshark_opts(os.path.basename(path)) +
                         ["-T", "fields", "-e", "http2.request.full_uri", "-e", "grpc.message_length"],
                         capture_output=True, timeout=120)
    if out.returncode:
        raise RuntimeError("tshark: " + out.stderr.decode()[-300:])
    calls, n = set(), 0
    for line in out.stdout.decode().splitlines():
        f = line.split("\t")
        for uri in f[0].split(","):
            p = urlsplit(uri).path if uri else ""
            if p.count("/") == 2 and p.startswith("/") and "(null)" not in uri:
                calls.add(p[1:])
        if len(f) > 1:
            n += len([x for x in f[1].split(",") if x])
    # only calls that are gRPC: tshark would show paths of other requests too;
    # the corpus's gRPC captures carry gRPC only
    return sorted(calls), n


def sonde_view(sonde, path):
    out = subprocess.run([sonde, "read", "-o", "json", "--no-redact", path], capture_output=True, timeout=120)
    if out.returncode:
        raise RuntimeError("sonde exit %d: %s" % (out.returncode, out.stderr.decode()[:300]))
    calls, n = set(), 0
    for line in out.stdout.decode().splitlines():
        r = json.loads(line)
        for side in ("request", "response"):
            m = r.get(side)
            if m and m.get("grpc"):
                g = m["grpc"]
                n += g["message_count"]
                if side == "request":
                    calls.add("%s/%s" % (g["service"], g["method"]))
    return sorted(calls), n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sonde", default=os.path.join(ROOT, "sonde"))
    ap.add_argument("captures", nargs="*")
    a = ap.parse_args()
    d = os.path.join(CORPUS, "grpc")
    if not os.path.isdir(d):
        print("SKIP grpc-corpus: %s is absent" % d)
        return 0
    if not shutil.which("tshark"):
        print("SKIP grpc-corpus: tshark is not installed")
        return 0
    files = a.captures or sorted(os.path.join(d, f) for f in os.listdir(d)
                                 if f.endswith((".pcap", ".pcapng")))
    fails = 0
    for path in files:
        name = os.path.basename(path)
        if name in TLS:
            print("SKIP %s: %s" % (name, TLS[name]))
            continue
        try:
            want_calls, want_n = tshark_view(path)
            calls, n = sonde_view(a.sonde, path)
        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
            print("FAIL %s: %s" % (name, e))
            fails += 1
            continue
        exp = EXPECT.get(name)
        if exp:
            want_calls, want_n = exp["calls"], exp["messages"]
        why = []
        if calls != want_calls:
            why.append("calls %r, want %r" % (calls, want_calls))
        if n != want_n:
            why.append("%d gRPC messages, want %d" % (n, want_n))
        if why:
            print("FAIL %s: %s" % (name, "; ".join(why)))
            fails += 1
        else:
            print("PASS %s (%d calls, %d messages%s)" % (name, len(calls), n,
                                                         "; differs from tshark as expected" if exp else ""))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
