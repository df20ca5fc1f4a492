# cython: language_level=3
"""The minimal Cython backend of vdestack.

One class, :class:`CoreStack`, owns one ``struct vdestack *`` of the C core
(compiled into this extension from csrc/).  It converts arguments, releases
the GIL around every call, and turns a failure into an exception with the
errno of the failing call.  Nothing else: the C core checks the arguments
(interface names by the kernel's rule), keeps a stack alive while a call in
another thread still uses it (a deleted one fails with EBADF, safely), and
retries calls a signal interrupts (only commands, which a signal handler may
cancel, return EINTR).  The ``Stack`` class, the socket objects and the
default stack are plain Python in the package.
"""

from cpython.exc cimport PyErr_CheckSignals
from libc.errno cimport EINVAL, ENOMEM, errno
from libc.stdlib cimport free, malloc

import os

STATUS_NOEXEC = VDESTACK_STATUS_NOEXEC
STATUS_SIGNAL = VDESTACK_STATUS_SIGNAL


def version():
    """Version string of the C core compiled into this extension."""
    return vdestack_version().decode("ascii")


cdef bytes _cstring(object value, str what):
    """value (str, bytes or path-like) as bytes without NUL, for C."""
    cdef bytes b
    try:
        b = os.fsencode(value)
    except TypeError:
        raise TypeError(f"{what} must be str, bytes or os.PathLike, "
                        f"not {type(value).__name__}") from None
    if b"\0" in b:
        raise ValueError(f"{what} contains a NUL character: {value!r}")
    return b


cdef int _raise_errno(int err, str what) except -1:
    """The single error checker's raise: OSError(errno, 'what: strerror').

    Python picks the subclass from the errno (FileNotFoundError, ...).
    """
    if err == 0:
        err = 5                   # EIO: the core failed without saying why
    raise OSError(err, f"{what}: {os.strerror(err)}")


cdef class _Interrupt:
    """What the interrupted() callback of a command found."""
    cdef object exc


cdef int _interrupted(void *arg) noexcept nogil:
    """Called by the core when a signal interrupts the wait for a command.

    Runs the Python signal handlers; if one raises (KeyboardInterrupt from
    Ctrl-C, a test's timeout), the exception is kept for the caller and 1 is
    returned: the core then kills the command and fails with EINTR.
    """
    with gil:
        try:
            PyErr_CheckSignals()
        except BaseException as exc:
            (<_Interrupt>arg).exc = exc
            return 1
    return 0


cdef int _command_done(int rc, int err, _Interrupt intr, object command) except -1:
    """A command's outcome: what a signal handler raised while it ran, else
    OSError for rc < 0, else its exit status rc.  command: the bytes of a
    command line or the list of an argv, for the message."""
    if intr.exc is not None:
        exc, intr.exc = intr.exc, None
        raise exc
    if rc < 0:
        if isinstance(command, bytes):
            shown = os.fsdecode(command)
        else:
            shown = [os.fsdecode(a) for a in command]
        _raise_errno(err, f"cannot run command {shown!r}")
    return rc


