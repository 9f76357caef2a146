#!/usr/bin/env python3
"""Kafka corpus test: sonde against tshark on every capture in $SONDE_CORPUS/kafka.

For each capture (*.pcap, *.pcapng) this runs

    sonde read -o json --stats FILE        (timed, its peak memory measured)
    tshark -n -r FILE -d tcp.port==P,kafka -T fields ...   (tshark's kafka dissector)

and checks, message by message (a message is keyed by its connection's
client port, its correlation id and whether it is a request or response):

  * sonde exits 0 within TIME_LIMIT seconds and below RSS_LIMIT, every line
    is JSON, the last is the stats record and it agrees with the records;
  * requests: every request tshark dissects (api key, api version,
    correlation id) is one of sonde's, and sonde has no other;
  * responses: every response tshark matched to its request is one of
    sonde's, with the same api key; responses tshark could not match (their
    request is not in the capture) are either sonde's unsolicited responses
    or bytes sonde counted (undetected_bytes, unparsed_bytes);
  * error codes: for each response tshark parsed without a "malformed"
    mark, the non-zero error codes it shows are exactly sonde's `errors`;
  * topics: for each message tshark parsed without a malformed mark, the
    topic names it shows are exactly the names in sonde's `topics`;
  * every message tshark marks malformed is one whose version tshark 4.0
    predates (flexible versions); sonde must parse those bodies cleanly
    ("body":"parsed"), since its tables come from the schemas.

Then `--proto-port kafka=PORT` on a capture written here (a connection on
port 19092 whose first request uses an API key no schema has, which content
detection cannot claim): without the option it is not dissected; with it the
exchange is written with "body":"unknown_api"; bad values exit 2.

Output: "PASS <file> (...)", "FAIL <file>: <why>" or "SKIP ..." per capture.

Usage: python3 tests/corpus/test_kafka_corpus.py --sonde ./sonde [CAPTURE ...]
Environment: SONDE_CORPUS (default ../shared/corpus from the repository).
"""

import argparse
import collections
import glob
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIME_LIMIT = 10.0
GNU_TIME = "/usr/bin/time"
RSS_LIMIT = 64 << 20
FIELDS = ["frame.number", "tcp.srcport", "tcp.dstport", "kafka.api_key", "kafka.api_version",
          "kafka.correlation_id", "kafka.error", "kafka.topic_name", "kafka.request_frame",
          "_ws.malformed"]


def run_sonde(sonde, path):
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as peak:
        cmd = [sonde, "read", "-o", "json", "--stats", path]
        if os.access(GNU_TIME, os.X_OK):
            cmd = [GNU_TIME, "-f", "%M", "-o", peak.name] + cmd
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            rc = p.wait(timeout=TIME_LIMIT * 3)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            p.wait()
            rc = None
        secs = time.monotonic() - t0
        out.seek(0)
        data = out.read()
        kib = peak.read().strip().splitlines()
    rss = int(kib[-1]) * 1024 if kib and kib[-1].isdigit() else None
    return rc, data, secs, rss


def tshark_messages(path, ports):
    """One dict per frame tshark dissected as Kafka."""
    dec = []
    for port in sorted(ports - {9092}):
        dec += ["-d", f"tcp.port=={port},kafka"]
    cmd = ["tshark", "-n", "-r", path] + dec + ["-Y", "kafka", "-T", "fields", "-E", "occurrence=a"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, check=False, text=True).stdout
    msgs = []
    for line in out.splitlines():
        v = line.split("\t")
        if len(v) < len(FIELDS):
            continue
        row = dict(zip(FIELDS, v))
        sport, dport = int(row["tcp.srcport"]), int(row["tcp.dstport"])
        req = dport in ports
        split = {k: [x for x in row[k].split(",") if x] for k in row}
        corrs = split["kafka.correlation_id"]
        # Several messages in one frame: their api keys, versions and ids line
        # up one per message; error codes and topics do not (not compared)
        many = len(corrs) > 1
        for i, corr in enumerate(corrs):
            keys, vers = split["kafka.api_key"], split["kafka.api_version"]
            msgs.append({
                "frame": int(row["frame.number"]),
                "client": sport if req else dport,
                "request": req,
                "key": int(keys[i]) if i < len(keys) and (not many or len(keys) == len(corrs)) else None,
                "version": int(vers[i]) if req and i < len(vers) else None,
                "corr": int(corr),
                "errors": {int(x) for x in split["kafka.error"]} - {0},
                "topics": set(split["kafka.topic_name"]),
                "matched": bool(row["kafka.request_frame"]) or req,
                "malformed": bool(row["_ws.malformed"]),
                "many": many,
            })
    return msgs


