#!/usr/bin/env python3
"""ClickHouse end to end (docs/store.md): Debian's clickhouse-server (18.16),
started here on loopback with its own data directory and ports.

- two sonde runs with different --node write into one ClickHouse; `sonde
  query --store clickhouse=URL` sees both, each record byte-identical to
  `sonde read -o json`'s, and a filter there answers what jq answers;
- ClickHouse stopped and started again while sonde is writing (a pipe
  feeding it a capture for a few seconds): every record sonde made is in
  ClickHouse or counted (clickhouse_queue_drops, clickhouse_unsent), and
  the failed inserts are counted too;
- with --clickhouse-spill DIR, ClickHouse killed (SIGKILL) mid-capture and
  started again: every record arrives exactly once (as many distinct
  records as sonde made, no duplicate), what was spilled is what was
  replayed; with a spill quota too small for the outage, the oldest
  batches are deleted and counted (clickhouse_spill_dropped), the rest
  arrives once; a run that ends while ClickHouse is down leaves its spill
  on disk (clickhouse_spill_pending) and the next run sends it.

Usage: test_store_clickhouse.py path/to/sonde
"""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_store import corpus, pcap_http_exchange, report, run, jq  # noqa: E402
import test_store  # noqa: E402

CONFIG = """<?xml version="1.0"?><yandex>
  <logger><level>warning</level><log>{d}/log/server.log</log><errorlog>{d}/log/err.log</errorlog></logger>
  <http_port>{http}</http_port><tcp_port>{tcp}</tcp_port><listen_host>127.0.0.1</listen_host>
  <path>{d}/data/</path><tmp_path>{d}/tmp/</tmp_path><user_files_path>{d}/user_files/</user_files_path>
  <users_config>users.xml</users_config><default_profile>default</default_profile>
  <default_database>default</default_database><mark_cache_size>536870912</mark_cache_size><timezone>UTC</timezone>
</yandex>
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class ClickHouse:
    def __init__(self):
        self.d = tempfile.mkdtemp(prefix="sonde-ch.")
        for sub in ("data", "tmp", "user_files", "log"):
            os.makedirs(os.path.join(self.d, sub))
        shutil.copy("/etc/clickhouse-server/users.xml", self.d)
        self.http = free_port()
        with open(os.path.join(self.d, "config.xml"), "w") as f:
            f.write(CONFIG.format(d=self.d, http=self.http, tcp=free_port()))
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["clickhouse-server", "--config-file=" + os.path.join(self.d, "config.xml")],
            cwd=self.d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.http}/ping", timeout=1)
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("clickhouse-server did not start")

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def kill(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def sql(self, q):
        req = urllib.request.Request(f"http://127.0.0.1:{self.http}/", data=q.encode())
        return urllib.request.urlopen(req, timeout=10).read().decode()

    def url(self, db):
        return f"http://127.0.0.1:{self.http}/{db}"


def stats_of(text):
    """The counters of --stats' table (-o none writes it on stderr)."""
    st = {}
    for x in text.splitlines():
        f = x.split()
        if x.startswith("  ") and len(f) >= 2 and f[1].isdigit():
            st[f[0]] = int(f[1])
    return st


def made_of(st, fed):
    """The records sonde made of `fed` exchanges, each on its own connection:
    the exchange and its connection's record; -1 when the counts disagree."""
    conns = st.get("tcp_connection_records", 0)
    return st.get("records", -1) if conns == fed else -1


def connection_rows(ch, db):
    """Connection records in ClickHouse (protocol "tcp"): stored like exchanges."""
    return int(ch.sql(f"SELECT count() FROM {db}.sonde_records WHERE protocol = 'tcp'").strip())


