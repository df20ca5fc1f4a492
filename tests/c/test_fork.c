// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_fork.c - sockets across fork(2), the library called from a forked
 * child, and the default stack (socket() interposition).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "vt.h"

/* wait for a child at most secs; exit status, 200+sig if killed, -1 if hung */
static int wait_child(pid_t p, double secs)
{
	double end = vt_now() + secs;
	int st;
	pid_t r;

	while ((r = waitpid(p, &st, WNOHANG)) == 0 && vt_now() < end)
		vt_sleep(0.01);
	if (r == 0) {
		kill(p, SIGKILL);
		waitpid(p, &st, 0);
		return -1;
	}
	return WIFSIGNALED(st) ? 200 + WTERMSIG(st) : WEXITSTATUS(st);
}

static void two_stacks(struct vdestack **a, struct vdestack **b)
{
	char vnl[2 * VT_MAXPATH];

	snprintf(vnl, sizeof(vnl), "ptp://%s/link", vt_dir);
	*a = vt_stack(vnl, NULL, "10.77.0.1/24");
	*b = vt_stack(vnl, NULL, "10.77.0.2/24");
	REQUIRE(*a && *b, "two stacks on a ptp link");
}

VT_TEST(socket_before_fork, 60)
{
	struct vdestack *a, *b;
	char why[256] = "";
	pid_t p;
	int rc;

	two_stacks(&a, &b);
	/* a listening socket made before fork() accepts and echoes in the child */
	int lfd = vt_listen(a, "10.77.0.1", 7000);
	REQUIRE(lfd >= 0, "listen in a");
	fflush(stdout);
	p = fork();
	if (p == 0) {
		char buf[4096];
		ssize_t n;
		int c = accept(lfd, NULL, NULL);
		if (c < 0)
			_exit(1);
		vt_timeouts(c, 5);
		while ((n = recv(c, buf, sizeof(buf), 0)) > 0)
			if (send(c, buf, n, MSG_NOSIGNAL) != n)
				_exit(2);
		_exit(0);
	}
	close(lfd);
	int c = vt_connect(b, "10.77.0.1", 7000, 10);
	int ok = c >= 0 && vt_echo_roundtrip(c, 64 * 1024, why, sizeof(why));
	if (c >= 0)
		close(c);
	rc = wait_child(p, 10);
	CHECK(ok && rc == 0, "a listening socket made before fork accepts and echoes 64 KiB in the child "
			"(child status %d) %s", rc, why);

	/* a connected socket made before fork() is usable by the child */
	lfd = vt_listen(a, "10.77.0.1", 7001);
	c = vt_connect(b, "10.77.0.1", 7001, 10);
	int srv = lfd >= 0 ? accept(lfd, NULL, NULL) : -1;
	REQUIRE(c >= 0 && srv >= 0, "connected pair");
	fflush(stdout);
	p = fork();
	if (p == 0)
		_exit(send(c, "from-child", 10, MSG_NOSIGNAL) == 10 ? 0 : 1);
	close(c);
	char buf[16] = "";
	vt_timeouts(srv, 5);
	ssize_t n = recv(srv, buf, 10, MSG_WAITALL);
	rc = wait_child(p, 10);
	CHECK(n == 10 && memcmp(buf, "from-child", 10) == 0 && rc == 0,
			"a connected socket made before fork sends from the child (\"%.10s\", status %d)", buf, rc);
	close(srv);
	close(lfd);
	vde_delstack(a);
	vde_delstack(b);
}

