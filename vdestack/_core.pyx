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
from libc.string cimport memset

import os
from _socket import AF_INET as _AF_INET_PY
from _socket import gaierror as _gaierror

cdef int _AF_INET = _AF_INET_PY

CONFIG_MAX = VDS_CONF_MAX          # longest configuration string, bytes
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


# vdestack_links, vdestack_addrs, vdestack_routes: a malloc()ed array and its length
ctypedef int (*_lister)(vdestack *stack, void **out) noexcept nogil


cdef int _listed(vdestack *st, _lister call, void **out, str what) except -1:
    """Run one of the listing calls without the GIL: the number of entries
    it put in *out (the caller frees it), or OSError."""
    cdef int n, err
    with nogil:
        n = call(st, out)
        err = errno
    if n < 0:
        _raise_errno(err, f"cannot list the stack's {what}")
    return n


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


cdef char **_cvector(object items) except? NULL:
    """A malloc()ed NULL-terminated vector over a list of bytes, or NULL
    for None.  The bytes objects must outlive it (the caller holds them)."""
    cdef Py_ssize_t n, i
    cdef char **v
    if items is None:
        return NULL
    if not isinstance(items, list) or not all(isinstance(x, bytes) for x in items):
        raise TypeError("env must be a list of bytes")
    n = len(items)
    v = <char **>malloc((n + 1) * sizeof(char *))
    if v == NULL:
        raise MemoryError()
    for i in range(n):
        v[i] = <bytes>items[i]
    v[n] = NULL
    return v


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

    def cmd(self, command, env=None):
        """Run ';'-separated commands (full paths) in the stack.

        env: None (the process's environment now) or a list of b"NAME=value".
        Returns the exit status of the first command that failed, 0 if all
        succeeded (127: cannot execute, 128+N: killed by signal N).  Raises
        OSError on failure (EINVAL for a relative path or an empty line,
        E2BIG for an environment past the limit) and whatever a signal
        handler raised while the command ran (the command is then killed).
        """
        cdef bytes b = _cstring(command, "command")
        cdef const char *c = b
        cdef _Interrupt intr = _Interrupt()
        cdef vdestack *st = self._open()
        cdef int rc = -1
        cdef int err = 0
        cdef char **cenv = _cvector(env)
        with nogil:
            rc = vds_stackcmde_intr(st, c, cenv, _interrupted, <void *>intr)
            err = errno
        free(cenv)
        return _command_done(rc, err, intr, b)

    def cmdv(self, argv, env=None):
        """Run one command given as an argument vector (argv[0] a full path).

        No parsing of quotes or ';'.  env as for cmd().  Same return value
        and errors as cmd();
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
        cdef char **cenv = NULL
        if cargv == NULL:
            raise MemoryError()
        for i in range(n):
            cargv[i] = <bytes>args[i]
        cargv[n] = NULL
        try:
            cenv = _cvector(env)
        except BaseException:
            free(cargv)
            raise
        with nogil:
            rc = vds_cmdve_intr(st, cargv, cenv, _interrupted, <void *>intr)
            err = errno
        free(cargv)
        free(cenv)
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

    def nsfds(self):
        """New close-on-exec fds of the stack's (user, network, PID)
        namespaces (the PID namespace is made on first use).  The caller
        owns them."""
        cdef int fds[3]
        cdef vdestack *st = self._open()
        cdef int rc
        with nogil:
            rc = vds_nsexec_fds(st, fds)
        if rc < 0:
            _raise_errno(-rc, "cannot open the stack's namespaces")
        return (fds[0], fds[1], fds[2])

    def resolv_private(self):
        """The resolv.conf text the stack's commands see (bytes), or None
        when the stack has no DNS configuration (the host's file then)."""
        cdef vdestack *st = self._open()
        cdef char *text = NULL
        cdef int rc
        with nogil:
            rc = vds_resolv_private(st, &text)
        if rc < 0:
            _raise_errno(-rc, "cannot make the stack's resolv.conf text")
        if text == NULL:
            return None
        try:
            return <bytes>text
        finally:
            free(text)

    def netns(self):
        """A new close-on-exec fd of the stack's network namespace."""
        cdef vdestack *st = self._open()
        cdef int fd
        cdef int err = 0
        with nogil:
            fd = vdestack_netns(st)
            err = errno
        if fd < 0:
            _raise_errno(err, "cannot open the stack's network namespace")
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
            "hung_up": s.hung_up, "peer_lost": s.peer_lost,
            "rx_empty": s.rx_empty,
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
        st = self._open()
        with nogil:
            rc = vdestack_getaddrinfo(st, chost, cport, &hints, &res)
            err = errno
        if rc == EAI_SYSTEM:
            _raise_errno(err, "getaddrinfo in the stack")
        if rc != 0:
            raise _gaierror(rc, gai_strerror(rc).decode("utf-8", "replace"))
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
        cdef vdestack *st = self._open()
        cdef char *text = NULL
        cdef int err = 0
        with nogil:
            text = vdestack_resolvconf(st)
            err = errno
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
        cdef vdestack *st = self._open()
        cdef int rc
        with nogil:
            rc = vds_dhcp4_lease(st, c, &l)
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

    def config(self, config):
        """Apply a configuration string (vdestack_config).

        Returns None once applied.  For a string whose token fails the
        checks, nothing is applied and the offset (in the UTF-8 bytes) of
        that token is returned.  Raises OSError for any other failure (the
        kernel's errno, EINVAL for a string over CONFIG_MAX bytes or a
        value the kernel refused, ETIMEDOUT of a DHCP wait, ...).
        """
        cdef bytes b = _config_bytes(config)
        cdef const char *c = b
        cdef size_t bad = VDS_CONF_NOWHERE
        cdef int rc = 0
        cdef vdestack *st = self._open()
        with nogil:
            rc = vds_config_apply(st, c, &bad)
        if rc == -EINVAL and bad != VDS_CONF_NOWHERE:
            return <Py_ssize_t>bad
        if rc < 0:
            _raise_errno(-rc, "cannot apply the configuration")
        return None

    def addif(self, vnl, ifname=None):
        """vdestack_addif: one more interface on the VDE network vnl,
        named ifname (None: the first free vdeN).  Returns its name.
        ValueError for a name the kernel refuses (or with '%')."""
        cdef bytes bvnl = _cstring(vnl, "vnl")
        cdef bytes bname = None
        cdef const char *cvnl = bvnl
        cdef const char *cname = NULL
        cdef char made[16]
        cdef int rc = 0
        cdef vdestack *st = self._open()
        if ifname is not None:
            if not isinstance(ifname, (str, bytes)):
                raise TypeError(f"ifname must be str or bytes, not {type(ifname).__name__}")
            bname = _cstring(ifname, "ifname")
            cname = bname
        made[0] = 0
        with nogil:
            rc = vds_addif(st, cvnl, cname, made)
        if rc == 0:
            return made.decode("utf-8", "surrogateescape")
        if rc == -EINVAL and cname != NULL and (not vds_ifname_valid(cname) or b"%" in bname):
            raise ValueError(f"invalid interface name {ifname!r}: the kernel takes "
                             f"1 to 15 bytes, not '.' or '..', without '/', ':', '%' "
                             f"or white space")
        _raise_errno(-rc, f"cannot add an interface on VNL {os.fsdecode(bvnl)!r}")

    def links(self):
        """The interfaces (vdestack_links): a list of tuples
        (index, name, mac bytes, mtu, IFF_* flags)."""
        cdef vdestack_link *l = NULL
        cdef int i
        cdef int n = _listed(self._open(), <_lister>vdestack_links, <void **>&l,
                             "interfaces")
        try:
            return [(l[i].index, l[i].name.decode("utf-8", "surrogateescape"),
                     bytes(l[i].mac[:l[i].mac_len]), l[i].mtu, l[i].flags)
                    for i in range(n)]
        finally:
            free(l)

    def addrs(self):
        """The addresses (vdestack_addrs): a list of tuples
        (ifindex, ifname, family, address bytes, prefixlen, IFA_F_* flags, scope)."""
        cdef vdestack_addr *a = NULL
        cdef int i
        cdef int n = _listed(self._open(), <_lister>vdestack_addrs, <void **>&a,
                             "addresses")
        try:
            return [(a[i].ifindex, a[i].ifname.decode("utf-8", "surrogateescape"),
                     a[i].family, bytes(a[i].addr[:_alen(a[i].family)]),
                     a[i].prefixlen, a[i].flags, a[i].scope)
                    for i in range(n)]
        finally:
            free(a)

    def routes(self):
        """The unicast routes of the main table (vdestack_routes): a list of
        tuples (family, destination bytes, dst_len, gateway bytes or None,
        ifindex, ifname, metric, protocol)."""
        cdef vdestack_route *r = NULL
        cdef int i
        cdef int n = _listed(self._open(), <_lister>vdestack_routes, <void **>&r,
                             "routes")
        try:
            return [(r[i].family, bytes(r[i].dst[:_alen(r[i].family)]), r[i].dst_len,
                     bytes(r[i].gateway[:_alen(r[i].family)]) if r[i].has_gateway else None,
                     r[i].ifindex, r[i].ifname.decode("utf-8", "surrogateescape"),
                     r[i].metric, r[i].protocol)
                    for i in range(n)]
        finally:
            free(r)


cdef int _alen(int family) noexcept:
    return 4 if family == _AF_INET else 16


cdef bytes _config_bytes(object config):
    """A configuration string as UTF-8 bytes without NUL."""
    if isinstance(config, str):
        b = config.encode("utf-8", "surrogateescape")
    elif isinstance(config, bytes):
        b = config
    else:
        raise TypeError(f"config must be str or bytes, not {type(config).__name__}")
    if b"\0" in b:
        raise ValueError(f"config contains a NUL character: {config!r}")
    return b


def config_check(config):
    """Check a configuration string without a stack (interfaces are not
    looked up).  None if it is valid, else the offset (in its UTF-8 bytes)
    of the bad token, -1 when no single token is at fault."""
    cdef bytes b = _config_bytes(config)
    cdef size_t bad = VDS_CONF_NOWHERE
    cdef int rc = vds_config_check(b, &bad)
    if rc == -EINVAL:
        return -1 if bad == VDS_CONF_NOWHERE else <Py_ssize_t>bad
    if rc < 0:
        _raise_errno(-rc, "cannot check the configuration")
    return None


def nsexec_enter(int userns, int netns, int pidns, bytes resolv=None):
    """In a freshly forked child (a subprocess.Popen preexec_fn): join the
    namespaces (fds from CoreStack.nsfds()), show ``resolv`` (from
    CoreStack.resolv_private(), None: the host's file) as /etc/resolv.conf,
    keep the four network capabilities and fork.  Returns in the new
    process, which is to exec the program in the stack; this process becomes
    its forwarder and never returns.  Raises OSError if nothing could be
    started."""
    cdef int fds[3]
    cdef int rc
    cdef const char *text = NULL
    fds[0] = userns
    fds[1] = netns
    fds[2] = pidns
    if resolv is not None:
        text = resolv
    rc = vds_nsexec_enter(fds, text)
    if rc < 0:
        _raise_errno(-rc, "cannot enter the stack")


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
