#!/usr/bin/env python3
"""gRPC end to end: a grpcio server and client (Debian's python3-grpcio, run
with /usr/bin/python3; no protoc: generic handlers on raw bytes, protobuf
messages hand-encoded) over h2c on loopback, captured by tcpdump into a pcap
that sonde reads. Calls: a unary call, a bidirectional-streaming call with
several messages each way (gzip-compressed by the client), and a call
failing with NOT_FOUND and a message needing percent-encoding. sonde's
records must name the service and method, count and decode the messages and
carry grpc-status/grpc-message; tshark's gRPC dissection of the same pcap
(when installed) must find the same messages (count and sizes).

With a schema: the same pcap read again with `--proto-descriptor`, a
FileDescriptorSet that protoc (Debian protobuf-compiler) compiles in the test
from PROTO below: every message must carry its type (demo.Note, demo.Rich)
and its fields by name and declared type — a unary call "Typed" carries an
enum, packed sint32s, a map, a double, bytes, a bool, repeated messages and a
sfixed64 — while a field the .proto does not declare stays under its number.

The same calls are then made again under `sonde capture --port P` (eBPF, live)
and its records checked the same way (without tshark); that part is skipped
when sonde capture cannot start here.

Usage: test_grpc_pcap.py path/to/sonde
Prints PASS/FAIL/SKIP lines; exits non-zero on any FAIL.
"""
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from livelib import free_port

GRPC_PY = "/usr/bin/python3"

# The schema of the calls below, for --proto-descriptor.
PROTO = """
syntax = "proto3";
package demo;
enum Kind { KIND_UNSPECIFIED = 0; KIND_A = 1; KIND_B = 2; }
message Inner { int64 millis = 1; }
message Note { int32 id = 1; string text = 2; Inner inner = 3; }
message Rich {
  Kind kind = 1;
  repeated sint32 deltas = 2;
  map<string, int32> tags = 3;
  double ratio = 4;
  bytes blob = 5;
  bool flag = 6;
  repeated Inner items = 7;
  sfixed64 offset = 8;
}
service Echo {
  rpc Say(Note) returns (Note);
  rpc Chat(stream Note) returns (stream Note);
  rpc Fail(Note) returns (Note);
  rpc Typed(Rich) returns (Rich);
}
"""

# Typed's request (and echoed response), as the descriptor decodes it; field
# 15 is not in the .proto.
RICH = {"kind": "KIND_B", "deltas": [-1, 2, -300], "tags": {"a": 1, "b": 2}, "ratio": 0.5,
        "blob": base64.b64encode(b"\x00\x01\x02").decode(), "flag": True,
        "items": [{"millis": 5}, {"millis": 6}], "offset": -7, "15": 77}

# The server and the client, run by GRPC_PY (the python3 on PATH may lack grpc).
SCRIPT = r'''
import struct, sys, time, grpc
from concurrent import futures

def varint(v):
    out = b""
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])

def fld_varint(n, v):
    return varint(n << 3) + varint(v)

def fld_bytes(n, b):
    return varint(n << 3 | 2) + varint(len(b)) + b

def msg(i, text):
    # {1: i, 2: text, 3: {1: i * 1000}}
    return fld_varint(1, i) + fld_bytes(2, text) + fld_bytes(3, fld_varint(1, i * 1000))

def zz(v):
    return (v << 1) ^ (v >> 63) if v < 0 else v << 1

def rich():
    # demo.Rich (see PROTO), then field 15, which the .proto does not know
    return (fld_varint(1, 2) + fld_bytes(2, b"".join(varint(zz(d)) for d in (-1, 2, -300)))
            + fld_bytes(3, fld_bytes(1, b"a") + fld_varint(2, 1))
            + fld_bytes(3, fld_bytes(1, b"b") + fld_varint(2, 2))
            + varint(4 << 3 | 1) + struct.pack("<d", 0.5) + fld_bytes(5, b"\x00\x01\x02")
            + fld_varint(6, 1) + fld_bytes(7, fld_varint(1, 5)) + fld_bytes(7, fld_varint(1, 6))
            + varint(8 << 3 | 1) + struct.pack("<q", -7) + fld_varint(15, 77))

LONG = b" padding" * 40  # long enough for grpc to compress

def say(req, ctx):
    return msg(7, b"Zello unary")

def chat(it, ctx):
    for r in it:
        yield r
        yield msg(99, b"Zack")

def fail(req, ctx):
    ctx.abort(grpc.StatusCode.NOT_FOUND, "no such thing: 100% gone")

def typed(req, ctx):
    return req

def serve(port):
    s = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    h = grpc.method_handlers_generic_handler("demo.Echo", {
        "Say": grpc.unary_unary_rpc_method_handler(say),
        "Chat": grpc.stream_stream_rpc_method_handler(chat),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Typed": grpc.unary_unary_rpc_method_handler(typed),
    })
    s.add_generic_rpc_handlers((h,))
    s.add_insecure_port("127.0.0.1:%d" % port)
    s.start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    s.wait_for_termination(30)

def client(port):
    ch = grpc.insecure_channel("127.0.0.1:%d" % port)
    r = ch.unary_unary("/demo.Echo/Say")(msg(1, b"Zi there"), timeout=10)
    assert r == msg(7, b"Zello unary")
    out = list(ch.stream_stream("/demo.Echo/Chat")(iter([msg(i, b"Zmsg %d" % i + LONG) for i in range(3)]),
                                                   timeout=10, compression=grpc.Compression.Gzip))
    assert len(out) == 6, out
    try:
        ch.unary_unary("/demo.Echo/Fail")(b"", timeout=10)
        raise SystemExit("Fail did not fail")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.NOT_FOUND, e
    assert ch.unary_unary("/demo.Echo/Typed")(rich(), timeout=10) == rich()
    ch.close()

if sys.argv[1] == "serve":
    serve(int(sys.argv[2]))
else:
    client(int(sys.argv[2]))
'''


