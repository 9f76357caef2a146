#!/usr/bin/env python3
"""Least privilege and the audit log, live (docs/security.md).

* By default, once started, `sonde capture` keeps only the capabilities its
  live work needs (TLS probing: cap_bpf, cap_perfmon, cap_sys_admin,
  cap_sys_ptrace, cap_dac_read_search), in its effective, permitted and
  bounding sets, in every thread; no_new_privs is set and a seccomp filter
  is installed (/proc/PID/status). A TLS library first mapped after the drop
  (a copy of libssl that curl loads through LD_LIBRARY_PATH) is still probed
  and its plaintext recorded; `-v` says what was kept.
* --keep-privileges keeps everything; --user nobody runs as nobody and
  still records; --user with --target is refused.
* The audit log: start (who, the command line with --redact-key's value
  masked, sources, filters, TLS probing, redaction, sinks), each TLS probe,
  stop (reason, counts); the file is 0640; a file others may write is
  refused.
* Run by a non-root user holding exactly the documented capabilities
  (capsh, ambient), sonde probes TLS and records.

Usage: test_privileges.py [path/to/sonde]. PASS/FAIL/SKIP/INFO lines."""
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

R = Report("privileges")
CAP = {"cap_dac_read_search": 2, "cap_sys_ptrace": 19, "cap_sys_admin": 21, "cap_perfmon": 38,
       "cap_bpf": 39}
TLS_SET = sum(1 << b for b in CAP.values())
NO_TLS_SET = (1 << 2) | (1 << 19) | (1 << 39)  # enrichment and the maps
KEY = "sekret-key-123"


def status(pid, task=None):
    path = f"/proc/{pid}/task/{task}/status" if task else f"/proc/{pid}/status"
    out = {}
    with open(path) as f:
        for ln in f:
            k, _, v = ln.partition(":")
            out[k] = v.strip()
    return out


def caps(st, key):
    return int(st.get(key, "0"), 16)


def audit_events(path):
    evs = []
    with open(path) as f:
        for ln in f:
            evs.append(json.loads(ln))
    return evs


def tls_server(tmp):
    key, crt = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                    "-keyout", key, "-out", crt, "-days", "1"], check=True, capture_output=True)
    port = free_port()
    srv = Child(["openssl", "s_server", "-www", "-accept", str(port), "-cert", crt, "-key", key],
                name="s_server")
    return srv, port if wait_port(port) else None


def private_libssl(tmp):
    """A copy of libssl and libcrypto in a directory of its own: a TLS
    library no process maps before curl does."""
    d = os.path.join(tmp, "privlib")
    os.makedirs(d)
    for lib in ("libssl.so.3", "libcrypto.so.3"):
        shutil.copy(os.path.join("/usr/lib/x86_64-linux-gnu", lib), d)
    return d


