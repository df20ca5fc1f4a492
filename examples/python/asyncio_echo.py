#!/usr/bin/env python3
"""An asyncio TCP echo server in one stack, its clients in another: one process.

    python3 examples/python/asyncio_echo.py [NCLIENTS]

Two private stacks are linked by a ptp:// VDE link in a temporary
directory: the server stack is 10.0.0.1, the client stack 10.0.0.2.  The
server is asyncio.start_server() on a socket made in the server stack
(Stack.socket()); the clients use asyncio.open_connection() inside
``with client_stack.as_default():``, which makes every socket that asyncio
creates there a socket of the client stack.  NCLIENTS (default 3) clients
talk at the same time; the exchanged lines are printed, everything is
cleaned up at the end.  Exit status 0 if every line came back.
"""

import asyncio
import socket
import sys
import tempfile

import vdestack

SERVER_IP, CLIENT_IP, PORT = "10.0.0.1", "10.0.0.2", 7000


async def handle(reader, writer):
    """Echo lines, prefixed with the address of the peer."""
    peer = writer.get_extra_info("peername")
    while True:
        line = await reader.readline()
        if not line:
            break
        print(f"server: {peer[0]}:{peer[1]} sent {line!r}")
        writer.write(f"echo to {peer[0]}: ".encode() + line)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def client(stack, n):
    """One client: a few lines, each must come back."""
    with stack.as_default():          # asyncio's socket is made in the client stack
        reader, writer = await asyncio.open_connection(SERVER_IP, PORT)
    ok = True
    for i in range(3):
        line = f"client {n} line {i}\n".encode()
        writer.write(line)
        await writer.drain()
        reply = await asyncio.wait_for(reader.readline(), 10)
        print(f"client {n}: got {reply!r}")
        ok = ok and reply == f"echo to {CLIENT_IP}: ".encode() + line
    writer.close()
    await writer.wait_closed()
    return ok


async def run(server_stack, client_stack, nclients):
    listener = server_stack.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((SERVER_IP, PORT))
    server = await asyncio.start_server(handle, sock=listener)
    async with server:
        results = await asyncio.gather(*(client(client_stack, n) for n in range(nclients)))
    return all(results)


def main(argv):
    nclients = int(argv[1]) if len(argv) > 1 else 3
    with tempfile.TemporaryDirectory(prefix="vdestack-") as tmp:
        link = f"ptp://{tmp}/link"
        with vdestack.Stack(link, config=f"ip={SERVER_IP}/24") as server_stack, \
                vdestack.Stack(link, config=f"ip={CLIENT_IP}/24") as client_stack:
            ok = asyncio.run(asyncio.wait_for(run(server_stack, client_stack, nclients), 60))
    print("all lines echoed" if ok else "some lines were lost")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