cdef class CoreStack:
    """One stack of the C core: ``vde_addstack(vnl, ifname)``.

    vnl None or empty: loopback only.  ifname None: ``vde0``.  Raises
    OSError (errno of vde_addstack) when the stack cannot be made,
    ValueError for an interface name the kernel refuses, TypeError for
    arguments of the wrong type.
    """

    cdef vdestack *_stack

    def __cinit__(self):
        self._stack = NULL

    def __init__(self, vnl=None, ifname=None):
        cdef bytes bvnl = None
        cdef bytes bifname = None
        cdef char *cvnl = NULL
        cdef char *cifname = NULL
        cdef vdestack *st = NULL
        cdef int err = 0
        if self._stack != NULL:
            raise RuntimeError("CoreStack.__init__ called twice")
        if vnl is not None:
            bvnl = _cstring(vnl, "vnl")
            cvnl = bvnl
        if ifname is not None:
            if not isinstance(ifname, (str, bytes)):
                raise TypeError(f"ifname must be str or bytes, not {type(ifname).__name__}")
            bifname = _cstring(ifname, "ifname")
            cifname = bifname
        with nogil:
            st = vde_addstack(cvnl, cifname)
            err = errno
        if st != NULL:
            self._stack = st
            return
        if err == EINVAL and cifname != NULL and not vds_ifname_valid(cifname):
            raise ValueError(f"invalid interface name {ifname!r}: the kernel takes "
                             f"1 to 15 bytes, not '.' or '..', without '/', ':' "
                             f"or white space")
        if bvnl:
            _raise_errno(err, f"cannot open VNL {os.fsdecode(bvnl)!r}")
        _raise_errno(err, "cannot create a stack")

    def __dealloc__(self):
        cdef vdestack *st = self._stack
        self._stack = NULL
        if st != NULL:
            with nogil:
                vde_delstack(st)

    cdef vdestack *_open(self) except NULL:
        if self._stack == NULL:
            raise ValueError("I/O operation on closed stack")
        return self._stack

    @property
    def closed(self):
        """True once close() was called."""
        return self._stack == NULL

    def close(self):
        """Delete the stack (vde_delstack); idempotent.

        A call running in another thread keeps the C state alive until it
        returns; new calls raise ValueError at once.  In a forked child the
        core releases only the child's copy: the parent's stack keeps working.
        """
        cdef vdestack *st = self._stack
        self._stack = NULL
        if st != NULL:
            with nogil:
                vde_delstack(st)

    def cmd(self, command):
        """Run ';'-separated commands (full paths) in the stack.

        Returns the exit status of the first command that failed, 0 if all
        succeeded (127: cannot execute, 128+N: killed by signal N).  Raises
        OSError on failure (EINVAL for a relative path or an empty line) and
        whatever a signal handler raised while the command ran (the command
        is then killed).
        """
        cdef bytes b = _cstring(command, "command")
        cdef const char *c = b
        cdef _Interrupt intr = _Interrupt()
        cdef vdestack *st = self._open()
        cdef int rc = -1
        cdef int err = 0
        with nogil:
            rc = vds_stackcmd_intr(st, c, _interrupted, <void *>intr)
            err = errno
        return _command_done(rc, err, intr, b)

    def cmdv(self, argv):
        """Run one command given as an argument vector (argv[0] a full path).

        No parsing of quotes or ';'.  Same return value and errors as cmd();
        TypeError unless argv is a list or tuple of str/bytes, ValueError if
        it is empty.
        """
        if not isinstance(argv, (list, tuple)):
            raise TypeError(f"argv must be a list or tuple of str, not {type(argv).__name__}")
        if len(argv) == 0:
            raise ValueError("argv must not be empty")
        cdef list args = [_cstring(a, "argv item") if isinstance(a, (str, bytes))
                          else _bad_arg(a) for a in argv]
        cdef Py_ssize_t n = len(args)
        cdef Py_ssize_t i
        cdef vdestack *st = self._open()
        cdef char **cargv = <char **>malloc((n + 1) * sizeof(char *))
        cdef _Interrupt intr = _Interrupt()
        cdef int rc = -1
        cdef int err = 0
        if cargv == NULL:
            raise MemoryError()
        for i in range(n):
            cargv[i] = <bytes>args[i]
        cargv[n] = NULL
        with nogil:
            rc = vds_cmdv_intr(st, cargv, _interrupted, <void *>intr)
            err = errno
        free(cargv)
        return _command_done(rc, err, intr, args)

    def msocket(self, int family, int type, int proto=0):
        """socket(2) in the stack (vde_msocket): a new file descriptor.

        The caller owns the fd.  Raises OSError with the errno of the call.
        """
        cdef vdestack *st = self._open()
        cdef int fd
        cdef int err = 0
        with nogil:
            fd = vde_msocket(st, family, type, proto)
            err = errno
        if fd < 0:
            _raise_errno(err, f"cannot create a socket in the stack "
                              f"(family {family}, type {type}, proto {proto})")
        return fd

    def stats(self):
        """Frame counters of the stack's interface (vdestack_stats), a dict."""
        cdef vdestack_stats_t s
        cdef vdestack *st = self._open()
        cdef int rc
        cdef int err = 0
        with nogil:
            rc = vdestack_stats(st, &s)
            err = errno
        if rc < 0:
            _raise_errno(err, "cannot read the stack's counters")
        return {
            "tx_frames": s.tx_frames, "tx_bytes": s.tx_bytes,
            "rx_frames": s.rx_frames, "rx_bytes": s.rx_bytes,
            "tx_dropped": s.tx_dropped, "rx_dropped": s.rx_dropped,
            "rx_runt": s.rx_runt, "rx_oversize": s.rx_oversize,
            "hung_up": s.hung_up,
        }


cdef object _bad_arg(object a):
    """Raise the TypeError for an argv item that is not str or bytes."""
    raise TypeError(f"argv items must be str or bytes, not {type(a).__name__}")


def split_cmdline(line):
    """The commands of a vde_stackcmd() line as lists of words (bytes), by
    the C core's own parser; None if it rejects the line (an open quote, or
    nothing to run)."""
    cdef bytes b = _cstring(line, "command")
    cdef char **cmds = NULL
    cdef char **c
    cdef int n
    n = vds_parse_cmdline(b, &cmds, 0)
    if n == -ENOMEM:
        raise MemoryError()
    if n < 0:
        return None
    out = []
    try:
        c = cmds
        while c[0] != NULL:
            words = []
            while c[0] != NULL:
                words.append(<bytes>c[0])
                c += 1
            out.append(words)
            c += 1
    finally:
        free(cmds)
    return out
