// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * msocket.c - vde_msocket(): a socket in a stack.
 *
 * The helper opens it inside the stack's namespace and passes it back
 * (SCM_RIGHTS); as root the calling thread itself enters the namespace,
 * opens the socket and comes back, without a round trip (the fast path,
 * which ctx.c's vds_ctx_fastpath() allows or not per context).
 */
#include <errno.h>
#include <sched.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "ctx.h"
#include "proto.h"
#include "stack.h"
#include "util.h"

/* what this thread's namespace was found to be, for the fast path */
static __thread struct {
	ino_t ino;
	dev_t dev;
	int same;
} tls_ns;

/* as root, in the calling thread: in, socket(), out; no round trip */
static int msocket_fast(struct vds_stack *st, int domain, int type, int protocol)
{
	struct vds_ctx *ctx = st->ctx;
	struct stat sb;
	int fd, e;

	/*
	 * Only a thread that lives in the namespace the context came back to
	 * may come back to it.  Looking costs a path walk, so each thread looks
	 * once; a thread that later moves itself elsewhere must not mix that
	 * with vde_msocket (documented).
	 */
	if (tls_ns.ino != ctx->hostns_ino || tls_ns.dev != ctx->hostns_dev) {
		if (stat("/proc/thread-self/ns/net", &sb) < 0)
			return -EAGAIN;
		tls_ns.ino = ctx->hostns_ino;
		tls_ns.dev = ctx->hostns_dev;
		tls_ns.same = sb.st_ino == ctx->hostns_ino && sb.st_dev == ctx->hostns_dev;
	}
	if (!tls_ns.same)
		return -EAGAIN;
	if (setns(st->netns, CLONE_NEWNET) < 0)
		return -EAGAIN;
	fd = vds_sys_socket(domain, type, protocol);
	e = errno;
	if (setns(ctx->hostns, CLONE_NEWNET) < 0) {
		/* cannot happen: we were there a moment ago */
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	return fd < 0 ? -e : fd;
}

static int msocket(struct vds_stack *st, int domain, int type, int protocol)
{
	int fd = -1, ret;
	struct vds_call call = {
		.req = { .op = VDS_OP_SOCKET, .id = st->id,
			 .a = domain, .b = type, .c = protocol },
		.fds = &fd, .nfds = 1, .cloexec = !!(type & SOCK_CLOEXEC),
	};

	if (st->netns >= 0) {
		ret = msocket_fast(st, domain, type, protocol);
		if (ret != -EAGAIN)
			return ret;
	}
	ret = vds_ctx_call(st->ctx, &call);
	return ret < 0 ? ret : fd;
}

/**
 * vde_msocket() - socket(2) in a stack
 * @stack:	the stack
 * @domain, @type, @protocol:	as for socket(2), SOCK_NONBLOCK/CLOEXEC too
 *
 * Return: the socket, or -1 with errno (EINVAL/EBADF for a NULL/deleted
 * stack, else socket(2)'s own errors)
 */
VDS_EXPORT int vde_msocket(struct vdestack *stack, int domain, int type, int protocol)
{
	int ret;
	struct vds_stack *st = vds_stack_get(stack, &ret);

	if (!st) {
		errno = -ret;
		return -1;
	}
	ret = msocket(st, domain, type, protocol);
	vds_stack_put(st);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}
