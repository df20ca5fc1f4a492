#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vdestack benchmark driver: ours against the original libvdestack, same run.

    python3 benchmarks/run.py [--quick] [--out DIR]
    python3 benchmarks/run.py --redraw [--out DIR]    (chart.png from results.json)

Installs what it needs (apt-get, pip in its own venv), builds bench.c twice
(against Debian's libvdestack0 and against our libvdestack.so built with
CMake into a temporary directory), runs every scenario alternating the two
variants, takes the median of the runs, prints a table, and writes
results.json, chart.png and table.md into --out (default
benchmarks/results/) and the table into benchmarks/README.md.

It must run as root (network namespaces, veth, /dev/net/tun, the
unprivileged user it creates).  Every switch, namespace, process and socket
file it makes is removed at the end, also on Ctrl-C or failure.

Only the standard library is used here; matplotlib (for the chart) is
installed into the venv and used by a child process (run.py --chart).
"""
import argparse
import datetime
import glob
import json
import math
import os
import platform
import pwd
import re
import resource
import shutil
import signal
import socket
import stat
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ORIG_LIB = "/usr/lib/x86_64-linux-gnu/libvdestack.so.0"
BENCH_USER = "vdsbench"
TUN = "/dev/net/tun"
APT_PACKAGES = [
    "build-essential", "cmake", "libvdeplug-dev", "vdeplug", "libvdestack0",
    "busybox", "iproute2", "util-linux", "libcap-dev", "python3-venv",
    "python3-dev", "python3-pip", "passwd",
]
# what must be there (file -> package) before apt-get is needed at all
REQUIRED_FILES = {
    "/usr/bin/gcc": "build-essential", "/usr/bin/cmake": "cmake",
    "/usr/include/libvdeplug.h": "libvdeplug-dev", "/usr/bin/vde_plug": "vdeplug",
    ORIG_LIB: "libvdestack0", "/bin/busybox": "busybox", "/usr/sbin/ip": "iproute2",
    "/usr/bin/unshare": "util-linux", "/usr/sbin/useradd": "passwd",
    "/usr/bin/python3": "python3-venv",
}
VARIANTS = ("original", "ours")
T0 = time.monotonic()


# ------------------------------------------------------------------ output --

def elapsed():
    s = int(time.monotonic() - T0)
    return f"{s // 60}m{s % 60:02d}s"


def log(msg):
    print(f"[{elapsed():>7}] {msg}", file=sys.stderr, flush=True)


def short(text, lines=1):
    """The first line of a message and its last few lines (build errors)."""
    t = [x for x in (text or "").splitlines() if x.strip()]
    if len(t) <= lines + 1:
        return "\n    ".join(t)
    return "\n    ".join(t[:1] + ["..."] + t[-lines:])


def sh(cmd, check=True, **kw):
    """Run a command (list), output captured; raise with its output on failure."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout[-3000:]}")
    return r


# ----------------------------------------------------------- the scenarios --
#
# A "case" is one group of table rows measured together: a scenario on one
# transport and MTU.  Each metric becomes one row:
#   (key in the bench's JSON, label, unit, kind, target)
# kind "ratio": target compares ours/original ("<=", 0.7) or (">=", 2.0);
# kind "nothigher": ours <= original; kind "abs": ours compared to a number;
# kind "info": no target.

TRAFFIC_METRICS = {
    "tcp_stream": [("MBps", "throughput", "MB/s", "ratio", (">=", 2.0)),
                   ("cpu_s_per_GB", "CPU per GB moved", "s", "info", None)],
    "tcp_rr": [("rtt_p50_us", "p50 latency", "us", "ratio", ("<=", 0.7)),
               ("rtt_p99_us", "p99 latency", "us", "ratio", ("<=", 0.7)),
               ("rtt_min_us", "min latency", "us", "info", None),
               ("cpu_us_per_rt", "CPU per round trip", "us", "info", None)],
    # tcp_rr with every thread and helper on one CPU: no cross-vCPU wake-ups,
    # so it shows the software path alone (information, no target)
    "tcp_rr_1cpu": [("rtt_p50_us", "p50 latency, 1 CPU", "us", "info", None),
                    ("rtt_p99_us", "p99 latency, 1 CPU", "us", "info", None),
                    ("rtt_min_us", "min latency, 1 CPU", "us", "info", None)],
    "udp_small": [("delivered_pps", "delivered", "pkt/s", "ratio", (">=", 2.0)),
                  ("loss_pct", "loss", "%", "nothigher", None),
                  ("sent_pps", "sent", "pkt/s", "info", None)],
}
SCALE_METRICS = [
    ("create_addr_per_stack_ms", "create+address per stack", "ms", "ratio", ("<=", 1.0)),
    ("helpers_peak", "helper processes at peak", "procs", "abs", ("<=", 2)),
    ("pss_per_stack_kb", "PSS (process+helpers) per stack", "KiB", "ratio", ("<=", 1.0)),
    ("memavail_per_stack_kb", "MemAvailable drop per stack", "KiB", "info", None),
    ("delete_per_stack_ms", "delete per stack", "ms", "info", None),
    ("fds_left", "fds left after delete", "fds", "abs", ("<=", 0)),
    ("procs_left", "processes left after delete", "procs", "abs", ("<=", 0)),
    ("tun_fds_left", "tap fds left after delete", "fds", "abs", ("<=", 0)),
    ("netns_left", "netns kept alive after delete", "netns", "abs", ("<=", 0)),
]

# config: both columns are OUR library; "original" holds the busybox way
# (vde_stackcmd "ip addr add; ip link set up"), "ours" the configuration
# string (vdestack_config); target: the string at least 10x faster
CONFIG_METRICS = [
    ("per_stack_ms", "address + up per stack, string vs busybox", "ms", "ratio", ("<=", 0.1)),
    ("p50_us", "p50 per stack, string vs busybox", "us", "info", None),
]


class Case:
    def __init__(self, name, transport="-", mtu=None, metrics=None, min_runs=0, **params):
        self.name, self.transport, self.mtu = name, transport, mtu
        self.metrics = metrics or []
        self.params = params
        # more runs where one run is cheap and its result bimodal (which
        # vCPU a woken thread lands on decides it): latency, msocket
        self.min_runs = min_runs

    @property
    def label(self):
        mtu = f" mtu {self.mtu}" if self.mtu else ""
        return f"{self.name} {self.transport}{mtu}"