def test_two_nodes(sonde, ch, files):
    url = ch.url("two")
    a = [f for f in files if "redis" in f][:3]
    b = [f for f in files if "dns" in f][:3]
    want = []
    for node, group in (("node-a", a), ("node-b", b)):
        for f in group:
            p = run([sonde, "read", "-q", "--redact-key", "k", "-o", "json", "--sink",
                     "clickhouse=" + url, "--node", node, f])
            want += p.stdout.splitlines(keepends=True)
    nodes = ch.sql("SELECT node, count() FROM two.sonde_records GROUP BY node ORDER BY node "
                   "FORMAT TSV").split()
    p = run([sonde, "query", "--store", "clickhouse=" + url, "-o", "json"])
    got = p.stdout.splitlines(keepends=True)
    report(p.returncode == 0 and sorted(got) == sorted(want) and nodes[0::2] == ["node-a", "node-b"],
           f"two nodes into one ClickHouse: a query sees both ({nodes}), byte-identical",
           f"rc {p.returncode} {p.stderr.strip()}: {len(got)} vs {len(want)}")
    for expr, jexpr in (('protocol == "dns"', 'select(.protocol == "dns")'),
                        ('conn.server.port == 6379 && latency_ms > 0.1',
                         'select(.conn.server.port == 6379 and .latency_us.last_byte > 100)')):
        exp = jq(jexpr, want)
        p = run([sonde, "query", "--store", "clickhouse=" + url, "-o", "json", expr])
        got = p.stdout.splitlines(keepends=True)
        report(sorted(got) == sorted(exp), f"ClickHouse query {expr!r} = jq ({len(exp)})",
               f"{len(got)} vs {len(exp)} {p.stderr.strip()}")


