#!/usr/bin/env python3
"""soak.py - churn stacks, sockets and commands from many threads for a
while, then check that nothing was left behind.

Not part of the test command (it runs for minutes): run it by hand before a
release, or after a change to lifetimes, the pump or the helper.

    sudo python3 scripts/soak.py --threads 8 --minutes 2
    python3 scripts/soak.py -t 4 -m 1        # unprivileged works too

It needs the vdestack package importable (pip install ., or run it with the
Python of a venv that has it), busybox, and /dev/net/tun usable.

Each thread loops: two stacks on a fresh ptp:// link, addresses, a TCP echo
of 64 KiB and a UDP datagram between them (checked byte for byte), a few
vde_msocket()s of every family, a command that succeeds and one that fails,
then both stacks closed; every fourth round also a loopback-only stack.

At the end, after every stack is closed, it compares with the start:
  - open fds of this process (must be equal),
  - threads of this process (must be equal: the pumps end with the last stack),
  - child processes (must be none),
  - RSS (growth reported; more than --rss-mb MiB fails),
  - neighbour table entries of the kernel, IPv4 (/proc/net/stat/arp_cache)
    and IPv6 (ndisc_cache): shared by every namespace, so deleted stacks
    must not leave theirs behind; waits up to --drain seconds for them.
Prints the figures and exits 1 if a check failed or a round went wrong.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from typing import Dict, List, Tuple

import vdestack

BUSYBOX = "/bin/busybox"


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def children() -> List[int]:
    """Live (non-zombie) descendants of this process."""
    parent: Dict[int, int] = {}
    state: Dict[int, str] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state[int(d)], parent[int(d)] = rest[0], int(rest[1])
    me, out = os.getpid(), []
    for pid in parent:
        p = pid
        while p > 1 and p != me:
            p = parent.get(p, 0)
        if p == me and pid != me and state[pid] != "Z":
            out.append(pid)
    return out


def neigh_entries(name: str) -> int:
    """Entries of a kernel neighbour table (first column, hex, any CPU row)."""
    try:
        with open(f"/proc/net/stat/{name}") as f:
            f.readline()
            return int(f.readline().split()[0], 16)
    except (OSError, IndexError, ValueError):
        return -1


class Soak:
    def __init__(self, args: argparse.Namespace, tmp: str) -> None:
        self.args = args
        self.tmp = tmp
        self.stop = time.monotonic() + args.minutes * 60
        self.lock = threading.Lock()
        self.counts = {"rounds": 0, "stacks": 0, "bytes": 0, "msockets": 0, "commands": 0}
        self.errors: List[str] = []

    def count(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counts[key] += n

    def error(self, what: str) -> None:
        with self.lock:
            self.errors.append(what)
            if len(self.errors) <= 20:
                print(f"soak: error: {what}", file=sys.stderr)

    def configure(self, s: vdestack.Stack, ip: str) -> None:
        rc = s.cmd(f"{BUSYBOX} ip addr add {ip}/24 dev vde0; {BUSYBOX} ip link set vde0 up")
        if rc != 0:
            raise RuntimeError(f"configuring {ip}: exit status {rc}")

    def echo(self, a: vdestack.Stack, b: vdestack.Stack, a_ip: str, b_ip: str) -> None:
        data = os.urandom(64 * 1024)
        with a.socket() as lsock, b.socket() as c:
            lsock.bind((a_ip, 7000))
            lsock.listen(1)
            lsock.settimeout(10)
            c.settimeout(10)

            def serve() -> None:
                try:
                    conn, _ = lsock.accept()
                    with conn:
                        conn.settimeout(10)
                        while True:
                            d = conn.recv(65536)
                            if not d:
                                return
                            conn.sendall(d)
                except OSError:
                    return

            t = threading.Thread(target=serve)
            t.start()
            for _ in range(50):
                try:
                    c.connect((a_ip, 7000))
                    break
                except OSError:
                    time.sleep(0.05)
            c.sendall(data)
            c.shutdown(socket.SHUT_WR)
            got = b""
            while len(got) < len(data):
                d = c.recv(65536)
                if not d:
                    break
                got += d
            t.join(15)
            if got != data:
                raise RuntimeError(f"TCP echo: {len(got)} of {len(data)} bytes, "
                                   f"{'equal' if got == data[:len(got)] else 'different'}")
        with a.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, \
                b.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            rx.bind((a_ip, 7001))
            rx.settimeout(0.5)
            for _ in range(20):
                tx.sendto(b"soak", (a_ip, 7001))
                try:
                    d, peer = rx.recvfrom(64)
                    break
                except socket.timeout:
                    continue
            else:
                raise RuntimeError("UDP datagram never arrived")
            if d != b"soak" or peer[0] != b_ip:
                raise RuntimeError(f"UDP: {d!r} from {peer}")
        self.count("bytes", 2 * len(data))

    def msockets(self, s: vdestack.Stack) -> None:
        for fam, typ in ((socket.AF_INET, socket.SOCK_STREAM), (socket.AF_INET6, socket.SOCK_DGRAM),
                         (socket.AF_NETLINK, socket.SOCK_RAW), (socket.AF_PACKET, socket.SOCK_RAW)):
            try:
                fd = s.msocket(fam, typ, 0)
            except PermissionError:
                continue	# AF_PACKET needs CAP_NET_RAW in the host's view
            os.close(fd)
            self.count("msockets")

    def commands(self, s: vdestack.Stack) -> None:
        if s.cmd(f"{BUSYBOX} true") != 0 or s.cmd(f"{BUSYBOX} sh -c 'exit 3'") != 3:
            raise RuntimeError("command exit statuses")
        self.count("commands", 2)

    def round(self, tid: int, i: int) -> None:
        vnl = f"ptp://{self.tmp}/l{tid}-{i}"
        a_ip, b_ip = f"10.{tid + 1}.0.1", f"10.{tid + 1}.0.2"
        with vdestack.Stack(vnl) as a, vdestack.Stack(vnl) as b:
            self.count("stacks", 2)
            self.configure(a, a_ip)
            self.configure(b, b_ip)
            self.echo(a, b, a_ip, b_ip)
            self.msockets(a)
            self.commands(b)
        if i % 4 == 0:
            with vdestack.Stack() as lo:
                self.count("stacks")
                self.msockets(lo)
                self.commands(lo)

    def worker(self, tid: int) -> None:
        i = 0
        while time.monotonic() < self.stop:
            try:
                self.round(tid, i)
            except Exception as e:  # reported, and the soak goes on
                self.error(f"thread {tid} round {i}: {type(e).__name__}: {e}")
            self.count("rounds")
            i += 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-t", "--threads", type=int, default=8)
    ap.add_argument("-m", "--minutes", type=float, default=2.0)
    ap.add_argument("--rss-mb", type=float, default=64.0,
                    help="RSS growth that fails the run (MiB, default 64)")
    ap.add_argument("--drain", type=float, default=10.0,
                    help="seconds to wait for neighbour entries to go (default 10)")
    args = ap.parse_args()

    # warm-up: a first stack loads the helper and the Python modules
    with vdestack.Stack() as s:
        s.cmd(f"{BUSYBOX} true")
    start = {"fds": fds(), "threads": threads(), "rss": rss_kib(),
             "arp": neigh_entries("arp_cache"), "ndisc": neigh_entries("ndisc_cache")}
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="vdestack-soak.") as tmp:
        soak = Soak(args, tmp)
        ths = [threading.Thread(target=soak.worker, args=(t,)) for t in range(args.threads)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        left_files = os.listdir(tmp)
    elapsed = time.monotonic() - t0
    end = {"fds": fds(), "threads": threads(), "rss": rss_kib(), "children": len(children())}
    waited = 0.0
    arp = ndisc = 0
    while True:
        arp, ndisc = neigh_entries("arp_cache"), neigh_entries("ndisc_cache")
        if (arp <= start["arp"] and ndisc <= start["ndisc"]) or waited >= args.drain:
            break
        time.sleep(0.5)
        waited += 0.5

    c = soak.counts
    print(f"soak: {args.threads} threads, {elapsed:.0f} s: {c['rounds']} rounds, "
          f"{c['stacks']} stacks, {c['bytes'] / 1e6:.1f} MB echoed, "
          f"{c['msockets']} msockets, {c['commands']} commands, {len(soak.errors)} errors")
    checks: List[Tuple[str, bool]] = [
        (f"fds: {start['fds']} before, {end['fds']} after", end["fds"] == start["fds"]),
        (f"threads: {start['threads']} before, {end['threads']} after",
         end["threads"] == start["threads"]),
        (f"child processes left: {end['children']}", end["children"] == 0),
        (f"RSS: {start['rss'] / 1024:.1f} MiB before, {end['rss'] / 1024:.1f} MiB after",
         end["rss"] - start["rss"] <= args.rss_mb * 1024),
        (f"IPv4 neighbour entries: {start['arp']} before, {arp} after "
         f"(waited {waited:.1f} s)", arp <= start["arp"]),
        (f"IPv6 neighbour entries: {start['ndisc']} before, {ndisc} after "
         f"(waited {waited:.1f} s)", ndisc <= start["ndisc"]),
        (f"ptp files left: {len(left_files)}", not left_files),
        (f"rounds without error: {c['rounds'] - len(soak.errors)} of {c['rounds']}",
         not soak.errors and c["rounds"] > 0),
    ]
    for what, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {what}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
