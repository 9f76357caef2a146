#!/usr/bin/env python3
"""TCP retransmissions against tshark on every capture of $SONDE_CORPUS.

For each capture (*.pcap, *.pcapng, any protocol's directory) this runs

    sonde read -o json FILE   (connection records are on by default)
    tshark -n -r FILE -T fields ... (every TCP frame, its flags and
                                     tcp.analysis.retransmission)

and checks that, per connection (its two endpoints), sonde's connection
record counts the segments tshark flags tcp.analysis.retransmission —
plain, fast and spurious ones, not out-of-order ones — every one of them,
a FIN sent again after both ends' FINs too (sonde's connection lingers a
second after its close for it; the test says how many such FINs it saw).

Output: "PASS <file> (...)" for every capture with retransmissions,
"FAIL <file>: <why>", and one PASS line for the captures with none.
Exit status 1 if any FAIL.

Usage: python3 tests/corpus/test_tcp_retrans_corpus.py --sonde ./sonde [CAPTURE ...]
Environment: SONDE_CORPUS (default ../shared/corpus from the repository).
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIELDS = ["ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport", "tcp.len",
          "tcp.flags.fin", "tcp.flags.syn", "tcp.flags.reset", "tcp.analysis.retransmission"]


def key(a, ap, b, bp):
    return frozenset([(a, int(ap)), (b, int(bp))])


def tshark_counts(path):
    """{connection: retransmissions}, and how many of them were a bare FIN
    sent again after both FINs."""
    cmd = ["tshark", "-n", "-r", path, "-Y", "tcp", "-T", "fields", "-E", "occurrence=f"]
    for f in FIELDS:
        cmd += ["-e", f]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    counts, fins, fin_again = {}, {}, 0
    for line in p.stdout.splitlines():
        v = line.split("\t")
        if len(v) != len(FIELDS) or not v[2] or not v[5]:
            continue
        a, b = v[0] or v[1], v[3] or v[4]
        k = key(a, v[2], b, v[5])
        src = (a, int(v[2]))
        fin, syn, rst, retrans = v[7] in ("1", "True"), v[8] in ("1", "True"), v[9] in ("1", "True"), v[10]
        if syn and not fin:
            fins.pop(k, None)  # a new connection on the same ports
        if retrans:
            fin_again += len(fins.get(k, set())) == 2 and fin and v[6] == "0"
            counts[k] = counts.get(k, 0) + 1
        if fin:
            fins.setdefault(k, set()).add(src)
        if rst:
            fins.pop(k, None)
    return counts, fin_again


def sonde_counts(sonde, path):
    p = subprocess.run([sonde, "read", "--no-redact", "-o", "json", path],
                       capture_output=True, text=True, timeout=120)
    counts = {}
    for line in p.stdout.splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            return p.returncode, None
        if r.get("type") != "connection":
            continue
        c, t = r["conn"], r.get("tcp", {}).get("retransmits", {})
        k = key(c["client"]["ip"], c["client"]["port"], c["server"]["ip"], c["server"]["port"])
        counts[k] = counts.get(k, 0) + t.get("client", 0) + t.get("server", 0)
    return p.returncode, counts


def check(sonde, path):
    theirs, fin_again = tshark_counts(path)
    rc, mine = sonde_counts(sonde, path)
    if rc != 0 or mine is None:
        return "FAIL", f"sonde read exited {rc} or wrote a line that is not JSON"
    diff = {tuple(sorted(k)): (theirs.get(k, 0), mine.get(k, 0))
            for k in set(theirs) | set(mine) if theirs.get(k, 0) != mine.get(k, 0)}
    if diff:
        return "FAIL", f"(tshark, sonde) per connection differ: {diff}"
    n = sum(theirs.values())
    if not n:
        return "NONE", ""
    said = f"{n} retransmissions in {len(theirs)} connections, as tshark"
    return "PASS", said + (f", {fin_again} of them a FIN sent again after both FINs" if fin_again else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sonde", default=os.path.join(ROOT, "sonde"))
    ap.add_argument("captures", nargs="*")
    a = ap.parse_args()
    corpus = os.environ.get("SONDE_CORPUS", os.path.join(ROOT, "..", "shared", "corpus"))
    files = a.captures or sorted(glob.glob(os.path.join(corpus, "*", "*.pcap")) +
                                 glob.glob(os.path.join(corpus, "*", "*.pcapng")))
    if not files:
        print(f"SKIP tcp retransmissions corpus: no captures under {corpus}")
        return 0
    if not shutil.which("tshark"):
        print("SKIP tcp retransmissions corpus: no tshark")
        return 0
    fails = none = 0
    for f in files:
        verdict, why = check(a.sonde, f)
        name = os.path.relpath(f, corpus)
        if verdict == "NONE":
            none += 1
        elif verdict == "PASS":
            print(f"PASS {name} ({why})")
        else:
            fails += 1
            print(f"FAIL {name}: {why}")
    print(f"PASS tcp retransmissions corpus: {none} captures with none, none in sonde either")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
