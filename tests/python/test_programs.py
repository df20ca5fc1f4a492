"""Programs in a stack: Stack.popen(), Stack.run(), Stack.netns_fd(), the
``vdestack`` command, and the lifetime of everything they start.

Each behaviour is checked by what the program saw or did (its exit status,
the addresses it saw, bytes it wrote) and compared with plain ``subprocess``
where the two must agree.
"""

from __future__ import annotations

import ctypes
import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
from typing import List

import pytest

import vdestack
from conftest import BUSYBOX, child_pids, configure, in_child, pid_alive
from test_interop import switch  # noqa: F401  (the fixture)

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
NS_GET_USERNS = 0xB701

VDESTACK_CMD = os.path.join(os.path.dirname(sys.executable), "vdestack")


def netns_inode(pid: str = "self") -> int:
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def marked(marker: str) -> List[int]:
    """Live processes (any owner, any PID namespace) whose command line
    contains marker."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if marker.encode() in f.read() and pid_alive(int(name)):
                    found.append(int(name))
        except OSError:
            continue
    return found


def wait_gone(marker: str, within: float) -> bool:
    """True once no process carries marker, seen twice 50 ms apart (one
    look may miss a process in the middle of execve)."""
    deadline = time.monotonic() + within
    while True:
        if not marked(marker):
            time.sleep(0.05)
            if not marked(marker):
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def wait_marked(marker: str, within: float = 5.0) -> List[int]:
    """marked(marker), once something carries it (a process just forked or
    in the middle of execve may not show its command line yet)."""
    deadline = time.monotonic() + within
    while not marked(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
    return marked(marker)


def unique(tag: str) -> str:
    return f"vdst-{tag}-{os.getpid()}-{time.monotonic_ns()}"


# -- Stack.run / Stack.popen -------------------------------------------------------

def test_run_inside_the_stack(make_stack) -> None:
    """The program runs in the stack's namespace and sees its address."""
    s = make_stack("null://")
    configure(s, "10.70.0.1")
    r = s.run(["busybox", "ip", "-o", "-4", "addr", "show", "dev", "vde0"],
              capture_output=True, text=True, check=True)
    assert r.returncode == 0
    assert "10.70.0.1/24" in r.stdout
    assert isinstance(r, subprocess.CompletedProcess)
    r = s.run([BUSYBOX, "readlink", "/proc/self/ns/net"], capture_output=True, text=True)
    assert r.stdout.strip() != os.readlink("/proc/self/ns/net")


def test_run_capabilities(make_stack) -> None:
    """Exactly the four network capabilities, as vde_stackcmd gives them."""
    s = make_stack()
    r = s.run([BUSYBOX, "grep", "-E", "^Cap(Eff|Prm|Bnd|Amb)", "/proc/self/status"],
              capture_output=True, text=True, check=True)
    caps = dict(line.split(":\t") for line in r.stdout.splitlines())
    assert caps == {"CapEff": "0000000000003c00", "CapPrm": "0000000000003c00",
                    "CapBnd": "0000000000003c00", "CapAmb": "0000000000003c00"}


def test_run_statuses(make_stack) -> None:
    """returncode as subprocess reports it: N, -N for a signal."""
    s = make_stack()
    for script, want in (("exit 0", 0), ("exit 7", 7), ("exit 255", 255),
                         ("kill -9 $$", -9), ("kill -15 $$", -15), ("kill -6 $$", -6)):
        plain = subprocess.run([BUSYBOX, "sh", "-c", script]).returncode
        assert plain == want
        assert s.run([BUSYBOX, "sh", "-c", script]).returncode == want, script


def test_run_keywords(make_stack, tmp_path) -> None:
    """input, capture_output, text, env, cwd, check, timeout."""
    s = make_stack()
    r = s.run([BUSYBOX, "cat"], input=b"through the pipe", capture_output=True)
    assert r.stdout == b"through the pipe" and r.stderr == b""
    r = s.run(["sh", "-c", 'echo "$VDST_X"; pwd; echo err >&2'], capture_output=True,
              text=True, env={"VDST_X": "from env", "PATH": "/usr/bin:/bin"}, cwd=tmp_path)
    assert r.stdout == f"from env\n{tmp_path}\n" and r.stderr == "err\n"
    with pytest.raises(subprocess.CalledProcessError) as info:
        s.run([BUSYBOX, "sh", "-c", "echo out; exit 3"], check=True, capture_output=True)
    assert info.value.returncode == 3 and info.value.stdout == b"out\n"
    t0 = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        s.run([BUSYBOX, "sleep", "30"], timeout=0.5)
    assert time.monotonic() - t0 < 5


