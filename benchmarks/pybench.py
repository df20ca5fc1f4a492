#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Python side of the vdestack benchmarks (run by run.py inside its venv).

usage:
  pybench.py socket [-n COUNT]            Stack.socket() + close, mean us
  pybench.py stream -d DIR [-t SECS] [-m MTU]
                                          TCP A -> B over ptp:// through
                                          StackSocket.sendall / recv_into, MB/s

Prints one JSON object on stdout.  When the package cannot be imported it
prints {"available": false, "error": ...} and exits 0: the caller reports
"not available" instead of failing.
"""
import argparse
import json
import os
import socket
import sys
import threading
import time

ADDR_A, ADDR_B, PORT = "10.0.0.1", "10.0.0.2", 5011
BUF = 128 * 1024


def out(obj):
    print(json.dumps(obj), flush=True)


def load():
    try:
        import vdestack  # noqa: F401
    except Exception as e:  # not built yet, broken build, ...
        out({"available": False, "error": f"import vdestack: {type(e).__name__}: {e}"})
        sys.exit(0)
    if not hasattr(vdestack, "Stack"):
        out({"available": False, "error": "vdestack has no Stack"})
        sys.exit(0)
    return vdestack


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p / 100 * (len(v) - 1) + 0.5))]


def bench_socket(vds, n):
    res = {"available": True, "scenario": "py_socket",
           "version": getattr(vds, "__version__", "?")}
    with vds.Stack("null://") as s:
        for _ in range(100):
            s.socket(socket.AF_INET, socket.SOCK_STREAM).close()
        v = []
        for _ in range(n):
            t = time.perf_counter()
            s.socket(socket.AF_INET, socket.SOCK_STREAM).close()
            v.append(time.perf_counter() - t)
        res.update(socket_mean_us=sum(v) / n * 1e6, socket_p50_us=pct(v, 50) * 1e6,
                   socket_p99_us=pct(v, 99) * 1e6, socket_n=n)
        # the raw binding, for reference: msocket() + os.close()
        w = []
        for _ in range(n):
            t = time.perf_counter()
            os.close(s.msocket(socket.AF_INET, socket.SOCK_STREAM))
            w.append(time.perf_counter() - t)
        res.update(msocket_mean_us=sum(w) / n * 1e6, msocket_p50_us=pct(w, 50) * 1e6)
    return res


def configure(stack, addr, mtu):
    cmd = f"/bin/busybox ip addr add {addr}/24 dev vde0; "
    if mtu != 1500:
        cmd += f"/bin/busybox ip link set vde0 mtu {mtu}; "
    cmd += "/bin/busybox ip link set vde0 up"
    rc = stack.cmd(cmd)
    if rc != 0:
        raise RuntimeError(f"{cmd!r} returned {rc}")


def bench_stream(vds, d, secs, mtu):
    vnl = f"ptp://{os.path.join(d, 'pyptp')}"
    res = {"available": True, "scenario": "py_stream", "mtu": mtu}
    with vds.Stack(vnl) as a, vds.Stack(vnl) as b:
        configure(a, ADDR_A, mtu)
        configure(b, ADDR_B, mtu)
        lsn = b.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsn.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsn.bind((ADDR_B, PORT))
        lsn.listen(4)
        t0 = time.monotonic()
        while True:
            cli = a.socket(socket.AF_INET, socket.SOCK_STREAM)
            cli.settimeout(2)
            try:
                cli.connect((ADDR_B, PORT))
                break
            except OSError:
                cli.close()
                if time.monotonic() - t0 > 10:
                    raise
                time.sleep(0.1)
        cli.settimeout(None)
        lsn.settimeout(10)
        srv, _ = lsn.accept()
        lsn.close()
        res["socket_type"] = type(srv).__name__
        stop = threading.Event()

        def sender():
            data = b"x" * BUF
            try:
                while not stop.is_set():
                    cli.sendall(data)
            except OSError:
                pass

        th = threading.Thread(target=sender, daemon=True)
        th.start()
        buf = bytearray(2 * BUF)
        mv = memoryview(buf)
        srv.settimeout(0.2)
        warm, got, measured, tm = 0.5, 0, 0, None
        start = time.monotonic()
        end = start + warm + secs
        while True:
            t = time.monotonic()
            if t >= end:
                break
            try:
                n = srv.recv_into(mv)
            except socket.timeout:
                continue
            if n == 0:
                break
            got += n
            if t >= start + warm:
                if tm is None:
                    tm = time.monotonic()
                else:
                    measured += n
        tend = time.monotonic()
        tm = tm or tend
        stop.set()
        try:
            cli.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        th.join(5)
        cli.close()
        srv.close()
        res.update(seconds=tend - tm, bytes=measured,
                   MBps=measured / (tend - tm) / 1e6 if tend > tm else 0.0)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["socket", "stream"])
    ap.add_argument("-n", type=int, default=5000)
    ap.add_argument("-d", default="/tmp")
    ap.add_argument("-t", type=float, default=5.0)
    ap.add_argument("-m", type=int, default=1500)
    a = ap.parse_args()
    vds = load()
    try:
        if a.what == "socket":
            out(bench_socket(vds, a.n))
        else:
            out(bench_stream(vds, a.d, a.t, a.m))
    except Exception as e:
        out({"available": True, "error": f"{type(e).__name__}: {e}"})
        sys.exit(1)


if __name__ == "__main__":
    main()