def sonde_messages(recs):
    """(client port, corr, is request) -> the sonde message and its record."""
    msgs = collections.defaultdict(list)
    for r in recs:
        if r.get("type") != "exchange" or r.get("protocol") != "kafka":
            continue
        port = r["conn"]["client"]["port"]
        for kind in ("request", "response"):
            m = r.get(kind)
            if m:
                msgs[(port, m["correlation_id"], kind == "request")].append((m, r))
    return msgs


def check_one(sonde, path):
    rc, data, secs, rss = run_sonde(sonde, path)
    if rc != 0:
        return f"sonde exited {rc}"
    if secs > TIME_LIMIT:
        return f"took {secs:.1f}s"
    limit = RSS_LIMIT * (8 if "asan" in sonde else 1)
    if rss and rss > limit:
        return f"peak RSS {rss >> 20} MiB"
    recs = [json.loads(x) for x in data.decode().splitlines()]
    stats = recs[-1] if recs and recs[-1].get("type") == "stats" else None
    if not stats:
        return "no stats record last"
    ex = [r for r in recs if r.get("type") == "exchange"]
    conns = [r for r in recs if r.get("type") == "connection"]
    if stats["records"] != len(ex) + len(conns) or stats["tcp_connection_records"] != len(conns):
        return f"stats say {stats['records']} records, {len(ex)} exchanges and {len(conns)} connections written"
    ports = {r["conn"]["server"]["port"] for r in ex} | {9092}
    tmsgs = tshark_messages(path, ports)
    smsgs = sonde_messages(ex)
    seen = collections.Counter()
    unmatched = 0
    for t in tmsgs:
        k = (t["client"], t["corr"], t["request"])
        got = smsgs.get(k)
        what = f"frame {t['frame']} ({'request' if t['request'] else 'response'} #{t['corr']})"
        if not got:
            if not t["request"] and not t["matched"]:
                unmatched += 1
                continue
            return f"{what}: not in sonde's records"
        m, r = got[min(seen[k], len(got) - 1)]
        seen[k] += 1
        if t["request"] and (m["api_key"], m["api_version"]) != (t["key"], t["version"]):
            return f"{what}: sonde says api {m['api_key']} v{m['api_version']}, tshark {t['key']} v{t['version']}"
        if not t["request"] and t["matched"] and t["key"] is not None and m["api_key"] != t["key"]:
            return f"{what}: sonde says api {m['api_key']}, tshark {t['key']}"
        if t["malformed"]:
            # tshark 4.0 predates the version; sonde reads it from the schema
            if t["request"] and m["body"] not in ("parsed", "trailing_bytes"):
                return f"{what}: tshark malformed, sonde body {m['body']}"
            continue
        if not t["matched"] or t["many"]:
            continue
        names = {x["name"] for x in m.get("topics", []) if x.get("name")}
        if names != t["topics"]:
            return f"{what}: topics {sorted(names)} vs tshark {sorted(t['topics'])}"
        if not t["request"]:
            codes = {e["code"] for e in m.get("errors", [])}
            if codes != t["errors"]:
                return f"{what}: error codes {sorted(codes)} vs tshark {sorted(t['errors'])}"
    treqs = sum(1 for t in tmsgs if t["request"])
    sreqs = sum(len(v) for k, v in smsgs.items() if k[2])
    if treqs != sreqs:
        return f"{sreqs} requests in sonde's records, tshark dissects {treqs}"
    if unmatched and not (stats["records_unsolicited"] or stats["undetected_bytes"]
                          or stats["unparsed_bytes"]):
        return f"{unmatched} responses without their request, neither written nor counted"
    resp = sum(1 for t in tmsgs if not t["request"])
    return (None, f"{treqs} requests, {resp} responses ({unmatched} without request), "
                  f"{len(ex)} records, {secs * 1000:.0f} ms")


