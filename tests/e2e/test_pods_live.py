#!/usr/bin/env python3
"""Both ends' containers and pods, live, with podman: an HTTP server
(busybox httpd, with a slow CGI script) and a client (busybox wget) in two
containers, each carrying what a kubelet sets (io.kubernetes.pod.name,
.namespace, .uid, io.kubernetes.container.name annotations; an app label),
both started after sonde. The records must name each end's own process,
container and pod:
  host:    both containers on the host's network (loopback);
  exited:  the client is killed while its request waits for the slow
           script: the unanswered request still names the client's
           process, container and pod (read when its socket opened);
  netns:   each container in its own network namespace (two the test makes,
           joined by a veth pair: pods of one node), where the socket
           tables of one end do not show the other: the server end is
           named by who the kernel saw accept the connection.
Usage: test_pods_live.py [path/to/sonde]. PASS/FAIL/SKIP/INFO lines."""
import json, os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from livelib import Report, SondeRun, free_port, kill_children, kill_sondes, parse_args

R = Report("pods-live")
IMAGE = "localhost/sonde-pods:1"
NS = ("sonde-pods-srv", "sonde-pods-cli")
SRV_IP, CLI_IP = "10.253.0.1", "10.253.0.2"
PODS = {  # role: (pod name, namespace, uid, container name, app label)
    "server": ("web-7d9f-x2k4p", "shop", "1b6f0c0e-8a51-4f43-9f7e-5d2c1a0b9e01", "web", "web"),
    "client": ("checkout-5c2a-q8v7n", "shop", "2c7a1d1f-9b62-4054-8a8f-6e3d2b1c0f12", "checkout", "checkout"),
}
SLOW_CGI = "#!/bin/sh\nsleep 3\necho 'Content-Type: text/plain'\necho\necho slow\n"


def podman():
    """(argv prefix, None), or (None, why): runc and lowered rlimits
    (../shared/notes/components.md 8a)."""
    if not shutil.which("podman"):
        return None, "podman is not installed"
    if not os.path.exists("/bin/busybox"):
        return None, "busybox-static is not installed"
    return ["podman", "--runtime", "runc"], None


def image(pm, tmp):
    """busybox with httpd's document root and a slow CGI script, imported."""
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "bin"))
    shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
    for app in ("sh", "httpd", "sleep", "wget", "kill"):
        os.symlink("busybox", os.path.join(root, "bin", app))
    os.makedirs(os.path.join(root, "www", "cgi-bin"))
    with open(os.path.join(root, "www", "index.html"), "w") as f:
        f.write("hello from a pod\n")
    cgi = os.path.join(root, "www", "cgi-bin", "slow")
    with open(cgi, "w") as f:
        f.write(SLOW_CGI)
    os.chmod(cgi, 0o755)
    tar = os.path.join(tmp, "img.tar")
    subprocess.run(["tar", "-C", root, "-cf", tar, "."], check=True)
    p = subprocess.run(pm + ["import", "--change", 'CMD ["/bin/sh"]', tar, IMAGE],
                       capture_output=True, text=True)
    return p.returncode == 0, p.stderr


def run_ctr(pm, role, tag, network, argv, detach=True):
    pod, ns, uid, cname, app = PODS[role]
    name = f"sonde-pods-{tag}-{role}"
    p = subprocess.run(pm + ["run"] + (["-d"] if detach else ["--rm"]) +
                       ["--name", name, "--network", network,
                        "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096",
                        "--annotation", f"io.kubernetes.pod.name={pod}",
                        "--annotation", f"io.kubernetes.pod.namespace={ns}",
                        "--annotation", f"io.kubernetes.pod.uid={uid}",
                        "--annotation", f"io.kubernetes.container.name={cname}",
                        "--label", f"app={app}", IMAGE] + argv,
                       capture_output=True, text=True, timeout=60)
    return name, p


def cid_of(pm, name):
    p = subprocess.run(pm + ["inspect", "--format", "{{.Id}}", name], capture_output=True, text=True)
    return p.stdout.strip()


def wait_http(pm, tag, network, url):
    for _ in range(50):
        _, p = run_ctr(pm, "client", tag + "-probe", network, ["wget", "-qO-", url], detach=False)
        if p.returncode == 0:
            return True
        time.sleep(0.2)
    return False


def check_end(label, end, role, cid, comm, cmdline=True):
    """cmdline False: the process may be gone before sonde read /proc
    (a wget of a small page lives a few ms): its comm and cgroup are the
    kernel's, its command line unknown."""
    pod, ns, uid, cname, _ = PODS[role]
    proc, c, pd = end.get("process", {}), end.get("container", {}), end.get("pod", {})
    R.check(f"{label}: {role} end: its own process ({comm}) in its container",
            proc.get("comm") == comm and (not cmdline or proc.get("cmdline", "").startswith(comm)) and
            proc.get("container_id") == cid and end.get("process", {}).get("cgroup", "").endswith(cid), proc)
    R.check(f"{label}: {role} end: container id, name, image, runtime",
            c.get("id") == cid and c.get("name") == cname and c.get("runtime") == "podman" and
            c.get("image") in (IMAGE, None), c)
    R.check(f"{label}: {role} end: pod name, namespace, uid", pd.get("name") == pod and
            pd.get("namespace") == ns and pd.get("uid") == uid, pd)


def exchanges(recs, target):
    return [r for r in recs if r.get("type") == "exchange" and
            (r.get("request") or {}).get("target") == target]