def test_popen_path_lookup_like_subprocess(make_stack, tmp_path) -> None:
    """Relative names are found on the env's PATH; errors as subprocess's."""
    s = make_stack()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / "vdst-tool"
    tool.write_text("#!/bin/sh\necho found me\n")
    tool.chmod(0o755)
    env = {"PATH": f"{bindir}:/usr/bin:/bin"}
    r = s.run(["vdst-tool"], env=env, capture_output=True, text=True)
    assert r.stdout == "found me\n"
    for args in (["vdst-no-such-program"], [str(tmp_path / "missing")], [str(tmp_path)]):
        with pytest.raises(OSError) as plain:
            subprocess.run(args, env=env)
        with pytest.raises(OSError) as ours:
            s.run(args, env=env)
        assert type(ours.value) is type(plain.value)
        assert ours.value.errno == plain.value.errno

    def failures_leave_no_child() -> bool:
        # in a fresh child: pytest is a subreaper and collects orphans
        with vdestack.Stack() as st:
            for args in (["vdst-no-such-program"], [str(tmp_path)]):
                try:
                    st.run(args, env=env)
                except OSError:
                    pass
            try:
                os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return True
            return False

    assert in_child(failures_leave_no_child), "a forwarder was left behind"


def test_popen_is_a_popen(make_stack) -> None:
    """A real Popen: pid is our child, terminate() gives -15, the program
    gets the signal."""
    s = make_stack()
    p = s.popen([BUSYBOX, "sh", "-c", "trap 'exit 42' USR1; echo up; "
                 "while :; do " + BUSYBOX + " sleep 0.05; done"],
                stdout=subprocess.PIPE, text=True)
    assert isinstance(p, subprocess.Popen)
    assert p.pid in child_pids()
    assert p.stdout.readline() == "up\n"
    p.send_signal(signal.SIGUSR1)
    assert p.wait(10) == 42
    p.stdout.close()
    p = s.popen([BUSYBOX, "sleep", "30"])
    time.sleep(0.1)
    p.terminate()
    assert p.wait(10) == -signal.SIGTERM
    marker = unique("kill")
    p = s.popen([BUSYBOX, "sh", "-c", f"{BUSYBOX} sleep 30; : {marker}"])
    for _ in range(100):
        if marked(marker):
            break
        time.sleep(0.02)
    assert marked(marker)
    p.kill()
    assert p.wait(10) == -signal.SIGKILL
    assert wait_gone(marker, 2), "kill() of the Popen ends the program"


def test_popen_pass_fds_and_no_fd_held(make_stack) -> None:
    """pass_fds reaches the program; the forwarder keeps none of our fds
    (a pipe we close reads EOF at once though the program still runs)."""
    s = make_stack()
    r, w = os.pipe()
    p = s.popen([BUSYBOX, "sh", "-c", f"echo passed >&{w}"], pass_fds=[w])
    assert p.wait(10) == 0
    os.close(w)
    assert os.read(r, 100) == b"passed\n"
    os.close(r)
    r, w = os.pipe()                      # close-on-exec, never passed
    p = s.popen([BUSYBOX, "sleep", "30"])
    try:
        os.close(w)
        ready, _, _ = select.select([r], [], [], 5)
        assert ready and os.read(r, 10) == b"", "someone still holds the write end"
    finally:
        os.close(r)
        p.kill()
        p.wait(10)
    t0 = time.monotonic()
    out = s.run([BUSYBOX, "sh", "-c", "echo fast"], capture_output=True).stdout
    assert out == b"fast\n" and time.monotonic() - t0 < 5


def test_popen_preexec_fn_and_session(make_stack, tmp_path) -> None:
    """A user's preexec_fn runs in the program's process, inside the stack;
    start_new_session works."""
    s = make_stack()
    seen = tmp_path / "seen"

    def pre() -> None:
        with open(seen, "w") as f:
            f.write(os.readlink("/proc/self/ns/net"))

    r = s.run([BUSYBOX, "readlink", "/proc/self/ns/net"], preexec_fn=pre,
              capture_output=True, text=True)
    assert seen.read_text() == r.stdout.strip() != os.readlink("/proc/self/ns/net")
    p = s.popen([BUSYBOX, "sh", "-c", "ps -o sid,pid | head -0; cat /proc/self/stat"],
                start_new_session=True, stdout=subprocess.PIPE, text=True)
    out, _ = p.communicate(timeout=10)
    fields = out[out.rindex(")") + 2:].split()
    assert int(fields[3]) != os.getsid(0), "a new session"


