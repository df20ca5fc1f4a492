"""vdestack: private Linux network stacks for Python programs.

A :class:`Stack` is a network namespace of its own, linked to a VDE network
(any vdeplug VNL: ``vde:///tmp/sw``, ``ptp:///tmp/link``, ``switch://``,
...).  Sockets made in it are ordinary kernel sockets; it works unprivileged
(through a user namespace).  Example::

    import socket, vdestack

    with vdestack.Stack("ptp:///tmp/link", config="ip=10.0.0.1/24") as s:
        sock = s.socket(socket.AF_INET, socket.SOCK_STREAM)   # a StackSocket
        with s.as_default():          # socket.socket() opens in s here
            ...

The C core (the same sources as libvdestack.so) is compiled into the
extension ``vdestack._core``.
"""

try:
    from . import _core
except ImportError as _exc:         # say which system package is missing
    from ._loaderror import explain as _explain
    _msg = _explain(_exc)
    if _msg is None:
        raise
    raise ImportError(_msg, name=_exc.name, path=_exc.path) from _exc
from ._carry import carry
from ._default import as_default, current_stack, default_stack
from ._resolve import Lease
from ._netconf import Address, Link, Route
from ._socket import StackSocket
from ._stack import Stack

__version__ = "1.0.0"

#: exit status of :meth:`Stack.cmd` when a command could not be executed
STATUS_NOEXEC: int = _core.STATUS_NOEXEC
#: base of the exit status of a command killed by a signal (+ signal number)
STATUS_SIGNAL: int = _core.STATUS_SIGNAL


def core_version() -> str:
    """Version of the C core compiled into the extension."""
    return _core.version()


__all__ = [
    "Stack", "StackSocket", "Lease", "default_stack", "as_default", "current_stack",
    "core_version", "STATUS_NOEXEC", "STATUS_SIGNAL", "__version__", "carry",
    "Link", "Address", "Route",
]