def make_cases(a):
    cases = []
    transports = a.transports
    mtus = a.mtus
    for scen in ("tcp_stream", "tcp_rr", "tcp_rr_1cpu", "udp_small"):
        mr = 5 if scen == "tcp_rr" else 0
        if scen == "tcp_rr_1cpu" and a.quick:
            continue
        for tr in transports:
            for mtu in (mtus if scen != "tcp_rr_1cpu" else mtus[:1]):
                cases.append(Case(scen, tr, mtu, TRAFFIC_METRICS[scen], min_runs=mr))
        for mtu in (mtus if scen != "tcp_rr_1cpu" else mtus[:1]):  # the kernel's own limit
            cases.append(Case(scen, "kernel", mtu, TRAFFIC_METRICS[scen], min_runs=mr))
    cases.append(Case("msocket", "root", None,
                      [("msocket_mean_us", "mean", "us", "ratio", ("<=", 0.5)),
                       ("msocket_p50_us", "p50", "us", "info", None)], min_runs=7))
    cases.append(Case("msocket", "unprivileged", None,
                      [("msocket_mean_us", "mean", "us", "ratio", ("<=", 1.0)),
                       ("msocket_p50_us", "p50", "us", "info", None)], user=True, min_runs=7))
    cases.append(Case("stackcmd", "null://", None,
                      [("stackcmd_mean_us", "mean", "us", "ratio", ("<=", 1.0)),
                       ("stackcmd_p50_us", "p50", "us", "info", None)], min_runs=5))
    cases.append(Case("addstack", "null://", None, min_runs=5, metrics=
                      [("addstack_mean_us", "mean", "us", "ratio", ("<=", 1.0)),
                       ("addstack_p50_us", "p50", "us", "info", None),
                       ("addstack_add_mean_us", "of which vde_addstack", "us", "info", None),
                       ("addstack_del_mean_us", "of which vde_delstack", "us", "info", None)]))
    cases.append(Case("scale", "null://", None, SCALE_METRICS))
    # ours only: a configuration string against busybox through vde_stackcmd
    cases.append(Case("config", "root", None, CONFIG_METRICS))
    cases.append(Case("config", "unprivileged", None, CONFIG_METRICS, user=True))
    cases.append(Case("python", "null://", None, [], min_runs=5))
    cases += local_cases(a)
    if a.only:
        keep = set(a.only.split(","))
        cases = [c for c in cases if c.name in keep or c.label in keep
                 or f"{c.name} {c.transport}" in keep
                 or ("local" in keep and c.params.get("local"))]
    return cases


# local://NAME (ours only), against the kernel's veth measured in the same
# case, alternating: "local" is a bridge of 2 stacks, "local8" of 8 (the
# traffic between two of them, six idle bystanders)
LOCAL_TRANSPORTS = {"local": 0, "local8": 6}
LOCAL_METRICS = {
    "tcp_stream": [("MBps", "throughput", "MB/s", "ratio", (">=", 0.7)),
                   ("cpu_s_per_GB", "CPU per GB moved", "s", "info", None)],
    "tcp_rr": [("rtt_p50_us", "p50 latency", "us", "ratio", ("<=", 1.3)),
               ("rtt_p99_us", "p99 latency", "us", "info", None),
               ("rtt_min_us", "min latency", "us", "info", None)],
    "udp_small": [("delivered_pps", "delivered", "pkt/s", "info", None),
                  ("loss_pct", "loss", "%", "info", None),
                  ("sent_pps", "sent", "pkt/s", "info", None)],
}
LOCAL_SCALE_METRICS = [
    ("create_addr_per_stack_ms", "create+address per stack", "ms", "info", None),
    ("delete_per_stack_ms", "delete per stack", "ms", "info", None),
    ("rtt_p50_us", "tcp_rr p50, last to first stack", "us", "info", None),
    ("pss_per_stack_kb", "PSS (process+helpers) per stack", "KiB", "info", None),
    # the helper and, with a PID namespace per stack, one init per stack
    # that ran a command (each stack here was given its address by one)
    ("helpers_peak", "processes below the program at peak", "procs", "info", None),
    ("fds_left", "fds left after delete", "fds", "abs", ("<=", 0)),
    ("procs_left", "processes left after delete", "procs", "abs", ("<=", 0)),
    ("netns_left", "netns kept alive after delete", "netns", "abs", ("<=", 0)),
]


def local_cases(a):
    cases = []
    for scen, metrics in LOCAL_METRICS.items():
        for tr in LOCAL_TRANSPORTS:
            for mtu in a.mtus:
                cases.append(Case(scen, tr, mtu, metrics, min_runs=5 if scen == "tcp_rr" else 0,
                                  local=True))
    cases.append(Case("scale", "local://", None, LOCAL_SCALE_METRICS, local=True, n=100))
    return cases


# ---------------------------------------------------------------- runner --

