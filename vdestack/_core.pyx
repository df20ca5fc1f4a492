# cython: language_level=3
"""The minimal Cython backend of vdestack.

One class, :class:`CoreStack`, owns one ``struct vdestack *`` of the C core
(compiled into this extension from csrc/).  It converts arguments, releases
the GIL around every call that can block, turns failures into ``OSError``
with the errno of the failing call, and keeps a stack alive while a call in
another thread still uses it.  Everything else (the ``Stack`` class, the
socket subclass, the default stack) is plain Python in the package.
"""

from cpython.exc cimport PyErr_CheckSignals
from libc.errno cimport EINTR, errno
from libc.stdlib cimport free, malloc
from libc.string cimport memset

import os
import _socket
from operator import index as _index

_csocket_init = _socket.socket.__init__
cdef int _SOCK_CLOEXEC = _socket.SOCK_CLOEXEC

# Keys of the dict returned by CoreStack.stats(), in struct order.
STATS_FIELDS = ("tx_frames", "tx_bytes", "rx_frames", "rx_bytes",
                "tx_dropped", "rx_dropped", "rx_runt", "rx_oversize",
                "hung_up")

IFNAMSIZ = 16                      # interface names: at most 15 bytes
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


cdef int _retry_or_raise(int err, str what) except -1:
    """After a failed call: on EINTR run the signal handlers (PEP 475) and
    return 0 so that the caller retries; raise OSError otherwise."""
    if err == EINTR:
        PyErr_CheckSignals()      # raises what a handler raised
        return 0
    return _raise_errno(err, what)


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


