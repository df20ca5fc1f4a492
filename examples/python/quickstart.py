"""The README's Python quick start: two stacks on one VDE link, a TCP
server in one, a client in the other written as plain socket code.

    python3 examples/python/quickstart.py      (as root or as any user)

Prints what the server received and from which address, then "quickstart OK".
"""

import socket
import tempfile

import vdestack


with tempfile.TemporaryDirectory() as tmp:
    link = f"ptp://{tmp}/link"                     # a point-to-point VDE link
    # each stack's vde0 gets an address and comes up (a configuration string)
    with vdestack.Stack(link, config="ip=10.0.0.1/24") as a, \
            vdestack.Stack(link, config="ip=10.0.0.2/24") as b:

        server = a.socket()                        # a socket.socket made in stack a
        server.bind(("10.0.0.1", 5000))
        server.listen()

        with b.as_default():                       # plain socket code runs in stack b
            client = socket.create_connection(("10.0.0.1", 5000), timeout=5)

        conn, peer = server.accept()
        client.sendall(b"hello over VDE")
        print(conn.recv(100), "from", peer[0])     # b'hello over VDE' from 10.0.0.2
        for s in (conn, client, server):
            s.close()
print("quickstart OK")
