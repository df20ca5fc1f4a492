"""Commands see the environment of the moment; nothing started in a stack
outlives it (close() or the death of the program, SIGKILL included); a
program that exits with stacks open leaves no ptp/switch files behind."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any, List

import pytest

import vdestack

from conftest import BUSYBOX

pytestmark = pytest.mark.timeout(60)


def _read(path: Any) -> str:
    with open(path) as f:
        return f.read().strip()


# -- environment (issue 9, item 6) --------------------------------------------

def test_variable_set_between_two_commands_is_seen(make_stack, tmp_path, monkeypatch) -> None:
    s = make_stack()
    out = tmp_path / "env.out"
    line = f"{BUSYBOX} sh -c 'echo \"[$VDST_LATE]\" > {out}'"
    monkeypatch.delenv("VDST_LATE", raising=False)
    assert s.cmd(line) == 0
    assert _read(out) == "[]"
    monkeypatch.setenv("VDST_LATE", "set later")
    assert s.cmd(line) == 0
    assert _read(out) == "[set later]"
    assert s.cmdv([BUSYBOX, "sh", "-c", f"echo \"[$VDST_LATE]\" > {out}"]) == 0
    assert _read(out) == "[set later]"


def test_explicit_environment(make_stack, tmp_path, monkeypatch) -> None:
    s = make_stack()
    out = tmp_path / "env.out"
    monkeypatch.setenv("VDST_HOST", "host")
    script = f"echo \"[$VDST_MINE][$VDST_HOST][$VDST_B]\" > {out}"
    assert s.cmd(f"{BUSYBOX} sh -c '{script}'", env={"VDST_MINE": "mine"}) == 0
    assert _read(out) == "[mine][][]"
    assert s.cmdv([BUSYBOX, "sh", "-c", script], env={b"VDST_B": b"bytes"}) == 0
    assert _read(out) == "[][][bytes]"
    assert s.cmdv([BUSYBOX, "sh", "-c", script], env={}) == 0
    assert _read(out) == "[][][]"


def test_environment_errors(make_stack) -> None:
    s = make_stack()
    with pytest.raises(ValueError, match="illegal environment variable name"):
        s.cmd(f"{BUSYBOX} true", env={"A=B": "c"})
    with pytest.raises(ValueError, match="null byte"):
        s.cmdv([BUSYBOX, "true"], env={"A": "b\0c"})
    with pytest.raises(TypeError):
        s.cmd(f"{BUSYBOX} true", env=["A=b"])
    with pytest.raises(TypeError):
        s.cmd(f"{BUSYBOX} true", env={"A": 1})
    with pytest.raises(OSError) as e:
        s.cmd(f"{BUSYBOX} true", env={"BIG": "x" * 200000})
    assert e.value.errno == errno.E2BIG
    assert s.cmd(f"{BUSYBOX} true", env={"BIG": "x" * 100000}) == 0


# -- lifetime (issue 9, item 4) -----------------------------------------------

def _descendants(root: int) -> List[int]:
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(d))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _wait_gone(pids: List[int], secs: float) -> List[int]:
    deadline = time.monotonic() + secs
    while True:
        for p in pids:                      # orphans come to us (subreaper)
            try:
                os.waitpid(p, os.WNOHANG)
            except ChildProcessError:
                pass
        left = [p for p in pids if _alive(p)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def _daemons(s: vdestack.Stack, marker: str) -> None:
    """Background, forking and daemonizing programs started with cmd()."""
    assert s.cmd(f"{BUSYBOX} sh -c '{BUSYBOX} sleep 777 {marker} & exit 0'") in (0, 1)
    assert s.cmd(f"{BUSYBOX} httpd -p 127.0.0.1:8088 -h /") == 0
    assert s.cmd(f"{BUSYBOX} start-stop-daemon -S -b -n vdst-none -a {BUSYBOX} -- "
                 f"sleep 779") == 0


def _started_below(root: int) -> List[int]:
    return [p for p in _descendants(root)
            if _cmdline(p).startswith((f"{BUSYBOX} sleep 77", f"{BUSYBOX} httpd"))]


def test_close_ends_what_commands_started(make_stack) -> None:
    s = make_stack()
    _daemons(s, "")
    # httpd answers in the stack
    c = s.socket()
    c.settimeout(5)
    c.connect(("127.0.0.1", 8088))
    c.close()
    pids = _started_below(os.getpid())
    assert len(pids) >= 3, [(p, _cmdline(p)) for p in _descendants(os.getpid())]
    s.close()
    assert _wait_gone(pids, 1.0) == []


def test_host_sigkill_ends_what_commands_started(tmp_path) -> None:
    code = textwrap.dedent(f"""
        import sys, time, vdestack
        s = vdestack.Stack()
        t = vdestack.Stack("=/bin/sleep 1000")
        s.cmd("{BUSYBOX} sh -c '{BUSYBOX} sleep 777 & exit 0'")
        s.cmd("{BUSYBOX} httpd -p 127.0.0.1:8089 -h /")
        print("ready", flush=True)
        time.sleep(60)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        pids = [q for q in _descendants(p.pid)
                if _cmdline(q).startswith((f"{BUSYBOX} sleep 777", f"{BUSYBOX} httpd",
                                           "/bin/sleep 1000"))]
        assert len(pids) == 3, [(q, _cmdline(q)) for q in _descendants(p.pid)]
        p.send_signal(signal.SIGKILL)
        p.wait()
        assert _wait_gone(pids, 1.5) == []
    finally:
        p.kill()
        p.wait()
        p.stdout.close()


# -- leftovers (issue 9, item 5) ----------------------------------------------

def test_exit_with_a_thread_inside_cmd_leaves_no_ptp_file(tmp_path) -> None:
    link = tmp_path / "link"
    code = textwrap.dedent(f"""
        import threading, time, vdestack
        a = vdestack.Stack("ptp://{link}")
        b = vdestack.Stack("ptp://{link}")
        t = threading.Thread(target=a.cmd, args=("{BUSYBOX} sleep 30",), daemon=True)
        t.start()
        time.sleep(0.3)
        print("exists" if __import__("os").path.exists("{link}") else "missing", flush=True)
    """)
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "exists"
    assert time.monotonic() - t0 < 10
    assert not link.exists(), "the ptp file outlived the program"


def test_reused_switch_path_after_sigkill(tmp_path) -> None:
    sw = tmp_path / "sw"
    code = textwrap.dedent(f"""
        import time, vdestack
        s = vdestack.Stack("switch://{sw}")
        print("ready", flush=True)
        time.sleep(60)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        p.kill()
        p.wait()
    finally:
        p.kill()
        p.wait()
        p.stdout.close()
    assert (sw / "ctl").exists()
    with vdestack.Stack(f"switch://{sw}") as a, vdestack.Stack(f"vde://{sw}") as b:
        a.cmd(f"{BUSYBOX} ip addr add 10.81.0.1/24 dev vde0; {BUSYBOX} ip link set vde0 up")
        b.cmd(f"{BUSYBOX} ip addr add 10.81.0.2/24 dev vde0; {BUSYBOX} ip link set vde0 up")
        srv = a.socket()
        srv.bind(("10.81.0.1", 7784))
        srv.listen()
        cli = b.socket()
        cli.settimeout(10)
        cli.connect(("10.81.0.1", 7784))
        conn, _ = srv.accept()
        cli.sendall(b"across the reclaimed switch")
        conn.settimeout(10)
        assert conn.recv(100) == b"across the reclaimed switch"
        for s in (conn, cli, srv):
            s.close()
    assert not sw.exists()