def scenario(pm, sonde, tmp, dry, tag, network, host, label):
    """sonde first; then the server's container, then the client's: a quick
    GET, and a slow one whose client is killed while it waits."""
    port = free_port()
    run = SondeRun(sonde, tmp, tag, ["--port", str(port), "--no-tls"], R, dry=dry)
    if not run.ok:
        return
    srv, p = run_ctr(pm, "server", tag, network[0], ["httpd", "-f", "-p", f"{host}:{port}", "-h", "/www"])
    if not R.check(f"{label}: server container started after sonde", p.returncode == 0, p.stderr[-500:]):
        run.stop()
        return
    try:
        if not R.check(f"{label}: the server answers",
                       wait_http(pm, tag, network[1], f"http://{host}:{port}/index.html")):
            run.stop()
            return
        cli, p = run_ctr(pm, "client", tag, network[1], ["wget", "-qO-", f"http://{host}:{port}/"],
                         detach=False)
        R.check(f"{label}: the client container got the page", "hello from a pod" in p.stdout, p.stderr)
        # Killed while the script sleeps, and reaped: it exits mid-connection.
        # (Not as the container's PID 1, which ignores a SIGKILL from inside.)
        cli2, p = run_ctr(pm, "client", tag + "-x", network[1],
                          ["sh", "-c", f"wget -qO- http://{host}:{port}/cgi-bin/slow & sleep 1; kill -9 $!; wait; sleep 1"])
        cid2 = cid_of(pm, cli2)
        time.sleep(4)  # the script answers a closed socket
        rc, recs = run.stop()
        srv_cid = cid_of(pm, srv)
        ex = [r for r in exchanges(recs, "/") if r["conn"]["client"].get("container", {}).get("id")
              != cid_of(pm, srv)]
        quick = [r for r in ex if r["conn"]["client"].get("process", {}).get("comm") == "wget"]
        if not R.check(f"{label}: the client container's GET recorded", len(ex) >= 1,
                       [(r.get("type"), (r.get("request") or {}).get("target")) for r in recs]):
            return
        r = quick[0] if quick else ex[0]
        R.info(f"{label}: ends " + json.dumps({e: {k: r["conn"][e].get(k) for k in ("process", "container", "pod")}
                                                for e in ("client", "server")})[:3000])
        # The quick client's container was removed (--rm): its id is the record's.
        ccid = r["conn"]["client"].get("container", {}).get("id", "")
        check_end(label, r["conn"]["server"], "server", srv_cid, "httpd")
        check_end(label, r["conn"]["client"], "client", ccid or "?", "wget", cmdline=False)
        R.check(f"{label}: the two ends are two containers and two pods",
                ccid and ccid != srv_cid and r["conn"]["client"].get("pod", {}).get("uid") !=
                r["conn"]["server"].get("pod", {}).get("uid"), r["conn"])
        slow = exchanges(recs, "/cgi-bin/slow")
        if R.check(f"{label}: exited: the killed client's request recorded", len(slow) == 1,
                   [(r.get("type"), (r.get("request") or {}).get("target")) for r in recs]):
            s = slow[0]
            R.info(f"{label}: exited: flags {s.get('flags')} response {json.dumps(s.get('response'))[:300]} client " + json.dumps(s["conn"]["client"])[:300])
            R.check(f"{label}: exited: the request is unanswered (its client was gone first)",
                    s.get("response") is None and "unanswered" in s.get("flags", []), s.get("flags"))
            check_end(f"{label}: exited", s["conn"]["client"], "client", cid2, "wget")
            check_end(f"{label}: exited", s["conn"]["server"], "server", srv_cid, "httpd")
        st = [x for x in recs if x.get("type") == "stats"]
        if st:
            R.info(f"{label}: stats " + json.dumps({k: v for k, v in st[0].items() if k.startswith("enrich_")}))
    finally:
        for n in (srv, f"sonde-pods-{tag}-x-client"):
            subprocess.run(pm + ["rm", "-f", "-t", "0", n], capture_output=True)


def netns_up():
    for n in NS:
        subprocess.run(["ip", "netns", "del", n], capture_output=True)
        subprocess.run(["ip", "netns", "add", n], check=True)
        subprocess.run(["ip", "-n", n, "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "link", "add", "sonde-pv0", "netns", NS[0], "type", "veth", "peer",
                    "name", "sonde-pv1", "netns", NS[1]], check=True)
    for n, dev, ip in ((NS[0], "sonde-pv0", SRV_IP), (NS[1], "sonde-pv1", CLI_IP)):
        subprocess.run(["ip", "-n", n, "addr", "add", ip + "/24", "dev", dev], check=True)
        subprocess.run(["ip", "-n", n, "link", "set", dev, "up"], check=True)


def main():
    sonde, dry, keep, only = parse_args(sys.argv[1:])
    if os.geteuid() != 0:
        R.skip("needs root (eBPF, containers)")
        return 0
    pm, why = podman()
    if not pm:
        R.skip(why)
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-pods-")
    conf = os.path.join(tmp, "containers.conf")
    with open(conf, "w") as f:
        f.write('[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n'
                '[engine]\nruntime = "runc"\n')
    os.environ["CONTAINERS_CONF"] = conf
    try:
        ok, why = image(pm, tmp)
        if not ok:
            R.skip("cannot make a local image: " + why[-500:])
            return 0
        if only is None or "host" in only:
            scenario(pm, sonde, tmp, dry, "host", ("host", "host"), "127.0.0.1", "host")
        if only is None or "netns" in only:
            netns_up()
            scenario(pm, sonde, tmp, dry, "netns",
                     (f"ns:/run/netns/{NS[0]}", f"ns:/run/netns/{NS[1]}"), SRV_IP, "netns")
    finally:
        kill_sondes()
        kill_children()
        for n in NS:
            subprocess.run(["ip", "netns", "del", n], capture_output=True)
        subprocess.run(pm + ["rmi", "-f", IMAGE], capture_output=True)
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
