"""IPv6 TCP between two stacks: bulk enough for TSO (GSO_TCPV6) and GRO.

Two stacks on one ``ptp://`` link get fd00::1 and fd00::2 (``nodad``, so
the addresses are usable at once); 4 MiB go each way at full speed through
an echo server and come back byte for byte.  The stacks' frame counters
against the kernel's packet counters of ``vde0`` show that one packet read
from the tap became many frames (TSO) and many frames entered as one
packet (GRO).
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Any, Dict, Tuple

import pytest

import vdestack
from conftest import EchoServer

IP_CMD = "/bin/ip"	# iproute2: busybox ip has no "nodad"
SIZE = 4 * 1024 * 1024
CHUNK = 64 * 1024


def configure6(stack: vdestack.Stack, ip: str) -> None:
    """fd00::/64 address without duplicate address detection, link up."""
    status = stack.cmd(f"{IP_CMD} -6 addr add {ip}/64 dev vde0 nodad; "
                       f"{IP_CMD} link set vde0 up")
    assert status == 0, f"configuring {ip}: exit status {status}"


def kernel_counters(stack: vdestack.Stack, path: str) -> Tuple[int, int]:
    """(rx packets, tx packets) of vde0 as the kernel in the stack counts them."""
    status = stack.cmd(f"/bin/busybox sh -c 'cat /proc/net/dev > {path}'")
    assert status == 0, f"reading /proc/net/dev in the stack: exit status {status}"
    with open(path) as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name.strip() == "vde0":
                fields = rest.split()
                return int(fields[1]), int(fields[9])
    raise AssertionError(f"no vde0 in {path}")


def pattern(size: int) -> bytes:
    """size bytes that are not periodic within a TCP window."""
    return (os.urandom(1 << 20) * (size // (1 << 20) + 1))[:size]


def bulk_echo(server: vdestack.Stack, client: vdestack.Stack, ip: str,
              peer_ip: str) -> None:
    """SIZE bytes from client to an echo server at ip, read back while sent."""
    lsock = server.socket(socket.AF_INET6, socket.SOCK_STREAM)
    lsock.bind((ip, 0))
    lsock.listen(4)
    port = lsock.getsockname()[1]
    echo = EchoServer(lsock)
    data = pattern(SIZE)
    errors: Dict[str, BaseException] = {}
    try:
        with client.socket(socket.AF_INET6, socket.SOCK_STREAM) as c:
            c.settimeout(20)
            c.connect((ip, port))

            def send() -> None:
                try:
                    for off in range(0, SIZE, CHUNK):
                        c.sendall(data[off:off + CHUNK])
                    c.shutdown(socket.SHUT_WR)
                except BaseException as e:  # reported by the main thread
                    errors["send"] = e

            t = threading.Thread(target=send)
            t.start()
            got = bytearray()
            while len(got) < SIZE:
                chunk = c.recv(CHUNK)
                if not chunk:
                    break
                got += chunk
            t.join(30)
            assert not errors, f"sending: {errors}"
            assert len(got) == SIZE, f"{len(got)} of {SIZE} bytes came back"
            assert bytes(got) == data, "the echo differs from what was sent"
    finally:
        echo.close()
    assert [p[0] for p in echo.peers] == [peer_ip], f"server saw {echo.peers}"


@pytest.mark.timeout(120)
def test_ipv6_bulk_echo(make_stack: Any, link_vnl: str, tmp_path: Any) -> None:
    a = make_stack(link_vnl)
    b = make_stack(link_vnl)
    configure6(a, "fd00::1")
    configure6(b, "fd00::2")
    # what a's link sent while b's was still down (its MLD reports) was
    # refused by b's interface: drops count from here, with both links up
    before = {"a": a.stats(), "b": b.stats()}
    bulk_echo(a, b, "fd00::1", "fd00::2")
    bulk_echo(b, a, "fd00::2", "fd00::1")

    sa, sb = a.stats(), b.stats()
    for name, s in (("a", sa), ("b", sb)):
        assert s["tx_bytes"] >= 2 * SIZE and s["rx_bytes"] >= 2 * SIZE, (name, s)
        dropped = {k: s[k] - before[name][k] for k in ("tx_dropped", "rx_dropped")}
        assert dropped == {"tx_dropped": 0, "rx_dropped": 0}, (name, dropped, s)
    krx_a, ktx_a = kernel_counters(a, f"{tmp_path}/dev-a")
    krx_b, ktx_b = kernel_counters(b, f"{tmp_path}/dev-b")
    # TSO: frames sent per packet read; GRO: frames received per packet written
    assert sa["tx_frames"] > 2 * ktx_a and sb["tx_frames"] > 2 * ktx_b, \
        (sa["tx_frames"], ktx_a, sb["tx_frames"], ktx_b)
    assert sa["rx_frames"] > 2 * krx_a and sb["rx_frames"] > 2 * krx_b, \
        (sa["rx_frames"], krx_a, sb["rx_frames"], krx_b)
