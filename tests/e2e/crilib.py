"""A small CRI client for the tests (runtime.v1 over gRPC, grpcio with
messages encoded here by hand: the field numbers are those of
k8s.io/cri-api pkg/apis/runtime/v1/api.proto), and a private containerd
whose CRI plugin serves it. It plays the kubelet: sonde's own CRI client
(src/enrich/cri.c) is what the tests check, so they must not share code.

    c = Containerd(tmp); c.start(); cri = Cri(c.sock)
    sb = cri.run_pod(name, namespace, uid, labels, annotations)
    ctr = cri.create_container(sb, config..., command); cri.start_container(ctr)
"""
import os, subprocess, time

import grpc


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def fbytes(num, b):
    if isinstance(b, str):
        b = b.encode()
    return _varint(num << 3 | 2) + _varint(len(b)) + b


def fint(num, v):
    return _varint(num << 3) + _varint(v)


def fmap(num, d):
    return b"".join(fbytes(num, fbytes(1, k) + fbytes(2, v)) for k, v in (d or {}).items())


def parse(b):
    """{field: [values]}: varints as ints, length-delimited as bytes."""
    out, i = {}, 0
    while i < len(b):
        tag, i = _read_varint(b, i)
        num, wt = tag >> 3, tag & 7
        if wt == 0:
            v, i = _read_varint(b, i)
        elif wt == 2:
            n, i = _read_varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        out.setdefault(num, []).append(v)
    return out


def _read_varint(b, i):
    n = shift = 0
    while True:
        c = b[i]
        i += 1
        n |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return n, i


NODE = 2  # NamespaceMode NODE: the host's network namespace, no CNI needed


def sandbox_config(name, namespace, uid, labels, annotations, host_network=True):
    meta = fbytes(1, name) + fbytes(2, uid) + fbytes(3, namespace)
    # network NODE (or POD, the default 0: the CNI plugins), pid CONTAINER
    nsopt = (fint(1, NODE) if host_network else b"") + fint(2, 1)
    linux = fbytes(2, fbytes(1, nsopt))  # security_context.namespace_options
    host = b"" if host_network else fbytes(2, name)  # a hostname needs a UTS namespace
    return (fbytes(1, meta) + host + fmap(6, labels) + fmap(7, annotations) +
            fbytes(8, linux))


class Cri:
    SVC = "/runtime.v1.RuntimeService/"

    def __init__(self, sock):
        self.ch = grpc.insecure_channel("unix://" + sock)

    def call(self, method, req, timeout=60):
        f = self.ch.unary_unary(self.SVC + method, request_serializer=None, response_deserializer=None)
        return f(req, timeout=timeout)

    def version(self):
        r = parse(self.call("Version", fbytes(1, "v1")))
        return r.get(2, [b""])[0].decode(), r.get(3, [b""])[0].decode()

    def run_pod(self, name, namespace, uid, labels=None, annotations=None, host_network=True):
        conf = sandbox_config(name, namespace, uid, labels, annotations, host_network)
        r = parse(self.call("RunPodSandbox", fbytes(1, conf)))
        sb = r[1][0].decode()
        self.sbconf = getattr(self, "sbconf", {})
        self.sbconf[sb] = conf
        return sb

    def create_container(self, sandbox, name, image, command, labels=None, annotations=None):
        conf = (fbytes(1, fbytes(1, name)) + fbytes(2, fbytes(1, image)) +
                b"".join(fbytes(3, c) for c in command) + fmap(9, labels) + fmap(10, annotations))
        r = parse(self.call("CreateContainer", fbytes(1, sandbox) + fbytes(2, conf) +
                            fbytes(3, self.sbconf[sandbox])))
        return r[1][0].decode()

    def pod_ip(self, sandbox):
        """PodSandboxStatus: status (1) → network (5) → ip (1); "" if none."""
        st = parse(self.call("PodSandboxStatus", fbytes(1, sandbox))).get(1, [b""])[0]
        net = parse(st).get(5, [b""])[0]
        return parse(net).get(1, [b""])[0].decode()

    def start_container(self, cid):
        self.call("StartContainer", fbytes(1, cid))

    def remove_pod(self, sandbox):
        self.call("StopPodSandbox", fbytes(1, sandbox))
        self.call("RemovePodSandbox", fbytes(1, sandbox))

    def list_pods(self):
        return [parse(it) for it in parse(self.call("ListPodSandbox", b"")).get(1, [])]


CONFIG = '''version = 2
root = "{d}/root"
state = "{d}/state"
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/sonde-cri-pause:1"
  stream_server_address = "127.0.0.1"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{d}/cni/conf"
'''

# Pods with their own network: a bridge the test makes (and removes) with
# a private /24, no masquerading; addresses from host-local under the dir.
CNI = '''{{"cniVersion": "0.4.0", "name": "sonde-test", "plugins": [
  {{"type": "bridge", "bridge": "{bridge}", "isGateway": true, "ipMasq": false,
    "ipam": {{"type": "host-local", "ranges": [[{{"subnet": "{subnet}"}}]], "dataDir": "{d}/cni/ipam"}}}}]}}
'''
BRIDGE = "sondecri0"
SUBNET = "10.233.77.0/24"


class Containerd:
    """A private containerd (its own root, state and socket) with its CRI plugin."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "containerd")
        os.makedirs(os.path.join(self.dir, "cni", "conf"), exist_ok=True)
        self.sock = os.path.join(self.dir, "containerd.sock")
        self.proc = None

    def start(self):
        conf = os.path.join(self.dir, "config.toml")
        with open(conf, "w") as f:
            f.write(CONFIG.format(d=self.dir))
        if os.path.exists("/usr/lib/cni/bridge"):
            with open(os.path.join(self.dir, "cni", "conf", "10-sonde-test.conflist"), "w") as f:
                f.write(CNI.format(d=self.dir, bridge=BRIDGE, subnet=SUBNET))
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(["containerd", "--config", conf], stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        for _ in range(200):
            if os.path.exists(self.sock):
                return True
            time.sleep(0.05)
        return False

    def ctr(self, *args, ns="k8s.io"):
        return subprocess.run(["ctr", "-a", self.sock, "-n", ns] + list(args), capture_output=True, text=True)

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.log.close()
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)
        # the shims outlive containerd; their mounts go with the tmp dir
        subprocess.run(["sh", "-c", f"grep -F '{self.dir}' /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r umount -l"],
                       capture_output=True)
