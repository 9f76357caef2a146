"""What the live end-to-end tests share: verdict lines, ports, child
processes and sonde runs.

    from livelib import Report, Child, SondeRun, free_port, wait_port, kill_children

Verdicts are lines tests/run counts: "PASS <prefix>: name", "FAIL <prefix>:
name: why", "SKIP <prefix>: why", and "INFO <prefix>: ..." for the reader.
Every child runs in its own session (process group), so that kill_children()
at the end of a test stops it and everything it forked, whatever happened
before.
"""
import json
import shutil
import os
import signal
import socket
import subprocess
import threading
import time


def parse_args(argv):
    """A live test's arguments: [--dry] [--keep] [--only NAME,...] [path/to/sonde]
    -> (sonde, dry, keep, only: a set of names or None). SONDE_E2E_KEEP=1
    keeps too."""
    dry = "--dry" in argv
    keep = "--keep" in argv or bool(os.environ.get("SONDE_E2E_KEEP"))
    only, rest, i = None, [], 0
    while i < len(argv):
        if argv[i] == "--only" and i + 1 < len(argv):
            only = set(argv[i + 1].split(","))
            i += 2
            continue
        if argv[i] not in ("--dry", "--keep"):
            rest.append(argv[i])
        i += 1
    return os.path.abspath(rest[0] if rest else "./sonde"), dry, keep, only


def sonde_tls_json(sonde, pid, timeout=60):
    """`sonde tls -o json`: (exit status, the objects of process pid, all
    its output)."""
    p = subprocess.run([sonde, "tls", "-o", "json"], capture_output=True, text=True, timeout=timeout)
    mine = []
    for ln in p.stdout.splitlines():
        try:
            o = json.loads(ln)
        except ValueError:
            continue
        if o.get("pid") == pid:
            mine.append(o)
    return p.returncode, mine, p.stdout + p.stderr


class Report:
    """PASS/FAIL/SKIP/INFO lines under one prefix; failed once any FAIL."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.failed = False

    def check(self, name, cond, why=""):
        print(("PASS " if cond else "FAIL ") + f"{self.prefix}: {name}" + ("" if cond else ": " + str(why)),
              flush=True)
        self.failed = self.failed or not cond
        return cond

    def info(self, msg):
        print(f"INFO {self.prefix}: {msg}", flush=True)

    def skip(self, why):
        print(f"SKIP {self.prefix}: {why}", flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=15):
    """Until 127.0.0.1:port accepts a connection; False on timeout."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


CHILDREN = []


class Child:
    """A process with its stdout/stderr collected by threads (bytes in .out
    and .err; text from stdout()/stderr())."""

    def __init__(self, argv, name=None, stdin=True, cwd=None, env=None):
        self.name = name or os.path.basename(argv[0])
        self.argv = argv
        self.out = b""
        self.err = b""
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=env,
                                     start_new_session=True)
        self.pid = self.proc.pid
        CHILDREN.append(self)
        self.threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, "out"), daemon=True),
                        threading.Thread(target=self._pump, args=(self.proc.stderr, "err"), daemon=True)]
        for t in self.threads:
            t.start()

    def _pump(self, f, which):
        while True:
            b = f.read1(65536)
            if not b:
                return
            with self.lock:
                setattr(self, which, getattr(self, which) + b)

    def stdout(self):
        with self.lock:
            return self.out.decode(errors="replace")

    def stderr(self):
        with self.lock:
            return self.err.decode(errors="replace")

    def wait_for(self, text, timeout=15):
        """Until stdout holds text (str or bytes); False on timeout or exit."""
        t = text.encode() if isinstance(text, str) else text
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if t in self.out:
                    return True
            if self.proc.poll() is not None:
                time.sleep(0.2)  # the pumps may not have read the last bytes yet
                with self.lock:
                    return t in self.out
            time.sleep(0.02)
        return False

    def send(self, data, close=False):
        try:
            self.proc.stdin.write(data.encode() if isinstance(data, str) else data)
            self.proc.stdin.flush()
            if close:
                self.proc.stdin.close()
        except (BrokenPipeError, ValueError, AttributeError, OSError):
            pass

    def wait(self, timeout=30):
        """Close its stdin, wait for the exit: the status, None on timeout."""
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except (BrokenPipeError, ValueError, OSError):
            pass
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        for t in self.threads:
            t.join(timeout=2)
        return rc

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        """SIGTERM to its process group while it runs, then SIGKILL: the
        group may outlive its leader (nginx workers)."""
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, sig):
        try:
            os.killpg(self.pid, sig)
        except OSError:
            pass
        try:
            self.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            pass


def kill_children():
    for c in reversed(CHILDREN):
        c.kill()


SONDES = []