class Bench:
    def __init__(self, a):
        self.a = a
        self.work = None
        self.procs = {}          # pid -> description, every child we started
        self.netns = []          # names made with ip netns add
        self.tun_mode = None     # /dev/net/tun mode to restore
        self.bins = {}           # variant -> bench binary
        self.unavailable = {}    # variant -> reason
        self.raw = []            # every measurement
        self.venv_py = None
        self.py_reason = None
        self.run_seq = 0

    # ---- cleanup: every path out of the program comes through here
    def cleanup(self):
        for pid, what in list(self.procs.items()):
            self.kill_group(pid, what)
        for ns in self.netns:
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        self.netns = []
        self.restore_tun()
        if self.work and os.path.isdir(self.work) and not self.a.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    def kill_group(self, pid, what=""):
        """Kill the process group of a child we started (its pid is the pgid)."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            except PermissionError:
                pass
            for _ in range(20):
                try:
                    if os.waitpid(pid, os.WNOHANG)[0] == pid:
                        break
                except ChildProcessError:
                    break
                time.sleep(0.05)
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        self.procs.pop(pid, None)

    def group_alive(self, pgid):
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True

    def restore_tun(self):
        if self.tun_mode is not None:
            os.chmod(TUN, self.tun_mode)
            self.tun_mode = None

    # ---- setup
    def install(self):
        missing = sorted({pkg for f, pkg in REQUIRED_FILES.items() if not os.path.exists(f)})
        # Debian's python3 needs python3-venv for ensurepip
        if os.path.exists("/usr/bin/python3") and sh(
                ["/usr/bin/python3", "-c", "import ensurepip, venv"],
                check=False).returncode != 0:
            missing.append("python3-venv")
        if not missing:
            log("system packages: present")
            return
        if self.a.no_install:
            raise SystemExit(f"missing packages: {' '.join(missing)} (--no-install given)")
        log(f"installing system packages ({' '.join(missing)} missing) with apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        sh(["apt-get", "update"], env=env)
        # libvdestack0 only: never libvdestack-dev, whose vdestack.h would
        # shadow ours in /usr/include
        sh(["apt-get", "install", "-y", "--no-install-recommends"] + APT_PACKAGES, env=env)

    def build(self):
        self.work = tempfile.mkdtemp(prefix="vdsbench.", dir="/tmp")
        os.chmod(self.work, 0o755)  # the unprivileged user runs binaries from here
        src = os.path.join(HERE, "bench.c")
        inc = os.path.join(REPO, "csrc")
        cc = ["gcc", "-O2", "-g", "-Wall", "-Wextra", "-D_GNU_SOURCE", "-I", inc]
        # the original
        if os.path.exists(ORIG_LIB):
            out = os.path.join(self.work, "bench-original")
            try:
                sh(cc + ["-o", out, src, ORIG_LIB, "-lpthread"])
                self.bins["original"] = out
            except RuntimeError as e:
                self.unavailable["original"] = f"build failed: {e}"
        else:
            self.unavailable["original"] = f"{ORIG_LIB} not installed"
        # ours
        reason = self.build_ours(cc, src)
        if reason:
            self.unavailable["ours"] = reason
        for v in VARIANTS:
            if v in self.bins:
                info = self.run_json(self.bins[v], ["info"], timeout=20)
                want = ORIG_LIB if v == "original" else self.ours_libdir
                lib = os.path.realpath(info.get("lib", "?"))
                if not lib.startswith(os.path.realpath(want)):
                    self.unavailable[v] = f"bench-{v} loads {lib}, not {want}"
                    del self.bins[v]
                else:
                    log(f"{v}: bench-{v} uses {lib}")
        for v, why in self.unavailable.items():
            log(f"{v}: NOT AVAILABLE: {short(why, 12)}")
        if not self.bins:
            raise SystemExit("neither variant could be built")

    def build_ours(self, cc, src):
        self.ours_libdir = None
        if not os.path.exists(os.path.join(REPO, "CMakeLists.txt")):
            return "no CMakeLists.txt in the repository yet"
        bdir = os.path.join(self.work, "build")
        log("building our libvdestack.so with cmake")
        try:
            sh(["cmake", "-S", REPO, "-B", bdir, "-DCMAKE_BUILD_TYPE=Release"])
            r = sh(["cmake", "--build", bdir, "--target", "vdestack", "-j",
                    str(os.cpu_count() or 2)], check=False)
            if r.returncode != 0:
                sh(["cmake", "--build", bdir, "-j", str(os.cpu_count() or 2)])
        except RuntimeError as e:
            return f"cmake build failed: {e}"
        libs = [p for p in glob.glob(os.path.join(bdir, "**", "libvdestack.so"), recursive=True)]
        if not libs:
            return "cmake built no libvdestack.so"
        self.ours_libdir = os.path.dirname(os.path.realpath(libs[0]))
        out = os.path.join(self.work, "bench-ours")
        try:
            sh(cc + ["-o", out, src, "-L", self.ours_libdir, "-Wl,-rpath," + self.ours_libdir,
                     "-lvdestack", "-lpthread"])
        except RuntimeError as e:
            return f"bench.c does not build against ours: {e}"
        self.bins["ours"] = out
        return None

    def venv(self):
        """The venv (from Debian's /usr/bin/python3) with matplotlib and our package."""
        vdir = self.a.venv
        py = os.path.join(vdir, "bin", "python")
        if not os.path.exists(py):
            log(f"creating venv {vdir}")
            os.makedirs(os.path.dirname(vdir), exist_ok=True)
            sh(["/usr/bin/python3", "-m", "venv", vdir])
        pip = [py, "-m", "pip", "--disable-pip-version-check", "-q"]
        if sh([py, "-c", "import matplotlib"], check=False).returncode != 0:
            log("pip install matplotlib (into the venv)")
            r = sh(pip + ["install", "matplotlib"], check=False)
            if r.returncode != 0:
                log(f"matplotlib not installed, no chart: {r.stdout[-500:]}")
        self.venv_py = py
        return py

    def install_package(self):
        """pip install <repo> into the venv; a reason string when it cannot."""
        if not (os.path.exists(os.path.join(REPO, "setup.py"))
                or os.path.exists(os.path.join(REPO, "pyproject.toml"))):
            return "no setup.py/pyproject.toml yet"
        if not os.path.isdir(os.path.join(REPO, "vdestack")):
            return "no vdestack/ package yet"
        py = self.venv_py
        sh([py, "-m", "pip", "uninstall", "-y", "-q", "vdestack"], check=False)
        # build from a copy: pip builds in-tree and must not litter the repo
        src = os.path.join(self.work, "src")
        shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
            ".git", "build", "_build", "*.egg-info", ".venv", "results", "__pycache__",
            "*.so", "*.o", ".pytest_cache"))
        log("pip install <repo> into the venv (builds the extension)")
        r = sh([py, "-m", "pip", "--disable-pip-version-check", "-q", "install", src],
               check=False)
        if r.returncode != 0:
            return "pip install failed: " + r.stdout.strip()[-800:]
        r = sh([py, "-c", "import vdestack; print(vdestack.__file__)"], check=False,
               cwd=self.work)
        if r.returncode != 0:
            return "import vdestack failed: " + r.stdout.strip()[-800:]
        return None

    def bench_user(self):
        try:
            pw = pwd.getpwnam(BENCH_USER)
        except KeyError:
            log(f"creating the unprivileged user {BENCH_USER}")
            sh(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                "--shell", "/usr/sbin/nologin", BENCH_USER])
            pw = pwd.getpwnam(BENCH_USER)
        return pw.pw_uid, pw.pw_gid

    # ---- running one measurement
    def run_json(self, binary, args, timeout, wrap=None, user=None, cwd=None):
        """Run one bench invocation; its JSON result, or {"error": ...}."""
        cmd = (wrap or []) + [binary] + args
        kw = {}
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
        if user:
            kw.update(user=user[0], group=user[1], extra_groups=[])
            env["HOME"] = "/nonexistent"
        load = os.getloadavg()[0]
        t = time.monotonic()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True, env=env,
                             cwd=cwd or self.work, **kw)
        self.procs[p.pid] = " ".join(cmd)
        timed_out = False
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self.kill_group(p.pid)
            out, err = p.communicate()
        wall = time.monotonic() - t
        # whatever it left in its process group (a lingering helper) goes too
        lingered = False
        for _ in range(40):
            if not self.group_alive(p.pid):
                break
            time.sleep(0.05)
        else:
            lingered = True
        self.kill_group(p.pid)
        res = None
        for line in reversed(out.splitlines()):
            if line.startswith("{"):
                try:
                    res = json.loads(line)
                    break
                except ValueError:
                    pass
        if res is None:
            res = {}
        if timed_out:
            res["error"] = f"timeout after {timeout} s"
        elif p.returncode != 0 and "error" not in res:
            res["error"] = f"exit status {p.returncode}: {err.strip()[-400:]}"
        if lingered:
            res["lingered"] = True
        res["wall_s"] = round(wall, 3)
        res["load1_before"] = round(load, 2)
        return res

    def new_dir(self):
        self.run_seq += 1
        d = os.path.join(self.work, f"run{self.run_seq}")
        os.mkdir(d)
        os.chmod(d, 0o755)
        return d

    def start_switch(self, d):
        path = os.path.join(d, "sw")
        p = subprocess.Popen(["vde_plug", "null://", f"switch://{path}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        self.procs[p.pid] = "vde_plug switch"
        ctl = os.path.join(path, "ctl")
        for _ in range(200):
            # ctl exists from bind() on, but refuses connections until
            # listen(): wait until a connection goes through
            if os.path.exists(ctl):
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    try:
                        probe.connect(ctl)
                        return p, path
                    except OSError:
                        pass
            if p.poll() is not None:
                break
            time.sleep(0.025)
        self.kill_group(p.pid)
        raise RuntimeError(f"the switch {path} did not start")

    def sockets_in(self, d, skip=("ctl",)):
        n = 0
        for root, _, files in os.walk(d):
            for f in files:
                if f in skip:
                    continue
                try:
                    if stat.S_ISSOCK(os.lstat(os.path.join(root, f)).st_mode):
                        n += 1
                except OSError:
                    pass
        return n

    def traffic(self, variant, case, secs):
        """One traffic measurement of one variant (or of the kernel)."""
        d = self.new_dir()
        scen = case.name.replace("_1cpu", "")
        args = [scen, "-m", str(case.mtu), "-t", str(secs)]
        wrap, sw = [], None
        ru0, res = resource.getrusage(resource.RUSAGE_CHILDREN), {}
        timeout = secs + 60
        try:
            if case.transport == "kernel":
                self.kernel_mtu(case.mtu)
                args += ["-A", f"/run/netns/{self.netns[0]}", "-B", f"/run/netns/{self.netns[1]}"]
            elif case.transport == "ptp":
                vnl = f"ptp://{d}/link"
                args += ["-a", vnl, "-b", vnl]
            elif case.transport == "switch":
                sw, path = self.start_switch(d)
                args += ["-a", f"vde://{path}", "-b", f"vde://{path}"]
            elif case.transport in LOCAL_TRANSPORTS:
                vnl = f"local://bench{self.run_seq}"
                args += ["-a", vnl, "-b", vnl, "-x", str(LOCAL_TRANSPORTS[case.transport])]
            elif case.transport == "vxvde":
                grp = f"239.255.{self.run_seq // 250 % 250}.{self.run_seq % 250 + 1}"
                args += ["-a", f"vxvde://{grp}", "-b", f"vxvde://{grp}"]
                wrap = ["unshare", "-n", "--", "sh", "-c",
                        "ip link set lo up && ip link set lo multicast on && "
                        "ip route add 224.0.0.0/4 dev lo && exec \"$0\" \"$@\""]
            if case.name.endswith("_1cpu"):  # affinity is inherited by all
                wrap = ["taskset", "-c", str((os.cpu_count() or 1) - 1)] + wrap
            binary = self.bins.get(variant) or next(iter(self.bins.values()))
            res = self.run_json(binary, args, timeout, wrap=wrap or None)
            if case.transport in ("ptp", "switch"):
                res["sockets_left"] = self.sockets_in(d)
        finally:
            if sw:
                self.kill_group(sw.pid)
            shutil.rmtree(d, ignore_errors=True)
        # CPU time of the bench, its helpers and the switch: work done, which
        # the machine's other load disturbs much less than wall-clock figures
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        res["cpu_s"] = round(ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime, 4)
        if res.get("total_bytes"):
            res["cpu_s_per_GB"] = res["cpu_s"] / (res["total_bytes"] / 1e9)
        if res.get("rtt_n"):
            res["cpu_us_per_rt"] = res["cpu_s"] / res["rtt_n"] * 1e6
        return res

    def kernel_mtu(self, mtu):
        if not self.netns:
            tag = f"vdsb{os.getpid() % 100000}"
            a, b = f"{tag}-a", f"{tag}-b"
            sh(["ip", "netns", "add", a])
            self.netns.append(a)
            sh(["ip", "netns", "add", b])
            self.netns.append(b)
            sh(["ip", "-n", a, "link", "add", "veth0", "type", "veth", "peer", "name",
                "veth1", "netns", b])
            for ns, ad, dev in ((a, "10.0.0.1", "veth0"), (b, "10.0.0.2", "veth1")):
                sh(["ip", "-n", ns, "addr", "add", f"{ad}/24", "dev", dev])
                sh(["ip", "-n", ns, "link", "set", dev, "up"])
                sh(["ip", "-n", ns, "link", "set", "lo", "up"])
        a, b = self.netns
        sh(["ip", "-n", a, "link", "set", "veth0", "mtu", str(mtu)])
        sh(["ip", "-n", b, "link", "set", "veth1", "mtu", str(mtu)])

    def simple(self, variant, case, n):
        args = [case.name, "-n", str(n)]
        user = None
        if case.params.get("user"):
            user = self.bench_user()
            mode = stat.S_IMODE(os.stat(TUN).st_mode)
            if mode & 0o006 != 0o006:  # change (and later restore) only when needed
                self.tun_mode = mode
                os.chmod(TUN, mode | 0o666)
        try:
            return self.run_json(self.bins[variant], args, 120, user=user)
        finally:
            self.restore_tun()

    def scale(self, variant, n, vnl=None):
        res = self.run_json(self.bins[variant], ["scale", "-n", str(n)] +
                            (["-v", vnl] if vnl else []), 600)
        self.settle_netns()
        return res

    def settle_netns(self, limit=90):
        """Wait for the kernel to free the namespaces of the previous run."""
        def count():
            try:
                with open("/proc/slabinfo") as f:
                    for line in f:
                        if line.startswith("net_namespace "):
                            return int(line.split()[1])
            except OSError:
                pass
            return None
        t = time.monotonic()
        prev = count()
        while prev is not None and time.monotonic() - t < limit:
            time.sleep(0.5)
            cur = count()
            if cur >= prev - 1:  # no longer dropping
                break
            prev = cur

    def python(self, what, secs, n):
        if what == "socket":
            args = ["socket", "-n", str(n)]
        else:
            d = self.new_dir()
            args = ["stream", "-d", d, "-t", str(secs), "-m", "1500"]
        res = self.run_json(self.venv_py, [os.path.join(HERE, "pybench.py")] + args,
                            secs + 90)
        if what != "socket":
            shutil.rmtree(d, ignore_errors=True)
        return res


# ---------------------------------------------------------- aggregation --

def median_of(runs, key):
    vals = [r[key] for r in runs if "error" not in r and isinstance(r.get(key), (int, float))]
    return (statistics.median(vals) if vals else None), len(vals)


def judge(kind, target, orig, ours):
    if ours is None:
        return None, None
    ratio = (ours / orig) if (orig not in (None, 0)) else None
    if kind == "info" or target is None and kind != "nothigher":
        return ratio, None
    if kind == "nothigher":
        return ratio, (None if orig is None else ours <= orig)
    op, val = target
    x = ratio if kind == "ratio" else ours
    if x is None:
        return ratio, None
    return ratio, (x >= val if op == ">=" else x <= val)


def target_text(kind, target):
    if kind == "info":
        return "-"
    if kind == "nothigher":
        return "<= orig"
    op, val = target
    return f"{op} {val}x" if kind == "ratio" else f"{op} {val}"


def fmt(v):
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    if float(v).is_integer() and abs(v) < 1e6:
        return f"{int(v):,}"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.1f}"
    if a >= 10:
        return f"{v:.2f}"
    return f"{v:.3g}"


def metric_rows(c, r, base, ours, *, mtu, runs_ok, base_key="{}", our_key="{}",
                note=None):
    """One table row per metric of case c: the median of the baseline's runs
    (base, key base_key) against the median of ours (key our_key).  r: the
    case's results (for its errors); runs_ok(n_base, n_ours): the row's
    counts of good runs; note: said under the row, if any."""
    rows = []
    for key, label, unit, kind, target in c.metrics:
        mb, nb = median_of(base, base_key.format(key))
        mo, no = median_of(ours, our_key.format(key))
        ratio, met = judge(kind, target, mb, mo)
        row = dict(scenario=c.name, transport=c.transport, mtu=mtu,
                   metric=f"{label} ({unit})", key=key, original=mb, ours=mo,
                   ratio=ratio, target=target_text(kind, target), kind=kind,
                   met=met, runs_ok=runs_ok(nb, no), errors=errors_of(r))
        if note is not None:
            row["note"] = note
        rows.append(row)
    return rows


def build_rows(cases, results, py_reason):
    """results: {case.label: {variant: [run dicts]}} -> table rows."""
    rows = []
    for c in cases:
        if c.name == "python" or c.transport == "kernel" or c.params.get("local"):
            continue
        r = results.get(c.label, {})
        if c.name == "config":
            # one run of ours measures both ways, stack by stack alternately
            runs = r.get("ours", [])
            rows += metric_rows(c, r, runs, runs, mtu=None,
                                runs_ok=lambda nb, no: [no, no],
                                base_key="config_busybox_{}", our_key="config_string_{}",
                                note="the 'original' column is OUR library with "
                                     "vde_stackcmd + busybox here")
            continue
        rows += metric_rows(c, r, r.get("original", []), r.get("ours", []), mtu=c.mtu,
                            runs_ok=lambda nb, no: [nb, no])
        if c.transport in ("ptp", "switch"):
            mo, _ = median_of(r.get("original", []), "sockets_left")
            mu, _ = median_of(r.get("ours", []), "sockets_left")
            if mo is not None or mu is not None:
                rows.append(dict(scenario=c.name, transport=c.transport, mtu=c.mtu,
                                 metric="socket files left after exit", key="sockets_left",
                                 original=mo, ours=mu, ratio=None, target="<= 0",
                                 kind="abs", met=None if mu is None else mu <= 0,
                                 runs_ok=[], errors={}))
    # python: against our own C figures, measured in pairs with it
    if any(c.name == "python" for c in cases):
        r = results.get("python null://", {})
        cr, pr = r.get("c", []), r.get("python", [])

        def sel(runs, scen):
            return [x for x in runs if x.get("scenario") == scen]
        cmsock, _ = median_of(sel(cr, "c_msocket"), "msocket_mean_us")
        cstream, _ = median_of(sel(cr, "c_stream"), "MBps")
        psock, _ = median_of(sel(pr, "py_socket"), "socket_mean_us")
        pstream, _ = median_of(sel(pr, "py_stream"), "MBps")
        pmsock, _ = median_of(sel(pr, "py_socket"), "msocket_mean_us")
        pyerr = errors_of(r)
        for metric, cval, pval, tgt, kind, tr, mtu in (
                ("Stack.socket()+close vs C vde_msocket+close (us)", cmsock, psock,
                 ("<=", 1.3), "ratio", "root", None),
                ("os.close(Stack.msocket()) vs C (us)", cmsock, pmsock, None, "info",
                 "root", None),
                ("TCP stream StackSocket.sendall vs C (MB/s)", cstream, pstream,
                 (">=", 0.9), "ratio", "ptp", 1500)):
            ratio, met = judge(kind, tgt, cval, pval)
            rows.append(dict(scenario="python", transport=tr, mtu=mtu, metric=metric,
                             key="python", original=cval, ours=pval, ratio=ratio,
                             target=target_text(kind, tgt) +
                             (" (within 10%)" if "stream" in metric else ""),
                             kind=kind, met=met, runs_ok=[], errors=pyerr,
                             note=py_reason or "the 'original' column is OUR C library here"))
    return rows


def local_rows(cases, results):
    """local:// rows: ours against the kernel's veth of the same case (the
    'original' column holds the kernel's figure)."""
    rows = []
    for c in cases:
        if not c.params.get("local"):
            continue
        r = results.get(c.label, {})
        rows += metric_rows(c, r, r.get("kernel", []), r.get("ours", []), mtu=c.mtu,
                            runs_ok=lambda nb, no: [None, no],
                            note="the 'original' column is the kernel's veth between "
                                 "two namespaces, measured alternating with it")
    return rows


def errors_of(r):
    errs = {}
    for v, runs in r.items():
        e = [x["error"] for x in runs if "error" in x]
        if e:
            errs[v] = e
    return errs


def kernel_rows(cases, results):
    out = []
    for c in cases:
        if c.transport != "kernel":
            continue
        k = results.get(c.label, {}).get("kernel", [])
        for key, label, unit, kind, _ in c.metrics:
            pinned = c.name.endswith("_1cpu") and key != "rtt_min_us"
            if (kind == "info" and not pinned) or key == "loss_pct":
                continue
            # the limit: the best run (a run's latency on this kind of VM is
            # bimodal: it depends on whether the woken thread's vCPU idled)
            kvals = [x[key] for x in k if "error" not in x and isinstance(x.get(key), (int, float))]
            kv = (min(kvals) if unit == "us" else max(kvals)) if kvals else None
            for tr in ("ptp", "switch", "vxvde"):
                r = results.get(f"{c.name} {tr} mtu {c.mtu}")
                if r is None:
                    continue
                row = dict(scenario=c.name, transport=tr, mtu=c.mtu, metric=f"{label} ({unit})",
                           kernel=kv)
                for v in VARIANTS:
                    x, _ = median_of(r.get(v, []), key)
                    row[v] = x
                    if kv is None or x in (None, 0):
                        row[f"{v}_fraction"] = None
                    elif unit == "us":   # latency: kernel / transport
                        row[f"{v}_fraction"] = kv / x
                    else:
                        row[f"{v}_fraction"] = x / kv
                out.append(row)
    return out


def table_text(rows, md=False):
    head = ["scenario", "transport", "MTU", "metric", "original", "ours", "ratio",
            "target", "met?"]
    lines = []
    body = []
    for r in rows:
        met = {True: "yes", False: "NO", None: "n/a"}[r["met"]]
        if r["errors"]:
            met += " (errors)"
        body.append([r["scenario"], r["transport"], str(r["mtu"] or "-"), r["metric"],
                     fmt(r["original"]), fmt(r["ours"]),
                     "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}x",
                     r["target"], met])
    if md:
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join("---" for _ in head) + "|")
        for b in body:
            lines.append("| " + " | ".join(b) + " |")
    else:
        w = [max(len(x[i]) for x in body + [head]) for i in range(len(head))]
        lines.append("  ".join(h.ljust(w[i]) for i, h in enumerate(head)))
        lines.append("  ".join("-" * w[i] for i in range(len(head))))
        for b in body:
            lines.append("  ".join(x.ljust(w[i]) for i, x in enumerate(b)))
    return "\n".join(lines)


