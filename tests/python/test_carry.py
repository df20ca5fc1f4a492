"""as_default() and threads: which workers follow the scope, and
vdestack.carry() that takes it into the others.

Forked: as_default installs the socket.socket hook (process-wide).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
from typing import List

import pytest

import vdestack
from conftest import A_IP, B_IP, EchoServer, recv_exactly

pytestmark = pytest.mark.forked


def test_executor_workers_do_not_follow_the_scope(pair, probe) -> None:
    """Documented behaviour: ThreadPoolExecutor, threading.Thread and
    loop.run_in_executor run outside the scope (on the host);
    asyncio.to_thread follows it."""
    seen: List[str] = []
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        with pair.a.as_default():
            assert probe.new_socket_lives_in() == "a"
            assert pool.submit(probe.new_socket_lives_in).result(30) == "host"
            t = threading.Thread(target=lambda: seen.append(probe.new_socket_lives_in()))
            t.start()
            t.join(30)

            async def main() -> List[str]:
                loop = asyncio.get_running_loop()
                return [await loop.run_in_executor(pool, probe.new_socket_lives_in),
                        await asyncio.to_thread(probe.new_socket_lives_in)]
            in_executor, to_thread = asyncio.run(main())
    assert seen == ["host"]
    assert in_executor == "host"
    assert to_thread == "a"


def test_carry_takes_the_scope_into_a_pool_worker(pair, probe) -> None:
    """A socket made in a ThreadPoolExecutor worker through carry() lands in
    the stack: the server in stack b sees the address of stack a."""
    srv = pair.b.socket()
    srv.bind((B_IP, 0))
    srv.listen(4)
    server = EchoServer(srv)

    def talk(payload: bytes) -> bytes:
        with socket.create_connection(server.addr, timeout=10) as c:
            c.sendall(payload)
            return recv_exactly(c, len(payload))

    try:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            with pair.a.as_default():
                fn = vdestack.carry(talk)
                where = vdestack.carry(probe.new_socket_lives_in)
            # the scope is closed here: carry() captured it when called
            futures = [pool.submit(fn, b"worker %d" % i) for i in range(4)]
            assert [f.result(30) for f in futures] == [b"worker %d" % i for i in range(4)]
            assert pool.submit(where).result(30) == "a"
            assert pool.submit(probe.new_socket_lives_in).result(30) == "host"
        assert [p[0] for p in server.peers] == [A_IP] * 4
        assert set(server.received.values()) == {b"worker %d" % i for i in range(4)}
    finally:
        server.close()


def test_carry_in_run_in_executor_and_thread(pair, probe) -> None:
    seen: List[str] = []
    with pair.b.as_default():
        t = threading.Thread(target=vdestack.carry(lambda: seen.append(probe.new_socket_lives_in())))

        async def main() -> str:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, vdestack.carry(probe.new_socket_lives_in))
        assert asyncio.run(main()) == "b"
    t.start()
    t.join(30)
    assert seen == ["b"]
    assert probe.new_socket_lives_in() == "host"


def test_carry_argument_check() -> None:
    with pytest.raises(TypeError, match="callable"):
        vdestack.carry(42)  # type: ignore[arg-type]
