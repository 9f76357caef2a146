#!/usr/bin/env python3
"""HTTP/1 corpus test: sonde against tshark on every capture in $SONDE_CORPUS/http1.

For each capture (*.pcap, *.pcapng) this runs

    sonde read -o json --stats FILE
    tshark -n -r FILE [opts] -T fields -e frame.number -e tcp.stream ... -e http.*

and checks:

  * sonde exits 0, every line is JSON, the last line is the "stats" record,
    stats.frames equals tshark's frame count, and stats.records /
    records_unanswered / records_unsolicited agree with the exchange lines
    (and with their "unanswered"/"unsolicited" flags);
  * per TCP connection (tshark's tcp.stream, matched to sonde's conn by the
    endpoint pair and time), the ordered list of exchanges
        (method, request-target, final status, interim 1xx codes)
    is the same. That list carries the request count, the sequence of
    methods, the URIs, the status codes and the pairing (which request each
    response answers: tshark's http.request_in) at once. A response tshark
    pairs with no request is an exchange without a request (sonde:
    "unsolicited"); a request without a response is one without a status
    (sonde: "unanswered").
    tshark lists 1xx interim responses as responses of their own (and often
    before the request, which it reports at its last segment); sonde folds
    them into the next final response's "interim" list, so the tshark side
    is folded the same way: each 1xx (except 101, which is final) goes to the
    next final response on the same connection;
  * sonde's client is the side tshark sees sending the requests.

Where the two tools legitimately differ, EXPECT below says so per capture and
per connection, with what each tool reports and why; both sides are checked,
so an entry that stops being true fails loudly instead of hiding something.

A second check feeds sonde damaged input: two classic pcap files concatenated
(the second file's header is not a packet record), and captures (pcap and
pcapng) cut in the middle of a packet. sonde must exit 1 with a message on
stderr naming the file and the word "offset", and still write the records
completed before the damage, identical to those of the intact file.

Output: one line per capture, "PASS <file>", "FAIL <file>: <why>" or
"SKIP <file>: <why>", then one per damage check. Exit status 1 if any FAIL.

Usage: python3 tests/corpus/test_http_corpus.py --sonde ./sonde [CAPTURE ...]
Environment: SONDE_CORPUS (default ../shared/corpus from the repository),
SONDE_TSHARK_CACHE=off to re-run tshark instead of using its cached output.
Only the Python standard library is used.
"""

import argparse
import concurrent.futures
import datetime
import hashlib
import ipaddress
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CORPUS = os.environ.get("SONDE_CORPUS") or os.path.join(ROOT, "..", "shared", "corpus")

TIMEOUT = 60  # seconds for one tool run (the ASan build is slower)


# ----------------------------------------------------------------------------
# Exchanges are tuples (method, target, status, interim):
#   method/target None  -> no request (sonde: "unsolicited")
#   status None         -> no response (sonde: "unanswered")
#   status "0.9"        -> an HTTP/0.9 response (no status line; sonde writes
#                          "status": null with "version": "HTTP/0.9")
#   interim             -> tuple of 1xx codes folded into the final response


def X(method, target, status=None, *interim):
    return (method, target, status, tuple(interim))


def RESP(status, *interim):
    """An exchange with no request."""
    return (None, None, status, tuple(interim))


def fmt_ex(e):
    m, t, s, i = e
    req = "-" if m is None else "%s %s" % (m, t if t else "''")
    resp = "-" if s is None else str(s)
    if i:
        resp = "[%s] %s" % (",".join(map(str, i)), resp)
    return "%s -> %s" % (req, resp)


def fmt_list(lst, limit=4):
    s = ", ".join(fmt_ex(e) for e in lst[:limit])
    if len(lst) > limit:
        s += ", ... (%d in all)" % len(lst)
    return "[" + s + "]"


# ----------------------------------------------------------------------------
# Per-capture expectations.
#
#   tshark_opts: extra tshark options (SOURCES.md, "tshark opts").
#   streams:     {tcp.stream: (what tshark reports, what sonde must report)}
#                for the connections where sonde legitimately differs from
#                tshark. Both halves are checked.
#   why:         the reason, in one line (the comments say more).
#
# Captures not listed are compared with tshark as they are.
# Connections not listed in `streams` are compared with tshark as they are.

