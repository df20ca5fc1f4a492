// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pidns.c - a PID namespace per stack, so that nothing started in a stack
 * outlives it.  Used by the helper (helper.c).
 *
 * The helper is the init of a PID namespace of its own (ctx.c clones it
 * with CLONE_NEWUSER | CLONE_NEWPID).  On a stack's first command it makes
 * the stack's PID namespace below its own, with a small init that only
 * reaps orphans.  Commands are vforked by the helper after
 * setns(CLONE_NEWPID) into the stack's namespace, so they land in it while
 * staying the helper's children (their exit statuses come to the helper);
 * whatever they fork or daemonize is orphaned to the stack's init.
 * Deleting the stack kills that init, and the kernel then kills every
 * process of its namespace.  The helper dies with its host (pidfd), and
 * when the init of a namespace dies, the kernel kills every process of it
 * and of the namespaces below: a SIGKILLed host takes all of it along.
 *
 * This runs in the helper, a process cloned from a possibly threaded host:
 * system calls only, as in helper.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "pidns.h"

/*
 * The init: reap orphans until killed; never returns.  Signals from inside
 * its namespace cannot reach it (it has no handler), SIGKILL from outside
 * does, and it dies with the helper, its parent.
 */
static void init_main(int helper_pidfd)
{
	struct pollfd pfd = { .fd = helper_pidfd, .events = POLLIN };
	struct timespec tick = { 1, 0 };
	sigset_t all, chld;

	/* (and checks that the helper did not die already) */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || poll(&pfd, 1, 0) != 0)
		_exit(0);
	/* nothing of the helper stays open here: channels, namespaces */
	syscall(SYS_close_range, 0, ~0U, 0);
	/*
	 * Everything blocked: a blocked SIGCHLD is still queued for an init
	 * whose handler is SIG_DFL, and the one-second tick reaps anyway.
	 */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	setsid();
	for (;;) {
		while (waitpid(-1, NULL, WNOHANG | __WALL) > 0)
			;
		sigtimedwait(&chld, NULL, &tick);
	}
}

/**
 * vds_pidns_new() - a new PID namespace with its init
 * @helper_pidfd:	pidfd of the caller; its death ends the init
 * @pidnsp:	set to a close-on-exec fd of the new namespace
 *
 * The caller's children must be born in its own PID namespace (the new one
 * is made below that, and nothing else is allowed).  Afterwards they are
 * born in the new one, whose init (the caller's child, SIGCHLD on exit)
 * is the first of them.  On failure the caller must move its children's
 * namespace back home (vds_pidns_for_children()).
 *
 * Return: pid of the init (in the caller's namespace), or -errno
 */
pid_t vds_pidns_new(int helper_pidfd, int *pidnsp)
{
	long pid;
	int fd, e;

	*pidnsp = -1;
	if (unshare(CLONE_NEWPID) < 0)
		return -errno;
	/* raw clone without a stack: fork semantics */
	pid = syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0)
		return -errno;
	if (pid == 0)
		init_main(helper_pidfd);
	/* (an empty namespace has no such link: it needs its init first) */
	fd = open("/proc/thread-self/ns/pid_for_children", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -e;
	}
	*pidnsp = fd;
	return pid;
}

/**
 * vds_pidns_for_children() - where the caller's next children are born
 * @pidns:	fd of a PID namespace (the caller's own or one below it)
 *
 * Return: 0 or -errno (setns(2))
 */
int vds_pidns_for_children(int pidns)
{
	return setns(pidns, CLONE_NEWPID) < 0 ? -errno : 0;
}
