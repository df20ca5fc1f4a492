// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pidns.c - a PID namespace per stack, so that nothing started in a stack
 * outlives it.
 *
 * The helper creates, on a stack's first command, a small init process in a
 * new PID namespace (clone(CLONE_NEWPID), fork semantics).  Commands are then
 * vforked by the helper after setns(that namespace, CLONE_NEWPID), so they
 * land in it while staying the helper's children (their exit statuses come
 * to the helper); whatever they fork or daemonize is orphaned to the init.
 * Deleting the stack kills the init, and the kernel then kills every process
 * of the namespace.  The init dies with the helper (PR_SET_PDEATHSIG), the
 * helper with its host (pidfd), so a SIGKILLed host takes all of it along.
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

/* the init: reap orphans until killed; never returns */
static void init_main(int helper_pidfd)
{
	struct pollfd pfd = { .fd = helper_pidfd, .events = POLLIN };
	struct timespec tick = { 1, 0 };
	sigset_t all, chld;

	/* dies with the helper, and checks it did not already die */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || poll(&pfd, 1, 0) != 0)
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
		init_main(helper_pidfd);
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
	 * The init, born as pid 1 of the new namespace, but our parent's
	 * child (CLONE_PARENT): the helper reaps it and kills it.
	 */
	pid = syscall(SYS_clone, CLONE_PARENT | CLONE_PIDFD | SIGCHLD, NULL,
		      &m->pidfd, NULL, NULL);
	if (pid == 0)
		init_main(m->helper_pidfd);
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

/* the pid (in our namespace) behind a pidfd, from its fdinfo */
static pid_t pidfd_pid(int pidfd)
{
	char path[48] = "/proc/self/fdinfo/", buf[512], *p;
	char *q = path + 18, tmp[12];
	unsigned int v = (unsigned int)pidfd;
	int n = 0, fd;
	ssize_t len;
	pid_t pid = 0;

	do
		tmp[n++] = '0' + v % 10;
	while ((v /= 10));
	while (n)
		*q++ = tmp[--n];
	*q = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -EIO;
	buf[len] = 0;
	for (p = buf; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, "Pid:", 4))
			continue;
		for (p += 4; *p == ' ' || *p == '\t'; p++)
			;
		while (*p >= '0' && *p <= '9')
			pid = pid * 10 + (*p++ - '0');
		return pid > 0 ? pid : -ESRCH;
	}
	return -EIO;
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
 * The init is the caller's child (SIGCHLD on exit) and holds the caller's
 * network namespace of the moment.
 *
 * Return: pid of the init (in the caller's namespace), or -errno
 */
pid_t vds_pidns_make(int helper_pidfd, void *stack, size_t size, int *pidnsp)
{
	struct maker m = { helper_pidfd, -1, -1, 0 };
	pid_t pid;

	*pidnsp = -1;
	/* SIGCHLD: the init's exit signal is the one of its maker */
	pid = clone(maker_main, (char *)stack + size,
		    CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, &m);
	if (pid < 0)
		return -errno;
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
	pid = m.pidfd < 0 ? -(m.err ? m.err : EIO) : pidfd_pid(m.pidfd);
	if (pid > 0 && m.fd < 0)
		pid = -(m.err ? m.err : EIO);
	if (pid < 0 && m.pidfd >= 0)	/* reaped by the helper */
		syscall(SYS_pidfd_send_signal, m.pidfd, SIGKILL, NULL, 0);
	if (pid < 0 && m.fd >= 0) {
		close(m.fd);
		m.fd = -1;
	}
	if (m.pidfd >= 0)
		close(m.pidfd);
	*pidnsp = m.fd;
	return pid;
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
