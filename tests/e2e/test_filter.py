#!/usr/bin/env python3
"""`sonde read -Y EXPR` end to end (docs/filter.md): on captures of the shared
corpus (SONDE_CORPUS, else ../shared/corpus), the records `-Y` keeps must be
exactly those jq (Debian's) selects from `sonde read -o json` with the same
question written in jq; --stats must count the others in records_filtered;
--summary must count only the kept ones; -c counts after the filter; a bad
expression is a usage error (exit 2) naming its column; and `-w` with `-Y`
still records every packet (as documented). Live, as root: `sonde capture
-Y` (eBPF) on a real Python HTTP server on loopback, driven by curl, writes
only the matching exchanges and counts the others.

Usage: test_filter.py path/to/sonde
Prints PASS/FAIL/SKIP lines; exits non-zero on any FAIL.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from livelib import Child, Report, SondeRun, free_port, kill_children, kill_sondes, wait_port  # noqa: E402

# (filter, the same question in jq)
CASES = [
    ('protocol == "http" && response.status >= 400',
     'select(.protocol == "http" and .response.status >= 400)'),
    ('request.target.startsWith("/") && !(request.method == "GET")',
     'select((.request.target | strings | startswith("/")) and .request.method != "GET")'),
    ('latency_ms > 20', 'select(.latency_us.last_byte > 20000)'),
    ('latency < 500us', 'select(.latency_us.last_byte != null and .latency_us.last_byte < 500)'),
    ('has(request.headers["user-agent"])',
     'select([.request.headers[]? | select(.[0] | ascii_downcase == "user-agent")] | length > 0)'),
    ('request.headers["HOST"] contains "."',
     'select([.request.headers[]? | select((.[0] | ascii_downcase == "host") and (.[1] | contains(".")))] | length > 0)'),
    ('flags contains "gap" || "unanswered" in flags',
     'select(any(.flags[]; contains("gap")) or any(.flags[]; . == "unanswered"))'),
    ('response.status in [200, 204, 304]',
     'select(.response.status == 200 or .response.status == 204 or .response.status == 304)'),
    ('request.method matches "^(GET|POST)$"',
     'select(.request.method | strings | test("^(GET|POST)$"))'),
    ('!(protocol == "dns")', 'select(.protocol != "dns")'),
    ('dns.name endsWith ".com"',
     'select(any(.request.questions[]?.name | strings; endswith(".com")))'),
    ('redis.command in ["GET", "SET"]',
     'select(.request.command == "GET" or .request.command == "SET")'),
    ('response.body.size >= 1k', 'select(.response.body.size >= 1024)'),
    ('conn.server.port == 80 || conn.client.port < 1024',
     'select(.conn.server.port == 80 or .conn.client.port < 1024)'),
    # != is !(==): true where there is no such field
    ('grpc.method != ""', 'select([.request.grpc.method | strings | select(. == "")] | length == 0)'),
    ('response.grpc.status > 0', 'select(.response.grpc.status > 0)'),
    ('ts >= "2014-01-01"', 'select(.ts >= "2014-01-01")'),
]

CAPTURES = [
    "http1/zeek-get-gzip.pcap", "http1/ndpi-http_auth.pcap", "http1/deepflow-httpv1.pcap",
    "http1/zeek-testmyids.pcap", "http1/ndpi-http.pcapng", "http1/zeek-post.pcap",
    "http2/arkime-http2-nghttp2.pcap", "http2/deepflow-http2-multi.pcap",
    "http2/suricata-http2-keywords.pcap", "grpc/deepflow-grpc-unary.pcap",
    "grpc/wireshark-grpc_stream_reassembly_sample.pcapng", "redis/zeek-pipelining-example.pcap",
    "redis/deepflow-redis-error.pcap", "dns/arkime-dns-udp.pcap", "amqp/deepflow-amqp1.pcap",
    "http1/zeek-methods.pcap",
]
# Masks hash secrets with a key of the run: the same key, so runs compare.
KEY = ["--redact-key", "filter-test"]

failed = 0


def report(ok, name, why=""):
    global failed
    if ok:
        print(f"PASS {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {why}")


def lines(out):
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def key(rec):
    rec = dict(rec)
    rec.pop("seq", None)  # numbered after the filter
    return json.dumps(rec, sort_keys=True)


def main():
    sonde = os.path.abspath(sys.argv[1])
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    corpus = os.environ.get("SONDE_CORPUS") or os.path.join(root, "..", "shared", "corpus")
    if not shutil.which("jq"):
        print("SKIP filter: no jq (scripts/setup installs it)")
        return 0
    caps = [os.path.join(corpus, c) for c in CAPTURES if os.path.exists(os.path.join(corpus, c))]
    if len(caps) < 10:
        print(f"SKIP filter: corpus captures not found under {corpus}")
        return 0
    full = {}
    for c in caps:
        full[c] = subprocess.run([sonde, "read", "-q", *KEY, "-o", "json", c], capture_output=True,
                                 text=True, check=True).stdout
    total_kept = 0
    for expr, jq in CASES:
        bad = []
        kept = 0
        for c in caps:
            got = subprocess.run([sonde, "read", "-q", *KEY, "-o", "json", "-Y", expr, c],
                                 capture_output=True, text=True)
            if got.returncode != 0:
                bad.append(f"{os.path.basename(c)}: exit {got.returncode}: {got.stderr.strip()}")
                continue
            want = subprocess.run(["jq", "-c", jq], input=full[c], capture_output=True,
                                  text=True, check=True).stdout
            # through jq too, which writes numbers its own way (34973.000 as 34973)
            got_jq = subprocess.run(["jq", "-c", "."], input=got.stdout, capture_output=True,
                                    text=True, check=True).stdout
            g, w = sorted(map(key, lines(got_jq))), sorted(map(key, lines(want)))
            kept += len(g)
            if g != w:
                bad.append(f"{os.path.basename(c)}: -Y kept {len(g)}, jq {len(w)}")
        total_kept += kept
        report(not bad, f"filter: -Y '{expr}' = jq ({kept} records)", "; ".join(bad[:3]))
    report(total_kept > 100, "filter: the cases select records", f"{total_kept} in all")

    cap = os.path.join(corpus, "http1/zeek-methods.pcap")
    expr = 'response.status == 200'
    all_recs = lines(full[cap]) if cap in full else []
    n_all = len(all_recs)
    n_ok = sum(1 for r in all_recs if (r.get("response") or {}).get("status") == 200)
    out = subprocess.run([sonde, "read", "-q", *KEY, "-o", "json", "--stats", "--summary", "-Y", expr,
                          cap], capture_output=True, text=True, check=True).stdout
    recs = lines(out)
    stats = [r for r in recs if r.get("type") == "stats"]
    summ = [r for r in recs if r.get("type") == "summary"]
    ex = [r for r in recs if r.get("type") == "exchange"]
    report(stats and stats[0]["records_filtered"] == n_all - n_ok and stats[0]["records"] == n_all,
           "filter: --stats counts the records filtered out",
           f"{stats[0]['records'] if stats else None} records, "
           f"{stats[0]['records_filtered'] if stats else None} filtered of {n_all}, {n_ok} kept")
    report(summ and summ[0]["exchanges"] == n_ok == len(ex) and n_ok < n_all,
           "filter: --summary counts the kept records only", f"{summ} vs {n_ok}")
    two = lines(subprocess.run([sonde, "read", "-q", *KEY, "-o", "json", "-c", "2", "-Y", expr, cap],
                               capture_output=True, text=True, check=True).stdout)
    report(len(two) == 2 and all(r["response"]["status"] == 200 for r in two) and
           [r["seq"] for r in two] == [1, 2], "filter: -c counts matching records", f"{two}")

    bad = subprocess.run([sonde, "read", "-Y", 'response.status >= "x"', cap],
                         capture_output=True, text=True)
    report(bad.returncode == 2 and "column 20" in bad.stderr and "^" in bad.stderr,
           "filter: a bad expression is a usage error at its column",
           f"exit {bad.returncode}: {bad.stderr}")

    with tempfile.TemporaryDirectory() as d:
        w = os.path.join(d, "all.pcapng")
        subprocess.run([sonde, "read", "-q", "-o", "none", "-w", w, "-Y", "false", cap],
                       check=True, capture_output=True)
        again = lines(subprocess.run([sonde, "read", "-q", *KEY, "-o", "json", w], capture_output=True,
                                     text=True, check=True).stdout)
        report(len(again) == n_all, "filter: -w records every packet, -Y or not",
               f"{len(again)} records from the recording, {n_all} from the capture")
    live(sonde)
    return 1 if failed else 0


def live(sonde):
    """sonde capture -Y on real traffic: nginx-like python server, curl."""
    global failed
    rep = Report("filter-live")
    if os.geteuid() != 0:
        rep.skip("not root: no live capture")
        return
    with tempfile.TemporaryDirectory() as tmp:
        www = os.path.join(tmp, "www")
        os.mkdir(www)
        for name in ("a.txt", "b.txt"):
            with open(os.path.join(www, name), "w") as f:
                f.write(name * 10)
        port = free_port()
        Child(["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", str(port)],
              name="http.server", cwd=www, stdin=False)
        try:
            if not wait_port(port):
                rep.check("http.server up", False, "no listener")
                failed += 1
                return
            run = SondeRun(sonde, tmp, "capture-Y",
                           ["--port", str(port), "--no-tls", "-Y",
                            'request.target == "/b.txt" && response.status == 200'], rep)
            if not run.ok:
                failed += 1
                return
            for path in ("/a.txt", "/b.txt", "/a.txt", "/missing", "/b.txt", "/a.txt"):
                subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}{path}"],
                               check=False)
            time.sleep(0.5)
            rc, recs = run.stop()
            ex = [r for r in recs if r.get("type") == "exchange"]
            st = [r for r in recs if r.get("type") == "stats"]
            ok = rep.check("capture -Y writes only the matching exchanges",
                           rc == 0 and len(ex) == 2 and
                           all(r["request"]["target"] == "/b.txt" for r in ex),
                           f"exit {rc}: {[(r.get('request') or {}).get('target') for r in ex]}")
            # the six connections' records match no request.target either
            ok = rep.check("capture -Y counts the others in records_filtered",
                           st and st[0]["tcp_connection_records"] == 6 and
                           st[0]["records_filtered"] == 4 + 6 and st[0]["records"] == 6 + 6,
                           st[0] if st else run.stderr()[-500:]) and ok
            failed += 0 if ok else 1
        finally:
            kill_sondes()
            kill_children()


if __name__ == "__main__":
    sys.exit(main())