def test_outage(sonde, ch):
    url = ch.url("outage")
    p = subprocess.Popen([sonde, "read", "-q", "--stats", "-o", "none", "--sink",
                          "clickhouse=" + url, "--node", "n", "-"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    t0 = time.time()
    i = 0
    stopped = started = False
    while time.time() - t0 < 7.0:
        el = time.time() - t0
        if el > 2 and not stopped:
            ch.stop()
            stopped = True
        if el > 4.5 and not started:
            ch.start()
            started = True
        buf = b""
        for _ in range(100):
            for fr in pcap_http_exchange(i):
                buf += struct.pack("<IIII", 1700000000 + i // 1000, i % 1000 * 1000, len(fr),
                                   len(fr)) + fr
            i += 1
        p.stdin.write(buf)
        p.stdin.flush()
        time.sleep(0.02)
    out, err = p.communicate(timeout=60)
    st = stats_of(err.decode())
    rows = int(ch.sql("SELECT count() FROM outage.sonde_records").strip())
    made = made_of(st, i)
    lost = st.get("clickhouse_queue_drops", 0) + st.get("clickhouse_unsent", 0)
    ok = (rows == st.get("clickhouse_records") and rows + lost == made and made == 2 * i
          and st.get("clickhouse_failed_posts", 0) > 0 and rows > 0)
    report(ok, f"ClickHouse stopped and started mid-capture: {made} records, {rows} in "
               f"ClickHouse, {lost} counted lost, {st.get('clickhouse_failed_posts')} failed inserts",
           f"{st} rows {rows} sent {i} stderr {err.decode().strip()!r}")


def feed(sonde, ch, extra, seconds, down_at, up_at, first=0):
    """sonde read of a live pipe of HTTP exchanges for `seconds`, ClickHouse
    killed at down_at and started at up_at (None: not); (stats, records made
    of them: each exchange and its connection's record, -1 if not)."""
    p = subprocess.Popen([sonde, "read", "-q", "--stats", "-o", "none", *extra, "-"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    t0 = time.time()
    i = first
    killed = started = False
    while time.time() - t0 < seconds:
        el = time.time() - t0
        if down_at is not None and el > down_at and not killed:
            ch.kill()
            killed = True
        if up_at is not None and el > up_at and not started:
            ch.start()
            started = True
        buf = b""
        for _ in range(100):
            for fr in pcap_http_exchange(i):
                buf += struct.pack("<IIII", 1700000000 + i // 1000, i % 1000 * 1000, len(fr),
                                   len(fr)) + fr
            i += 1
        p.stdin.write(buf)
        p.stdin.flush()
        time.sleep(0.02)
    out, err = p.communicate(timeout=90)
    st = stats_of(err.decode())
    return st, made_of(st, i - first), err.decode()


def counts(ch, db):
    n, uniq = ch.sql(f"SELECT count(), uniqExact(json) FROM {db}.sonde_records FORMAT TSV").split()
    return int(n), int(uniq)


def test_spill(sonde, ch):
    spill = tempfile.mkdtemp(prefix="sonde-spill.")
    try:
        url = ch.url("spill")
        st, made, err = feed(sonde, ch, ["--sink", "clickhouse=" + url, "--node", "n",
                                         "--clickhouse-spill", spill], 7.0, 2.0, 4.5)
        rows, uniq = counts(ch, "spill")
        ok = (made > 0 and rows == made and uniq == made and connection_rows(ch, "spill") == made // 2
              and st.get("clickhouse_records") == made and st.get("clickhouse_spilled", 0) > 0
              and st.get("clickhouse_spill_replayed") == st.get("clickhouse_spilled")
              and st.get("clickhouse_spill_dropped", 0) == 0 and st.get("clickhouse_spill_pending", 0) == 0
              and st.get("clickhouse_queue_drops", 0) == 0 and st.get("clickhouse_failed_posts", 0) > 0
              and not os.listdir(spill))
        report(ok, f"spill: ClickHouse killed and restarted mid-capture: {made} records made, {rows} in "
                   f"ClickHouse ({uniq} distinct), {st.get('clickhouse_spilled')} spilled and replayed",
               f"{st} rows {rows} uniq {uniq} made {made} {err.strip()!r}")
        # a quota the outage outgrows: the oldest batches go, counted
        url = ch.url("quota")
        st, made, err = feed(sonde, ch, ["--sink", "clickhouse=" + url, "--node", "n",
                                         "--clickhouse-spill", spill, "--clickhouse-spill-size", "3m"],
                             6.0, 1.0, 4.0)
        rows, uniq = counts(ch, "quota")
        dropped = st.get("clickhouse_spill_dropped", 0)
        seqs = {json.loads(ln)["seq"] for ln in
                ch.sql("SELECT json FROM quota.sonde_records FORMAT TSVRaw").splitlines()}
        missing = sorted(set(range(1, made + 1)) - seqs)
        # the records lost are one run of the oldest spilled: before them
        # what went in before the kill, after them the newest, replayed
        oldest = missing and missing[-1] - missing[0] + 1 == len(missing) and missing[-1] < made
        # rows + dropped can pass made: a batch the server took as it was
        # killed, its answer lost, counted dropped (too big to spill)
        ok = (made > 0 and dropped > 0 and rows == uniq and rows + dropped >= made
              and rows > st.get("clickhouse_records", 0) - 1 and rows < made and oldest
              and st.get("clickhouse_spill_replayed", 0) > 0
              and st.get("clickhouse_spill_pending", 0) == 0 and st.get("clickhouse_queue_drops", 0) == 0)
        report(ok, f"spill quota (3m) outgrown: {made} made, {rows} in ClickHouse once each, "
                   f"{dropped} dropped (the oldest spilled, one run) and counted, "
                   f"{st.get('clickhouse_spill_replayed')} replayed",
               f"{st} rows {rows} uniq {uniq} made {made} missing {missing[:3]}..{missing[-3:]} {err.strip()!r}")
        # a run that ends while ClickHouse is down; the next run sends the rest
        url = ch.url("later")
        st, made, err = feed(sonde, ch, ["--sink", "clickhouse=" + url, "--node", "n",
                                         "--clickhouse-spill", spill], 3.0, 1.0, None)
        pending = st.get("clickhouse_spill_pending", 0)
        on_disk = len(os.listdir(spill))
        ch.start()
        st2, _, err2 = feed(sonde, ch, ["--sink", "clickhouse=" + url, "--node", "n",
                                        "--clickhouse-spill", spill], 0.0, None, None)
        rows, uniq = counts(ch, "later")
        ok = (made > 0 and pending > 0 and on_disk > 0 and st.get("clickhouse_records", 0) + pending == made
              and st2.get("clickhouse_spill_replayed") == pending and rows == made and uniq == made
              and not os.listdir(spill) and "stay spilled" in err)
        report(ok, f"spill across runs: {pending} records left spilled ({on_disk} files) while ClickHouse "
                   f"was down, sent by the next run: {rows} of {made} in ClickHouse",
               f"{st} / {st2} rows {rows} uniq {uniq} made {made} {err.strip()!r} {err2.strip()!r}")
    finally:
        if not ch.proc:
            ch.start()
        shutil.rmtree(spill, ignore_errors=True)


def main():
    sonde = os.path.abspath(sys.argv[1])
    if not shutil.which("clickhouse-server"):
        print("SKIP test_store_clickhouse: no clickhouse-server")
        return 0
    files = corpus()
    ch = ClickHouse()
    try:
        ch.start()
        test_two_nodes(sonde, ch, files)
        test_outage(sonde, ch)
        test_spill(sonde, ch)
    finally:
        ch.stop()
        shutil.rmtree(ch.d, ignore_errors=True)
    return 1 if test_store.failed else 0


if __name__ == "__main__":
    sys.exit(main())
