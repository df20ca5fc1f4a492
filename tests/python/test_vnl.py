"""Kinds of VDE networks: an embedded switch, stream mode, hang-ups."""

from __future__ import annotations

import os
import shutil
import time

import pytest

import vdestack
from conftest import BUSYBOX, EchoServer, recv_exactly


def test_embedded_switch(make_stack, tmp_path) -> None:
    """switch:// is a switch inside the stack that opens it; others join
    it as vde://.  Three stacks, traffic between the two members."""
    sw = tmp_path / "sw"
    hub = make_stack(f"switch://{sw}", ip="10.0.0.1/24")
    m1 = make_stack(f"vde://{sw}", ip="10.0.0.2/24")
    m2 = make_stack(f"vde://{sw}", ip="10.0.0.3/24")
    with pytest.raises(OSError):
        vdestack.Stack(f"switch://{sw}")            # the path is taken
    srv = m2.socket()
    srv.bind(("10.0.0.3", 0))
    srv.listen(4)
    server = EchoServer(srv)
    try:
        for client_stack, ip in ((m1, "10.0.0.2"), (hub, "10.0.0.1")):
            with client_stack.socket() as c:
                c.settimeout(10)
                c.connect(server.addr)
                c.sendall(f"from {ip}".encode())
                assert recv_exactly(c, len(ip) + 5) == f"from {ip}".encode()
        assert [p[0] for p in server.peers] == ["10.0.0.2", "10.0.0.1"]
    finally:
        server.close()
    for s in (m1, m2, hub):
        s.close()
    assert not sw.exists()                          # the switch went with its stack


@pytest.mark.skipif(shutil.which("vde_plug") is None, reason="vde_plug (package vdeplug) not on PATH")
def test_stream_mode(make_stack, tmp_path) -> None:
    """"=cmd": the command's stdin/stdout carry the VDE stream (here vde_plug
    joins a ptp link whose other end is a normal stack)."""
    link = f"ptp://{tmp_path}/link"
    direct = make_stack(link, ip="10.0.0.1/24")
    streamed = make_stack(f"=vde_plug {link}", ip="10.0.0.2/24")
    assert streamed.vnl == f"=vde_plug {link}"
    srv = direct.socket()
    srv.bind(("10.0.0.1", 0))
    srv.listen(1)
    server = EchoServer(srv)
    try:
        with streamed.socket() as c:
            c.settimeout(10)
            deadline = time.monotonic() + 10
            while True:                               # vde_plug may take a moment to join
                try:
                    c.connect(server.addr)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    c.close()
                    c = streamed.socket()
                    c.settimeout(2)
                    time.sleep(0.1)
            data = os.urandom(50_000)
            c.sendall(data)
            assert recv_exactly(c, len(data)) == data
        assert server.peers[-1][0] == "10.0.0.2"
        assert streamed.stats()["rx_bytes"] >= len(data)
    finally:
        server.close()


def test_stream_command_not_found(tmp_path) -> None:
    """A stream command that cannot run: an error now, or a hung-up stack."""
    try:
        s = vdestack.Stack(f"=/nonexistent/command {tmp_path}")
    except OSError as exc:
        assert exc.errno and "/nonexistent/command" in str(exc)
        return
    with s:
        deadline = time.monotonic() + 5
        while s.stats()["hung_up"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert s.stats()["hung_up"] == 1
        assert s.cmd("/bin/true") == 0                # calls still return


def test_switch_going_away_hangs_up(make_stack, tmp_path) -> None:
    """The stack that holds the switch closes: its members stop (hung_up=1)
    and every later call on them still returns."""
    sw = tmp_path / "sw"
    hub = make_stack(f"switch://{sw}")
    member = make_stack(f"vde://{sw}", ip="10.0.0.2/24")
    assert member.stats()["hung_up"] == 0
    hub.close()
    deadline = time.monotonic() + 5
    while member.stats()["hung_up"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert member.stats()["hung_up"] == 1
    assert member.cmd(f"{BUSYBOX} ping -c 1 -W 1 10.0.0.1") != 0   # nothing moves
    assert member.cmd("/bin/true") == 0
    with member.socket() as s:
        s.bind(("10.0.0.2", 0))
