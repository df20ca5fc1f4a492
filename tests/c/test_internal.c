// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_internal.c - internal calls of the C core that other parts of the
 * library build on, tested through a static build of the core (every
 * symbol visible): vds_nsfds() (csrc/nsfds.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "vt.h"
#include "nsfds.h"

static ino_t fd_ino(int fd)
{
	struct stat sb;

	return fstat(fd, &sb) == 0 ? sb.st_ino : 0;
}

static ino_t path_ino(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? sb.st_ino : 0;
}

/*
 * What a process that joined the three namespaces sees, reported by its
 * child over a pipe: its pid there, its PID and network namespace inodes,
 * whether 10.77.0.1 (only in the stack) can be bound.
 */
struct seen {
	int err;		/* errno of the first failed step, 0 */
	int step;		/* which: 1 user 2 net 3 pid 4 fork */
	pid_t nspid;
	pid_t hostpid;
	ino_t pidns, netns;
	int bound;
};

static void joiner(int fds[3], int wfd)
{
	static const int types[3] = { CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWPID };
	struct seen r = { 0 };
	int i;

	for (i = 0; i < 3; i++) {
		if (setns(fds[i], types[i]) < 0) {
			r.err = errno;
			r.step = i + 1;
			if (write(wfd, &r, sizeof(r)) < 0)
				_exit(2);
			_exit(1);
		}
	}
	pid_t pid = fork();

	if (pid < 0) {
		r.err = errno;
		r.step = 4;
		if (write(wfd, &r, sizeof(r)) < 0)
			_exit(2);
		_exit(1);
	}
	if (pid == 0) {
		char self[32];
		ssize_t n = readlink("/proc/self", self, sizeof(self) - 1);
		int fd = socket(AF_INET, SOCK_DGRAM, 0);

		self[n > 0 ? n : 0] = 0;
		r.nspid = getpid();
		r.hostpid = atoi(self);	/* /proc is the host's: its pid there */
		r.pidns = path_ino("/proc/self/ns/pid");
		r.netns = path_ino("/proc/self/ns/net");
		r.bound = fd >= 0 && vt_bind(fd, "10.77.0.1", 0) == 0;
		if (write(wfd, &r, sizeof(r)) < 0)
			_exit(2);
		/* then wait: the stack's end must end it */
		pause();
		_exit(0);
	}
	_exit(0);
}

VT_TEST(nsfds_join, 30)
{
	struct vdestack *s = vt_stack("null://", NULL, "10.77.0.1/24");
	int fds[3], p[2], ret, status, rc;
	struct seen r;
	pid_t pid;
	char cmd[64];

	REQUIRE(s != NULL, "stack");
	ret = vds_nsfds(s, fds);
	REQUIRE(ret == 0, "vds_nsfds: %s", strerror(-ret));
	for (int i = 0; i < 3; i++)
		CHECK(fds[i] >= 0 && (fcntl(fds[i], F_GETFD) & FD_CLOEXEC),
				"fd %d (%d) close-on-exec", i, fds[i]);
	CHECK(fd_ino(fds[VDS_NS_PID]) != path_ino("/proc/self/ns/pid"),
			"the stack's PID namespace is not ours");
	REQUIRE(pipe2(p, O_CLOEXEC) == 0, "pipe");
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		close(p[0]);
		joiner(fds, p[1]);
	}
	close(p[1]);
	vt_timeouts(p[0], 5);
	memset(&r, 0, sizeof(r));
	ret = read(p[0], &r, sizeof(r));
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	REQUIRE(ret == sizeof(r) && r.err == 0, "setns user, net, pid then fork (step %d: %s)",
			r.step, strerror(r.err));
	vt_info("in the stack: pid %d there, %d on the host", (int)r.nspid, (int)r.hostpid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the joiner exited 0");
	CHECK(r.pidns == fd_ino(fds[VDS_NS_PID]), "its child is in the stack's PID namespace");
	CHECK(r.netns == fd_ino(fds[VDS_NS_NET]), "and in the stack's network namespace");
	CHECK(r.bound, "it binds 10.77.0.1, an address only the stack has");
	CHECK(r.nspid > 1 && r.nspid != r.hostpid && vt_alive(r.hostpid),
			"its pid there (%d) is not its host pid (%d), and it runs", (int)r.nspid,
			(int)r.hostpid);
	/* a command of the stack sees it under its pid there */
	snprintf(cmd, sizeof(cmd), "/bin/busybox kill -0 %d", (int)r.nspid);
	rc = vde_stackcmd(s, cmd);
	CHECK(rc == 0, "\"kill -0 %d\" in the stack finds it (rc %d)", (int)r.nspid, rc);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	close(p[0]);
	vde_delstack(s);
	for (int i = 0; i < 20 && vt_alive(r.hostpid); i++)
		vt_sleep(0.05);
	vt_reap();
	CHECK(!vt_alive(r.hostpid), "vde_delstack ended it (pid %d)", (int)r.hostpid);
}

VT_TEST(nsfds_errors, 20)
{
	struct vdestack *s = vt_stack(NULL, NULL, NULL);
	int fds[3] = { 7, 7, 7 }, ret;

	ret = vds_nsfds(NULL, fds);
	CHECK(ret == -EINVAL && fds[0] == -1, "NULL stack: -EINVAL (%d)", ret);
	REQUIRE(s != NULL, "stack");
	vde_delstack(s);
	ret = vds_nsfds(s, fds);
	CHECK(ret == -EBADF && fds[2] == -1, "deleted stack: -EBADF (%d)", ret);
}
