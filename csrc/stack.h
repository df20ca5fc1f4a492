/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stack.h - the state behind one vdestack handle (stack.c), shared by the
 * parts that work on a stack: its frames (pump.c, stream.c),
 * its commands (cmd.c) and its sockets (msocket.c).
 *
 * Locks: vds_glock (ctx.h) protects @refs and the handles.  The other
 * fields are set before the stack is given to its pump thread and to the
 * caller, and stay as they are until the last reference goes; @stats is
 * written by the pump thread only.
 */
#ifndef VDS_STACK_H
#define VDS_STACK_H

#include <stddef.h>
#include <sys/types.h>
#include <net/if.h>
#include <libvdeplug.h>

#include "vdestack.h"
#include "util.h"

struct vds_ctx;
struct vds_pump_stack;

/* VDS_KIND_LOCAL: a local:// veth (local.c), no tap, no pump */
enum vds_kind { VDS_KIND_NONE, VDS_KIND_VDE, VDS_KIND_STREAM, VDS_KIND_LOCAL };

/**
 * struct vds_stack - the state behind one handle
 * @refs:	handle reference + one per call in progress
 * @touched:	a call used it (vds_stack_get()): its namespace may hold
 *		state of the program's; one never touched is pristine (under
 *		vds_glock)
 * @ctx:	the helper that owns its namespace
 * @id:		the helper's number for this stack, or -1
 * @netns:	namespace fd for the setns() fast path, or -1
 * @tap:	the interface's tap fd (non-blocking), or -1
 * @kind:	what the interface is connected to
 * @conn:	VDE connection (VDS_KIND_VDE)
 * @datafd, @ctlfd:	its fds
 * @data_drain:	datafd is a non-blocking socket: drain it
 * @data_dgram:	... a datagram socket: 0 bytes is no EOF
 * @sfd, @spid, @vs:	stream mode (stream.c): socket to the command, its
 *		pid, framing
 * @sq:		stream mode: bytes the command did not take yet (stream.c)
 * @pump:	the pump's state for this stack (pump.c), or NULL
 * @stats:	frame counters
 * @ifname:	interface name
 * @more:	interfaces added by vdestack_addif(), newest first (under
 *		vds_glock).  Each is a struct vds_stack of its own for its tap,
 *		VDE connection, pump state and counters, with no handle, helper
 *		id (-1) or context reference: it lives and dies with this stack.
 */
struct vds_stack {
	int refs;
	int touched;
	struct vds_ctx *ctx;
	int id;
	int netns;
	int tap;
	enum vds_kind kind;
	VDECONN *conn;
	int datafd, ctlfd;
	int data_drain;
	int data_dgram;
	int sfd;
	pid_t spid;
	VDESTREAM *vs;
	struct vds_streamq *sq;
	struct vds_pump_stack *pump;
	struct vdestack_stats stats;
	char ifname[IFNAMSIZ];
	struct vds_stack *more;
};

/* the default stack of plain socket() calls (interpose.c), or NULL */
extern struct vdestack *vds_default;

struct vds_stack *vds_stack_get(struct vdestack *h, int *err);
struct vds_stack *vds_stack_peek(struct vdestack *h, int *err);
void vds_stack_put(struct vds_stack *st);
int vds_addif(struct vdestack *stack, const char *vnl, const char *ifname,
	      char made[IFNAMSIZ]);
int vds_stack_first_ifname(struct vdestack *stack, char name[IFNAMSIZ]);

/* a received frame: is it Ethernet-sized? (else dropped and counted) */
static inline int vds_frame_ok(struct vds_stack *st, size_t n)
{
	if (n < VDS_ETH_HLEN) {
		st->stats.rx_runt++;
		return 0;
	}
	if (n > VDS_FRAME_MAX) {
		st->stats.rx_oversize++;
		return 0;
	}
	return 1;
}

#endif /* VDS_STACK_H */
