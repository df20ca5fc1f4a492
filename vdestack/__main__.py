"""The ``vdestack`` command: run a program in a new network stack.

Installed by pip as the console script ``vdestack``; also ``python -m
vdestack``.  Its manual is ``man 1 vdestack`` (man/vdestack.1); ``vdestack
--help`` prints the same text.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import List, NoReturn, Optional, Sequence

from . import __version__, core_version
from ._stack import Stack

PROG = "vdestack"

#: exit statuses of the command's own failures (as env(1) and nice(1) use them)
EXIT_FAILURE = 125      # vdestack itself failed (bad usage, stack, --cmd)
EXIT_CANNOT_RUN = 126   # the program was found but could not be run
EXIT_NOT_FOUND = 127    # the program was not found

HELP = f"""\
NAME
    vdestack - run a program in a new network stack (a VDE network namespace)

SYNOPSIS
    vdestack run [--ifname NAME] [--config STRING] [--cmd "CMDS"]... VNL
                 [--] PROGRAM [ARGS...]
    vdestack --version
    vdestack --help

DESCRIPTION
    vdestack run makes a new private network stack, a network namespace
    whose interface (NAME, default vde0) is plugged into the VDE network
    VNL, runs PROGRAM in it and waits for it, as vdens(1) and "ip netns
    exec" do.  It works unprivileged, through a user namespace.

    VNL is any vdeplug4 network locator: vde:///tmp/switch, ptp:///tmp/link,
    vxvde://239.1.2.3, udp://..., tap://..., or "=COMMAND ARGS" for a
    stream command such as "=ssh host vde_plug".  "" or "-" means a stack
    with loopback only.  The stack's lo is up; its interface is down and has
    no address until --config or --cmd configures it.

    PROGRAM is found on PATH.  It gets vdestack's standard input, output and
    error, its environment, and the four network capabilities
    (CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE, CAP_NET_BROADCAST)
    inside the stack and no other.  Signals reach it: Ctrl-C from the
    terminal goes to the program (vdestack itself ignores SIGINT and SIGQUIT
    while it waits, as a shell does), SIGTERM and SIGHUP sent to vdestack
    are passed on.  When PROGRAM ends, the stack is deleted, and whatever
    PROGRAM started in it (servers it daemonized included) ends too.

OPTIONS
    --ifname NAME
        Name of the stack's interface (at most 15 bytes; default vde0).
    --config STRING
        Configure the stack with a configuration string before PROGRAM runs
        (e.g. "ip=10.0.0.1/24,gw=10.0.0.254"; see Stack.config).
    --cmd "CMDS"
        Run ';'-separated commands, each given by its full path, in the
        stack before PROGRAM, as vde_stackcmd(3) does, e.g.
        --cmd "/bin/busybox ip addr add 10.0.0.1/24 dev vde0;
               /bin/busybox ip link set vde0 up".
        Repeatable; they run in order, after --config.
    --version
        Print the version and exit.
    -h, --help
        Print this text and exit.

EXIT STATUS
    The exit status of PROGRAM, or 128+N if it was killed by signal N.
    125 if vdestack itself failed (bad arguments, the stack could not be
    made, --config was refused, a --cmd command failed), 126 if PROGRAM
    could not be executed, 127 if it was not found.

EXAMPLES
    vdestack run --cmd "/bin/busybox ip addr add 10.0.0.1/24 dev vde0;
        /bin/busybox ip link set vde0 up" vde:///tmp/sw -- iperf3 -s -1
    vdestack run - -- ip addr          # a stack with loopback only
    vdestack run "=ssh host vde_plug" -- bash

SEE ALSO
    vdens(1), vde_plug(1), libvdestack(3), vdestack_spawn(3)

