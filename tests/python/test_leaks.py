"""Leaks: create/close cycles leave file descriptors and child processes as
they were; a stack garbage-collected while open warns and is closed."""

from __future__ import annotations

import gc
import socket
import warnings

import pytest

import vdestack
from conftest import BUSYBOX, child_pids, open_fds

CYCLES = 200


def snapshot():
    gc.collect()
    return open_fds(), child_pids()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["loopback", "ptp"])
def test_create_close_cycles(tmp_path, kind) -> None:
    vnl = f"ptp://{tmp_path}/link" if kind == "ptp" else None
    with vdestack.Stack() as warm:                  # first use: imports, caches
        warm.cmd("/bin/true")
    fds, children = snapshot()
    for i in range(CYCLES):
        s = vdestack.Stack(vnl)
        if i % 20 == 0:
            assert s.cmd(f"{BUSYBOX} ip link show {'vde0' if vnl else 'lo'}") == 0
            s.socket().close()
        s.close()
    assert snapshot() == (fds, children)


@pytest.mark.timeout(120)
def test_create_close_cycles_with_a_stack_kept_open(tmp_path) -> None:
    """The same while another stack keeps the helper alive.

    The first stack with a VDE connection starts the frame pump (a thread
    with an epoll fd and an eventfd), which stays while any stack of the
    process exists: one warm-up cycle comes before the baseline, and
    closing the last stack must release everything.
    """
    base = snapshot()
    with vdestack.Stack() as keeper:
        with vdestack.Stack(f"ptp://{tmp_path}/link"):
            pass
        fds, children = snapshot()
        for _ in range(CYCLES):
            with vdestack.Stack(f"ptp://{tmp_path}/link"):
                pass
        assert snapshot() == (fds, children)
        assert keeper.cmd("/bin/true") == 0
    assert snapshot() == base


def test_linked_pair_cycles(tmp_path) -> None:
    fds, children = snapshot()
    vnl = f"ptp://{tmp_path}/link"
    for _ in range(50):
        a, b = vdestack.Stack(vnl), vdestack.Stack(vnl)
        b.close()
        a.close()
    assert snapshot() == (fds, children)


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
    fds, children = snapshot()
    s = vdestack.Stack(f"ptp://{tmp_path}/link")
    with pytest.warns(ResourceWarning, match="unclosed stack"):
        del s
        gc.collect()
    assert snapshot() == (fds, children)            # and it was closed


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
    fds, children = snapshot()
    for _ in range(20):
        with pytest.raises(OSError):
            vdestack.Stack(f"vde://{tmp_path}/no/such/switch")
        with pytest.raises(ValueError):
            vdestack.Stack(None, "x" * 20)
    assert snapshot() == (fds, children)
