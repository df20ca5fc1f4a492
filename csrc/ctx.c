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
 *
 * A helper that died (killed by someone) is not used for new stacks: the
 * next vde_addstack() starts a new context, and the old one ends with its
 * last stack.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

#include "ctx.h"
#include "helper.h"
#include "ipc.h"
#include "proto.h"
#include "pump.h"
#include "spin.h"

#define HELPER_STACK_SIZE (256 * 1024)
/*
 * How long the context outlives its last stack: issue 12 allows half a
 * second; the conformance suite looks for a leftover helper 300 ms after
 * the last vde_delstack, so the default leaves it room for its teardown.
 */
#define LINGER_MS_DEFAULT	150
#define LINGER_MS_MAX		500

/*
 * How long the last vde_delstack() waits for the helper's end.  As the init
 * of the stacks' PID namespaces, it ends when every process in them has been
 * reaped, and a process the host itself forked into a stack is reaped by the
 * host only: unreaped, it would hold us here.  Past this, the helper is
 * reaped later (reap_later()).
 */
#define HELPER_EXIT_MS	1000
#define LATER_MAX	16

pthread_mutex_t vds_glock = PTHREAD_MUTEX_INITIALIZER;

static struct vds_ctx *cur;	/* this process's context, if any */
static struct vds_ctx *all;	/* every context, inherited ones too */
static pid_t later[LATER_MAX];	/* helpers that took too long to end */
static pthread_mutex_t later_lock = PTHREAD_MUTEX_INITIALIZER;

/* reap the helpers left by reap_later() that have ended since */
static void reap_ended(void)
{
	int i;

	pthread_mutex_lock(&later_lock);
	for (i = 0; i < LATER_MAX; i++)
		if (later[i] > 0 && waitpid(later[i], NULL, WNOHANG | __WALL) != 0)
			later[i] = 0;
	pthread_mutex_unlock(&later_lock);
}

/* a helper still ending: reaped by a later reap_ended(), or left a zombie */
static void reap_later(pid_t pid)
{
	int i;

	pthread_mutex_lock(&later_lock);
	for (i = 0; i < LATER_MAX; i++)
		if (later[i] <= 0) {
			later[i] = pid;
			break;
		}
	pthread_mutex_unlock(&later_lock);
}
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static int linger_ms(void);
static void linger_cv_init(pthread_cond_t *cv);
static void linger_child(void);

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
		c->pumps = NULL;	/* the parent's threads; none run here */
		c->linger_thread = 0;	/* the parent's too */
		pthread_mutex_unlock(&c->lock);
	}
	cur = NULL;
	pthread_mutex_unlock(&vds_glock);
	linger_child();
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

/* also a half-built one: every field starts empty (-1, NULL) */
static void ctx_free(struct vds_ctx *ctx)
{
	int i, owned;

	if (!ctx)
		return;
	/* we started the helper; nothing else may end it or reap it */
	owned = ctx->helper > 0 && vds_ctx_owned(ctx);
	/* its exit (its namespaces, its memory) overlaps the pumps' */
	if (owned)
		kill(ctx->helper, SIGKILL);
	vds_pumps_free(ctx->pumps);
	if (owned) {
		struct pollfd pfd = { .fd = ctx->helperfd, .events = POLLIN };

		if (pfd.fd >= 0 && poll(&pfd, 1, HELPER_EXIT_MS) == 0)
			reap_later(ctx->helper);
		else
			while (waitpid(ctx->helper, NULL, __WALL) < 0 && errno == EINTR)
				;
	}
	if (ctx->helperfd >= 0)
		close(ctx->helperfd);
	if (vds_ctx_owned(ctx))
		vds_keeper_end(&ctx->keeper);
	else if (ctx->keeper.sock >= 0)
		close(ctx->keeper.sock);	/* a forked child's copy */
	for (i = 0; i < ctx->npool; i++)
		close(ctx->pool[i]);
	free(ctx->pool);
	if (ctx->ctl >= 0)
		close(ctx->ctl);
	if (ctx->hostns >= 0)
		close(ctx->hostns);
	pthread_mutex_destroy(&ctx->lock);
	if (owned)	/* (in a forked child a parent's thread may have waited on it) */
		pthread_cond_destroy(&ctx->linger_cv);
	free(ctx);
}

/*
 * Clone the helper into a new user namespace and a new PID namespace whose
 * init it is (where PID namespaces cannot be made, into the user namespace
 * only: then commands run without one).  It answers with one word: ready,
 * or why not.
 */
