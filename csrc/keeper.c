// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * keeper.c - a small process that kills the stream commands of its host
 * when the host dies.
 *
 * A stream-mode stack ("=cmd") runs its command on the host, as the host's
 * child.  If the host is SIGKILLed nothing of the library runs to end it,
 * and PR_SET_PDEATHSIG would tie the command to the thread that started
 * it, not to the process.  The helper watches the host but cannot signal
 * the command: it lives in a PID namespace of its own, and a process can
 * only signal processes of its namespace and the ones below.  So a keeper
 * in the host's namespace, cloned like the helper (no CLONE_VM, no exit
 * signal) when the first stream command starts, gets a pidfd of each
 * command, watches the host (its pidfd, and its end of the socket, which
 * closes first when the host dies or execs), and then kills them.
 * A command that already ended is harmless: a pidfd names one process,
 * never a later one with the same pid.
 *
 * After the clone it only makes system calls (the host may be threaded).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "ipc.h"
#include "keeper.h"

#define KEEPER_STACK	(64 * 1024)
#define KEEPER_MAX	4096	/* stream commands watched at once */

struct keeper_args {
	int sock;
	int hostfd;
};

/* drop the pidfds of commands that ended (the library reaped them) */
static int prune(int *fds, int n)
{
	int i, k = 0;

	for (i = 0; i < n; i++) {
		struct pollfd pfd = { .fd = fds[i], .events = POLLIN };

		if (poll(&pfd, 1, 0) > 0)
			close(fds[i]);
		else
			fds[k++] = fds[i];
	}
	return k;
}

static int keeper_main(void *arg)
{
	struct keeper_args *a = arg;
	struct pollfd pfd[2] = {
		{ .fd = a->hostfd, .events = POLLIN },
		{ .fd = a->sock, .events = POLLIN },
	};
	int *fds, n = 0, i, sig;
	sigset_t none;

	/* only the socket, the host's pidfd and the pidfds it gets */
	if (a->sock != 3 && dup3(a->sock, 3, O_CLOEXEC) < 0)
		_exit(1);
	if (a->hostfd != 4 && dup3(a->hostfd, 4, O_CLOEXEC) < 0)
		_exit(1);
	pfd[0].fd = 4;
	pfd[1].fd = 3;
	syscall(SYS_close_range, 5, ~0U, 0);
	for (sig = 1; sig < 65; sig++) {
		struct sigaction sa = { .sa_handler = SIG_DFL };

		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);	/* a terminal's ^C is for the host */
	fds = mmap(NULL, KEEPER_MAX * sizeof(int), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fds == MAP_FAILED)
		_exit(1);
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents)	/* the host died */
			break;
		if (pfd[1].revents) {
			char b;
			int got[VDS_IPC_MAXFDS], ng = VDS_IPC_MAXFDS;
			ssize_t r = vds_ipc_recv(3, &b, 1, got, &ng, MSG_CMSG_CLOEXEC);

			if (r == -EINTR || r == -EAGAIN)
				continue;
			/*
			 * The host's end closed: it is dying (its files go
			 * before its pidfd tells), or it exec()ed another
			 * program.  Either way the library is gone.
			 */
			if (r <= 0)
				break;
			n = prune(fds, n);
			for (i = 0; i < ng; i++) {
				if (n < KEEPER_MAX)
					fds[n++] = got[i];
				else
					close(got[i]);
			}
		}
	}
	for (i = 0; i < n; i++)
		syscall(SYS_pidfd_send_signal, fds[i], SIGKILL, NULL, 0);
	_exit(0);
}

static int keeper_start(struct vds_keeper *k)
{
	struct keeper_args a;
	int sv[2], ret;
	void *stk;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	a.sock = sv[1];
	a.hostfd = syscall(SYS_pidfd_open, getpid(), 0);
	stk = a.hostfd < 0 ? MAP_FAILED :
	      mmap(NULL, KEEPER_STACK, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stk == MAP_FAILED) {
		ret = -errno;
		goto out;
	}
	/* no exit signal: a host's own wait() or SIGCHLD handler never sees it */
	k->pid = clone(keeper_main, (char *)stk + KEEPER_STACK, 0, &a);
	ret = k->pid < 0 ? -errno : 0;
	munmap(stk, KEEPER_STACK);
out:
	if (a.hostfd >= 0)
		close(a.hostfd);
	close(sv[1]);
	if (ret < 0) {
		close(sv[0]);
		k->pid = -1;
		return ret;
	}
	k->sock = sv[0];
	return 0;
}

/**
 * vds_keeper_watch() - have the keeper kill a process if the host dies
 * @k:		the keeper, started on first use ({ -1, -1 } before)
 * @pidfd:	pidfd of the process; the keeper gets its own copy
 *
 * The caller serialises calls on one @k.
 *
 * Return: 0 or -errno
 */
int vds_keeper_watch(struct vds_keeper *k, int pidfd)
{
	char b = 0;
	ssize_t n;
	int ret;

	if (k->pid < 0) {
		ret = keeper_start(k);
		if (ret < 0)
			return ret;
	}
	n = vds_ipc_send(k->sock, &b, 1, NULL, 0, &pidfd, 1);
	return n < 0 ? (int)n : 0;
}

/**
 * vds_keeper_end() - end and reap the keeper, if one was started
 * @k:		the keeper
 */
void vds_keeper_end(struct vds_keeper *k)
{
	if (k->pid > 0) {
		kill(k->pid, SIGKILL);
		while (waitpid(k->pid, NULL, __WALL) < 0 && errno == EINTR)
			;
	}
	k->pid = -1;
	if (k->sock >= 0)
		close(k->sock);
	k->sock = -1;
}
