// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pidns.c - a PID namespace per stack, so that nothing started in a stack
 * outlives it.
 *
 * At start the helper makes a root PID namespace, owned by its user
 * namespace, with a small init that dies with the helper
 * (PR_SET_PDEATHSIG).  On a stack's first command it makes the stack's PID
 * namespace inside the root one, again with a small init that only reaps
 * orphans.  Commands are vforked by the helper after setns(CLONE_NEWPID)
 * into the stack's namespace, so they land in it while staying the
 * helper's children (their exit statuses come to the helper); whatever they
 * fork or daemonize is orphaned to the stack's init.  Deleting the stack
 * kills that init, and the kernel then kills every process of the
 * namespace.  The helper dies with its host (pidfd), the root init with the
 * helper, and every namespace below with the root init: a SIGKILLed host
 * takes all of it along.
 *
 * This runs in the helper, a process cloned from a possibly threaded host:
 * system calls only, as in helper.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "pidns.h"

/*
 * The init: reap orphans until killed; never returns.  The root one dies
 * with the helper, its parent (@pdeath); a stack's one is a child of the
 * root one, and dies with it: when the init of a namespace dies, the kernel
 * kills every process of that namespace and of the namespaces below it.
 */
static void init_main(int helper_pidfd, int pdeath)
{
	struct pollfd pfd = { .fd = helper_pidfd, .events = POLLIN };
	struct timespec tick = { 1, 0 };
	sigset_t all, chld;

	/* (and checks that the helper did not die already) */
	if ((pdeath && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) || poll(&pfd, 1, 0) != 0)
		_exit(0);
	/* nothing of the helper stays open here: channels, namespaces */
	syscall(SYS_close_range, 0, ~0U, 0);
	/*
	 * Signals: everything blocked; only SIGKILL (from outside the
	 * namespace) ends it.  A blocked SIGCHLD is queued even for an init
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

/* "/proc/<pid>/ns/pid" */
static void ns_path(char *path, pid_t pid)
{
	char *p = path + 6, tmp[12];
	unsigned int v = (unsigned int)pid;
	int n = 0;

	memcpy(path, "/proc/", 6);
	do
		tmp[n++] = '0' + v % 10;
	while ((v /= 10));
	while (n)
		*p++ = tmp[--n];
	memcpy(p, "/ns/pid", 8);
}

/**
 * vds_pidns_root() - a new PID namespace and its init, from the caller's own
 * @helper_pidfd:	pidfd of the calling helper; its death ends the init
 * @pidnsp:	set to a close-on-exec fd of the new PID namespace
 *
 * Only while the caller's children are still born in its own namespace
 * (clone(CLONE_NEWPID) refuses anything else).  The init is the caller's
 * child, with SIGCHLD as exit signal.
 *
 * Return: pid of the init, or -errno
 */
pid_t vds_pidns_root(int helper_pidfd, int *pidnsp)
{
	char path[40];
	long pid;
	int fd, e;

	*pidnsp = -1;
	/* raw clone without a stack: fork semantics, into a new namespace */
	pid = syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0)
		return -errno;
	if (pid == 0)
		init_main(helper_pidfd, 1);
	ns_path(path, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, __WALL);
		return -e;
	}
	*pidnsp = fd;
	return pid;
}

struct maker {
	int helper_pidfd;
	int fd;			/* the namespace */
	int pidfd;		/* its init */
	int err;
};

/* in a vforked child that shares our memory and fd table */
static int maker_main(void *arg)
{
	struct maker *m = arg;
	long pid;

	if (unshare(CLONE_NEWPID) < 0) {
		m->err = errno;
		_exit(1);
	}
	/*
	 * The init, born as pid 1 of the new namespace.  Our child: when we
	 * exit in a moment it goes to the init of the namespace we live in,
	 * which reaps it.  The helper only kills it, through the pidfd.  Had
	 * it a parent outside that namespace (the helper), its zombie would
	 * hold up the end of the namespace until that parent (or, once the
	 * helper is gone, whoever inherits its children) reaps it.
	 */
	pid = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, NULL, &m->pidfd, NULL, NULL);
	if (pid == 0)
		init_main(m->helper_pidfd, 0);
	if (pid < 0) {
		m->err = errno;
		m->pidfd = -1;
		_exit(1);
	}
	/* (an empty namespace has no such link: it needs its init first) */
	m->fd = open("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC);
	if (m->fd < 0)
		m->err = errno;
	_exit(0);
}

/**
 * vds_pidns_make() - a new PID namespace with its init
 * @helper_pidfd:	pidfd of the calling helper; its death ends the init
 * @stack:	memory the maker child runs on, @size bytes
 * @size:	its size (a few KiB do)
 * @pidnsp:	set to a close-on-exec fd of the new namespace
 *
 * Made as a child of the namespace the caller's children are born in, by a
 * child born there: a process can only make one below the namespace it
 * lives in, and setns(CLONE_NEWPID) has moved only the caller's children.
 * The init is a child of that namespace's init, and holds the caller's
 * network namespace of the moment.
 *
 * Return: a close-on-exec pidfd of the init, or -errno
 */
int vds_pidns_make(int helper_pidfd, void *stack, size_t size, int *pidnsp)
{
	struct maker m = { helper_pidfd, -1, -1, 0 };
	pid_t pid;
	int ret;

	*pidnsp = -1;
	/* SIGCHLD: the init's exit signal is the one of its maker */
	pid = clone(maker_main, (char *)stack + size,
		    CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, &m);
	if (pid < 0)
		return -errno;
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
	if (m.pidfd >= 0 && m.fd >= 0) {
		*pidnsp = m.fd;
		return m.pidfd;
	}
	ret = -(m.err ? m.err : EIO);
	if (m.pidfd >= 0) {
		syscall(SYS_pidfd_send_signal, m.pidfd, SIGKILL, NULL, 0);
		close(m.pidfd);
	}
	if (m.fd >= 0)
		close(m.fd);
	return ret;
}

/**
 * vds_pidns_for_children() - where the caller's next children are born
 * @pidns:	fd of a PID namespace (a descendant of the caller's own)
 *
 * Return: 0 or -errno (setns(2))
 */
int vds_pidns_for_children(int pidns)
{
	return setns(pidns, CLONE_NEWPID) < 0 ? -errno : 0;
}
