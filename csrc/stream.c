// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * stream.c - stream mode: the VNL "=cmd args" starts cmd with a socket as
 * its stdin and stdout, which carry the stack's frames in vdestream framing
 * (libvdeplug's, a 2-byte length before each frame), as the original did.
 *
 * The pump thread (pump.c) moves the bytes; this file spawns and ends the
 * command and turns bytes into frames and back.
 *
 * A command that stops reading must stall only its own stack: the pump
 * never blocks on it.  What the socket does not take at once waits in a
 * queue of at most VDS_STREAMQ_MAX bytes (the pump writes it out when the
 * socket has room); frames beyond that are dropped and counted.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "cmdline.h"
#include "ctx.h"
#include "offload.h"
#include "stack.h"
#include "stream.h"

#define VDS_STREAMQ_MAX	(256 * 1024)	/* bytes queued for a slow command */
#define VDS_STREAM_GRACE_MS 100	/* after EOF, before SIGTERM ... */
#define VDS_STREAM_TERM_MS 50	/* ... and after it, before SIGKILL */

/**
 * struct vds_streamq - bytes for the command that its socket did not take
 * @head:	where they start in @buf
 * @len:	how many
 * @buf:	VDS_STREAMQ_MAX bytes
 */
struct vds_streamq {
	size_t head, len;
	unsigned char buf[];
};

/* where vds_stream_input() of this (pump) thread sends the frames */
static __thread struct vds_gro *input_gro;

/* the frame the command sent: towards the interface, through the pump's GRO */
static ssize_t stream_frame(void *opaque, void *buf, size_t len)
{
	struct vds_stack *st = opaque;

	if (vds_frame_ok(st, len))
		vds_gro_push(input_gro, buf, len);
	return len;
}

/* a length the framing rejects (a library does not log its message) */
static void stream_error(void *opaque, int type, char *format, ...)
{
	struct vds_stack *st = opaque;

	(void)type;
	(void)format;
	st->stats.rx_oversize++;
}

/* the command runs in its own process group, with default signals */
static int spawn(pid_t *pid, char **argv, int fd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int ret;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, 0);
	posix_spawn_file_actions_adddup2(&fa, fd, 1);
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
	ret = -posix_spawnp(pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return ret;
}

/**
 * vds_stream_start() - start the command of a stream-mode stack
 * @st:		the stack (st->sfd, st->spid, st->vs are set)
 * @cmdline:	"cmd args", after the '='; cmd is looked up in PATH
 *
 * Return: 0, or -errno (-EINVAL: not exactly one command); what was
 * started is ended by vds_stream_stop()
 */
int vds_stream_start(struct vds_stack *st, const char *cmdline)
{
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
	ret = spawn(&st->spid, argv, sv[1]);
	free(argv);
	close(sv[1]);
	if (ret < 0) {
		st->spid = -1;
		close(sv[0]);
		return ret;
	}
	st->sfd = sv[0];
	st->vs = vdestream_open(st, st->sfd, stream_frame, stream_error);
	return st->vs ? 0 : -ENOMEM;
}

static int wait_gone(int pidfd, int ms)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

	return poll(&pfd, 1, ms) > 0;
}

/*
 * The stream command got EOF on its stdin; give it a moment, then insist:
 * vde_delstack() must return within a bounded time, also for a command
 * that ignores its stdin.
 */
