// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_interop.c - a stack of ours and a stack of the ORIGINAL libvdestack
 * (Debian libvdestack0, driven by origpeer.c in its own process) on one VDE
 * switch exchange TCP both ways, byte for byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "vt.h"

#ifndef ORIGPEER
#define ORIGPEER ""
#endif
#define ORIGLIB "/usr/lib/x86_64-linux-gnu/libvdestack.so.0"

/* start origpeer with args, its stdout on *out; pid or -1 */
static pid_t origpeer(char *const args[], int *out)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		execv(ORIGPEER, args);
		_exit(127);
	}
	close(p[1]);
	if (pid > 0)
		vt_track(pid);
	*out = p[0];
	return pid;
}

/* read lines of fd into buf until one starts with want (or EOF/timeout) */
static int expect_line(int fd, const char *want, char *buf, size_t len, double secs)
{
	size_t got = 0;
	double end = vt_now() + secs;

	buf[0] = 0;
	while (vt_now() < end && got < len - 1) {
		char *line;
		ssize_t n = read(fd, buf + got, len - 1 - got);

		if (n <= 0)
			return 0;
		got += n;
		buf[got] = 0;
		for (line = buf; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
			if (strncmp(line, want, strlen(want)) == 0)
				return 1;
	}
	return 0;
}

static int uses_original(const char *out)
{
	const char *p = strstr(out, "lib ");

	return p && strncmp(p + 4, ORIGLIB, strlen(ORIGLIB)) == 0;
}

VT_TEST(original, 90)
{
	char *sw = vt_path("sw"), vnl[VT_MAXPATH + 8], why[256] = "", out[1024];
	struct vdestack *s;
	int fd, o, st = -1;
	pid_t pid;

	REQUIRE(ORIGPEER[0] && access(ORIGPEER, X_OK) == 0,
		"origpeer was built against %s (scripts/deps.sh installs libvdestack0)", ORIGLIB);
	REQUIRE(vt_switch_start(sw) > 0, "switch");
	snprintf(vnl, sizeof(vnl), "vde://%s", sw);
	s = vt_stack(vnl, NULL, "10.61.0.1/24");
	REQUIRE(s != NULL, "our stack");

	/* the original serves, we connect */
	{
		char *args[] = { "origpeer", vnl, "10.61.0.2/24", "serve", "7101", NULL };

		pid = origpeer(args, &o);
		REQUIRE(pid > 0, "start origpeer serve");
		CHECK(expect_line(o, "ready", out, sizeof(out), 30), "origpeer serves: %s", out);
		CHECK(uses_original(out), "origpeer runs on %s: %s", ORIGLIB, out);
		fd = vt_connect(s, "10.61.0.2", 7101, 20);
		REQUIRE(fd >= 0, "our stack connects to the original's stack");
		CHECK(vt_echo_roundtrip(fd, 1 << 20, why, sizeof(why)),
		      "1 MiB echoed by the original's stack: %s", why);
		close(fd);
		CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "origpeer serve exit 0 (status %#x)", st);
		close(o);
	}
	/* we serve, the original connects */
	{
		char *args[] = { "origpeer", vnl, "10.61.0.3/24", "connect", "10.61.0.1", "7102",
				 "1048576", NULL };
		int lfd = vt_listen(s, "10.61.0.1", 7102);

		REQUIRE(lfd >= 0, "listen in our stack");
		vt_echo_server(lfd, 1);
		pid = origpeer(args, &o);
		REQUIRE(pid > 0, "start origpeer connect");
		CHECK(expect_line(o, "echoed 1048576", out, sizeof(out), 60),
		      "the original's stack got 1 MiB echoed by ours: %s", out);
		CHECK(uses_original(out), "origpeer runs on %s: %s", ORIGLIB, out);
		CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "origpeer connect exit 0 (status %#x)", st);
		close(o);
	}
	vde_delstack(s);
}