vdestack {__version__}
"""


def fail(message: str, status: int = EXIT_FAILURE) -> NoReturn:
    """Print 'vdestack: message' on stderr and exit with status."""
    sys.stderr.write(f"{PROG}: {message}\n")
    sys.exit(status)


def usage_error(message: str) -> NoReturn:
    sys.stderr.write(f"{PROG}: {message}\n"
                     f"usage: {PROG} run [--ifname NAME] [--config STRING] "
                     f"[--cmd \"CMDS\"]... VNL [--] PROGRAM [ARGS...]\n"
                     f"       {PROG} --help\n")
    sys.exit(EXIT_FAILURE)


class RunArgs:
    """The parsed arguments of ``vdestack run``."""

    def __init__(self) -> None:
        self.ifname: Optional[str] = None
        self.config: Optional[str] = None
        self.cmds: List[str] = []
        self.vnl: Optional[str] = None
        self.program: List[str] = []


def parse_run(argv: Sequence[str]) -> RunArgs:
    """Options, then VNL, then (after an optional --) the program."""
    args = RunArgs()
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            sys.stdout.write(HELP)
            sys.exit(0)
        name, eq, value = a.partition("=")
        if name in ("--ifname", "--config", "--cmd"):
            if not eq:
                i += 1
                if i == len(argv):
                    usage_error(f"option {name} needs a value")
                value = argv[i]
            if name == "--ifname":
                args.ifname = value
            elif name == "--config":
                args.config = value
            else:
                args.cmds.append(value)
            i += 1
            continue
        if a == "--":
            usage_error("the VNL is missing before --")
        if a.startswith("--"):
            usage_error(f"unknown option {a}")
        break
    if i == len(argv):
        usage_error("the VNL is missing")
    vnl = argv[i]
    args.vnl = None if vnl in ("", "-") else vnl
    i += 1
    if i < len(argv) and argv[i] == "--":
        i += 1
    args.program = list(argv[i:])
    if not args.program:
        usage_error("the PROGRAM to run is missing")
    return args


def run(args: RunArgs) -> int:
    """Make the stack, configure it, run the program; its exit status."""
    try:
        stack = Stack(args.vnl, args.ifname or "vde0")
    except (OSError, ValueError) as exc:
        fail(f"cannot make the stack: {exc}")
    with stack:
        if args.config is not None:
            config = getattr(stack, "config", None)
            if config is None:
                fail("--config: configuration strings are not supported by "
                     "this build of vdestack (Stack.config is missing)")
            try:
                config(args.config)
            except (OSError, ValueError) as exc:
                fail(f"--config {args.config!r}: {exc}")
        for line in args.cmds:
            try:
                status = stack.cmd(line)
            except (OSError, ValueError) as exc:
                fail(f"--cmd {line!r}: {exc}")
            if status != 0:
                fail(f"--cmd {line!r}: a command exited with status {status}")
        # as a shell does while a foreground job runs: the terminal's
        # signals are for the program, which is in our process group
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGQUIT, signal.SIG_IGN)
        # SIGTERM/SIGHUP that come before the program runs are kept for it
        early: List[int] = []
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, lambda signum, frame: early.append(signum))
        try:
            process = stack.popen(args.program)
        except FileNotFoundError as exc:
            fail(f"{args.program[0]}: {exc.strerror}", EXIT_NOT_FOUND)
        except OSError as exc:
            fail(f"{args.program[0]}: {exc.strerror or exc}", EXIT_CANNOT_RUN)

        def pass_on(signum: int, frame: object) -> None:
            process.send_signal(signum)

        signal.signal(signal.SIGTERM, pass_on)
        signal.signal(signal.SIGHUP, pass_on)
        for signum in early:
            process.send_signal(signum)
        returncode = process.wait()
    return 128 - returncode if returncode < 0 else returncode


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``vdestack`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        usage_error("a command is missing")
    if argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(HELP)
        return 0
    if argv[0] == "--version":
        sys.stdout.write(f"{PROG} {__version__} (C core {core_version()})\n")
        return 0
    if argv[0] != "run":
        usage_error(f"unknown command {argv[0]!r}")
    args = parse_run(argv[1:])
    try:
        return run(args)
    except KeyboardInterrupt:       # ^C before the program started
        return 128 + signal.SIGINT


if __name__ == "__main__":
    sys.exit(main())
