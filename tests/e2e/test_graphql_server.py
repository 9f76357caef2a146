#!/usr/bin/env python3
"""GraphQL end to end against a real GraphQL server: graphql-js with
graphql-http's handlers (npm; tests/e2e/graphql/server.js) over HTTP/1.1 and
cleartext HTTP/2 on loopback, driven by curl, captured by tcpdump into a pcap
that `sonde read` dissects.

Requests: a named query with variables, a named mutation with variables, an
anonymous query by GET ?query=, a query whose resolver throws (a 200 response
with GraphQL "errors"), then over HTTP/2 a named query by POST and a failing
one by GET. Each answer is checked as curl got it, then each record's
"graphql" object: transport, operation name, variables sent, every operation's
type, name and top-level fields, and the response's "errors" flag.

The npm packages (exact versions in tests/e2e/graphql/package-lock.json) are
installed by this test with `npm ci` into $SONDE_NPM_CACHE (default
~/.cache/sonde-graphql-e2e/<hash of the lock file>), outside the tree, once;
when npm cannot install them the test says SKIP.

Usage: test_graphql_server.py path/to/sonde
Prints PASS/FAIL/SKIP lines; exits non-zero on any FAIL.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from livelib import free_port

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "graphql")
failed = False


def check(name, cond, why=""):
    global failed
    print(("PASS " if cond else "FAIL ") + "graphql-server: " + name + ("" if cond else ": %s" % (why,)))
    failed = failed or not cond


def install():
    """The node_modules directory with graphql and graphql-http, or (None, why)."""
    with open(os.path.join(HERE, "package-lock.json"), "rb") as f:
        key = hashlib.sha256(f.read()).hexdigest()[:16]
    base = os.environ.get("SONDE_NPM_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                             "sonde-graphql-e2e")
    dest = os.path.join(base, key)
    if os.path.isfile(os.path.join(dest, "node_modules", "graphql-http", "package.json")):
        return os.path.join(dest, "node_modules"), None
    os.makedirs(base, exist_ok=True)
    work = tempfile.mkdtemp(prefix="install.", dir=base)
    for f in ("package.json", "package-lock.json"):
        shutil.copy(os.path.join(HERE, f), work)
    try:
        p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=work,
                           capture_output=True, timeout=600)
    except subprocess.TimeoutExpired:
        shutil.rmtree(work, ignore_errors=True)
        return None, "npm ci timed out"
    if p.returncode:
        shutil.rmtree(work, ignore_errors=True)
        err = [l for l in p.stderr.decode(errors="replace").splitlines() if l.startswith("npm error")]
        return None, "npm ci failed: %s" % " / ".join(err[:2] or ["exit %d" % p.returncode])
    try:
        os.rename(work, dest)
    except OSError:  # another run got there first
        shutil.rmtree(work, ignore_errors=True)
    return os.path.join(dest, "node_modules"), None


def curl(url, h2=False, data=None, get=None):
    """curl's answer: (HTTP status, parsed JSON body)."""
    cmd = ["curl", "-s", "-S", "-m", "10", "-H", "Accept: application/json", "-w", "\n%{http_code}"]
    if h2:
        cmd.append("--http2-prior-knowledge")
    if data is not None:
        cmd += ["-H", "Content-Type: application/json", "--data", json.dumps(data)]
    if get is not None:
        cmd += ["-G", "--data-urlencode", "query=" + get]
    out = subprocess.run(cmd + [url], capture_output=True, timeout=20)
    body, _, code = out.stdout.decode().rpartition("\n")
    try:
        return int(code), json.loads(body)
    except ValueError:
        return 0, {"curl": out.stderr.decode()[-200:], "body": body[:200]}


