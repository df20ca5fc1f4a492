// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * nsfds.c - the namespaces of a stack as file descriptors, for whatever
 * must run inside the stack without being the helper's child.
 *
 * A process (a child forked by the host, typically) that joins them in this
 * order lands in the stack:
 *
 *	setns(fds[VDS_NS_USER], CLONE_NEWUSER);	(single-threaded callers only)
 *	setns(fds[VDS_NS_NET], CLONE_NEWNET);
 *	setns(fds[VDS_NS_PID], CLONE_NEWPID);	(its next children are in it)
 *
 * The user namespace comes first: an unprivileged caller only has the
 * capabilities to enter the other two from inside it.  Joining the PID
 * namespace moves only the children forked afterwards; they die with the
 * stack (vde_delstack() kills the namespace's init).  They are the
 * caller's children: until the caller reaps them, their namespace cannot
 * end, and the last vde_delstack() of the process waits up to a second for
 * the helper, which ends with it.
 */
#include <errno.h>

#include "ctx.h"
#include "nsfds.h"
#include "proto.h"
#include "stack.h"

/**
 * vds_nsfds() - new fds of a stack's user, network and PID namespaces
 * @stack:	the stack
 * @fds:	filled with three new close-on-exec fds, indexed VDS_NS_USER,
 *		VDS_NS_NET, VDS_NS_PID; the caller closes them
 *
 * The PID namespace and its init are created if the stack had none yet.
 *
 * Return: 0, or -errno (-EINVAL NULL stack, -EBADF deleted, -ECONNRESET
 * its helper is gone, -EOPNOTSUPP no PID namespaces on this system)
 */
int vds_nsfds(struct vdestack *stack, int fds[VDS_NS_COUNT])
{
	struct vds_call call = {
		.req = { .op = VDS_OP_NSFDS },
		.fds = fds, .nfds = VDS_NS_COUNT, .cloexec = 1,
	};
	struct vds_stack *st;
	int ret, i;

	for (i = 0; i < VDS_NS_COUNT; i++)
		fds[i] = -1;
	st = vds_stack_get(stack, &ret);
	if (!st)
		return ret;
	call.req.id = st->id;
	ret = vds_ctx_call(st->ctx, &call);
	vds_stack_put(st);
	return ret < 0 ? ret : 0;
}
