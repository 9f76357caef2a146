#!/usr/bin/env python3
"""Install and docs: sonde(1) in step with every --help, `make install` and
`make uninstall` into a DESTDIR, the bash completion driven in a real bash
(through bash-completion's own loader), the zsh completion in a real
interactive zsh, and the Debian package built with dpkg-buildpackage from a
copy of the tree, installed into a throwaway dpkg root and removed again.

Usage: test_install.py [--only man,install,bash,zsh,deb] path/to/sonde
Prints PASS/FAIL/SKIP lines; exits non-zero on any FAIL.
"""
import glob
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile

from livelib import Report, parse_args

R = Report("install")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
MAN = os.path.join(ROOT, "man/sonde.1")
SONDE = None

# Which man page sections hold whose options (see the comment atop
# man/sonde.1): the top level, each command, and the options capture and
# read share.
COMMON = "OUTPUT, RECORDING AND LIMITS"
SCOPES = {"": ["OPTIONS"], "capture": ["CAPTURE", COMMON], "read": ["READ", COMMON], "tls": ["TLS"]}


def sh(args, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 300)
    return subprocess.run(args, **kw)


def help_text(sonde, cmd):
    p = sh([sonde] + ([cmd] if cmd else []) + ["--help"])
    return p.stdout if p.returncode == 0 else ""


def help_options(text):
    """Every option named by --help: option lines are indented 2 to 8
    columns ("  -o, --output FORMAT  text..." or "      --stats  ..."); their
    head runs to the first two spaces. Deeper lines continue a description
    (and may start with a dash: "--include_imports")."""
    opts = set()
    for line in text.splitlines():
        m = re.match(r"^ {2,8}(-.*)", line)
        if not m:
            continue
        for word in m.group(1).split("  ")[0].split():
            if not word.startswith("-"):
                break
            opts.add(word.rstrip(","))
    return opts


def man_options(path):
    """{section name: options defined there}: every Fl of an .It line of the
    page's tag lists, by the .Sh it is under (a mention in prose is not a
    definition)."""
    found, section = {}, None
    for line in open(path, encoding="utf-8"):
        if line.startswith(".Sh "):
            section = line[4:].strip().strip('"')
            found.setdefault(section, set())
        elif line.startswith(".It ") and section:
            words = line.split()
            for i, w in enumerate(words[:-1]):
                if w == "Fl":
                    found[section].add("-" + words[i + 1].replace("\\-", "-"))
    return found


def code_long_options():
    """{command: [names of one option]} from the getopt tables of src/cli/:
    the long names sharing a value are one option (--color and --colour);
    options.c's common table belongs to capture and read."""
    def longs(f):
        src = open(os.path.join(ROOT, "src/cli", f), encoding="utf-8").read()
        by_val = {}
        for name, val in re.findall(
                r'\{\s*"([a-z0-9-]+)",\s*(?:no|required|optional)_argument,\s*NULL,\s*([^\s}]+)\s*\}', src):
            by_val.setdefault(val, set()).add("--" + name)
        return [names for names in by_val.values()]
    common = longs("options.c")
    return {"capture": longs("capture_args.c") + common, "read": longs("cmd_read.c") + common,
            "tls": longs("cmd_tls.c")}


