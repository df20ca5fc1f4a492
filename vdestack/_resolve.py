"""Name resolution and DHCP leases of a stack (the Python side of
csrc/resolv.c and csrc/dhcp.c).

:func:`getaddrinfo` has the signature and results of
:func:`socket.getaddrinfo`, but resolves with the stack's DNS servers over
sockets made in the stack; numeric hosts and ``localhost`` need no server,
a name needs one (``socket.gaierror`` with ``EAI_AGAIN`` otherwise).
"""

from __future__ import annotations

import ipaddress
import socket as _socket
import struct
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple, Union

__all__ = ["Lease", "getaddrinfo", "lease_from_core"]

AddrInfo = Tuple[_socket.AddressFamily, _socket.SocketKind, int, str,
                 Union[Tuple[str, int], Tuple[str, int, int, int]]]


def _intenum(value: int, enum_klass: Any) -> Any:
    """value as a member of enum_klass when it is one (as socket.py does)."""
    try:
        return enum_klass(value)
    except ValueError:
        return value


def _sockaddr(family: int, raw: bytes) -> Any:
    """A struct sockaddr (bytes) as the tuple socket.getaddrinfo returns."""
    if family == _socket.AF_INET and len(raw) >= 8:
        port, = struct.unpack_from("!H", raw, 2)
        return (_socket.inet_ntop(_socket.AF_INET, raw[4:8]), port)
    if family == _socket.AF_INET6 and len(raw) >= 28:
        port, flowinfo = struct.unpack_from("!HI", raw, 2)
        scope_id, = struct.unpack_from("=I", raw, 24)
        return (_socket.inet_ntop(_socket.AF_INET6, raw[8:24]), port, flowinfo, scope_id)
    return (family, raw)


def _host_bytes(host: Any) -> Optional[bytes]:
    if host is None:
        return None
    if isinstance(host, str):
        try:
            return host.encode("idna")
        except UnicodeError as e:
            raise UnicodeError(f"encoding with 'idna' codec failed ({e})") from None
    if isinstance(host, (bytes, bytearray)):
        return bytes(host)
    raise TypeError(f"getaddrinfo() argument 1 must be string or None, "
                    f"not {type(host).__name__}")


def _port_bytes(port: Any) -> Optional[bytes]:
    if port is None:
        return None
    if isinstance(port, bool):
        raise OSError("Int or String expected")
    if isinstance(port, int):
        return str(port).encode("ascii")
    if isinstance(port, str):
        return port.encode("utf-8")
    if isinstance(port, (bytes, bytearray)):
        return bytes(port)
    raise OSError("Int or String expected")


def getaddrinfo(core: Any, host: Any, port: Any, family: int = 0, type: int = 0,
                proto: int = 0, flags: int = 0) -> List[AddrInfo]:
    """socket.getaddrinfo() through a stack's resolver (see Stack.getaddrinfo)."""
    raw = core.getaddrinfo(_host_bytes(host), _port_bytes(port), int(family),
                           int(type), int(proto), int(flags))
    return [(_intenum(af, _socket.AddressFamily), _intenum(st, _socket.SocketKind),
             pr, canon, _sockaddr(af, sa)) for af, st, pr, canon, sa in raw]


def _v4(n: int) -> ipaddress.IPv4Address:
    """An in_addr's s_addr (network byte order, read as a native int)."""
    return ipaddress.IPv4Address(struct.pack("=I", n))


@dataclass(frozen=True)
class Lease:
    """A DHCPv4 lease held by an interface of a stack.

    ``address`` is the address with its prefix (``IPv4Interface``),
    ``routers`` and ``dns`` the servers the lease named, ``lease_time``,
    ``t1`` (renewal) and ``t2`` (rebinding) are in seconds from ``obtained``
    (the time of the last DHCPACK, seconds since the epoch), ``renewals``
    counts the renewals and rebindings the server acknowledged.
    """

    ifname: str
    address: ipaddress.IPv4Interface
    server: ipaddress.IPv4Address
    routers: Tuple[ipaddress.IPv4Address, ...]
    dns: Tuple[ipaddress.IPv4Address, ...]
    domain: Optional[str]
    lease_time: int
    t1: int
    t2: int
    obtained: float
    renewals: int


def lease_from_core(ifname: str, d: Optional[dict]) -> Optional[Lease]:
    """The dict of CoreStack.lease4() as a Lease (None stays None)."""
    if d is None:
        return None
    return Lease(
        ifname=ifname,
        address=ipaddress.IPv4Interface(f"{_v4(d['addr'])}/{d['plen']}"),
        server=_v4(d["server"]),
        routers=tuple(_v4(r) for r in d["routers"]),
        dns=tuple(_v4(r) for r in d["dns"]),
        domain=d["domain"] or None,
        lease_time=d["lease"], t1=d["t1"], t2=d["t2"],
        obtained=float(d["obtained"]), renewals=d["renewals"],
    )
