"""Leaks: create/close cycles leave file descriptors and child processes as
they were; a stack garbage-collected while open warns and is closed.

After the last stack of the process is closed the library keeps its helper
and threads a moment (VDESTACK_LINGER_MS, 150 ms by default) for a next
stack: baselines are taken once that is over (idle()), and the state after
the last close must come back to them within a second (settles_to()).
"""

from __future__ import annotations

import gc
import socket
import time
import warnings

import pytest

import vdestack
from conftest import BUSYBOX, child_pids, open_fds, pid_alive

CYCLES = 200


def snapshot():
    gc.collect()
    return open_fds(), child_pids()


def idle():
    """A snapshot once no helper of ours lingers (up to 2 s)."""
    deadline = time.monotonic() + 2
    while any(pid_alive(p) for p in child_pids()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return settles_to(None, 0.05)


def settles_to(expected, secs=1.0):
    """Snapshots until one equals expected (None: until two in a row agree)
    or secs have passed; the last one."""
    deadline = time.monotonic() + secs
    last = snapshot()
    while time.monotonic() < deadline:
        if last == expected:
            break
        time.sleep(0.01)
        cur = snapshot()
        if expected is None and cur == last:
            break
        last = cur
    return last


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["loopback", "ptp"])
def test_create_close_cycles(tmp_path, kind) -> None:
    vnl = f"ptp://{tmp_path}/link" if kind == "ptp" else None
    with vdestack.Stack() as warm:                  # first use: imports, caches
        warm.cmd("/bin/true")
    fds, children = idle()
    for i in range(CYCLES):
        s = vdestack.Stack(vnl)
        if i % 20 == 0:
            assert s.cmd(f"{BUSYBOX} ip link show {'vde0' if vnl else 'lo'}") == 0
            s.socket().close()
        s.close()
    assert settles_to((fds, children)) == (fds, children)


@pytest.mark.timeout(120)
def test_create_close_cycles_with_a_stack_kept_open(tmp_path) -> None:
    """The same while another stack keeps the helper alive.

    The first stack with a VDE connection starts the frame pump (a thread
    with an epoll fd and an eventfd), which stays while any stack of the
    process exists: one warm-up cycle comes before the baseline, and
    closing the last stack must release everything.
    """
    base = idle()
    with vdestack.Stack() as keeper:
        with vdestack.Stack(f"ptp://{tmp_path}/link"):
            pass
        fds, children = snapshot()
        for _ in range(CYCLES):
            with vdestack.Stack(f"ptp://{tmp_path}/link"):
                pass
        assert snapshot() == (fds, children)
        assert keeper.cmd("/bin/true") == 0
    assert settles_to(base) == base


def test_linked_pair_cycles(tmp_path) -> None:
    fds, children = idle()
    vnl = f"ptp://{tmp_path}/link"
    for _ in range(50):
        a, b = vdestack.Stack(vnl), vdestack.Stack(vnl)
        b.close()
        a.close()
    assert settles_to((fds, children)) == (fds, children)


def test_sockets_and_commands_do_not_leak(make_stack) -> None:
    s = make_stack()
    s.cmd("/bin/true")
    fds, children = snapshot()
    for _ in range(CYCLES):
        s.socket(socket.AF_INET, socket.SOCK_DGRAM).close()
        s.socket(socket.AF_INET6, socket.SOCK_STREAM).close()
    for _ in range(50):
        assert s.cmd("/bin/true") == 0
    with pytest.raises(OSError):
        s.msocket(9999, socket.SOCK_STREAM)
    with pytest.raises(OSError):
        s.cmd("relative")
    assert snapshot() == (fds, children)


def test_resourcewarning_on_gc_of_an_open_stack(tmp_path) -> None:
    fds, children = idle()
    s = vdestack.Stack(f"ptp://{tmp_path}/link")
    with pytest.warns(ResourceWarning, match="unclosed stack"):
        del s
        gc.collect()
    assert settles_to((fds, children)) == (fds, children)   # and it was closed


def test_no_warning_for_closed_stacks() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        s = vdestack.Stack()
        s.close()
        del s
        with vdestack.Stack():
            pass
        gc.collect()


def test_failed_construction_leaks_nothing(tmp_path) -> None:
    fds, children = idle()
    for _ in range(20):
        with pytest.raises(OSError):
            vdestack.Stack(f"vde://{tmp_path}/no/such/switch")
        with pytest.raises(ValueError):
            vdestack.Stack(None, "x" * 20)
    assert settles_to((fds, children)) == (fds, children)
