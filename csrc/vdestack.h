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

struct vdestack;

struct vdestack *vde_addstack(char *vdenet, char *ifname);

void vde_delstack(struct vdestack *stack);

void vde_default_stack(struct vdestack *stack);

int vde_stackcmd(struct vdestack *stack, char *stackcmd);

int vde_msocket(struct vdestack *stack, int domain, int type, int protocol);

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
	uint32_t reserved[7];
};

/* Fill *stats for stack.  0, or -1 with errno (EINVAL, EBADF). */
int vdestack_stats(struct vdestack *stack, struct vdestack_stats *stats);

/*
 * Run one command, given as an argument vector (argv[0] a full path), in the
 * stack with the same rules as vde_stackcmd, without any parsing of quotes
 * or ';'.  Returns the exit status (see above), or -1 with errno.
 */
int vdestack_cmdv(struct vdestack *stack, char *const argv[]);

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
