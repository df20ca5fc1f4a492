// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * stack.c - the life of a stack: vde_addstack, vde_delstack, vde_msocket.
 *
 * A struct vdestack is a small handle that is never given back to malloc:
 * a deleted one stays recognisably dead (EBADF, not a crash) until a long
 * quarantine lets it be reused.  The state behind it is reference counted,
 * so a call in progress keeps it alive across a concurrent vde_delstack.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "vds.h"
#include "netinfo.h"

#define H_LIVE		0x76647374u
#define H_DEAD		0x64656164u
#define H_QUARANTINE	1024

struct vdestack {
	uint32_t magic;
	struct vds_stack *st;
	struct vdestack *next;	/* free list */
};

struct vdestack *vds_default;

static struct vdestack *free_head, *free_tail;
static int nfree;

/* under vds_glock */
static struct vdestack *handle_new(struct vds_stack *st)
{
	struct vdestack *h;

	if (nfree > H_QUARANTINE) {
		h = free_head;
		free_head = h->next;
		if (!free_head)
			free_tail = NULL;
		nfree--;
	} else {
		h = malloc(sizeof(*h));
		if (!h)
			return NULL;
	}
	h->magic = H_LIVE;
	h->st = st;
	h->next = NULL;
	return h;
}

/* under vds_glock */
static void handle_free(struct vdestack *h)
{
	h->magic = H_DEAD;
	h->st = NULL;
	h->next = NULL;
	if (free_tail)
		free_tail->next = h;
	else
		free_head = h;
	free_tail = h;
	nfree++;
}

/**
 * vds_stack_get() - the live state behind a handle, referenced
 * @h:		handle from vde_addstack()
 * @err:	set to -EINVAL (NULL) or -EBADF (deleted) on failure
 *
 * Return: the state, to be released with vds_stack_put(), or NULL
 */
struct vds_stack *vds_stack_get(struct vdestack *h, int *err)
{
	struct vds_stack *st = NULL;

	if (!h) {
		*err = -EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&vds_glock);
	if (h->magic == H_LIVE) {
		st = h->st;
		st->refs++;
	} else {
		*err = -EBADF;
	}
	pthread_mutex_unlock(&vds_glock);
	return st;
}

static int wait_gone(int pidfd, int ms)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

	return poll(&pfd, 1, ms) > 0;
}