def kernel_text(krows, md=False):
    head = ["scenario", "transport", "MTU", "metric", "kernel (veth, best run)", "original",
            "orig/kernel", "ours", "ours/kernel"]
    body = []
    for r in krows:
        def frac(x):
            return "n/a" if x is None else f"{100 * x:.0f}%"
        body.append([r["scenario"], r["transport"], str(r["mtu"]), r["metric"],
                     fmt(r["kernel"]), fmt(r["original"]), frac(r["original_fraction"]),
                     fmt(r["ours"]), frac(r["ours_fraction"])])
    if not body:
        return ""
    if md:
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        lines += ["| " + " | ".join(b) + " |" for b in body]
    else:
        w = [max(len(x[i]) for x in body + [head]) for i in range(len(head))]
        lines = ["  ".join(h.ljust(w[i]) for i, h in enumerate(head)),
                 "  ".join("-" * w[i] for i in range(len(head)))]
        lines += ["  ".join(x.ljust(w[i]) for i, x in enumerate(b)) for b in body]
    return "\n".join(lines)


def machine_info():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) // 1024} MiB"
    except (OSError, ValueError, IndexError):
        pass
    distro = "?"
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    try:
        commit = sh(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                    check=False).stdout.strip()
    except OSError:
        commit = ""
    return dict(cores=os.cpu_count(), cpu=cpu, kernel=platform.release(), memory=mem,
                distro=distro, commit=commit if re.fullmatch(r"[0-9a-f]+", commit or "") else
                "uncommitted", date=datetime.datetime.now(datetime.timezone.utc)
                .strftime("%Y-%m-%d %H:%M UTC"))


