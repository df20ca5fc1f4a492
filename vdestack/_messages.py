"""Error messages that say what to do, for the errnos users meet first.

The C core reports a relative command path and an unusable
``/dev/net/tun`` with a bare errno (EINVAL, EACCES): true, but "Invalid
argument" for ``s.cmd("ip link")`` and "Permission denied" blamed on the
VNL do not tell a user what is wrong.  The functions here look at the
failed call's arguments and the system and return a better OSError (same
errno, so the same subclass), or None to keep the original one.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from typing import List, Optional, Sequence, Tuple

__all__ = ["command_error", "argv_error", "tun_problem", "stack_error", "TUN"]

TUN = "/dev/net/tun"

# where a program given by name is looked for in the suggestion (PATH may
# lack the sbin directories for an unprivileged user)
_SUGGEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _split(line: str) -> Tuple[List[List[str]], bool]:
    """The commands of a ``vde_stackcmd`` line as word lists, and whether
    the core rejects it for an open quote, by the core's own parser."""
    from . import _core
    commands = _core.split_cmdline(line)
    if commands is None:
        # rejected: nothing to run, or a quote left open
        return [], bool(line.strip(" \t\n\r;"))
    return [[os.fsdecode(w) for w in words] for words in commands], False


def _relative(program: str, what: str) -> str:
    """The message for a program not given by its absolute path."""
    msg = (f"{what}: {program!r} is not an absolute path; commands run in a "
           f"stack are given by their full path (they are not looked up on PATH)")
    found = shutil.which(program, path=os.environ.get("PATH", "") + ":" + _SUGGEST_PATH)
    if found is not None and "/" not in program:
        msg += f": use {found!r}"
    return msg


def command_error(command: str, exc: OSError) -> Optional[OSError]:
    """A better error for ``Stack.cmd(command)`` that failed with ``exc``,
    or None.  Explains EINVAL: a relative program path, an empty line, an
    unterminated quote."""
    if exc.errno != errno.EINVAL:
        return None
    what = f"cannot run command {command!r}"
    commands, open_quote = _split(command)
    for words in commands:
        if words and not words[0].startswith("/"):
            return OSError(errno.EINVAL, _relative(words[0], what))
    if open_quote:
        return OSError(errno.EINVAL, f"{what}: a quote is not closed")
    if not any(commands):
        return OSError(errno.EINVAL, f"{what}: the command line is empty")
    return None


def argv_error(argv: Sequence[str], exc: OSError) -> Optional[OSError]:
    """A better error for ``Stack.cmdv(argv)`` that failed with ``exc``,
    or None (explains a relative ``argv[0]``)."""
    if exc.errno != errno.EINVAL or not argv or argv[0].startswith("/"):
        return None
    return OSError(errno.EINVAL, _relative(argv[0], f"cannot run command {list(argv)!r}"))


def tun_problem(err: int, euid: int, st: Optional[os.stat_result],
                usable: bool) -> Optional[str]:
    """What is wrong with /dev/net/tun, if that explains errno ``err`` of
    making a stack with an interface, else None.

    ``euid`` is the caller's effective uid, ``st`` the device's stat (None
    if it does not exist) and ``usable`` whether the caller may open it for
    reading and writing (``os.access``).
    """
    if st is None:
        if err in (errno.ENOENT, errno.ENODEV, errno.EACCES, errno.EPERM):
            return (f"{TUN} does not exist: load the tun module (modprobe tun) or create "
                    f"the device (mkdir -p /dev/net; mknod -m 0666 {TUN} c 10 200)")
        return None
    if err not in (errno.EACCES, errno.EPERM) or usable or euid == 0:
        return None
    mode = stat.S_IMODE(st.st_mode)
    return (f"{TUN} (mode {mode:04o}, owner uid {st.st_uid}) may not be opened by "
            f"this unprivileged user, and every stack with an interface needs it: "
            f"make it usable for all users (as root: chmod 0666 {TUN}, the mode "
            f"most distributions give it) or run as root")


def stack_error(vnl: Optional[str], exc: OSError) -> Optional[OSError]:
    """A better error for ``Stack(vnl)`` that failed with ``exc``, or None.
    Explains an unusable /dev/net/tun instead of blaming the VNL."""
    if not vnl or exc.errno is None:
        return None             # no interface: no tap
    try:
        st: Optional[os.stat_result] = os.stat(TUN)
    except OSError:
        st = None
    usable = st is not None and os.access(TUN, os.R_OK | os.W_OK)
    problem = tun_problem(exc.errno, os.geteuid(), st, usable)
    if problem is None:
        return None
    return OSError(exc.errno, f"cannot make a stack for VNL {vnl!r}: {problem}")
