#!/usr/bin/env python3
"""Who is talking, live: `sonde capture --port P` while a real HTTP server
(Python) and curl run as separate processes on loopback. The records name
both ends' processes (pid, exe, cmdline, user, start time), the traced one
in the record's "process" too; --no-enrich leaves them out. A traced pid
that execs another binary under the same comm is named anew after the
exec (the exec event, not /proc's comm, tells). With podman
working here, the server also runs in a podman container carrying a
kubelet's pod annotations, and its records name the container and pod.
Usage: test_enrich_live.py [path/to/sonde]. PASS/FAIL/SKIP/INFO lines."""
import json, os, shutil, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from livelib import Report, Child, SondeRun, free_port, wait_port, kill_children, kill_sondes, parse_args

R = Report("enrich-live")

SERVER = r'''
import http.server, sys, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if self.path == "/slow":
            time.sleep(1.5)  # keeps curl (and its socket) alive past the first record
        b = b"hello\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
'''


def exchanges(recs, path=None):
    return [r for r in recs if r.get("type") == "exchange" and
            (path is None or (r.get("request") or {}).get("target") == path)]


def nudge(port):
    """Connect and close once: a control event, which wakes sonde's reader
    of the ring buffer. Data events alone wake it only past a threshold
    (bpf/lib/emit.h rb_flags) and its timed poll does not consume without
    a wakeup, so without this the records of a quiet connection wait for
    its close, when its sockets and short-lived processes are gone."""
    time.sleep(0.4)
    socket.create_connection(("127.0.0.1", port), timeout=2).close()


def processes(sonde, tmp, dry):
    port = free_port()
    script = os.path.join(tmp, "srv.py")
    with open(script, "w") as f:
        f.write(SERVER)
    srv = Child(["/usr/bin/python3", script, str(port)], name="server")
    if not wait_port(port):
        R.check("server up", False, srv.stderr())
        return
    run = SondeRun(sonde, tmp, "procs", ["--port", str(port), "--no-tls"], R, dry=dry)
    if not run.ok:
        return
    curl = Child(["curl", "-s", f"http://127.0.0.1:{port}/a", f"http://127.0.0.1:{port}/slow"], name="curl")
    nudge(port)  # while curl waits for /slow
    curl.wait(timeout=20)
    rc, recs = run.stop()
    R.check("sonde exit status 0", rc == 0, run.stderr()[-1000:])
    ex = exchanges(recs, "/a")
    if not R.check("the /a exchange recorded", len(ex) == 1, [r.get("type") for r in recs]):
        return
    r = ex[0]
    cli = r["conn"]["client"].get("process", {})
    sv = r["conn"]["server"].get("process", {})
    curl_exe = os.path.realpath(shutil.which("curl"))
    py_exe = os.path.realpath("/usr/bin/python3")
    R.check("client end: curl's pid, exe and command line",
            cli.get("pid") == curl.pid and cli.get("exe") == curl_exe and
            cli.get("cmdline") == f"curl -s http://127.0.0.1:{port}/a http://127.0.0.1:{port}/slow", cli)
    R.check("server end: the Python server's pid, exe and command line",
            sv.get("pid") == srv.pid and sv.get("exe") == py_exe and
            sv.get("cmdline") == f"/usr/bin/python3 {script} {port}", sv)
    R.check("both ends: uid, user, start time, cgroup",
            all(p.get("uid") == os.geteuid() and p.get("user") and p.get("start_time", "").endswith("Z")
                and p.get("cgroup") for p in (cli, sv)), (cli, sv))
    top = r.get("process", {})
    traced = cli if top.get("pid") == cli.get("pid") else sv
    R.check("record's process: pid, comm, cgroup_id kept; exe, cmdline added",
            {"pid", "comm", "cgroup_id"} <= set(top) and top.get("exe") == traced.get("exe") and
            top.get("cmdline") == traced.get("cmdline"), top)
    # Both curl and the server call from their main thread.
    R.check("record's process: the tid of the call (the main thread's: the pid)",
            top.get("tid") == top.get("pid"), top)
    R.check("no container for host processes",
            "container" not in r["conn"]["client"] and "container" not in r["conn"]["server"], r["conn"])
    slow = exchanges(recs, "/slow")
    R.check("a later record of the connection carries the same ends",
            len(slow) == 1 and slow[0]["conn"]["client"].get("process") == cli, slow)
    st = [x for x in recs if x.get("type") == "stats"]
    if R.check("stats record", len(st) == 1):
        s = st[0]
        R.info(f"enrich_process_lookups={s['enrich_process_lookups']} failures={s['enrich_process_failures']}")
        R.check("one lookup per process end, none failed",
                s["enrich_process_lookups"] >= 2 and s["enrich_process_failures"] == 0, s)

    run2 = SondeRun(sonde, tmp, "noenrich", ["--port", str(port), "--no-tls", "--no-enrich"], R, dry=dry)
    if not run2.ok:
        return
    Child(["curl", "-s", f"http://127.0.0.1:{port}/a"], name="curl2").wait(timeout=20)
    rc, recs = run2.stop()
    ex = exchanges(recs, "/a")
    R.check("--no-enrich: records as before (no per-end process, no exe)",
            len(ex) == 1 and "process" not in ex[0]["conn"]["client"] and
            "exe" not in ex[0].get("process", {}), ex)


