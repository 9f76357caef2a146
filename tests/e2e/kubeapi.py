"""A stand-in for the Kubernetes API server, for tests of sonde's
--kube-api client: HTTPS with a throwaway CA (openssl, made per test), a
bearer token, and the list/watch protocol as the API server speaks it —
paged lists (limit, continue) with the list's resourceVersion, watches
from a resourceVersion as a chunked stream of JSON lines ({"type":
"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR", "object": ...}), bookmarks when
asked, an ERROR event with a 410 Status when the version asked for has
been compacted away, and fieldSelector=spec.nodeName for pods. The
objects are given by the test; validate() checks them against the
Kubernetes OpenAPI definitions (tests/deploy/k8s-definitions.json)."""
import copy, http.server, json, os, socket, ssl, subprocess, threading, time, urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFS = os.path.join(ROOT, "tests", "deploy", "k8s-definitions.json")

PATHS = {"/api/v1/pods": "Pod", "/api/v1/services": "Service",
         "/apis/discovery.k8s.io/v1/endpointslices": "EndpointSlice"}
API_VERSION = {"Pod": "v1", "Service": "v1", "EndpointSlice": "discovery.k8s.io/v1"}
DEF_NAME = {"Pod": "io.k8s.api.core.v1.Pod", "Service": "io.k8s.api.core.v1.Service",
            "EndpointSlice": "io.k8s.api.discovery.v1.EndpointSlice",
            "PodList": "io.k8s.api.core.v1.PodList", "ServiceList": "io.k8s.api.core.v1.ServiceList",
            "EndpointSliceList": "io.k8s.api.discovery.v1.EndpointSliceList",
            "Status": "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
            "WatchEvent": "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent"}


def make_pki(d):
    """A CA and a server certificate for 127.0.0.1 (IP SAN), by openssl."""
    def run(*a):
        subprocess.run(["openssl"] + list(a), check=True, capture_output=True)
    ca, cakey = os.path.join(d, "ca.crt"), os.path.join(d, "ca.key")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", cakey, "-out", ca, "-days", "2",
        "-subj", "/CN=test-kubernetes-ca", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    key, csr, crt = (os.path.join(d, n) for n in ("apiserver.key", "apiserver.csr", "apiserver.crt"))
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=kube-apiserver")
    ext = os.path.join(d, "san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey, "-CAcreateserial", "-out", crt,
        "-days", "2", "-extfile", ext)
    return ca, crt, key


class Strictness:
    """The OpenAPI definitions, strict as kubeconform -strict (no field the
    schema does not name)."""

    def __init__(self):
        import jsonschema
        self.js = jsonschema
        d = json.load(open(DEFS))["definitions"]
        for v in d.values():
            if v.get("type") == "object" and "properties" in v and "additionalProperties" not in v:
                v["additionalProperties"] = False
        d["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {"type": ["integer", "string"]}
        self.defs = d

    def errors(self, kind, obj):
        schema = {"$ref": "#/definitions/" + DEF_NAME[kind], "definitions": self.defs}
        v = self.js.Draft4Validator(schema)
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(obj)]


