#!/usr/bin/env python3
"""Write the seed corpora of the offload fuzz targets (fuzz/corpus/{tso,gro}).

Valid inputs are where the interesting code starts: TSO packets of IPv4
and IPv6 with a virtio-net header, and trains of consecutive TCP segments
for GRO.  The fuzzer mutates from there.  Run from anywhere:
    python3 fuzz/make_seeds.py
"""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def csum(data: bytes, start: int = 0) -> int:
    if len(data) % 2:
        data += b"\0"
    s = start + sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def segment(v6: bool, seq: int, pay: int, flags: int = 0x10, opts: bytes = b"",
            ipid: int = 1) -> bytes:
    eth = b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02" + (b"\x86\xdd" if v6 else b"\x08\x00")
    data = bytes((seq + i) * 7 & 0xFF for i in range(pay))
    thl = 20 + len(opts)
    tcp = struct.pack("!HHIIBBHHH", 40000, 5201, seq & 0xFFFFFFFF, 777,
                      thl // 4 << 4, flags, 502, 0, 0) + opts + data
    if v6:
        src, dst = b"\xfd" + b"\0" * 14 + b"\1", b"\xfd" + b"\0" * 14 + b"\2"
        ip = struct.pack("!IHBB", 0x60000000, len(tcp), 6, 64) + src + dst
        pseudo = csum(src + dst + struct.pack("!IxxxB", len(tcp), 6))
    else:
        src, dst = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
        ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(tcp), ipid, 0x4000, 64, 6, 0) + src + dst
        ip = ip[:10] + struct.pack("!H", ~csum(ip) & 0xFFFF) + ip[12:]
        pseudo = csum(src + dst + struct.pack("!xBH", 6, len(tcp)))
    tcp = tcp[:16] + struct.pack("!H", ~csum(tcp, pseudo) & 0xFFFF) + tcp[18:]
    return eth + ip + tcp


def vnet(gso_type: int, hdr_len: int, gso_size: int, csum_start: int) -> bytes:
    return struct.pack("<BBHHHH", 1, gso_type, hdr_len, gso_size, csum_start, 16)


def write(kind: str, name: str, data: bytes) -> None:
    d = os.path.join(HERE, "corpus", kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main() -> None:
    ts = b"\x01\x01\x08\x0a" + b"\0\0\0\1\0\0\0\2"
    for v6 in (False, True):
        fam = "v6" if v6 else "v4"
        l4 = 54 if v6 else 34
        for pay, opts, mss in ((3001, ts, 1448), (200, b"", 100), (9000, ts, 1428)):
            pkt = segment(v6, 1000, pay, 0x18 | 0x01, opts)
            gso = 4 if v6 else 1
            write("tso", f"{fam}-{pay}", vnet(gso, l4 + 20 + len(opts), mss, l4) + pkt)
        write("tso", f"{fam}-csum", vnet(0, 0, 0, l4) + segment(v6, 5, 33))
        train = b""
        seq = 1000
        for i, pay in enumerate((1448, 1448, 1448, 500)):
            f = segment(v6, seq, pay, 0x18 if i == 3 else 0x10, ts, ipid=i)
            train += struct.pack("!H", len(f)) + f
            seq += pay
        write("gro", f"{fam}-train", b"\0" + train)
        write("gro", f"{fam}-train-fix", b"\1" + train)


if __name__ == "__main__":
    main()