def default_drop(sonde, tmp, dry):
    srv, port = tls_server(tmp)
    if not port:
        R.check("openssl s_server up", False, srv.stderr())
        return
    audit = os.path.join(tmp, "audit", "audit.log")
    run = SondeRun(sonde, tmp, "default", ["-v", "--port", str(port), "--audit-log", audit,
                                          "--redact-key", KEY], R, dry=dry)
    if dry or not run.ok:
        return
    run.wait_stderr("capabilities:", 10)
    st = status(run.proc.pid)
    R.check("effective, permitted and bounding sets are what TLS probing needs",
            caps(st, "CapEff") == TLS_SET and caps(st, "CapPrm") == TLS_SET
            and caps(st, "CapBnd") == TLS_SET and caps(st, "CapInh") == 0 and caps(st, "CapAmb") == 0,
            {k: st.get(k) for k in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb")})
    R.check("no_new_privs set and a seccomp filter installed",
            st.get("NoNewPrivs") == "1" and st.get("Seccomp") == "2", (st.get("NoNewPrivs"), st.get("Seccomp")))
    tasks = os.listdir(f"/proc/{run.proc.pid}/task")
    over = [t for t in tasks if caps(status(run.proc.pid, t), "CapEff") & ~TLS_SET
            or status(run.proc.pid, t).get("Seccomp") != "2"]
    R.check(f"every thread ({len(tasks)}) holds no more and is filtered", not over and len(tasks) >= 1, over)
    R.check("-v names the capabilities kept",
            "cap_dac_read_search,cap_sys_ptrace,cap_sys_admin,cap_perfmon,cap_bpf kept" in run.stderr(),
            run.stderr()[-600:])
    libdir = private_libssl(tmp)
    env = dict(os.environ, LD_LIBRARY_PATH=libdir)
    for i in range(3):  # the first call maps the library; sonde probes it moments later
        subprocess.run(["curl", "-sk", "-o", "/dev/null", f"https://127.0.0.1:{port}/after-drop-{i}"],
                       env=env, timeout=20)
        time.sleep(1.0)
    rc, recs = run.stop()
    R.check("sonde stopped cleanly", rc == 0, run.stderr()[-1500:])
    got = [r for r in recs if r.get("type") == "exchange"
           and (r.get("request") or {}).get("target", "").startswith("/after-drop-")]
    R.check("a TLS library mapped after the drop is probed: its plaintext recorded",
            any(r.get("capture", {}).get("tls") or "tls" in json.dumps(r.get("capture", {})) for r in got)
            and len(got) >= 1, [r.get("request", {}).get("target") for r in got])
    if not os.path.exists(audit):
        R.check("the audit log was written", False, audit)
        return
    mode = os.stat(audit).st_mode & 0o777
    R.check("the audit log is 0640", mode == 0o640, oct(mode))
    with open(audit) as f:
        raw = f.read()
    evs = audit_events(audit)
    start = [e for e in evs if e["event"] == "start"]
    probes = [e for e in evs if e["event"] == "tls_probe"]
    stop = [e for e in evs if e["event"] == "stop"]
    s = start[0] if start else {}
    R.check("audit start: who, command line, source, filters, TLS probing, redaction, sinks",
            len(start) == 1 and s.get("uid") == 0 and s.get("user") == "root" and s.get("source") == "ebpf"
            and s["filters"]["ports"] == [port] and s.get("tls_probing") is True and s.get("redaction") is True
            and s["sinks"]["records"] == "json" and "--audit-log" in s.get("cmdline", ""), s)
    R.check("audit: --redact-key's value is masked", KEY not in raw and "--redact-key ****" in raw,
            s.get("cmdline"))
    R.check("audit: the library first mapped after the drop has its tls_probe event",
            any(e.get("path", "").startswith(libdir) for e in probes), [e.get("path") for e in probes])
    R.check("audit stop: reason signal, exit status 0, the records counted",
            len(stop) == 1 and stop[0]["reason"] == "signal" and stop[0]["exit_status"] == 0
            and stop[0]["captured"]["records"] >= 1, stop[:1])


def keep_and_user(sonde, tmp, dry):
    port = free_port()
    srv = Child(["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", str(port)], name="http",
                cwd=tmp)
    if not wait_port(port):
        R.check("http.server up", False, srv.stderr())
        return
    run = SondeRun(sonde, tmp, "keep", ["--keep-privileges", "--port", str(port), "--audit-log", "none"], R,
                   dry=dry)
    if not dry and run.ok:
        st = status(run.proc.pid)
        R.check("--keep-privileges: every capability kept, no seccomp filter",
                caps(st, "CapEff") & TLS_SET == TLS_SET and caps(st, "CapEff") & (1 << 12)
                and st.get("Seccomp") == "0", (st.get("CapEff"), st.get("Seccomp")))
        run.stop()
    run = SondeRun(sonde, tmp, "user", ["--user", "nobody", "--no-tls", "--port", str(port),
                                       "--audit-log", "none"], R, dry=dry)
    if dry or not run.ok:
        return
    st = status(run.proc.pid)
    R.check("--user nobody: runs as nobody, with what enrichment and the maps need",
            st["Uid"].split()[:2] == ["65534", "65534"] and caps(st, "CapEff") == NO_TLS_SET,
            (st.get("Uid"), st.get("CapEff")))
    subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/as-nobody"], timeout=20)
    rc, recs = run.stop()
    R.check("--user nobody: the exchange is recorded",
            rc == 0 and any((r.get("request") or {}).get("target") == "/as-nobody" for r in recs),
            run.stderr()[-800:])
    p = subprocess.run([sonde, "capture", "--user", "nobody", "--target", "all", "--duration", "1"],
                       capture_output=True, text=True, timeout=30)
    R.check("--user with --target is refused (exit 2, says why)",
            p.returncode == 2 and "--user and --target" in p.stderr, (p.returncode, p.stderr[-300:]))


def audit_refused(sonde, tmp):
    path = os.path.join(tmp, "open.log")
    with open(path, "w"):
        pass
    os.chmod(path, 0o666)
    p = subprocess.run([sonde, "capture", "--audit-log", path, "--duration", "1", "-o", "json"],
                       capture_output=True, text=True, timeout=60)
    R.check("an audit log others may write is refused (exit 1, says why)",
            p.returncode == 1 and "writable by others" in p.stderr, (p.returncode, p.stderr[-300:]))


def documented_set(sonde, tmp, dry):
    if not shutil.which("capsh"):
        R.skip("capsh not installed (libcap2-bin)")
        return
    port = free_port()
    srv = Child(["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", str(port)], name="http2",
                cwd=tmp)
    if not wait_port(port) or dry:
        return
    want = ",".join(CAP)
    out = os.path.join(tmp, "capsh.json")
    # nobody gets exactly the documented set, as ambient capabilities
    cmd = f"exec {sonde} capture --stats --port {port} --duration 8 --audit-log none -o json"
    with open(out, "w") as o:  # opened here: nobody may not create files in tmp
        cap = subprocess.Popen(["capsh", f"--caps={want},cap_setuid,cap_setgid,cap_setpcap+eip",
                                "--keep=1", "--user=nobody", f"--inh={want}", f"--addamb={want}", "--",
                                "-c", cmd], stdout=o, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    time.sleep(5)
    subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/capsh"], timeout=20)
    try:
        _, err = cap.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(cap.pid, 9)
        _, err = cap.communicate()
    recs = []
    stats = {}
    with open(out) as f:
        for ln in f:
            o = json.loads(ln)
            if o.get("type") == "stats":
                stats = o
            recs.append(o)
    R.check("as nobody with exactly " + want + ": TLS libraries probed, none failed",
            stats.get("tls_libraries", 0) >= 1 and stats.get("tls_attach_failures", 1) == 0,
            (stats.get("tls_libraries"), stats.get("tls_attach_failures"), err[-800:]))
    R.check("as nobody with the documented set: the exchange recorded",
            any((r.get("request") or {}).get("target") == "/capsh" for r in recs), err[-800:])


def main():
    sonde, dry, keep, _ = parse_args(sys.argv[1:])
    if os.geteuid() != 0:
        R.skip("needs root")
        return 0
    for tool in ("curl", "openssl"):
        if not shutil.which(tool):
            R.skip(f"{tool} not installed")
            return 0
    tmp = tempfile.mkdtemp(prefix="sonde-privs-")
    os.chmod(tmp, 0o755)
    try:
        default_drop(sonde, tmp, dry)
        keep_and_user(sonde, tmp, dry)
        audit_refused(sonde, tmp)
        documented_set(sonde, tmp, dry)
    finally:
        kill_sondes()
        kill_children()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
