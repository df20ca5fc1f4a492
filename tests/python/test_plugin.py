"""The package's pytest plugin (vdestack.pytest_plugin): its fixtures work
as a user's suite sees them, and clean up after failing tests too."""

from __future__ import annotations

import json
import os
from importlib.metadata import entry_points

import pytest

from conftest import EchoServer, pid_alive, recv_exactly


def test_registered_as_pytest11_entry_point() -> None:
    found = entry_points()
    group = (found.select(group="pytest11") if hasattr(found, "select")
             else found.get("pytest11", []))         # Python 3.9
    eps = [ep for ep in group if ep.name == "vdestack"]
    assert [ep.value for ep in eps] == ["vdestack.pytest_plugin"]


def test_three_stacks_on_a_vde_switch(vde_switch, make_stack) -> None:
    """A few lines of a user's network test: stacks on the fixture's switch
    reach each other through it."""
    assert vde_switch.vnl == f"vde://{vde_switch.path}"
    assert os.path.exists(os.path.join(vde_switch.path, "ctl"))
    a = make_stack(vde_switch.vnl, ip="10.0.0.1/24")
    b = make_stack(vde_switch.vnl, ip="10.0.0.2/24")
    c = make_stack(vde_switch.vnl, ip="10.0.0.3/24")
    srv = c.socket()
    srv.bind(("10.0.0.3", 0))
    srv.listen(4)
    server = EchoServer(srv)
    try:
        for stack, ip in ((a, "10.0.0.1"), (b, "10.0.0.2")):
            with stack.socket() as s:
                s.settimeout(10)
                s.connect(server.addr)
                s.sendall(ip.encode())
                assert recv_exactly(s, len(ip)) == ip.encode()
        assert [p[0] for p in server.peers] == ["10.0.0.1", "10.0.0.2"]
    finally:
        server.close()


def test_make_stack_ip_needs_an_interface(make_stack) -> None:
    with pytest.raises(ValueError, match="interface"):
        make_stack(ip="10.0.0.1/24")


INNER = '''
import json, os, signal
import pytest

made = {}

def test_fails_midway(make_stack, vde_switch):
    a = make_stack(vde_switch.vnl, ip="10.9.0.1/24")
    b = make_stack(vde_switch.vnl, ip=["10.9.0.2/24", "fd00::2/64"])
    srv = b.socket()
    srv.bind(("10.9.0.2", 7000))
    srv.listen(1)
    c = a.socket()
    c.settimeout(10)
    c.connect(("10.9.0.2", 7000))
    conn, peer = srv.accept()
    made.update(stacks=[a, b], path=vde_switch.path, pid=vde_switch.pid, peer=peer[0])
    for s in (c, conn, srv):
        s.close()
    assert False, "this test fails on purpose"

def test_after(tmp_path):
    with open(OUT, "w") as f:
        json.dump({"peer": made["peer"], "closed": [s.closed for s in made["stacks"]],
                   "path": made["path"], "pid": made["pid"],
                   "path_left": os.path.exists(made["path"])}, f)
'''


def test_cleanup_after_a_failing_test(pytester, tmp_path) -> None:
    """In a user's suite (a pytest run of its own, the plugin loaded by its
    entry point): a test that fails still gets its stacks closed and its
    switch stopped and removed."""
    out = tmp_path / "out.json"
    pytester.makepyfile(test_user=f"OUT = {str(out)!r}\n" + INNER)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*this test fails on purpose*"])
    seen = json.loads(out.read_text())
    assert seen["peer"] == "10.9.0.1"               # traffic crossed the switch
    assert seen["closed"] == [True, True]           # closed after the failure
    assert seen["path_left"] is False               # switch directory removed
    if seen["pid"] is not None:                     # vde_plug stopped
        assert not pid_alive(seen["pid"])