/* child: vde_msocket on the parent's stack, bind its address, talk to b */
VT_TEST(msocket_in_child, 60)
{
	struct vdestack *a, *b;
	pid_t p;
	int rc;

	two_stacks(&a, &b);
	int lfd = vt_listen(b, "10.77.0.2", 7002);
	REQUIRE(lfd >= 0, "echo server in b");
	vt_echo_server(lfd, 2);
	fflush(stdout);
	p = fork();
	if (p == 0) {
		char why[256];
		int fd = vde_msocket(a, AF_INET, SOCK_DGRAM, 0);
		if (fd < 0)
			_exit(10);
		if (vt_bind(fd, "10.77.0.1", 0) != 0)
			_exit(11);
		close(fd);
		/* and a TCP connection from the child's socket crosses the link */
		fd = vt_connect(a, "10.77.0.2", 7002, 10);
		if (fd < 0)
			_exit(12);
		if (!vt_echo_roundtrip(fd, 16384, why, sizeof(why)))
			_exit(13);
		close(fd);
		_exit(0);
	}
	rc = wait_child(p, 20);
	CHECK(rc == 0, "vde_msocket in a forked child gives a socket of the right stack: binds 10.77.0.1 "
			"and echoes through b (child status %d: 10 msocket failed, 11 bind failed, "
			"12 connect failed, 13 echo failed, -1 hung, 200+N signal)", rc);

	/* the parent is not disturbed */
	int fd = vde_msocket(a, AF_INET, SOCK_DGRAM, 0);
	int e = fd < 0 ? errno : vt_bind(fd, "10.77.0.1", 0);
	CHECK(fd >= 0 && e == 0, "the parent's vde_msocket still works afterwards (%s)", strerror(e));
	if (fd >= 0)
		close(fd);
	rc = vde_stackcmd(a, "/bin/busybox true");
	CHECK(rc == 0, "the parent's vde_stackcmd still works afterwards (rc %d)", rc);
	char why[256] = "";
	int c = vt_connect(a, "10.77.0.2", 7002, 10);
	CHECK(c >= 0 && vt_echo_roundtrip(c, 16384, why, sizeof(why)),
			"the parent still talks through the stack %s", why);
	if (c >= 0)
		close(c);

	/* a child that is SIGKILLed while using the library leaves the parent intact */
	fflush(stdout);
	p = fork();
	if (p == 0) {
		for (;;) {
			int k = vde_msocket(a, AF_INET, SOCK_DGRAM, 0);
			if (k >= 0)
				close(k);
		}
	}
	vt_sleep(0.3);
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	fd = vde_msocket(a, AF_INET, SOCK_DGRAM, 0);
	e = fd < 0 ? errno : vt_bind(fd, "10.77.0.1", 0);
	CHECK(fd >= 0 && e == 0, "after a child was killed mid-call the parent's vde_msocket works (%s)",
			strerror(e));
	if (fd >= 0)
		close(fd);
	rc = vde_stackcmd(a, "/bin/busybox true");
	CHECK(rc == 0, "and its vde_stackcmd (rc %d)", rc);
	vde_delstack(a);
	vde_delstack(b);
}

/* child: vde_stackcmd on the parent's stack returns (works or fails cleanly) */
VT_TEST(stackcmd_in_child, 40)
{
	struct vdestack *a, *b;
	pid_t p;
	int rc;

	two_stacks(&a, &b);
	fflush(stdout);
	p = fork();
	if (p == 0) {
		int r = vde_stackcmd(a, "/bin/busybox ip addr add 10.77.0.11/24 dev vde0");
		_exit(r == 0 ? 0 : r < 0 ? 100 + (errno & 0x3f) : 99);
	}
	rc = wait_child(p, 10);
	CHECK(rc != -1 && rc < 200, "vde_stackcmd in a forked child returns (status %d: 0 ran, "
			"100+errno clean error, -1 hung, 200+N signal)", rc);
	if (rc == 0) {
		int fd = vde_msocket(a, AF_INET, SOCK_DGRAM, 0);
		int e = vt_bind(fd, "10.77.0.11", 0);
		CHECK(e == 0, "the child's command ran in the right stack (bind 10.77.0.11: %s)",
				strerror(e));
		close(fd);
	}
	rc = vde_stackcmd(a, "/bin/busybox true");
	CHECK(rc == 0, "the parent's vde_stackcmd still works (rc %d)", rc);
	vde_delstack(a);
	vde_delstack(b);
}

/* exit() in a forked child (atexit handlers, destructors) leaves the parent's stacks intact */
VT_TEST(child_exit, 40)
{
	struct vdestack *a, *b;
	char why[256] = "";
	pid_t p;
	int rc;

	two_stacks(&a, &b);
	for (int i = 0; i < 3; i++) {
		fflush(stdout);
		p = fork();
		if (p == 0)
			exit(0);
		wait_child(p, 10);
	}
	rc = vde_stackcmd(a, "/bin/busybox true");
	CHECK(rc == 0, "after 3 children called exit(): vde_stackcmd works (rc %d)", rc);
	CHECK(vt_tcp_echo(a, b, "10.77.0.1", 7003, 32768, why, sizeof(why)),
			"and the stacks still carry traffic %s", why);
	vde_delstack(a);
	vde_delstack(b);
}

