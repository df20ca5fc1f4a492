#!/usr/bin/env python3
"""pyroute2 driving a stack: for programs that already configure networks
with pyroute2.

A netlink socket made in a stack talks to that stack's kernel, with the
rights the stack has there (unprivileged too), so pyroute2's ``IPRoute``
works on it unchanged: give it the socket's file descriptor.  pyroute2
wants a ``SOCK_DGRAM`` netlink socket (with ``SOCK_RAW`` it raises "A UDP
Socket was expected").

Here stack "a" is configured by pyroute2 (interface up, MTU, an IPv4 and an
IPv6 address, a route), stack "b" by a configuration string, and a TCP
connection from b to a shows that the result carries traffic.

    pip install pyroute2
    python3 examples/python/pyroute2_config.py
"""

import socket
import sys
import tempfile
import threading

from pyroute2 import IPRoute

import vdestack

A_IP, B_IP = "10.0.0.1", "10.0.0.2"


def configure_with_pyroute2(stack):
    fd = stack.msocket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC,
                       socket.NETLINK_ROUTE)
    with IPRoute(fileno=fd) as ipr:          # closes fd when done
        (idx,) = ipr.link_lookup(ifname="vde0")
        ipr.link("set", index=idx, state="up", mtu=1400)
        ipr.addr("add", index=idx, address=A_IP, prefixlen=24)
        ipr.addr("add", index=idx, address="fd00::1", prefixlen=64)
        ipr.route("add", dst="10.9.0.0/16", gateway=B_IP)
        for link in ipr.get_links():
            print(f"pyroute2 sees {link.get_attr('IFLA_IFNAME')}: "
                  f"mtu {link.get_attr('IFLA_MTU')}, state {link.get_attr('IFLA_OPERSTATE')}")


def main():
    with tempfile.TemporaryDirectory(prefix="vdestack-") as tmp:
        link = f"ptp://{tmp}/link"
        with vdestack.Stack(link) as a, vdestack.Stack(link, config=f"ip={B_IP}/24") as b:
            configure_with_pyroute2(a)
            # what the stack's kernel now has, read back without pyroute2
            for addr in a.addresses():
                if addr.ifname == "vde0":
                    print(f"a has {addr.address}")
            for route in a.routes():
                if route.gateway:
                    print(f"a routes {route.destination} via {route.gateway}")

            listener = a.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.bind((A_IP, 7000))
            listener.listen(1)

            def serve():
                conn, peer = listener.accept()
                with conn:
                    conn.sendall(f"hello {peer[0]}\n".encode())

            t = threading.Thread(target=serve)
            t.start()
            with b.socket(socket.AF_INET, socket.SOCK_STREAM) as c:
                c.settimeout(10)
                c.connect((A_IP, 7000))
                print(f"b got {c.recv(100).decode().strip()!r} from a")
            t.join()
            listener.close()
    print("pyroute2 OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