OOO = ["-o", "tcp.reassemble_out_of_order:TRUE"]

# zeek-methods.pcap: 49 connections to www.google.com, one request line each,
# many malformed on purpose. sonde keeps a request whose line lacks a target
# or a valid version when its method is a registered one (flagged
# request_parse_error), and agrees with tshark there. It declines a line
# that has neither a registered method nor a valid "HTTP/1.x" version, and a
# bare method word: such bytes are as likely garbage as a request, so the
# server's answer is reported unsolicited. tshark takes any "WORD ..." line.
_METHODS = {
    3: ([X("OPTIONS", "", 400)], [RESP(400)]),  # "OPTIONS" and nothing else
    15: ([X("CCM_POST", "/", 405)], [RESP(405)]),  # "CCM_POST / HTTP/1." (no minor digit)
    16: ([X("CCM_POST", "/HTTP/1.1", 400)], [RESP(400)]),  # "CCM_POST /HTTP/1.1" (no version)
}

EXPECT = {
    # tshark needs out-of-order reassembly switched on; sonde reassembles
    # out-of-order segments by default. Same exchanges then.
    "wireshark-http-ooo.pcap": dict(tshark_opts=OOO, why="tshark needs -o tcp.reassemble_out_of_order"),
    "wireshark-http-ooo2.pcap": dict(tshark_opts=OOO, why="tshark needs -o tcp.reassemble_out_of_order"),

    # Mid-stream, port 8080: the request's head continues in a segment that
    # was not captured (frame 1 ends inside the headers), and the chunked
    # response has no last chunk. tshark shows no HTTP at all, even with the
    # port hint; sonde cannot parse the cut head either, but reports the
    # response it did see (unsolicited, response_incomplete).
    "deepflow-client-ip.pcap": dict(
        tshark_opts=["-d", "tcp.port==8080,http"],
        why="head of the request not captured; tshark shows nothing, sonde the response",
        streams={0: ([], [RESP(200)])}),

    # HTTP/0.9: "GET /zeek.html" without a version, answered by a body with
    # no status line. tshark does not recognise 0.9 at all; sonde does.
    # Streams 1-4 ("POST /zeek.html", "GET ", "T /zeek.html", "T ") are not
    # valid 0.9 requests (0.9 has only GET, with a target): neither tool
    # reports anything.
    "zeek-http_09.pcap": dict(
        why="HTTP/0.9 exchange: tshark does not dissect 0.9",
        streams={0: ([], [X("GET", "/zeek.html", "0.9")])}),

    # A request line without a version and no header lines is an HTTP/0.9
    # request; the answer is an HTML page without a status line.
    "zeek-no-version.pcap": dict(
        why="HTTP/0.9 exchange: tshark does not dissect 0.9",
        streams={0: ([], [X("GET", "/cgi-bin/formmail.pl?email=f2@aol.com&subject=www-nrg.ee/"
                               "cgi-bin/formmail.pl&recipient=unknownz@buy2save.com&msg=w00t",
                            "0.9")])}),

    # An HTTP/1.1 request answered HTTP/0.9-style (body, no status line).
    # tshark sees the request but not the response; sonde pairs them.
    "zeek-curl_http_09.pcap": dict(
        why="HTTP/0.9 response to an HTTP/1.1 request: tshark misses the response",
        streams={0: ([X("GET", "/zeek.html")], [X("GET", "/zeek.html", "0.9")])}),


    "zeek-methods.pcap": dict(
        why="lines with an unregistered method and no valid version: sonde declines them",
        streams=_METHODS),
}


# ----------------------------------------------------------------------------
# tshark


def norm_ip(s):
    try:
        return ipaddress.ip_address(s).compressed
    except ValueError:
        return s


TS_FIELDS = ["frame.number", "frame.time_epoch", "tcp.stream",
             "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport",
             "http.request.method", "http.request.uri", "http.response.code",
             "http.request_in"]


# tshark spends ~0.4 s starting up, most of this test's run time, and
# tests/run runs the test twice (plain and ASan builds). Its output is cached
# in the temp directory, keyed by the capture's bytes, the command line, the
# tshark binary and the user's Wireshark preferences.
# SONDE_TSHARK_CACHE=off disables the cache.


