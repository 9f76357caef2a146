#!/usr/bin/env python3
"""The Kubernetes deployment, offline: the Helm chart (deploy/helm/sonde)
rendered by a small Helm-compatible renderer (tests/deploy/render: Go's
text/template with Debian's Sprig — helm is not in Debian), and the plain
manifest (deploy/kubernetes/sonde.yaml), validated against the Kubernetes
OpenAPI definitions of the kinds they hold (tests/deploy/k8s-definitions.json,
cut from the spec by extract_defs.py; its x-source says which). Strict, as
kubeconform -strict: a field the schema does not name is an error. Then the
policy the docs promise: no privileged container by default, the exact
capability list per source, hostPID, hostNetwork only for packet sources,
the mounts, resources, tolerations; the store on a hostPath (on by
default, handed to the agent's user by an init container with only CHOWN
and FOWNER; off, or at another path with its size and age); and the
arguments the chart gives sonde are ones sonde accepts (the store's
values making a real store where they say).
Usage: test_manifests.py [path/to/sonde]. PASS/FAIL/SKIP lines."""
import copy, json, os, shutil, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(ROOT, "tests", "deploy")
failed = False


def check(name, cond, why=""):
    global failed
    print(("PASS " if cond else "FAIL ") + "deploy: " + name + ("" if cond else ": " + str(why)[:1500]), flush=True)
    failed = failed or not cond
    return cond


def skip(why):
    print("SKIP deploy: " + why, flush=True)


try:
    import yaml, jsonschema
except ImportError:
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    yaml = None


def strict(defs):
    """Every object definition with properties refuses other fields;
    IntOrString takes both (the v2 spec says string, kubectl knows better)."""
    d = copy.deepcopy(defs)
    for v in d.values():
        if v.get("type") == "object" and "properties" in v and "additionalProperties" not in v:
            v["additionalProperties"] = False
    d["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {"type": ["integer", "string"]}
    return d


KIND_DEF = {("apps/v1", "DaemonSet"): "io.k8s.api.apps.v1.DaemonSet",
            ("v1", "ServiceAccount"): "io.k8s.api.core.v1.ServiceAccount",
            ("v1", "Namespace"): "io.k8s.api.core.v1.Namespace",
            ("v1", "ConfigMap"): "io.k8s.api.core.v1.ConfigMap"}


class Schema:
    def __init__(self):
        spec = json.load(open(os.path.join(HERE, "k8s-definitions.json")))
        self.source = spec["x-source"]
        self.root = {"definitions": strict(spec["definitions"])}

    def errors(self, doc):
        key = (doc.get("apiVersion"), doc.get("kind"))
        if key not in KIND_DEF:
            return [f"no schema for {key}"]
        sch = dict(self.root, **{"$ref": "#/definitions/" + KIND_DEF[key]})
        v = jsonschema.Draft4Validator(sch)
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(doc)]


def render(renderer, *values):
    argv = [renderer]
    for v in values:
        argv += ["-f", v]
    p = subprocess.run(argv + [os.path.join(ROOT, "deploy", "helm", "sonde")], capture_output=True, text=True)
    if p.returncode:
        return None, p.stderr
    return p.stdout, ""


def docs(text):
    return [d for d in yaml.safe_load_all(text) if d]


def daemonset(ds):
    return [d for d in ds if d["kind"] == "DaemonSet"][0]


def agent_config(ds):
    """The ConfigMap's sonde.yaml (sonde's --config), parsed."""
    cm = [d for d in ds if d["kind"] == "ConfigMap"]
    return yaml.safe_load(cm[0]["data"]["sonde.yaml"]) if cm else None


def run_with_config(sonde, tmp, ds, extra):
    """sonde capture with the DaemonSet's arguments, its --config the
    ConfigMap's file written here."""
    path = os.path.join(tmp, "sonde.yaml")
    with open(path, "w") as f:
        f.write([d for d in ds if d["kind"] == "ConfigMap"][0]["data"]["sonde.yaml"])
    args = daemonset(ds)["spec"]["template"]["spec"]["containers"][0]["args"]
    args = ["--config=" + path if a.startswith("--config=") else a for a in args]
    return subprocess.run([sonde] + args + extra, capture_output=True, text=True, timeout=60)


