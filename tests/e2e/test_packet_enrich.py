#!/usr/bin/env python3
"""Who is talking, for packet sources: real HTTP servers and clients in
network namespaces this test makes (and removes), captured by af_packet
(--netns), by af_packet --all-netns and by tc; each record's local ends
carry their processes, found by 4-tuple in the kernel's socket table of
the namespace captured (NETLINK_SOCK_DIAG) and the processes' descriptors.
A client in another namespace (over a veth) is a remote end and stays
unnamed; a client that exits before its record leaves the server named by
its listener; --no-enrich names nothing; the lookups and misses are
counted. With podman working here, cgroup_skb on podman's cgroup names the
container (and pod, from its annotations) of the server's socket, on the
host's network and in a pod's own network namespace.

Usage: test_packet_enrich.py [--only NAME,...] path/to/sonde
NAME: namespaces or cgroup_skb (a group), or one case (tc-netns-loopback,
cgroup_skb-pod, ...). PASS/FAIL/SKIP/INFO lines."""
import json, os, shutil, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from livelib import Report, Child, SondeRun, free_port, wait_port, kill_children, kill_sondes, parse_args
from test_enrich_live import podman_works, busybox_image

R = Report("packet-enrich")
TAG = f"pe{os.getpid() % 100000}"
NS_A, NS_B = f"{TAG}a", f"{TAG}b"
IF_A, IF_B = f"{TAG}va", f"{TAG}vb"
IP_A, IP_B = "10.199.9.1", "10.199.9.2"
PORT = 8080

SERVER = r'''
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        b = ("you asked for " + self.path + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
'''

# A keep-alive client that holds its connection open a while after its
# last response, so its socket is still there when the record is made.
CLIENT = r'''
import http.client, sys, time
c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=5)
for p in sys.argv[3:]:
    c.request("GET", p)
    c.getresponse().read()
time.sleep(2.5)
c.close()
'''


def sh(*argv, check=True):
    return subprocess.run(list(argv), check=check, capture_output=True, text=True)


def setup_net():
    sh("ip", "netns", "add", NS_A)
    sh("ip", "netns", "add", NS_B)
    sh("ip", "link", "add", IF_A, "type", "veth", "peer", "name", IF_B)
    sh("ip", "link", "set", IF_A, "netns", NS_A)
    sh("ip", "link", "set", IF_B, "netns", NS_B)
    for ns, dev, ip in ((NS_A, IF_A, IP_A), (NS_B, IF_B, IP_B)):
        sh("ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")


def teardown_net():
    for ns in (NS_A, NS_B):
        for p in sh("ip", "netns", "pids", ns, check=False).stdout.split():
            try:
                os.kill(int(p), signal.SIGKILL)
            except OSError:
                pass
        sh("ip", "netns", "del", ns, check=False)


def exchanges(recs):
    return {(r.get("request") or {}).get("target"): r for r in recs if r.get("type") == "exchange"}


def stats_of(recs):
    return next((r for r in recs if r.get("type") == "stats"), {})


def proc_of(end):
    return end.get("process") or {}


def traffic(tmp, tag, host, client_ns):
    """A held keep-alive client (two GETs) and a curl that exits at once;
    returns the client's pid."""
    cli = Child(["ip", "netns", "exec", client_ns, "/usr/bin/python3", os.path.join(tmp, "cli.py"),
                 host, str(PORT), f"/{tag}/one", f"/{tag}/two"], name=f"client-{tag}")
    time.sleep(0.4)
    sh("ip", "netns", "exec", client_ns, "curl", "-sf", "-o", "/dev/null", f"http://{host}:{PORT}/{tag}/curl")
    time.sleep(0.8)
    return cli


def python_pid(child):
    """`ip netns exec` execs, so the child's pid is the Python client's."""
    return child.pid


