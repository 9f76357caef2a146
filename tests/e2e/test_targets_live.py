#!/usr/bin/env python3
"""Capture targets, live, applied in the kernel: busybox httpd servers in
podman containers carrying the annotations a kubelet sets (namespace,
container name), curl on the host.
  - `--target namespace=shop`: only the shop container's exchange is
    recorded; the other namespace's container, whose page is 300 kB, moves
    nothing through traced sockets (ebpf_bytes stays far below it) and the
    kernel counts the calls it did not follow (ebpf_target_skipped_calls);
    a container annotated sonde.dev/capture=false is left out although its
    namespace is selected; one started after sonde is followed;
    process= selects by the command name of the container's processes.
  - sonde.dev/ports on a container: only that port of it is followed.
  - Without --target, the same traffic is all recorded (the checks above
    can fail).
  - With containerd's CRI (as in test_cri_live.py), `--target
    'pod=app=checkout,tier!=db'` selects by the pods' labels.
Usage: test_targets_live.py [path/to/sonde]. PASS/FAIL/SKIP/INFO lines."""
import os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from livelib import Report, Child, SondeRun, free_port, wait_port, kill_children, kill_sondes, parse_args
from test_enrich_live import podman_works, busybox_image

try:  # the CRI half's client uses grpcio, Debian's python3-grpcio: its python
    import grpc  # noqa: F401
except ImportError:
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)

R = Report("targets-live")
BIG = 300000


def exchanges(recs):
    return [r for r in recs if r.get("type") == "exchange"]


def stats(recs):
    st = [r for r in recs if r.get("type") == "stats"]
    return st[0] if st else {}


def ports_seen(recs):
    return {r["conn"]["server"]["port"] for r in exchanges(recs)}


class Ctr:
    def __init__(self, pm, name, ns, ports, annotations=()):
        self.pm, self.name, self.ports = pm, name, ports
        serve = "; ".join(f"httpd -p 127.0.0.1:{p} -h /www" for p in ports[1:])
        serve = (serve + "; " if serve else "") + f"exec httpd -f -p 127.0.0.1:{ports[0]} -h /www"
        argv = pm + ["run", "-d", "--name", name, "--network=host",
                     "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096",
                     "--annotation", f"io.kubernetes.pod.name={name}-0",
                     "--annotation", f"io.kubernetes.pod.namespace={ns}",
                     "--annotation", f"io.kubernetes.container.name={name}"]
        for a in annotations:
            argv += ["--annotation", a]
        argv += ["localhost/sonde-bb:1", "sh", "-c",
                 f"busybox dd if=/dev/zero of=/www/big bs=1000 count={BIG // 1000} 2>/dev/null; {serve}"]
        p = subprocess.run(argv, capture_output=True, text=True)
        self.ok = p.returncode == 0 and all(wait_port(x) for x in ports)
        self.why = p.stderr[-300:]

    def rm(self):
        subprocess.run(self.pm + ["rm", "-f", "-t", "0", self.name], capture_output=True)


def curl(port, path="/big"):
    Child(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}{path}"], name="curl").wait(timeout=20)


