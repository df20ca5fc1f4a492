"""carry(): take the current default-stack scope into another thread.

``Stack.as_default()`` is a :mod:`contextvars` scope.  A context follows
asyncio tasks and ``asyncio.to_thread``, but not ``threading.Thread``,
``concurrent.futures.ThreadPoolExecutor`` or ``loop.run_in_executor``:
their workers run in a context of their own, so a ``socket.socket()`` made
there opens on the host.  ``carry(fn)`` captures the caller's context (the
scope included) and runs ``fn`` in a copy of it, wherever it is called::

    with stack.as_default():
        future = pool.submit(vdestack.carry(urllib.request.urlopen), url)
"""

from __future__ import annotations

import contextvars
import functools
from typing import Any, Callable, TypeVar

__all__ = ["carry"]

R = TypeVar("R")


def carry(fn: Callable[..., R]) -> Callable[..., R]:
    """Wrap ``fn`` so that it runs in (a copy of) the context of this call.

    Inside an :func:`as_default` scope, sockets that ``fn`` makes in a
    worker thread then open in the scope's stack, as they would in the
    calling thread.  The context is captured now, once; each call of the
    wrapper runs in a fresh copy of it, so the wrapper may run in several
    threads at once, and what ``fn`` sets in it stays there.
    """
    if not callable(fn):
        raise TypeError(f"carry() needs a callable, not {type(fn).__name__}")
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def carried(*args: Any, **kwargs: Any) -> R:
        return ctx.copy().run(fn, *args, **kwargs)

    return carried