class SondeRun:
    """`sonde capture -o json --stats EXTRA` in the background, its records
    to a file; waits until it says "capturing with" (a no-op when dry)."""

    def __init__(self, sonde, tmp, name, extra, report, dry=False, start_timeout=60, stop_timeout=60):
        self.name = name
        self.report = report
        self.stop_timeout = stop_timeout
        self.argv = [sonde, "capture", "-o", "json", "--stats"] + extra
        self.out = os.path.join(tmp, "sonde-" + name + ".json")
        self.err = os.path.join(tmp, "sonde-" + name + ".stderr")
        self.proc = None
        self.started = None
        self.ok = True
        if dry:
            return
        t0 = time.time()
        with open(self.out, "w") as o, open(self.err, "w") as e:
            self.proc = subprocess.Popen(self.argv, stdout=o, stderr=e, start_new_session=True)
        SONDES.append(self)
        self.wait_stderr("capturing with", start_timeout)
        self.started = time.time()
        report.info(f"{name}: sonde up in {self.started - t0:.1f} s")
        time.sleep(0.3)
        self.ok = report.check(f"{name}: sonde started ({' '.join(self.argv[1:])})",
                               self.proc.poll() is None and "capturing with" in self.stderr(),
                               self.stderr()[-2000:])

    def stderr(self):
        try:
            with open(self.err) as f:
                return f.read()
        except OSError:
            return ""

    def wait_stderr(self, text, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.stderr():
                return True
            if self.proc.poll() is not None:
                return text in self.stderr()
            time.sleep(0.05)
        return False

    def stop(self):
        """SIGINT, wait: (exit status, records); -9 if it had to be killed."""
        if not self.proc:
            return 0, []
        time.sleep(0.7)  # let the last events reach the ring buffer
        t0 = time.time()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = -9
        self.report.info(f"{self.name}: sonde stopped in {time.time() - t0:.1f} s")
        recs = []
        with open(self.out) as f:
            for line in f:
                if line.strip():
                    try:
                        recs.append(json.loads(line))
                    except ValueError:
                        recs.append({"type": "unparseable", "line": line[:300]})
        return rc, recs

    def kill(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()


def kill_sondes():
    for s in SONDES:
        s.kill()


DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def debian_mirror(security=False):
    """The Debian archive (or security archive) this machine's apt uses, as
    find_mirrors in tests/kernels/run does; SONDE_DEBIAN_MIRROR or
    SONDE_DEBIAN_SECURITY_MIRROR overrides. None if it cannot be told."""
    m = os.environ.get("SONDE_DEBIAN_SECURITY_MIRROR" if security else "SONDE_DEBIAN_MIRROR")
    if m:
        return m
    try:
        p = subprocess.run(["apt-get", "indextargets", "--format", "$(REPO_URI) $(RELEASE)", "Identifier: Packages"],
                           capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for ln in p.stdout.splitlines():
        uri, _, rel = ln.strip().partition(" ")
        if security and rel.endswith("-security"):
            return uri
        if not security and rel and "-" not in rel and "debian-security" not in uri:
            return uri
    return None


def fetch_debs(cache, suite, pkgs, report, timeout=900):
    """Download packages pkgs of Debian suite (e.g. "bullseye",
    "bullseye-security") into cache/debs with private apt lists and cache
    under cache/apt, the system's apt untouched: (sorted .deb paths, None),
    or (None, why they cannot be had)."""
    for tool in ("apt-get", "dpkg-deb"):
        if not shutil.which(tool):
            return None, f"{tool} not found: cannot fetch {' '.join(pkgs)} from Debian {suite}"
    if not os.path.exists(DEBIAN_KEYRING):
        return None, f"{DEBIAN_KEYRING} missing (debian-archive-keyring): cannot check Debian's archive"
    security = suite.endswith("-security")
    mirror = debian_mirror(security)
    if not mirror:
        return None, ("cannot tell the Debian " + ("security " if security else "") + "archive from apt's "
                      "sources: set SONDE_DEBIAN_" + ("SECURITY_" if security else "") + "MIRROR")
    d = os.path.join(cache, "apt")
    for sub in ("lists/partial", "cache/archives/partial", "sources.list.d"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    with open(os.path.join(d, "sources.list"), "w") as f:
        f.write(f"deb [signed-by={DEBIAN_KEYRING}] {mirror} {suite} main\n")
    opts = ["-o", f"Dir::Etc::sourcelist={d}/sources.list", "-o", f"Dir::Etc::sourceparts={d}/sources.list.d",
            "-o", f"Dir::State::Lists={d}/lists", "-o", "Dir::State::status=/dev/null",
            "-o", f"Dir::Cache={d}/cache", "-o", "Debug::NoLocking=1"]
    if os.geteuid() == 0:
        opts += ["-o", "APT::Sandbox::User=root"]

    def apt(argv, cwd=None, limit=300):
        try:
            p = subprocess.run(["apt-get", "-qq"] + opts + argv, capture_output=True, text=True, cwd=cwd,
                               timeout=limit)
            return p.returncode == 0, " ".join((p.stderr + p.stdout).split())[-400:]
        except (OSError, subprocess.TimeoutExpired) as e:
            return False, str(e)

    report.info(f"fetching Debian's {' and '.join(pkgs)} from {mirror} {suite} into {cache}")
    ok, out = apt(["update"])
    # apt-get update may exit 0 with the index not fetched (it only warns)
    lists = os.listdir(os.path.join(d, "lists"))
    if not ok or not any(suite in x and "Packages" in x for x in lists):
        return None, f"Debian archive unreachable (apt-get update of {mirror} {suite} failed: {out})"
    debs = os.path.join(cache, "debs")
    shutil.rmtree(debs, ignore_errors=True)
    os.makedirs(debs)
    ok, out = apt(["download"] + pkgs, cwd=debs, limit=timeout)
    files = sorted(os.path.join(debs, x) for x in os.listdir(debs) if x.endswith(".deb"))
    if not ok or len(files) != len(pkgs):
        return None, f"apt-get download {' '.join(pkgs)} from {mirror} {suite} failed: {out}"
    return files, None


def unpack_debs(files, dest):
    """dpkg-deb -x each file into dest: None, or why it failed."""
    for fn in files:
        p = subprocess.run(["dpkg-deb", "-x", fn, dest], capture_output=True, text=True)
        if p.returncode != 0:
            return f"dpkg-deb -x {os.path.basename(fn)} failed: {p.stderr[-300:]}"
    return None