def check_local(name, recs, tag, srv, cli, client_local=True):
    ex = exchanges(recs)
    one, curl = ex.get(f"/{tag}/one"), ex.get(f"/{tag}/curl")
    if not R.check(f"{name}: the exchanges recorded", one and curl and f"/{tag}/two" in ex, sorted(ex)):
        return
    sv, cl = proc_of(one["conn"]["server"]), proc_of(one["conn"]["client"])
    R.info(f"{name}: ends " + json.dumps([cl, sv])[:600])
    R.check(f"{name}: the server end is the Python server (pid, exe, command line)",
            sv.get("pid") == srv.pid and sv.get("exe", "").startswith("/usr/bin/python3") and
            "srv.py" in sv.get("cmdline", ""), sv)
    if client_local:
        R.check(f"{name}: the client end is the held client (pid, command line)",
                cl.get("pid") == python_pid(cli) and "cli.py" in cl.get("cmdline", ""), cl)
    else:
        R.check(f"{name}: the client in the other namespace is a remote end: no process",
                not cl, one["conn"]["client"])
    # tc's records come at once: the server's socket may still be in the
    # table when looked up and closed before its holder is searched for.
    R.check(f"{name}: a curl gone before its record: the server named by its listener",
            proc_of(curl["conn"]["server"]).get("pid") == srv.pid,
            [curl["conn"], {k: v for k, v in stats_of(recs).items() if "enrich_packet" in k}])
    R.check(f"{name}: both exchanges of one connection carry the same ends",
            proc_of(ex[f"/{tag}/two"]["conn"]["server"]) == sv, ex[f"/{tag}/two"]["conn"])
    st = stats_of(recs)
    R.info(f"{name}: " + json.dumps({k: v for k, v in st.items() if "enrich_packet" in k}))
    R.check(f"{name}: lookups counted, once per connection (2 connections)",
            st.get("enrich_packet_lookups") == 2, {k: v for k, v in st.items() if "enrich_packet" in k})


def wanted(only, group, name):
    return only is None or group in only or name in only


def run_case(sonde, tmp, srv, name, extra, tag, host, client_ns, client_local, dry, only):
    if not wanted(only, "namespaces", name):
        return None
    run = SondeRun(sonde, tmp, name, extra + ["--audit-log", "none"], R, dry=dry)
    if not run.ok:
        return None
    cli = traffic(tmp, tag, host, client_ns)
    cli.wait(timeout=20)
    rc, recs = run.stop()
    R.check(f"{name}: sonde exit status 0", rc == 0, run.stderr()[-1500:])
    check_local(name, recs, tag, srv, cli, client_local)
    return recs


def namespaces(sonde, tmp, dry, only):
    setup_net()
    try:
        srv = Child(["ip", "netns", "exec", NS_A, "/usr/bin/python3", os.path.join(tmp, "srv.py"),
                     "0.0.0.0", str(PORT)], name="server")
        time.sleep(0.6)
        run_case(sonde, tmp, srv, "af_packet-netns-loopback",
                 ["--source", "af_packet", "--netns", NS_A, "-i", "lo"], "lo", "127.0.0.1", NS_A, True, dry, only)
        run_case(sonde, tmp, srv, "af_packet-netns-veth",
                 ["--source", "af_packet", "--netns", NS_A, "-i", IF_A], "veth", IP_A, NS_B, False, dry, only)
        run_case(sonde, tmp, srv, "tc-netns-loopback",
                 ["--source", "tc", "--netns", NS_A, "-i", "lo"], "tc", "127.0.0.1", NS_A, True, dry, only)
        recs = run_case(sonde, tmp, srv, "all-netns-loopback",
                        ["--source", "af_packet", "--all-netns", "--filter", f"tcp port {PORT}"],
                        "all", "127.0.0.1", NS_A, True, dry, only)
        if recs:
            one = exchanges(recs).get("/all/one", {})
            R.check("all-netns-loopback: the record names the namespace it was captured in",
                    NS_A in (one.get("capture") or {}).get("source", ""), one.get("capture"))
        run = None
        if wanted(only, "namespaces", "no-enrich"):
            run = SondeRun(sonde, tmp, "no-enrich", ["--source", "af_packet", "--netns", NS_A, "-i", "lo",
                                                     "--no-enrich", "--audit-log", "none"], R, dry=dry)
        if run and run.ok:
            traffic(tmp, "ne", "127.0.0.1", NS_A).wait(timeout=20)
            rc, recs = run.stop()
            ex = exchanges(recs).get("/ne/one", {})
            R.check("--no-enrich: no processes, nothing looked up",
                    ex and not proc_of(ex["conn"]["server"]) and not proc_of(ex["conn"]["client"]) and
                    not stats_of(recs).get("enrich_packet_lookups"), ex.get("conn"))
    finally:
        teardown_net()


