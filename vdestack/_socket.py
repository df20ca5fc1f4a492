"""StackSocket: a socket.socket whose file descriptor belongs to a stack."""

from __future__ import annotations

import os
import socket as _socket
from typing import TYPE_CHECKING, Any, Callable, Optional, Tuple

if TYPE_CHECKING:                   # pragma: no cover
    from ._stack import Stack

__all__ = ["StackSocket"]


def socket_defaults(family: int, type: int, proto: int) -> Tuple[int, int, int]:
    """socket.socket's -1 defaults made explicit: AF_INET, SOCK_STREAM, 0."""
    return (_socket.AF_INET if family == -1 else family,
            _socket.SOCK_STREAM if type == -1 else type,
            0 if proto == -1 else proto)


def init_in_stack(init: Callable[[int, int, int, int], None], stack: "Stack",
                  family: int, type: int, proto: int) -> None:
    """Finish a socket object with a new socket of ``stack``.

    The one place where vdestack makes a Python socket object around a
    stack's fd, for :class:`StackSocket` and for the default stack
    (``_default.py``): ``init`` is the object's bound ``socket.socket``
    constructor, called as ``init(family, type, proto, fd)``.  The fd is
    close-on-exec, as Python's own sockets are (PEP 446), and closed again
    if the constructor fails.
    """
    family, type, proto = socket_defaults(family, type, proto)
    fd = stack._socket_fd(family, type, proto)
    try:
        init(family, type, proto, fd)
    except BaseException:
        os.close(fd)
        raise


# the C type under socket.socket, and what socket.socket.close() ends with
_csocket = _socket.socket.__mro__[1]
_csocket_init = _csocket.__init__
_std_real_close = _socket.socket._real_close


def new_in_stack(cls: type, stack: "Stack", family: int, type: int,
                 proto: int) -> "StackSocket":
    """``cls(family, type, proto, stack=stack)`` for :meth:`Stack.socket`,
    which is measured against C's ``vde_msocket()`` (issue 12): the same
    object, made without the Python frames of two ``__init__`` methods.

    It takes the fd as :func:`init_in_stack` does, initialises the C socket
    object as ``socket.socket.__init__`` does (``_socket.socket.__init__``
    and the two attributes it sets) and closes the fd if that fails.
    """
    if family == -1 or type == -1 or proto == -1:
        family, type, proto = socket_defaults(family, type, proto)
    fd = stack._socket_fd(family, type, proto)
    try:
        sock = cls.__new__(cls)
        _csocket_init(sock, family, type, proto, fd)
    except BaseException:
        os.close(fd)
        raise
    sock._io_refs = 0
    sock._closed = False
    return sock


class StackSocket(_socket.socket):
    """A :class:`socket.socket` made in a vdestack :class:`~vdestack.Stack`.

    It is an ordinary kernel socket of the stack's network namespace, so
    everything that works on a ``socket.socket`` works on it: timeouts,
    ``makefile()``, ``dup()``, ``selectors``, ``socketserver``,
    ``http.server``/``http.client`` and asyncio.  ``accept()`` and ``dup()``
    return ``StackSocket`` objects.

    The constructor keeps the four arguments of ``socket.socket`` (the
    standard library's ``dup()`` relies on them) and adds the keyword-only
    ``stack``: with ``fileno`` None the socket is made in ``stack``; with
    ``stack`` None too, in the current default stack (see
    :func:`vdestack.as_default` and :func:`vdestack.default_stack`), or on
    the host when there is none, like ``socket.socket``.  Usually one calls
    :meth:`Stack.socket` instead.
    """

    # like socket.socket: no per-object __dict__ (and ~0.5 us less per socket)
    __slots__ = ()

    def __init__(self, family: int = -1, type: int = -1, proto: int = -1,
                 fileno: Optional[int] = None, *,
                 stack: Optional["Stack"] = None) -> None:
        if fileno is None and stack is not None:
            init_in_stack(super().__init__, stack, family, type, proto)
        else:
            super().__init__(family, type, proto, fileno)

    def close(self, _std_real_close: Any = _std_real_close,
              _ss_close: Any = _csocket.close) -> None:
        """Close the socket: ``socket.socket.close()``, step for step, with
        the standard ``_real_close()`` inlined (one Python frame less) unless
        a subclass overrides it.  (Defaults instead of globals, as in the
        standard library: close() may run while the interpreter shuts down.)"""
        self._closed = True
        if self._io_refs <= 0:
            if type(self)._real_close is _std_real_close:
                _ss_close(self)
            else:
                self._real_close()

    def accept(self) -> Tuple["StackSocket", Any]:
        """Accept a connection: ``(StackSocket, address)``.

        Like ``socket.socket.accept()``, including its timeout rule: if no
        default timeout is set and this socket has a timeout, the new socket
        is blocking.
        """
        fd, addr = self._accept()  # type: ignore[attr-defined]
        sock = type(self)(self.family, self.type, self.proto, fileno=fd)
        if _socket.getdefaulttimeout() is None and self.gettimeout():
            sock.setblocking(True)
        return sock, addr