VT_TEST(default_stack, 40)
{
	struct vdestack *a, *b;
	int fd, e;

	two_stacks(&a, &b);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	e = vt_bind(fd, "10.77.0.1", 0);
	CHECK(fd >= 0 && e == EADDRNOTAVAIL, "no default stack: socket() is a host socket (%s)",
			strerror(e));
	close(fd);

	vde_default_stack(a);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	e = fd < 0 ? errno : vt_bind(fd, "10.77.0.1", 0);
	CHECK(fd >= 0 && e == 0, "vde_default_stack(a): socket() TCP binds a's address (%s)", strerror(e));
	if (fd >= 0)
		close(fd);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	e = fd < 0 ? errno : vt_bind(fd, "10.77.0.1", 0);
	CHECK(fd >= 0 && e == 0, "socket() UDP|SOCK_CLOEXEC binds a's address (%s)", strerror(e));
	if (fd >= 0)
		close(fd);
	errno = 0;
	fd = socket(12345, SOCK_STREAM, 0);
	e = errno;
	CHECK(fd == -1 && e == EAFNOSUPPORT, "socket() with a bad domain: -1 EAFNOSUPPORT (%s)",
			strerror(e));
	/* a real connection made with plain socket() goes through the stack */
	int l = vt_listen(b, "10.77.0.2", 7004);
	REQUIRE(l >= 0, "server in b");
	vt_echo_server(l, 1);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(7004) };
	inet_pton(AF_INET, "10.77.0.2", &sa.sin_addr);
	int c = -1;
	for (int i = 0; i < 100; i++) {
		c = socket(AF_INET, SOCK_STREAM, 0);
		vt_timeouts(c, 3);
		if (connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		close(c);
		c = -1;
		vt_sleep(0.05);
	}
	char why[256] = "";
	CHECK(c >= 0 && vt_echo_roundtrip(c, 16384, why, sizeof(why)),
			"socket() + connect() in the default stack reaches b %s", why);
	if (c >= 0)
		close(c);

	vde_default_stack(b);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	e = fd < 0 ? errno : vt_bind(fd, "10.77.0.2", 0);
	CHECK(fd >= 0 && e == 0, "vde_default_stack(b) switches to b (%s)", strerror(e));
	if (fd >= 0)
		close(fd);

	vde_default_stack(NULL);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	e = vt_bind(fd, "10.77.0.2", 0);
	CHECK(fd >= 0 && e == EADDRNOTAVAIL, "vde_default_stack(NULL) restores host sockets (%s)",
			strerror(e));
	close(fd);

	/* deleting the default stack resets the default */
	vde_default_stack(a);
	vde_delstack(a);
	errno = 0;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	e = fd < 0 ? errno : vt_bind(fd, "10.77.0.1", 0);
	CHECK(fd >= 0 && e == EADDRNOTAVAIL,
			"deleting the default stack makes socket() a host socket again (fd %d, %s)", fd,
			strerror(e));
	if (fd >= 0)
		close(fd);
	vde_delstack(b);
}

/* the default stack in a forked child */
VT_TEST(default_stack_in_child, 40)
{
	struct vdestack *a, *b;
	pid_t p;
	int rc;

	two_stacks(&a, &b);
	vde_default_stack(a);
	fflush(stdout);
	p = fork();
	if (p == 0) {
		int fd = socket(AF_INET, SOCK_DGRAM, 0);
		_exit(fd < 0 ? 10 : vt_bind(fd, "10.77.0.1", 0) == 0 ? 0 : 11);
	}
	rc = wait_child(p, 10);
	CHECK(rc == 0, "a forked child's socket() uses the inherited default stack "
			"(status %d: 10 socket failed, 11 not in the stack)", rc);
	vde_default_stack(NULL);
	vde_delstack(a);
	vde_delstack(b);
}
