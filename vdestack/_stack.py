"""Stack: a private network stack, the Python face of ``vde_addstack``."""

from __future__ import annotations

import atexit
import operator
import os
import socket as _socket
import subprocess
import warnings
import weakref
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from . import _core, _default, _messages, _netconf, _process, _resolve
from ._netconf import Address, Link, Route
from ._socket import StackSocket, new_in_stack

__all__ = ["Stack"]

StrOrBytes = Union[str, bytes]
PathType = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


def _text(value: Any) -> Optional[str]:
    if value is None:
        return None
    try:
        return os.fsdecode(value)
    except TypeError:
        return None                 # _core raises the TypeError


def _env_list(env: Optional[Mapping[Any, Any]]) -> Optional[List[bytes]]:
    """``env`` as the ``NAME=value`` byte strings of a C environment.

    None stays None (the process's environment at the time of the call).
    Names and values are str or bytes (str encoded as the file system
    encoding does); ValueError for a name that is empty or has ``=``, or a
    NUL anywhere, TypeError for anything else (as :mod:`subprocess` does).
    """
    if env is None:
        return None
    if not isinstance(env, Mapping):
        raise TypeError(f"env must be a mapping of str or bytes, not {type(env).__name__}")
    out = []
    for name, value in env.items():
        if not isinstance(name, (str, bytes)) or not isinstance(value, (str, bytes)):
            raise TypeError(f"env names and values must be str or bytes, not "
                            f"{type(name).__name__}: {type(value).__name__}")
        bname, bvalue = os.fsencode(name), os.fsencode(value)
        if not bname or b"=" in bname:
            raise ValueError(f"illegal environment variable name {name!r}")
        if b"\0" in bname or b"\0" in bvalue:
            raise ValueError(f"embedded null byte in environment variable {name!r}")
        out.append(bname + b"=" + bvalue)
    return out


# every Stack not yet collected, for _close_at_exit()
_live: "weakref.WeakSet[Stack]" = weakref.WeakSet()


def _close_at_exit() -> None:
    """Delete the stacks still open when the interpreter ends.

    A thread that is still inside :meth:`Stack.cmd` (a daemon thread the
    interpreter will not wait for) would otherwise keep its stack, and the
    ``ptp://``/``switch://`` files of its VDE connection, until the process
    is gone and nobody is left to remove them.
    """
    for stack in list(_live):
        core = stack._core
        # close() deletes at once: a call in progress keeps what it needs
        if core is not None and not core.closed and stack._pid == os.getpid():
            core.close()


atexit.register(_close_at_exit)