def cgroup_skb_podman(sonde, tmp, dry):
    pm, why = podman_works(tmp)
    if not pm:
        R.skip("cgroup_skb+podman: " + why)
        return
    ok, why = busybox_image(pm, tmp)
    if not ok:
        R.skip("cgroup_skb+podman: cannot make a local image: " + why[-500:])
        return
    port = free_port()
    name = f"sonde-pe-{port}"
    uid = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
    p = subprocess.run(pm + ["run", "-d", "--name", name, "--network=host",
                             "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096",
                             "--annotation", "io.kubernetes.pod.name=web-1",
                             "--annotation", "io.kubernetes.pod.namespace=shop",
                             "--annotation", f"io.kubernetes.pod.uid={uid}",
                             "--annotation", "io.kubernetes.container.name=web",
                             "localhost/sonde-bb:1", "httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www"],
                       capture_output=True, text=True)
    if p.returncode:
        R.skip("cgroup_skb+podman: cannot run a container here: " + p.stderr[-500:])
        return
    cid = p.stdout.strip()
    try:
        if not R.check("cgroup_skb+podman: the container's server is up", wait_port(port)):
            return
        cg = None
        for line in open(f"/proc/{int(sh(*pm, 'inspect', '-f', '{{.State.Pid}}', name).stdout)}/cgroup"):
            if line.startswith("0::"):
                cg = line[3:].strip()
        root = "/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/unified/libpod_parent") else "/sys/fs/cgroup"
        parent = root + os.path.dirname(cg)
        run = SondeRun(sonde, tmp, "cgroup_skb", ["--source", "cgroup_skb", "--cgroup", parent,
                                                  "--audit-log", "none"], R, dry=dry)
        if not run.ok:
            return
        Child(["curl", "-s", f"http://127.0.0.1:{port}/"], name="curl-cg").wait(timeout=20)
        rc, recs = run.stop()
        ex = exchanges(recs).get("/")
        if not R.check("cgroup_skb+podman: the exchange recorded", ex, [r.get("type") for r in recs]):
            return
        sv = ex["conn"]["server"]
        R.info("cgroup_skb+podman: server end " + json.dumps({k: sv.get(k) for k in ("process", "container", "pod")}))
        R.check("cgroup_skb+podman: the record's cgroup is the container's",
                ex["capture"].get("cgroup_id") == os.stat(root + cg).st_ino, ex["capture"])
        R.check("cgroup_skb+podman: the server end is busybox httpd in the container",
                proc_of(sv).get("cmdline", "").startswith("httpd -f") and
                proc_of(sv).get("container_id") == cid, sv.get("process"))
        c, pod = sv.get("container", {}), sv.get("pod", {})
        R.check("cgroup_skb+podman: container id, name, runtime; pod from the annotations",
                c.get("id") == cid and c.get("runtime") == "podman" and c.get("name") == "web" and
                pod.get("name") == "web-1" and pod.get("namespace") == "shop" and pod.get("uid") == uid,
                [c, pod])
    finally:
        subprocess.run(pm + ["rm", "-f", "-t", "0", name], capture_output=True)


