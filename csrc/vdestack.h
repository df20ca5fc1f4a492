/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdestack.h - a network namespace as a library.
 *
 * The first five calls are the API of the original libvdestack, unchanged in
 * signature and meaning, so programs written for it build and run against
 * this library.  Everything after them is an extension: new calls carry the
 * vdestack_ prefix and VDESTACK_EXTENSIONS tells a program they exist.
 */
#ifndef VDESTACK_H
#define VDESTACK_H

#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A network stack: opaque; NULL or a deleted one fails with EINVAL/EBADF. */
struct vdestack;

/*
 * A new stack: a network namespace with loopback up and, when vdenet names
 * a network, an interface ifname (NULL: "vde0"; 1..15 bytes, no '/', ':' or
 * white space, not "." or "..") connected to it.  vdenet: NULL or "" for
 * loopback only, a VNL such as "vde:///tmp/sw" or "ptp:///tmp/link", or
 * "=cmd args" to carry the frames over the stdin/stdout of cmd.  The
 * interface starts down and unconfigured: see vde_stackcmd().
 * Returns the stack, or NULL with errno (nothing is left behind then).
 */
struct vdestack *vde_addstack(char *vdenet, char *ifname);

/*
 * Delete a stack: its frames stop, its VDE connection closes, its namespace
 * ends (sockets opened in it stay open but carry no traffic).  NULL or an
 * already deleted stack is ignored.  If it was the default stack, there is
 * no default stack any more.
 */
void vde_delstack(struct vdestack *stack);

/*
 * From now on, the program's plain socket(2) calls open in stack (NULL: in
 * the host's own network again).  Only in the C library (it interposes
 * socket()); threads share one default.
 */
void vde_default_stack(struct vdestack *stack);

/*
 * Run commands inside the stack, e.g. "/bin/ip link set vde0 up;
 * /bin/ip addr add 10.0.0.1/24 dev vde0": ';' separates commands, blanks
 * words, quotes and backslashes work as in a shell, nothing else does
 * (no shell runs).  Each command needs an absolute path and runs with the
 * four network capabilities only; they run in order until one fails.
 * Returns 0 if all exited with 0, else the first non-zero exit status
 * (VDESTACK_STATUS_NOEXEC, VDESTACK_STATUS_SIGNAL + signal below), or -1
 * with errno (EINVAL: bad line, nothing ran; EBADF: deleted stack).
 */
int vde_stackcmd(struct vdestack *stack, char *stackcmd);

/*
 * socket(2) inside the stack: same arguments (SOCK_NONBLOCK, SOCK_CLOEXEC
 * too) and errors, plus EINVAL/EBADF for a NULL/deleted stack.  The socket
 * is an ordinary fd of this process; it outlives the stack (without
 * traffic once the stack is deleted).
 */
int vde_msocket(struct vdestack *stack, int domain, int type, int protocol);

/*
 * The original library exported this without declaring it; here for the
 * programs that call it: vdestack_cmdv() with its arguments swapped.
 */
int vde_stack_onecmd(char **argv, void *stack);

/* ---------------------------------------------------------- extensions --- */

#define VDESTACK_EXTENSIONS 1

/* Exit status conventions of vde_stackcmd (as shells report them). */
#define VDESTACK_STATUS_NOEXEC   127	/* the command could not be executed */
#define VDESTACK_STATUS_SIGNAL   128	/* + signal number: killed by a signal */

/**
 * struct vdestack_stats - frame counters of one stack's interface
 * @tx_frames, @tx_bytes:	frames moved from the interface to the VDE network
 * @rx_frames, @rx_bytes:	frames moved from the VDE network to the interface
 * @tx_dropped:	frames the VDE connection refused (peer gone, no buffer)
 * @rx_dropped:	frames the interface refused (interface down, ...)
 * @rx_runt:	received items shorter than an Ethernet header, dropped
 *		(this includes the 1-byte "drop it" return of vde_recv)
 * @rx_oversize:	received items longer than VDE_ETHBUFSIZE, dropped
 * @hung_up:	1 once the VDE side (switch, stream command) went away;
 *		no frame moves for this stack after that
 * @peer_lost:	1 while frames find no peer on a datagram link (ptp://
 *		whose other end closed or died: ENOTCONN/ECONNREFUSED on
 *		send), 0 again once one is sent; seen only when sending
 * @rx_empty:	zero-length datagrams received (not an end of stream),
 *		dropped
 *
 * The fields after hung_up took the place of reserved ones: the size and
 * layout of the struct are those of version 1.0.
 */