cdef class CoreStack:
    """One stack of the C core: ``vde_addstack(vnl, ifname)``.

    vnl None or empty: loopback only.  ifname None: ``vde0``.  Raises
    OSError (errno of vde_addstack) when the stack cannot be made,
    TypeError/ValueError for arguments of the wrong type or value.
    """

    cdef vdestack *_stack
    cdef int _busy                 # calls running without the GIL
    cdef bint _closing             # close() was called
    cdef readonly int owner_pid    # process that created the stack

    def __cinit__(self):
        self._stack = NULL
        self._busy = 0
        self._closing = False
        self.owner_pid = 0

    def __init__(self, vnl=None, ifname=None):
        cdef bytes bvnl = None
        cdef bytes bifname = None
        cdef char *cvnl = NULL
        cdef char *cifname = NULL
        cdef vdestack *st = NULL
        cdef int err = 0
        if self._stack != NULL or self._closing:
            raise RuntimeError("CoreStack.__init__ called twice")
        if vnl is not None:
            bvnl = _cstring(vnl, "vnl")
            cvnl = bvnl
        if ifname is not None:
            if not isinstance(ifname, (str, bytes)):
                raise TypeError(f"ifname must be str or bytes, not {type(ifname).__name__}")
            bifname = _cstring(ifname, "ifname")
            if len(bifname) == 0 or len(bifname) >= IFNAMSIZ:
                raise ValueError(f"invalid interface name {ifname!r}: "
                                 f"it must have 1 to {IFNAMSIZ - 1} bytes")
            if bifname in (b".", b"..") or any(c in bifname for c in b"/: \t\n\r\v\f"):
                raise ValueError(f"invalid interface name {ifname!r}")
            cifname = bifname
        if bvnl:
            what = f"cannot open VNL {os.fsdecode(bvnl)!r}"
        else:
            what = "cannot create a stack"
        while st == NULL:
            with nogil:
                st = vde_addstack(cvnl, cifname)
                err = errno
            if st == NULL:
                _retry_or_raise(err, what)
        self._stack = st
        self.owner_pid = os.getpid()

    def __dealloc__(self):
        # Nothing can be running: every call holds a reference to self.
        cdef vdestack *st = self._stack
        self._stack = NULL
        if st != NULL:
            with nogil:
                vde_delstack(st)

    cdef vdestack *_enter(self) except NULL:
        """Start a call: the stack must be open; it stays alive until _leave."""
        if self._stack == NULL or self._closing:
            raise ValueError("I/O operation on closed stack")
        self._busy += 1
        return self._stack

    cdef void _leave(self) noexcept:
        """End a call; the last one frees a stack closed in the meantime."""
        self._busy -= 1
        if self._closing and self._busy == 0:
            self._free()

    cdef void _free(self) noexcept:
        cdef vdestack *st = self._stack
        self._stack = NULL
        if st != NULL:
            # In a forked child the core releases only the child's copy:
            # the parent's stack keeps working.
            with nogil:
                vde_delstack(st)

    @property
    def closed(self):
        """True once close() was called."""
        return self._closing or self._stack == NULL

    def close(self):
        """Delete the stack (vde_delstack); idempotent.

        If another thread is still inside a call on this stack, the stack is
        deleted when that call returns; new calls raise ValueError at once.
        """
        if self._closing or self._stack == NULL:
            return
        self._closing = True
        if self._busy == 0:
            self._free()

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
        cdef vdestack *st
        cdef int rc = -1
        cdef int err = 0
        st = self._enter()
        try:
            with nogil:
                rc = vds_stackcmd_intr(st, c, _interrupted, <void *>intr)
                err = errno
        finally:
            self._leave()
        if intr.exc is not None:
            exc, intr.exc = intr.exc, None
            raise exc
        if rc < 0:
            _raise_errno(err, f"cannot run command {os.fsdecode(b)!r}")
        return rc

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
        cdef char **cargv = <char **>malloc((n + 1) * sizeof(char *))
        cdef _Interrupt intr = _Interrupt()
        cdef vdestack *st
        cdef int rc = -1
        cdef int err = 0
        if cargv == NULL:
            raise MemoryError()
        try:
            for i in range(n):
                cargv[i] = <bytes>args[i]
            cargv[n] = NULL
            st = self._enter()
            try:
                with nogil:
                    rc = vds_cmdv_intr(st, cargv, _interrupted, <void *>intr)
                    err = errno
            finally:
                self._leave()
        finally:
            free(cargv)
        if intr.exc is not None:
            exc, intr.exc = intr.exc, None
            raise exc
        if rc < 0:
            _raise_errno(err, f"cannot run command {[os.fsdecode(a) for a in args]!r}")
        return rc

    def msocket(self, int family, int type, int proto=0):
        """socket(2) in the stack (vde_msocket): a new file descriptor.

        The caller owns the fd.  Raises OSError with the errno of the call.
        """
        return self._msocket(family, type, proto)

    cdef int _msocket(self, int family, int type, int proto) except -1:
        cdef vdestack *st
        cdef int fd = -1
        cdef int err = 0
        while fd < 0:
            st = self._enter()
            try:
                with nogil:
                    fd = vde_msocket(st, family, type, proto)
                    err = errno
            finally:
                self._leave()
            if fd < 0:
                _retry_or_raise(err, f"cannot create a socket in the stack "
                                     f"(family {family}, type {type}, proto {proto})")
        return fd

    def socket(self, cls, family, type, proto):
        """msocket() (close-on-exec) wrapped in a ``cls`` (a socket.socket
        subclass) as ``cls(family, type, proto, fileno=fd)`` would: the
        C-level ``_socket.socket.__init__`` plus the two attributes
        ``socket.socket.__init__`` adds, without its Python frames.
        Integers only (``operator.index``): 1.5 is a TypeError, not 1."""
        family, type, proto = _index(family), _index(type), _index(proto)
        cdef int fd = self._msocket(family, type | _SOCK_CLOEXEC, proto)
        try:
            sock = cls.__new__(cls)
            _csocket_init(sock, family, type, proto, fd)
            sock._io_refs = 0
            sock._closed = False
        except BaseException:
            os.close(fd)
            raise
        return sock

    def stats(self):
        """Frame counters of the stack's interface (vdestack_stats), a dict."""
        cdef vdestack_stats_t s
        cdef vdestack *st = self._enter()
        cdef int rc
        cdef int err = 0
        try:
            with nogil:
                rc = vdestack_stats(st, &s)
                err = errno
        finally:
            self._leave()
        if rc < 0:
            _raise_errno(err, "cannot read the stack's counters")
        return {
            "tx_frames": s.tx_frames, "tx_bytes": s.tx_bytes,
            "rx_frames": s.rx_frames, "rx_bytes": s.rx_bytes,
            "tx_dropped": s.tx_dropped, "rx_dropped": s.rx_dropped,
            "rx_runt": s.rx_runt, "rx_oversize": s.rx_oversize,
            "hung_up": s.hung_up,
        }

    def getaddrinfo(self, host, port, int family, int type, int proto, int flags):
        """vdestack_getaddrinfo: host and port as bytes or None.

        Returns a list of (family, type, proto, canonname, sockaddr) with
        sockaddr as the C library gives it (bytes of a struct sockaddr);
        raises socket.gaierror(code, message), or OSError for EAI_SYSTEM.
        """
        cdef bytes bhost = host if host is not None else None
        cdef bytes bport = port if port is not None else None
        cdef const char *chost = NULL
        cdef const char *cport = NULL
        cdef addrinfo hints
        cdef addrinfo *res = NULL
        cdef addrinfo *ai
        cdef vdestack *st
        cdef int rc
        cdef int err = 0
        if bhost is not None:
            chost = bhost
        if bport is not None:
            cport = bport
        memset(&hints, 0, sizeof(hints))
        hints.ai_family = family
        hints.ai_socktype = type
        hints.ai_protocol = proto
        hints.ai_flags = flags
        st = self._enter()
        try:
            with nogil:
                rc = vdestack_getaddrinfo(st, chost, cport, &hints, &res)
                err = errno
        finally:
            self._leave()
        if rc == EAI_SYSTEM:
            _raise_errno(err, "getaddrinfo in the stack")
        if rc != 0:
            raise _socket.gaierror(rc, gai_strerror(rc).decode("utf-8", "replace"))
        out = []
        try:
            ai = res
            while ai != NULL:
                out.append((ai.ai_family, ai.ai_socktype, ai.ai_protocol,
                            ai.ai_canonname.decode("utf-8", "replace")
                            if ai.ai_canonname != NULL else "",
                            (<char *>ai.ai_addr)[:ai.ai_addrlen]))
                ai = ai.ai_next
        finally:
            vdestack_freeaddrinfo(res)
        return out

    def resolvconf(self):
        """vdestack_resolvconf: the stack's resolv.conf text (str)."""
        cdef vdestack *st = self._enter()
        cdef char *text = NULL
        cdef int err = 0
        try:
            with nogil:
                text = vdestack_resolvconf(st)
                err = errno
        finally:
            self._leave()
        if text == NULL:
            _raise_errno(err, "cannot make the stack's resolv.conf text")
        try:
            return (<bytes>text).decode("utf-8", "replace")
        finally:
            free(text)

    def lease4(self, ifname):
        """The DHCPv4 lease of interface ifname as a dict, None if none."""
        cdef bytes b = _cstring(ifname, "interface name")
        cdef const char *c = b
        cdef vds_lease4 l
        cdef vdestack *st = self._enter()
        cdef int rc
        try:
            with nogil:
                rc = vds_dhcp4_lease(st, c, &l)
        finally:
            self._leave()
        if rc < 0:
            return None
        return {
            "addr": l.addr.s_addr, "plen": l.plen, "server": l.server.s_addr,
            "routers": [l.routers[i].s_addr for i in range(l.nrouters)],
            "dns": [l.dns[i].s_addr for i in range(l.ndns)],
            "domain": (<bytes>l.domain).decode("ascii", "replace"),
            "lease": l.lease, "t1": l.t1, "t2": l.t2,
            "obtained": l.obtained, "renewals": l.renewals,
        }


cdef object _bad_arg(object a):
    """Raise the TypeError for an argv item that is not str or bytes."""
    raise TypeError(f"argv items must be str or bytes, not {type(a).__name__}")
