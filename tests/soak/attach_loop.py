#!/usr/bin/env python3
"""The traced programs are never harmed: nginx (plain HTTP), a Node.js HTTPS
server and a Go HTTPS server (when Go is installed) serve a steady load
while `sonde capture` — TLS probing on — is attached and detached again and
again, stopped alternately by SIGINT and SIGKILL. No request may fail, no
server may die, and after the last SIGKILL nothing of sonde is left in the
kernel (its programs are gone once its descriptors are).

    tests/soak/attach_loop.py [--long] path/to/sonde   (--long: 50 cycles, else 10)

PASS/FAIL/SKIP/INFO lines, as tests/run counts them."""
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
from livelib import Report, free_port, wait_port  # noqa: E402

R = Report("attach-loop")


HERE = os.path.dirname(os.path.abspath(__file__))
E2E = os.path.join(os.path.dirname(HERE), "e2e")


def bpf_progs():
    """id -> the pids holding it, for every program in the kernel."""
    p = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True)
    try:
        progs = json.loads(p.stdout or "[]")
    except ValueError:
        return {}
    return {x["id"]: {h["pid"] for h in x.get("pids", [])} for x in progs}


def sondes_running():
    n = 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/comm") as f:
                    n += f.read().strip() == "sonde"
            except OSError:
                pass
    return n


class Load(threading.Thread):
    """Requests back to back on keep-alive connections, a new connection
    every 20; counts successes and failures."""

    def __init__(self, name, port, tls):
        super().__init__(daemon=True, name=name)
        self.port, self.tls = port, tls
        self.path = "/index.html" if name == "node" else None  # node serves files
        self.ok = self.errors = 0
        self.last_error = None
        self.stop = False

    def conn(self):
        if self.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10, context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def run(self):
        i = 0
        while not self.stop:
            c = self.conn()
            try:
                for _ in range(20):
                    c.request("GET", self.path or f"/loop-{i}")
                    r = c.getresponse()
                    r.read()
                    if r.status == 200:
                        self.ok += 1
                    else:
                        self.errors += 1
                        self.last_error = f"status {r.status}"
                    i += 1
            except (OSError, http.client.HTTPException) as e:
                self.errors += 1
                self.last_error = repr(e)
            finally:
                c.close()


def start_servers(tmp, children):
    servers = {}
    key, crt = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                    "-keyout", key, "-out", crt, "-days", "1"], check=True, capture_output=True)
    if shutil.which("nginx"):
        port = free_port()
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"daemon off; worker_processes 1; pid {tmp}/nginx.pid; error_log stderr;\n"
                    "events {}\nhttp { access_log off;\n"
                    f"  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};\n"
                    f"  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};\n"
                    f"  server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"ok\\n\"; }} }} }}\n")
        children.append(subprocess.Popen(["nginx", "-c", conf, "-p", tmp], stderr=subprocess.DEVNULL,
                                         start_new_session=True))
        servers["nginx"] = (port, False, children[-1])
    if shutil.which("node"):
        port = free_port()
        www = os.path.join(tmp, "www")
        os.makedirs(www, exist_ok=True)
        with open(os.path.join(www, "index.html"), "w") as f:
            f.write("ok\n")
        children.append(subprocess.Popen(["node", os.path.join(E2E, "tls", "node_server.js"), str(port), key,
                                          crt, www], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True))
        servers["node"] = (port, True, children[-1])
    go = shutil.which("go")
    if go:
        out = os.path.join(tmp, "goserver")
        env = dict(os.environ, HOME=tmp, GOCACHE=os.path.join(tmp, "gocache"), GOPATH=os.path.join(tmp, "gopath"),
                   GO111MODULE="off", GOFLAGS="", GOTOOLCHAIN="local", GOPROXY="off")
        b = subprocess.run([go, "build", "-o", out, os.path.join(E2E, "go", "server", "main.go")], env=env,
                           capture_output=True, text=True, timeout=600, cwd=tmp)
        if R.check("the Go HTTPS server builds", b.returncode == 0, b.stderr[-800:]):
            port = free_port()
            children.append(subprocess.Popen([out, str(port), crt, key], stdin=subprocess.PIPE,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                             start_new_session=True))
            servers["go"] = (port, True, children[-1])
    else:
        R.skip("go not installed: no Go server in the loop")
    return servers