# ----------------------------------------------------------------- chart --

def chart_rows(data):
    """The rows of the chart, in three panels, each value as "times better
    than the reference": ours/original for what should be high (throughput),
    original/ours for what should be low (time, memory).  Returns
    [(panel title, [(label, times_better, target_times_better)])]."""
    panels = {"thr": [], "lat": [], "py": [], "cfg": []}
    for r in data["rows"]:
        if r["kind"] != "ratio" or r["ratio"] is None or not r["ratio"] > 0:
            continue
        op, tv = r["target"].split()[:2]
        higher = op == ">="
        tv = float(tv.rstrip("x"))
        better = r["ratio"] if higher else 1.0 / r["ratio"]
        target = tv if higher else 1.0 / tv
        metric = r["metric"].split(" (")[0]
        mtu = f" MTU {r['mtu']}" if r["mtu"] else ""
        if r["scenario"] == "python":
            what = "Stack.socket()+close" if "socket()" in metric else "StackSocket.sendall"
            panels["py"].append((f"{what}, {r['transport']}{mtu}", better, target))
            continue
        if r["scenario"] == "config":
            panels["cfg"].append((f"address + up, {r['transport']}", better, target))
            continue
        label = {
            "msocket": f"vde_msocket {r['transport']}: {metric} time",
            "stackcmd": f"vde_stackcmd: {metric} time",
            "addstack": f"vde_addstack+vde_delstack: {metric} time",
            "scale": "1000 stacks: " + ("memory (PSS)" if "PSS" in metric else metric),
        }.get(r["scenario"], f"{r['scenario']} {r['transport']}{mtu} {metric}")
        panels["thr" if higher else "lat"].append((label, better, target))
    titles = {
        "thr": "Throughput: ours / original (higher is better)",
        "lat": "Latency, time and memory: original / ours (lower cost is better)",
        "py": "Python binding against OUR C library (not the original): 1x = as fast as C",
        "cfg": "Configuration string against vde_stackcmd + busybox, both OUR library",
    }
    return [(titles[k], panels[k]) for k in ("thr", "lat", "py", "cfg") if panels[k]]


