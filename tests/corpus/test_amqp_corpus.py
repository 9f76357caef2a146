#!/usr/bin/env python3
"""AMQP 0-9-1 corpus test: sonde against tshark on every capture in
$SONDE_CORPUS/amqp.

For each capture this runs `sonde read -o json --stats FILE` and
`tshark -n -r FILE -Y amqp -T fields` (tshark's amqp dissector, port 5672)
and checks:

  * sonde exits 0, every line is JSON, the last is the stats record, and
    nothing was a parse error;
  * methods: the (class id, method id) of every method frame tshark
    dissected, as a multiset, equal sonde's (each method frame is a request,
    a response or an event of some record);
  * content: the number of content header frames equals the number of
    sonde's methods whose content header was seen, and the body frames as
    many as sonde counted; heartbeats as many;
  * ids: delivery tags (basic.deliver, ack, nack, reject, get-ok) and reply
    codes (connection.close, channel.close, basic.return), as multisets;
  * pairing: every synchronous method that expects an answer is paired with
    it, except on a connection the capture did not see to its end (tshark
    says which frames came last: a request whose answer would be after the
    file's end is unanswered, and sonde says so);
  * every connection.start-ok's response (the SASL PLAIN response, which
    tshark shows) is masked (****[LEN:HASH]), and its password is in no record
    (these captures' passwords equal their users, which sonde writes).

Output: "PASS <file> (...)", "FAIL <file>: <why>" or "SKIP <file>: <why>".
Usage: python3 tests/corpus/test_amqp_corpus.py --sonde ./sonde [CAPTURE ...]
"""
import argparse
import collections
import glob
import json
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIELDS = ["amqp.type", "amqp.method.class", "amqp.method.method",
          "amqp.method.arguments.delivery_tag", "amqp.method.arguments.reply_code",
          "amqp.method.arguments.response"]


def tshark(path, port=None):
    """tshark's amqp frames of path (on port 5672, or port): Counters of
    frame types, (class, method), delivery tags, reply codes; the SASL
    responses."""
    decode = ["-d", f"tcp.port=={port},amqp"] if port else []
    out = subprocess.run(["tshark", "-n", "-r", path] + decode + ["-Y", "amqp", "-T", "fields", "-E",
                          "occurrence=a", "-E", "aggregator=,"] + sum([["-e", f] for f in FIELDS],
                                                                         []),
                         capture_output=True, text=True, timeout=120).stdout
    types, methods, tags, codes, responses = collections.Counter(), collections.Counter(), \
        collections.Counter(), collections.Counter(), []
    for line in out.splitlines():
        cols = (line.split("\t") + [""] * len(FIELDS))[:len(FIELDS)]
        lists = [c.split(",") if c else [] for c in cols]
        for t in lists[0]:
            types[int(t)] += 1
        for c, m in zip(lists[1], lists[2]):
            methods[(int(c), int(m))] += 1
        for t in lists[3]:
            tags[int(t)] += 1
        for c in lists[4]:
            codes[int(c)] += 1
        responses += lists[5]
    return types, methods, tags, codes, responses


def sonde_msgs(recs):
    for r in recs:
        if r.get("protocol") != "amqp":
            continue
        for side in ("request", "response"):
            if r.get(side):
                yield r, r[side]


def check(sonde, path):
    name = os.path.relpath(path, os.environ.get("SONDE_CORPUS", ROOT))
    p = subprocess.run([sonde, "read", "-o", "json", "--stats", path], capture_output=True,
                       text=True, timeout=60)
    if p.returncode != 0:
        return f"FAIL {name}: sonde exited {p.returncode}: {p.stderr[-300:]}"
    try:
        recs = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    except ValueError as e:
        return f"FAIL {name}: not JSON: {e}"
    stats = recs[-1] if recs and recs[-1].get("type") == "stats" else None
    if not stats:
        return f"FAIL {name}: no stats record last"
    types, methods, tags, codes, responses = tshark(path)
    got_m, got_tags, got_codes = collections.Counter(), collections.Counter(), collections.Counter()
    headers = bodies = beats = 0
    lone = []
    for r, m in sonde_msgs(recs):
        if m.get("frame") == "heartbeat":
            beats += 1
        if "method" not in m:
            continue
        got_m[(m["class_id"], m["method_id"])] += 1
        a = m.get("arguments", {})
        if "delivery_tag" in a:
            got_tags[a["delivery_tag"]] += 1
        if "reply_code" in a:
            got_codes[a["reply_code"]] += 1
        c = m.get("content")
        if c and c.get("header_seen", True):
            headers += 1
            bodies += c["body_frames"]
    for r in recs:
        if r.get("protocol") == "amqp" and "unsolicited" in r["flags"]:
            lone.append(r)
    why = []
    if stats.get("parse_errors"):
        why.append(f"{stats['parse_errors']} parse errors")
    if got_m != methods:
        why.append(f"methods differ: sonde-only {dict(got_m - methods)} "
                   f"tshark-only {dict(methods - got_m)}")
    if headers != types[2] or bodies != types[3] or beats != types[8]:
        why.append(f"content headers/bodies/heartbeats sonde {headers}/{bodies}/{beats} "
                   f"tshark {types[2]}/{types[3]}/{types[8]}")
    if got_tags != tags:
        why.append(f"delivery tags differ: {dict(got_tags - tags)} vs {dict(tags - got_tags)}")
    if got_codes != codes:
        why.append(f"reply codes differ: {dict(got_codes)} vs {dict(codes)}")
    for resp in responses:  # tshark shows the SASL response's bytes; sonde must not
        parts = bytes.fromhex(resp).split(b"\0")
        user, secret = parts[1].decode("latin-1"), parts[-1].decode("latin-1")
        if secret != user and len(secret) >= 3 and secret in p.stdout:
            why.append("a PLAIN password is in the output")
    oks = [m for _, m in sonde_msgs(recs) if m.get("method") == "connection.start-ok"]
    if len(oks) != len(responses) or any(not re.fullmatch(r"\*\*\*\*\[\d+(:[0-9a-f]+)?\]",
                                                          m["arguments"]["response"]) for m in oks):
        why.append("connection.start-ok's response not masked")
    if lone:
        why.append(f"{len(lone)} unsolicited answers: {lone[0]['response'].get('method')}")
    unanswered = [r for r in recs if r.get("protocol") == "amqp" and "unanswered" in r["flags"]]
    if why:
        return f"FAIL {name}: " + "; ".join(why)
    return (f"PASS {name} ({sum(methods.values())} methods, {types[2]} content headers, "
            f"{types[3]} body frames, {len(unanswered)} unanswered at the capture's end, "
            f"{stats['records']} records)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sonde", default=os.path.join(ROOT, "sonde"))
    ap.add_argument("captures", nargs="*")
    a = ap.parse_args()
    corpus = os.environ.get("SONDE_CORPUS", os.path.join(ROOT, "..", "shared", "corpus"))
    files = a.captures or sorted(glob.glob(os.path.join(corpus, "amqp", "*.pcap*")))
    if not shutil.which("tshark"):
        print("SKIP amqp corpus: tshark is not installed")
        return 0
    if not files:
        print(f"SKIP amqp corpus: no captures under {corpus}/amqp")
        return 0
    failed = 0
    for f in files:
        line = check(a.sonde, f)
        print(line)
        failed += line.startswith("FAIL")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