EXEC_CLIENT = r'''
import http.client, os, sys, time
port, step, alt = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
c.request("GET", "/" + step)
c.getresponse().read()
time.sleep(0.6)  # sonde reads the open event while this program still runs
c.close()
if step == "before":
    # The same pid runs another binary under the same comm ("python3"):
    # only the exec event tells the cache its exe and command line changed.
    os.execv(alt, ["python3", sys.argv[0], str(port), "after", alt])
'''


def exec_under_pid(sonde, tmp, dry):
    """A traced pid execs a new binary (a copy of python3: same comm): its
    connection after the exec names the new exe and command line, the one
    before the old; the pid is the same."""
    port = free_port()
    script = os.path.join(tmp, "srv.py")
    with open(script, "w") as f:
        f.write(SERVER)
    srv = Child(["/usr/bin/python3", script, str(port)], name="server-exec")
    if not wait_port(port):
        R.check("exec: server up", False, srv.stderr())
        return
    alt_dir = os.path.join(tmp, "alt")
    os.makedirs(alt_dir)
    alt = os.path.join(alt_dir, "python3")
    shutil.copy(os.path.realpath("/usr/bin/python3"), alt)
    cli = os.path.join(tmp, "exec_client.py")
    with open(cli, "w") as f:
        f.write(EXEC_CLIENT)
    run = SondeRun(sonde, tmp, "exec", ["--port", str(port), "--no-tls"], R, dry=dry)
    if not run.ok:
        return
    p = Child(["/usr/bin/python3", cli, str(port), "before", alt], name="exec-client")
    p.wait(timeout=30)
    nudge(port)
    rc, recs = run.stop()
    ends = {}
    for step in ("before", "after"):
        ex = exchanges(recs, "/" + step)
        ends[step] = ex[0]["conn"]["client"].get("process", {}) if len(ex) == 1 else {}
    b, a = ends["before"], ends["after"]
    R.check("exec: both exchanges recorded, one pid", b.get("pid") == a.get("pid") == p.pid, ends)
    R.check("exec: before the exec: the old binary and command line",
            b.get("exe") == os.path.realpath("/usr/bin/python3") and
            b.get("cmdline") == f"/usr/bin/python3 {cli} {port} before {alt}", b)
    R.check("exec: after the exec: the new binary and command line, the same comm",
            a.get("exe") == alt and a.get("cmdline") == f"python3 {cli} {port} after {alt}" and
            a.get("comm") == b.get("comm") == "python3", a)
    st = [x for x in recs if x.get("type") == "stats"]
    R.check("exec: the exec counted", st and st[0].get("enrich_process_execs", 0) >= 1,
            st[0] if st else "no stats")
    srv.kill()


def podman_works(tmp):
    """(podman argv prefix, None) when podman runs a container here, else (None, why)."""
    if not shutil.which("podman"):
        return None, "podman is not installed"
    conf = os.path.join(tmp, "containers.conf")
    with open(conf, "w") as f:
        f.write('[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n'
                '[engine]\nruntime = "runc"\n')
    os.environ["CONTAINERS_CONF"] = conf
    return ["podman", "--runtime", "runc"], None