def chart(results_json, png):
    """Bar chart of the results (run by a python that has matplotlib):
    every bar is "times better than the original" on one log scale, green
    where vdestack is better, red where it is worse, the target a black
    diamond; the Python rows in a panel of their own, against our C
    library."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
    with open(results_json) as f:
        data = json.load(f)
    panels = chart_rows(data)
    if not panels:
        print("chart: no ratio to plot", file=sys.stderr)
        return
    better_c, worse_c, py_c = "#2a9d4b", "#d1495b", "#4a78b5"
    values = [v for _, rows in panels for _, b, t in rows for v in (b, t)]
    lo = 2.0 ** min(-1, math.floor(math.log2(min(values))))
    hi = 2.0 ** max(2, math.ceil(math.log2(max(values) * 3)))     # room for the labels
    ticks = []
    t = lo
    while t <= hi * 1.001:
        ticks.append(t)
        t *= 2
    heights = [len(rows) + 1.2 for _, rows in panels]
    fig, axes = plt.subplots(len(panels), 1, sharex=True,
                             figsize=(10.5, 0.3 * sum(heights) + 2.2),
                             gridspec_kw={"height_ratios": heights})
    if len(panels) == 1:
        axes = [axes]
    for ax, (title, rows) in zip(axes, panels):
        is_py = title.startswith(("Python", "Configuration"))   # both against OUR library
        y = list(range(len(rows)))
        colors = [py_c if is_py else (better_c if b >= 1 else worse_c) for _, b, _ in rows]
        # bars grow from 1x: right = better than the reference, left = worse
        ax.barh(y, [b - 1 for _, b, _ in rows], left=1, color=colors, height=0.7)
        ax.plot([t for _, _, t in rows], y, "D", color="black", ms=5, zorder=3)
        for i, (_, b, t) in enumerate(rows):
            x = max(b, t, 1.0) * 1.08          # right of the bar, the target and 1x
            text = f"{b:.2f}x"
            if title.startswith("Latency"):
                text += f"  (ours: {1 / b:.2f}x the cost)"
            ax.text(x, i, text, va="center", fontsize=7.5, ha="left")
        ax.axvline(1.0, color="black", lw=1)
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
        ax.grid(axis="x", color="#dddddd", lw=0.6)
        ax.set_axisbelow(True)
        ax.set_yticks(y)
        ax.set_yticklabels([label for label, _, _ in rows], fontsize=7.5)
        ax.set_ylim(len(rows) - 0.4, -0.6)
        ax.set_title(title, fontsize=9, loc="left")
        ax.tick_params(axis="x", labelbottom=True, labelsize=8)
    axes[-1].set_xlabel("times better than the reference (log scale; 1x = the same; "
                        "right of 1x: vdestack is better)", fontsize=8.5)
    m = data["machine"]
    fig.suptitle(f"vdestack against the original libvdestack 0.1.2 - median of >= "
                 f"{data['config']['runs']} runs - {m['cores']} cores, Linux {m['kernel']}, "
                 f"{m.get('date', '')}", fontsize=9.5)
    fig.legend(handles=[Patch(color=better_c, label="vdestack better than the original"),
                        Patch(color=worse_c, label="vdestack worse than the original"),
                        Patch(color=py_c, label="Python against our C library; "
                                                "strings against busybox"),
                        Line2D([], [], marker="D", color="black", ls="", ms=5,
                               label="target")],
               loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.035, 1, 0.98))
    fig.subplots_adjust(left=max(fig.subplotpars.left, 0.28))   # the longest labels
    fig.savefig(png, dpi=120)


def redraw(a):
    """Draw chart.png again from results.json in --out, without measuring:
    with this python if it has matplotlib, else with the benchmark venv's."""
    out = a.out or os.path.join(HERE, "results")
    rj, png = os.path.join(out, "results.json"), os.path.join(out, "chart.png")
    if not os.path.exists(rj):
        raise SystemExit(f"--redraw: no {rj}")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        py = Bench(a).venv()
        return subprocess.run([py, os.path.abspath(__file__), "--chart", rj, png]).returncode
    chart(rj, png)
    print(f"wrote {png}")
    return 0


