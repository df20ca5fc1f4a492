#!/usr/bin/env python3
"""security-probe.py - what a command in a stack can and cannot reach.

The measurements behind SECURITY.md.  Run it with the vdestack package
installed, as root and as an unprivileged user; it prints what the kernel
answered for each probe.  Not part of the test suite.  As root one probe
creates /etc/vdst-secprobe (and removes it at once): it shows that a
command runs as uid 0 on the host's files.
"""
import os, socket, subprocess, sys, tempfile, time

import vdestack
BB = "/bin/busybox"
out = tempfile.mkdtemp(prefix="secprobe.")
os.chmod(out, 0o755)
def run(s, cmd, name):
    f = os.path.join(out, name)
    rc = s.cmd(f"{BB} sh -c '{cmd} > {f} 2>&1'")
    try:
        txt = open(f).read().strip()
    except OSError:
        txt = "?"
    print(f"--- {name} (rc {rc}):\n{txt}")
uid = os.geteuid()
print("host uid", uid, "pid", os.getpid())
with vdestack.Stack("null://") as s:
    run(s, "id", "id")
    run(s, "grep -E \"^(Cap|NSpid|Uid|Gid)\" /proc/self/status", "status")
    run(s, f"cat /proc/{os.getpid()}/status | grep -E \"^(NSpid|Uid)\"", "host_status_via_proc")
    run(s, f"kill -0 {os.getpid()} && echo host pid reachable || echo host pid not reachable", "kill_host")
    run(s, f"head -c 60 /proc/{os.getpid()}/environ | tr \"\\\\0\" \" \"", "host_environ")
    run(s, "ls /proc | grep -c \"^[0-9]\"", "proc_count")
    run(s, "echo $$; ps 2>/dev/null | wc -l", "pid_and_ps")
    run(s, "ip link | grep -o \"^[0-9]*: [^:]*\"", "links")
    run(s, f"touch {out}/written_by_cmd && ls -ln {out}/written_by_cmd", "write_tmp")
    run(s, "(touch /etc/vdst-secprobe && echo created /etc/vdst-secprobe; rm -f /etc/vdst-secprobe)", "write_etc")
    run(s, "head -c 20 /etc/shadow >/dev/null && echo shadow readable || echo shadow not readable", "shadow")
    run(s, "mount -t tmpfs none /mnt && echo mounted || echo mount refused", "mount")
    run(s, f"nsenter --net=/proc/{os.getpid()}/ns/net true && echo entered host netns || echo setns refused", "nsenter")
    # a unix socket on the host file system
    path = os.path.join(out, "host.sock")
    srv = socket.socket(socket.AF_UNIX); srv.bind(path); srv.listen(); os.chmod(path, 0o777)
    rc = s.cmd(f"/usr/bin/python3 -c \"import socket; c=socket.socket(socket.AF_UNIX); c.connect('{path}'); c.send(b'hi')\"")
    srv.settimeout(3)
    try:
        conn, _ = srv.accept(); data = conn.recv(10)
    except OSError as e:
        data = repr(e)
    print(f"--- unix_socket (rc {rc}): host got {data!r}")
    # abstract unix socket of the host
    asrv = socket.socket(socket.AF_UNIX); asrv.bind(b"\0vdst-secprobe"); asrv.listen()
    rc = s.cmd("/usr/bin/python3 -c \"import socket,sys; c=socket.socket(socket.AF_UNIX); c.connect(b'\\0vdst-secprobe')\"")
    print(f"--- abstract_unix_socket from the stack: rc {rc} (0 = reached the host's)")
    # a TCP port of the host on 127.0.0.1
    tsrv = socket.socket(); tsrv.bind(("127.0.0.1", 0)); tsrv.listen(); port = tsrv.getsockname()[1]
    rc = s.cmd(f"{BB} sh -c \"{BB} nc -w 1 127.0.0.1 {port} </dev/null\"")
    print(f"--- host 127.0.0.1:{port} from the stack: rc {rc} (0 = reached)")
# helper capabilities
with vdestack.Stack() as s:
    kids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    for p in kids:
        try:
            st = open(f"/proc/{p}/status").read()
        except OSError:
            continue
        if f"PPid:\t{os.getpid()}\n" in st:
            lines = [l for l in st.splitlines() if l.startswith(("Cap", "NSpid", "Uid"))]
            print(f"--- helper {p}:\n" + "\n".join(lines))
            print("    userns", os.readlink(f"/proc/{p}/ns/user"), "host", os.readlink("/proc/self/ns/user"))
# stream mode
f = os.path.join(out, "stream")
with vdestack.Stack(f"={BB} sh -c 'grep -E \"^(Cap|NSpid|Uid)\" /proc/self/status > {f}; readlink /proc/self/ns/net >> {f}; exec cat'") as s:
    time.sleep(0.5)
print("--- stream command:\n" + open(f).read().strip(), "\n    host netns", os.readlink("/proc/self/ns/net"))

# -- /proc of the helper, another stack's process and the host --
with vdestack.Stack() as s, vdestack.Stack() as t:
    t.cmd(f"{BB} sh -c '/bin/sleep 300 & exit 0'")
    helper = [int(p) for p in os.listdir("/proc") if p.isdigit() and f"PPid:\t{os.getpid()}\n" in open(f"/proc/{p}/status").read()][0]
    sleeper = [int(p) for p in os.listdir("/proc") if p.isdigit() and open(f"/proc/{p}/cmdline","rb").read().startswith(b"/bin/sleep\x00300")][0]
    print("helper", helper, "other stack's sleep", sleeper)
    for what, pid in (("helper", helper), ("other stack's process", sleeper), ("host", os.getpid())):
        for f, how in (("fd", "ls"), ("environ", "head -c1"), ("ns/net", "readlink"), ("cmdline", "head -c1")):
            rc = s.cmd(f"{BB} sh -c '{BB} {how} /proc/{pid}/{f} >/dev/null 2>&1 || exit 3; exit 0'")
            print(f"{what} /proc/{pid}/{f} ({how}): {'allowed' if rc == 0 else 'denied'}")
        rc = s.cmd(f"{BB} kill -0 {pid}")
        print(f"{what}: kill -0 by host pid from the stack -> rc {rc}")

import shutil
shutil.rmtree(out, ignore_errors=True)
