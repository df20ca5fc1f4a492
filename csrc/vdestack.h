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

/*
 * vdestack_cmdv with an explicit environment for the command (envp NULL:
 * the caller's environment at the time of the call, as vde_stackcmd and
 * vdestack_cmdv use).  At most 128 KiB and 4096 strings of environment, and
 * 64 KiB and 4096 strings of arguments: -1 with errno E2BIG past that.
 */
int vdestack_cmdve(struct vdestack *stack, char *const argv[], char *const envp[]);

/* The library version, e.g. "1.0.0". */
const char *vdestack_version(void);

#ifdef __cplusplus
}
#endif

#endif /* VDESTACK_H */
