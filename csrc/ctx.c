// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * ctx.c - the library's side of the helper: starting it, talking to it,
 * ending it.
 *
 * A context is one helper process plus the pump threads; it exists while at
 * least one stack does.  Requests travel on channels: SOCK_SEQPACKET
 * socketpairs whose other end the helper holds.  Each thread takes a channel
 * from a pool for one request, so threads never wait for each other's
 * replies, and a forked child, whose pool is emptied at fork, asks for fresh
 * channels over the main socket instead of sharing its parent's.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "vds.h"

#define HELPER_STACK_SIZE (256 * 1024)

pthread_mutex_t vds_glock = PTHREAD_MUTEX_INITIALIZER;

static struct vds_ctx *cur;	/* this process's context, if any */
static struct vds_ctx *all;	/* every context, inherited ones too */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void atfork_prepare(void)
{
	struct vds_ctx *c;

	pthread_mutex_lock(&vds_glock);
	for (c = all; c; c = c->next)
		pthread_mutex_lock(&c->lock);
}

static void atfork_parent(void)
{
	struct vds_ctx *c;

	for (c = all; c; c = c->next)
		pthread_mutex_unlock(&c->lock);
	pthread_mutex_unlock(&vds_glock);
}

/*
 * The child shares every channel with its parent: using one would mix both
 * processes' replies.  Drop them (our copies only) and start new stacks in a
 * context of our own; the inherited one keeps serving inherited stacks.
 */
static void atfork_child(void)
{
	struct vds_ctx *c;
	int i;

	for (c = all; c; c = c->next) {
		for (i = 0; i < c->npool; i++)
			close(c->pool[i]);
		c->npool = 0;
		c->pumps = NULL;
		c->npumps = 0;
		pthread_mutex_unlock(&c->lock);
	}
	cur = NULL;
	pthread_mutex_unlock(&vds_glock);
}

static void atfork_init(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/**
 * vds_ctx_owned() - is this the process that created @ctx?
 * @ctx:	context
 *
 * Return: 1 in the creating process, 0 in a forked child.
 */
int vds_ctx_owned(const struct vds_ctx *ctx)
{
	return ctx->pid == getpid();
}

static int recv_rep(int fd, struct vds_rep *rep)
{
	ssize_t n;

	do
		n = recv(fd, rep, sizeof(*rep), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n != sizeof(*rep))
		return -ECONNRESET;	/* the helper is gone */
	return 0;
}

static int send_req(int fd, const struct vds_req *req, const void *payload,
		    int passfd)
{
	struct iovec iov[2] = {
		{ (void *)req, sizeof(*req) },
		{ (void *)payload, req->len },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = req->len ? 2 : 1 };
	ssize_t n;

	if (passfd >= 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &passfd, sizeof(int));
	}
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EPIPE ? -ECONNRESET : -errno;
	return 0;
}

static int has_sys_admin(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &hdr, d) < 0)
		return 0;
	return !!(d[CAP_SYS_ADMIN / 32].effective & (1U << (CAP_SYS_ADMIN % 32)));
}