def cgroup_skb_pod_netns(sonde, tmp, dry):
    """A podman pod with a network namespace of its own (only lo): its
    sockets are in no table of sonde's namespace, and cgroup_skb keeps no
    CAP_SYS_ADMIN to enter it, so the lookup reads the table of a process of
    the socket's cgroup (/proc/PID/net/tcp), counted as not entered."""
    pm, why = podman_works(tmp)
    if not pm or not busybox_image(pm, tmp)[0]:
        R.skip("cgroup_skb+pod: podman or its image unavailable")
        return
    pod, web = f"{TAG}-pod", f"{TAG}-api"
    p = subprocess.run(pm + ["pod", "create", "--name", pod, "--network", "none"], capture_output=True, text=True)
    if p.returncode:
        R.skip("cgroup_skb+pod: cannot make a pod here: " + p.stderr[-300:])
        return
    try:
        p = subprocess.run(pm + ["run", "-d", "--pod", pod, "--name", web,
                                 "--annotation", "io.kubernetes.pod.name=api-1",
                                 "--annotation", "io.kubernetes.pod.namespace=shop",
                                 "--annotation", "io.kubernetes.container.name=api",
                                 "localhost/sonde-bb:1", "httpd", "-f", "-p", "127.0.0.1:8080", "-h", "/www"],
                           capture_output=True, text=True)
        if not R.check("cgroup_skb+pod: the pod's server runs", p.returncode == 0, p.stderr[-300:]):
            return
        cid = p.stdout.strip()
        time.sleep(0.5)
        root = "/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/unified/libpod_parent") else "/sys/fs/cgroup"
        run = SondeRun(sonde, tmp, "cgroup_skb-pod", ["--source", "cgroup_skb", "--cgroup", root + "/libpod_parent",
                                                      "--audit-log", "none"], R, dry=dry)
        if not run.ok:
            return
        subprocess.run(pm + ["run", "--rm", "--pod", pod, "localhost/sonde-bb:1", "sh", "-c",
                             "wget -qO- http://127.0.0.1:8080/ >/dev/null; sleep 1"], capture_output=True, timeout=60)
        rc, recs = run.stop()
        ex = exchanges(recs).get("/")
        if not R.check("cgroup_skb+pod: the exchange recorded", ex, [r.get("type") for r in recs]):
            return
        sv = ex["conn"]["server"]
        st = stats_of(recs)
        R.check("cgroup_skb+pod: the server end in the pod's own namespace is httpd, its container and pod",
                proc_of(sv).get("cmdline", "").startswith("httpd -f") and
                sv.get("container", {}).get("id") == cid and sv.get("pod", {}).get("name") == "api-1", sv)
        R.check("cgroup_skb+pod: the namespace not entered is counted (read through /proc instead)",
                st.get("enrich_packet_netns_unentered", 0) >= 1,
                {k: v for k, v in st.items() if "enrich_packet" in k})
    finally:
        subprocess.run(pm + ["rm", "-f", "-t", "0", web], capture_output=True)
        subprocess.run(pm + ["pod", "rm", "-f", pod], capture_output=True)


def main():
    sonde, dry, keep, only = parse_args(sys.argv[1:])
    if os.geteuid() != 0:
        R.skip("needs root (namespaces, packet sockets)")
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-pe-")
    for fn, text in (("srv.py", SERVER), ("cli.py", CLIENT)):
        with open(os.path.join(tmp, fn), "w") as f:
            f.write(text)
    try:
        names = ("af_packet-netns-loopback", "af_packet-netns-veth", "tc-netns-loopback",
                 "all-netns-loopback", "no-enrich")
        if only is None or "namespaces" in only or only & set(names):
            namespaces(sonde, tmp, dry, only)
        if wanted(only, "cgroup_skb", "cgroup_skb"):
            cgroup_skb_podman(sonde, tmp, dry)
        if wanted(only, "cgroup_skb", "cgroup_skb-pod"):
            cgroup_skb_pod_netns(sonde, tmp, dry)
    finally:
        kill_sondes()
        kill_children()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
