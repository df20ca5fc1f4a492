#!/usr/bin/env python3
"""The multiclient fork-based TCP echo server of the libvdestack README, in Python.

A private network stack joins a VDE network, gets an address, and serves
TCP port 5000 in it: every connection is served by a forked child that
echoes what it receives (sockets of a stack are ordinary file descriptors,
so fork() just works).  Nothing of it is visible on the host's network.

Run it (unprivileged is fine; /dev/net/tun must be usable, mode 0666):

    vde_plug null:// switch:///tmp/mysw &                 # a VDE switch (package vdeplug)
    python3 examples/python/echo_server.py vde:///tmp/mysw 10.0.0.1

and from another terminal, a client in a second stack on the same switch:

    python3 examples/python/echo_client.py vde:///tmp/mysw 10.0.0.1 10.0.0.2 hello world

Stop the server with Ctrl-C.  Usage: echo_server.py [VNL [IPADDR[/PREFIX] [GATEWAY]]]
(defaults: "vde://", the user's default switch, and 192.168.250.100/24 as in the
original README).
"""

import os
import signal
import socket
import sys

import vdestack

PORT = 5000


def reap(signum, frame):
    """SIGCHLD: collect every child that has finished."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve_connection(conn):
    """In a forked child: echo until the peer closes."""
    print(f"new conn {conn.fileno()} pid {os.getpid()}", flush=True)
    with conn:
        while True:
            data = conn.recv(8192)
            if not data:
                break
            print(f"pid {os.getpid()} GOT: {data.decode(errors='replace')}", end="", flush=True)
            conn.sendall(data)
    print(f"close conn pid {os.getpid()}", flush=True)


def main(argv):
    vnl = argv[1] if len(argv) > 1 else "vde://"
    addr = argv[2] if len(argv) > 2 else "192.168.250.100/24"
    gateway = argv[3] if len(argv) > 3 else None
    if "/" not in addr:
        addr += "/24"
    config = f"ip={addr}" + (f",gw={gateway}" if gateway else "")
    # the address (and a default route): vde0 comes up with them
    with vdestack.Stack(vnl, config=config) as stack:
        signal.signal(signal.SIGCHLD, reap)

        listener = stack.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", PORT))
        listener.listen(5)
        print(f"listening on {addr.split('/')[0]}:{PORT} in a stack on {vnl}", flush=True)
        try:
            while True:
                conn, _ = listener.accept()
                pid = os.fork()
                if pid == 0:                      # child: serve this connection only
                    code = 0
                    try:
                        signal.signal(signal.SIGINT, signal.SIG_DFL)
                        listener.close()
                        serve_connection(conn)
                    except BaseException:
                        code = 1
                    finally:
                        os._exit(code)
                conn.close()                      # parent: the child has it
        except KeyboardInterrupt:
            print("bye", flush=True)
        finally:
            listener.close()


if __name__ == "__main__":
    main(sys.argv)
