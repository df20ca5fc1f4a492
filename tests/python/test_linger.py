"""The helper lingers a moment after the last stack: a create/close loop
reuses it; then it goes, and nothing of the library is left."""

from __future__ import annotations

import os
import threading
import time

import vdestack
from conftest import child_pids, open_fds, pid_alive


def live_children() -> set:
    return {p for p in child_pids() if pid_alive(p)}


def quiet() -> None:
    deadline = time.monotonic() + 2
    while live_children() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_loop_reuses_one_helper_then_nothing_is_left() -> None:
    quiet()                                   # an earlier test's helper ends
    fds0, threads0 = len(open_fds()), threading.active_count()
    tasks0 = len(os.listdir("/proc/self/task"))
    helpers = set()
    for _ in range(10):
        with vdestack.Stack("null://") as s:
            assert s.cmd("/bin/busybox ip link show vde0") == 0
            helpers |= live_children()
    assert len(helpers) == 1, f"one helper for the whole loop, not {helpers}"
    helper = helpers.pop()
    assert pid_alive(helper)                  # right after the last close
    deadline = time.monotonic() + 1.0
    while (pid_alive(helper) or len(os.listdir("/proc/self/task")) != tasks0
           or len(open_fds()) != fds0) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not pid_alive(helper), "the helper is gone within a second"
    assert len(os.listdir("/proc/self/task")) == tasks0, "no thread of the library is left"
    assert len(open_fds()) == fds0
    assert threading.active_count() == threads0
