#!/usr/bin/env python3
"""DNS corpus test: sonde against tshark on every capture in $SONDE_CORPUS/dns.

For each capture (*.pcap, *.pcapng) this runs

    sonde read -o json --stats FILE
    tshark -n -r FILE -Y "(dns or mdns) and not icmp and not icmpv6" -T fields
           -e dns.id -e dns.flags.response -e dns.qry.name -e dns.qry.type
           -e dns.flags.rcode -e dns.count.answers

and checks that every DNS message tshark sees, sonde has: the multiset of
(id, query/response, first question's name, its type, header rcode of a
response, answer count from the header) of tshark's messages must be
contained in sonde's (the request and response of every sonde record).
Messages sonde has and tshark does not are reported too, and must be listed
in EXPECT, as must those tshark has and sonde does not; an entry that stops
being true fails, so nothing hides.

sonde must also exit 0, write valid JSON lines, and end with the stats
record whose "records" count matches the exchange lines.

Output: "PASS <file>", "FAIL <file>: <why>" per capture, a summary line.
Exit status 1 if any FAIL.

Usage: /usr/bin/python3 tests/corpus/test_dns_corpus.py --sonde ./sonde [CAPTURE ...]
Environment: SONDE_CORPUS (default ../shared/corpus from the repository).
"""

import argparse
import collections
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CORPUS = os.environ.get("SONDE_CORPUS") or os.path.join(ROOT, "..", "shared", "corpus")
TIMEOUT = 60

RCODES = {"NOERROR": 0, "FORMERR": 1, "SERVFAIL": 2, "NXDOMAIN": 3, "NOTIMP": 4,
          "REFUSED": 5, "YXDOMAIN": 6, "YXRRSET": 7, "NXRRSET": 8, "NOTAUTH": 9,
          "NOTZONE": 10, "DSOTYPENI": 11, "BADVERS": 16, "BADKEY": 17, "BADTIME": 18,
          "BADMODE": 19, "BADNAME": 20, "BADALG": 21, "BADTRUNC": 22, "BADCOOKIE": 23}

TYPES = {}  # filled from the names sonde writes; unknown ones are "TYPEn"

# Known differences: capture -> dict(missing=[...], extra=[...], why="...").
# missing: messages tshark has that sonde must not have; extra: the reverse.
# Each message is the tuple (id, is_response, name, qtype, rcode, answers).
def Q(i, name, qtype, an=0):
    return (i, False, name, qtype, None, an)


def R(i, name, qtype, rcode, an):
    return (i, True, name, qtype, rcode, an)


_FRAG = "responses in IP fragments: sonde does not reassemble IP (stats ipv4/ipv6_fragments)"

