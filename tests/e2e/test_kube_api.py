#!/usr/bin/env python3
"""--kube-api against a stand-in API server (kubeapi.py: HTTPS with a
throwaway CA, a bearer token, paged lists, chunked watch streams, 410 Gone,
bookmarks), since no real API server can run here. Its Pod, Service and
EndpointSlice objects, lists and watch events are first validated against
the Kubernetes OpenAPI definitions. Then real traffic: curl on the host to
an HTTP server in a network namespace this test makes, on addresses the
API says are this node's pod (from the list), a Service's cluster IP, a
pod on another node behind an EndpointSlice, a pod added by a watch event;
the records name those ends. A malformed event is counted and skipped;
the API server going away mid-watch is counted, the capture goes on, the
client comes back, hears 410 and lists again, and what changed meanwhile
is known; a DELETED pod's IP is no longer named.

Usage: test_kube_api.py [--keep] path/to/sonde. PASS/FAIL/SKIP/INFO lines."""
import json, os, shutil, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from livelib import Report, Child, SondeRun, kill_children, kill_sondes, parse_args

R = Report("kube-api")
TAG = f"ka{os.getpid() % 100000}"
NS = TAG + "n"
IF_H, IF_N = TAG + "h", TAG + "n"
NET = "10.231.7."
HOST_IP = NET + "1"
POD_IP, SVC_IP, REMOTE_IP, LATE_IP, STRAY_IP, RELISTED_IP = (NET + str(i) for i in (2, 3, 4, 5, 6, 7))
PORT = 8080
NODE = "node-a"

SERVER = r'''
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        b = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), H).serve_forever()
'''


def sh(*argv, check=True):
    return subprocess.run(list(argv), check=check, capture_output=True, text=True)


def pod(name, ip, node=NODE, labels=None, uid=None):
    rs = name.rsplit("-", 1)[0]
    md = {"name": name, "namespace": "shop", "uid": uid or f"0000{abs(hash(name)) % 10**8:08d}-aaaa-bbbb-cccc-000000000000",
          "creationTimestamp": "2026-12-07T10:00:00Z", "labels": labels or {},
          "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": "11111111-2222-3333-4444-555555555555",
                               "controller": True, "blockOwnerDeletion": True}]}
    return {"metadata": md,
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "registry.example/shop/app:1.4",
                                                       "ports": [{"containerPort": PORT, "protocol": "TCP"}]}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": HOST_IP,
                       "hostIPs": [{"ip": HOST_IP}], "startTime": "2026-12-07T10:00:01Z"}}


def service(name, ip):
    return {"metadata": {"name": name, "namespace": "shop", "uid": "22222222-3333-4444-5555-666666666666"},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "clusterIPs": [ip], "ipFamilies": ["IPv4"],
                     "ports": [{"name": "http", "port": PORT, "protocol": "TCP", "targetPort": PORT}],
                     "selector": {"app": name}}}


def slice_of(svc, pod_name, ip, node):
    return {"metadata": {"name": svc + "-x7k2q", "namespace": "shop",
                         "labels": {"kubernetes.io/service-name": svc, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True, "serving": True, "terminating": False},
                           "nodeName": node, "targetRef": {"kind": "Pod", "namespace": "shop", "name": pod_name,
                                                           "uid": "33333333-4444-5555-6666-777777777777"}}],
            "ports": [{"name": "http", "port": PORT, "protocol": "TCP"}]}


def validate_fixtures(api_mod, objs):
    """Every fixture, and the list and event shapes the stand-in sends,
    against the OpenAPI definitions."""
    try:
        s = api_mod.Strictness()
    except ImportError:
        R.check("fixtures: python3-jsonschema present", False, "apt-get install python3-jsonschema")
        return False
    ok = True
    for kind, o in objs:
        full = dict(o, apiVersion=api_mod.API_VERSION[kind], kind=kind)
        errs = s.errors(kind, full)
        ok &= R.check(f"fixtures: {kind} {o['metadata']['name']} valid against the OpenAPI schema", not errs, errs[:5])
        lst = {"kind": kind + "List", "apiVersion": api_mod.API_VERSION[kind],
               "metadata": {"resourceVersion": "7", "continue": "2"}, "items": [o]}
        errs = s.errors(kind + "List", lst)
        ok &= R.check(f"fixtures: a {kind}List page valid", not errs, errs[:5])
        ev = {"type": "ADDED", "object": full}
        ok &= R.check(f"fixtures: a {kind} watch event valid", not s.errors("WatchEvent", ev), s.errors("WatchEvent", ev)[:5])
    st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
          "message": "too old resource version", "reason": "Expired", "code": 410}
    ok &= R.check("fixtures: the 410 Status valid", not s.errors("Status", st), s.errors("Status", st))
    bad = dict(pod("x-1", POD_IP), kind="Pod", apiVersion="v1")
    bad["status"]["podIP"] = 7
    ok &= R.check("fixtures: the validator refuses a wrong type", bool(s.errors("Pod", bad)))
    return ok


