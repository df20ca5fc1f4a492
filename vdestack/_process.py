"""Programs in a stack: the logic behind ``Stack.popen()`` and ``Stack.run()``.

``subprocess.Popen`` does all the work a user expects of it (pipes, ``env``,
``cwd``, ``pass_fds``, ``text``, ``start_new_session``, finding the program
on ``PATH``); a ``preexec_fn`` puts the child into the stack.  It calls the
C core (``nsexec_enter``), which joins the stack's user, network and PID
namespaces, keeps the four network capabilities and forks: the new process
goes on to exec the program, while the Popen child itself stays in front
of it as a small init that forwards signals and ends exactly as the program
ends.  ``Popen.pid``, ``wait()``, ``returncode``, ``send_signal()``,
``terminate()`` and ``kill()`` therefore behave as for the program itself.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any, Callable, Optional

from . import _core

__all__ = ["popen", "run"]


def popen(core: _core.CoreStack, args: Any, **kwargs: Any) -> "subprocess.Popen[Any]":
    """``subprocess.Popen(args, **kwargs)`` with the program in the stack.

    A ``preexec_fn`` given in kwargs still runs, in the program's process,
    after it entered the stack.
    """
    user_preexec: Optional[Callable[[], Any]] = kwargs.pop("preexec_fn", None)
    if user_preexec is not None and not callable(user_preexec):
        raise TypeError(f"preexec_fn must be callable, not {type(user_preexec).__name__}")
    resolv = core.resolv_private()          # the stack's DNS, as commands see it
    fds = core.nsfds()
    userns, netns, pidns = fds

    def enter() -> None:
        # runs in the Popen child; returns only in the program's process
        _core.nsexec_enter(userns, netns, pidns, resolv)
        if user_preexec is not None:
            user_preexec()

    try:
        return subprocess.Popen(args, preexec_fn=enter, **kwargs)
    finally:
        for fd in fds:
            if fd >= 0:
                os.close(fd)


def run(core: _core.CoreStack, args: Any, *, input: Any = None,
        capture_output: bool = False, timeout: Optional[float] = None,
        check: bool = False, **kwargs: Any) -> "subprocess.CompletedProcess[Any]":
    """``subprocess.run()`` with the program in the stack (same arguments,
    same exceptions: TimeoutExpired, CalledProcessError)."""
    if input is not None:
        if kwargs.get("stdin") is not None:
            raise ValueError("stdin and input arguments may not both be used.")
        kwargs["stdin"] = subprocess.PIPE
    if capture_output:
        if kwargs.get("stdout") is not None or kwargs.get("stderr") is not None:
            raise ValueError("stdout and stderr arguments may not be used "
                             "with capture_output.")
        kwargs["stdout"] = subprocess.PIPE
        kwargs["stderr"] = subprocess.PIPE
    with popen(core, args, **kwargs) as process:
        try:
            stdout, stderr = process.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        except BaseException:
            process.kill()
            raise
        retcode = process.poll()
        if check and retcode:
            raise subprocess.CalledProcessError(retcode, process.args,
                                                output=stdout, stderr=stderr)
    return subprocess.CompletedProcess(process.args, retcode, stdout, stderr)
