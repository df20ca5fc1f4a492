"""The programs in examples/python run as their docstrings say.

The examples are found in $VDESTACK_EXAMPLES, else in ../../examples/python
next to this file (a copy of the tests elsewhere needs the variable).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import child_pids, pid_alive


def examples_dir() -> Path:
    env = os.environ.get("VDESTACK_EXAMPLES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "examples" / "python"


EXAMPLES = examples_dir()
pytestmark = pytest.mark.skipif(not (EXAMPLES / "demo.py").is_file(),
                                reason=f"examples not found in {EXAMPLES} (set VDESTACK_EXAMPLES)")


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=EXAMPLES.parent)


def test_demo() -> None:
    proc = run(str(EXAMPLES / "demo.py"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "beta: got b'HELLO ALPHA\\n'" in proc.stdout
    assert "beta: 200 'hello 10.0.0.2, this is alpha\\n'" in proc.stdout
    assert proc.stdout.rstrip().endswith("demo OK")


def test_quickstart() -> None:
    """The README's Python quick start, run as a user would."""
    proc = run(str(EXAMPLES / "quickstart.py"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == "b'hello over VDE' from 10.0.0.2\nquickstart OK\n"


def test_asyncio_echo() -> None:
    proc = run(str(EXAMPLES / "asyncio_echo.py"), "4")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for n in range(4):
        assert f"client {n}: got b'echo to 10.0.0.2: client {n} line 2\\n'" in proc.stdout
    assert "all lines echoed" in proc.stdout


def test_http_fetch() -> None:
    proc = run(str(EXAMPLES / "http_fetch.py"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "client: hello 10.0.0.2, you asked for /index.html" in proc.stdout


def test_fork_based_echo_server(tmp_path) -> None:
    link = f"ptp://{tmp_path}/link"
    server = subprocess.Popen([sys.executable, "-u", str(EXAMPLES / "echo_server.py"),
                               link, "10.0.0.1"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first.startswith("listening on 10.0.0.1:5000"), first
        client = run(str(EXAMPLES / "echo_client.py"), link, "10.0.0.1", "10.0.0.2",
                     "hello", "world", timeout=30)
        assert client.returncode == 0, client.stdout + client.stderr
        assert "sent b'world\\n' got b'world\\n'" in client.stdout
        time.sleep(0.3)
        kids = child_pids(server.pid)          # its stack's helper, connection children
        server.send_signal(signal.SIGINT)
        out, _ = server.communicate(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 0, out
    assert "GOT: hello" in out and "GOT: world" in out and "bye" in out
    assert "close conn pid" in out
    deadline = time.monotonic() + 5
    while any(pid_alive(p) for p in kids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in kids if pid_alive(p)], "processes left behind by the server"


def test_dhcp_dns() -> None:
    """A client configured by "dhcp" fetches a page by a name only dnsmasq knows."""
    proc = run(str(EXAMPLES / "dhcp_dns.py"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "lease: Lease(ifname='vde0', address=IPv4Interface('10.0.0.1" in out, out
    assert "search example.internal\nnameserver 10.0.0.1\n" in out, out
    assert "hello 10.0.0.1" in out and "you asked for /page" in out, out


def test_pyroute2_config() -> None:
    proc = run(str(EXAMPLES / "pyroute2_config.py"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pyroute2 sees vde0: mtu 1400" in proc.stdout
    assert "a has 10.0.0.1/24" in proc.stdout and "a has fd00::1/64" in proc.stdout
    assert "a routes 10.9.0.0/16 via 10.0.0.2" in proc.stdout
    assert "b got 'hello 10.0.0.2' from a" in proc.stdout