static int helper_start(struct vds_ctx *ctx)
{
	struct vds_helper_args args;
	struct vds_rep rep;
	int sv[2], ret, nfds = 0;
	ssize_t n;
	void *stk;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	ctx->ctl = sv[0];
	args.ctl = sv[1];
	args.hostfd = syscall(SYS_pidfd_open, ctx->pid, 0);
	if (args.hostfd < 0) {
		ret = -errno;
		close(sv[1]);
		return ret;
	}
	args.uid = geteuid();
	args.gid = getegid();
	args.spin_ns = ctx->spin_ns;
	stk = mmap(NULL, HELPER_STACK_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stk == MAP_FAILED) {
		ret = -errno;
		close(sv[1]);
		close(args.hostfd);
		return ret;
	}
	/* no exit signal: a host's own wait() or SIGCHLD handler never sees it */
	args.pidns = 1;
	ctx->helper = clone(vds_helper_main, (char *)stk + HELPER_STACK_SIZE,
			    CLONE_NEWUSER | CLONE_NEWPID, &args);
	if (ctx->helper < 0 && errno != ENOMEM) {
		args.pidns = 0;
		ctx->helper = clone(vds_helper_main, (char *)stk + HELPER_STACK_SIZE,
				    CLONE_NEWUSER, &args);
	}
	ret = -errno;
	munmap(stk, HELPER_STACK_SIZE);
	close(sv[1]);
	close(args.hostfd);
	if (ctx->helper < 0)
		return ret;
	/* ours to reap: no other process can have this pid meanwhile */
	ctx->helperfd = syscall(SYS_pidfd_open, ctx->helper, 0);
	if (ctx->helperfd < 0)
		return -errno;
	do
		n = vds_ipc_recv(ctx->ctl, &rep, sizeof(rep), NULL, &nfds, MSG_CMSG_CLOEXEC);
	while (n == -EINTR);
	if (n < 0)
		return n;
	if (n != sizeof(rep))
		return -ECONNRESET;	/* the helper is gone */
	return rep.ret < 0 ? rep.ret : 0;
}

/* has the helper of @ctx died? (then it serves no new stack) */
static int helper_dead(const struct vds_ctx *ctx)
{
	struct pollfd pfd = { .fd = ctx->helperfd, .events = POLLIN };

	return pfd.fd >= 0 && poll(&pfd, 1, 0) > 0;
}

static int ctx_new(struct vds_ctx **out)
{
	struct vds_ctx *ctx = calloc(1, sizeof(*ctx));
	struct stat sb;
	int ret;

	if (!ctx)
		return -ENOMEM;
	ctx->pid = getpid();
	ctx->helper = -1;
	ctx->ctl = ctx->hostns = ctx->helperfd = -1;
	ctx->keeper.pid = ctx->keeper.sock = -1;
	ctx->spin_ns = vds_spin_us() * 1000;
	ctx->linger_ns = linger_ms() * 1000000LL;
	pthread_mutex_init(&ctx->lock, NULL);
	linger_cv_init(&ctx->linger_cv);
	ret = helper_start(ctx);
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
	ctx->pumps = vds_pumps_new(ctx->spin_ns);
	if (!ctx->pumps) {
		ret = -ENOMEM;
		goto fail;
	}
	*out = ctx;
	return 0;
fail:
	ctx_free(ctx);
	return ret;
}
/* ------------------------------------------------------------ linger --- */
/*
 * A program that deletes its only stack and makes another (a test, a
 * loop) would start a helper each time.  So the context outlives its last
 * stack by linger_ns (VDESTACK_LINGER_MS: 150 ms by default, at most 500): a
 * new stack in that time takes it back as it is.  A detached thread times
 * the wait: it is started when the context goes idle, ends when a stack
 * comes back (vds_ctx_get() clears @lingering) or, once the time is up, by
 * ending the context itself (pumps joined, helper killed and reaped) and
 * then itself.  So linger_ns plus that teardown after the last vde_delstack()
 * no thread or process of ours is left.  The host's death still ends the
 * helper at once (it watches the host's pidfd).
 */

static int linger_ms(void)
{
	const char *env = getenv("VDESTACK_LINGER_MS");
	int ms = env && *env ? atoi(env) : LINGER_MS_DEFAULT;

	return ms < 0 ? 0 : ms > LINGER_MS_MAX ? LINGER_MS_MAX : ms;
}

static void linger_cv_init(pthread_cond_t *cv)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &a);
	pthread_condattr_destroy(&a);
}

