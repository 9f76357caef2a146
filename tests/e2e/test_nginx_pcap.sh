#!/usr/bin/env bash
# Real traffic: curl and a pipelining client against a real nginx on loopback,
# captured by tcpdump, read by sonde; every exchange checked, and the same
# capture's request/response counts checked against tshark's.
set -uo pipefail
SONDE=${1:?usage: test_nginx_pcap.sh path/to/sonde}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
trap e2e_cleanup EXIT

for tool in nginx tcpdump curl tshark; do
	command -v "$tool" >/dev/null || { echo "SKIP nginx-pcap: $tool not installed (run scripts/setup)"; exit 0; }
done
[ "$(id -u)" -eq 0 ] || { echo "SKIP nginx-pcap: needs root for tcpdump"; exit 0; }

PORT=$(e2e_free_port)
e2e_start_nginx "$PORT" || { echo "FAIL nginx-pcap: nginx did not start"; exit 1; }
W=$E2E_DIR/www
echo "hello from nginx" >"$W/index.html"
head -c 5242880 /dev/urandom >"$W/big.bin"
python3 -c 'print("line of compressible text\n" * 4000, end="")' >"$W/text.txt"
head -c 2000000 /dev/urandom >"$E2E_DIR/upload.bin"

PCAP=$E2E_DIR/capture.pcap
e2e_start_tcpdump "$PORT" "$PCAP" || { echo "FAIL nginx-pcap: tcpdump did not start"; exit 1; }