# ------------------------------------------------------------------ main --

README_BEGIN = "<!-- results:begin (written by run.py) -->"
README_END = "<!-- results:end -->"


def readme_section(data):
    m = data["machine"]
    cfg = data["config"]
    s = [README_BEGIN, "",
         f"Latest run: {m['date']}, {'--quick' if cfg['quick'] else 'full run'}, "
         f"median of {cfg['runs']} run(s) per variant, alternating original/ours"
         + ("." if cfg["quick"] else " (more for the cheap scenarios whose single run is "
            "bimodal: tcp_rr 5, msocket 7, stackcmd and addstack 5, python 5 pairs)."),
         f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory']}, Linux {m['kernel']}, "
         f"{m['distro']}; repository at {m['commit']}.",
         f"1-minute load average when runs started: mean {data['load1']['mean']}, max "
         f"{data['load1']['max']} (anything above 0 means other work shared the CPUs).", ""]
    for v, why in data["unavailable"].items():
        s.append(f"**{v} not measured**: {why.splitlines()[0]}")
        s.append("")
    s.append("Rows `python`: the `original` column is OUR C library there (`vde_msocket`, "
             "`tcp_stream` over ptp at MTU 1500), measured in pairs with the Python figures. "
             "Rows `config`: both columns are OUR library, giving stacks an address and "
             "bringing their interface up, stack by stack alternately: `original` by "
             "`vde_stackcmd` with busybox (`ip addr add; ip link set up`), `ours` by "
             "`vdestack_config(s, \"ip=A/24\")`. "
             "Rows `local`/`local8` (`local://NAME`, a bridge of 2 or of 8 stacks): the "
             "`original` column is the kernel's own veth between two namespaces, measured "
             "alternating with ours in the same case. "
             "Rows without a target are information.")
    s.append("")
    s.append(table_text(data["rows"], md=True))
    k = kernel_text(data["kernel"], md=True)
    if k:
        s += ["", "Fraction of the kernel's own limit (two namespaces joined by a veth "
              "pair, best of the runs; transports: median; throughput: transport/kernel, "
              "latency: kernel/transport):", "", k]
    missed = [r for r in data["rows"] if r["met"] is False]
    s += ["", f"Targets met: {sum(1 for r in data['rows'] if r['met'])}, missed: {len(missed)}, "
          f"not measured: {sum(1 for r in data['rows'] if r['met'] is None and r['kind'] != 'info')}."]
    errs = [(r, v, e) for r in data["rows"] for v, e in r["errors"].items()]
    if errs:
        s += ["", "Errors during the run:", ""]
        seen = set()
        for r, v, e in errs:
            t = f"- {r['scenario']} {r['transport']} {r['mtu'] or ''} {v}: {e[0][:200]}"
            if t not in seen:
                seen.add(t)
                s.append(t)
    s += ["", README_END]
    return "\n".join(s)


def write_readme(data):
    path = os.path.join(HERE, "README.md")
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\n"
    sec = readme_section(data)
    if README_BEGIN in text and README_END in text:
        a = text.index(README_BEGIN)
        b = text.index(README_END) + len(README_END)
        text = text[:a] + sec + text[b:]
    else:
        text = text.rstrip() + "\n\n## Latest results\n\n" + sec + "\n"
    with open(path, "w") as f:
        f.write(text)


def measure(b, c, v, run, res):
    """One measurement of case c for variant v: its result dict, or None
    when it stored its results itself (python: two of them)."""
    a = b.a
    if c.params.get("local") and c.name == "scale":
        return b.scale("ours", c.params["n"], "local://benchscale")
    if c.params.get("local") and v == "kernel":   # the reference, paired with it
        return b.traffic("ours", Case(c.name, "kernel", c.mtu), a.dur[c.name])
    if c.name in TRAFFIC_METRICS:
        return b.traffic(v if v != "kernel" else "ours", c, a.dur[c.name])
    if c.name == "scale":
        return b.scale(v, a.n_scale)
    if c.name == "python":
        out = []
        if v == "c":  # the C figures of the same kind, right next to Python's
            if "ours" not in b.bins:
                return {"error": "not available: bench-ours was not built"}
            out.append(b.simple("ours", Case("msocket", "root"), a.n_msocket))
            out[-1]["scenario"] = "c_msocket"
            out.append(b.traffic("ours", Case("tcp_stream", "ptp", 1500), a.dur["tcp_stream"]))
            out[-1]["scenario"] = "c_stream"
        elif b.py_reason:
            return {"error": f"not available: {b.py_reason.splitlines()[0]}"}
        else:
            for what in ("socket", "stream"):
                rr = b.python(what, a.dur["tcp_stream"], a.n_msocket)
                if rr.get("available") is False:
                    rr["error"] = "not available: " + rr.get("error", "")
                out.append(rr)
        for rr in out:
            rr["variant"], rr["run"], rr["case"] = v, run, c.label
            b.raw.append(rr)
            res.setdefault(v, []).append(rr)
            if "error" in rr:
                log(f"    {v}: ERROR {rr['error'][:300]}")
        return None
    n = dict(msocket=a.n_msocket, stackcmd=a.n_stackcmd, addstack=a.n_addstack,
             config=a.n_config)[c.name]
    return b.simple(v, c, n)


def on_sigterm(signum, frame):
    raise KeyboardInterrupt()


