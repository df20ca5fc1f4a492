#!/usr/bin/env python3
"""A client for echo_server.py, in a stack of its own on the same VDE network.

    python3 examples/python/echo_client.py VNL SERVER_IP MY_IP[/PREFIX] [WORD...]

e.g. with the switch and server of echo_server.py's docstring running:

    python3 examples/python/echo_client.py vde:///tmp/mysw 10.0.0.1 10.0.0.2 hello world

It sends each WORD (default: three greeting lines) as a line to port 5000 of
SERVER_IP and prints what comes back.  Exit status 0 if every line came back
unchanged.
"""

import sys

import vdestack

PORT = 5000


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    vnl, server_ip, my_ip = argv[1:4]
    words = argv[4:] or ["hello", "from a private stack", "bye"]
    if "/" not in my_ip:
        my_ip += "/24"
    ok = True
    with vdestack.Stack(vnl, config=f"ip={my_ip}") as stack:
        with stack.socket() as sock:
            sock.settimeout(10)
            sock.connect((server_ip, PORT))
            reader = sock.makefile("rb")
            for word in words:
                line = (word + "\n").encode()
                sock.sendall(line)
                reply = reader.readline()
                print(f"sent {line!r} got {reply!r}")
                ok = ok and reply == line
            reader.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