def tshark_sizes(pcap, port):
    """Sorted lengths of every gRPC message tshark finds, or None."""
    if not shutil.which("tshark"):
        return None
    out = subprocess.run(["tshark", "-r", pcap, "-d", "tcp.port==%d,http2" % port, "-Y", "grpc",
                          "-T", "fields", "-e", "grpc.message_length"],
                         capture_output=True, timeout=60)
    if out.returncode:
        return None
    sizes = []
    for line in out.stdout.decode().splitlines():
        sizes += [int(x) for x in line.strip().split(",") if x]
    return sorted(sizes)


def check(recs):
    why = []
    g = {r["request"]["grpc"]["method"]: r for r in recs
         if r.get("request") and r["request"].get("grpc")}
    if sorted(g) != ["Chat", "Fail", "Say", "Typed"]:
        return ["gRPC calls %r" % sorted(g)]
    for name, r in g.items():
        if r["request"]["grpc"]["service"] != "demo.Echo":
            why.append("%s: service %r" % (name, r["request"]["grpc"]["service"]))
        if r["flags"]:
            why.append("%s: flags %r" % (name, r["flags"]))
    say = g["Say"]
    rq, rs = say["request"]["grpc"], say["response"]["grpc"]
    if rq["message_count"] != 1 or rq["messages"][0].get("decoded") != {"1": 1, "2": "Zi there", "3": {"1": 1000}}:
        why.append("Say request %r" % rq)
    if rs["status"] != 0 or rs["message_count"] != 1 or \
            rs["messages"][0].get("decoded") != {"1": 7, "2": "Zello unary", "3": {"1": 7000}}:
        why.append("Say response %r" % rs)
    chat = g["Chat"]
    rq, rs = chat["request"]["grpc"], chat["response"]["grpc"]
    want_rq = [{"1": i, "2": "Zmsg %d" % i + " padding" * 40, "3": {"1": i * 1000}} for i in range(3)]
    # field 1 = 0 is still written (a varint 0)
    if rq["message_count"] != 3 or [m.get("decoded") for m in rq["messages"]] != want_rq:
        why.append("Chat request %r" % rq)
    if rq.get("encoding") != "gzip" or not any(m["compressed"] for m in rq["messages"]):
        why.append("Chat request not gzip-compressed: %r" % rq)
    want_rs = []
    for m in want_rq:
        want_rs += [m, {"1": 99, "2": "Zack", "3": {"1": 99000}}]
    if rs["status"] != 0 or rs["message_count"] != 6 or [m.get("decoded") for m in rs["messages"]] != want_rs:
        why.append("Chat response %r" % rs)
    fail = g["Fail"]
    rs = fail["response"]["grpc"]
    if rs["status"] != 5 or rs.get("message") != "no such thing: 100% gone" or rs["message_count"] != 0:
        why.append("Fail response %r" % rs)
    if fail["request"]["grpc"]["message_count"] != 1 or fail["request"]["grpc"]["messages"][0]["size"] != 0:
        why.append("Fail request %r" % fail["request"]["grpc"])
    for side in ("request", "response"):
        t = g["Typed"][side]["grpc"]
        if t["message_count"] != 1 or t["messages"][0].get("decoded", {}).get("15") != 77:
            why.append("Typed %s %r" % (side, t))
    return why