def busybox_image(pm, tmp):
    """localhost/sonde-bb:1 from busybox-static, imported (no registry)."""
    if subprocess.run(pm + ["image", "exists", "localhost/sonde-bb:1"]).returncode == 0:
        return True, ""
    bb = "/bin/busybox"
    if not os.path.exists(bb):
        return False, "busybox-static is not installed"
    root = os.path.join(tmp, "bbroot")
    os.makedirs(os.path.join(root, "bin"))
    shutil.copy(bb, os.path.join(root, "bin", "busybox"))
    for app in ("sh", "httpd", "sleep", "wget"):
        os.symlink("busybox", os.path.join(root, "bin", app))
    os.makedirs(os.path.join(root, "www"))
    with open(os.path.join(root, "www", "index.html"), "w") as f:
        f.write("hello from a container\n")
    tar = os.path.join(tmp, "bb.tar")
    subprocess.run(["tar", "-C", root, "-cf", tar, "."], check=True)
    p = subprocess.run(pm + ["import", "--change", 'CMD ["/bin/sh"]', tar, "localhost/sonde-bb:1"],
                       capture_output=True, text=True)
    return p.returncode == 0, p.stderr


def in_podman(sonde, tmp, dry):
    pm, why = podman_works(tmp)
    if not pm:
        R.skip("podman: " + why)
        return
    ok, why = busybox_image(pm, tmp)
    if not ok:
        R.skip("podman: cannot make a local image: " + why[-500:])
        return
    port = free_port()
    name = f"sonde-enrich-{port}"
    uid = "6d5c7a2e-3b1f-4c8e-9a0d-1e2f3a4b5c6d"
    p = subprocess.run(pm + ["run", "-d", "--name", name, "--network=host",
                             "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096",
                             "--annotation", "io.kubernetes.pod.name=web-0",
                             "--annotation", "io.kubernetes.pod.namespace=shop",
                             "--annotation", f"io.kubernetes.pod.uid={uid}",
                             "--annotation", "io.kubernetes.container.name=web",
                             "--label", "app=web",
                             "localhost/sonde-bb:1", "httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www"],
                       capture_output=True, text=True)
    if p.returncode:
        R.skip("podman: cannot run a container here: " + p.stderr[-500:])
        return
    cid = p.stdout.strip()
    try:
        if not R.check("podman: the container's server is up", wait_port(port)):
            return
        run = SondeRun(sonde, tmp, "podman", ["--port", str(port), "--no-tls"], R, dry=dry)
        if not run.ok:
            return
        Child(["curl", "-s", f"http://127.0.0.1:{port}/"], name="curl3").wait(timeout=20)
        rc, recs = run.stop()
        ex = exchanges(recs, "/")
        if not R.check("podman: the exchange recorded", len(ex) == 1, [r.get("type") for r in recs]):
            return
        sv = ex[0]["conn"]["server"]
        R.info("podman: server end " + json.dumps({k: sv.get(k) for k in ("process", "container", "pod")}))
        c, pod = sv.get("container", {}), sv.get("pod", {})
        R.check("podman: server end's process is busybox httpd in the container",
                sv.get("process", {}).get("cmdline", "").startswith("httpd -f") and
                sv["process"].get("container_id") == cid, sv.get("process"))
        R.check("podman: container id, name, image, runtime",
                c.get("id") == cid and c.get("runtime") == "podman" and c.get("name") == "web" and
                c.get("image") in ("localhost/sonde-bb:1", None), c)
        R.check("podman: pod name, namespace, uid from the annotations",
                pod.get("name") == "web-0" and pod.get("namespace") == "shop" and pod.get("uid") == uid, pod)
        R.check("podman: the client end (curl on the host) has no container",
                "container" not in ex[0]["conn"]["client"], ex[0]["conn"]["client"])
    finally:
        subprocess.run(pm + ["rm", "-f", "-t", "0", name], capture_output=True)


def main():
    sonde, dry, keep, only = parse_args(sys.argv[1:])
    if os.geteuid() != 0:
        R.skip("needs root (eBPF)")
        return 0
    if not shutil.which("curl"):
        R.skip("curl is not installed")
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-enrich-")
    try:
        if only is None or "processes" in only:
            processes(sonde, tmp, dry)
        if only is None or "exec" in only:
            exec_under_pid(sonde, tmp, dry)
        if only is None or "podman" in only:
            in_podman(sonde, tmp, dry)
    finally:
        kill_sondes()
        kill_children()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
