#!/usr/bin/env python3
"""Pods and their labels from the runtime's CRI API, live: a private
containerd (Debian's, with its CRI plugin) runs a pod the way a kubelet
would — RunPodSandbox with the pod's labels and annotations, then
CreateContainer/StartContainer of busybox httpd in it (host network: no
CNI here) — through a test client of its own (crilib.py). `sonde capture
--cri-socket` sees curl on the host talk to it: the server end names the
container, its image, the pod and the pod's labels, which only the CRI API
holds (containerd's task bundle has the pod's name, not its labels).
Also: an empty node listed without failure, a socket that is not there
counted as failed listings while the records still come, and a pod in its
own network namespace (CNI bridge plugin on a bridge and /24 the test makes
and removes) whose IP, from PodSandboxStatus, the record carries.
Usage: test_cri_live.py [path/to/sonde]. PASS/FAIL/SKIP/INFO lines."""
import json, os, shutil, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from livelib import Report, Child, SondeRun, free_port, wait_port, kill_children, kill_sondes, parse_args

R = Report("cri-live")

try:
    from crilib import Cri, Containerd
except ImportError as e:  # grpcio is Debian's python3-grpcio: its python
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    Cri = None
    IMPORT_ERROR = str(e)


def images(tmp):
    """OCI archives of a busybox rootfs: the app image and a pause image
    (sleep as PID 1), built with podman import (no registry)."""
    root = os.path.join(tmp, "bbroot")
    os.makedirs(os.path.join(root, "bin"))
    shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
    for app in ("sh", "httpd", "sleep", "wget"):
        os.symlink("busybox", os.path.join(root, "bin", app))
    os.makedirs(os.path.join(root, "www"))
    with open(os.path.join(root, "www", "index.html"), "w") as f:
        f.write("hello from a pod\n")
    tar = os.path.join(tmp, "bb.tar")
    subprocess.run(["tar", "-C", root, "-cf", tar, "."], check=True)
    conf = os.path.join(tmp, "containers.conf")
    with open(conf, "w") as f:
        f.write('[engine]\nruntime = "runc"\n')
    env = dict(os.environ, CONTAINERS_CONF=conf)
    out = []
    for name, cmd in (("sonde-cri-app", '["/bin/sh"]'), ("sonde-cri-pause", '["/bin/sleep","2147483647"]')):
        ref = f"localhost/{name}:1"
        arch = os.path.join(tmp, name + ".tar")
        for argv in (["podman", "import", "--change", "CMD " + cmd, tar, ref],
                     ["podman", "save", "--format", "oci-archive", "-o", arch, ref]):
            p = subprocess.run(argv, capture_output=True, text=True, env=env)
            if p.returncode:
                return None, p.stderr[-300:]
        subprocess.run(["podman", "rmi", "-f", ref], capture_output=True, env=env)
        out.append(arch)
    return out, ""


def exchanges(recs, path):
    return [r for r in recs if r.get("type") == "exchange" and (r.get("request") or {}).get("target") == path]


def stats(recs):
    st = [r for r in recs if r.get("type") == "stats"]
    return st[0] if st else {}


HOLDING_CLIENT = r'''
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"GET / HTTP/1.1\r\nHost: pod\r\n\r\n")
while s.recv(65536):
    pass
time.sleep(2)
s.close()
'''


