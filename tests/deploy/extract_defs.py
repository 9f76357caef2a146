#!/usr/bin/env python3
"""Cut the Kubernetes OpenAPI (v2) spec down to the definitions sonde's
manifests are validated against — the kinds below and everything they
reference — so the test runs offline. Run once per Kubernetes version:

    extract_defs.py swagger.json VERSION SOURCE > k8s-definitions.json
"""
import json, sys

KINDS = ["io.k8s.api.apps.v1.DaemonSet", "io.k8s.api.core.v1.ServiceAccount", "io.k8s.api.core.v1.Namespace",
         "io.k8s.api.core.v1.ConfigMap",
         # the Kubernetes API path: its RBAC, and what the test's API server serves
         "io.k8s.api.rbac.v1.ClusterRole", "io.k8s.api.rbac.v1.ClusterRoleBinding",
         "io.k8s.api.core.v1.PodList", "io.k8s.api.core.v1.ServiceList",
         "io.k8s.api.discovery.v1.EndpointSliceList",
         "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent", "io.k8s.apimachinery.pkg.apis.meta.v1.Status"]


def refs(o, out):
    if isinstance(o, dict):
        r = o.get("$ref")
        if isinstance(r, str) and r.startswith("#/definitions/"):
            out.add(r[len("#/definitions/"):])
        for v in o.values():
            refs(v, out)
    elif isinstance(o, list):
        for v in o:
            refs(v, out)


def main():
    spec, version, source = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
    defs = spec["definitions"]
    keep, todo = {}, list(KINDS)
    while todo:
        n = todo.pop()
        if n in keep:
            continue
        keep[n] = defs[n]
        found = set()
        refs(defs[n], found)
        todo.extend(sorted(found - set(keep)))
    out = {"x-source": source, "x-kubernetes-version": version, "x-kinds": KINDS,
           "definitions": dict(sorted(keep.items()))}
    json.dump(out, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