EXPECT = {
    # Frames 4-5 are IP in PPPoE in two VLAN tags: sonde's packet decoder
    # does not unwrap PPPoE (stats frames_non_ip: 2).
    "ndpi-dns.pcap": dict(why="PPPoE frames not decoded", missing=[
        Q(30787, "e7.whatsapp.net", 1), R(30787, "e7.whatsapp.net", 1, 0, 8)]),
    "ndpi-dns_fragmented.pcap": dict(why=_FRAG, missing=[
        R(2610, "fg2.weberlab.de", 1, 0, 2), R(35278, "weberlab.de", 48, 0, 4),
        R(41341, "fg2.weberlab.de", 1, 0, 2), R(49824, "weberlab.de", 48, 0, 4),
        R(54335, "weberlab.de", 48, 0, 4), R(5544, "weberlab.de", 48, 0, 4),
        R(59844, "pa.weberlab.de", 28, 0, 2)]),
    "zeek-dns-edns-ecs.pcap": dict(why=_FRAG, missing=[
        R(35278, "weberlab.de", 48, 0, 4), R(41341, "fg2.weberlab.de", 1, 0, 2),
        R(54335, "weberlab.de", 48, 0, 4), R(5544, "weberlab.de", 48, 0, 4)]),
    "zeek-ipv6-fragmented-dns.pcap": dict(why=_FRAG, missing=[
        R(40849, "txtpadding_3230.n1.netalyzr.icsi.berkeley.edu", 16, 0, 1)]),
    # The only question's name is longer than 255 octets (tshark: "<Name too
    # long>"): nothing identifies the datagram as DNS, so sonde leaves it
    # undissected (stats udp_datagrams_undissected: 1).
    "tcpdump-dns-badlabel.pcap": dict(why="the question's name is malformed: not taken as DNS",
                                      missing=[R(51584, "<name too long>", 0, 15, 507)]),
    # The response was cut by the snap length; a datagram sonde did not see
    # whole is counted (udp_datagrams_undissected), never half-parsed.
    "tcpdump-dns_udp_2.pcap": dict(why="response cut by the snap length: counted, not dissected",
                                   missing=[R(22836, "www.tcpdump.org", 1, 0, 2)]),
    # FDDI link type: sonde's packet decoder does not read it
    # (stats frames_unsupported_link: 11).
    "zeek-dns-inverse-query.pcap": dict(why="FDDI link type not decoded", missing=[
        Q(34798, None, None, 1), R(34798, "[4.3.2.1]", 1, 0, 1)]),
    # tshark sees the response only with out-of-order reassembly; then both agree.
    "wireshark-dns-ooo.pcap": dict(tshark_opts=["-o", "tcp.reassemble_out_of_order:TRUE"],
                                   why="tshark needs -o tcp.reassemble_out_of_order"),
}


def norm_name(n):
    if n in ("<Root>", "."):
        return "."
    return n.lower()


def tshark_msgs(path, opts):
    cmd = ["tshark", "-n", "-r", path] + opts + ["-Y", "(dns or mdns) and not icmp and not icmpv6",
           "-T", "fields", "-E", "aggregator=\x1f",
           "-e", "frame.number", "-e", "dns.id", "-e", "dns.flags.response",
           "-e", "dns.qry.name", "-e", "dns.qry.type", "-e", "dns.flags.rcode",
           "-e", "dns.count.answers", "-e", "dns.count.queries",
           # UPDATE names its sections zones and prerequisites
           "-e", "dns.count.zones", "-e", "dns.count.prerequisites"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT,
                         errors="replace").stdout
    msgs, skipped = [], []
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) < 8 or not f[1]:
            continue
        cols = [c.split("\x1f") if c else [] for c in f]
        ids, resp, names, qtypes, rcodes, ans, qd, zones, prereq = (cols[1:10] + [[], []])[:9]
        qd = qd or zones
        ans = ans or prereq
        k = len(ids)
        nresp = sum(1 for r in resp if r in ("1", "True"))
        qdn = [int(x) for x in qd]
        # Several messages in one frame (DNS over TCP): fields line up only
        # when every message has one question.
        if k > 1 and not (len(names) == k and len(qtypes) == k and len(ans) == k
                          and len(rcodes) == nresp and all(x == 1 for x in qdn)):
            skipped.append(f[0])
            continue
        ri = 0
        qi = 0
        for i in range(k):
            r = resp[i] in ("1", "True")
            q = qdn[i] if i < len(qdn) else 0
            name = norm_name(names[qi]) if q and qi < len(names) else None
            qt = int(qtypes[qi]) if q and qi < len(qtypes) else None
            qi += q
            rc = None
            if r:
                rc = int(rcodes[ri]) if ri < len(rcodes) else None
                ri += 1
            msgs.append((int(ids[i], 16), r, name, qt, rc, int(ans[i]) if i < len(ans) else None))
    return msgs, skipped


def type_code(name):
    if name.startswith("TYPE"):
        return int(name[4:])
    return TYPES.get(name)


