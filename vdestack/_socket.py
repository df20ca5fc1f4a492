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
