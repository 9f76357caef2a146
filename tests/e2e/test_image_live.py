#!/usr/bin/env python3
"""sonde in its own image, started the way the DaemonSet starts it: the
image built from Debian packages by deploy/image/build (a debootstrap
rootfs imported into podman, no registry), run by podman with what
deploy/kubernetes/sonde.yaml gives the pod — its user, capabilities (drop
ALL, add the list), read-only root, the host's pid namespace, its hostPath
mounts read-only, its arguments — and no ambient capabilities (podman
grants them to a non-root user, Kubernetes does not: setpriv clears them,
so the capabilities come from the file's permitted set, as in a pod). It
captures a busybox httpd in another container, answering curl: the record
names that container and its pod from the node's state under /host.
Usage: test_image_live.py [path/to/sonde]. PASS/FAIL/SKIP/INFO lines."""
import json, os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from livelib import Report, Child, free_port, wait_port, kill_children, parse_args
from test_enrich_live import podman_works, busybox_image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
R = Report("image-live")

try:
    import yaml
except ImportError:  # Debian's python3-yaml: its python
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    yaml = None


def configmap_dir(docs, name, tmp):
    """The ConfigMap's files in a directory, as the kubelet mounts them."""
    cm = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == name][0]
    d = os.path.join(tmp, "configmap-" + name)
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)  # the kubelet's modes: sonde's non-root user reads it
    for fn, text in cm["data"].items():
        with open(os.path.join(d, fn), "w") as f:
            f.write(text)
        os.chmod(os.path.join(d, fn), 0o644)
    return d


def daemonset_podman_args(pm, name, tag, tmp):
    """podman run arguments from the DaemonSet's pod spec."""
    docs = [d for d in yaml.safe_load_all(open(os.path.join(ROOT, "deploy", "kubernetes", "sonde.yaml"))) if d]
    pod = [d for d in docs if d["kind"] == "DaemonSet"][0]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    sc = c["securityContext"]
    argv = pm + ["run", "-d", "--name", name, "--network=none", "--security-opt", "seccomp=unconfined",
                 "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096",
                 "--user", f"{sc['runAsUser']}:{sc['runAsGroup']}", "--cap-drop", "all"]
    if pod.get("hostPID"):
        argv.append("--pid=host")
    if sc.get("readOnlyRootFilesystem"):
        argv.append("--read-only")
    for cap in sc["capabilities"]["add"]:
        argv += ["--cap-add", cap]
    vols = {}
    for v in pod["volumes"]:
        if "configMap" in v:
            vols[v["name"]] = configmap_dir(docs, v["configMap"]["name"], tmp)
        elif v["hostPath"].get("type") == "DirectoryOrCreate":
            # The kubelet makes it and the init container hands it to the
            # agent's user (the store): a stand-in under tmp, not the host's.
            d = os.path.join(tmp, "hostpath-" + v["name"])
            os.makedirs(d, exist_ok=True)
            os.chown(d, sc["runAsUser"], sc["runAsGroup"])
            os.chmod(d, 0o700)
            vols[v["name"]] = d
        else:
            vols[v["name"]] = v["hostPath"]["path"]
    for m in c["volumeMounts"]:
        src = vols[m["name"]]
        if not os.path.exists(src):
            continue  # kubelet would make a directory; nothing there to see
        argv += ["-v", f"{src}:{m['mountPath']}" + (":ro" if m.get("readOnly") else "")]
    # Kubernetes gives a non-root process no ambient capabilities.
    argv += ["--entrypoint", "/usr/bin/setpriv", tag, "--ambient-caps", "-all", "--inh-caps", "-all", "--",
             "/usr/bin/sonde"]
    return argv, c["args"]