struct vdestack_stats {
	uint64_t tx_frames;
	uint64_t tx_bytes;
	uint64_t rx_frames;
	uint64_t rx_bytes;
	uint64_t tx_dropped;
	uint64_t rx_dropped;
	uint64_t rx_runt;
	uint64_t rx_oversize;
	uint32_t hung_up;
	uint32_t peer_lost;
	uint64_t rx_empty;
	uint32_t reserved[4];
};

/* Fill *stats for stack.  0, or -1 with errno (EINVAL, EBADF). */
int vdestack_stats(struct vdestack *stack, struct vdestack_stats *stats);

/*
 * Run one command, given as an argument vector (argv[0] a full path), in the
 * stack with the same rules as vde_stackcmd, without any parsing of quotes
 * or ';'.  Returns the exit status (see above), or -1 with errno.
 */
int vdestack_cmdv(struct vdestack *stack, char *const argv[]);

/*
 * vdestack_cmdv with an explicit environment for the command (envp NULL:
 * the caller's environment at the time of the call, as vde_stackcmd and
 * vdestack_cmdv use).  At most 128 KiB and 4096 strings of environment, and
 * 64 KiB and 4096 strings of arguments: -1 with errno E2BIG past that.
 */
int vdestack_cmdve(struct vdestack *stack, char *const argv[], char *const envp[]);

/*
 * Start argv[0] (a full path) inside the stack, with the caller's standard
 * fds (and any fd not marked close-on-exec) and the four network
 * capabilities, as a child of the caller: waitpid(), kill() and SIGCHLD work
 * as for any child, and it ends as the program ends (same exit status, same
 * killing signal).  envp NULL: the caller's current environment.  Returns
 * the pid, or -1 with errno (the errno of execve when the program could not
 * be executed; no child is left then).
 */
pid_t vdestack_spawn(struct vdestack *stack, char *const argv[], char *const envp[]);

/*
 * A new close-on-exec file descriptor of the stack's network namespace, for
 * setns(2), nsenter --net=/proc/PID/fd/N, pyroute2.  An unprivileged caller
 * must join the namespace's user namespace first (ioctl NS_GET_USERNS on the
 * fd, setns that).  Returns the fd, or -1 with errno.
 */
int vdestack_netns(struct vdestack *stack);

/* ------------------------------------------------ network configuration --- */
/*
 * Configuration of a stack's interfaces, addresses and routes over rtnetlink,
 * in the calling process (no command runs).  Interfaces are named as in the
 * stack ("vde0", "lo").  Errors: -1 with errno; what the kernel refused
 * comes with the kernel's own error (EEXIST, ENODEV, EADDRNOTAVAIL, ...).
 */

#define VDESTACK_IFNAMSIZ	16	/* names: at most 15 bytes + NUL */

/**
 * struct vdestack_link - one interface of a stack (vdestack_links)
 * @index:	interface index inside the stack
 * @name:	interface name
 * @mtu:	MTU in bytes
 * @flags:	IFF_* flags (IFF_UP, IFF_RUNNING, IFF_LOOPBACK, ...)
 * @mac_len:	bytes of @mac in use (6 for Ethernet)
 * @mac:	link-layer address
 */
struct vdestack_link {
	int index;
	char name[VDESTACK_IFNAMSIZ];
	unsigned int mtu;
	unsigned int flags;
	unsigned int mac_len;
	unsigned char mac[32];
	uint32_t reserved[4];
};

/**
 * struct vdestack_addr - one address of a stack (vdestack_addrs)
 * @ifindex, @ifname:	the interface that has it
 * @family:	AF_INET or AF_INET6
 * @prefixlen:	prefix length
 * @addr:	the address, network byte order (4 or 16 bytes used)
 * @flags:	IFA_F_* flags (IFA_F_PERMANENT, IFA_F_NODAD, IFA_F_TENTATIVE, ...)
 * @scope:	RT_SCOPE_* (RT_SCOPE_UNIVERSE 0, RT_SCOPE_LINK 253, RT_SCOPE_HOST 254)
 */
struct vdestack_addr {
	int ifindex;
	char ifname[VDESTACK_IFNAMSIZ];
	int family;
	unsigned int prefixlen;
	unsigned char addr[16];
	unsigned int flags;
	unsigned int scope;
	uint32_t reserved[4];
};

/**
 * struct vdestack_route - one route of the stack's main table (vdestack_routes)
 * @family:	AF_INET or AF_INET6
 * @dst_len:	prefix length of the destination (0: default route)
 * @dst:	destination prefix, network byte order
 * @has_gateway:	1 if the route goes through @gateway
 * @gateway:	the next hop, network byte order
 * @ifindex, @ifname:	the outgoing interface (0 and "" when none)
 * @metric:	the route's priority (lower wins)
 * @protocol:	who made it: RTPROT_KERNEL (2), RTPROT_BOOT (3, added by a
 *		user), RTPROT_RA (9), RTPROT_DHCP (16), ...
 */