def test_popen_preexec_fn_fails() -> None:
    """A user's preexec_fn that raises: Popen's own SubprocessError, and
    no forwarder is left behind."""
    def host() -> str:
        with vdestack.Stack() as s:
            try:
                s.popen([BUSYBOX, "true"], preexec_fn=lambda: 1 / 0)
            except subprocess.SubprocessError as exc:
                what = str(exc)
            try:
                os.waitpid(-1, os.WNOHANG)
                return "a child is left"
            except ChildProcessError:
                return what

    assert in_child(host) == "Exception occurred in preexec_fn."


def test_popen_closed_stack(make_stack) -> None:
    s = make_stack()
    s.close()
    with pytest.raises(ValueError):
        s.popen([BUSYBOX, "true"])
    with pytest.raises(ValueError):
        s.run([BUSYBOX, "true"])


def test_popen_threads(make_stack) -> None:
    """Popen from several threads at once (the host is threaded)."""
    import concurrent.futures
    s = make_stack()
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        res = list(ex.map(lambda i: s.run([BUSYBOX, "sh", "-c", f"exit {i}"]).returncode,
                          range(16)))
    assert res == list(range(16))


# -- netns_fd -------------------------------------------------------------------------

def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def test_netns_fd_setns(make_stack) -> None:
    """A forked child that joins the user namespace, then the network
    namespace, sees the stack's address (root and unprivileged)."""
    s = make_stack("null://")
    configure(s, "10.71.0.5")
    fd = s.netns_fd()
    try:
        assert not os.get_inheritable(fd)
        assert os.fstat(fd).st_ino != netns_inode()

        def inside() -> str:
            import fcntl
            libc = _libc()
            user = fcntl.ioctl(fd, NS_GET_USERNS)
            if libc.setns(user, CLONE_NEWUSER) != 0:
                raise OSError(ctypes.get_errno(), "setns user")
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns net")
            from pyroute2 import IPRoute
            with IPRoute() as ipr:
                addrs = [a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(family=socket.AF_INET)]
            return " ".join(addrs)

        assert "10.71.0.5" in in_child(inside).split()
    finally:
        os.close(fd)


@pytest.mark.skipif(os.geteuid() != 0, reason="nsenter --net=/proc/PID/fd/N needs root "
                    "(an unprivileged caller must join the user namespace first)")
def test_netns_fd_nsenter_root(make_stack) -> None:
    s = make_stack("null://")
    configure(s, "10.71.0.6")
    fd = s.netns_fd()
    try:
        out = subprocess.run(["nsenter", f"--net=/proc/{os.getpid()}/fd/{fd}",
                              "ip", "-o", "-4", "addr"], capture_output=True, text=True,
                             check=True).stdout
    finally:
        os.close(fd)
    assert "10.71.0.6/24" in out


def test_netns_fd_closed(make_stack) -> None:
    s = make_stack()
    s.close()
    with pytest.raises(ValueError):
        s.netns_fd()


# -- lifetime -------------------------------------------------------------------------

def test_daemon_ends_with_the_stack(make_stack) -> None:
    """What a program daemonizes (and what vde_stackcmd starts) ends when
    the stack is closed, and is never our child."""
    s = make_stack()
    m1, m2 = unique("popen-daemon"), unique("cmd-daemon")
    r = s.run([BUSYBOX, "sh", "-c",
               f"{BUSYBOX} sh -c '{BUSYBOX} sleep 1000; : {m1}' </dev/null >/dev/null 2>&1 &"])
    assert r.returncode == 0
    assert s.cmd(f"{BUSYBOX} sh -c \"{BUSYBOX} sh -c '{BUSYBOX} sleep 1000; : {m2}' "
                 f"</dev/null >/dev/null 2>&1 &\"") == 0
    assert wait_marked(m1) and wait_marked(m2), "the daemons run after their parents ended"
    for pid in child_pids():
        assert pid not in marked(m1) + marked(m2), "a daemon became our child"
    s.close()
    assert wait_gone(m1, 1) and wait_gone(m2, 1)


def test_daemon_never_reaches_wait() -> None:
    """In a host that is no subreaper (pytest is one): after a program
    daemonized something, wait() has nothing to report."""
    def host() -> str:
        with vdestack.Stack() as s:
            marker = unique("wait")
            r = s.run([BUSYBOX, "sh", "-c", f"{BUSYBOX} sh -c '{BUSYBOX} sleep 1000; : "
                       f"{marker}' </dev/null >/dev/null 2>&1 & exit 0"])
            assert r.returncode == 0 and wait_marked(marker)
            try:
                return f"waitpid: {os.waitpid(-1, os.WNOHANG)}"
            except ChildProcessError:
                return "ECHILD"

    assert in_child(host) == "ECHILD"