static void ctx_free(struct vds_ctx *ctx)
{
	int i;

	if (!ctx)
		return;
	if (ctx->helper > 0 && vds_ctx_owned(ctx)) {
		/* we started it; nothing else may end it or reap it */
		kill(ctx->helper, SIGKILL);
		while (waitpid(ctx->helper, NULL, __WALL) < 0 && errno == EINTR)
			;
	}
	for (i = 0; i < ctx->npool; i++)
		close(ctx->pool[i]);
	free(ctx->pool);
	if (ctx->ctl >= 0)
		close(ctx->ctl);
	if (ctx->hostns >= 0)
		close(ctx->hostns);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

static int ctx_new(struct vds_ctx **out)
{
	struct vds_helper_args args;
	struct vds_ctx *ctx = calloc(1, sizeof(*ctx));
	struct vds_rep rep;
	struct stat sb;
	int sv[2], ret;
	void *stk;

	if (!ctx)
		return -ENOMEM;
	ctx->pid = getpid();
	ctx->helper = -1;
	ctx->ctl = ctx->hostns = -1;
	ctx->spin_ns = vds_spin_us() * 1000;
	pthread_mutex_init(&ctx->lock, NULL);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		ret = -errno;
		goto fail;
	}
	ctx->ctl = sv[0];
	stk = mmap(NULL, HELPER_STACK_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stk == MAP_FAILED) {
		ret = -errno;
		close(sv[1]);
		goto fail;
	}
	args.ctl = sv[1];
	args.host = ctx->pid;
	args.spin_ns = ctx->spin_ns;
	/* no exit signal: a host's own wait() or SIGCHLD handler never sees it */
	ctx->helper = clone(vds_helper_main, (char *)stk + HELPER_STACK_SIZE, 0, &args);
	ret = -errno;
	munmap(stk, HELPER_STACK_SIZE);
	close(sv[1]);
	if (ctx->helper < 0)
		goto fail;
	/* one word back: in its user namespace, or why not */
	ret = recv_rep(ctx->ctl, &rep);
	if (ret == 0 && rep.ret < 0)
		ret = -rep.err;
	if (ret < 0)
		goto fail;
	ctx->hostns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (ctx->hostns < 0 || fstat(ctx->hostns, &sb) < 0) {
		ret = -errno;
		goto fail;
	}
	ctx->hostns_ino = sb.st_ino;
	ctx->hostns_dev = sb.st_dev;
	ctx->fastpath = has_sys_admin() ? -1 : 0;	/* -1: try on first stack */
	ret = vds_pumps_start(ctx);
	if (ret < 0)
		goto fail;
	*out = ctx;
	return 0;
fail:
	ctx_free(ctx);
	return ret;
}

/**
 * vds_ctx_get() - the context for a new stack, started if needed
 * @ctxp:	where to store it; the caller owns one stack reference
 *
 * Return: 0, or -errno (the helper could not start: no user namespaces...)
 */
int vds_ctx_get(struct vds_ctx **ctxp)
{
	int ret = 0;

	pthread_once(&atfork_once, atfork_init);
	pthread_mutex_lock(&vds_glock);
	if (!cur) {
		ret = ctx_new(&cur);
		if (ret == 0) {
			cur->next = all;
			all = cur;
		}
	}
	if (ret == 0) {
		cur->nstacks++;
		*ctxp = cur;
	}
	pthread_mutex_unlock(&vds_glock);
	return ret;
}

/**
 * vds_ctx_put() - drop a stack reference; the last one ends the context
 * @ctx:	context
 *
 * In the creating process that stops the pumps and ends and reaps the
 * helper; in a forked child it only releases the child's copies.
 */
void vds_ctx_put(struct vds_ctx *ctx)
{
	struct vds_ctx **pp;

	pthread_mutex_lock(&vds_glock);
	if (--ctx->nstacks > 0) {
		pthread_mutex_unlock(&vds_glock);
		return;
	}
	if (cur == ctx)
		cur = NULL;
	for (pp = &all; *pp; pp = &(*pp)->next)
		if (*pp == ctx) {
			*pp = ctx->next;
			break;
		}
	pthread_mutex_unlock(&vds_glock);
	if (vds_ctx_owned(ctx)) {
		/* the helper's exit (its namespaces, its memory) overlaps ours */
		if (ctx->helper > 0)
			kill(ctx->helper, SIGKILL);
		vds_pumps_stop(ctx);
	}
	ctx_free(ctx);
}

static int chan_get(struct vds_ctx *ctx)
{
	struct vds_req req = { .op = VDS_OP_NEWCHAN };
	int sv[2], ret, fd = -1;

	pthread_mutex_lock(&ctx->lock);
	if (ctx->npool > 0)
		fd = ctx->pool[--ctx->npool];
	pthread_mutex_unlock(&ctx->lock);
	if (fd >= 0)
		return fd;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	ret = send_req(ctx->ctl, &req, NULL, sv[1]);
	close(sv[1]);
	if (ret < 0) {
		close(sv[0]);
		return ret;
	}
	return sv[0];
}