def build_renderer(tmp):
    if not shutil.which("go"):
        return None, "go is not installed (golang-go)"
    out = os.path.join(tmp, "render")
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode", GOCACHE=os.path.join(tmp, "gocache"))
    p = subprocess.run(["go", "build", "-o", out, "./render"], capture_output=True, text=True,
                       env=env, cwd=HERE)
    if p.returncode:
        return None, "cannot build the renderer (golang-github-masterminds-sprig-dev, golang-gopkg-yaml.v3-dev): " + p.stderr[-400:]
    return out, ""


def policy(name, ds, source):
    pod = ds["spec"]["template"]["spec"]
    c = pod["containers"][0]
    sc = c["securityContext"]
    want = {"ebpf": ["BPF", "PERFMON", "DAC_READ_SEARCH", "SYS_PTRACE"], "tc": ["BPF", "NET_ADMIN"]}.get(source, ["NET_RAW"])
    check(f"{name}: not privileged", not sc.get("privileged"), sc)
    check(f"{name}: capabilities: drop ALL, add exactly {want}",
          sc.get("capabilities") == {"drop": ["ALL"], "add": want}, sc.get("capabilities"))
    check(f"{name}: non-root user, read-only root file system",
          sc.get("runAsNonRoot") is True and sc.get("runAsUser", 0) != 0 and sc.get("readOnlyRootFilesystem") is True, sc)
    check(f"{name}: hostPID", pod.get("hostPID") is True, pod.get("hostPID"))
    check(f"{name}: hostNetwork only for packet sources", pod.get("hostNetwork") is (source != "ebpf"), pod.get("hostNetwork"))
    check(f"{name}: resource requests and limits", set(c["resources"]) == {"requests", "limits"}, c["resources"])
    check(f"{name}: tolerates every taint", {"operator": "Exists"} in pod.get("tolerations", []), pod.get("tolerations"))
    check(f"{name}: no service account token", pod.get("automountServiceAccountToken") is False, pod)
    if source == "ebpf":
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        need = ["/sys/kernel/btf", "/sys/kernel/tracing", "/sys/fs/bpf", "/sys/fs/cgroup", "/run/containerd/containerd.sock"]
        check(f"{name}: mounts {need}, all read-only",
              all(p in mounts and mounts[p].get("readOnly") for p in need), sorted(mounts))
        vols = {v["name"]: v for v in pod["volumes"]}
        state = [m for m in mounts if m.startswith("/host/")]
        check(f"{name}: the runtimes' state under /host, read-only, and --host-root=/host",
              "/host/run/containerd/io.containerd.runtime.v2.task" in state and
              all(mounts[m].get("readOnly") for m in state) and "--host-root=/host" in c["args"], state)
        check(f"{name}: the runtime socket is a hostPath of type Socket",
              vols.get("runtime-socket", {}).get("hostPath", {}).get("type") == "Socket", vols.get("runtime-socket"))


def store_policy(name, ds, path, size, age):
    """The store on the node: hostPath, the same path in the pod, writable,
    the init container that hands it over, and the --config keys."""
    pod = daemonset(ds)["spec"]["template"]["spec"]
    c = pod["containers"][0]
    vols = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    check(f"{name}: the store is a hostPath {path} (DirectoryOrCreate), mounted there writable",
          vols.get("store", {}).get("hostPath") == {"path": path, "type": "DirectoryOrCreate"}
          and mounts.get("store", {}).get("mountPath") == path and not mounts["store"].get("readOnly"),
          [vols.get("store"), mounts.get("store")])
    init = pod.get("initContainers", [])
    sc = init[0]["securityContext"] if init else {}
    check(f"{name}: one init container hands the store to the agent's user, with only CHOWN and FOWNER",
          len(init) == 1 and sc.get("capabilities") == {"drop": ["ALL"], "add": ["CHOWN", "FOWNER"]}
          and sc.get("allowPrivilegeEscalation") is False and not sc.get("privileged")
          and "chown %d:%d /store" % (c["securityContext"]["runAsUser"], c["securityContext"]["runAsGroup"])
          in init[0]["command"][-1]
          and [m["name"] for m in init[0]["volumeMounts"]] == ["store"], init)
    cfg = agent_config(ds)
    check(f"{name}: sonde's --config keeps the store at {path}, size {size!r}, age {age!r}",
          cfg and cfg["store"] == {"enabled": True, "path": path, "size": size, "maxAge": age}, cfg and cfg.get("store"))


