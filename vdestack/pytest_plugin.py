"""pytest fixtures for network tests with vdestack.

Installed with the package and registered as a pytest plugin (entry point
``vdestack`` in the ``pytest11`` group), so every test suite of an
environment that has vdestack can use the fixtures without a conftest.py.
The plugin does nothing until a test asks for one of them: it imports
neither vdestack's extension nor anything else at load time.

``make_stack``
    A factory: ``make_stack(vnl=None, ifname=None, *, ip=None)`` returns a
    new :class:`vdestack.Stack`; ``ip`` (``"10.0.0.1/24"``, or a list of
    addresses) is added to the interface, which is then brought up.  Every
    stack made is closed after the test, whether it passed or failed.

``vde_switch``
    A VDE switch of the test's own: a ``switch://`` in a temporary
    directory, served by a ``vde_plug null:// switch://PATH`` process (by
    an in-process ``Stack("switch://PATH")`` when ``vde_plug`` is not
    installed).  ``vde_switch.vnl`` (``vde:///.../sw``) is what stacks join
    it with.  The process is stopped and the directory removed after the
    test.

A test of two hosts on a switch::

    def test_ping(vde_switch, make_stack):
        a = make_stack(vde_switch.vnl, ip="10.0.0.1/24")
        b = make_stack(vde_switch.vnl, ip="10.0.0.2/24")
        assert a.cmd("/bin/busybox ping -c 1 -W 5 10.0.0.2") == 0
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from typing import TYPE_CHECKING, Any, Callable, Iterator, List, Optional, Sequence, Union

import pytest

if TYPE_CHECKING:                   # pragma: no cover
    from vdestack import Stack

__all__ = ["VdeSwitch", "make_stack", "vde_switch", "ip_command"]

#: how long vde_switch waits for its switch to appear
SWITCH_START_TIMEOUT = 10.0
# longest directory for the switch: DIR/sw/ctl and the sockets of the
# switch's ports must fit in sun_path (108 bytes with its NUL)
_MAX_SWITCH_DIR = 72

_IP_CANDIDATES = ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip")
_BUSYBOX = ("/bin/busybox", "/usr/bin/busybox")


def ip_command() -> str:
    """The full path of an ``ip`` command to run in a stack: iproute2's
    when installed, else ``busybox ip``.  Raises FileNotFoundError when
    there is neither."""
    for path in _IP_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    for path in _BUSYBOX:
        if os.access(path, os.X_OK):
            return f"{path} ip"
    raise FileNotFoundError("no ip command: install iproute2 (or busybox)")


def _configure(stack: "Stack", ip: Union[str, Sequence[str]]) -> None:
    """Add the addresses to the stack's interface and bring it up, with a
    configuration string (in-process: no command runs)."""
    if stack.ifname is None:
        raise ValueError("ip= needs a stack with an interface (give a vnl)")
    addrs = [ip] if isinstance(ip, str) else list(ip)
    stack.config(",".join([f"iface={stack.ifname}"] + [f"ip={a}" for a in addrs]))


@pytest.fixture
def make_stack() -> Iterator[Callable[..., "Stack"]]:
    """Factory fixture: ``make_stack(vnl=None, ifname=None, *, ip=None)``.

    Returns a new :class:`vdestack.Stack`, configured with the address(es)
    ``ip`` (with prefix length, e.g. ``"10.0.0.1/24"``) and its interface
    up when ``ip`` is given.  Every stack it made is closed after the test,
    passed or failed (closing an already closed stack is fine).
    """
    import vdestack

    made: List[vdestack.Stack] = []

    def make(vnl: Any = None, ifname: Any = None, *,
             ip: Optional[Union[str, Sequence[str]]] = None) -> vdestack.Stack:
        stack = vdestack.Stack(vnl, ifname)
        made.append(stack)
        if ip is not None:
            _configure(stack, ip)
        return stack

    try:
        yield make
    finally:
        for stack in reversed(made):
            stack.close()


def _accepts(path: str) -> bool:
    """Whether a unix stream socket at path accepts connections now."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(path)
        except OSError:
            return False
    return True


class VdeSwitch:
    """A running VDE switch (the value of the ``vde_switch`` fixture)."""

    def __init__(self, path: str) -> None:
        #: the switch's directory (its control socket is ``path/ctl``)
        self.path = path
        #: the VNL that stacks join the switch with
        self.vnl = f"vde://{path}"
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._stack: Optional["Stack"] = None

    def __repr__(self) -> str:
        return f"<VdeSwitch {self.path}>"

    @property
    def pid(self) -> Optional[int]:
        """Pid of the ``vde_plug`` process serving the switch (None when it
        is an in-process switch or stopped)."""
        return self._proc.pid if self._proc is not None else None

    def _start(self) -> None:
        vde_plug = shutil.which("vde_plug")
        if vde_plug is None:
            import vdestack
            self._stack = vdestack.Stack(f"switch://{self.path}")
            return
        log = self.path + ".log"
        with open(log, "wb") as err:        # a file: a pipe nobody reads could fill
            self._proc = subprocess.Popen([vde_plug, "null://", f"switch://{self.path}"],
                                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=err)
        ctl = os.path.join(self.path, "ctl")
        deadline = time.monotonic() + SWITCH_START_TIMEOUT
        # the control socket exists (bind) a moment before it listens:
        # ready is when a connection to it is accepted
        while not _accepts(ctl):
            if self._proc.poll() is not None:
                with open(log, "rb") as f:
                    err = f.read().decode(errors="replace")
                raise RuntimeError(f"vde_plug switch://{self.path} exited with status "
                                   f"{self._proc.returncode}: {err.strip()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"vde_plug switch://{self.path}: no {ctl} after "
                                   f"{SWITCH_START_TIMEOUT:.0f} s")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop the switch (idempotent); members see it hang up."""
        if self._stack is not None:
            self._stack.close()
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def vde_switch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VdeSwitch]:
    """A VDE switch in a temporary directory, stopped and removed after the
    test; stacks join it with ``make_stack(vde_switch.vnl)``."""
    base = str(tmp_path_factory.mktemp("vde_switch"))
    if len(base) > _MAX_SWITCH_DIR:
        # a unix socket path has at most 107 bytes: pytest's base directory
        # can be deeper than that allows, the system's temp directory is not
        os.rmdir(base)
        base = tempfile.mkdtemp(prefix="vde_switch-")
    switch = VdeSwitch(os.path.join(base, "sw"))
    try:
        switch._start()
        yield switch
    finally:
        switch.stop()
        shutil.rmtree(base, ignore_errors=True)