/* under vds_glock: take ctx off the lists, nobody finds it any more */
static void ctx_unlink(struct vds_ctx *ctx)
{
	struct vds_ctx **pp;

	if (cur == ctx)
		cur = NULL;
	for (pp = &all; *pp; pp = &(*pp)->next)
		if (*pp == ctx) {
			*pp = ctx->next;
			break;
		}
}

static void *linger_main(void *arg)
{
	struct vds_ctx *ctx = arg;

	pthread_mutex_lock(&vds_glock);
	for (;;) {
		int64_t end = ctx->idle_since + ctx->linger_ns, now = vds_now_ns();
		struct timespec ts;

		if (!ctx->lingering) {		/* a new stack took it */
			ctx->linger_thread = 0;
			pthread_mutex_unlock(&vds_glock);
			return NULL;
		}
		if (now >= end)
			break;
		ts.tv_sec = end / 1000000000;
		ts.tv_nsec = end % 1000000000;
		pthread_cond_timedwait(&ctx->linger_cv, &vds_glock, &ts);
	}
	ctx->lingering = ctx->linger_thread = 0;
	ctx_unlink(ctx);
	pthread_mutex_unlock(&vds_glock);
	ctx_free(ctx);
	return NULL;
}

/*
 * Under vds_glock, the last stack of the current context just went: keep
 * the context for a while.  Return: 0 if it lingers, -1 if it must end now.
 */