def check_typed(recs):
    """Records read with --proto-descriptor: types and named fields."""
    why = []
    g = {r["request"]["grpc"]["method"]: r for r in recs
         if r.get("request") and r["request"].get("grpc")}
    note = lambda i, text: {"id": i, "text": text, "inner": {"millis": i * 1000}}
    want = {
        "Say": ([note(1, "Zi there")], [note(7, "Zello unary")]),
        "Chat": ([note(i, "Zmsg %d" % i + " padding" * 40) for i in range(3)],
                 [m for i in range(3) for m in (note(i, "Zmsg %d" % i + " padding" * 40),
                                                note(99, "Zack"))]),
        "Fail": ([{}], []),
        "Typed": ([RICH], [RICH]),
    }
    # (the hand encoder writes zeros too: the first Chat message has "id": 0)
    for name, (rq, rs) in want.items():
        if name not in g:
            why.append("no %s call" % name)
            continue
        for side, msgs in (("request", rq), ("response", rs)):
            typ = "demo.Rich" if name == "Typed" else "demo.Note"
            got = g[name][side]["grpc"]["messages"]
            if [m.get("type") for m in got] != [typ] * len(msgs) or [m.get("fields") for m in got] != msgs:
                why.append("%s %s: %r, want %r" % (name, side, got, msgs))
            if any("decoded" in m for m in got):
                why.append("%s %s: both decoded and fields" % (name, side))
    return why