def two_pods(sonde, tmp, dry, cd, cri, port, srv_cid, srv_uid, srv_labels):
    """A client pod started after sonde (host network, as the server's):
    busybox wget in a loop against the server pod. Each end names its own
    container and pod with the pod's labels from CRI; once the listing
    knows the new pod (it lists every 5 s, sooner after a miss), its
    records carry its labels too."""
    run = SondeRun(sonde, tmp, "twopods", ["--port", str(port), "--no-tls", "--cri-socket", cd.sock], R, dry=dry)
    if not run.ok:
        return
    uid = "9d2f5e3b-6c4a-4f9e-8b1d-3a4b5c6d7e8f"
    labels = {"app": "frontend", "pod-template-hash": "6b8c"}
    try:
        sb = cri.run_pod("frontend-6b8c-z9", "shop", uid, labels)
        cid = cri.create_container(sb, "fe", "localhost/sonde-cri-app:1",
                                   ["sh", "-c", f"while :; do wget -qO- http://127.0.0.1:{port}/; sleep 0.5; done"])
        cri.start_container(cid)
    except Exception as e:  # noqa: BLE001
        R.check("two pods: the client pod runs through CRI", False, str(e)[-600:])
        run.stop()
        return
    try:
        time.sleep(8)
        rc, recs = run.stop()
        ex = [r for r in exchanges(recs, "/") if r["conn"]["client"].get("pod", {}).get("uid") == uid]
        R.info(f"two pods: {len(ex)} exchanges from the client pod")
        full = [r for r in ex if r["conn"]["client"].get("pod", {}).get("labels") == labels and
                r["conn"]["server"].get("pod", {}).get("labels") == srv_labels]
        if not R.check("two pods: the client pod's exchanges recorded, both ends' pods with their CRI labels",
                       len(ex) >= 3 and full, json.dumps([r["conn"] for r in ex[:2]])[:2500]):
            return
        c, sv = full[-1]["conn"]["client"], full[-1]["conn"]["server"]
        R.info("two pods: " + json.dumps({"client": c, "server": sv})[:2500])
        R.check("two pods: client end: wget in the client pod's container (containerd), pod frontend-6b8c-z9, Deployment frontend",
                c.get("process", {}).get("comm") == "wget" and c.get("container", {}).get("id") == cid and
                c["container"].get("name") == "fe" and c["container"].get("runtime") == "containerd" and
                c.get("pod", {}).get("name") == "frontend-6b8c-z9" and c["pod"].get("namespace") == "shop" and
                c["pod"].get("workload") == {"kind": "Deployment", "name": "frontend"}, c)
        R.check("two pods: server end: httpd in the server pod's container, its own pod",
                sv.get("process", {}).get("comm") == "httpd" and sv.get("container", {}).get("id") == srv_cid and
                sv.get("pod", {}).get("uid") == srv_uid, sv)
        s = stats(recs)
        R.check("two pods: no CRI call failed", s.get("enrich_cri_failures") == 0, s)
    finally:
        try:
            cri.remove_pod(sb)
        except Exception:  # noqa: BLE001
            pass


def pod_network(sonde, tmp, dry, cd, cri):
    """A pod in its own network namespace (CNI bridge plugin, a bridge and
    /24 of the test's own): its IP from PodSandboxStatus, in the record."""
    if not os.path.exists("/usr/lib/cni/bridge"):
        R.skip("pod network: no CNI plugins (containernetworking-plugins)")
        return
    try:
        sb = cri.run_pod("api-0", "shop", "uid-api-0", {"app": "api"}, host_network=False)
    except Exception as e:  # noqa: BLE001
        R.check("pod network: a pod in its own network namespace runs", False, str(e)[-600:])
        return
    try:
        ip = cri.pod_ip(sb)
        port = 8080
        cid = cri.create_container(sb, "api", "localhost/sonde-cri-app:1",
                                   ["httpd", "-f", "-p", f"0.0.0.0:{port}", "-h", "/www"])
        cri.start_container(cid)
        R.info(f"pod network: pod IP {ip}")
        up = False
        for _ in range(100):
            if subprocess.run(["curl", "-s", "-o", "/dev/null", "--max-time", "1", f"http://{ip}:{port}/"]).returncode == 0:
                up = True
                break
            time.sleep(0.1)
        if not R.check("pod network: the pod has an IP and its server answers there", bool(ip) and up, ip):
            return
        run = SondeRun(sonde, tmp, "podnet", ["--port", str(port), "--no-tls", "--cri-socket", cd.sock], R, dry=dry)
        if not run.ok:
            return
        time.sleep(1.2)
        # A client that holds its socket after the answer (CLOSE_WAIT keeps
        # it in the socket table), so sonde can place it; a second
        # connection wakes sonde's reader meanwhile.
        cli = Child(["/usr/bin/python3", "-c", HOLDING_CLIENT, ip, str(port)], name="client")
        time.sleep(0.6)
        socket.create_connection((ip, port), timeout=2).close()
        cli.wait(timeout=20)
        rc, recs = run.stop()
        ex = exchanges(recs, "/")
        if R.check("pod network: the exchange recorded", len(ex) == 1, [r.get("type") for r in recs]):
            sv = ex[0]["conn"]["server"]
            # The client (on the host) is the traced end; the server's
            # socket is in the pod's network namespace, where the host's
            # socket table does not show it: the process the kernel saw
            # accept it names the end, and its container the pod, whose IP
            # PodSandboxStatus gives.
            R.info("pod network: server end " + str(sv))
            R.check("pod network: the server end names the pod: pod, labels, ip (PodSandboxStatus)",
                    sv.get("ip") == ip and sv.get("pod", {}).get("ip") == ip and
                    sv.get("pod", {}).get("name") == "api-0" and sv.get("pod", {}).get("labels") == {"app": "api"}, sv)
            R.check("pod network: the server end's process is httpd in the pod's container",
                    sv.get("process", {}).get("comm") == "httpd" and
                    sv.get("process", {}).get("container_id") == cid == sv.get("container", {}).get("id"), sv)
            R.check("pod network: the client end is the client process on the host",
                    ex[0]["conn"]["client"].get("process", {}).get("pid") == cli.pid, ex[0]["conn"]["client"])
        s = stats(recs)
        R.check("pod network: no CRI call failed", s.get("enrich_cri_failures") == 0, s)
    finally:
        try:
            cri.remove_pod(sb)
        except Exception:  # noqa: BLE001
            pass