static int linger_start(struct vds_ctx *ctx)
{
	pthread_attr_t attr;
	sigset_t all_sigs, old;
	pthread_t th;
	int ret;

	if (ctx->linger_ns <= 0 || !vds_ctx_owned(ctx))
		return -1;
	ctx->idle_since = vds_now_ns();
	ctx->lingering = 1;
	if (ctx->linger_thread) {	/* still there from the last time */
		pthread_cond_signal(&ctx->linger_cv);
		return 0;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	/* born with every signal blocked: the host's handlers never run there */
	sigfillset(&all_sigs);
	pthread_sigmask(SIG_BLOCK, &all_sigs, &old);
	ret = pthread_create(&th, &attr, linger_main, ctx);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (ret != 0) {
		ctx->lingering = 0;
		return -1;
	}
	ctx->linger_thread = 1;
	return 0;
}

/*
 * In a forked child: an inherited context that was lingering has no stack
 * and no thread here; release the child's copies of its fds.
 */
static void linger_child(void)
{
	struct vds_ctx *c, *next;

	pthread_mutex_lock(&vds_glock);
	for (c = all; c; c = next) {
		next = c->next;
		if (c->nstacks == 0) {
			c->lingering = 0;
			ctx_unlink(c);
			ctx_free(c);	/* not ours: closes our copies only */
		}
	}
	pthread_mutex_unlock(&vds_glock);
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
	reap_ended();
	pthread_mutex_lock(&vds_glock);
	/* its stacks report the loss; new ones get a new helper */
	if (cur && helper_dead(cur))
		cur = NULL;
	if (!cur) {
		ret = ctx_new(&cur);
		if (ret == 0) {
			cur->next = all;
			all = cur;
		}
	}
	if (ret == 0) {
		cur->nstacks++;
		cur->lingering = 0;	/* its thread sees it and ends */
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
 * helper, after lingering a moment for a new stack (see linger_start());
 * in a forked child it only releases the child's copies.
 */
void vds_ctx_put(struct vds_ctx *ctx)
{
	pthread_mutex_lock(&vds_glock);
	if (--ctx->nstacks > 0 || (cur == ctx && linger_start(ctx) == 0)) {
		pthread_mutex_unlock(&vds_glock);
		return;
	}
	ctx_unlink(ctx);
	pthread_mutex_unlock(&vds_glock);
	ctx_free(ctx);
}

static int chan_get(struct vds_ctx *ctx)
{
	struct vds_req req = { .op = VDS_OP_NEWCHAN };
	int sv[2], fd = -1, sndbuf = sizeof(struct vds_req) + VDS_REQ_MAX + 4096;
	ssize_t n;

	pthread_mutex_lock(&ctx->lock);
	if (ctx->npool > 0)
		fd = ctx->pool[--ctx->npool];
	pthread_mutex_unlock(&ctx->lock);
	if (fd >= 0)
		return fd;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	/*
	 * Room for the largest request (a command with its environment): a
	 * message longer than the send buffer fails with EMSGSIZE, and the
	 * default (net.core.wmem_default) may be smaller.  Capped by wmem_max.
	 */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	n = vds_ipc_send(ctx->ctl, &req, sizeof(req), NULL, 0, &sv[1], 1);
	close(sv[1]);
	if (n < 0) {
		close(sv[0]);
		return n;
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

/*
 * The reply to call->req on channel fd.  A socket comes back within
 * microseconds: poll a moment before sleeping.  Not for commands and stacks
 * (milliseconds), nor where a signal must interrupt the wait (a polling
 * recvmsg() does not see it).
 */
static ssize_t wait_reply(struct vds_ctx *ctx, int fd, struct vds_call *call,
			  struct vds_rep *rep, int *nfds, int *cancelled)
{
	int flags = call->cloexec ? MSG_CMSG_CLOEXEC : 0;
	int64_t until = 0;
	ssize_t n;

	if (ctx->spin_ns && call->req.op == VDS_OP_SOCKET)
		until = vds_now_ns() + ctx->spin_ns;
	for (;;) {
		*nfds = call->nfds;
		n = vds_ipc_recv(fd, rep, sizeof(*rep), call->fds, nfds,
				 flags | (until ? MSG_DONTWAIT : 0));
		if (n == -EAGAIN && until) {
			if (vds_now_ns() >= until)
				until = 0;
			sched_yield();	/* the helper may be waiting for this CPU */
			continue;
		}
		if (n != -EINTR)
			return n;
		if (call->interrupted && !*cancelled && call->interrupted(call->arg)) {
			struct vds_req cancel = { .op = VDS_OP_CANCEL, .id = call->req.id };

			*cancelled = 1;
			n = vds_ipc_send(fd, &cancel, sizeof(cancel), NULL, 0, NULL, 0);
			if (n < 0)
				return n;
		}
	}
}

/**
 * vds_ctx_call() - one request to the helper and its reply
 * @ctx:	context
 * @call:	the request, where the fds of the reply go, how to wait
 *
 * Return: the helper's result (>= 0: a stack id, an exit status, 0), with
 * call->fds filled; or -errno, from the helper or from the exchange itself
 * (-EINTR when cancelled); then no fd is left open.
 */
int vds_ctx_call(struct vds_ctx *ctx, struct vds_call *call)
{
	struct vds_rep rep;
	int fd, got = 0, cancelled = 0, i;
	ssize_t n;

	for (i = 0; i < call->nfds; i++)
		call->fds[i] = -1;
	fd = chan_get(ctx);
	if (fd < 0)
		return fd;
	n = vds_ipc_send(fd, &call->req, sizeof(call->req), call->payload,
			 call->req.len, NULL, 0);
	if (n >= 0)
		n = wait_reply(ctx, fd, call, &rep, &got, &cancelled);
	if (n < 0) {
		close(fd);
		return n;
	}
	if (n != sizeof(rep) || (rep.ret >= 0 && got != call->nfds)) {
		close(fd);
		rep.ret = n == 0 ? -ECONNRESET : -EPROTO;
	} else {
		chan_put(ctx, fd);
	}
	if (cancelled)
		rep.ret = -EINTR;
	if (rep.ret < 0) {
		for (i = 0; i < got; i++) {
			close(call->fds[i]);
			call->fds[i] = -1;
		}
	}
	return rep.ret;
}

/**
 * vds_ctx_fastpath() - may the stacks of @ctx keep their namespace fd, so
 * vde_msocket() can setns() into it instead of asking the helper?
 * @ctx:	context
 * @netns:	a new stack's namespace fd, or -1 to ask whether to want one
 *
 * Yes for root (CAP_SYS_ADMIN over both namespaces); the first stack that
 * brings a namespace fd tells, by trying: in and back out.
 *
 * Return: 1 yes, 0 no (with @netns -1: 1 unless known to be no)
 */
int vds_ctx_fastpath(struct vds_ctx *ctx, int netns)
{
	int fp = __atomic_load_n(&ctx->fastpath, __ATOMIC_ACQUIRE);

	if (fp < 0 && netns >= 0) {
		int ok = setns(netns, CLONE_NEWNET) == 0 &&
			 setns(ctx->hostns, CLONE_NEWNET) == 0;

		__atomic_compare_exchange_n(&ctx->fastpath, &fp, ok, 0,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
		fp = __atomic_load_n(&ctx->fastpath, __ATOMIC_ACQUIRE);
	}
	return fp != 0;
}

/**
 * vds_ctx_keep() - have a process of ours killed if we die
 * @ctx:	context
 * @pidfd:	pidfd of the process (a stream command)
 *
 * Return: 0 or -errno
 */
int vds_ctx_keep(struct vds_ctx *ctx, int pidfd)
{
	int ret;

	pthread_mutex_lock(&ctx->lock);
	ret = vds_keeper_watch(&ctx->keeper, pidfd);
	pthread_mutex_unlock(&ctx->lock);
	return ret;
}