def main():
    sonde, dry, keep, only = parse_args(sys.argv[1:])
    if os.geteuid() != 0:
        R.skip("needs root (podman, eBPF)")
        return 0
    if yaml is None:
        R.skip("needs python3-yaml")
        return 0
    for tool in ("podman", "debootstrap", "curl"):
        if not shutil.which(tool):
            R.skip(f"{tool} is not installed")
            return 0
    tmp = tempfile.mkdtemp(prefix="sonde-image-")
    pm, why = podman_works(tmp)
    if not pm:
        R.skip("podman: " + why)
        return 0
    tag = "localhost/sonde-test:" + str(os.getpid())
    names = []
    try:
        t0 = time.time()
        p = subprocess.run([os.path.join(ROOT, "deploy", "image", "build"), tag], capture_output=True, text=True,
                           cwd=ROOT, env=dict(os.environ), timeout=600)
        if p.returncode and ("debootstrap" in p.stderr or "mirror" in p.stderr):
            R.skip("cannot make the Debian rootfs here: " + p.stderr[-300:])
            return 0
        if not R.check("image built from Debian packages (deploy/image/build)", p.returncode == 0,
                       (p.stdout + p.stderr)[-800:]):
            return 1
        R.info(f"image built in {time.time() - t0:.1f} s")
        size = subprocess.run(pm + ["image", "inspect", "--format", "{{.Size}}", tag], capture_output=True, text=True)
        R.info(f"image size {int(size.stdout.strip() or 0) / 1e6:.0f} MB")
        ok, why = busybox_image(pm, tmp)
        if not ok:
            R.skip("cannot make the workload image: " + why[-300:])
            return 0
        port = free_port()
        web = f"sonde-img-web-{port}"
        names.append(web)
        p = subprocess.run(pm + ["run", "-d", "--name", web, "--network=host",
                                 "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096",
                                 "--annotation", "io.kubernetes.pod.name=web-0",
                                 "--annotation", "io.kubernetes.pod.namespace=shop",
                                 "--annotation", "io.kubernetes.container.name=web",
                                 "localhost/sonde-bb:1", "httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www"],
                           capture_output=True, text=True)
        if not R.check("the workload container runs", p.returncode == 0 and wait_port(port), p.stderr[-300:]):
            return 1
        sname = f"sonde-img-{port}"
        names.append(sname)
        argv, args = daemonset_podman_args(pm, sname, tag, tmp)
        args = [a for a in args if not a.startswith("--cri-socket")] + ["--cri-socket=none", "--no-tls",
                                                                          "--port", str(port)]
        R.info("sonde as the DaemonSet runs it: " + " ".join(argv[len(pm):] + args))
        p = subprocess.run(argv + args, capture_output=True, text=True)
        if not R.check("sonde's container started", p.returncode == 0, p.stderr[-500:]):
            return 1
        deadline = time.time() + 30
        logs = ""
        while time.time() < deadline and "capturing with" not in logs:
            time.sleep(0.2)
            logs = subprocess.run(pm + ["logs", sname], capture_output=True, text=True).stderr
        if not R.check("sonde captures in its container (non-root, the DaemonSet's capabilities)",
                       "capturing with" in logs, logs[-800:]):
            return 1
        Child(["curl", "-s", f"http://127.0.0.1:{port}/"], name="curl").wait(timeout=20)
        time.sleep(1.0)
        subprocess.run(pm + ["stop", "-t", "20", sname], capture_output=True)
        lg = subprocess.run(pm + ["logs", sname], capture_output=True, text=True)
        recs = []
        for ln in lg.stdout.splitlines():
            try:
                recs.append(json.loads(ln))
            except ValueError:
                pass
        ex = [r for r in recs if r.get("type") == "exchange" and (r.get("request") or {}).get("target") == "/"]
        if not R.check("the other container's exchange recorded", len(ex) == 1, lg.stderr[-800:]):
            return 1
        sv = ex[0]["conn"]["server"]
        R.info("server end " + json.dumps({k: sv.get(k) for k in ("container", "pod")}))
        R.check("its container and pod named from the node's state (/host mounts)",
                sv.get("container", {}).get("name") == "web" and sv.get("pod", {}).get("name") == "web-0" and
                sv.get("pod", {}).get("namespace") == "shop", sv)
        R.check("its process's user named from the host's /etc/passwd", sv.get("process", {}).get("user") == "root",
                sv.get("process"))
        st = [r for r in recs if r.get("type") == "stats"]
        R.check("stats written at stop", len(st) == 1 and st[0].get("records", 0) >= 1, lg.stderr[-300:])
    finally:
        for n in names:
            subprocess.run(pm + ["rm", "-f", "-t", "0", n], capture_output=True)
        subprocess.run(pm + ["rmi", "-f", tag], capture_output=True)
        kill_children()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
