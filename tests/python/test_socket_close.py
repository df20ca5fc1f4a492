"""StackSocket.close() is socket.socket.close() done in C: the same steps."""

from __future__ import annotations

import socket

import vdestack


def test_close_is_socket_close(make_stack) -> None:
    s = make_stack()
    sock = s.socket(socket.AF_INET, socket.SOCK_DGRAM)
    fd = sock.fileno()
    assert fd >= 0 and not sock._closed
    sock.close()
    assert sock.fileno() == -1 and sock._closed
    sock.close()                                   # idempotent
    assert "closed" in repr(sock)


def test_close_waits_for_makefile(make_stack) -> None:
    """With a makefile() open the fd stays until the file is closed too."""
    s = make_stack()
    srv = s.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    c = s.socket()
    c.connect(srv.getsockname())
    conn, _ = srv.accept()
    f = c.makefile("wb")
    c.close()
    assert c.fileno() != -1                        # _io_refs keeps it
    f.write(b"still open")
    f.close()
    assert c.fileno() == -1
    assert conn.recv(100) == b"still open"
    conn.close()
    srv.close()


def test_subclass_real_close_is_called(make_stack) -> None:
    calls = []

    class Traced(vdestack.StackSocket):
        def _real_close(self, _ss=socket.socket):
            calls.append(self.fileno())
            super()._real_close()

    s = make_stack()
    t = Traced(socket.AF_INET, socket.SOCK_DGRAM, stack=s)
    fd = t.fileno()
    t.close()
    assert calls == [fd] and t.fileno() == -1