def test_man():
    lint = sh(["mandoc", "-T", "lint", "-W", "warning", MAN]) if shutil.which("mandoc") else None
    if lint is None:
        R.skip("mandoc lint: no mandoc (scripts/setup installs it)")
    else:
        R.check("mandoc -T lint finds no warning in man/sonde.1", lint.returncode == 0,
                (lint.stdout + lint.stderr).strip())
    page = man_options(MAN)
    for cmd, sections in SCOPES.items():
        name = f"sonde {cmd}".strip()
        helped = help_options(help_text(SONDE, cmd))
        if not R.check(f"{name} --help names its options", "--help" in helped and len(helped) >= 3,
                       sorted(helped)):
            continue
        missing = [s for s in sections if s not in page]
        if not R.check(f"man page has the section(s) of {name}", not missing, missing):
            continue
        documented = set().union(*(page[s] for s in sections))
        R.check(f"every option of {name} --help is in sonde(1)", helped <= documented,
                f"not in the man page's {' / '.join(sections)}: {sorted(helped - documented)}")
        R.check(f"every option sonde(1) gives {name} is in its --help", documented <= helped,
                f"in the man page but not in --help: {sorted(documented - helped)}")
    # The common section's options are both commands'.
    both = help_options(help_text(SONDE, "capture")) & help_options(help_text(SONDE, "read"))
    stray = page.get(COMMON, set()) - both
    R.check(f"options under {COMMON} are both capture's and read's", not stray, sorted(stray))
    # --help itself lists every option the code accepts.
    for cmd, options in code_long_options().items():
        helped = help_options(help_text(SONDE, cmd))
        unlisted = [sorted(names) for names in options if not names & helped]
        R.check(f"sonde {cmd} --help lists every long option of its getopt table", options and not unlisted,
                f"accepted but not in --help: {unlisted}")
    # The page as man(1) shows it: every option of every command is there.
    env = dict(os.environ, LC_ALL="C", MANWIDTH="100")
    shown = sh(["man", "-l", MAN], env=env)
    text = re.sub(r".\x08", "", shown.stdout)
    every = set().union(*(help_options(help_text(SONDE, c)) for c in SCOPES))
    absent = sorted(o for o in every if not re.search(r"(^|[\s,(\[])" + re.escape(o) + r"\b", text))
    R.check("man -l renders the page with every option", shown.returncode == 0 and not absent,
            f"status {shown.returncode}, not shown: {absent} {shown.stderr[-300:]}")


# Under PREFIX; zsh's directory is site-functions outside /usr (the one of
# zsh's default fpath for /usr/local), vendor-completions for packages.
INSTALLED = ["bin/sonde", "share/man/man1/sonde.1", "share/bash-completion/completions/sonde",
             "share/zsh/site-functions/_sonde", "share/doc/sonde/records.md",
             "share/doc/sonde/ARCHITECTURE.md", "share/doc/sonde/README.md", "share/doc/sonde/security.md",
             "share/doc/sonde/deploy.md", "share/doc/sonde/filter.md", "share/doc/sonde/store.md"]


def zsh_fpath():
    """The directories a plain zsh here looks in for functions."""
    return sh(["zsh", "-fc", "print -l $fpath"]).stdout.split() if shutil.which("zsh") else None


def make_install(destdir, *make_vars):
    """`make install` into destdir; the make's status and output."""
    p = sh(["make", "-s", "-C", ROOT, "install", "DESTDIR=" + destdir] + list(make_vars), timeout=900)
    return p.returncode, p.stdout + p.stderr


def files_under(d):
    return sorted(os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(d) for f in fs)


def test_install(tmp):
    dest = os.path.join(tmp, "dest")
    rc, out = make_install(dest)
    R.check("make install DESTDIR=... succeeds", rc == 0, out[-500:])
    want = sorted("usr/local/" + f for f in INSTALLED)
    R.check("the default PREFIX is /usr/local: binary, man page, completions, docs",
            files_under(dest) == want, f"installed {files_under(dest)}")
    fpath = zsh_fpath()
    if fpath is not None:
        R.check("zsh looks where the zsh completion went", "/usr/local/share/zsh/site-functions" in fpath, fpath)
    sonde = os.path.join(dest, "usr/local/bin/sonde")
    ver = sh([sonde, "--version"]) if os.access(sonde, os.X_OK) else None
    R.check("the installed sonde runs (--version)", ver is not None and ver.returncode == 0
            and ver.stdout.startswith("sonde "), ver and ver.stdout + ver.stderr)
    page = os.path.join(dest, "usr/local/share/man/man1/sonde.1")
    text = open(page).read() if os.path.exists(page) else ""
    R.check("the installed page names where records.md is installed",
            "/usr/local/share/doc/sonde/records.md" in text and "/usr/share/doc/sonde" not in text,
            [ln for ln in text.splitlines() if "records.md" in ln])

    found = sh(["man", "-M", os.path.join(dest, "usr/local/share/man"), "-w", "sonde"])
    R.check("man finds the installed page by name (man -M MANDIR sonde)",
            found.stdout.strip() == page, found.stdout + found.stderr)

    rc, out = make_install(dest, "PREFIX=/opt/sonde")
    got = [f for f in files_under(dest) if f.startswith("opt/")]
    R.check("PREFIX=/opt/sonde installs under it", rc == 0 and got == sorted("opt/sonde/" + f for f in INSTALLED),
            f"{out[-300:]} {got}")
    p = sh(["make", "-s", "-C", ROOT, "uninstall", "DESTDIR=" + dest, "PREFIX=/opt/sonde"])
    left = [f for f in files_under(dest) if f.startswith("opt/")]
    R.check("make uninstall removes what make install put there (and only that)",
            p.returncode == 0 and not left and files_under(dest) == want, f"{p.stderr[-300:]} left {left}")
    return dest