def sonde_msgs(sonde, path):
    p = subprocess.run([sonde, "read", "-o", "json", "--stats", path], capture_output=True,
                       timeout=TIMEOUT)
    if p.returncode != 0:
        raise RuntimeError("sonde exit %d: %s" % (p.returncode, p.stderr.decode()[:200]))
    lines = p.stdout.decode().splitlines()
    recs = [json.loads(l) for l in lines]
    if not recs or recs[-1].get("type") != "stats":
        raise RuntimeError("no stats record at the end")
    ex = [r for r in recs if r.get("type") == "exchange"]
    conns = [r for r in recs if r.get("type") == "connection"]  # DNS over TCP's
    if recs[-1]["records"] != len(ex) + len(conns) or recs[-1]["tcp_connection_records"] != len(conns) \
            or len(ex) + len(conns) + 1 != len(recs):
        raise RuntimeError("stats.records does not match the exchange and connection lines")
    msgs = []
    for r in ex:
        if r["protocol"] != "dns":
            continue
        for side in ("request", "response"):
            m = r.get(side)
            if not m:
                continue
            q = m["questions"][0] if m["questions"] else None
            rc = RCODES.get(m["rcode"]) if m["rcode"] in RCODES else int(m["rcode"][5:])
            msgs.append((m["id"], side == "response" or "qr" in m["flags"],
                         norm_name(q["name"]) if q else None,
                         type_code(q["type"]) if q else None,
                         (rc & 0xf) if side == "response" else None,
                         m["counts"]["answers"]))
    return msgs, recs[-1]


def load_types():
    # The names sonde gives, from its own source (one table, no second copy).
    src = open(os.path.join(ROOT, "src", "proto", "dns", "dns_fields.c")).read()
    import re
    body = src[src.index("static const struct code_name types[]"):]
    body = body[:body.index("};")]
    for code, name in re.findall(r'\{ (\d+), "([A-Z0-9]+)" \}', body):
        TYPES[name] = int(code)


def fmt(m):
    i, r, n, t, rc, a = m
    return "%s id=%d %s/%s rcode=%s an=%s" % ("R" if r else "Q", i, n, t, rc, a)


def check(sonde, path):
    base = os.path.basename(path)
    exp = EXPECT.get(base, {})
    ts, skipped = tshark_msgs(path, exp.get("tshark_opts", []))
    sm, stats = sonde_msgs(sonde, path)
    tc, sc = collections.Counter(ts), collections.Counter(sm)
    missing = sorted((tc - sc).elements(), key=fmt)
    extra = sorted((sc - tc).elements(), key=fmt)
    want_missing = sorted(exp.get("missing", []), key=fmt)
    want_extra = sorted(exp.get("extra", []), key=fmt)
    note = "%d tshark messages, %d sonde" % (len(ts), len(sm))
    if skipped:
        note += ", tshark frames not compared (fields do not line up): %s" % ",".join(skipped)
    if missing != want_missing or extra != want_extra:
        why = []
        if missing != want_missing:
            why.append("sonde lacks %s" % "; ".join(fmt(m) for m in missing[:6]))
        if extra != want_extra:
            why.append("sonde has more: %s" % "; ".join(fmt(m) for m in extra[:6]))
        return False, "%s (%s) %s" % (" | ".join(why), note, json.dumps(
            {k: stats[k] for k in ("ipv4_fragments", "ipv6_fragments", "frames_truncated",
                                   "frames_non_ip", "udp_datagrams_undissected",
                                   "undetected_bytes", "parse_errors") if stats.get(k)}))
    if exp:
        note += "; expected differences: " + exp["why"]
    return True, note


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sonde", default=os.path.join(ROOT, "sonde"))
    ap.add_argument("captures", nargs="*")
    a = ap.parse_args()
    load_types()
    caps = a.captures or sorted(
        os.path.join(CORPUS, "dns", f) for f in os.listdir(os.path.join(CORPUS, "dns"))
        if f.endswith((".pcap", ".pcapng")))
    fails = 0
    for c in caps:
        try:
            ok, note = check(a.sonde, c)
        except Exception as e:  # one capture's failure must not hide the rest
            ok, note = False, "error: %s" % e
        print("%s %s: %s" % ("PASS" if ok else "FAIL", os.path.basename(c), note))
        fails += not ok
    print("%d of %d captures agree with tshark" % (len(caps) - fails, len(caps)))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