def write_pcap(path, port):
    """One TCP connection to `port` (handshake, a request of API key 999,
    its response): Ethernet, IPv4, TCP with zero checksums."""
    def pkt(src, dst, sport, dport, seq, ack, flags, payload=b""):
        tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0, 64, 6, 0,
                         bytes(src), bytes(dst))
        return b"\0" * 12 + b"\x08\x00" + ip + tcp + payload
    c, s = [10, 0, 0, 1], [10, 0, 0, 2]
    req = struct.pack(">hhih", 999, 0, 1, 4) + b"unit" + b"\xde\xad"
    req = struct.pack(">i", len(req)) + req
    resp = struct.pack(">i", 1) + b"\x00\x00"
    resp = struct.pack(">i", len(resp)) + resp
    frames = [pkt(c, s, 40000, port, 100, 0, 0x02), pkt(s, c, port, 40000, 500, 101, 0x12),
              pkt(c, s, 40000, port, 101, 501, 0x10),
              pkt(c, s, 40000, port, 101, 501, 0x18, req),
              pkt(s, c, port, 40000, 501, 101 + len(req), 0x18, resp)]
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000, i * 1000, len(fr), len(fr)) + fr)


def check_proto_port(sonde):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "unknown-key.pcap")
        write_pcap(path, 19092)
        plain = subprocess.run([sonde, "read", "-o", "json", path], capture_output=True, text=True)
        forced = subprocess.run([sonde, "read", "-o", "json", "--proto-port", "kafka=19092", path],
                                capture_output=True, text=True)
        bad = [subprocess.run([sonde, "read", "--proto-port", v, path], capture_output=True).returncode
               for v in ("kafka", "kafka=0", "kafka=70000", "nosuch=19092")]
    recs = [json.loads(x) for x in forced.stdout.splitlines()]
    ex = [r for r in recs if r.get("type") == "exchange"]
    if plain.returncode != 0 or [x for x in plain.stdout.splitlines() if '"exchange"' in x]:
        return f"without --proto-port: rc {plain.returncode}, {plain.stdout[:200]}"
    if forced.returncode != 0 or len(ex) != 1 or ex[0]["protocol"] != "kafka":
        return f"with --proto-port: rc {forced.returncode}, {forced.stdout[:300]}"
    q, r = ex[0].get("request") or {}, ex[0].get("response") or {}
    if (q.get("api_key"), q.get("body"), r.get("correlation_id")) != (999, "unknown_api", 1):
        return f"with --proto-port: {ex[0]}"
    if bad != [2, 2, 2, 2]:
        return f"bad --proto-port values exited {bad}, not 2"
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sonde", default=os.path.join(ROOT, "sonde"))
    ap.add_argument("captures", nargs="*")
    a = ap.parse_args()
    corpus = os.environ.get("SONDE_CORPUS", os.path.join(ROOT, "..", "shared", "corpus"))
    files = a.captures or sorted(glob.glob(os.path.join(corpus, "kafka", "*.pcap*")))
    if not shutil.which("tshark"):
        print("SKIP kafka corpus: no tshark")
        return 0
    if not files:
        print(f"SKIP kafka corpus: no captures under {corpus}/kafka")
        return 0
    bad = 0
    for f in files:
        res = check_one(a.sonde, f)
        name = os.path.basename(f)
        if isinstance(res, tuple):
            print(f"PASS {name} ({res[1]})")
        else:
            print(f"FAIL {name}: {res}")
            bad += 1
    why = check_proto_port(a.sonde)
    print("PASS proto-port: kafka=PORT forces the dissector, bad values refused" if not why
          else f"FAIL proto-port: {why}")
    return 1 if bad or why else 0


if __name__ == "__main__":
    sys.exit(main())