# ---- bash completion --------------------------------------------------------

BASH_DRIVER = r'''
source /usr/share/bash-completion/bash_completion
# bash-completion finds sonde's script where it looks for packaged ones.
__load_completion sonde || { echo "NOT LOADED"; exit 3; }
complete -p sonde
COMP_WORDS=("$@")
COMP_CWORD=$(( $# - 1 ))
COMP_LINE="$*" COMP_POINT=${#COMP_LINE}
_sonde sonde "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
[ ${#COMPREPLY[@]} -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}"
'''


def bash_complete(prefix_dir, cwd, *words):
    """COMPREPLY of the installed completion for the command line words (the
    last one being completed), in a real bash with bash-completion loaded.
    None if it was not loaded."""
    env = dict(os.environ, XDG_DATA_DIRS=os.path.join(prefix_dir, "share"),
               PATH=os.path.join(prefix_dir, "bin") + ":" + os.environ.get("PATH", ""))
    env.pop("BASH_COMPLETION_USER_DIR", None)
    p = sh(["bash", "--norc", "--noprofile", "-c", BASH_DRIVER, "bash", "sonde"] + list(words), env=env, cwd=cwd)
    lines = p.stdout.splitlines()
    if p.returncode != 0 or not lines or not lines[0].startswith("complete -F _sonde"):
        return None
    return lines[1:]


def refusal_values(args, opt):
    """The values sonde says it accepts, from its refusal of a bad one:
    "invalid value 'x' for --source: ebpf, af_packet or libpcap (see ...)"."""
    err = sh([SONDE] + args + ["no-such-value"]).stderr
    m = re.search(r"for --" + re.escape(opt) + r"(?::| \()\s*([^()]*)", err)
    return set(re.split(r",\s*|\s+or\s+", m.group(1).strip())) if m else set()


