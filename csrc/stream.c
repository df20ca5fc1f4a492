// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * stream.c - stream mode: the VNL "=cmd args" starts cmd with a socket as
 * its stdin and stdout, which carry the stack's frames in vdestream framing
 * (libvdeplug's, a 2-byte length before each frame), as the original did.
 *
 * The pump thread (pump.c) moves the bytes; this file spawns and ends the
 * command and turns bytes into frames and back.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "cmdline.h"
#include "offload.h"
#include "stack.h"
#include "stream.h"

/* the frame the command sent: to the interface, counted */
static ssize_t stream_frame(void *opaque, void *buf, size_t len)
{
	struct vds_stack *st = opaque;

	if (vds_frame_ok(st, len)) {
		if (vds_tap_write(st, NULL, buf, len) < 0) {
			st->stats.rx_dropped++;
		} else {
			st->stats.rx_frames++;
			st->stats.rx_bytes += len;
		}
	}
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

/**
 * vds_stream_stop() - end stream mode: close the socket, reap the command
 * @st:		the stack, also one whose vds_stream_start() failed half-way
 * @owned:	0 in a forked child: the command is the parent's to reap
 */
void vds_stream_stop(struct vds_stack *st, int owned)
{
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

/**
 * vds_stream_send() - one frame to the command
 * @st:		the stack
 * @frame, @n:	the frame
 *
 * Return: 0, or -errno (-EPIPE: the command is gone)
 */
int vds_stream_send(struct vds_stack *st, const void *frame, size_t n)
{
	return vdestream_send(st->vs, frame, n) >= 0 ? 0 : -errno;
}

/**
 * vds_stream_input() - bytes the command wrote: each complete frame goes
 * to the interface
 * @st:		the stack
 * @buf, @n:	the bytes
 */
void vds_stream_input(struct vds_stack *st, void *buf, size_t n)
{
	vdestream_recv(st->vs, buf, n);
}