def main():
    sonde = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "sonde"))
    if yaml is None:
        skip("needs python3-yaml and python3-jsonschema")
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-deploy-")
    try:
        renderer, why = build_renderer(tmp)
        if not renderer:
            skip(why)
            return 0
        schema = Schema()
        print("INFO deploy: schema: " + schema.source, flush=True)

        # The validator can fail: unknown field, wrong type, missing required.
        bad = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "x"},
               "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "c", "imagee": "x"}],
                                                              "hostPID": "yes"}}}}
        errs = schema.errors(bad)
        check("the validator refuses an unknown field and a wrong type",
              any("imagee" in e for e in errs) and any("hostPID" in e for e in errs), errs)

        text, why = render(renderer)
        if not check("chart renders with its default values", text is not None, why):
            return 1
        ds = docs(text)
        for d in ds:
            e = schema.errors(d)
            check(f"default values: {d['kind']} valid against the OpenAPI schema", not e, e)
        policy("default values", daemonset(ds), "ebpf")
        store_policy("default values", ds, "/var/lib/sonde/store", "1g", "")

        sv = os.path.join(tmp, "store.yaml")
        with open(sv, "w") as f:
            f.write("store:\n  path: /data/sonde\n  size: 5g\n  maxAge: 7d\n")
        text, why = render(renderer, sv)
        ds = docs(text or "")
        if check("chart renders with the store elsewhere", text is not None, why):
            for d in ds:
                e = schema.errors(d)
                check(f"store elsewhere: {d['kind']} valid", not e, e)
            store_policy("store at /data/sonde", ds, "/data/sonde", "5g", "7d")
        nv = os.path.join(tmp, "nostore.yaml")
        with open(nv, "w") as f:
            f.write("store:\n  enabled: false\n")
        text, why = render(renderer, nv)
        ds = docs(text or "")
        if check("chart renders without the store", text is not None, why):
            pod = daemonset(ds)["spec"]["template"]["spec"]
            check("store.enabled false: no hostPath, no mount, no init container",
                  "initContainers" not in pod and all(v["name"] != "store" for v in pod["volumes"])
                  and all(m["name"] != "store" for m in pod["containers"][0]["volumeMounts"])
                  and not schema.errors(daemonset(ds)), pod.get("initContainers"))

        vals = os.path.join(tmp, "targets.yaml")
        with open(vals, "w") as f:
            f.write("capture:\n  tls: false\n  targets:\n"
                    "    - namespace: shop\n      podSelector: 'app=checkout,tier!=db'\n      ports: [8080, 8443]\n"
                    "    - container: web\n      processes: [nginx, envoy]\n"
                    "    - {}\n"
                    "extraArgs: ['--max-conns', '1000']\n")
        text, why = render(renderer, vals)
        check("chart renders with capture targets", text is not None, why)
        ds = docs(text or "")
        for d in ds:
            e = schema.errors(d)
            check(f"targets: {d['kind']} valid", not e, e)
        args = daemonset(ds)["spec"]["template"]["spec"]["containers"][0]["args"] if ds else []
        cfg = agent_config(ds) if ds else None
        check("targets: the values reach sonde as its --config file (a ConfigMap mounted at /etc/sonde)",
              cfg and cfg["capture"]["targets"][0] == {"namespace": "shop", "podSelector": "app=checkout,tier!=db",
                                                       "ports": [8080, 8443]} and
              cfg["capture"]["tls"] is False and "--config=/etc/sonde/sonde.yaml" in args and
              "--max-conns" in args, [args, cfg])

        pk = os.path.join(tmp, "packets.yaml")
        with open(pk, "w") as f:
            f.write("source: af_packet\ninterfaces: [eth0]\nruntimeSocket: ''\n")
        text, why = render(renderer, pk)
        ds = docs(text or "")
        check("chart renders for a packet source", text is not None, why)
        for d in ds:
            e = schema.errors(d)
            check(f"af_packet: {d['kind']} valid", not e, e)
        if ds:
            policy("af_packet", daemonset(ds), "af_packet")

        tc = os.path.join(tmp, "tc.yaml")
        with open(tc, "w") as f:
            f.write("source: tc\n")
        text, why = render(renderer, tc)
        ds = docs(text or "")
        if check("chart renders for the tc source", text is not None, why):
            for d in ds:
                e = schema.errors(d)
                check(f"tc: {d['kind']} valid", not e, e)
            policy("tc", daemonset(ds), "tc")

        pv = os.path.join(tmp, "priv.yaml")
        with open(pv, "w") as f:
            f.write("privileged: true\n")
        text, _ = render(renderer, pv)
        ds = docs(text or "")
        sc = daemonset(ds)["spec"]["template"]["spec"]["containers"][0]["securityContext"] if ds else {}
        check("privileged: true only when asked", sc.get("privileged") is True and not schema.errors(daemonset(ds)), sc)

        # deploy/kubernetes: the chart with its defaults, and a namespace.
        plain = docs(open(os.path.join(ROOT, "deploy", "kubernetes", "sonde.yaml")).read())
        for d in plain:
            e = schema.errors(d)
            check(f"deploy/kubernetes/sonde.yaml: {d['kind']} valid", not e, e)
        text, _ = render(renderer)
        check("deploy/kubernetes/sonde.yaml is the chart rendered with its defaults",
              [d for d in plain if d["kind"] != "Namespace"] == docs(text), "re-render it (docs/deploy.md)")

        # sonde takes the arguments and the file the chart gives it (the
        # command line's --cri-socket wins over the file's); a typo in
        # the values reaches sonde, which refuses it with its line.
        if os.geteuid() == 0 and os.access(sonde, os.X_OK):
            # the default store is the node's /var/lib/sonde/store: elsewhere here
            extra = ["--cri-socket=none", "--duration=1s", "-q", "--audit-log=none",
                     "--store=" + os.path.join(tmp, "st-default")]
            p = run_with_config(sonde, tmp, docs(render(renderer, vals)[0]), extra)
            check("sonde accepts the chart's arguments and --config file (a 1 s capture)", p.returncode == 0,
                  p.stderr[-500:])
            here = os.path.join(tmp, "node-store")
            hv = os.path.join(tmp, "here.yaml")
            with open(hv, "w") as f:
                f.write("store:\n  path: %s\n  size: 8m\n" % here)
            p = run_with_config(sonde, tmp, docs(render(renderer, hv)[0]), extra[:-1])
            segs = [n for n in os.listdir(here) if n.startswith("seg-")] if os.path.isdir(here) else []
            check("the chart's store values make a store where they say (sonde capture, 1 s)",
                  p.returncode == 0 and segs, (p.stderr[-500:], segs))
            agent = "/var/lib/sonde/store"
            there = os.path.exists(agent)
            p = run_with_config(sonde, tmp, docs(render(renderer, nv)[0]), extra[:-1])
            check("store.enabled false: sonde runs and keeps no store (" + agent +
                  (" existed before: not telling)" if there else " not made)"),
                  p.returncode == 0 and (there or not os.path.exists(agent)), p.stderr[-500:])
            typo = os.path.join(tmp, "typo.yaml")
            with open(typo, "w") as f:
                f.write("capture:\n  targetz: []\n")
            p = run_with_config(sonde, tmp, docs(render(renderer, typo)[0]), extra)
            check("a key sonde does not know, in the values, is refused by sonde with its line",
                  p.returncode == 2 and "unknown key 'targetz' in capture" in p.stderr and "sonde.yaml:" in p.stderr,
                  p.stderr[-500:])
        else:
            skip("sonde run with the chart's arguments: needs root and a built sonde")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
