"""Signals during a long command: Ctrl-C interrupts it, other handlers don't.

Forked: these tests send signals to the process and install handlers.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import List, Optional

import pytest

from conftest import BUSYBOX, processes_running

pytestmark = pytest.mark.forked



def sleep_argv() -> List[str]:
    """A 30 s sleep with an argv of its own ("30.<pid>"), so that processes
    of other test runs on the machine are never mistaken for ours."""
    return [BUSYBOX, "sleep", f"30.{os.getpid():07d}"]


class SleepWatcher:
    """A timer thread: waits for the command's sleep process to appear,
    remembers its pid, then sends `signum` to this process."""

    def __init__(self, signum: int, argv: List[str], delay: float = 0.5) -> None:
        self.signum, self.argv, self.delay = signum, argv, delay
        self.before = processes_running(argv)
        self.pid: Optional[int] = None
        self.sent_at: Optional[float] = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            new = processes_running(self.argv) - self.before
            if new:
                self.pid = new.pop()
                break
            time.sleep(0.02)
        time.sleep(self.delay)
        self.sent_at = time.monotonic()
        os.kill(os.getpid(), self.signum)


def gone(pid: int, within: float = 2.0) -> bool:
    """True once pid has left the process table (not even a zombie)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not os.path.exists(f"/proc/{pid}"):
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("how", ["cmd", "cmdv"])
def test_ctrl_c_interrupts_a_long_command(make_stack, how) -> None:
    s = make_stack()
    argv = sleep_argv()
    watcher = SleepWatcher(signal.SIGINT, argv)
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        if how == "cmd":
            s.cmd(" ".join(argv))
        else:
            s.cmdv(argv)
    elapsed = time.monotonic() - start
    watcher.thread.join(5)
    assert watcher.pid is not None, "the command's sleep process was never seen"
    assert elapsed < 5, f"KeyboardInterrupt came after {elapsed:.1f} s"
    assert time.monotonic() - watcher.sent_at < 3
    assert gone(watcher.pid), f"sleep process {watcher.pid} is still there"
    assert processes_running(argv) == set()
    # the stack is still usable afterwards
    assert s.cmd(f"{BUSYBOX} sh -c 'exit 6'") == 6


def test_handler_that_does_not_raise_lets_the_command_finish(make_stack) -> None:
    s = make_stack()
    caught: List[int] = []
    old = signal.signal(signal.SIGUSR1, lambda signum, frame: caught.append(signum))
    argv = [BUSYBOX, "sh", "-c", "sleep 1; exit 5"]
    try:
        watcher = SleepWatcher(signal.SIGUSR1, argv=argv, delay=0.2)
        start = time.monotonic()
        assert s.cmdv(argv) == 5                 # PEP 475: the wait goes on
        assert time.monotonic() - start >= 0.9
        watcher.thread.join(5)
        assert caught == [signal.SIGUSR1]        # and the handler ran
    finally:
        signal.signal(signal.SIGUSR1, old)


def test_exception_from_handler_propagates(make_stack) -> None:
    class Stop(Exception):
        pass

    def handler(signum: int, frame: object) -> None:
        raise Stop("from the handler")

    s = make_stack()
    old = signal.signal(signal.SIGUSR2, handler)
    try:
        argv = sleep_argv()
        watcher = SleepWatcher(signal.SIGUSR2, argv, delay=0.1)
        start = time.monotonic()
        with pytest.raises(Stop, match="from the handler"):
            s.cmd(" ".join(argv))
        assert time.monotonic() - start < 5
        watcher.thread.join(5)
        assert watcher.pid is not None and gone(watcher.pid)
    finally:
        signal.signal(signal.SIGUSR2, old)
