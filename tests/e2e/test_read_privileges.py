#!/usr/bin/env python3
"""`sonde read` and `sonde query` parse files anyone may have written, and
keep no privilege while they do (docs/security.md, "Privileges").

Run as root, each is watched through /proc while it works on an input that
comes slowly (a pipe held open, a store followed):

* `sonde read -` of a corpus capture trickled through a pipe, with --store
  (whose writer is a thread): every thread's effective, permitted,
  inheritable, ambient and bounding sets are empty, no_new_privs is set and
  a seccomp filter installed; once the pipe closes, the records are the same
  as `sonde read FILE` gives.
* `sonde read -w` into a directory only root may enter still records (file
  permissions, no capability).
* `sonde query --follow` of that store: the same, and it writes the stored
  records.
* As nobody (no capability to drop, no bounding set it may change) `sonde
  read` still works, with no_new_privs and the filter.

Usage: test_read_privileges.py [path/to/sonde]. PASS/FAIL/SKIP/INFO lines."""
import glob
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from livelib import Report, parse_args  # noqa: E402

R = Report("read_privileges")
SETS = ("CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd")


def status(pid, task):
    out = {}
    with open(f"/proc/{pid}/task/{task}/status") as f:
        for ln in f:
            k, _, v = ln.partition(":")
            out[k] = v.strip()
    return out


def watch(pid, settle=1.0):
    """Every thread's status, once the process has had time to start up
    (and to drop): {tid: status}."""
    time.sleep(settle)
    got = {}
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            got[t] = status(pid, t)
        except OSError:
            pass  # a thread that ended meanwhile
    return got


def unprivileged(tasks, bounding=True):
    """Threads that hold a capability or run unfiltered."""
    bad = {}
    for t, st in tasks.items():
        held = {k: st.get(k) for k in SETS if (k != "CapBnd" or bounding) and int(st.get(k, "1"), 16)}
        if held or st.get("NoNewPrivs") != "1" or st.get("Seccomp") != "2":
            bad[t] = (held, st.get("NoNewPrivs"), st.get("Seccomp"))
    return bad


def records(text):
    """(protocol, request target or command, status) of each exchange: what
    two reads of the same capture must agree on."""
    out = []
    for ln in text.splitlines():
        try:
            r = json.loads(ln)
        except ValueError:
            continue
        if r.get("type") == "exchange":
            req, resp = r.get("request") or {}, r.get("response") or {}
            out.append((r.get("protocol"), req.get("target") or req.get("command"), resp.get("status")))
    return out


def capture_file():
    corpus = os.environ.get("SONDE_CORPUS", os.path.join(os.path.dirname(__file__), "../../../shared/corpus"))
    for name in ("http1/zeek-methods.pcap", "http1/ndpi-http_ua_splitted_in_two_pkts.pcapng"):
        p = os.path.join(corpus, name)
        if os.path.exists(p):
            return p
    found = sorted(glob.glob(os.path.join(corpus, "http1", "*.pcap*")))
    return found[0] if found else None


def read_slow_pipe(sonde, tmp, cap):
    """sonde read - on a pipe that stays open, with a store: watched while it waits."""
    want = records(subprocess.run([sonde, "read", "-o", "json", cap], capture_output=True, text=True,
                                  timeout=60).stdout)
    R.check("the capture gives records read from its file", len(want) >= 1, cap)
    store = os.path.join(tmp, "store")
    p = subprocess.Popen([sonde, "read", "-o", "json", "--store", store, "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with open(cap, "rb") as f:
        data = f.read()
    half = len(data) // 2
    p.stdin.write(data[:half])  # it parses the first half, then waits for the rest
    p.stdin.flush()
    tasks = watch(p.pid)
    bad = unprivileged(tasks)
    R.check(f"sonde read of a pipe: every thread ({len(tasks)}) holds no capability "
            "(effective, permitted, inheritable, ambient, bounding), no_new_privs, seccomp",
            tasks and not bad, bad)
    R.check("sonde read with --store runs its writer thread too (the check saw more than one thread)",
            len(tasks) >= 2, len(tasks))
    out, err = p.communicate(data[half:], timeout=60)
    R.check("sonde read of the pipe exits 0", p.returncode == 0, err.decode()[-600:])
    got = records(out.decode())
    R.check(f"without privileges, the same {len(want)} exchanges as from the file", got == want,
            (len(got), len(want), got[:3], want[:3]))
    return store, len(want)


def read_w_root_dir(sonde, tmp, cap):
    d = os.path.join(tmp, "rootonly")
    os.mkdir(d, 0o700)
    out = os.path.join(d, "again.pcapng")
    p = subprocess.run([sonde, "read", "-q", "-w", out, "-o", "json", cap], capture_output=True, text=True,
                       timeout=60)
    size = os.path.getsize(out) if os.path.exists(out) else 0
    R.check("sonde read -w into a 0700 root directory writes the recording (no capability needed)",
            p.returncode == 0 and size > 0, (p.returncode, size, p.stderr[-400:]))


def query_follow(sonde, store, n):
    p = subprocess.Popen([sonde, "query", "--store", store, "-o", "json", "--follow"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        tasks = watch(p.pid, settle=1.5)
        bad = unprivileged(tasks)
        R.check(f"sonde query --follow: every thread ({len(tasks)}) holds no capability, no_new_privs, seccomp",
                tasks and not bad, bad)
        # --follow never ends by itself: stop it once the stored records
        # are out (or after 20 s), not at a fixed time, which a loaded
        # machine can outrun.
        out = b""
        deadline = time.time() + 20
        while time.time() < deadline and out.count(b'"type":"exchange"') < n:
            ready, _, _ = select.select([p.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(p.stdout.fileno(), 1 << 16)
                if not chunk:
                    break
                out += chunk
    finally:
        p.terminate()
    rest, err = p.communicate(timeout=30)
    got = records((out + rest).decode())
    R.check(f"sonde query without privileges writes the {n} stored exchanges", len(got) == n,
            (len(got), err.decode()[-400:]))


def read_as_nobody(sonde, tmp, cap):
    if not shutil.which("setpriv"):
        R.skip("setpriv not installed: the run as nobody")
        return
    p = subprocess.Popen(["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups", "--",
                          sonde, "read", "-o", "json", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    with open(cap, "rb") as f:
        data = f.read()
    p.stdin.write(data[:len(data) // 2])
    p.stdin.flush()
    tasks = watch(p.pid)
    # nobody may not change its bounding set (no CAP_SETPCAP): only the rest
    bad = unprivileged(tasks, bounding=False)
    R.check("as nobody: no capability, no_new_privs and the seccomp filter", tasks and not bad, bad)
    out, err = p.communicate(data[len(data) // 2:], timeout=60)
    R.check("as nobody: sonde read exits 0 and records", p.returncode == 0 and records(out.decode()),
            err.decode()[-400:])


def main():
    sonde, _, keep, _ = parse_args(sys.argv[1:])
    if os.geteuid() != 0:
        R.skip("needs root (the capabilities to drop)")
        return 0
    cap = capture_file()
    if not cap:
        R.skip("no HTTP/1 capture in the corpus")
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-readprivs-")
    try:
        store, n = read_slow_pipe(sonde, tmp, cap)
        read_w_root_dir(sonde, tmp, cap)
        query_follow(sonde, store, n)
        read_as_nobody(sonde, tmp, cap)
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
