#!/usr/bin/env python3
"""Redis, live: a real redis-server on loopback (its own port and directory),
`sonde capture --port PORT` (eBPF, root) while redis-cli, redis-benchmark
(pipelined, -P 16), python3-redis (RESP2, pub/sub) and RESP3 clients run
(redis-cli -3; python3-redis with protocol=3 where it has it, 5.x, else a
RESP3 client written with a socket here, pub/sub included: Debian 12's
python3-redis 4.3 has no RESP3). Checks that every command appears paired
with its reply, pub/sub messages as events, MULTI/EXEC grouped, SELECT's
db, errors flagged.

Usage: test_redis_live.py [--dry] [--keep] path/to/sonde. PASS/FAIL/SKIP lines.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from livelib import (Child, Report, SondeRun, free_port, kill_children, kill_sondes,  # noqa: E402
                     parse_args, wait_port)

PY = "/usr/bin/python3"
BENCH_N = 2000

CLIENT = r'''
import socket, sys, time, redis
port, proto = int(sys.argv[1]), int(sys.argv[2])
tag = "p%d" % proto


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Raw:
    """RESP3 by hand: this python3-redis (4.x) has no protocol=3."""
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def until(self, pred, timeout=5):
        deadline = time.time() + timeout
        while not pred(self.buf) and time.time() < deadline:
            self.s.settimeout(max(0.01, deadline - time.time()))
            try:
                b = self.s.recv(65536)
            except socket.timeout:
                break
            if not b:
                break
            self.buf += b
        assert pred(self.buf), self.buf[-300:]
        self.buf = b""


pub = redis.Redis(host="127.0.0.1", port=port)
if proto == 2 or "protocol" in redis.Redis.__init__.__code__.co_varnames:
    kw = {"protocol": proto} if proto == 3 else {}
    r = redis.Redis(host="127.0.0.1", port=port, **kw)
    r.set(tag + ":a", "1")
    assert r.get(tag + ":a") == b"1"
    r.hset(tag + ":h", mapping={"f1": "v1", "f2": "v2"})
    r.hgetall(tag + ":h")
    p = r.pipeline(transaction=False)
    for i in range(50):
        p.incr(tag + ":n")
    p.execute()
    sub = redis.Redis(host="127.0.0.1", port=port, **kw).pubsub()
    sub.subscribe(tag + ":ch")
    sub.get_message(timeout=2)                      # the confirmation
    for i in range(3):
        pub.publish(tag + ":ch", "hello %d" % i)
    got = 0
    deadline = time.time() + 5
    while got < 3 and time.time() < deadline:
        m = sub.get_message(timeout=1)
        if m and m["type"] == "message":
            got += 1
    assert got == 3, got
    sub.unsubscribe()
    sub.get_message(timeout=2)
    sub.close()
else:
    c = Raw()
    c.s.sendall(resp("HELLO", "3"))
    c.until(lambda b: b.startswith(b"%") and b"modules" in b)
    c.s.sendall(resp("SET", tag + ":a", "1") + resp("GET", tag + ":a"))
    c.until(lambda b: b.endswith(b"$1\r\n1\r\n"))
    c.s.sendall(resp("HSET", tag + ":h", "f1", "v1", "f2", "v2") + resp("HGETALL", tag + ":h"))
    c.until(lambda b: b.endswith(b"v2\r\n"))
    c.s.sendall(b"".join(resp("INCR", tag + ":n") for _ in range(50)))
    c.until(lambda b: b.endswith(b":50\r\n"))
    c.s.sendall(resp("SUBSCRIBE", tag + ":ch"))
    c.until(lambda b: b.startswith(b">3") and b.endswith(b":1\r\n"))
    for i in range(3):
        pub.publish(tag + ":ch", "hello %d" % i)
    c.until(lambda b: b.count(b"$7\r\nmessage") == 3 and b.endswith(b"hello 2\r\n"))
    c.s.sendall(resp("UNSUBSCRIBE"))
    c.until(lambda b: b.endswith(b":0\r\n"))
    c.s.close()
print("client done", proto)
'''


def redis_recs(recs):
    return [r for r in recs if r.get("type") == "exchange" and r.get("protocol") == "redis"]


def cmd_of(r):
    return (r.get("request") or {}).get("command")


def args_of(r):
    return (r.get("request") or {}).get("arguments") or []


def resp_of(r):
    return r.get("response") or {}


def run_clients(rep, port, tmp):
    """The workloads; returns False when one of them failed to run."""
    ok = True
    cli = ["redis-cli", "-p", str(port)]
    for argv in (["SET", "cli:k", "v1"], ["GET", "cli:k"], ["LPUSH", "cli:k", "x"],
                 ["-3", "HGETALL", "cli:h"]):
        ok &= subprocess.run(cli + argv, capture_output=True, timeout=30).returncode == 0
    ok &= subprocess.run(cli + ["-n", "3", "SET", "cli:db3", "x"], capture_output=True,
                         timeout=30).returncode == 0
    tx = "MULTI\nINCR cli:m\nINCR cli:m\nEXEC\n"
    ok &= subprocess.run(cli, input=tx.encode(), capture_output=True, timeout=30).returncode == 0
    b = subprocess.run(["redis-benchmark", "-p", str(port), "-P", "16", "-n", str(BENCH_N),
                        "-t", "set,get", "-q"], capture_output=True, text=True, timeout=120)
    rep.info("redis-benchmark: " + " ".join(b.stdout.split())[:200])
    ok &= rep.check("redis-benchmark ran", b.returncode == 0, b.stderr[-500:])
    for proto in (2, 3):
        c = subprocess.run([PY, "-c", CLIENT, str(port), str(proto)], capture_output=True,
                           text=True, timeout=60)
        ok &= rep.check(f"python3-redis RESP{proto} client ran", c.returncode == 0,
                        c.stderr[-800:])
    return ok


def check_cli(rep, ex):
    sets = [r for r in ex if cmd_of(r) == "SET" and args_of(r)[:1] == ["cli:k"]]
    rep.check("redis-cli SET paired with +OK", sets and resp_of(sets[0]).get("value") == "OK",
              sets[:1])
    gets = [r for r in ex if cmd_of(r) == "GET" and args_of(r) == ["cli:k"]]
    rep.check("redis-cli GET paired with its bulk string",
              gets and resp_of(gets[0]).get("type") == "bulk_string"
              and resp_of(gets[0]).get("value") == "v1", gets[:1])
    errs = [r for r in ex if cmd_of(r) == "LPUSH" and args_of(r)[:1] == ["cli:k"]]
    rep.check("WRONGTYPE error flagged", errs and resp_of(errs[0]).get("error") is True
              and resp_of(errs[0]).get("error_prefix") == "WRONGTYPE", errs[:1])
    db3 = [r for r in ex if cmd_of(r) == "SET" and args_of(r)[:1] == ["cli:db3"]]
    hg = [r for r in ex if cmd_of(r) == "HGETALL" and args_of(r) == ["cli:h"]]
    rep.check("redis-cli -3: HELLO 3 switches the connection to RESP3",
              hg and hg[0].get("version") == "RESP3" and resp_of(hg[0]).get("type") == "map",
              hg[:1])
    rep.check("SELECT tracked: redis-cli -n 3 SET runs in db 3",
              db3 and db3[0]["request"].get("db") == 3, db3[:1])
    incr = [r for r in ex if cmd_of(r) == "INCR" and args_of(r) == ["cli:m"]]
    execs = [r for r in ex if cmd_of(r) == "EXEC"]
    grouped = (len(incr) == 2 and execs and all(r["request"].get("multi") for r in incr)
               and [r["request"].get("queued") for r in incr] == [1, 2]
               and execs[0]["request"].get("multi") == incr[0]["request"].get("multi")
               and resp_of(execs[0]).get("value") == [1, 2]
               and all(resp_of(r).get("value") == "QUEUED" for r in incr))
    rep.check("MULTI/EXEC: queued commands and EXEC grouped, EXEC's array of results",
              grouped, incr + execs[:1])


def check_bench(rep, ex):
    for c in ("SET", "GET"):
        mine = [r for r in ex if cmd_of(r) == c and args_of(r)[:1] == ["key:__rand_int__"]]
        paired = [r for r in mine if r.get("response") and not r.get("flags")]
        rep.check(f"redis-benchmark -P 16: {BENCH_N} {c} commands, each paired",
                  len(mine) >= BENCH_N and len(paired) == len(mine),
                  f"{len(mine)} seen, {len(paired)} paired")


def check_python(rep, ex):
    for proto in (2, 3):
        tag = f"p{proto}"
        # python3-redis sends incr() as INCRBY key 1
        incr = [r for r in ex if cmd_of(r) in ("INCR", "INCRBY") and args_of(r)[:1] == [tag + ":n"]]
        vals = [resp_of(r).get("value") for r in incr]
        rep.check(f"RESP{proto}: a pipeline of 50 INCR, paired in order",
                  vals == list(range(1, 51)), vals[:5])
        hg = [r for r in ex if cmd_of(r) == "HGETALL" and args_of(r) == [tag + ":h"]]
        want = "map" if proto == 3 else "array"
        rep.check(f"RESP{proto}: HGETALL answered with a {want}",
                  hg and resp_of(hg[0]).get("type") == want
                  and hg[0].get("version") == f"RESP{proto}", hg[:1])
        pubs = [r for r in ex if cmd_of(r) == "PUBLISH" and args_of(r)[:1] == [tag + ":ch"]]
        rep.check(f"RESP{proto}: 3 PUBLISH, each answered with 1 receiver",
                  [resp_of(r).get("value") for r in pubs] == [1, 1, 1], pubs[:1])
        msgs = [r for r in ex if resp_of(r).get("event") == "message"
                and resp_of(r).get("channel") == tag + ":ch"]
        rep.check(f"RESP{proto}: 3 pub/sub messages as events",
                  len(msgs) == 3 and all(not r.get("request") and not r.get("flags") for r in msgs)
                  and all(resp_of(r).get("type") == ("push" if proto == 3 else "array")
                          for r in msgs), msgs[:1])
        sub = [r for r in ex if cmd_of(r) == "SUBSCRIBE" and args_of(r) == [tag + ":ch"]]
        rep.check(f"RESP{proto}: SUBSCRIBE paired with its confirmation",
                  sub and (resp_of(sub[0]).get("value") or [None])[0] == "subscribe", sub[:1])
    hello = [r for r in ex if cmd_of(r) == "HELLO"]
    rep.check("HELLO 3 answered with a map, in RESP3",
              hello and resp_of(hello[0]).get("type") == "map", hello[:1])


def main():
    sonde, dry, keep, _ = parse_args(sys.argv[1:])
    rep = Report("redis-live")
    if os.geteuid() != 0:
        rep.skip("needs root (eBPF)")
        return 0
    for tool in ("redis-server", "redis-cli", "redis-benchmark"):
        if not shutil.which(tool):
            rep.skip(f"{tool} is not installed")
            return 0
    if subprocess.run([PY, "-c", "import redis"], capture_output=True).returncode:
        rep.skip("python3-redis is not installed")
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-redis.")
    port = free_port()
    try:
        Child(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", tmp,
               "--save", "", "--appendonly", "no", "--logfile", os.path.join(tmp, "redis.log")],
              name="redis-server", stdin=False)
        if not rep.check("redis-server up", wait_port(port)):
            return 1
        run = SondeRun(sonde, tmp, "redis", ["--port", str(port)], rep, dry=dry)
        if dry or not run.ok:
            return 0 if dry else 1
        t0 = time.time()
        clients_ok = run_clients(rep, port, tmp)
        rep.info(f"workloads took {time.time() - t0:.1f} s")
        rc, recs = run.stop()
        rep.check("sonde exited 0", rc == 0, run.stderr()[-1000:])
        ex = redis_recs(recs)
        stats = [r for r in recs if r.get("type") == "stats"]
        rep.info(f"{len(ex)} redis records; stats: " + (json.dumps(
            {k: v for k, v in stats[-1].items() if v and k != "type"})[:600] if stats else "none"))
        if not clients_ok:
            return 1
        check_cli(rep, ex)
        check_bench(rep, ex)
        check_python(rep, ex)
        lone = [r for r in ex if "unanswered" in r.get("flags", [])
                or "unsolicited" in r.get("flags", [])]
        rep.check("no command unanswered, no reply unsolicited", not lone,
                  f"{len(lone)}: {lone[:2]}")
        rep.check("no parse errors", stats and stats[-1].get("parse_errors") == 0,
                  stats[-1:] and stats[-1].get("parse_errors"))
        return 1 if rep.failed else 0
    finally:
        kill_sondes()
        kill_children()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            rep.info(f"kept {tmp}")


if __name__ == "__main__":
    sys.exit(main())