def test_bash(dest):
    if not os.path.exists("/usr/share/bash-completion/bash_completion"):
        R.skip("bash completion: bash-completion is not installed (scripts/setup installs it)")
        return
    prefix = os.path.join(dest, "usr/local")
    work = tempfile.mkdtemp(dir=dest)
    for f in ("web.pcap", "api.pcapng.gz", "notes.txt", "my capture.pcap"):
        open(os.path.join(work, f), "w").close()

    def comp(*words):
        return bash_complete(prefix, work, *words)

    got = comp("")
    if not R.check("bash-completion loads the installed completion for sonde", got is not None,
                   "the completion was not found or did not register _sonde"):
        return
    R.check("a command is completed", set(got) == {"capture", "read", "query", "tls", "version"}, got)
    R.check("top-level options are those of sonde --help", set(comp("-")) == help_options(help_text(SONDE, "")),
            comp("-"))
    for cmd in ("capture", "read", "query", "tls"):
        want = help_options(help_text(SONDE, cmd))
        got = comp(cmd, "-")
        R.check(f"'sonde {cmd} -<TAB>' offers exactly its --help options", set(got) == want,
                f"missing {sorted(want - set(got))}, extra {sorted(set(got) - want)}")
    R.check("a long option is completed from its start", comp("capture", "--ebpf-h") == ["--ebpf-hook"],
            comp("capture", "--ebpf-h"))
    enums = [("capture", ["capture", "--source"], "source"), ("capture", ["capture", "--ebpf-hook"], "ebpf-hook"),
             ("capture", ["capture", "-o"], "output"), ("read", ["read", "--output"], "output"),
             ("tls", ["tls", "-o"], "output"), ("query", ["query", "-o"], "output"),
             ("read", ["read", "--color"], "color")]
    for cmd, words, opt in enums:
        got = set(comp(*words, ""))
        accepted = refusal_values(words, opt)
        R.check(f"'sonde {' '.join(words)} <TAB>' offers the values sonde accepts {sorted(accepted)}",
                accepted and got == accepted, f"offered {sorted(got)}")
        for v in sorted(got):
            p = sh([SONDE] + words + [v, "--help"])
            R.check(f"sonde takes {words[-1]} {v}", p.returncode == 0, p.stderr.strip())
    # --proto-port NAME=PORT: every dissector of the registry, each taken.
    registry = open(os.path.join(ROOT, "src/proto/registry.c")).read()
    dissectors = set(re.findall(r"^\s*&sonde_dissector_(\w+),", registry, re.M))
    got = set(comp("read", "--proto-port", ""))
    R.check("--proto-port offers NAME= for every dissector of src/proto/registry.c",
            dissectors and got == {d + "=" for d in dissectors}, f"offered {sorted(got)}, registry {sorted(dissectors)}")
    for name in sorted(dissectors):
        p = sh([SONDE, "read", "--proto-port", f"{name}=1", "--help"])
        R.check(f"sonde takes --proto-port {name}=1", p.returncode == 0, p.stderr.strip())
    R.check("--output=j completes to json", comp("capture", "--output", "=", "j") == ["json"],
            comp("capture", "--output", "=", "j"))
    ifaces = {"any"} | set(os.listdir("/sys/class/net"))
    R.check("-i offers the interfaces of /sys/class/net and any", set(comp("capture", "-i", "")) == ifaces,
            comp("capture", "-i", ""))
    R.check("read completes capture files", set(comp("read", "")) == {"web.pcap", "api.pcapng.gz", "notes.txt", "my capture.pcap"},
            comp("read", ""))
    R.check("a file name with a space stays whole", comp("read", "my") == ["my capture.pcap"], comp("read", "my"))
    R.check("sonde -r completes a file", comp("-r", "we") == ["web.pcap"], comp("-r", "we"))
    R.check("after -r FILE, read's options", "--stats" in comp("-r", "web.pcap", "--st"), comp("-r", "web.pcap", "--st"))
    R.check("--proto-descriptor completes a file", comp("read", "--proto-descriptor", "no") == ["notes.txt"],
            comp("read", "--proto-descriptor", "no"))
    got = comp("capture", "--pid", "1,")
    R.check("--pid completes the list's next element with running pids",
            f"1,{os.getpid()}" in got and all(g.startswith("1,") for g in got), got[:5])
    R.check("a size takes no completion", comp("capture", "--body-limit", "") == [],
            comp("capture", "--body-limit", ""))


# ---- zsh completion ---------------------------------------------------------

# An interactive zsh on a pseudo-terminal (zpty), completion system on, with
# compadd wrapped to write down every match the completion adds; the line is
# typed with a TAB after it.
ZSH_DRIVER = r'''
zmodload zsh/zpty || exit 3
compdir=$1 bindir=$2 out=$3 input=$4
: > $out
zpty z zsh -f -i
zpty -w z "PS1='> '; fpath=($compdir \$fpath); PATH=$bindir:\$PATH; autoload -Uz compinit; compinit -u -D"
zpty -w z "compadd() { local -a hits; builtin compadd -O hits \"\$@\"; print -rl -- \$hits >> $out; builtin compadd \"\$@\"; }"
zpty -w -n z "$input"$'\t'
for i in {1..100}; do [[ -s $out ]] && break; sleep 0.1; done
sleep 0.5
zpty -d z
'''


def zsh_complete(dest, line, cwd=None):
    """The matches the installed zsh completion adds for line, typed in a
    real interactive zsh in cwd; None if zsh could not be driven."""
    prefix = os.path.join(dest, "usr/local")
    out = os.path.join(dest, "zsh-matches")
    p = sh(["zsh", "-f", "-c", ZSH_DRIVER, "zsh", os.path.join(prefix, "share/zsh/site-functions"),
            os.path.join(prefix, "bin"), out, line], timeout=60, cwd=cwd)
    if p.returncode != 0:
        return None
    return {m for m in open(out).read().splitlines() if m}