static void chan_put(struct vds_ctx *ctx, int fd)
{
	pthread_mutex_lock(&ctx->lock);
	if (ctx->npool == ctx->cpool) {
		int n = ctx->cpool ? ctx->cpool * 2 : 8;
		int *p = realloc(ctx->pool, sizeof(int) * n);

		if (!p) {
			pthread_mutex_unlock(&ctx->lock);
			close(fd);
			return;
		}
		ctx->pool = p;
		ctx->cpool = n;
	}
	ctx->pool[ctx->npool++] = fd;
	pthread_mutex_unlock(&ctx->lock);
}

/**
 * vds_ctx_give_fd() - a request that hands the helper an fd, and its reply
 * @ctx:	context
 * @req:	the request (no payload)
 * @fd:		the fd; the helper gets its own copy
 *
 * Return: 0, or -errno (the helper's answer or the exchange's failure)
 */
int vds_ctx_give_fd(struct vds_ctx *ctx, const struct vds_req *req, int fd)
{
	struct vds_rep rep;
	int ch = chan_get(ctx), ret;

	if (ch < 0)
		return ch;
	ret = send_req(ch, req, NULL, fd);
	if (ret == 0)
		ret = recv_rep(ch, &rep);
	if (ret < 0) {
		close(ch);
		return ret;
	}
	chan_put(ctx, ch);
	return rep.ret < 0 ? -rep.err : 0;
}

/**
 * vds_ctx_request() - one request to the helper and its reply
 * @ctx:	context
 * @req:	the request; @req->len bytes of @payload follow it
 * @payload:	request payload or NULL
 * @rep:	the reply
 * @fds:	receives the fds the reply carries (up to @nfds, rest closed)
 * @nfds:	how many fds a successful reply must carry
 * @fdflags:	O_CLOEXEC to receive them close-on-exec
 * @interrupted:	called when a signal interrupts the wait for the reply;
 *		non-zero cancels the request (the helper kills the command)
 * @arg:	its argument
 *
 * Return: 0 with *rep filled (rep->ret may be -1 with rep->err), or -errno
 * when the exchange itself failed (-EINTR when cancelled).
 */
int vds_ctx_request(struct vds_ctx *ctx, const struct vds_req *req,
		    const void *payload, struct vds_rep *rep,
		    int *fds, int nfds, int fdflags,
		    int (*interrupted)(void *), void *arg)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { rep, sizeof(*rep) };
	struct msghdr msg;
	struct cmsghdr *c;
	int fd, ret, got = 0, cancelled = 0, i;
	int64_t until;
	ssize_t n;

	for (i = 0; i < nfds; i++)
		fds[i] = -1;
	fd = chan_get(ctx);
	if (fd < 0)
		return fd;
	ret = send_req(fd, req, payload, -1);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	/*
	 * A socket comes back within microseconds: poll a moment before
	 * sleeping.  Not for commands and stacks (milliseconds), nor where a
	 * signal must interrupt the wait (a polling recvmsg() does not see it).
	 */
	until = ctx->spin_ns && req->op == VDS_OP_SOCKET ? vds_now_ns() + ctx->spin_ns : 0;
	for (;;) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		n = recvmsg(fd, &msg, ((fdflags & O_CLOEXEC) ? MSG_CMSG_CLOEXEC : 0) |
			    (until ? MSG_DONTWAIT : 0));
		if (n < 0 && errno == EAGAIN && until) {
			if (vds_now_ns() >= until)
				until = 0;
			sched_yield();	/* the helper may be waiting for this CPU */
			continue;
		}
		if (n >= 0 || errno != EINTR)
			break;
		if (interrupted && !cancelled && interrupted(arg)) {
			struct vds_req cancel = { .op = VDS_OP_CANCEL, .id = req->id };

			cancelled = 1;
			if (send_req(fd, &cancel, NULL, -1) < 0)
				break;
		}
	}
	if (n < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (i = 0; i < (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)); i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (got < nfds)
				fds[got++] = f;
			else
				close(f);
		}
	}
	if (n != sizeof(*rep) || (rep->ret >= 0 && got != nfds)) {
		for (i = 0; i < got; i++) {
			close(fds[i]);
			fds[i] = -1;
		}
		close(fd);
		return n == 0 ? -ECONNRESET : -EPROTO;
	}
	chan_put(ctx, fd);
	return cancelled ? -EINTR : 0;
}