struct vdestack_route {
	int family;
	unsigned int dst_len;
	unsigned char dst[16];
	int has_gateway;
	unsigned char gateway[16];
	int ifindex;
	char ifname[VDESTACK_IFNAMSIZ];
	unsigned int metric;
	unsigned int protocol;
	uint32_t reserved[4];
};

/*
 * Set the state of interface ifname: up 1 brings it up, 0 down, -1 leaves
 * it; mtu 0 leaves the MTU; mac NULL leaves the 6-byte MAC address.  One
 * request: all or nothing.  0, or -1 with errno.
 */
int vdestack_link_set(struct vdestack *stack, const char *ifname, int up,
		      unsigned int mtu, const unsigned char *mac);

/*
 * Add or delete an address (family AF_INET or AF_INET6, addr 4 or 16 bytes
 * in network byte order) on ifname.  IPv6 addresses are added without
 * duplicate address detection (usable at once).  0, or -1 with errno
 * (EEXIST: already there; EADDRNOTAVAIL: no such address to delete).
 */
int vdestack_addr_add(struct vdestack *stack, const char *ifname, int family,
		      const void *addr, unsigned int prefixlen);
int vdestack_addr_del(struct vdestack *stack, const char *ifname, int family,
		      const void *addr, unsigned int prefixlen);

/*
 * Add or delete a route of the main table to dst/dst_len (dst NULL or
 * dst_len 0: the default route) through gateway (NULL: directly on the
 * link) out of ifname (NULL: the interface the kernel finds for gateway).
 * Deleting matches what is given.  0, or -1 with errno (EEXIST, ESRCH:
 * no such route, ENETUNREACH: gateway not reachable).
 */
int vdestack_route_add(struct vdestack *stack, int family, const void *dst,
		       unsigned int dst_len, const void *gateway, const char *ifname);
int vdestack_route_del(struct vdestack *stack, int family, const void *dst,
		       unsigned int dst_len, const void *gateway, const char *ifname);

/*
 * What the stack has: its interfaces, its addresses (IPv4 and IPv6), the
 * unicast routes of its main table.  *list is set to an array the caller
 * frees with free() (NULL when empty).  The count, or -1 with errno.
 */
int vdestack_links(struct vdestack *stack, struct vdestack_link **links);
int vdestack_addrs(struct vdestack *stack, struct vdestack_addr **addrs);
int vdestack_routes(struct vdestack *stack, struct vdestack_route **routes);

/*
 * Configure the stack from a string of comma-separated tokens, e.g.
 * "ip=10.0.0.1/24,gw=10.0.0.254,ip=fd00::1/64,mtu=9000" (the tokens: see
 * vdestack_config(3)).  The whole string is checked first: a bad one
 * changes nothing and fails with EINVAL.  0, or -1 with errno.
 */
int vdestack_config(struct vdestack *stack, const char *config);

/*
 * Add an interface on another VDE network (vnl, as for vde_addstack) to the
 * stack, named ifname (NULL: the first free "vdeN").  It has its own tap,
 * VDE connection and pump, and goes with the stack.  0, or -1 with errno.
 */
int vdestack_addif(struct vdestack *stack, const char *vnl, const char *ifname);

/* The library version, e.g. "1.0.0". */
const char *vdestack_version(void);

/* ------------------------------------------- name resolution in a stack --- */

struct addrinfo;

/*
 * getaddrinfo(3) in the stack: names are resolved with the stack's DNS
 * servers (its configuration's dns=/domain=, or its DHCP leases) over
 * sockets made in the stack; numeric hosts and "localhost" need no server;
 * the host's resolver, /etc/hosts and /etc/resolv.conf are never used.
 * Returns 0 or an EAI_* code (EAI_AGAIN: the stack has no DNS server).
 * Free the list with vdestack_freeaddrinfo() (or freeaddrinfo(3)).
 */
int vdestack_getaddrinfo(struct vdestack *stack, const char *node,
			 const char *service, const struct addrinfo *hints,
			 struct addrinfo **res);
void vdestack_freeaddrinfo(struct addrinfo *res);

/*
 * The stack's resolver configuration as resolv.conf text ("search DOMAIN",
 * "nameserver ADDR" lines): a malloc'd string to free(3), or NULL with errno.
 */
char *vdestack_resolvconf(struct vdestack *stack);

#ifdef __cplusplus
}
#endif

#endif /* VDESTACK_H */