def run_calls(tmp, script, port):
    """Server and client on port; returns an error string or None."""
    srv = subprocess.Popen([GRPC_PY, script, "serve", str(port)], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
    try:
        if srv.stdout.readline().strip() != b"ready":
            return "the gRPC server did not start"
        cl = subprocess.run([GRPC_PY, script, "client", str(port)], capture_output=True, timeout=30)
        if cl.returncode:
            return "client: %s" % cl.stderr.decode()[-500:]
        return None
    finally:
        srv.terminate()
        try:
            srv.wait(5)
        except subprocess.TimeoutExpired:
            srv.kill()


def live(sonde, tmp, script):
    """The calls under sonde capture --port: PASS/FAIL/SKIP line, 0 or 1."""
    port = free_port()
    out, err = os.path.join(tmp, "live.json"), os.path.join(tmp, "live.stderr")
    sp = subprocess.Popen([sonde, "capture", "-o", "json", "--stats", "--port", str(port)],
                          stdout=open(out, "w"), stderr=open(err, "w"))
    deadline = time.time() + 20
    while time.time() < deadline and sp.poll() is None:
        with open(err) as f:
            if "capturing with" in f.read():
                break
        time.sleep(0.05)
    if sp.poll() is not None:
        with open(err) as f:
            print("SKIP grpc-live: sonde capture did not start: %s" % f.read()[-300:].strip())
        return 0
    time.sleep(0.2)
    e = run_calls(tmp, script, port)
    time.sleep(0.5)  # let the last events reach the ring buffer
    sp.send_signal(signal.SIGINT)
    try:
        rc = sp.wait(timeout=20)
    except subprocess.TimeoutExpired:
        sp.kill()
        rc = -9
    if e:
        print("FAIL grpc-live: " + e)
        return 1
    with open(out) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    ex = [r for r in recs if r.get("type") == "exchange" and r["conn"]["server"]["port"] == port]
    stats = [r for r in recs if r.get("type") == "stats"]
    trunc = stats[0].get("ebpf_truncated_bytes", 0) if stats else 0
    if trunc:
        # grpc's chttp2 writes with sendmsg and more iovecs than the eBPF
        # program follows (SONDE_IOV_MAX): the rest of the write is a gap, so
        # the client's HPACK state is lost and its requests are not decoded.
        # The server's direction is whole: check its responses.
        print("SKIP grpc-live requests: eBPF capture lost %d bytes past SONDE_IOV_MAX iovecs "
              "(gRPC client writes), so the client direction is not decoded" % trunc)
        got = sorted((r["response"]["grpc"]["status"], r["response"]["grpc"]["message_count"],
                      r["response"]["grpc"].get("message"))
                     for r in ex if r.get("response") and r["response"].get("grpc"))
        want = [(0, 1, None), (0, 1, None), (0, 6, None), (5, 0, "no such thing: 100% gone")]
        if got != want or rc:
            print("FAIL grpc-live: responses %r, want %r (sonde exit %d)" % (got, want, rc))
            return 1
        print("PASS grpc-live responses (%d gRPC calls, %s)" % (len(ex), ex[0]["capture"]["method"]))
        return 0
    why = check(ex)
    if rc:
        why.append("sonde capture exit %d" % rc)
    if why:
        print("FAIL grpc-live: " + "; ".join(why))
        return 1
    print("PASS grpc-live (%d gRPC calls, %s)" % (len(ex), ex[0]["capture"]["method"] if ex else "-"))
    return 0


def main():
    sonde = sys.argv[1] if len(sys.argv) > 1 else "./sonde"
    if not shutil.which("tcpdump"):
        print("SKIP grpc-pcap: tcpdump is not installed")
        return 0
    if os.geteuid() != 0:
        print("SKIP grpc-pcap: tcpdump on loopback needs root")
        return 0
    if not os.path.exists(GRPC_PY) or subprocess.run([GRPC_PY, "-c", "import grpc"],
                                                     capture_output=True).returncode:
        print("SKIP grpc-pcap: %s has no grpc module (python3-grpcio)" % GRPC_PY)
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-grpce2e.")
    script = os.path.join(tmp, "grpc_demo.py")
    with open(script, "w") as f:
        f.write(SCRIPT)
    port = free_port()
    pcap = os.path.join(tmp, "grpc.pcap")
    procs = []
    try:
        td = subprocess.Popen(["tcpdump", "-i", "lo", "-s", "0", "-U", "--immediate-mode", "-w", pcap,
                               "tcp port %d" % port], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(td)
        # tcpdump says "listening on lo, ..." once it captures
        if b"listening on" not in td.stderr.readline():
            print("FAIL grpc-pcap: tcpdump did not start")
            return 1
        srv = subprocess.Popen([GRPC_PY, script, "serve", str(port)], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
        procs.append(srv)
        if srv.stdout.readline().strip() != b"ready":
            print("FAIL grpc-pcap: the gRPC server did not start")
            return 1
        cl = subprocess.run([GRPC_PY, script, "client", str(port)], capture_output=True, timeout=30)
        if cl.returncode:
            print("FAIL grpc-pcap: client: %s" % cl.stderr.decode()[-500:])
            return 1
        time.sleep(0.5)
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
    out = subprocess.run([sonde, "read", "-o", "json", "--stats", pcap], capture_output=True)
    if out.returncode:
        print("FAIL grpc-pcap: sonde exit %d: %s" % (out.returncode, out.stderr.decode()[:300]))
        return 1
    recs = [json.loads(l) for l in out.stdout.decode().splitlines()]
    stats = recs[-1]
    ex = [r for r in recs if r.get("type") == "exchange"]
    why = check(ex)
    if stats.get("parse_errors") or stats.get("unparsed_bytes"):
        why.append("parse_errors %s unparsed_bytes %s" % (stats.get("parse_errors"), stats.get("unparsed_bytes")))
    ts = tshark_sizes(pcap, port)
    if ts is not None:
        # every message is kept here (few, small): compare count and sizes
        mine = sorted(m["size"] for r in ex for side in ("request", "response")
                      if r.get(side) and r[side].get("grpc") for m in r[side]["grpc"]["messages"])
        if mine != ts:
            why.append("gRPC message sizes: sonde %r, tshark %r" % (mine, ts))
    if why:
        print("FAIL grpc-pcap: " + "; ".join(why))
        print("kept " + tmp)
        return 1
    print("PASS grpc-pcap (%d gRPC calls%s)" % (len(ex), ", tshark agrees" if ts is not None else ""))
    if not shutil.which("protoc"):
        print("SKIP grpc-descriptor: protoc is not installed (Debian protobuf-compiler)")
    else:
        with open(os.path.join(tmp, "demo.proto"), "w") as f:
            f.write(PROTO)
        desc = os.path.join(tmp, "demo.desc")
        pc = subprocess.run(["protoc", "--include_imports", "--descriptor_set_out=" + desc,
                             "-I", tmp, os.path.join(tmp, "demo.proto")], capture_output=True)
        if pc.returncode:
            print("FAIL grpc-descriptor: protoc: %s" % pc.stderr.decode()[-300:])
            print("kept " + tmp)
            return 1
        out = subprocess.run([sonde, "read", "-o", "json", "--proto-descriptor", desc, pcap],
                             capture_output=True)
        why = ["sonde exit %d: %s" % (out.returncode, out.stderr.decode()[:300])] if out.returncode else \
            check_typed([json.loads(l) for l in out.stdout.decode().splitlines()])
        bad = subprocess.run([sonde, "read", "--proto-descriptor", pcap, pcap], capture_output=True)
        if bad.returncode != 2 or b"FileDescriptorSet" not in bad.stderr:
            why.append("a pcap as --proto-descriptor: exit %d, %r" % (bad.returncode, bad.stderr[-200:]))
        if why:
            print("FAIL grpc-descriptor: " + "; ".join(why))
            print("kept " + tmp)
            return 1
        print("PASS grpc-descriptor (messages typed and named from a protoc descriptor set)")
    if live(sonde, tmp, script):
        print("kept " + tmp)
        return 1
    shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
