"""DHCP and DNS in a stack, with no program of ours in between.

A "server" stack runs busybox udhcpd (DHCP) and dnsmasq (DNS, which knows
web.example.internal) and serves a page with http.server; a "client" stack
on the same switch is configured by the string "dhcp": the library leases
an address, a default route and the DNS server.  The client then fetches
http://web.example.internal/ with urllib under as_default(): the name is
resolved by dnsmasq through the client stack, never by the host.

    python3 examples/python/dhcp_dns.py

prints the lease, the client's resolv.conf and the page.  Needs busybox and
dnsmasq (Debian: busybox, dnsmasq-base).
"""

import http.server
import os
import signal
import socketserver
import tempfile
import threading
import time
import urllib.request

import vdestack


class Page(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        body = f"hello {self.client_address[0]}, you asked for {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self):            # no reverse lookup of the address
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def start(stack, argv):
    """Run argv in stack from a thread; return (thread, pid)."""
    thread = threading.Thread(target=stack.cmdv, args=(argv,), daemon=True)
    thread.start()
    for _ in range(250):
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        if f.read().split(b"\0")[:len(argv)] == [a.encode() for a in argv]:
                            return thread, int(pid)
                except OSError:
                    pass
        time.sleep(0.02)
    raise RuntimeError(f"{argv[0]} did not start")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "udhcpd.conf")
        with open(conf, "w") as f:
            f.write(f"start 10.0.0.100\nend 10.0.0.150\ninterface vde0\n"
                    f"lease_file {tmp}/leases\noption subnet 255.255.255.0\n"
                    f"option router 10.0.0.1\noption dns 10.0.0.1\n"
                    f"option domain example.internal\n")
        with vdestack.Stack(f"switch://{tmp}/sw", config="ip=10.0.0.1/24") as server, \
                vdestack.Stack(f"vde://{tmp}/sw") as client:
            daemons = [
                start(server, ["/bin/busybox", "udhcpd", "-f", conf]),
                start(server, ["/usr/sbin/dnsmasq", "-d", "-q", "-C", "/dev/null",
                               "--no-resolv", "--no-hosts", "--bind-interfaces",
                               "--listen-address=10.0.0.1", "--pid-file=",
                               "--log-facility=/dev/null",
                               "--address=/web.example.internal/10.0.0.1"]),
            ]
            with server.as_default():
                httpd = Server(("10.0.0.1", 80), Page)
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
            try:
                client.config("dhcp,fqdn=client.example.internal,timeout=10")
                print("lease:", client.lease())
                print(client.resolvconf(), end="")
                opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
                for _ in range(50):       # until dnsmasq listens
                    try:
                        client.getaddrinfo("web.example.internal", 80)
                        break
                    except OSError:
                        time.sleep(0.1)
                with client.as_default():
                    with opener.open("http://web.example.internal/page", timeout=10) as r:
                        print(r.read().decode(), end="")
            finally:
                httpd.shutdown()
                httpd.server_close()
                for thread, pid in daemons:
                    os.kill(pid, signal.SIGTERM)
                    thread.join(5)


if __name__ == "__main__":
    main()