/* the stream command got EOF on its stdin; give it a moment, then insist */
static void stream_reap(pid_t pid)
{
	int pidfd = syscall(SYS_pidfd_open, pid, 0);

	if (pidfd >= 0) {
		if (!wait_gone(pidfd, 1000)) {
			kill(pid, SIGTERM);
			if (!wait_gone(pidfd, 500))
				kill(pid, SIGKILL);
		}
		close(pidfd);
	}
	/* ECHILD: the host's own SIGCHLD handler reaped it first */
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static void stack_free(struct vds_stack *st)
{
	int owned = vds_ctx_owned(st->ctx);

	if (owned) {
		vds_pump_remove(st);
		vds_pump_flush(st);
	}
	if (st->conn) {
		if (owned) {
			vde_close(st->conn);	/* unlinks ptp/switch paths */
		} else {
			/* a forked child: the connection is the parent's */
			if (st->datafd >= 0)
				close(st->datafd);
			if (st->ctlfd >= 0 && st->ctlfd != st->datafd)
				close(st->ctlfd);
		}
	}
	if (st->sfd >= 0)
		close(st->sfd);
	if (st->spid > 0 && owned)
		stream_reap(st->spid);
	if (st->vs)
		vdestream_close(st->vs);
	if (st->tap >= 0)
		close(st->tap);
	if (st->netns >= 0)
		close(st->netns);
	if (st->id >= 0 && owned) {
		struct vds_req req = { .op = VDS_OP_DELSTACK, .id = st->id };
		struct vds_rep rep;

		vds_ctx_request(st->ctx, &req, NULL, &rep, NULL, 0, 0, NULL, NULL);
	}
	if (st->ctx)
		vds_ctx_put(st->ctx);
	free(st->pend);
	free(st);
}

/**
 * vds_stack_put() - drop a reference taken by vds_stack_get()
 * @st:		the state; the last reference frees it
 */
void vds_stack_put(struct vds_stack *st)
{
	int last;

	pthread_mutex_lock(&vds_glock);
	last = --st->refs == 0;
	pthread_mutex_unlock(&vds_glock);
	if (last)
		stack_free(st);
}

/* datafd that is a socket: make it non-blocking and drain it per wake-up */
static void classify_datafd(struct vds_stack *st)
{
	struct stat sb;
	int type;
	socklen_t l = sizeof(type);

	if (st->datafd < 0 || fstat(st->datafd, &sb) < 0 || !S_ISSOCK(sb.st_mode))
		return;
	if (getsockopt(st->datafd, SOL_SOCKET, SO_TYPE, &type, &l) < 0)
		return;
	if (fcntl(st->datafd, F_SETFL, fcntl(st->datafd, F_GETFL) | O_NONBLOCK) < 0)
		return;
	st->data_drain = 1;
	st->data_dgram = type == SOCK_DGRAM;
}

/* "=cmd args": the command's stdin and stdout carry the VDE stream */
static int stream_start(struct vds_stack *st, const char *cmdline)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	char **argv;
	int sv[2], ret, n;

	n = vds_parse_cmdline(cmdline, &argv, 0);
	if (n < 0)
		return n;
	if (n != 1 || !argv[0]) {	/* exactly one command */
		free(argv);
		return -EINVAL;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		ret = -errno;
		free(argv);
		return ret;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	/* its own process group: a terminal's ^C is for the host to handle */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
				 POSIX_SPAWN_SETPGROUP);
	ret = -posix_spawnp(&st->spid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(argv);
	close(sv[1]);
	if (ret < 0) {
		st->spid = -1;
		close(sv[0]);
		return ret;
	}
	st->sfd = sv[0];
	st->vs = vdestream_open(st, st->sfd, vds_stream_frame, vds_stream_error);
	return st->vs ? 0 : -ENOMEM;
}

/* as root: can this thread enter the stack's namespace and come back? */
static void probe_fastpath(struct vds_ctx *ctx, int netns)
{
	int ok = setns(netns, CLONE_NEWNET) == 0 &&
		 setns(ctx->hostns, CLONE_NEWNET) == 0;

	pthread_mutex_lock(&vds_glock);
	if (ctx->fastpath < 0)
		ctx->fastpath = ok;
	pthread_mutex_unlock(&vds_glock);
}

static int stack_new(const char *vnl, const char *ifname, struct vdestack **out)
{
	struct vds_stack *st = calloc(1, sizeof(*st));
	struct vds_req req = { .op = VDS_OP_ADDSTACK };
	struct vds_rep rep;
	struct vdestack *h;
	const char *name = ifname ? ifname : "vde0";
	size_t nlen = strlen(name);
	int fds[2], nfds = 0, ret, wantns;

	if (!st)
		return -ENOMEM;
	st->refs = 1;
	st->id = -1;
	st->netns = st->tap = st->datafd = st->ctlfd = st->sfd = -1;
	st->spid = -1;
	if (nlen == 0 || nlen >= IFNAMSIZ || strchr(name, '/') ||
	    strpbrk(name, " \t\n:")) {
		ret = -EINVAL;
		goto fail;
	}
	memcpy(st->ifname, name, nlen + 1);
	if (!vnl || !vnl[0]) {
		st->kind = VDS_KIND_NONE;
	} else if (vnl[0] == '=') {
		st->kind = VDS_KIND_STREAM;
		ret = stream_start(st, vnl + 1);
		if (ret < 0)
			goto fail;
	} else {
		char *copy = strdup(vnl);

		if (!copy) {
			ret = -ENOMEM;
			goto fail;
		}
		st->kind = VDS_KIND_VDE;
		errno = 0;
		st->conn = vde_open(copy, "vdestack", NULL);
		ret = errno ? -errno : -EINVAL;
		free(copy);
		if (!st->conn)
			goto fail;
		st->datafd = vde_datafd(st->conn);
		st->ctlfd = vde_ctlfd(st->conn);
		classify_datafd(st);
	}
	ret = vds_ctx_get(&st->ctx);
	if (ret < 0) {
		st->ctx = NULL;
		goto fail;
	}
	wantns = st->ctx->fastpath != 0;
	req.a = wantns;
	if (st->kind != VDS_KIND_NONE)
		req.len = nlen;
	ret = vds_ctx_request(st->ctx, &req, st->ifname, &rep, fds,
			      (st->kind != VDS_KIND_NONE) + wantns, O_CLOEXEC, NULL, NULL);
	if (ret == 0 && rep.ret < 0)
		ret = -rep.err;
	if (ret < 0)
		goto fail;
	st->id = rep.ret;
	if (st->kind != VDS_KIND_NONE)
		st->tap = fds[nfds++];
	if (wantns) {
		st->netns = fds[nfds++];
		if (st->ctx->fastpath < 0)
			probe_fastpath(st->ctx, st->netns);
		if (st->ctx->fastpath == 0) {
			close(st->netns);
			st->netns = -1;
		}
	}
	ret = vds_pump_add(st->ctx, st);
	if (ret < 0)
		goto fail;
	pthread_mutex_lock(&vds_glock);
	h = handle_new(st);
	pthread_mutex_unlock(&vds_glock);
	if (!h) {
		ret = -ENOMEM;
		goto fail;
	}
	*out = h;
	return 0;
fail:
	if (!st->ctx && st->conn) {
		vde_close(st->conn);
		st->conn = NULL;
	}
	if (!st->ctx) {
		if (st->sfd >= 0)
			close(st->sfd);
		if (st->spid > 0)
			stream_reap(st->spid);
		if (st->vs)
			vdestream_close(st->vs);
		free(st);
	} else {
		stack_free(st);
	}
	return ret;
}

/**
 * vde_addstack() - a new network stack
 * @vdenet:	NULL or "": loopback only; "=cmd args": stream mode; a VNL
 * @ifname:	its interface, NULL for "vde0" (at most 15 bytes)
 *
 * Return: the stack, or NULL with errno set; nothing is left behind then.
 */
VDS_EXPORT struct vdestack *vde_addstack(char *vdenet, char *ifname)
{
	struct vdestack *h = NULL;
	int ret = stack_new(vdenet, ifname, &h);

	if (ret < 0) {
		errno = -ret;
		return NULL;
	}
	return h;
}

/**
 * vde_delstack() - delete a stack: stop its frames, close its VDE
 * connection, end its namespace (and the helper with the last stack)
 * @stack:	the stack; NULL or an already deleted one is ignored
 *
 * Sockets opened in the stack stay usable until closed, but carry no
 * traffic any more.  In a forked child this releases only the child's copy.
 */
VDS_EXPORT void vde_delstack(struct vdestack *stack)
{
	struct vds_stack *st = NULL;
	struct vdestack *expect = stack;

	if (!stack)
		return;
	/* DHCP release and renewal threads end while the stack still works */
	vds_netinfo_release(stack);
	__atomic_compare_exchange_n(&vds_default, &expect, NULL, 0,
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&vds_glock);
	if (stack->magic == H_LIVE) {
		st = stack->st;
		handle_free(stack);
	}
	pthread_mutex_unlock(&vds_glock);
	if (st)
		vds_stack_put(st);
	else
		errno = EBADF;
}

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
	struct vds_req req = { .op = VDS_OP_SOCKET, .id = st->id,
			       .a = domain, .b = type, .c = protocol };
	struct vds_rep rep;
	int fd = -1, ret;

	if (st->netns >= 0) {
		ret = msocket_fast(st, domain, type, protocol);
		if (ret != -EAGAIN)
			return ret;
	}
	ret = vds_ctx_request(st->ctx, &req, NULL, &rep, &fd, 1,
			      (type & SOCK_CLOEXEC) ? O_CLOEXEC : 0, NULL, NULL);
	if (ret < 0)
		return ret;
	return rep.ret < 0 ? -rep.err : fd;
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

/**
 * vdestack_stats() - frame counters of a stack
 * @stack:	the stack
 * @stats:	filled in
 *
 * Return: 0, or -1 with errno EINVAL (NULL argument) or EBADF (deleted)
 */
VDS_EXPORT int vdestack_stats(struct vdestack *stack, struct vdestack_stats *stats)
{
	int ret;
	struct vds_stack *st;

	if (!stats) {
		errno = EINVAL;
		return -1;
	}
	st = vds_stack_get(stack, &ret);
	if (!st) {
		errno = -ret;
		return -1;
	}
	memcpy(stats, &st->stats, sizeof(*stats));
	vds_stack_put(st);
	return 0;
}

/**
 * vde_default_stack() - make plain socket(2) calls open in @stack
 * @stack:	the stack, or NULL for the host's own network again
 */
VDS_EXPORT void vde_default_stack(struct vdestack *stack)
{
	__atomic_store_n(&vds_default, stack, __ATOMIC_SEQ_CST);
}

/**
 * vdestack_version() - the library version
 *
 * Return: a static string such as "1.0.0"
 */
VDS_EXPORT const char *vdestack_version(void)
{
	return VDS_VERSION;
}