class FakeAPI:
    def __init__(self, tmp, node, token="sonde-test-token"):
        self.dir = os.path.join(tmp, "kubeapi")
        self.account = os.path.join(tmp, "serviceaccount")
        os.makedirs(self.dir, exist_ok=True)
        os.makedirs(self.account, exist_ok=True)
        self.ca, self.crt, self.key = make_pki(self.dir)
        with open(self.ca) as f, open(os.path.join(self.account, "ca.crt"), "w") as o:
            o.write(f.read())
        with open(os.path.join(self.account, "token"), "w") as o:
            o.write(token + "\n")
        with open(os.path.join(self.account, "namespace"), "w") as o:
            o.write("sonde\n")
        os.chmod(self.account, 0o755)
        for n in ("ca.crt", "token", "namespace"):
            os.chmod(os.path.join(self.account, n), 0o644)
        self.node, self.token = node, token
        self.cond = threading.Condition()
        self.rv = 100
        self.objects = {k: {} for k in API_VERSION}  # kind -> (ns, name) -> object
        self.events = {k: [] for k in API_VERSION}  # kind -> [(rv, type, object)]
        self.oldest = {k: 0 for k in API_VERSION}  # watches from before: 410
        self.requests = []  # (path, query dict, status)
        self.errors = []  # what the client did wrong
        self.garbage = {k: [] for k in API_VERSION}  # raw lines to send next in watches
        self.delivered = {k: 0 for k in API_VERSION}  # newest version a watch stream wrote
        self.server = None
        self.conns = set()
        self.port = None

    # -- objects ----------------------------------------------------------
    def _stamp(self, kind, obj):
        self.rv += 1
        o = copy.deepcopy(obj)
        o["apiVersion"], o["kind"] = API_VERSION[kind], kind
        o["metadata"]["resourceVersion"] = str(self.rv)
        return o

    def put(self, kind, obj):
        """Store obj as a new version; returns that version."""
        with self.cond:
            key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            t = "MODIFIED" if key in self.objects[kind] else "ADDED"
            o = self._stamp(kind, obj)
            self.objects[kind][key] = o
            self.events[kind].append((self.rv, t, o))
            self.cond.notify_all()
            return self.rv

    def delete(self, kind, ns, name):
        with self.cond:
            o = self.objects[kind].pop((ns, name))
            o = self._stamp(kind, o)
            self.events[kind].append((self.rv, "DELETED", o))
            self.cond.notify_all()

    def compact(self):
        """Forget the event history (etcd compaction): a watch from an
        older version gets 410 Gone."""
        with self.cond:
            for k in self.events:
                self.events[k] = []
                self.oldest[k] = self.rv
            self.cond.notify_all()

    def inject(self, kind, raw):
        with self.cond:
            self.garbage[kind].append(raw)
            self.cond.notify_all()

    def wait_delivered(self, kind, rv, timeout):
        """Wait until a watch stream has written version rv of kind (a
        loaded machine can take longer than any fixed pause)."""
        end = time.time() + timeout
        with self.cond:
            while self.delivered[kind] < rv and time.time() < end:
                self.cond.wait(0.1)
            return self.delivered[kind] >= rv

    def asked(self, kind, watch):
        path = next(p for p, k in PATHS.items() if k == kind)
        return [q for p, q, s in self.requests if p == path and ("watch" in q) == watch and s == 200]

    # -- the server -------------------------------------------------------
    def start(self, port=0):
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                with api.cond:
                    api.conns.add(self.connection)

            def finish(self):
                with api.cond:
                    api.conns.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def do_GET(self):
                try:
                    api.serve(self)
                except (OSError, ssl.SSLError):
                    pass

        class Server(http.server.ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server(("127.0.0.1", port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.crt, self.key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop_hard(self):
        """The API server goes away: the listener closed, every connection
        cut mid-stream."""
        self.server.shutdown()
        self.server.server_close()
        with self.cond:
            for c in list(self.conns):
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.cond.notify_all()

    def env(self):
        return {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(self.port),
                "NODE_NAME": self.node}

    # -- requests ---------------------------------------------------------
    def reply(self, h, status, body):
        b = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(b)))
        h.end_headers()
        h.wfile.write(b)

    def status(self, code, reason, message):
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code}

    def serve(self, h):
        u = urllib.parse.urlsplit(h.path)
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        kind = PATHS.get(u.path)
        st = 200
        if h.headers.get("Authorization") != "Bearer " + self.token:
            st = 401
            self.reply(h, st, self.status(401, "Unauthorized", "Unauthorized"))
        elif not kind:
            st = 404
            self.reply(h, st, self.status(404, "NotFound", "the server could not find the requested resource"))
        elif kind == "Pod" and q.get("fieldSelector") != "spec.nodeName=" + self.node:
            st = 400
            self.errors.append("pods asked without this node's fieldSelector: " + h.path)
            self.reply(h, st, self.status(400, "BadRequest", "this test serves one node's pods"))
        self.requests.append((u.path, q, st))
        if st != 200:
            return
        if q.get("watch") in ("1", "true"):
            self.watch(h, kind, q)
        else:
            self.list(h, kind, q)

    def list(self, h, kind, q):
        with self.cond:
            items = [copy.deepcopy(o) for _, o in sorted(self.objects[kind].items())
                     if kind != "Pod" or o["spec"].get("nodeName") == self.node]
            rv = str(self.rv)
        for o in items:  # items of a list carry no kind of their own
            o.pop("kind"), o.pop("apiVersion")
        # Pages of one (the server may give fewer than the limit).
        start = int(q.get("continue") or 0)
        page = min(int(q.get("limit") or 500), 1)
        md = {"resourceVersion": rv}
        if start + page < len(items):
            md["continue"] = str(start + page)
        self.reply(h, 200, {"kind": kind + "List", "apiVersion": API_VERSION[kind], "metadata": md,
                            "items": items[start:start + page]})

    def chunk(self, h, obj=None, raw=None):
        b = (raw if raw is not None else json.dumps(obj)).encode() + b"\n"
        h.wfile.write(b"%x\r\n%s\r\n" % (len(b), b))
        h.wfile.flush()

    def watch(self, h, kind, q):
        since = int(q.get("resourceVersion") or 0)
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        with self.cond:
            gone = since < self.oldest[kind]
        if gone:
            self.chunk(h, {"type": "ERROR", "object": self.status(410, "Expired", "too old resource version")})
            h.wfile.write(b"0\r\n\r\n")
            return
        until = time.time() + min(int(q.get("timeoutSeconds") or 60), 60)
        bookmarks = q.get("allowWatchBookmarks") == "true"
        next_bookmark = time.time() + 1
        while time.time() < until and self.server.socket.fileno() >= 0:
            with self.cond:
                evs = [e for e in self.events[kind] if e[0] > since]
                raws, self.garbage[kind] = self.garbage[kind], []
                if not evs and not raws:
                    self.cond.wait(0.2)
                    if since < self.oldest[kind]:
                        break  # compacted under it: the client comes back and hears 410
            for r in raws:
                self.chunk(h, raw=r)
            for rv, t, o in evs:
                self.chunk(h, {"type": t, "object": o})
                since = rv
                with self.cond:
                    self.delivered[kind] = max(self.delivered[kind], rv)
                    self.cond.notify_all()
            if bookmarks and time.time() >= next_bookmark:
                self.chunk(h, {"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": API_VERSION[kind],
                                                              "metadata": {"resourceVersion": str(since)}}})
                next_bookmark = time.time() + 1
        h.wfile.write(b"0\r\n\r\n")
