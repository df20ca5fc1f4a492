#!/usr/bin/env python3
"""An HTTP server in one stack, fetched with urllib from another.

    python3 examples/python/http_fetch.py

Two private stacks on a ptp:// link in a temporary directory: the server
stack (10.0.0.1) runs http.server, the client stack (10.0.0.2) fetches a
page with urllib.request.  Neither knows about vdestack: each runs inside
``with stack.as_default():``, so the sockets that http.server and urllib
make are made in that stack.  The server's answer names the address it
saw the request come from.  Prints the response; exit status 0 on success.

No name is resolved: http.server's server_bind() normally does a reverse
DNS lookup (getfqdn), which the server class below skips, and urllib is
given numeric addresses and no proxy.
"""

import http.server
import socketserver
import sys
import tempfile
import threading
import urllib.request

import vdestack

SERVER_IP, CLIENT_IP = "10.0.0.1", "10.0.0.2"


class Server(http.server.ThreadingHTTPServer):
    """http.server without the reverse DNS lookup of server_bind()."""

    daemon_threads = True

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class Hello(http.server.BaseHTTPRequestHandler):
    """Answers every GET with a line naming the client's address."""

    def do_GET(self):
        body = f"hello {self.client_address[0]}, you asked for {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print(f"server: {self.client_address[0]} {fmt % args}")


def main():
    with tempfile.TemporaryDirectory(prefix="vdestack-") as tmp:
        link = f"ptp://{tmp}/link"
        with vdestack.Stack(link, config=f"ip={SERVER_IP}/24") as server_stack, \
                vdestack.Stack(link, config=f"ip={CLIENT_IP}/24") as client_stack:

            with server_stack.as_default():          # the listening socket: server stack
                server = Server((SERVER_IP, 8000), Hello)
            thread = threading.Thread(target=server.serve_forever)
            thread.start()
            try:
                url = f"http://{SERVER_IP}:8000/index.html"
                opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
                with client_stack.as_default():       # urllib's socket: client stack
                    with opener.open(url, timeout=10) as resp:
                        status, body = resp.status, resp.read().decode()
                print(f"client: GET {url} -> {status}")
                print(f"client: {body}", end="")
            finally:
                server.shutdown()
                thread.join()
                server.server_close()
    ok = status == 200 and body.startswith(f"hello {CLIENT_IP}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