class Stack:
    """A private network stack: a network namespace linked to a VDE network.

    ``vnl`` is a vdeplug VNL (``vde:///tmp/sw``, ``ptp:///tmp/link``,
    ``switch:///tmp/sw``, ...), ``"=command args"`` for stream mode (the
    command runs on the host, found on PATH, and its stdin/stdout carry the
    VDE stream), ``"local://NAME"`` for a network private to this process
    that the kernel moves (every Stack of the process on ``local://NAME``
    shares it; a forked child or another process gets its own: use a VDE
    switch across processes), or None/``""`` for a stack with loopback
    only; a list of
    VNLs makes one interface on each (``vde0``, ``vde1``, ...; see
    :meth:`add_interface`).  ``ifname`` names the (first) interface
    (default ``vde0``, at most 15 bytes).  The new stack
    has ``lo`` up and its interface down and without addresses.  ``config``
    is a configuration string applied at once (see :meth:`config`), e.g.
    ``"ip=10.0.0.1/24,gw=10.0.0.254"``; a bad one raises ValueError before
    the stack is made.

    Raises OSError (with the errno of the failure, e.g. FileNotFoundError,
    and a message naming the VNL; PermissionError naming ``/dev/net/tun``
    and its fix when that device is what an unprivileged caller may not
    open) when the stack cannot be made, ValueError for an interface name
    the kernel refuses (empty, over 15 bytes, ``.`` or ``..``, with ``/``,
    ``:`` or white space) or a NUL in an argument, TypeError for arguments
    of the wrong type.

    A Stack is a context manager; :meth:`close` is idempotent; using a
    closed stack raises ValueError; a stack garbage-collected while open is
    closed with a ResourceWarning.  Sockets made in it are ordinary file
    descriptors: they stay valid after the stack is closed, and a forked
    child inherits them.
    """

    def __init__(self, vnl: Union[None, PathType, Sequence[PathType]] = None,
                 ifname: Optional[StrOrBytes] = None,
                 config: Optional[StrOrBytes] = None) -> None:
        self._core: Optional[_core.CoreStack] = None
        more: List[PathType] = []
        if isinstance(vnl, (list, tuple)):
            if not vnl:
                raise ValueError("vnl: an empty list of VNLs")
            vnl, more = vnl[0], list(vnl[1:])
        if config is not None:
            bad = _core.config_check(config)
            if bad is not None:
                raise _netconf.config_error(config, bad)
        try:
            self._core = _core.CoreStack(vnl, ifname)
        except OSError as exc:
            better = _messages.stack_error(_text(vnl), exc)
            if better is None:
                raise
            raise better from None
        self._pid = os.getpid()     # only its creator warns when it leaks
        _live.add(self)
        self._vnl = _text(vnl)
        if ifname is not None:
            self._ifname: Optional[str] = _text(ifname)
        else:
            self._ifname = "vde0" if self._vnl else None
        self._interfaces: List[str] = [self._ifname] if self._vnl and self._ifname else []
        try:
            for v in more:
                self.add_interface(v)
            if config is not None:
                self.config(config)
        except BaseException:
            self.close()
            raise

    # -- what the stack is ------------------------------------------------

    @property
    def vnl(self) -> Optional[str]:
        """The VNL the stack was made with (None: loopback only)."""
        return self._vnl

    @property
    def ifname(self) -> Optional[str]:
        """Name of the stack's interface (``vde0`` unless given), None for a
        loopback-only stack made without an explicit name."""
        return self._ifname

    @property
    def interfaces(self) -> List[str]:
        """Names of the stack's own interfaces, in the order they were made
        (not ``lo``)."""
        return list(self._interfaces)

    @property
    def closed(self) -> bool:
        """True once the stack is closed."""
        return self._core is None or self._core.closed

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (f"<vdestack.Stack vnl={self._vnl!r} ifname={self._ifname!r} "
                f"{state}>")

    # -- lifetime -----------------------------------------------------------

    def close(self) -> None:
        """Delete the stack: its interface, VDE connection and helper state.

        Idempotent.  Sockets already made in the stack stay open.  In a
        forked child it releases the child's copy only: the parent's stack
        keeps working.  If another thread is inside a call on this stack,
        the stack is deleted when that call returns.
        """
        _default._forget(self)
        if self._core is not None:
            self._core.close()

    def __enter__(self) -> "Stack":
        if self.closed:
            raise ValueError("I/O operation on closed stack")
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __del__(self) -> None:
        core = getattr(self, "_core", None)
        if core is None or core.closed:
            return
        try:
            if self._pid == os.getpid():
                warnings.warn(f"unclosed stack {self!r}", ResourceWarning,
                              stacklevel=2, source=self)
        finally:
            core.close()

    def __getstate__(self) -> Any:
        raise TypeError(f"cannot pickle {type(self).__name__!r} object")

    def _open_core(self) -> _core.CoreStack:
        core = self._core
        if core is None or core.closed:
            raise ValueError("I/O operation on closed stack")
        return core

    # -- commands -------------------------------------------------------------

    def cmd(self, command: PathType, env: Optional[Mapping[Any, Any]] = None) -> int:
        """Run ``;``-separated commands in the stack and return the status.

        Each command is given by its full path; quotes and backslashes work
        as in a shell.  Commands run with the network capabilities
        (CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE, CAP_NET_BROADCAST)
        and no other; the first command that fails stops the line.

        Returns 0 if every command succeeded, else the exit status of the
        one that failed (127: could not be executed, 128+N: killed by
        signal N).  Raises OSError with errno EINVAL for a relative path
        (the message names the program and, if it is on PATH, its full
        path), an empty line or an unclosed quote (nothing runs then),
        OSError for other failures.  The
        wait releases the GIL and is interruptible: Ctrl-C kills the
        command and raises KeyboardInterrupt.

        ``env`` is the commands' environment, a mapping as for
        :mod:`subprocess`; None (the default) passes the process's
        environment at the time of the call (``os.environ`` as it is now).
        At most 128 KiB of it: OSError E2BIG past that.

        The commands run in the stack's own PID namespace: whatever they
        leave running (in the background, daemonized) is killed when the
        stack is closed or the program dies.

        Example: ``s.cmd("/bin/busybox ip addr add 10.0.0.1/24 dev vde0;
        /bin/busybox ip link set vde0 up")``
        """
        core = self._open_core()
        try:
            return core.cmd(command, _env_list(env))
        except OSError as exc:
            better = _messages.command_error(_text(command) or "", exc)
            if better is None:
                raise
            raise better from None

    def cmdv(self, argv: Sequence[PathType],
             env: Optional[Mapping[Any, Any]] = None) -> int:
        """Run one command given as an argument list, without any parsing.

        ``argv[0]`` is the full path of the program; ``env`` as for
        :meth:`cmd`.  Same statuses and errors as :meth:`cmd`; TypeError
        unless ``argv`` is a list or tuple of str/bytes, ValueError if it
        is empty.
        """
        core = self._open_core()
        try:
            return core.cmdv(argv, _env_list(env))
        except OSError as exc:
            better = _messages.argv_error([_text(a) or "" for a in argv], exc)
            if better is None:
                raise
            raise better from None

    # -- programs -------------------------------------------------------------

    def popen(self, args: Any, **kwargs: Any) -> "subprocess.Popen[Any]":
        """Start a program in the stack: a real :class:`subprocess.Popen`.

        Takes every argument of ``subprocess.Popen`` (``stdin``/``stdout``/
        ``stderr``, ``env``, ``cwd``, ``pass_fds``, ``text``,
        ``start_new_session``, ``preexec_fn``...); the program is found on
        ``PATH`` as subprocess finds it.  It runs with the network
        capabilities of :meth:`cmd` and no other.  ``pid``, ``wait()``,
        ``returncode``, ``send_signal()``, ``terminate()`` and ``kill()``
        behave as for the program itself (the child is a small forwarder in
        front of it).  Whatever the program forks or daemonizes ends when
        the stack is closed.
        """
        return _process.popen(self._open_core(), args, **kwargs)

    def run(self, args: Any, **kwargs: Any) -> "subprocess.CompletedProcess[Any]":
        """Run a program in the stack and wait: :func:`subprocess.run`
        (``check``, ``timeout``, ``capture_output``, ``input`` and every
        :meth:`popen` argument), returning ``CompletedProcess``."""
        return _process.run(self._open_core(), args, **kwargs)

    def netns_fd(self) -> int:
        """A new file descriptor of the stack's network namespace.

        For ``setns(2)``, ``nsenter --net=/proc/PID/fd/N`` and pyroute2
        (``NetNS``/``IPRoute`` after ``setns``).  The caller owns it (close-
        on-exec; close it with ``os.close``).  An unprivileged process must
        join the namespace's user namespace first: ``ioctl(fd,
        NS_GET_USERNS)`` gives its fd, ``setns`` that, then this one.
        """
        return self._open_core().netns()

    # -- sockets --------------------------------------------------------------

    def msocket(self, family: int, type: int, proto: int = 0) -> int:
        """``socket(2)`` in the stack, like the C call ``vde_msocket``.

        Returns a new file descriptor, which the caller owns (close it with
        ``os.close`` or hand it to ``socket.socket(fileno=fd)``).  Raises
        OSError with the errno of the call (e.g. EAFNOSUPPORT), TypeError
        for non-integer arguments.
        """
        return self._open_core().msocket(operator.index(family),
                                         operator.index(type),
                                         operator.index(proto))

    def _socket_fd(self, family: int, type: int, proto: int) -> int:
        """An fd for a Python socket object: close-on-exec, as Python's own
        sockets are (PEP 446).  (The binding raises the ValueError of
        _open_core() for a closed stack itself: one Python frame less on
        the path of every socket.)"""
        core = self._core
        if core is None:
            raise ValueError("I/O operation on closed stack")
        return core.msocket(operator.index(family),
                            operator.index(type) | _socket.SOCK_CLOEXEC,
                            operator.index(proto))

    def socket(self, family: int = _socket.AF_INET, type: int = _socket.SOCK_STREAM,
               proto: int = 0) -> StackSocket:
        """A new :class:`StackSocket` in this stack (``socket.socket`` API)."""
        return new_in_stack(StackSocket, self, family, type, proto)

    # -- defaults and counters -------------------------------------------------

    def as_default(self) -> "_default._Scope":
        """A context manager making this stack the default for the current
        thread / asyncio task: ``socket.socket()``, and so urllib,
        http.client, socketserver and asyncio, open their sockets here.

        Nestable; wins over the process-wide :func:`vdestack.default_stack`.
        """
        return _default.as_default(self)

    def stats(self) -> Dict[str, int]:
        """Frame counters of the stack's interface.

        Keys: tx_frames, tx_bytes (interface -> VDE), rx_frames, rx_bytes
        (VDE -> interface), tx_dropped, rx_dropped, rx_runt, rx_oversize,
        hung_up (1 once the VDE side went away), peer_lost (1 while sends on
        a ptp:// link find no peer), rx_empty (zero-length datagrams
        received).
        """
        return self._open_core().stats()

    # -- network configuration -------------------------------------------------

    def config(self, config: StrOrBytes) -> None:
        """Configure the stack from a string of comma-separated tokens.

        Tokens: ``iface=NAME`` (the interface of the tokens after it;
        default: the first), ``ip=ADDR/LEN`` (IPv4 or IPv6, repeatable),
        ``gw=ADDR`` (default gateway, IPv4 or IPv6), ``mtu=N``,
        ``mac=XX:XX:XX:XX:XX:XX``, ``up``, ``down``, ``dns=ADDR``
        (repeatable), ``domain=NAME``, ``dhcp``, ``dhcp6``, ``slaac``,
        ``fqdn=NAME`` (sent in DHCP requests), ``timeout=SECONDS`` (for
        dhcp/dhcp6/slaac, default 10).  An address, a gateway, dhcp,
        dhcp6 or slaac brings the interface up.  Example::

            s.config("ip=10.0.0.1/24,gw=10.0.0.254,ip=fd00::1/64")

        Raises ValueError naming the bad token when the string is invalid
        or names an interface the stack does not have (nothing is applied
        then), OSError with the kernel's errno when it refuses a setting
        (what came before it stays applied), TimeoutError when a DHCP
        server or router does not answer in time.
        """
        core = self._open_core()
        if isinstance(config, (str, bytes)) and \
                len(config.encode("utf-8", "surrogateescape") if isinstance(config, str)
                    else config) > _core.CONFIG_MAX:
            raise _netconf.config_error(config, -1)
        bad = core.config(config)
        if bad is not None:
            raise _netconf.config_error(config, bad, no_interface=not self._interfaces)

    def add_interface(self, vnl: PathType, ifname: Optional[StrOrBytes] = None) -> str:
        """Add an interface on another VDE network and return its name.

        ``ifname`` None gives the first free ``vdeN`` (``vde1`` next to
        ``vde0``).  Like the first interface it starts down and without
        addresses: configure it with ``config("iface=NAME,...")``.  It has
        its own VDE connection and goes with the stack.  Raises OSError
        (e.g. FileNotFoundError for a switch that is not there, EBUSY for a
        name in use), ValueError for an invalid name.
        """
        name = self._open_core().addif(vnl, ifname)
        self._interfaces.append(name)
        return name

    def links(self) -> List[Link]:
        """The stack's interfaces as the kernel reports them (``lo`` too)."""
        return _netconf.links_of(self._open_core().links())

    def addresses(self) -> List[Address]:
        """The stack's IPv4 and IPv6 addresses (link-local and loopback too)."""
        return _netconf.addresses_of(self._open_core().addrs())

    def routes(self) -> List[Route]:
        """The unicast routes of the stack's main routing table."""
        return _netconf.routes_of(self._open_core().routes())

    # -- names and leases ------------------------------------------------------

    def getaddrinfo(self, host: Any, port: Any, family: int = 0, type: int = 0,
                    proto: int = 0, flags: int = 0) -> List[_resolve.AddrInfo]:
        """:func:`socket.getaddrinfo` in this stack: same arguments, same
        results, ``socket.gaierror`` on failure.

        Names are resolved with the stack's DNS servers (``dns=``/``domain=``
        of its configuration, else those of its DHCP leases) over sockets
        made in the stack, never by the host's resolver; a stack without a
        DNS server raises ``socket.gaierror`` (``EAI_AGAIN``).  Numeric
        addresses and ``localhost`` (the stack's loopback) need no server;
        the host's ``/etc/hosts`` is not read.  The lookup releases the GIL.
        """
        return _resolve.getaddrinfo(self._open_core(), host, port, family, type,
                                    proto, flags)

    def resolvconf(self) -> str:
        """The stack's resolver configuration as ``resolv.conf`` text
        (``search DOMAIN`` and ``nameserver ADDR`` lines)."""
        return self._open_core().resolvconf()

    def lease(self, iface: str = "vde0") -> Optional[_resolve.Lease]:
        """The DHCPv4 lease that interface ``iface`` holds now, or None (no
        DHCP on it, or the lease was lost and not yet regained)."""
        return _resolve.lease_from_core(iface, self._open_core().lease4(iface))