HOST_SCRIPT = textwrap.dedent("""
    import sys, time, vdestack
    s = vdestack.Stack()
    marker = sys.argv[1]
    p = s.popen(["/bin/busybox", "sh", "-c",
                 "/bin/busybox sh -c '/bin/busybox sleep 1000; : %s-d' </dev/null >/dev/null 2>&1 & "
                 "/bin/busybox sleep 1000; : %s-p" % (marker, marker)])
    s.cmd("/bin/busybox sh -c \\"/bin/busybox sh -c '/bin/busybox sleep 1000; : %s-c' "
          "</dev/null >/dev/null 2>&1 &\\"" % marker)
    print("ready", flush=True)
    time.sleep(1000)
""")


def test_host_sigkill_ends_everything(tmp_path) -> None:
    """The host SIGKILLed: its popen'ed program, what that daemonized and
    what a command daemonized are gone within a second."""
    script = tmp_path / "host.py"
    script.write_text(HOST_SCRIPT)
    marker = unique("host")
    host = subprocess.Popen([sys.executable, str(script), marker], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert host.stdout.readline() == "ready\n"
        deadline = time.monotonic() + 5
        while len(marked(marker)) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(marked(marker)) >= 3, marked(marker)
        host.kill()
        host.wait()
        t0 = time.monotonic()
        assert wait_gone(marker, 1.0), f"left: {marked(marker)}"
        print(f"everything gone {time.monotonic() - t0:.3f} s after the host's death")
    finally:
        host.kill()
        host.wait()
        host.stdout.close()
        for pid in marked(marker):
            os.kill(pid, signal.SIGKILL)


# -- the vdestack command -------------------------------------------------------------

def vdestack_cmd(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([VDESTACK_CMD, *args], capture_output=True, text=True,
                          timeout=60, **kwargs)


def test_command_installed() -> None:
    """pip installed the console script; python -m vdestack is the same."""
    r = vdestack_cmd("--version")
    assert r.returncode == 0 and r.stdout.startswith(f"vdestack {vdestack.__version__}")
    r2 = subprocess.run([sys.executable, "-m", "vdestack", "--version"], capture_output=True,
                        text=True, timeout=60)
    assert r2.stdout == r.stdout
    h = vdestack_cmd("--help")
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES"):
        assert f"\n{section}\n" in "\n" + h.stdout


def test_command_exit_statuses(tmp_path) -> None:
    assert vdestack_cmd("run", "-", "--", BUSYBOX, "true").returncode == 0
    assert vdestack_cmd("run", "", "--", BUSYBOX, "sh", "-c", "exit 9").returncode == 9
    assert vdestack_cmd("run", "-", "--", BUSYBOX, "sh", "-c", "kill -9 $$").returncode == 137
    assert vdestack_cmd("run", "-", BUSYBOX, "sh", "-c", "kill -15 $$").returncode == 143
    # a PATH every user can search (root's may list directories of /root)
    r = vdestack_cmd("run", "-", "--", "vdst-no-such-program",
                     env=dict(os.environ, PATH="/usr/bin:/bin"))
    assert r.returncode == 127 and "vdst-no-such-program" in r.stderr
    r = vdestack_cmd("run", "-", "--", str(tmp_path))
    assert r.returncode == 126
    r = vdestack_cmd("run", "vde:///nonexistent/vdst-sw", "--", BUSYBOX, "true")
    assert r.returncode == 125 and "cannot make the stack" in r.stderr
    r = vdestack_cmd("run", "--cmd", f"{BUSYBOX} false", "-", "--", BUSYBOX, "true")
    assert r.returncode == 125 and "status 1" in r.stderr
    assert vdestack_cmd("run").returncode == 125
    assert vdestack_cmd("run", "-").returncode == 125
    assert vdestack_cmd("frobnicate").returncode == 125


def test_command_runs_in_the_stack(switch) -> None:
    r = vdestack_cmd("run", "--ifname", "eth7", "--cmd",
                     f"{BUSYBOX} ip addr add 10.72.0.1/24 dev eth7; "
                     f"{BUSYBOX} ip link set eth7 up",
                     f"vde://{switch}", "--", "ip", "-o", "-4", "addr")
    assert r.returncode == 0, r.stderr
    assert "eth7" in r.stdout and "10.72.0.1/24" in r.stdout


def test_command_config_option() -> None:
    """--config uses Stack.config (the configuration strings) when the
    package has it, and says clearly that it cannot otherwise."""
    r = vdestack_cmd("run", "--config", "ip=10.73.0.1/24", "null://", "--",
                     "ip", "-o", "-4", "addr")
    if hasattr(vdestack.Stack, "config"):
        assert r.returncode == 0 and "10.73.0.1/24" in r.stdout, r.stderr
    else:
        assert r.returncode == 125 and "Stack.config" in r.stderr


def test_command_nothing_left(tmp_path) -> None:
    marker = unique("cmd-left")
    r = vdestack_cmd("run", "-", "--", BUSYBOX, "sh", "-c",
                     f"{BUSYBOX} sh -c '{BUSYBOX} sleep 1000; : {marker}' "
                     f"</dev/null >/dev/null 2>&1 & exit 4")
    assert r.returncode == 4
    assert wait_gone(marker, 1), "the daemon ended with vdestack"


INT_PROGRAM = textwrap.dedent("""
    import signal, sys, time
    got = []
    signal.signal(signal.SIGINT, lambda *a: got.append(1))
    print("waiting", flush=True)
    t = time.monotonic()
    while not got and time.monotonic() - t < 20:
        time.sleep(0.01)
    time.sleep(0.3)                       # a second SIGINT would count too
    sys.exit(40 + len(got))
""")


def test_command_ctrl_c_reaches_the_program(tmp_path) -> None:
    """^C typed at a terminal: the program gets exactly one SIGINT,
    vdestack keeps waiting and exits with the program's status."""
    prog = tmp_path / "int.py"
    prog.write_text(INT_PROGRAM)
    pid, master = pty.fork()
    if pid == 0:
        try:
            os.execv(VDESTACK_CMD, [VDESTACK_CMD, "run", "-", "--", sys.executable, str(prog)])
        finally:
            os._exit(99)
    try:
        buf = b""
        deadline = time.monotonic() + 30
        while b"waiting" not in buf and time.monotonic() < deadline:
            if select.select([master], [], [], 1)[0]:
                buf += os.read(master, 1024)
        assert b"waiting" in buf, buf
        os.write(master, b"\x03")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 41, buf
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(master)


def test_command_sigint_to_process_group(tmp_path) -> None:
    """SIGINT to the whole process group (as a shell's ^C does): the
    program handles it once, vdestack survives and reports its status."""
    prog = tmp_path / "int.py"
    prog.write_text(INT_PROGRAM)
    p = subprocess.Popen([VDESTACK_CMD, "run", "-", "--", sys.executable, str(prog)],
                         stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert p.stdout.readline() == b"waiting\n"
        os.killpg(p.pid, signal.SIGINT)
        assert p.wait(30) == 41
    finally:
        p.kill()
        p.wait()
        p.stdout.close()


def test_popen_killpg_once(make_stack, tmp_path) -> None:
    """A new session's group signalled as a whole: the program gets the
    signal once (passed on by the forwarder, which leads the group)."""
    prog = tmp_path / "int.py"
    prog.write_text(INT_PROGRAM)
    s = make_stack()
    for kw in ({"start_new_session": True}, {"process_group": 0}):
        if "process_group" in kw and sys.version_info < (3, 11):
            continue
        p = s.popen([sys.executable, str(prog)], stdout=subprocess.PIPE, **kw)
        try:
            assert p.stdout.readline() == b"waiting\n"
            os.killpg(p.pid, signal.SIGINT)
            assert p.wait(30) == 41, kw
        finally:
            p.kill()
            p.wait()
            p.stdout.close()


def test_command_sigterm_passed_on(tmp_path) -> None:
    p = subprocess.Popen([VDESTACK_CMD, "run", "-", "--", BUSYBOX, "sh", "-c",
                          "trap 'exit 44' TERM; echo up; while :; do "
                          f"{BUSYBOX} sleep 0.05; done"], stdout=subprocess.PIPE)
    try:
        assert p.stdout.readline() == b"up\n"
        p.terminate()
        assert p.wait(30) == 44
    finally:
        p.kill()
        p.wait()
        p.stdout.close()


def test_program_sees_the_stacks_resolv_conf(make_stack) -> None:
    """As vde_stackcmd's commands do: /etc/resolv.conf names the stack's DNS
    servers (a private mount namespace); the host's file is untouched."""
    s = make_stack("null://")
    s.config("ip=10.74.0.1/24,dns=10.74.0.53,domain=vdst.test")
    r = s.run([BUSYBOX, "cat", "/etc/resolv.conf"], capture_output=True, text=True, check=True)
    assert "nameserver 10.74.0.53" in r.stdout and "search vdst.test" in r.stdout
    with open("/etc/resolv.conf") as f:
        assert "10.74.0.53" not in f.read()
