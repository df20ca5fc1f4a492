#!/usr/bin/env python3
"""vdestack demo: two private network stacks on an embedded VDE switch.

    python3 examples/python/demo.py

Stack "alpha" opens a VDE switch inside this process (``switch://`` in a
temporary directory) and stack "beta" plugs into it (``vde://``): a small
local network that exists only in this process, works unprivileged, and
that the host's network never sees.  Then:

1. a TCP echo: a server in alpha (10.0.0.1:5000), a client in beta
   (10.0.0.2) sends three lines and prints what came back;
2. an HTTP fetch: http.server in alpha, urllib in beta (each inside
   ``with stack.as_default():``).

Everything is closed and removed at the end.  Exit status 0 on success.
"""

import http.server
import socket
import socketserver
import sys
import tempfile
import threading
import urllib.request

import vdestack

ALPHA, BETA = "10.0.0.1", "10.0.0.2"


def configure(stack, ip):
    stack.config(f"ip={ip}/24")     # the address, and vde0 up


def echo_server(listener):
    """Serve one connection: echo every line back in upper case."""
    conn, peer = listener.accept()
    with conn, conn.makefile("rwb") as f:
        for line in f:
            print(f"  alpha: {peer[0]} sent {line!r}")
            f.write(line.upper())
            f.flush()


def tcp_echo(alpha, beta):
    print(f"TCP echo: client in beta ({BETA}) -> server in alpha ({ALPHA}:5000)")
    listener = alpha.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((ALPHA, 5000))
    listener.listen(1)
    server = threading.Thread(target=echo_server, args=(listener,))
    server.start()
    ok = True
    with beta.socket() as sock:
        sock.settimeout(10)
        sock.connect((ALPHA, 5000))
        with sock.makefile("rwb") as f:
            for text in ("hello alpha", "this is beta", "bye"):
                f.write(text.encode() + b"\n")
                f.flush()
                reply = f.readline()
                print(f"  beta: got {reply!r}")
                ok = ok and reply == text.upper().encode() + b"\n"
    server.join()
    listener.close()
    return ok


class QuietServer(http.server.HTTPServer):
    """http.server without the reverse DNS lookup of server_bind()."""

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"hello {self.client_address[0]}, this is alpha\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print(f"  alpha: http {self.client_address[0]} {fmt % args}")


def http_fetch(alpha, beta):
    url = f"http://{ALPHA}:8080/"
    print(f"HTTP: urllib in beta fetches {url} from http.server in alpha")
    with alpha.as_default():
        server = QuietServer((ALPHA, 8080), Hello)
    server.timeout = 15                       # handle_request() gives up then
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with beta.as_default():
            with opener.open(url, timeout=10) as resp:
                body = resp.read().decode()
        print(f"  beta: {resp.status} {body!r}")
    finally:
        thread.join()
        server.server_close()
    return resp.status == 200 and body == f"hello {BETA}, this is alpha\n"


def main():
    print(f"vdestack {vdestack.__version__}")
    with tempfile.TemporaryDirectory(prefix="vdestack-demo-") as tmp:
        switch = f"{tmp}/switch"
        with vdestack.Stack(f"switch://{switch}") as alpha, \
                vdestack.Stack(f"vde://{switch}") as beta:
            print(f"alpha: {alpha.vnl} ({ALPHA}), beta: {beta.vnl} ({BETA})")
            configure(alpha, ALPHA)
            configure(beta, BETA)
            ok = tcp_echo(alpha, beta)
            ok = http_fetch(alpha, beta) and ok
            stats = alpha.stats()
            print(f"alpha moved {stats['tx_frames']} frames out, {stats['rx_frames']} in")
    print("demo OK" if ok else "demo FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