def compare(old_path, new_path):
    """Each row of two runs side by side: its ratio (ours / original) then and
    now, and how much better (>1) or worse (<1) ours got against the original
    (the original, measured in both runs, takes the machines' difference out)."""
    old = {(r["scenario"], r["transport"], r["mtu"], r["metric"]): r
           for r in json.load(open(old_path))["rows"]}
    new = json.load(open(new_path))["rows"]
    print(f"{'scenario':12} {'transport':12} {'mtu':>5}  {'metric':48} {'then':>7} "
          f"{'now':>7} {'better':>7}")
    for r in new:
        o = old.get((r["scenario"], r["transport"], r["mtu"], r["metric"]))
        if not o or not o.get("ratio") or not r.get("ratio") or r.get("kind") != "ratio":
            continue
        lower_better = any(w in r["metric"] for w in ("latency", "us)", "ms)", "CPU", "KiB",
                                                      "loss", "(s)"))
        gain = o["ratio"] / r["ratio"] if lower_better else r["ratio"] / o["ratio"]
        print(f"{r['scenario']:12} {str(r['transport']):12} {str(r['mtu']):>5}  "
              f"{r['metric'][:48]:48} {o['ratio']:7.2f} {r['ratio']:7.2f} {gain:7.2f}")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a short subset, under a minute")
    ap.add_argument("--out", help="results directory (default benchmarks/results/, "
                    "benchmarks/results/quick/ with --quick)")
    ap.add_argument("--runs", type=int, help="runs per variant (default 3, quick 1)")
    ap.add_argument("--only", help="comma-separated scenario names or 'name transport[ mtu M]'"
                    " ('local': every local:// case)")
    ap.add_argument("--transports", default=None, help="ptp,switch,vxvde")
    ap.add_argument("--mtus", default=None, help="1500,9000")
    ap.add_argument("--scale-n", type=int, help="stacks in the scale scenario (1000)")
    ap.add_argument("--venv", default=os.path.expanduser("~/.cache/vdestack-bench/venv"))
    ap.add_argument("--no-install", action="store_true", help="never call apt-get")
    ap.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    ap.add_argument("--readme", action="store_true",
                    help="update README.md after a --quick run too")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (debugging)")
    ap.add_argument("--redraw", action="store_true",
                    help="only draw chart.png again from results.json in --out (no measuring)")
    ap.add_argument("--chart", nargs=2, metavar=("RESULTS_JSON", "PNG"), help=argparse.SUPPRESS)
    ap.add_argument("--compare", nargs=2, metavar=("OLD_JSON", "NEW_JSON"),
                    help="compare two results.json row by row (no measuring)")
    a = ap.parse_args()
    if a.chart:
        chart(*a.chart)
        return 0
    if a.compare:
        return compare(*a.compare)
    if a.redraw:
        return redraw(a)
    if os.geteuid() != 0:
        raise SystemExit("run.py must run as root (namespaces, veth, apt-get, the "
                         "unprivileged user); e.g. sudo python3 benchmarks/run.py")
    os.umask(0o022)
    q = a.quick
    a.out = a.out or os.path.join(HERE, "results", "quick" if q else "")
    a.runs = a.runs or (1 if q else 3)
    a.transports = (a.transports or ("ptp" if q else "ptp,switch,vxvde")).split(",")
    a.mtus = [int(x) for x in (a.mtus or ("1500" if q else "1500,9000")).split(",")]
    dur = a.dur = dict(tcp_stream=1 if q else 4, tcp_rr=1 if q else 3, tcp_rr_1cpu=3,
                       udp_small=1 if q else 2)
    n_msocket = a.n_msocket = 2000 if q else 5000
    n_stackcmd = a.n_stackcmd = 50 if q else 300
    n_addstack = a.n_addstack = 30 if q else 100
    n_scale = a.n_scale = a.scale_n or (100 if q else 1000)
    n_config = a.n_config = a.scale_n or (100 if q else 1000)
    cases = make_cases(a)
    if q and not a.only:  # quick: no python (building the extension alone takes a while)
        cases = [c for c in cases if c.name != "python"]

    b = Bench(a)
    # Ctrl-C and SIGTERM both unwind through the finally below
    signal.signal(signal.SIGTERM, on_sigterm)
    results = {}
    try:
        b.install()
        b.build()
        need_py = any(c.name == "python" for c in cases)
        try:
            b.venv()
        except RuntimeError as e:
            log(f"venv: {e}")
            b.py_reason = f"venv failed: {e}"
        if need_py and not b.py_reason:
            b.py_reason = b.install_package()
            if b.py_reason:
                log(f"python scenario: not available: {b.py_reason.splitlines()[0]}")
        for i, c in enumerate(cases, 1):
            res = results.setdefault(c.label, {})
            runs = a.runs if a.quick else max(a.runs, c.min_runs)
            for run in range(runs):
                if c.transport == "kernel":
                    order = ["kernel"]
                elif c.params.get("local"):
                    # ours only, alternating with the kernel's veth
                    order = ["ours"] if c.name == "scale" else \
                        (["kernel", "ours"] if run % 2 == 0 else ["ours", "kernel"])
                elif c.name == "python":
                    # Python against our C library, measured in pairs
                    order = ["c", "python"] if run % 2 == 0 else ["python", "c"]
                elif c.name == "config":
                    order = ["ours"]       # both ways in one run of ours
                else:
                    order = list(VARIANTS) if run % 2 == 0 else list(reversed(VARIANTS))
                for v in order:
                    if v in VARIANTS and v not in b.bins:
                        continue
                    log(f"[{i}/{len(cases)}] {c.label}: run {run + 1}/{runs} {v}")
                    try:
                        r = measure(b, c, v, run, res)
                    except (OSError, RuntimeError, ValueError) as e:
                        r = {"error": f"driver: {type(e).__name__}: {e}"}
                    if r is None:
                        continue
                    r["variant"], r["run"], r["case"] = v, run, c.label
                    b.raw.append(r)
                    res.setdefault(v, []).append(r)
                    if "error" in r:
                        log(f"    {v}: ERROR {r['error'][:300]}")
                if c.name == "python" and b.py_reason and "ours" not in b.bins:
                    break
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        b.cleanup()
        return 130
    finally:
        b.cleanup()

    rows = build_rows(cases, results, b.py_reason) + local_rows(cases, results)
    krows = kernel_rows(cases, results)
    data = dict(machine=machine_info(),
                config=dict(quick=q, runs=a.runs, transports=a.transports, mtus=a.mtus,
                            durations=dur, n_msocket=n_msocket, n_stackcmd=n_stackcmd,
                            n_addstack=n_addstack, n_scale=n_scale, n_config=n_config,
                            original=ORIG_LIB, ours_libdir=getattr(b, "ours_libdir", None)),
                load1=dict(mean=round(statistics.mean(x["load1_before"] for x in b.raw
                                                      if "load1_before" in x), 2)
                           if b.raw else None,
                           max=max((x["load1_before"] for x in b.raw if "load1_before" in x),
                                   default=None)),
                unavailable=b.unavailable, python_unavailable=b.py_reason,
                rows=rows, kernel=krows, raw=b.raw)
    os.makedirs(a.out, exist_ok=True)
    rj = os.path.join(a.out, "results.json")
    with open(rj, "w") as f:
        json.dump(data, f, indent=1)
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(readme_section(data) + "\n")
    print()
    print(table_text(rows))
    k = kernel_text(krows)
    if k:
        print("\nFraction of the kernel's own limit (veth between two namespaces):\n")
        print(k)
    missed = [r for r in rows if r["met"] is False]
    print(f"\ntargets met: {sum(1 for r in rows if r['met'])}, missed: {len(missed)}")
    for v, why in b.unavailable.items():
        print(f"{v}: not measured: {why.splitlines()[0]}")
    if b.venv_py:
        r = sh([b.venv_py, os.path.abspath(__file__), "--chart", rj,
                os.path.join(a.out, "chart.png")], check=False)
        if r.returncode != 0:
            log(f"chart failed: {r.stdout[-500:]}")
    if not a.no_readme and (not q or a.readme):
        write_readme(data)
    log(f"results in {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