def test_zsh(dest):
    if not shutil.which("zsh"):
        R.skip("zsh completion: no zsh (scripts/setup installs it)")
        return
    got = zsh_complete(dest, "sonde ")
    R.check("zsh: a command is completed", got is not None and {"capture", "read", "query", "tls", "version"} <= got,
            got)
    for cmd in ("capture", "read", "query", "tls"):
        want = help_options(help_text(SONDE, cmd))
        got = zsh_complete(dest, f"sonde {cmd} -")
        R.check(f"zsh: 'sonde {cmd} -<TAB>' offers exactly its --help options", got == want,
                got is None or f"missing {sorted(want - got)}, extra {sorted(got - want)}")
    got = zsh_complete(dest, "sonde capture --sou")
    R.check("zsh: a capture option is completed from --help", got == {"--source"}, got)
    got = zsh_complete(dest, "sonde read --max-c")
    R.check("zsh: a read option is completed", got == {"--max-conns"}, got)
    for words, opt in ((["capture", "--source"], "source"), (["capture", "--ebpf-hook"], "ebpf-hook"),
                       (["read", "-o"], "output"), (["tls", "-o"], "output"), (["query", "-o"], "output"),
                       (["read", "--color"], "color")):
        got = zsh_complete(dest, "sonde " + " ".join(words) + " ")
        accepted = refusal_values(words, opt)
        R.check(f"zsh: '{' '.join(words)} <TAB>' offers the values sonde accepts {sorted(accepted)}",
                accepted and got == accepted, got)
    got = zsh_complete(dest, "sonde capture -i ")
    R.check("zsh: -i offers interfaces", got is not None and "lo" in got and "any" in got, got)
    work = tempfile.mkdtemp(dir=dest)
    for f in ("web.pcap", "notes.txt"):
        open(os.path.join(work, f), "w").close()
    got = zsh_complete(dest, "sonde read we", cwd=work)
    R.check("zsh: read completes a capture file", got == {"web.pcap"}, got)
    got = zsh_complete(dest, "sonde -r no", cwd=work)
    R.check("zsh: -r completes a file", got == {"notes.txt"}, got)


# ---- the Debian package -----------------------------------------------------

def copy_tree(dst):
    """The tree as a clone would have it, uncommitted changes included
    (tracked and new files, not ignored ones), so the worktree is never
    written to."""
    git = sh(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"]) \
        if shutil.which("git") else None
    if git is None or git.returncode != 0:
        # A copy without git (scripts/fresh-check's): all of it but what
        # builds make (.gitignore's names).
        def generated(d, names):
            top = os.path.samefile(d, ROOT)
            return [n for n in names if n in ("__pycache__", ".git") or n.endswith((".o", ".a"))
                    or (top and (n == "sonde" or n.startswith("build")))]
        shutil.copytree(ROOT, dst, ignore=generated, symlinks=True)
        return
    for name in filter(None, git.stdout.split("\0")):
        src = os.path.join(ROOT, name)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(dst, name)), exist_ok=True)
            shutil.copy2(src, os.path.join(dst, name))


def changelog_version():
    return open(os.path.join(ROOT, "debian/changelog")).readline().split("(")[1].split(")")[0]


