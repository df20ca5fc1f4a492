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