def main():
    argv = [a for a in sys.argv[1:] if not a.startswith("--")]
    cycles = 50 if "--long" in sys.argv else 10
    sonde = os.path.abspath(argv[0] if argv else "./sonde")
    if os.geteuid() != 0:
        R.skip("needs root (live capture)")
        return 0
    if not shutil.which("bpftool"):
        R.skip("bpftool not installed")
        return 0
    tmp = tempfile.mkdtemp(prefix="sonde-attach-")
    os.chmod(tmp, 0o755)
    children = []
    loads = []
    try:
        servers = start_servers(tmp, children)
        for name, (port, _, _) in servers.items():
            R.check(f"{name} serving", wait_port(port))
        ours = set()  # the programs our sondes held while running
        before = set(bpf_progs())
        new = set()  # programs that appeared while ours ran, for where bpftool names no holders
        loads = [Load(n, p, tls) for n, (p, tls, _) in servers.items()]
        for ld in loads:
            ld.start()
        ports = ",".join(str(p) for p, _, _ in servers.values())
        started = 0
        for i in range(cycles):
            how = "SIGKILL" if i % 2 else "SIGINT"
            err = os.path.join(tmp, f"sonde-{i}.err")
            with open(err, "w") as e:
                p = subprocess.Popen([sonde, "capture", "--port", ports, "--audit-log", "none", "-o", "json"],
                                     stdout=subprocess.DEVNULL, stderr=e, start_new_session=True)
            t0 = time.time()
            while time.time() - t0 < 60 and p.poll() is None and "capturing with" not in open(err).read():
                time.sleep(0.05)
            started += "capturing with" in open(err).read()
            time.sleep(0.5)
            now = bpf_progs()
            ours |= {i for i, pids in now.items() if p.pid in pids}
            new |= set(now) - before
            p.send_signal(signal.SIGKILL if how == "SIGKILL" else signal.SIGINT)
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        R.check(f"sonde attached {cycles} times (SIGINT and SIGKILL in turn)", started == cycles,
              f"{started} started")
        time.sleep(1)
        for ld in loads:
            ld.stop = True
        for ld in loads:
            ld.join(timeout=30)
        for ld in loads:
            R.info(f"{ld.name}: {ld.ok} requests served, {ld.errors} failed")
            R.check(f"{ld.name}: no request failed while sonde came and went", ld.errors == 0 and ld.ok > 0,
                  f"{ld.errors} failed ({ld.last_error}), {ld.ok} served")
        for name, (_, _, proc) in servers.items():
            R.check(f"{name} still running", proc.poll() is None, f"exit {proc.returncode}")
        deadline = time.time() + 20  # a SIGINT'd sonde lets its probes go in a child
        while time.time() < deadline and sondes_running():
            time.sleep(0.2)
        if not ours:  # this bpftool names no holders (no pid iterator here)
            R.info("bpftool names no program holders here: checking the programs that came with sonde")
            ours = new
        left = ours & set(bpf_progs())
        deadline = time.time() + 30
        while left and time.time() < deadline:
            time.sleep(0.5)
            left = ours & set(bpf_progs())
        R.check(f"nothing of sonde left in the kernel after the last SIGKILL ({len(ours)} programs held)",
                bool(ours) and not left, sorted(left))
        return 1 if R.failed else 0
    finally:
        for ld in loads:
            ld.stop = True
        for c in children:
            if c.poll() is None:
                try:
                    os.killpg(c.pid, signal.SIGKILL)
                except OSError:
                    pass
                c.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