def test_deb(tmp):
    need = [t for t in ("dpkg-buildpackage", "dh", "dpkg-deb") if not shutil.which(t)]
    if need:
        R.check("the Debian packaging tools are installed (scripts/setup)", False, f"missing {need}")
        return
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        R.skip("deb: the build types the kernel programs against /sys/kernel/btf/vmlinux, absent here")
        return
    src = os.path.join(tmp, "sonde")
    copy_tree(src)
    env = dict(os.environ, DEB_BUILD_OPTIONS="parallel=2")
    p = sh(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env, timeout=1200)
    debs = glob.glob(os.path.join(tmp, "sonde_*.deb"))
    if not R.check("dpkg-buildpackage -us -uc -b builds sonde_*.deb", p.returncode == 0 and len(debs) == 1,
                   (p.stdout + p.stderr)[-1500:]):
        return
    deb = debs[0]
    listing = sh(["dpkg-deb", "-c", deb]).stdout
    names = {ln.split()[-1].lstrip(".") for ln in listing.splitlines()}
    want = {"/usr/bin/sonde", "/usr/share/man/man1/sonde.1.gz", "/usr/share/bash-completion/completions/sonde",
            "/usr/share/zsh/vendor-completions/_sonde", "/usr/share/doc/sonde/records.md",
            "/usr/share/doc/sonde/copyright", "/usr/share/doc/sonde/changelog.gz"}
    R.check("the package holds the binary, man page, completions and docs", want <= names, sorted(want - names))
    fpath = zsh_fpath()
    if fpath is not None:
        R.check("zsh looks where the package put the zsh completion", "/usr/share/zsh/vendor-completions" in fpath,
                fpath)
    deps = sh(["dpkg-deb", "-f", deb, "Depends"]).stdout
    R.check("Depends come from the binary's libraries (shlibs)", "libbpf1" in deps and "libpcap0.8" in deps, deps)
    if shutil.which("apt-get"):
        # What `apt install ./sonde_*.deb` would do, without doing it.
        sim = sh(["apt-get", "install", "-s", "--no-install-recommends", deb])
        R.check("apt-get install -s ./sonde_*.deb resolves its dependencies", sim.returncode == 0 and
                re.search(r"^Inst sonde ", sim.stdout, re.M) is not None, (sim.stdout + sim.stderr)[-600:])

    # Installed into a throwaway root with its own dpkg database, then removed.
    root = os.path.join(tmp, "root")
    admin = os.path.join(root, "var/lib/dpkg")
    for d in ("info", "updates", "triggers"):
        os.makedirs(os.path.join(admin, d), exist_ok=True)
    open(os.path.join(admin, "status"), "w").close()
    dpkg = ["dpkg", "--root=" + root, "--log=/dev/null", "--force-depends", "--force-script-chrootless"]
    if os.geteuid() != 0:
        dpkg.append("--force-not-root")
    p = sh(dpkg + ["-i", deb])
    if not R.check("dpkg --root installs the package", p.returncode == 0, (p.stdout + p.stderr)[-600:]):
        return
    sonde = os.path.join(root, "usr/bin/sonde")
    ver = sh([sonde, "--version"])
    R.check("the packaged sonde prints the package's version", ver.stdout.strip() == f"sonde {changelog_version()}",
            ver.stdout + ver.stderr)
    page = os.path.join(root, "usr/share/man/man1/sonde.1.gz")
    shown = sh(["man", "-l", page], env=dict(os.environ, LC_ALL="C", MANWIDTH="100"))
    text = re.sub(r".\x08", "", shown.stdout)
    R.check("man -l shows the installed page", shown.returncode == 0 and "sonde capture" in text
            and "/usr/share/doc/sonde/records.md" in text, shown.stderr[-300:])
    R.check("the page's records.md is where it says", os.path.exists(os.path.join(root, "usr/share/doc/sonde/records.md")))
    got = bash_complete(os.path.join(root, "usr"), tmp, "capture", "--sou")
    R.check("the packaged bash completion completes", got == ["--source"], got)
    p = sh(dpkg + ["-r", "sonde"])
    left = [f for f in files_under(root) if not f.startswith("var/")]
    R.check("dpkg --root -r removes every file again", p.returncode == 0 and not left,
            f"{(p.stdout + p.stderr)[-300:]} left {left}")


def main():
    global SONDE
    SONDE, _, keep, only = parse_args(sys.argv[1:])
    if not os.access(SONDE, os.X_OK):
        R.check("sonde is built", False, SONDE)
        sys.exit(1)
    tmp = tempfile.mkdtemp(prefix="sonde-install-")
    try:
        if only is None or "man" in only:
            test_man()
        dest = None
        if only is None or only & {"install", "bash", "zsh"}:
            dest = test_install(tmp)
        if only is None or "bash" in only:
            test_bash(dest)
        if only is None or "zsh" in only:
            test_zsh(dest)
        if only is None or "deb" in only:
            test_deb(tmp)
    finally:
        if keep:
            R.info(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if R.failed else 0)


if __name__ == "__main__":
    main()
