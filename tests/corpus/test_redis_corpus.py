#!/usr/bin/env python3
"""Redis corpus test: sonde against tshark on every capture in $SONDE_CORPUS/redis.

For each capture (*.pcap, *.pcapng) this runs

    sonde read -o json --stats FILE        (timed, its peak memory measured)
    tshark -n -r FILE -T pdml              (tshark's `resp` dissector, port 6379)

and checks:

  * sonde exits 0 within TIME_LIMIT seconds and below RSS_LIMIT of memory,
    every line is JSON, the last is the stats record, and it agrees with the
    records (records, records_unanswered, records_unsolicited);
  * commands: tshark's top-level arrays sent to port 6379 whose first
    element is a bulk string are commands; their names (upper-cased), in
    order, must be exactly sonde's non-inline commands when tshark parsed
    everything the client sent (no "fragment", "partial" or
    "malformed_length" item in that direction), and otherwise must be
    contained in sonde's (tshark does not parse inline commands: it leaves
    them as fragments);
  * replies: the number of top-level values sent from port 6379 (replies,
    pub/sub messages, pushes) must equal the number of sonde's records with
    a response when tshark parsed the whole server side, and otherwise be no
    larger than it; RESP3-only types, which tshark 4.0 does not know, make
    the server side not fully parsed;
  * the hostile captures (names containing "malicious" or "infiniteloop")
    pass the same time and memory limits, which is what they are for.

Output: "PASS <file> (...)", "FAIL <file>: <why>" or "SKIP <file>: <why>"
per capture. Exit status 1 if any FAIL.

Usage: python3 tests/corpus/test_redis_corpus.py --sonde ./sonde [CAPTURE ...]
Environment: SONDE_CORPUS (default ../shared/corpus from the repository).
Only the Python standard library is used.
"""

import argparse
import collections
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PORT = "6379"
TIME_LIMIT = 10.0  # seconds; a capture of at most 500 KB takes milliseconds
GNU_TIME = "/usr/bin/time"
RSS_LIMIT = 64 << 20  # bytes; ASan builds get more (shadow memory)
UNCLEAR = ("resp.fragment", "resp.partial", "resp.malformed_length",
           "resp.reassembled_in_next_frame", "resp.array_recursion_too_deep")


def run_sonde(sonde, path):
    """(rc, stdout, seconds, peak RSS in bytes or None) of sonde read; rc
    None when it had to be killed. The peak comes from /usr/bin/time (GNU
    time), a small parent: a child started from this script would inherit
    the script's own high-water mark."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as peak:
        cmd = [sonde, "read", "-o", "json", "--no-redact", "--stats", path]
        if os.access(GNU_TIME, os.X_OK):
            cmd = [GNU_TIME, "-f", "%M", "-o", peak.name] + cmd
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL,
                             start_new_session=True)
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


def tshark_view(path, ports):
    """Commands and reply counts tshark sees, and whether it saw all of each
    direction. ports: the servers' ports (6379 needs no decode-as)."""
    dec = []
    for port in sorted(ports - {PORT}):
        dec += ["-d", f"tcp.port=={port},resp"]
    base = ["tshark", "-n", "-r", path] + dec
    view = {"cmds": [], "replies": 0, "c2s_clear": True, "s2c_clear": True}
    # tshark 4.0 does not reassemble a value over segments everywhere: it
    # says "[continuation]" and parses the rest as values of their own
    info = subprocess.run(base + ["-T", "fields", "-e", "tcp.dstport", "-e", "_ws.col.Info"],
                          capture_output=True, check=False, text=True).stdout
    for line in info.splitlines():
        dport, _, text = line.partition("\t")
        if "[continuation]" in text:
            view["c2s_clear" if dport in ports else "s2c_clear"] = False
    out = subprocess.run(base + ["-T", "pdml"], capture_output=True, check=False).stdout
    for pkt in ET.fromstring(out).iter("packet"):
        dport = None
        for f in pkt.iter("field"):
            if f.get("name") == "tcp.dstport":
                dport = f.get("show")
                break
        c2s = dport in ports
        for proto in pkt.findall("proto"):
            if proto.get("name") != "resp":
                continue
            for top in proto.findall("field"):
                name = top.get("name")
                unclear = name in UNCLEAR or any(
                    x.get("name") in UNCLEAR for x in top.iter("field"))
                if unclear:
                    view["c2s_clear" if c2s else "s2c_clear"] = False
                if name in UNCLEAR:
                    continue
                if not c2s:
                    view["replies"] += 1
                    continue
                kids = top.findall("field")
                elems = [k for k in kids if k.get("name") != "resp.array.length"]
                if name != "resp.array" or not elems or elems[0].get("name") != "resp.bulk_string":
                    view["c2s_clear"] = False
                    continue
                val = [v for v in elems[0].findall("field")
                       if v.get("name") == "resp.bulk_string.value"]
                cmd = bytes.fromhex(val[0].get("value")).decode("latin-1") if val else ""
                view["cmds"].append(cmd.upper())
    return view


