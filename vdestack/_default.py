"""The default stack: which stack ``socket.socket()`` opens its sockets in.

The C library does it by interposing libc's ``socket()``; that cannot reach
CPython's ``_socket`` module (it binds ``socket`` before any library loaded
later), so here it is done at Python level.  The first use of a default
stack installs, once, a wrapper around ``socket.socket.__init__``: when a
socket is made without a file descriptor and a default stack is active,
the wrapper makes the fd with ``stack.msocket(family, type, proto)`` and
hands it to the original constructor.  ``socket.create_connection``,
``socket.create_server``, ``socketserver``, ``http.server``/``http.client``,
``urllib`` and asyncio all end up there.

Name lookups follow the same default: the first use also wraps
``socket.getaddrinfo`` (the module attribute, which ``create_connection``,
``http.client`` and so ``urllib`` call), so that with a default stack a
name is resolved by :meth:`Stack.getaddrinfo` (the stack's DNS servers,
over its sockets), never by the host's resolver.  asyncio's
``loop.getaddrinfo`` calls it in an executor thread, which sees the
process-wide default but not an :func:`as_default` scope of the caller.

Why wrap ``__init__`` rather than replace ``socket.socket`` with a subclass:
the class stays the same object, so it also covers code that did
``from socket import socket`` or subclassed ``socket.socket`` before
vdestack was imported, and ``type()``/``isinstance()`` checks and the
pickling registrations keyed on ``socket.socket`` (multiprocessing's
reducer) see what they expect.

Two levels:

- :func:`default_stack` sets the process-wide default, like the C call
  ``vde_default_stack``;
- :func:`as_default` (and :meth:`Stack.as_default`) sets a scoped default
  for the current thread or asyncio task only (a :mod:`contextvars`
  variable); scopes nest, and a scoped default wins over the process-wide
  one.  ``as_default(None)`` means "the host" inside the scope.
"""

from __future__ import annotations

import contextvars
import functools
import socket as _socket
import threading
from typing import TYPE_CHECKING, Any, Optional, cast

from ._socket import init_in_stack

if TYPE_CHECKING:                   # pragma: no cover
    from ._stack import Stack

__all__ = ["default_stack", "current_stack", "as_default"]

_UNSET = object()
_scoped: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "vdestack_default_stack", default=_UNSET)
_process_default: Optional["Stack"] = None
_install_lock = threading.Lock()
_installed = False


def _check_stack(stack: Any) -> None:
    # what a default needs of a Stack (checked so, _stack.py imports us)
    if stack is None:
        return
    if not callable(getattr(type(stack), "_socket_fd", None)):
        raise TypeError(f"expected a vdestack.Stack or None, not {type(stack).__name__}")
    if stack.closed:
        raise ValueError("I/O operation on closed stack")


def current_stack() -> Optional["Stack"]:
    """The stack that ``socket.socket()`` uses now, or None for the host.

    The innermost :func:`as_default` scope of this thread/task if any,
    else the process-wide :func:`default_stack`.
    """
    stack = _scoped.get()
    if stack is _UNSET:
        return _process_default
    return cast(Optional["Stack"], stack)


def default_stack(stack: Optional["Stack"]) -> None:
    """Make ``stack`` the process-wide default stack (None: the host).

    Like the C call ``vde_default_stack``: every later ``socket.socket()``
    made without a file descriptor, in any thread, is made in ``stack``,
    except inside an :func:`as_default` scope.  Closing the stack resets
    the process-wide default to the host.
    """
    global _process_default
    _check_stack(stack)
    if stack is not None:
        _install()
    _process_default = stack


def _forget(stack: "Stack") -> None:
    """Called by Stack.close(): a closed stack is no process-wide default."""
    global _process_default
    if _process_default is stack:
        _process_default = None


class _Scope:
    """Context manager returned by :func:`as_default`."""

    __slots__ = ("_stack", "_token")

    def __init__(self, stack: Optional["Stack"]) -> None:
        self._stack = stack
        self._token: Optional[contextvars.Token[Any]] = None

    def __enter__(self) -> Optional["Stack"]:
        if self._token is not None:
            raise RuntimeError("this as_default() scope is already active")
        _check_stack(self._stack)
        _install()
        self._token = _scoped.set(self._stack)
        return self._stack

    def __exit__(self, *exc_info: Any) -> None:
        token, self._token = self._token, None
        if token is not None:
            _scoped.reset(token)


def as_default(stack: Optional["Stack"]) -> _Scope:
    """A context manager: ``stack`` is the default stack inside it.

    It applies to the current thread and asyncio task only (tasks created
    inside the scope inherit it, as with any context variable), nests, and
    wins over the process-wide :func:`default_stack`.  ``as_default(None)``
    makes ``socket.socket()`` open host sockets inside the scope.
    """
    _check_stack(stack)
    return _Scope(stack)


def _install() -> None:
    """Wrap ``socket.socket.__init__`` and ``socket.getaddrinfo`` (once
    per process)."""
    global _installed
    if _installed:
        return
    with _install_lock:
        if _installed:
            return
        original = _socket.socket.__init__

        @functools.wraps(original)
        def __init__(self: _socket.socket, family: int = -1, type: int = -1,
                     proto: int = -1, fileno: Optional[int] = None) -> None:
            if fileno is None:
                stack = current_stack()
                if stack is not None:
                    if stack.closed:
                        raise ValueError(f"the default stack is closed: {stack!r}")
                    init_in_stack(functools.partial(original, self), stack,
                                  family, type, proto)
                    return
            original(self, family, type, proto, fileno)

        _socket.socket.__init__ = __init__  # type: ignore[method-assign]

        original_gai = _socket.getaddrinfo

        @functools.wraps(original_gai)
        def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0,
                        proto: int = 0, flags: int = 0) -> Any:
            stack = current_stack()
            if stack is None:
                return original_gai(host, port, family, type, proto, flags)
            if stack.closed:
                raise ValueError(f"the default stack is closed: {stack!r}")
            return stack.getaddrinfo(host, port, family, type, proto, flags)

        getaddrinfo.__vdestack_original__ = original_gai  # type: ignore[attr-defined]
        _socket.getaddrinfo = getaddrinfo
        _installed = True