B=http://127.0.0.1:$PORT
# 1. keep-alive: three requests on one connection
curl -s -o /dev/null -o /dev/null -o /dev/null "$B/index.html" "$B/missing" "$B/index.html?x=1"
# 2. HEAD, 204, 201 on POST
curl -s -o /dev/null -I "$B/index.html"
curl -s -o /dev/null "$B/nothing"
curl -s -o /dev/null -X POST --data 'a=1&b=2' "$B/created"
# 3. a 5 MB response: true size recorded, body kept only to the limit
curl -s -o /dev/null "$B/big.bin"
# 4. gzip + chunked response
curl -s -o /dev/null -H 'Accept-Encoding: gzip' "$B/text.txt"
# 5. 100-continue: a 2 MB PUT to a WebDAV location (nginx reads the body, so it sends 100 first)
curl -s -o /dev/null -H 'Expect: 100-continue' -T "$E2E_DIR/upload.bin" "$B/upload/file.bin"
# 6. IPv6
curl -s -o /dev/null -g "http://[::1]:$PORT/index.html"
# 7. pipelining: three requests in one write
python3 - "$PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
req = b"".join(b"GET /index.html?p=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(3))
s.sendall(req)
data = b""
deadline = time.time() + 5
while data.count(b"HTTP/1.1 200") < 3 and time.time() < deadline:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
s.close()
PY
e2e_stop_tcpdump || { echo "FAIL nginx-pcap: tcpdump dropped packets; the capture is incomplete"; exit 1; }

OUT=$E2E_DIR/records.json
"$SONDE" read -o json --stats "$PCAP" >"$OUT" 2>"$E2E_DIR/sonde.stderr"
rc=$?
[ $rc -eq 0 ] && echo "PASS nginx-pcap: sonde read exit 0" || { echo "FAIL nginx-pcap: sonde read exit $rc: $(cat "$E2E_DIR/sonde.stderr")"; }

python3 - "$OUT" "$PCAP" <<'PY'
import json, subprocess, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
ex = [r for r in recs if r["type"] == "exchange"]
stats = [r for r in recs if r["type"] == "stats"]
ok = True
def check(name, cond, why=""):
    global ok
    print(("PASS " if cond else "FAIL ") + "nginx-pcap: " + name + ("" if cond else ": " + why))
    ok = ok and cond

def find(method, target, ip="127.0.0.1"):
    return [r for r in ex if r.get("request", {}).get("method") == method
            and r["request"].get("target") == target and r["conn"]["client"]["ip"] == ip]

check("stats record written last", len(stats) == 1 and recs[-1]["type"] == "stats")
check("every exchange paired", all("request" in r and "response" in r for r in ex),
      str([r.get("flags") for r in ex if not ("request" in r and "response" in r)]))
check("no gaps or parse errors", all(not r["flags"] or set(r["flags"]) <= {"response_truncated", "request_truncated"} for r in ex),
      str([r["flags"] for r in ex if r["flags"]]))

exp = [("GET", "/index.html", 200), ("GET", "/missing", 404), ("GET", "/index.html?x=1", 200),
       ("HEAD", "/index.html", 200), ("GET", "/nothing", 204), ("POST", "/created", 201),
       ("GET", "/big.bin", 200), ("GET", "/text.txt", 200)]
for m, t, s in exp:
    got = find(m, t)
    check(f"{m} {t} seen once", len(got) == 1, f"found {len(got)}")
    if got:
        check(f"{m} {t} status {s}", got[0]["response"]["status"] == s, str(got[0]["response"]["status"]))

ka = find("GET", "/index.html") + find("GET", "/missing") + find("GET", "/index.html?x=1")
ka = [r for r in ka if r["conn"]["client"]["ip"] == "127.0.0.1"]
check("keep-alive requests share one connection",
      len({r["conn"]["id"] for r in ka if r["request"]["target"] in ("/missing", "/index.html?x=1")}) == 1)

head = find("HEAD", "/index.html")
if head:
    b = head[0]["response"]["body"]
    check("HEAD response has no body", b["size"] == 0, str(b))
big = find("GET", "/big.bin")
if big:
    b = big[0]["response"]["body"]
    check("5 MB body: true size recorded", b["size"] == 5242880, str(b["size"]))
    check("5 MB body: kept only to 64 KiB", b["captured"] == 65536, str(b["captured"]))
    check("5 MB body: flagged truncated", "response_truncated" in big[0]["flags"], str(big[0]["flags"]))
    check("5 MB body: latency plausible",
          0 <= big[0]["latency_us"]["first_byte"] <= big[0]["latency_us"]["last_byte"] < 10e6,
          str(big[0]["latency_us"]))
gz = find("GET", "/text.txt")
if gz:
    r = gz[0]["response"]
    hdrs = {k.lower(): v for k, v in r["headers"]}
    check("gzip response is chunked", hdrs.get("transfer-encoding") == "chunked", str(hdrs))
    check("gzip response: content_encoding", r["body"].get("content_encoding") == "gzip", str(r["body"]))
post = find("POST", "/created")
if post:
    check("POST body captured", post[0]["request"]["body"].get("data") == "a=1&b=2", str(post[0]["request"]["body"]))
cont = find("PUT", "/upload/file.bin")
check("100-continue: one PUT", len(cont) == 1, str(len(cont)))
if cont:
    check("100-continue: final status 201", cont[0]["response"]["status"] == 201, str(cont[0]["response"]["status"]))
cont = [r for r in cont if r["response"].get("interim") == [100]]
check("100-continue: interim 100 folded into the final response", len(cont) == 1, str(len(cont)))
if cont:
    check("100-continue: request body size", cont[0]["request"]["body"]["size"] == 2000000,
          str(cont[0]["request"]["body"]["size"]))
v6 = [r for r in ex if r["conn"]["client"]["ip"] == "::1"]
check("IPv6 exchange seen", len(v6) == 1 and v6[0]["response"]["status"] == 200, str(len(v6)))
pipe = [r for r in ex if r.get("request", {}).get("target", "").startswith("/index.html?p=")]
check("pipelined requests: 3 on one connection, in order",
      [r["request"]["target"] for r in pipe] == ["/index.html?p=%d" % i for i in range(3)]
      and len({r["conn"]["id"] for r in pipe}) == 1, str([r["request"]["target"] for r in pipe]))

# Same capture through tshark: as many requests and responses (tshark lists 1xx too).
t = subprocess.run(["tshark", "-r", sys.argv[2], "-Y", "http", "-T", "fields",
                    "-e", "http.request.method", "-e", "http.response.code",
                    "-e", "tcp.stream", "-e", "http.request.uri"],
                   capture_output=True, text=True).stdout.splitlines()
# Several messages in one frame come out comma-separated on one line.
cols = [l.split("\t") + ["", "", ""] for l in t]
t_req = sum(len(c[0].split(",")) for c in cols if c[0])
t_resp = sum(len(c[1].split(",")) for c in cols if c[1])
# Where sonde is right and tshark is not: tshark sometimes does not finish
# reassembling the 5 MB response (no status on that stream), sonde does.
big = {c[2] for c in cols if c[3] == "/big.bin"}
if big and not any(c[1] and c[2] in big for c in cols) and find("GET", "/big.bin"):
    print("NOTE nginx-pcap: tshark did not reassemble the 5 MB response; sonde did: counted for tshark")
    t_resp += 1
s_req = sum(1 for r in ex if "request" in r)
s_resp = sum(1 for r in ex if "response" in r) + sum(len(r["response"].get("interim", [])) for r in ex if "response" in r)
check("request count equals tshark's", s_req == t_req, f"sonde {s_req}, tshark {t_req}")
check("response count equals tshark's (1xx included)", s_resp == t_resp, f"sonde {s_resp}, tshark {t_resp}")
sys.exit(0 if ok else 1)
PY