def main():
    sonde = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "./sonde"
    for tool in ("node", "npm", "curl", "tcpdump"):
        if not shutil.which(tool):
            print("SKIP graphql-server: %s is not installed" % tool)
            return 0
    if os.geteuid() != 0:
        print("SKIP graphql-server: tcpdump on loopback needs root")
        return 0
    modules, why = install()
    if not modules:
        print("SKIP graphql-server: the npm packages could not be installed (%s)" % why)
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-gqlsrv.")
    pcap = os.path.join(tmp, "graphql.pcap")
    p1, p2 = free_port(), free_port()
    procs = []
    answers = []
    try:
        td = subprocess.Popen(["tcpdump", "-i", "lo", "-s", "0", "-U", "--immediate-mode", "-w", pcap,
                               "tcp port %d or tcp port %d" % (p1, p2)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(td)
        # tcpdump says "listening on lo, ..." once it captures
        if b"listening on" not in td.stderr.readline():
            check("tcpdump started", False)
            return 1
        env = dict(os.environ, NODE_PATH=modules)
        srv = subprocess.Popen(["node", os.path.join(HERE, "server.js"), str(p1), str(p2)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        procs.append(srv)
        if srv.stdout.readline().strip() != b"ready":
            check("server started", False, srv.stderr.read().decode()[-300:])
            return 1
        u1, u2 = "http://127.0.0.1:%d/graphql" % p1, "http://127.0.0.1:%d/graphql" % p2
        answers.append(curl(u1, data={"query": "query GetUser($id: ID!) { user(id: $id) { name } viewer { id } }",
                                      "operationName": "GetUser", "variables": {"id": "1"}}))
        answers.append(curl(u1, data={"query": "mutation AddUser($n: String!) { addUser(name: $n) { id name } }",
                                      "variables": {"n": "Linus"}}))
        answers.append(curl(u1, get='{ hello(name: "x") }'))
        answers.append(curl(u1, data={"query": "{ boom hello }"}))
        answers.append(curl(u2, h2=True, data={"query": "query GetViewer { viewer { name } }",
                                               "operationName": "GetViewer"}))
        answers.append(curl(u2, h2=True, get="query Boom { boom }"))
        time.sleep(1)  # the last packets reach the file
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
    want_answers = [
        (200, {"data": {"user": {"name": "Ada"}, "viewer": {"id": "1"}}}),
        (200, {"data": {"addUser": {"id": "3", "name": "Linus"}}}),
        (200, {"data": {"hello": "hello x"}}),
        (200, "kaboom", {"boom": None, "hello": "hello world"}),
        (200, {"data": {"viewer": {"name": "Ada"}}}),
        (200, "kaboom", {"boom": None}),
    ]
    ok = len(answers) == len(want_answers)
    for got, want in zip(answers, want_answers):
        if len(want) == 2:
            ok = ok and got == want
        else:
            ok = ok and got[0] == want[0] and got[1].get("data") == want[2] and \
                [e.get("message") for e in got[1].get("errors", [])] == [want[1]]
    check("the server answered every request as expected", ok, answers)
    if not ok:
        print("kept " + tmp)
        return 1

    out = subprocess.run([sonde, "read", "-o", "json", "--stats", pcap], capture_output=True)
    if out.returncode:
        check("sonde read", False, "exit %d: %s" % (out.returncode, out.stderr.decode()[:300]))
        return 1
    recs = [json.loads(l) for l in out.stdout.decode().splitlines()]
    ex = sorted((r for r in recs if r.get("type") == "exchange"), key=lambda r: r["ts"])
    stats = recs[-1]
    check("six exchanges, each paired", len(ex) == 6 and all(r.get("request") and r.get("response")
                                                              and not r["flags"] for r in ex),
          [(r.get("version"), r["flags"]) for r in ex])
    if len(ex) != 6:
        print("kept " + tmp)
        return 1
    check("versions", [r["version"] for r in ex] == ["HTTP/1.1"] * 4 + ["HTTP/2"] * 2,
          [r["version"] for r in ex])
    g = [r["request"].get("graphql") or {} for r in ex]
    e = [r["response"].get("graphql") for r in ex]
    op = lambda t, n, f: {"type": t, "name": n, "fields": f}

    def req(i):
        rs = g[i].get("requests") or [{}]
        return rs[0]

    check("named query with variables (HTTP/1.1 POST)",
          g[0].get("transport") == "json" and g[0].get("batch") is False
          and req(0).get("operation_name") == "GetUser" and req(0).get("variables") is True
          and req(0).get("operations") == [op("query", "GetUser", ["user", "viewer"])], g[0])
    check("named mutation with variables",
          req(1).get("variables") is True and req(1).get("operations") == [op("mutation", "AddUser", ["addUser"])],
          g[1])
    check("anonymous query by GET ?query=",
          g[2].get("transport") == "get" and req(2).get("operations") == [op("query", None, ["hello"])]
          and ex[2]["request"]["method"] == "GET", g[2])
    check("query without variables",
          "variables" not in req(3) or req(3)["variables"] is False, req(3))
    check("resolver error: 200 response flagged errors",
          ex[3]["response"]["status"] == 200 and e[3] == {"errors": True}
          and req(3).get("operations") == [op("query", None, ["boom", "hello"])], (e[3], g[3]))
    check("successful responses not flagged", e[:3] == [{"errors": False}] * 3, e[:3])
    check("HTTP/2: named query by POST",
          req(4).get("operations") == [op("query", "GetViewer", ["viewer"])]
          and req(4).get("operation_name") == "GetViewer" and e[4] == {"errors": False}, (g[4], e[4]))
    check("HTTP/2: failing query by GET, errors flagged",
          g[5].get("transport") == "get" and req(5).get("operations") == [op("query", "Boom", ["boom"])]
          and e[5] == {"errors": True}, (g[5], e[5]))
    check("nothing unparsed", not stats.get("parse_errors") and not stats.get("unparsed_bytes"),
          {k: stats.get(k) for k in ("parse_errors", "unparsed_bytes")})
    if failed:
        print("kept " + tmp)
        return 1
    shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
