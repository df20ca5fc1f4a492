"""Several interfaces in one stack: Stack([vnl, vnl, ...]) and
Stack.add_interface(), checked by traffic with a peer on each network and
by routing through a gateway stack."""

from __future__ import annotations

import errno
import ipaddress
import socket
import time
from typing import Any

import pytest

import vdestack
from conftest import child_pids, open_fds
from test_config import echo_over

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def two_switches(tmp_path: Any, closing: Any) -> Any:
    """Two in-process switches, each held by a peer stack on it:
    (vnl1, peer1 10.91.1.2), (vnl2, peer2 10.91.2.2)."""
    p1 = closing(vdestack.Stack(f"switch://{tmp_path}/sw1",
                                config="ip=10.91.1.2/24,ip=fd91:1::2/64"))
    p2 = closing(vdestack.Stack(f"switch://{tmp_path}/sw2",
                                config="ip=10.91.2.2/24,ip=fd91:2::2/64"))
    return (f"vde://{tmp_path}/sw1", p1), (f"vde://{tmp_path}/sw2", p2)


def test_one_stack_on_two_switches(two_switches: Any, closing: Any) -> None:
    (vnl1, p1), (vnl2, p2) = two_switches
    s = closing(vdestack.Stack([vnl1, vnl2], config="ip=10.91.1.1/24,ip=fd91:1::1/64,"
                               "iface=vde1,ip=10.91.2.1/24,ip=fd91:2::1/64"))
    assert s.interfaces == ["vde0", "vde1"]
    assert {l.name for l in s.links()} == {"lo", "vde0", "vde1"}
    assert echo_over(p1, s, socket.AF_INET, "10.91.1.2", 7101)[0] == "10.91.1.1"
    assert echo_over(p2, s, socket.AF_INET, "10.91.2.2", 7102)[0] == "10.91.2.1"
    assert echo_over(s, p2, socket.AF_INET6, "fd91:2::1", 7103)[0] == "fd91:2::2"
    # the two networks stay apart: p1 has no way to p2's
    with p1.socket(socket.AF_INET, socket.SOCK_STREAM) as c:
        with pytest.raises(OSError) as ei:
            c.connect(("10.91.2.2", 7104))
        assert ei.value.errno == errno.ENETUNREACH


def test_add_interface(two_switches: Any, make_stack: Any, tmp_path: Any) -> None:
    (vnl1, p1), (vnl2, p2) = two_switches
    s = make_stack(None)                       # loopback only, interfaces later
    assert s.interfaces == []
    assert s.add_interface(vnl2, "uplink") == "uplink"
    assert s.add_interface(vnl1) == "vde0"    # the first free vdeN
    assert s.interfaces == ["uplink", "vde0"]
    s.config("ip=10.91.2.1/24,iface=vde0,ip=10.91.1.1/24")   # default: the first, uplink
    addrs = {(a.ifname, a.address) for a in s.addresses()}
    assert ("uplink", ipaddress.IPv4Interface("10.91.2.1/24")) in addrs
    assert ("vde0", ipaddress.IPv4Interface("10.91.1.1/24")) in addrs
    assert echo_over(p2, s, socket.AF_INET, "10.91.2.2", 7111)[0] == "10.91.2.1"
    assert echo_over(p1, s, socket.AF_INET, "10.91.1.2", 7112)[0] == "10.91.1.1"
    with pytest.raises(OSError) as ei:
        s.add_interface(vnl2, "uplink")
    assert ei.value.errno == errno.EBUSY
    with pytest.raises(FileNotFoundError):
        s.add_interface(f"vde://{tmp_path}/no/such/switch")
    for bad in ("", "x" * 16, "a/b", "vde%d"):
        with pytest.raises(ValueError):
            s.add_interface(vnl2, bad)
    with pytest.raises(TypeError):
        s.add_interface(vnl2, 7)               # type: ignore[arg-type]
    assert s.interfaces == ["uplink", "vde0"]
    assert {l.name for l in s.links()} == {"lo", "uplink", "vde0"}
    s.close()
    with pytest.raises(ValueError, match="closed"):
        s.add_interface(vnl2)


def test_bad_vnl_in_list_makes_no_stack(two_switches: Any, tmp_path: Any) -> None:
    (vnl1, _), _ = two_switches
    with pytest.raises(ValueError):
        vdestack.Stack([])

    def attempt() -> None:
        with pytest.raises(FileNotFoundError):
            vdestack.Stack([vnl1, f"vde://{tmp_path}/nope"])

    # one attempt first: the library may keep another idle channel to its
    # helper afterwards; what matters is that attempts do not add up.  The
    # switches are in this process (switch://): each attempt's connection
    # to sw1 is a socket of theirs until they notice it closed, a moment
    # later.
    attempt()
    time.sleep(0.2)
    fds, children = open_fds(), child_pids()
    for _ in range(5):
        attempt()
    deadline = time.monotonic() + 5
    while (open_fds(), child_pids()) != (fds, children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (open_fds(), child_pids()) == (fds, children)


def test_route_through_a_gateway_stack(two_switches: Any, closing: Any) -> None:
    """a (sw1) reaches b (sw2) through g, a stack on both with forwarding
    on; without the route it does not."""
    (vnl1, a), (vnl2, b) = two_switches
    g = closing(vdestack.Stack([vnl1, vnl2],
                               config="ip=10.91.1.254/24,iface=vde1,ip=10.91.2.254/24"))
    assert g.cmd("/bin/busybox sysctl -w net.ipv4.ip_forward=1") == 0
    b.config("gw=10.91.2.254")
    with a.socket(socket.AF_INET, socket.SOCK_STREAM) as c:
        with pytest.raises(OSError) as ei:
            c.connect(("10.91.2.2", 7121))
        assert ei.value.errno == errno.ENETUNREACH
    a.config("gw=10.91.1.254")
    assert any(r.gateway == ipaddress.IPv4Address("10.91.1.254") for r in a.routes())
    assert echo_over(b, a, socket.AF_INET, "10.91.2.2", 7122)[0] == "10.91.1.2"
    assert a.cmd("/bin/busybox ip route del default") == 0
    assert not any(r.destination.prefixlen == 0 and r.destination.version == 4
                   for r in a.routes())
    with a.socket(socket.AF_INET, socket.SOCK_STREAM) as c:
        with pytest.raises(OSError) as ei:
            c.connect(("10.91.2.2", 7123))
        assert ei.value.errno == errno.ENETUNREACH
