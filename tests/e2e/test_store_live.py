#!/usr/bin/env python3
"""Live traffic into the store: a real HTTP server (Python's http.server on
loopback) and real curl requests, seen by `sonde capture --port P --store
DIR` (eBPF); then `sonde query` must find exactly the records the capture
wrote on stdout (byte-identical), a filter on the status exactly the error
ones, and --top status must count both. Needs root.

Usage: test_store_live.py [path/to/sonde]
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import livelib  # noqa: E402

N_OK, N_404 = 30, 7


def main():
    sonde, dry, keep, _ = livelib.parse_args(sys.argv[1:])
    R = livelib.Report("store-live")
    if os.geteuid() != 0:
        R.skip("needs root (eBPF)")
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-store-live.")
    store = os.path.join(tmp, "store")
    www = os.path.join(tmp, "www")
    os.makedirs(www)
    with open(os.path.join(www, "ok.txt"), "w") as f:
        f.write("hello\n")
    port = livelib.free_port()
    try:
        srv = livelib.Child(["/usr/bin/python3", "-m", "http.server", str(port), "--bind",
                             "127.0.0.1", "--directory", www], name="http.server")
        livelib.wait_port(port)
        run = livelib.SondeRun(sonde, tmp, "store", ["--port", str(port), "--store", store], R)
        if not run.ok:
            return 1
        base = f"http://127.0.0.1:{port}"
        for i in range(N_OK):
            subprocess.run(["curl", "-s", "-o", "/dev/null", f"{base}/ok.txt?i={i}"], check=True)
        for i in range(N_404):
            subprocess.run(["curl", "-s", "-o", "/dev/null", f"{base}/missing/{i}"], check=True)
        rc, recs = run.stop()
        srv.proc.terminate()
        with open(run.out) as f:
            lines = [x for x in f if '"type":"stats"' not in x]  # exchanges and connections
        stats = next((r for r in recs if r.get("type") == "stats"), {})
        n_ex = sum('"type":"exchange"' in x for x in lines)
        n_conn = sum('"type":"connection"' in x for x in lines)
        R.check(f"capture saw the {N_OK + N_404} exchanges, and their connections' records",
                rc == 0 and n_ex == N_OK + N_404 and n_conn == N_OK + N_404 and len(lines) == n_ex + n_conn,
                f"rc {rc}, {n_ex} exchanges, {n_conn} connections, {len(lines)} records")
        R.check("the store kept them all (store_records)",
                stats.get("store_records") == len(lines) and not stats.get("store_queue_drops"),
                stats)
        q = subprocess.run([sonde, "query", "--store", store, "-o", "json"], capture_output=True,
                           text=True)
        got = q.stdout.splitlines(keepends=True)
        R.check("sonde query: exactly the records capture wrote, byte-identical",
                q.returncode == 0 and sorted(got) == sorted(lines),
                f"{len(got)} vs {len(lines)}: {q.stderr.strip()}")
        q = subprocess.run([sonde, "query", "--store", store, "-o", "json",
                            f'conn.server.port == {port} && response.status == 404'],
                           capture_output=True, text=True)
        got = [json.loads(x) for x in q.stdout.splitlines()]
        R.check(f"a filter finds the {N_404} 404s",
                len(got) == N_404 and all(r["request"]["target"].startswith("/missing/") for r in got),
                f"{len(got)}: {q.stderr.strip()}")
        q = subprocess.run([sonde, "query", "--store", store, "--top", "status", "-o", "json",
                            'type == "exchange"'], capture_output=True, text=True)
        top = {t["status"]: t["records"] for t in map(json.loads, q.stdout.splitlines())}
        R.check("--top status counts 200s and 404s", top == {"200": N_OK, "404": N_404}, top)
    finally:
        livelib.kill_children()
        livelib.kill_sondes()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