def _tshark_cache_key(path, cmd):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    h.update("\0".join(cmd[4:]).encode())
    exe = shutil.which("tshark")
    conf = [os.environ.get("WIRESHARK_CONFIG_DIR", ""),
            os.path.expanduser("~/.config/wireshark"), "/etc/wireshark"]
    for p in [exe, os.path.realpath(exe)] + conf:
        try:
            st = os.stat(p)
            h.update(("%s %d %d" % (p, st.st_size, st.st_mtime_ns)).encode())
        except OSError:
            h.update(p.encode())
    return h.hexdigest()


def run_tshark(path, opts):
    cmd = ["tshark", "-n", "-r", path] + list(opts) + [
        "-T", "fields", "-E", "separator=\x1e", "-E", "occurrence=a", "-E", "aggregator=\x1f"]
    for f in TS_FIELDS:
        cmd += ["-e", f]
    cache = None
    if os.environ.get("SONDE_TSHARK_CACHE", "on") != "off":
        cache = os.path.join(tempfile.gettempdir(), "sonde-tshark-cache-%d" % os.getuid(),
                             _tshark_cache_key(path, cmd))
        try:
            with open(cache, "rb") as f:
                return f.read().decode("utf-8", errors="surrogateescape")
        except OSError:
            pass
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT)
    if p.returncode != 0:
        raise RuntimeError("tshark exited %d: %s" % (p.returncode,
                                                     p.stderr.decode(errors="replace").strip()[-300:]))
    if cache:
        try:
            os.makedirs(os.path.dirname(cache), mode=0o700, exist_ok=True)
            tmp = "%s.%d.%d" % (cache, os.getpid(), threading.get_ident())
            with open(tmp, "wb") as f:
                f.write(p.stdout)
            os.replace(tmp, cache)
        except OSError:
            pass
    return p.stdout.decode("utf-8", errors="surrogateescape")


class TsharkView:
    """What tshark says about a capture: frames, TCP streams, HTTP exchanges."""

    def __init__(self, text):
        self.frames = 0
        self.streams = {}  # stream -> dict(eps=frozenset, start=float, client=ep or None)
        self.exchanges = {}  # stream -> [exchange tuple]
        reqs = []  # (frame, index in frame, stream, method, uri)
        resps = []  # (frame, index in frame, stream, code, request_in frame or None)
        for line in text.split("\n"):
            if not line:
                continue
            col = line.split("\x1e")
            if len(col) != len(TS_FIELDS):
                raise RuntimeError("unexpected tshark line: %r" % line[:200])
            v = dict(zip(TS_FIELDS, (c.split("\x1f") if c else [] for c in col)))
            self.frames += 1
            if not v["tcp.stream"]:
                continue
            frame = int(v["frame.number"][0])
            t = float(v["frame.time_epoch"][0])
            stream = int(v["tcp.stream"][0])
            # The innermost IP header carries the TCP segment.
            src = (norm_ip((v["ip.src"] or v["ipv6.src"] or ["?"])[-1]), int(v["tcp.srcport"][0]))
            dst = (norm_ip((v["ip.dst"] or v["ipv6.dst"] or ["?"])[-1]), int(v["tcp.dstport"][0]))
            st = self.streams.setdefault(stream, dict(eps=frozenset([src, dst]), start=t,
                                                      client=None))
            st["start"] = min(st["start"], t)
            methods, uris = v["http.request.method"], v["http.request.uri"]
            for i, m in enumerate(methods):
                uri = uris[i] if i < len(uris) else ""
                reqs.append((frame, i, stream, m, uri))
                st["client"] = st["client"] or src
            codes, req_in = v["http.response.code"], v["http.request_in"]
            for i, c in enumerate(codes):
                # Several responses in one frame: the paired ones come first.
                ri = int(req_in[i]) if i < len(req_in) else None
                resps.append((frame, i, stream, int(c), ri))
                st["client"] = st["client"] or dst
        self._build(reqs, resps)

    def _build(self, reqs, resps):
        ex = {}  # (frame, idx) -> [method, uri, status, interim, stream]
        by_frame = {}
        for frame, i, stream, m, uri in reqs:
            e = [m, uri, None, (), stream]
            ex[(frame, i)] = e
            by_frame.setdefault(frame, []).append(e)
        pending = {}  # stream -> [1xx codes not yet folded]
        for frame, i, stream, code, ri in sorted(resps):
            if 100 <= code < 200 and code != 101:
                pending.setdefault(stream, []).append(code)
                continue
            interim = tuple(pending.pop(stream, []))
            target = None
            for e in by_frame.get(ri, []) if ri is not None else []:
                if e[2] is None and e[4] == stream:
                    target = e
                    break
            if target is not None:
                target[2], target[3] = code, interim
            else:
                ex[(frame, i)] = [None, None, code, interim, stream]
        # 1xx left over with no final response: sonde drops them with the
        # exchange unanswered; nothing to add.
        for key in sorted(ex):
            m, uri, status, interim, stream = ex[key]
            self.exchanges.setdefault(stream, []).append((m, uri, status, interim))