def setup_net():
    sh("ip", "netns", "add", NS)
    sh("ip", "link", "add", IF_H, "type", "veth", "peer", "name", IF_N)
    sh("ip", "link", "set", IF_N, "netns", NS)
    sh("ip", "addr", "add", HOST_IP + "/24", "dev", IF_H)
    sh("ip", "link", "set", IF_H, "up")
    for ip in (POD_IP, SVC_IP, REMOTE_IP, LATE_IP, STRAY_IP, RELISTED_IP):
        sh("ip", "-n", NS, "addr", "add", ip + "/24", "dev", IF_N)
    sh("ip", "-n", NS, "link", "set", IF_N, "up")
    sh("ip", "-n", NS, "link", "set", "lo", "up")


def teardown_net():
    for p in sh("ip", "netns", "pids", NS, check=False).stdout.split():
        try:
            os.kill(int(p), signal.SIGKILL)
        except OSError:
            pass
    sh("ip", "link", "del", IF_H, check=False)
    sh("ip", "netns", "del", NS, check=False)


def curl(ip, path):
    r = sh("curl", "-sf", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}", f"http://{ip}:{PORT}{path}", check=False)
    return r.stdout == "200"


def wait_for(cond, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def server_end(recs, path):
    return next(((r.get("conn") or {}).get("server") or {} for r in recs
                 if r.get("type") == "exchange" and (r.get("request") or {}).get("target") == path), None)


def run(sonde, tmp, dry):
    import kubeapi
    api = kubeapi.FakeAPI(tmp, NODE)
    objs = [("Pod", pod("payments-5c9d7f8b6-x8k2p", POD_IP, labels={"app": "payments", "pod-template-hash": "5c9d7f8b6"})),
            ("Pod", pod("stray-6b5f4-abcde", STRAY_IP, node="node-b", labels={"app": "stray"})),
            ("Pod", pod("web-7f6d5c4b3-aaaaa", NET + "20", labels={"app": "web"})),
            ("Service", service("checkout", SVC_IP)),
            ("EndpointSlice", slice_of("checkout", "checkout-7d9f8b6c5-q2w3e", REMOTE_IP, "node-b"))]
    if not validate_fixtures(kubeapi, objs):
        return
    for kind, o in objs:
        api.put(kind, o)
    api.start()
    R.info(f"stand-in API server on 127.0.0.1:{api.port}")
    setup_net()
    with open(os.path.join(tmp, "srv.py"), "w") as f:
        f.write(SERVER)
    Child(["ip", "netns", "exec", NS, "/usr/bin/python3", os.path.join(tmp, "srv.py"), str(PORT)], name="server")
    if not R.check("the server in the namespace answers", wait_for(lambda: curl(POD_IP, "/warmup"), 10)):
        return
    os.environ.update(api.env())
    s = SondeRun(sonde, tmp, "kube", ["--port", str(PORT), "--cri-socket", "none", "--kube-api",
                                      "--kube-api-account", api.account], R, dry=dry)
    if not s.ok:
        return
    watching = lambda: all(api.asked(k, True) for k in ("Pod", "Service", "EndpointSlice"))
    R.check("sonde lists, then watches pods, services and endpoint slices", wait_for(watching, 15),
            [(p, q) for p, q, _ in api.requests])
    R.check("pods asked with this node's fieldSelector only", not api.errors, api.errors)
    pages = api.asked("Pod", False)
    R.check("the pod list read page by page (continue)", any(q.get("continue") for q in pages), pages)
    w = api.asked("Pod", True)[0]
    R.check("the watch asks for bookmarks from the list's resourceVersion",
            w.get("allowWatchBookmarks") == "true" and w.get("resourceVersion", "").isdigit(), w)
    ok = [curl(POD_IP, "/pod"), curl(SVC_IP, "/service"), curl(REMOTE_IP, "/remote"), curl(STRAY_IP, "/stray")]
    # A line that is no event, then a pod added by the watch.
    api.inject("Pod", '{"type": "ADDED", "object": {"kind": "Pod", "metadata": ')
    late_rv = api.put("Pod", pod("late-6c5b4a3d2-zzzzz", LATE_IP, labels={"app": "late", "pod-template-hash": "6c5b4a3d2"}))
    R.check("the watch event written to sonde's stream", api.wait_delivered("Pod", late_rv, 30))
    time.sleep(1.0)  # sonde's watch thread applies what it read
    ok.append(curl(LATE_IP, "/late"))
    # The API server goes away mid-watch; meanwhile a pod appears, one goes,
    # and the history is compacted: only a new list can tell.
    api.stop_hard()
    api.put("Pod", pod("relisted-5d4c3b2a1-yyyyy", RELISTED_IP, labels={"app": "relisted"}))
    api.delete("Pod", "shop", "late-6c5b4a3d2-zzzzz")
    api.compact()
    time.sleep(1.0)
    ok.append(curl(POD_IP, "/during-outage"))
    lists_before = len(api.asked("Pod", False))
    time.sleep(2.0)
    api.start(api.port)
    R.check("after the outage sonde lists pods again (410 Gone heard)",
            wait_for(lambda: len(api.asked("Pod", False)) > lists_before and len(api.asked("Pod", True)) >= 2, 40),
            [(p, q) for p, q, _ in api.requests][-8:])
    time.sleep(0.5)
    ok.append(curl(RELISTED_IP, "/relisted"))
    ok.append(curl(LATE_IP, "/late-deleted"))
    R.check("every request answered", all(ok), ok)
    rc, recs = s.stop()
    R.check("sonde exits 0", rc == 0, s.stderr()[-1500:])
    paths = ["/pod", "/service", "/remote", "/stray", "/late", "/during-outage", "/relisted", "/late-deleted"]
    ends = {p: server_end(recs, p) for p in paths}
    R.info("server ends: " + json.dumps(ends)[:1500])
    R.check("every request recorded, the outage's too (capture unaffected)",
            all(ends[p] is not None for p in paths), [p for p in paths if ends[p] is None])
    e = ends["/pod"] or {}
    pd = e.get("pod") or {}
    R.check("this node's pod from the list: name, namespace, uid, ip, labels, workload",
            pd.get("name") == "payments-5c9d7f8b6-x8k2p" and pd.get("namespace") == "shop" and pd.get("ip") == POD_IP
            and (pd.get("labels") or {}).get("app") == "payments" and pd.get("uid", "").endswith("000000000000")
            and pd.get("workload") == {"kind": "Deployment", "name": "payments"} and "process" not in e, e)
    R.check("a Service's cluster IP: the service named, no pod",
            (ends["/service"] or {}).get("service") == {"name": "checkout", "namespace": "shop"}
            and "pod" not in (ends["/service"] or {}), ends["/service"])
    rp = (ends["/remote"] or {}).get("pod") or {}
    R.check("a pod on another node, from its EndpointSlice: name, namespace, uid",
            rp.get("name") == "checkout-7d9f8b6c5-q2w3e" and rp.get("namespace") == "shop"
            and rp.get("uid") == "33333333-4444-5555-6666-777777777777", ends["/remote"])
    R.check("another node's pod (outside the fieldSelector) not named", not (ends["/stray"] or {}).get("pod"), ends["/stray"])
    R.check("a pod added by a watch event named", ((ends["/late"] or {}).get("pod") or {}).get("name") == "late-6c5b4a3d2-zzzzz",
            ends["/late"])
    R.check("named during the outage from what was known", ((ends["/during-outage"] or {}).get("pod") or {}).get("name")
            == "payments-5c9d7f8b6-x8k2p", ends["/during-outage"])
    R.check("a pod only the new list had named", ((ends["/relisted"] or {}).get("pod") or {}).get("name")
            == "relisted-5d4c3b2a1-yyyyy", ends["/relisted"])
    R.check("a pod deleted meanwhile no longer named", not (ends["/late-deleted"] or {}).get("pod"), ends["/late-deleted"])
    st = next((r for r in recs if r.get("type") == "stats"), {})
    R.info("stats: " + json.dumps({k: v for k, v in st.items() if k.startswith("kube_api")}))
    R.check("the outage counted (watch failures) and the 410 as a relist",
            st.get("kube_api_watch_failures", 0) >= 1 and st.get("kube_api_relists", 0) >= 1, st)
    R.check("the malformed event counted, the rest applied",
            st.get("kube_api_bad_events") == 1 and st.get("kube_api_events", 0) >= 3, st)
    R.check("ends named by the API counted", st.get("kube_api_ends_named", 0) >= 6, st)
    R.check("nothing dropped for size or room", not st.get("kube_api_lines_too_long") and not st.get("kube_api_table_full"), st)


def main():
    sonde, dry, keep, only = parse_args(sys.argv[1:])
    if os.geteuid() != 0:
        R.skip("needs root (eBPF capture, a network namespace)")
        return 0
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    tmp = tempfile.mkdtemp(prefix="sonde-kube-")
    os.chmod(tmp, 0o755)
    try:
        run(sonde, tmp, dry)
    finally:
        kill_sondes()
        kill_children()
        teardown_net()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
