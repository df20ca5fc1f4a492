"""What a stack's kernel reports about its network, as small dataclasses,
and the configuration string's error messages."""

from __future__ import annotations

import ipaddress
import socket as _socket
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple, Union

__all__ = ["Link", "Address", "Route", "config_error"]

IPInterface = Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

IFF_UP = 0x1
IFF_RUNNING = 0x40


@dataclass(frozen=True)
class Link:
    """An interface of a stack.

    ``mac`` is the link-layer address as ``"xx:xx:xx:xx:xx:xx"`` (``""``
    when the interface has none), ``up`` is True when it is
    administratively up, ``flags`` the raw ``IFF_*`` flags.
    """
    index: int
    name: str
    mac: str
    mtu: int
    up: bool
    flags: int = 0


@dataclass(frozen=True)
class Address:
    """An address of a stack: ``address`` carries the prefix length
    (``address.ip``, ``address.network``); ``flags`` are ``IFA_F_*``,
    ``scope`` is the kernel's ``RT_SCOPE_*`` (0 global, 253 link, 254 host)."""
    ifname: str
    address: IPInterface
    flags: int = 0
    scope: int = 0


@dataclass(frozen=True)
class Route:
    """A unicast route of a stack's main table: ``destination`` (``0.0.0.0/0``
    or ``::/0`` for a default route), ``gateway`` (None: on the link),
    the outgoing interface, its metric and who made it (``protocol``:
    2 kernel, 3 added by a user, 9 router advertisement, 16 DHCP)."""
    destination: IPNetwork
    gateway: Optional[IPAddress]
    ifname: str
    metric: int = 0
    protocol: int = 0


def _ip(family: int, raw: bytes) -> IPAddress:
    if family == _socket.AF_INET:
        return ipaddress.IPv4Address(raw)
    return ipaddress.IPv6Address(raw)


def links_of(rows: List[Tuple[Any, ...]]) -> List[Link]:
    """Link objects from the binding's tuples."""
    return [Link(index=i, name=name, mac=":".join(f"{b:02x}" for b in mac),
                 mtu=mtu, up=bool(flags & IFF_UP), flags=flags)
            for i, name, mac, mtu, flags in rows]


def addresses_of(rows: List[Tuple[Any, ...]]) -> List[Address]:
    """Address objects from the binding's tuples."""
    out = []
    for _index, ifname, family, raw, plen, flags, scope in rows:
        cls = ipaddress.IPv4Interface if family == _socket.AF_INET else ipaddress.IPv6Interface
        out.append(Address(ifname=ifname, address=cls((raw, plen)), flags=flags, scope=scope))
    return out


def routes_of(rows: List[Tuple[Any, ...]]) -> List[Route]:
    """Route objects from the binding's tuples."""
    out = []
    for family, dst, dst_len, gw, _index, ifname, metric, proto in rows:
        cls = ipaddress.IPv4Network if family == _socket.AF_INET else ipaddress.IPv6Network
        out.append(Route(destination=cls((dst, dst_len), strict=False),
                         gateway=_ip(family, gw) if gw is not None else None,
                         ifname=ifname, metric=metric, protocol=proto))
    return out


# what each token must look like, for the error message
_FORMS = {
    "iface": "iface=NAME: an interface of the stack (1-15 bytes, no '/', ':' or blanks)",
    "ip": "ip=ADDR/LEN: an IPv4 or IPv6 host address and its prefix length",
    "gw": "gw=ADDR: an IPv4 or IPv6 gateway, one per family, on a link not kept down",
    "mtu": "mtu=N: an integer from 68 to 65535, once per interface",
    "mac": "mac=XX:XX:XX:XX:XX:XX: a unicast MAC address, not all zero, once per interface",
    "dns": "dns=ADDR: an IPv4 or IPv6 DNS server address",
    "domain": "domain=NAME: a DNS name, once",
    "fqdn": "fqdn=NAME: a DNS name, once",
    "timeout": "timeout=SECONDS: more than 0 and at most 3600, at most 3 decimals, once",
    "dhcp": "dhcp: a bare word, once per interface, not with 'down'",
    "dhcp6": "dhcp6: a bare word, once per interface, not with 'down'",
    "slaac": "slaac: a bare word, once per interface, not with 'down'",
    "up": "up: a bare word, not with 'down'",
    "down": "down: a bare word; not with 'up', gw=, dhcp, dhcp6 or slaac on that interface",
}


def _shown(config: Union[str, bytes]) -> str:
    text = repr(config)
    return text if len(text) <= 120 else text[:100] + f"... ({len(config)} characters)"


def config_error(config: Union[str, bytes], offset: int,
                 no_interface: bool = False) -> ValueError:
    """The ValueError for a configuration string whose token at ``offset``
    (in its UTF-8 bytes; -1: none in particular) was refused.
    ``no_interface``: the stack has no interface of its own (loopback only)."""
    raw = config.encode("utf-8", "surrogateescape") if isinstance(config, str) else config
    if offset < 0 or offset > len(raw):
        return ValueError(f"invalid configuration string {_shown(config)} "
                          f"(longer than 65536 bytes, or unusable as a whole)")
    tok = raw[offset:].split(b",", 1)[0].decode("utf-8", "replace")
    key = tok.split("=", 1)[0]
    form = _FORMS.get(key)
    if not tok:
        why = "empty token (two commas in a row, or a comma at an end)"
    elif form is None:
        why = "unknown token; known: " + ", ".join(_FORMS)
    else:
        why = "expected " + form
    if no_interface and key not in ("iface", "dns", "domain", "fqdn", "timeout"):
        why += " (this stack has no interface of its own: name one first, e.g. iface=lo)"
    err = ValueError(f"invalid token {tok!r} in configuration string {_shown(config)}: {why}")
    err.token = tok          # type: ignore[attr-defined]
    err.offset = offset      # type: ignore[attr-defined]
    return err