# ----------------------------------------------------------------------------
# sonde


def parse_ts(s):
    """'2022-11-18T12:39:03.298754Z' -> epoch seconds (float)."""
    base, _, frac = s.rstrip("Z").partition(".")
    dt = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc)
    return dt.timestamp() + (int(frac) / 10 ** len(frac) if frac else 0.0)


def run_sonde(sonde, path, extra=()):
    try:
        p = subprocess.run([sonde, "read", "-o", "json", "--no-redact"] + list(extra) + [path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return -1, "", "sonde did not finish in %d s" % TIMEOUT
    return p.returncode, p.stdout.decode("utf-8", errors="replace"), \
        p.stderr.decode("utf-8", errors="replace")


def first_error(err):
    """The telling line of sonde's stderr: a sanitizer report's first line if
    there is one, else the last line."""
    lines = [l.strip() for l in err.splitlines() if l.strip()]
    for l in lines:
        if "runtime error:" in l or "ERROR: AddressSanitizer" in l or "ERROR: LeakSanitizer" in l:
            return l[:300]
    return lines[-1][:300] if lines else "(nothing on stderr)"


def parse_records(out):
    """JSON Lines -> (exchange records, stats record or None, problems).
    Connection records (one per TCP connection, by default) must each say
    as many exchanges as were written on their connection, after them."""
    recs, stats, problems = [], None, []
    conns = []
    lines = out.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for n, line in enumerate(lines, 1):
        try:
            r = json.loads(line)
        except ValueError:
            problems.append("line %d is not JSON: %r" % (n, line[:80]))
            continue
        if r.get("type") == "exchange":
            if stats is not None:
                problems.append("exchange record after the stats record")
            recs.append(r)
        elif r.get("type") == "stats":
            if stats is not None:
                problems.append("two stats records")
            stats = r
        elif r.get("type") == "connection":
            cid = r["conn"]["id"]
            written = sum(1 for x in recs if x["conn"]["id"] == cid)
            if r["protocol"] != "tcp" or r["tcp"]["exchanges"] != written:
                problems.append("line %d: connection %s says %r exchanges, %d written before it"
                                % (n, cid, r["tcp"].get("exchanges"), written))
            conns.append(r)
        else:
            problems.append("line %d: unknown type %r" % (n, r.get("type")))
    if stats is not None and (stats.get("records") != len(recs) + len(conns) or
                              stats.get("tcp_connection_records") != len(conns)):
        problems.append("stats.records %r, tcp_connection_records %r: %d exchanges, %d connections written"
                        % (stats.get("records"), stats.get("tcp_connection_records"), len(recs), len(conns)))
    return recs, stats, problems


def sonde_exchange(r):
    q, s = r.get("request"), r.get("response")
    if s is None:
        status, interim = None, ()
    else:
        status = s.get("status")
        if status is None and s.get("version") == "HTTP/0.9":
            status = "0.9"
        interim = tuple(s.get("interim", ()))
    return (q["method"] if q else None, q["target"] if q else None, status, interim)


def ep(d):
    return (norm_ip(d["ip"]), int(d["port"]))


def fmt_ep(e):
    return ("[%s]:%d" if ":" in e[0] else "%s:%d") % e


# ----------------------------------------------------------------------------
# One capture


def check_capture(sonde, path):
    """Returns (verdict, why): verdict in PASS, FAIL, SKIP."""
    name = os.path.basename(path)
    exp = EXPECT.get(name, {})
    problems = []

    rc, out, err = run_sonde(sonde, path, ["--stats"])
    if rc != 0:
        return "FAIL", "sonde exited %d: %s" % (rc, first_error(err))
    recs, stats, probs = parse_records(out)
    problems += probs
    if stats is None:  # (an exchange after it is reported by parse_records)
        problems.append("no stats record at the end of the output")

    if shutil.which("tshark") is None:
        return ("FAIL", "; ".join(problems)) if problems else ("SKIP", "tshark not installed")
    try:
        ts = TsharkView(run_tshark(path, exp.get("tshark_opts", [])))
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        return "FAIL", "tshark: %s" % e

    # Stats agree with the records and with the capture.
    if stats is not None:
        n_unans = sum(1 for r in recs if "unanswered" in r.get("flags", ()))
        n_unsol = sum(1 for r in recs if "unsolicited" in r.get("flags", ()))
        for key, want in (("frames", ts.frames), ("records_unanswered", n_unans),
                          ("records_unsolicited", n_unsol)):
            if stats.get(key) != want:
                problems.append("stats.%s is %r, expected %d" % (key, stats.get(key), want))
    for r in recs:
        fl = r.get("flags", ())
        if ("unanswered" in fl) != ("response" not in r) or \
                ("unsolicited" in fl) != ("request" not in r):
            problems.append("conn %s: flags %s do not match the record's messages"
                            % (r["conn"]["id"], fl))
            break

    # sonde records -> tshark TCP streams, by endpoint pair and time.
    got = {}  # stream -> [exchange]
    clients = {}  # stream -> set of sonde client endpoints
    for r in recs:
        c = r["conn"]
        if c.get("transport") != "tcp":
            continue
        eps = frozenset([ep(c["client"]), ep(c["server"])])
        t = parse_ts(r["ts"])
        cands = [(st["start"], s) for s, st in ts.streams.items()
                 if st["eps"] == eps and st["start"] <= t + 1e-3]
        if not cands:
            problems.append("sonde conn %s (%s -> %s) matches no TCP stream of tshark"
                            % (c["id"], fmt_ep(ep(c["client"])), fmt_ep(ep(c["server"]))))
            continue
        s = max(cands)[1]
        got.setdefault(s, []).append(sonde_exchange(r))
        clients.setdefault(s, set()).add(ep(c["client"]))

    overrides = exp.get("streams", {})
    diffs = []
    for s in sorted(set(ts.streams) | set(got) | set(ts.exchanges)):
        tsh = ts.exchanges.get(s, [])
        want = tsh
        if s in overrides:
            ts_said, want = overrides[s]
            if tsh != ts_said:
                problems.append("EXPECT entry for stream %d (%s) is stale: tshark now says %s, "
                                "the table says %s" % (s, exp.get("why", ""), fmt_list(tsh),
                                                       fmt_list(ts_said)))
        have = got.get(s, [])
        st = ts.streams.get(s)
        if have != want:
            where = ""
            if st and st["client"]:
                other = [e for e in st["eps"] if e != st["client"]]
                where = " (%s -> %s)" % (fmt_ep(st["client"]), fmt_ep(other[0] if other else st["client"]))
            what = "tshark" if s not in overrides else "expected"
            diffs.append("stream %d%s: %s %s, sonde %s" % (s, where, what, fmt_list(want),
                                                             fmt_list(have)))
        if st and st["client"] and clients.get(s) and clients[s] != {st["client"]}:
            problems.append("stream %d: sonde's client is %s, tshark's %s"
                            % (s, "/".join(sorted(map(fmt_ep, clients[s]))), fmt_ep(st["client"])))
    for s in overrides:
        if s not in ts.streams:
            problems.append("EXPECT names stream %d, which the capture does not have" % s)

    if diffs:
        n_t = sum(1 for l in ts.exchanges.values() for e in l if e[0] is not None)
        n_w = sum(1 for s, l in ts.exchanges.items() if s not in overrides
                  for e in l if e[0] is not None)
        n_w += sum(1 for s, (_, l) in overrides.items() for e in l if e[0] is not None)
        n_s = sum(1 for r in recs if "request" in r)
        head = "requests: tshark %d, expected %d, sonde %d; %d connection(s) differ: " % (
            n_t, n_w, n_s, len(diffs))
        problems.insert(0, head + "; ".join(diffs[:3]) + ("; ..." if len(diffs) > 3 else ""))
    if problems:
        return "FAIL", " | ".join(problems)
    return "PASS", ""


# ----------------------------------------------------------------------------
# Damaged input


def pcap_packets(data):
    """Classic pcap -> [(offset of record header, data offset, caplen, ts)]."""
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise ValueError("not a pcap file")
    frac = 1e-9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e-6
    pkts, off = [], 24
    while off + 16 <= len(data):
        sec, sub, caplen, _ = struct.unpack(end + "IIII", data[off:off + 16])
        pkts.append((off, off + 16, caplen, sec + sub * frac))
        off += 16 + caplen
    return pkts


def pcapng_packets(data):
    """pcapng -> [(offset of block, data offset, caplen, ts)] for EPBs."""
    pkts, off, end, resol = [], 0, "<", []
    while off + 12 <= len(data):
        btype = struct.unpack("<I", data[off:off + 4])[0]
        if btype == 0x0A0D0D0A:
            end = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            resol = []
        btype, blen = struct.unpack(end + "II", data[off:off + 8])
        if blen < 12:
            raise ValueError("bad pcapng block")
        body = data[off + 8:off + blen - 4]
        if btype == 1:  # IDB: find if_tsresol
            r, o = 1e-6, 8
            while o + 4 <= len(body):
                code, olen = struct.unpack(end + "HH", body[o:o + 4])
                if code == 0:
                    break
                if code == 9 and olen >= 1:
                    b = body[o + 4]
                    r = 2.0 ** -(b & 0x7F) if b & 0x80 else 10.0 ** -b
                o += 4 + (olen + 3) // 4 * 4
            resol.append(r)
        elif btype == 6:  # EPB
            ifid, hi, lo, caplen = struct.unpack(end + "IIII", body[:16])
            pkts.append((off, off + 28, caplen, ((hi << 32) | lo) * resol[ifid]))
        off += blen
    return pkts


def strip_source(r):
    r = json.loads(json.dumps(r))
    r.get("capture", {}).pop("source", None)
    return r


def completed_before(recs, t):
    """Records whose exchange (request and response) ended before time t."""
    keep = []
    for r in recs:
        lat = r.get("latency_us")
        if "request" not in r or "response" not in r or not lat:
            continue
        if parse_ts(r["request"]["ts"]) + lat["last_byte"] / 1e6 < t - 1e-6:
            keep.append(r)
    return keep


def check_damaged(sonde, damaged_path, full_recs, cut_ts, what):
    """sonde on a damaged file: exit 1, stderr names the file and an offset,
    and the records completed before the damage are written as for the
    intact file."""
    rc, out, err = run_sonde(sonde, damaged_path)
    why = []
    if rc != 1:
        why.append("exit status %d, expected 1" % rc)
    if damaged_path not in err or "offset" not in err:
        why.append("stderr does not name the file and an offset: %r" % err.strip()[:200])
    recs, _, probs = parse_records(out)
    why += probs
    want = [strip_source(r) for r in completed_before(full_recs, cut_ts)]
    have = [strip_source(r) for r in recs[:len(want)]]
    if not want:
        why.append("test setup: no record completes before the damage in %s" % what)
    elif have != want:
        n = next((i for i, (a, b) in enumerate(zip(have, want)) if a != b), len(have))
        why.append("%d record(s) completed before the damage, sonde wrote %d; first "
                   "difference at record %d" % (len(want), len(recs), n + 1))
    return why


def damage_checks(sonde, http1_dir, tmp):
    results = []

    def full_run(name):
        rc, out, err = run_sonde(sonde, os.path.join(http1_dir, name))
        recs, _, probs = parse_records(out)
        if rc != 0 or probs:
            raise RuntimeError("%s: sonde exited %d %s" % (name, rc, probs))
        return recs

    # 1. Two classic pcap files back to back: the second file's 24-byte
    #    header lands where the next packet record should be. (pcapng is
    #    different: a second section is valid pcapng, so not tested here.)
    a, b = "zeek-get.pcap", "zeek-post.pcap"
    try:
        pa, pb = os.path.join(http1_dir, a), os.path.join(http1_dir, b)
        with open(pa, "rb") as f:
            da = f.read()
        with open(pb, "rb") as f:
            db = f.read()
        dst = os.path.join(tmp, "concat-%s-%s" % (a.split(".")[0], b))
        with open(dst, "wb") as f:
            f.write(da + db)
        last_ts = pcap_packets(da)[-1][3]
        why = check_damaged(sonde, dst, full_run(a), last_ts + 1.0, "concat")
        results.append(("damaged-concat(%s+%s)" % (a, b), why))
    except (OSError, ValueError, RuntimeError) as e:
        results.append(("damaged-concat(%s+%s)" % (a, b), ["setup: %s" % e]))

    # 2. A capture cut in the middle of a packet, once per file format. The
    #    cut goes through the first packet after half of the exchanges have
    #    completed, so there are records before and after the damage.
    for name, reader in (("deepflow-sw8.pcap", pcap_packets),
                         ("ndpi-http_ua_splitted_in_two_pkts.pcapng", pcapng_packets)):
        label = "damaged-truncated(%s)" % name
        try:
            src = os.path.join(http1_dir, name)
            with open(src, "rb") as f:
                data = f.read()
            full = full_run(name)
            done = sorted(parse_ts(r["request"]["ts"]) + r["latency_us"]["last_byte"] / 1e6
                          for r in full if r.get("latency_us"))
            if len(done) < 2:
                raise ValueError("needs at least two complete exchanges")
            mid = done[len(done) // 2 - 1]
            pkt = next(p for p in reader(data) if p[3] > mid + 1e-6 and p[2] >= 2)
            cut = pkt[1] + pkt[2] // 2
            dst = os.path.join(tmp, "cut-at-%d-%s" % (cut, name))
            with open(dst, "wb") as f:
                f.write(data[:cut])
            results.append((label, check_damaged(sonde, dst, full, pkt[3], name)))
        except (OSError, ValueError, RuntimeError, StopIteration, struct.error) as e:
            results.append((label, ["setup: %s" % (e or type(e).__name__)]))
    return results


# ----------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sonde", default=os.path.join(ROOT, "sonde"), help="the sonde binary")
    ap.add_argument("-j", "--jobs", type=int, default=max(2, os.cpu_count() or 2))
    ap.add_argument("files", nargs="*", help="only these captures (names in http1/)")
    args = ap.parse_args()

    http1 = os.path.join(CORPUS, "http1")
    if not os.path.isdir(http1):
        print("SKIP http-corpus: ../shared/corpus not found (fresh clone)")
        return 0
    sonde = os.path.abspath(args.sonde)
    if not os.access(sonde, os.X_OK):
        print("FAIL http-corpus: %s is not an executable" % args.sonde)
        return 1

    files = sorted(f for f in os.listdir(http1) if f.endswith((".pcap", ".pcapng")))
    if args.files:
        files = [f for f in files if f in args.files]
    for name in sorted(set(EXPECT) - set(os.listdir(http1))):
        print("FAIL %s: listed in EXPECT but not in %s" % (name, http1))

    failed = any(n not in os.listdir(http1) for n in EXPECT)
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futs = {f: pool.submit(check_capture, sonde, os.path.join(http1, f)) for f in files}
        for f in files:
            try:
                verdict, why = futs[f].result()
            except Exception as e:  # a crash of the test itself is a failure
                verdict, why = "FAIL", "test error: %s: %s" % (type(e).__name__, e)
            print("%s %s%s" % (verdict, f, ": " + why if why else ""), flush=True)
            failed |= verdict == "FAIL"

    if not args.files:
        tmp = tempfile.mkdtemp(prefix="sonde-corpus-")
        try:
            for label, why in damage_checks(sonde, http1, tmp):
                print("%s %s%s" % ("FAIL" if why else "PASS", label,
                                   ": " + "; ".join(why) if why else ""), flush=True)
                failed |= bool(why)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