def sonde_view(out):
    lines = out.decode("utf-8", "replace").splitlines()
    recs = [json.loads(x) for x in lines]
    stats = recs[-1] if recs and recs[-1].get("type") == "stats" else None
    ex = [r for r in recs if r.get("type") == "exchange"]
    ex.sort(key=lambda r: (r["conn"]["id"], (r.get("request") or r.get("response"))["ts"]))
    cmds = [r["request"]["command"] for r in ex
            if r.get("request") and not r["request"].get("inline")]
    replies = sum(1 for r in ex if r.get("response"))
    return recs, stats, ex, cmds, replies


def contained(small, big):
    """Is every command of small in big, as many times?"""
    return not (collections.Counter(small) - collections.Counter(big))


def check(sonde, path, asan):
    name = os.path.basename(path)
    rc, out, secs, rss = run_sonde(sonde, path)
    if rc is None:
        return "FAIL", f"sonde did not finish in {TIME_LIMIT * 3:.0f} s"
    if rc != 0:
        return "FAIL", f"sonde exited {rc}"
    if secs > TIME_LIMIT:
        return "FAIL", f"sonde took {secs:.1f} s"
    limit = RSS_LIMIT * (16 if asan else 1)
    if rss is not None and rss > limit:
        return "FAIL", f"sonde peaked at {rss >> 20} MiB"
    try:
        recs, stats, ex, cmds, replies = sonde_view(out)
    except (ValueError, KeyError) as e:
        return "FAIL", f"sonde output: {e}"
    if not stats:
        return "FAIL", "no stats record"
    conns = [r for r in recs if r.get("type") == "connection"]
    if stats["records"] != len(ex) + len(conns) or stats["tcp_connection_records"] != len(conns):
        return "FAIL", f"stats.records {stats['records']} != {len(ex)} exchanges + {len(conns)} connections"
    ua = sum(1 for r in ex if "unanswered" in r.get("flags", []))
    us = sum(1 for r in ex if "unsolicited" in r.get("flags", []))
    if (ua, us) != (stats["records_unanswered"], stats["records_unsolicited"]):
        return "FAIL", "unanswered/unsolicited counts disagree with the stats"
    other = [r["protocol"] for r in ex if r.get("protocol") != "redis"]
    if other:
        return "FAIL", f"records of other protocols: {sorted(set(other))}"
    ports = {str(r["conn"]["server"]["port"]) for r in ex} | {PORT}
    tv = tshark_view(path, ports)
    why = []
    if tv["c2s_clear"]:
        if collections.Counter(tv["cmds"]) != collections.Counter(cmds):
            return "FAIL", f"commands: tshark {tv['cmds'][:8]}... sonde {cmds[:8]}..."
        why.append(f"{len(cmds)} commands agree")
    else:
        if not contained(tv["cmds"], cmds):
            return "FAIL", f"tshark's commands {tv['cmds'][:8]} not all in sonde's {cmds[:8]}"
        why.append(f"tshark's {len(tv['cmds'])} of sonde's {len(cmds)} commands"
                   " (tshark partial)")
    if tv["s2c_clear"]:
        if tv["replies"] != replies:
            return "FAIL", f"replies: tshark {tv['replies']}, sonde {replies}"
        why.append(f"{replies} replies agree")
    else:
        # tshark's count is of pieces then, larger or smaller: not compared
        why.append(f"{replies} replies (tshark partial: {tv['replies']} pieces, not compared)")
    why.append(f"{secs * 1000:.0f} ms" + (f", {rss >> 20} MiB" if rss is not None else ""))
    return "PASS", ", ".join(why)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sonde", default=os.path.join(ROOT, "sonde"))
    ap.add_argument("captures", nargs="*")
    a = ap.parse_args()
    corpus = os.environ.get("SONDE_CORPUS", os.path.join(ROOT, "..", "shared", "corpus"))
    files = a.captures or sorted(glob.glob(os.path.join(corpus, "redis", "*.pcap*")))
    if not files:
        print(f"SKIP redis corpus: nothing under {corpus}/redis")
        return 0
    if not shutil.which("tshark"):
        print("SKIP redis corpus: no tshark")
        return 0
    asan = "asan" in a.sonde
    fails = 0
    for f in files:
        verdict, why = check(a.sonde, f, asan)
        fails += verdict == "FAIL"
        print(f"{verdict} {os.path.basename(f)}: {why}" if verdict != "PASS"
              else f"PASS {os.path.basename(f)} ({why})")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