def podman_targets(sonde, tmp, dry):
    pm, why = podman_works(tmp)
    if not pm:
        R.skip("podman: " + why)
        return
    ok, why = busybox_image(pm, tmp)
    if not ok:
        R.skip("podman: cannot make a local image: " + why[-300:])
        return
    pa, pb, pc, pd1, pd2, pe = (free_port() for _ in range(6))
    ctrs = []
    try:
        ctrs = [Ctr(pm, f"st-a-{pa}", "shop", [pa]),
                Ctr(pm, f"st-b-{pa}", "other", [pb]),
                Ctr(pm, f"st-c-{pa}", "shop", [pc], ["sonde.dev/capture=false"]),
                Ctr(pm, f"st-d-{pa}", "ports", [pd1, pd2], [f"sonde.dev/ports={pd2}"])]
        bad = [c for c in ctrs if not c.ok]
        if bad:
            R.skip("podman: cannot run the containers here: " + bad[0].why)
            return

        run = SondeRun(sonde, tmp, "all", ["--no-tls"], R, dry=dry)
        if not run.ok:
            return
        for p in (pa, pb, pc):
            curl(p)
        rc, recs = run.stop()
        s = stats(recs)
        R.check("without --target: every container's exchange recorded",
                {pa, pb, pc} <= ports_seen(recs), ports_seen(recs))
        R.check("without --target: the big pages moved through traced sockets",
                s.get("ebpf_bytes", 0) > 3 * BIG, s.get("ebpf_bytes"))

        run = SondeRun(sonde, tmp, "shop", ["--no-tls", "--target", "namespace=shop",
                                            "--target", "namespace=ports"], R, dry=dry)
        if not run.ok:
            return
        for p in (pa, pb, pc, pd1, pd2):
            curl(p)
        late = Ctr(pm, f"st-e-{pa}", "shop", [pe])
        ctrs.append(late)
        time.sleep(2.5)  # the next walk of the cgroups
        curl(pe)
        rc, recs = run.stop()
        s = stats(recs)
        seen = ports_seen(recs)
        R.info(f"ports recorded {sorted(seen)}; a={pa} b={pb} c={pc} d={pd1},{pd2} e={pe}")
        R.info("stats " + str({k: s.get(k) for k in ("ebpf_bytes", "ebpf_captured_bytes", "ebpf_target_skipped_calls",
                                                      "target_scans", "target_cgroups", "target_cgroups_unselected")}))
        R.check("sonde exit status 0", rc == 0, run.stderr()[-500:])
        R.check("--target namespace=shop: the shop container's exchange recorded", pa in seen, seen)
        R.check("the other namespace's container: not recorded", pb not in seen, seen)
        R.check("sonde.dev/capture=false: not recorded although its namespace is selected", pc not in seen, seen)
        R.check("sonde.dev/ports: only the annotated port of that container", pd2 in seen and pd1 not in seen, seen)
        R.check("a container started after sonde is followed", late.ok and pe in seen, (late.ok, seen))
        # a, d2 and e moved ~BIG each; b, c and d1 would add 3 x BIG more
        R.check("the kernel copied nothing of the unselected: ebpf_bytes below 3.5 x the page",
                s.get("ebpf_bytes", 0) < 3.5 * BIG, s.get("ebpf_bytes"))
        R.check("the kernel counted the calls it did not follow", s.get("ebpf_target_skipped_calls", 0) > 0, s)
        R.check("target counters: scans, cgroups selected and left out",
                s.get("target_scans", 0) >= 2 and s.get("target_cgroups", 0) >= 3 and
                s.get("target_cgroups_unselected", 0) >= 2, s)

        # process=: the same container, by its processes' command name.
        run = SondeRun(sonde, tmp, "process", ["--no-tls", "--target", "namespace=shop;process=nosuch",
                                               "--target", "namespace=ports;process=httpd"], R, dry=dry)
        if not run.ok:
            return
        for p in (pa, pd2):
            curl(p)
        rc, recs = run.stop()
        seen = ports_seen(recs)
        R.check("process=: a container's processes of another name are not followed, of its name they are",
                pa not in seen and pd2 in seen, (pa, pd2, seen))
    finally:
        for c in ctrs:
            c.rm()


def cri_targets(sonde, tmp, dry):
    try:
        from crilib import Cri, Containerd
        from test_cri_live import images
    except ImportError as e:
        R.skip("cri: no grpcio for the test's CRI client: " + str(e))
        return
    if not shutil.which("containerd") or not shutil.which("ctr"):
        R.skip("cri: containerd is not installed")
        return
    arch, why = images(os.path.join(tmp, "cri"))
    if not arch:
        R.skip("cri: cannot build the local images: " + why)
        return
    cd = Containerd(tmp)
    pods = []
    try:
        if not R.check("cri: containerd started", cd.start(), ""):
            return
        time.sleep(0.5)
        for a in arch:
            cd.ctr("images", "import", a)
        cri = Cri(cd.sock)
        p1, p2 = free_port(), free_port()
        for name, port, tier in (("checkout-web", p1, "web"), ("checkout-db", p2, "db")):
            sb = cri.run_pod(name, "shop", "uid-" + name, {"app": "checkout", "tier": tier})
            pods.append(sb)
            cid = cri.create_container(sb, name, "localhost/sonde-cri-app:1",
                                       ["httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www"])
            cri.start_container(cid)
        if not R.check("cri: two pods run", wait_port(p1) and wait_port(p2), ""):
            return
        run = SondeRun(sonde, tmp, "cri", ["--no-tls", "--cri-socket", cd.sock,
                                           "--target", "pod=app=checkout,tier!=db"], R, dry=dry)
        if not run.ok:
            return
        curl(p1, "/")
        curl(p2, "/")
        rc, recs = run.stop()
        seen = ports_seen(recs)
        R.check("cri: pod=app=checkout,tier!=db selects the web pod, not the db pod",
                p1 in seen and p2 not in seen, (p1, p2, seen))
        ex = [r for r in exchanges(recs) if r["conn"]["server"]["port"] == p1]
        R.check("cri: its record names the pod's labels",
                ex and ex[0]["conn"]["server"].get("pod", {}).get("labels", {}).get("tier") == "web", ex[:1])
    finally:
        for sb in pods:
            try:
                cri.remove_pod(sb)
            except Exception:  # noqa: BLE001
                pass
        cd.stop()


def main():
    sonde, dry, keep, only = parse_args(sys.argv[1:])
    if os.geteuid() != 0:
        R.skip("needs root (eBPF)")
        return 0
    if not shutil.which("curl"):
        R.skip("curl is not installed")
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-targets-")
    try:
        if only is None or "podman" in only:
            podman_targets(sonde, tmp, dry)
        if only is None or "cri" in only:
            cri_targets(sonde, tmp, dry)
    finally:
        kill_sondes()
        kill_children()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