def main():
    sonde, dry, keep, only = parse_args(sys.argv[1:])
    if os.geteuid() != 0:
        R.skip("needs root (eBPF, containerd)")
        return 0
    if Cri is None:
        R.skip("no grpcio for the test's CRI client: " + IMPORT_ERROR)
        return 0
    for tool in ("containerd", "ctr", "runc", "podman", "curl"):
        if not shutil.which(tool):
            R.skip(f"{tool} is not installed")
            return 0
    if not os.path.exists("/bin/busybox"):
        R.skip("busybox-static is not installed")
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-cri-")
    cd = Containerd(tmp)
    try:
        arch, why = images(tmp)
        if not arch:
            R.skip("cannot build the local images: " + why)
            return 0
        if not R.check("containerd started", cd.start(), ""):
            return 1
        time.sleep(0.5)
        for a in arch:
            p = cd.ctr("images", "import", a)
            R.check(f"image {os.path.basename(a)} imported into containerd's k8s.io namespace", p.returncode == 0, p.stderr)
        cri = Cri(cd.sock)
        name, ver = cri.version()
        R.info(f"CRI: {name} {ver}, runtime.v1")

        # An empty node: sonde lists it, nothing fails.
        port = free_port()
        run = SondeRun(sonde, tmp, "empty", ["--port", str(port), "--no-tls", "--cri-socket", cd.sock], R, dry=dry)
        if not run.ok:
            return 1
        time.sleep(1.0)
        rc, recs = run.stop()
        s = stats(recs)
        R.check("empty node: ListPodSandbox/ListContainers answered, none failed",
                s.get("enrich_cri_listings", 0) >= 1 and s.get("enrich_cri_failures") == 0, s)

        uid = "7c1e4d2a-5b3f-4e8d-9a0c-2f3e4d5c6b7a"
        labels = {"app": "checkout", "tier": "web", "pod-template-hash": "7d9f"}
        try:
            sb = cri.run_pod("checkout-7d9f-x2", "shop", uid, labels, {"sonde.dev/capture": "true"})
            cid = cri.create_container(sb, "web", "localhost/sonde-cri-app:1",
                                       ["httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www"])
            cri.start_container(cid)
        except Exception as e:  # noqa: BLE001 - any CRI refusal is a verdict
            R.check("a pod and its container run through CRI", False, str(e)[-800:])
            return 1
        R.check("a pod and its container run through CRI (host network)", wait_port(port), "")
        R.info(f"sandbox {sb[:12]}, container {cid[:12]}")
        try:
            run = SondeRun(sonde, tmp, "pod", ["--port", str(port), "--no-tls", "--cri-socket", cd.sock], R, dry=dry)
            if not run.ok:
                return 1
            time.sleep(1.2)  # the first listing
            Child(["curl", "-s", f"http://127.0.0.1:{port}/"], name="curl").wait(timeout=20)
            rc, recs = run.stop()
            R.check("sonde exit status 0", rc == 0, run.stderr()[-800:])
            ex = exchanges(recs, "/")
            if R.check("the exchange recorded", len(ex) == 1, [r.get("type") for r in recs]):
                sv = ex[0]["conn"]["server"]
                R.info("server end " + str({k: sv.get(k) for k in ("container", "pod")}))
                c, pod = sv.get("container", {}), sv.get("pod", {})
                R.check("container: id, name and image from CRI, runtime containerd",
                        c.get("id") == cid and c.get("name") == "web" and
                        c.get("image") == "localhost/sonde-cri-app:1" and c.get("runtime") == "containerd", c)
                R.check("pod: name, namespace, uid", pod.get("name") == "checkout-7d9f-x2" and
                        pod.get("namespace") == "shop" and pod.get("uid") == uid, pod)
                R.check("pod: every label, only from CRI", pod.get("labels") == labels, pod)
                R.check("pod: its workload, from the name and pod-template-hash: Deployment checkout",
                        pod.get("workload") == {"kind": "Deployment", "name": "checkout"}, pod)
            s = stats(recs)
            R.info("stats " + str({k: v for k, v in s.items() if k.startswith("enrich_")}))
            R.check("stats: listings made, none failed", s.get("enrich_cri_listings", 0) >= 1 and
                    s.get("enrich_cri_failures") == 0, s)

            # --target and enrichment together: one CRI client (one
            # "sonde-cri" thread) serves both, and the pod is still named.
            run = SondeRun(sonde, tmp, "shared", ["--port", str(port), "--no-tls", "--cri-socket", cd.sock,
                                                  "--target", "namespace=shop"], R, dry=dry)
            if not run.ok:
                return 1
            time.sleep(1.2)
            names = []
            for t in os.listdir(f"/proc/{run.proc.pid}/task"):
                try:
                    names.append(open(f"/proc/{run.proc.pid}/task/{t}/comm").read().strip())
                except OSError:
                    pass
            R.check("--target with enrichment: one CRI client for both (one sonde-cri thread, one sonde-targets)",
                    names.count("sonde-cri") == 1 and names.count("sonde-targets") == 1, names)
            Child(["curl", "-s", f"http://127.0.0.1:{port}/"], name="curl-shared").wait(timeout=20)
            rc, recs = run.stop()
            ex = exchanges(recs, "/")
            s = stats(recs)
            R.check("--target with enrichment: the selected pod's exchange names its labels (from the shared listing)",
                    len(ex) == 1 and ex[0]["conn"]["server"].get("pod", {}).get("labels") == labels and
                    s.get("target_cgroups", 0) >= 1, [ex, {k: v for k, v in s.items() if k.startswith("target_")}])

            # A socket that is not there: counted, records still come.
            run = SondeRun(sonde, tmp, "nosock", ["--port", str(port), "--no-tls", "--cri-socket",
                                                  os.path.join(tmp, "absent.sock")], R, dry=dry)
            if not run.ok:
                return 1
            time.sleep(1.2)
            Child(["curl", "-s", f"http://127.0.0.1:{port}/"], name="curl2").wait(timeout=20)
            rc, recs = run.stop()
            ex = exchanges(recs, "/")
            s = stats(recs)
            R.check("no CRI socket: the record still comes, without the CRI's labels",
                    len(ex) == 1 and "labels" not in ex[0]["conn"]["server"].get("pod", {}), ex)
            R.check("no CRI socket: failed listings counted", s.get("enrich_cri_failures", 0) >= 1 and
                    s.get("enrich_cri_failures") == s.get("enrich_cri_listings"), s)
            two_pods(sonde, tmp, dry, cd, cri, port, cid, uid, labels)
            pod_network(sonde, tmp, dry, cd, cri)
        finally:
            try:
                cri.remove_pod(sb)
            except Exception:  # noqa: BLE001
                pass
    finally:
        kill_sondes()
        kill_children()
        cd.stop()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