static void stream_reap(pid_t pid)
{
	int pidfd = syscall(SYS_pidfd_open, pid, 0);

	if (pidfd >= 0) {
		if (!wait_gone(pidfd, VDS_STREAM_GRACE_MS)) {
			kill(pid, SIGTERM);
			if (!wait_gone(pidfd, VDS_STREAM_TERM_MS))
				kill(pid, SIGKILL);
		}
		close(pidfd);
	}
	/* ECHILD: the host's own SIGCHLD handler reaped it first */
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/**
 * vds_stream_adopt() - have the command killed if we die
 * @st:		the stack, attached to its context
 *
 * The command runs on the host, as our child: if we are SIGKILLed, nothing
 * of ours runs to end it; the context's keeper (keeper.c) does.
 * PR_SET_PDEATHSIG would tie the command to the thread that started it.
 *
 * Return: 0 or -errno
 */
int vds_stream_adopt(struct vds_stack *st)
{
	int pidfd = syscall(SYS_pidfd_open, st->spid, 0), ret;

	if (pidfd < 0)
		return -errno;
	ret = vds_ctx_keep(st->ctx, pidfd);
	close(pidfd);
	return ret;
}

/**
 * vds_stream_stop() - end stream mode: close the socket, reap the command
 * @st:		the stack, also one whose vds_stream_start() failed half-way
 * @owned:	0 in a forked child: the command is the parent's to reap
 */
void vds_stream_stop(struct vds_stack *st, int owned)
{
	/* what is still queued, if the command takes it now */
	if (st->sfd >= 0 && owned)
		vds_stream_flush(st);
	free(st->sq);
	st->sq = NULL;
	if (st->sfd >= 0)
		close(st->sfd);
	st->sfd = -1;
	if (st->spid > 0 && owned)
		stream_reap(st->spid);
	st->spid = -1;
	if (st->vs)
		vdestream_close(st->vs);
	st->vs = NULL;
}

/* the command is gone, or the socket refused for another reason */
static int send_error(int e)
{
	return e == EPIPE || e == ECONNRESET ? -EPIPE : -e;
}

/* append bytes to the queue (the caller checked the room) */
static void queue_put(struct vds_streamq *q, const void *p, size_t n)
{
	if (q->head + q->len + n > VDS_STREAMQ_MAX) {
		memmove(q->buf, q->buf + q->head, q->len);
		q->head = 0;
	}
	memcpy(q->buf + q->head + q->len, p, n);
	q->len += n;
}

/**
 * vds_stream_send() - one frame to the command, without ever blocking
 * @st:		the stack
 * @frame, @n:	the frame
 *
 * Sent, or queued behind what the command did not take yet; when the queue
 * is full the frame is refused (the caller counts it dropped).
 *
 * Return: 0 (sent or queued), -ENOBUFS (queue full: dropped), -EPIPE (the
 * command is gone), or another -errno
 */
int vds_stream_send(struct vds_stack *st, const void *frame, size_t n)
{
	unsigned char hdr[2] = { n >> 8, n & 0xff };
	struct iovec iov[2] = { { hdr, 2 }, { (void *)frame, n } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t w = 0;

	if (n > 0xffff)
		return -EMSGSIZE;
	if (!st->sq || !st->sq->len) {
		w = sendmsg(st->sfd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w == (ssize_t)n + 2)
			return 0;
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return send_error(errno);
		if (w < 0)
			w = 0;
	}
	if (!st->sq) {
		st->sq = malloc(sizeof(*st->sq) + VDS_STREAMQ_MAX);
		if (!st->sq)
			return -ENOBUFS;
		st->sq->head = st->sq->len = 0;
	}
	/* the rest of a frame that went out in part must follow, always */
	if (w == 0 && st->sq->len + n + 2 > VDS_STREAMQ_MAX)
		return -ENOBUFS;
	if (w < 2)
		queue_put(st->sq, hdr + w, 2 - w);
	queue_put(st->sq, (const unsigned char *)frame + (w > 2 ? w - 2 : 0),
		  n - (w > 2 ? w - 2 : 0));
	return 0;
}

/**
 * vds_stream_flush() - write out what is queued, as far as the socket takes
 * @st:		the stack
 *
 * Return: 0, or -EPIPE (the command is gone) or another -errno
 */
int vds_stream_flush(struct vds_stack *st)
{
	struct vds_streamq *q = st->sq;

	while (q && q->len) {
		ssize_t w = send(st->sfd, q->buf + q->head, q->len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : send_error(errno);
		}
		q->head += w;
		q->len -= w;
	}
	if (q)
		q->head = 0;
	return 0;
}

/**
 * vds_stream_pending() - is something queued for the command?
 * @st:		the stack
 *
 * Return: 1 or 0
 */
int vds_stream_pending(const struct vds_stack *st)
{
	return st->sq && st->sq->len;
}

/**
 * vds_stream_input() - bytes the command wrote: each complete frame goes
 * to the interface, through @gro
 * @st:		the stack
 * @gro:	the caller's coalescing state, its destination @st; the
 *		caller flushes it
 * @buf, @n:	the bytes
 */
void vds_stream_input(struct vds_stack *st, struct vds_gro *gro, void *buf, size_t n)
{
	input_gro = gro;
	vdestream_recv(st->vs, buf, n);
	input_gro = NULL;
}
