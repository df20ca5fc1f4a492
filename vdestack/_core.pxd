# cython: language_level=3
"""C declarations of the core: csrc/vdestack.h and csrc/vds_python.h.

vde_default_stack() is deliberately not declared: it lives in
csrc/interpose.c, which is built only into libvdestack.so.  The Python
default stack is implemented at Python level (vdestack/_default.py).
"""

from libc.stdint cimport uint32_t, uint64_t


cdef extern from "vdestack.h" nogil:
    cdef struct vdestack

    vdestack *vde_addstack(char *vdenet, char *ifname)
    void vde_delstack(vdestack *stack)
    int vde_stackcmd(vdestack *stack, char *stackcmd)
    int vde_msocket(vdestack *stack, int domain, int type, int protocol)

    enum:
        VDESTACK_EXTENSIONS
        VDESTACK_STATUS_NOEXEC
        VDESTACK_STATUS_SIGNAL

    # struct and function share the C name: the struct is renamed here
    cdef struct vdestack_stats_t "vdestack_stats":
        uint64_t tx_frames
        uint64_t tx_bytes
        uint64_t rx_frames
        uint64_t rx_bytes
        uint64_t tx_dropped
        uint64_t rx_dropped
        uint64_t rx_runt
        uint64_t rx_oversize
        uint32_t hung_up
        uint32_t peer_lost
        uint64_t rx_empty
        uint32_t reserved[4]

    int vdestack_stats(vdestack *stack, vdestack_stats_t *stats)

    cdef struct vdestack_link:
        int index
        char name[16]
        unsigned int mtu
        unsigned int flags
        unsigned int mac_len
        unsigned char mac[32]

    cdef struct vdestack_addr:
        int ifindex
        char ifname[16]
        int family
        unsigned int prefixlen
        unsigned char addr[16]
        unsigned int flags
        unsigned int scope

    cdef struct vdestack_route:
        int family
        unsigned int dst_len
        unsigned char dst[16]
        int has_gateway
        unsigned char gateway[16]
        int ifindex
        char ifname[16]
        unsigned int metric
        unsigned int protocol

    int vdestack_links(vdestack *stack, vdestack_link **links)
    int vdestack_addrs(vdestack *stack, vdestack_addr **addrs)
    int vdestack_routes(vdestack *stack, vdestack_route **routes)
    int vdestack_cmdv(vdestack *stack, char **argv)
    const char *vdestack_version()
    int vdestack_netns(vdestack *stack)


cdef extern from "vds_python.h" nogil:
    int vds_stackcmd_intr(vdestack *stack, const char *cmdline,
                          int (*interrupted)(void *) noexcept nogil, void *arg)
    int vds_cmdv_intr(vdestack *stack, char **argv,
                      int (*interrupted)(void *) noexcept nogil, void *arg)
    int vds_stackcmde_intr(vdestack *stack, const char *cmdline, char **envp,
                           int (*interrupted)(void *) noexcept nogil, void *arg)
    int vds_cmdve_intr(vdestack *stack, char **argv, char **envp,
                       int (*interrupted)(void *) noexcept nogil, void *arg)
    int vds_ifname_valid(const char *name)
    int vds_parse_cmdline(const char *line, char ***cmdsp, int absolute)


cdef extern from "<netdb.h>" nogil:
    cdef struct addrinfo:
        int ai_flags
        int ai_family
        int ai_socktype
        int ai_protocol
        unsigned int ai_addrlen
        void *ai_addr
        char *ai_canonname
        addrinfo *ai_next
    const char *gai_strerror(int errcode)
    enum:
        EAI_SYSTEM


cdef extern from "vdestack.h" nogil:
    int vdestack_getaddrinfo(vdestack *stack, const char *node, const char *service,
                             const addrinfo *hints, addrinfo **res)
    void vdestack_freeaddrinfo(addrinfo *res)
    char *vdestack_resolvconf(vdestack *stack)


cdef extern from "dhcp.h" nogil:
    cdef struct in_addr_t "in_addr":
        uint32_t s_addr
    cdef struct vds_lease4:
        in_addr_t addr
        in_addr_t mask
        in_addr_t server
        int plen
        in_addr_t routers[8]
        int nrouters
        in_addr_t dns[8]
        int ndns
        char domain[256]
        uint32_t lease
        uint32_t t1
        uint32_t t2
        long obtained
        unsigned int renewals
    int vds_dhcp4_lease(vdestack *stack, const char *ifname, vds_lease4 *out)


cdef extern from "config.h" nogil:
    # internal convention: 0 or -errno; on -EINVAL *bad_offset is where the
    # bad token starts (VDS_CONF_NOWHERE: the string as a whole, or a value
    # the kernel refused)
    size_t VDS_CONF_NOWHERE
    enum:
        VDS_CONF_MAX
    int vds_config_check(const char *config, size_t *bad_offset)
    int vds_config_apply(vdestack *stack, const char *config, size_t *bad_offset)


cdef extern from "stack.h" nogil:
    # internal convention: 0 or -errno; made receives the interface's name
    int vds_addif(vdestack *stack, const char *vnl, const char *ifname, char *made)


cdef extern from "nsexec.h" nogil:
    int vds_nsexec_fds(vdestack *stack, int fds[3])
    int vds_nsexec_enter(const int fds[3], const char *resolv)


cdef extern from "resolv.h" nogil:
    int vds_resolv_private(vdestack *stack, char **out)
