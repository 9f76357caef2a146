#!/usr/bin/env python3
"""GraphQL over HTTP/1.1, live: curl posting GraphQL requests to a small
stdlib JSON server on loopback (it answers like a GraphQL endpoint: data, or
errors), captured by `sonde capture`. Checks the record's "graphql" objects.
Usage: test_graphql_live.py path/to/sonde. PASS/FAIL/SKIP lines."""
import json, os, signal, socket, subprocess, sys, tempfile, time

SONDE = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "./sonde"
failed = False


def check(name, cond, why=""):
    global failed
    print(("PASS " if cond else "FAIL ") + "graphql-live: " + name + ("" if cond else ": " + str(why)))
    failed = failed or not cond


SERVER = r'''
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        reqs = body if isinstance(body, list) else [body]
        outs = [{"data": None, "errors": [{"message": "boom"}]} if "fail" in r.get("query", "")
                else {"data": {"ok": True}} for r in reqs]
        b = json.dumps(outs if isinstance(body, list) else outs[0]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
'''


def main():
    if os.geteuid() != 0:
        print("SKIP graphql-live: needs root")
        return 0
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    tmp = tempfile.mkdtemp(prefix="sonde-gql.")
    srv = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    out = os.path.join(tmp, "out.json")
    err = os.path.join(tmp, "err.txt")
    sonde = None
    try:
        time.sleep(0.5)
        sonde = subprocess.Popen([SONDE, "capture", "--port", str(port), "-o", "json"],
                                 stdout=open(out, "w"), stderr=open(err, "w"))
        for _ in range(100):
            if "capturing with" in open(err).read():
                break
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/graphql"

        def post(doc):
            subprocess.run(["curl", "-s", "-o", "/dev/null", "-H", "Content-Type: application/json",
                            "--data", json.dumps(doc), url], check=True)
        post({"query": "query GetUser($id: ID!) { user(id: $id) { name } viewer { id } }",
              "operationName": "GetUser", "variables": {"id": "1"}})
        post({"query": "mutation { fail { id } }"})
        post([{"query": "{ a }"}, {"query": "subscription OnEvent { event { id } }"}])
        time.sleep(0.7)
        sonde.send_signal(signal.SIGINT)
        sonde.wait(timeout=20)
        recs = [json.loads(l) for l in open(out) if l.strip()]
        ex = [r for r in recs if r.get("type") == "exchange"]
        check("three exchanges, paired", len(ex) == 3 and all("response" in r for r in ex), len(ex))
        if len(ex) == 3:
            g = [r["request"].get("graphql") for r in ex]
            check("named query: type, name, top-level fields, variables",
                  g[0] and g[0]["requests"][0]["operations"] ==
                  [{"type": "query", "name": "GetUser", "fields": ["user", "viewer"]}]
                  and g[0]["requests"][0].get("operation_name") == "GetUser", g[0])
            check("mutation recognised", g[1] and g[1]["requests"][0]["operations"][0]["type"] == "mutation", g[1])
            check("batched request: two operations", g[2] and g[2].get("batch") is True
                  and [op["operations"][0]["type"] for op in g[2]["requests"]] == ["query", "subscription"], g[2])
            check("errors flagged in a 200 response", ex[1]["response"].get("graphql") == {"errors": True},
                  ex[1]["response"].get("graphql"))
            check("no errors flagged otherwise", ex[0]["response"].get("graphql") == {"errors": False},
                  ex[0]["response"].get("graphql"))
    finally:
        if sonde and sonde.poll() is None:
            sonde.kill()
        srv.terminate()
    return 1 if failed else 0


sys.exit(main())
