// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_spawn.c - vdestack_spawn and vdestack_netns: the program runs in the
 * stack with the four network capabilities, is the caller's child in every
 * way that shows (exit status, killing signal, signals sent to it), reports
 * exec failures with no child left, and nothing it forks outlives the stack
 * or reaches the caller's wait().  The namespace fd works with setns() as
 * root and unprivileged, and with nsenter(1) as root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/nsfs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "vt.h"

#define BB "/bin/busybox"

/* spawn busybox with args, wait, return the raw wait status (-1: failed) */
static int run_bb(struct vdestack *s, const char *script)
{
	char *argv[] = { BB, "sh", "-c", (char *)script, NULL };
	pid_t pid = vdestack_spawn(s, argv, NULL);
	int status;

	if (pid < 0)
		return -1;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/* live processes whose command line holds marker (any PID namespace) */
static int count_marked(const char *marker)
{
	char path[300], buf[4096];
	DIR *d = opendir("/proc");
	struct dirent *e;
	ssize_t len, i;
	int n = 0, fd;

	while (d && (e = readdir(d))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		for (i = 0; i < len; i++)
			if (buf[i] == 0)
				buf[i] = ' ';
		buf[len] = 0;
		if (strstr(buf, marker) && vt_alive(atoi(e->d_name)))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

/*
 * wait up to secs for no process with marker, seen twice 50 ms apart (one
 * look may miss a process in the middle of execve); 1 if none is left
 */
static int marked_gone(const char *marker, double secs)
{
	double end = vt_now() + secs;

	for (;;) {
		if (count_marked(marker) == 0) {
			vt_sleep(0.05);
			if (count_marked(marker) == 0)
				return 1;
		}
		if (vt_now() > end)
			return 0;
		vt_sleep(0.02);
	}
}

VT_TEST(status, 30)
{
	struct vdestack *s = vt_stack(NULL, NULL, NULL);
	int st;

	REQUIRE(s != NULL, "stack");
	st = run_bb(s, "exit 0");
	CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit 0 -> status %#x", st);
	st = run_bb(s, "exit 7");
	CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 7, "exit 7 -> status %#x", st);
	st = run_bb(s, "exit 255");
	CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 255, "exit 255 -> status %#x", st);
	st = run_bb(s, "kill -9 $$");
	CHECK(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	      "program killing itself with SIGKILL: waitpid says killed by 9 (status %#x)", st);
	st = run_bb(s, "kill -15 $$");
	CHECK(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM,
	      "program killing itself with SIGTERM: killed by 15 (status %#x)", st);
	st = run_bb(s, "kill -SEGV $$");
	CHECK(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
	      "program killing itself with SIGSEGV: killed by 11 (status %#x)", st);
	vde_delstack(s);
}

VT_TEST(noexec, 30)
{
	struct vdestack *s = vt_stack(NULL, NULL, NULL);
	char *missing[] = { "/nonexistent/vdstest-prog", NULL };
	char *relative[] = { "busybox", "true", NULL };
	char *dir[] = { "/tmp", NULL };
	pid_t pid;
	int e;

	REQUIRE(s != NULL, "stack");
	errno = 0;
	pid = vdestack_spawn(s, missing, NULL);
	e = errno;
	CHECK(pid == -1 && e == ENOENT, "missing program: -1 ENOENT (got %d, %s)", pid, strerror(e));
	errno = 0;
	pid = vdestack_spawn(s, dir, NULL);
	e = errno;
	CHECK(pid == -1 && e == EACCES, "a directory: -1 EACCES (got %d, %s)", pid, strerror(e));
	errno = 0;
	pid = vdestack_spawn(s, relative, NULL);
	e = errno;
	CHECK(pid == -1 && e == EINVAL, "relative path: -1 EINVAL (got %d, %s)", pid, strerror(e));
	errno = 0;
	pid = vdestack_spawn(NULL, missing, NULL);
	CHECK(pid == -1 && errno == EINVAL, "NULL stack: -1 EINVAL (%s)", strerror(errno));
	errno = 0;
	pid = vdestack_spawn(s, NULL, NULL);
	CHECK(pid == -1 && errno == EINVAL, "NULL argv: -1 EINVAL (%s)", strerror(errno));
	errno = 0;
	CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD,
	      "no child is left after the failures (%s)", strerror(errno));
	vde_delstack(s);
	errno = 0;
	pid = vdestack_spawn(s, missing, NULL);
	CHECK(pid == -1 && errno == EBADF, "deleted stack: -1 EBADF (%s)", strerror(errno));
}

/* the program sees the stack's interface and address, has the four caps */
VT_TEST(inside, 30)
{
	struct vdestack *s = vt_stack("null://", "vdsin0", "10.55.0.7/24");
	char buf[4096], script[1024];
	int st;

	REQUIRE(s != NULL, "stack");
	snprintf(script, sizeof(script),
		 BB " ip -o addr show dev vdsin0 > %s/addr; "
		 BB " grep -E '^Cap(Eff|Prm|Bnd|Amb)' /proc/self/status > %s/caps",
		 vt_dir, vt_dir);
	st = run_bb(s, script);
	CHECK(st == 0, "program exit status 0 (%#x)", st);
	CHECK(vt_read_file(vt_path("addr"), buf, sizeof(buf)) > 0 &&
	      strstr(buf, "10.55.0.7/24"), "the program sees 10.55.0.7/24 on vdsin0: %s", buf);
	buf[0] = 0;
	vt_read_file(vt_path("caps"), buf, sizeof(buf));
	CHECK(strstr(buf, "CapEff:\t0000000000003c00") && strstr(buf, "CapPrm:\t0000000000003c00") &&
	      strstr(buf, "CapBnd:\t0000000000003c00") && strstr(buf, "CapAmb:\t0000000000003c00"),
	      "exactly the four network capabilities, ambient, bounding set too:\n%s", buf);
	vde_delstack(s);
}

VT_TEST(environment, 30)
{
	struct vdestack *s = vt_stack(NULL, NULL, NULL);
	char script[512], buf[256];
	char *envp[] = { "VDST_ONE=explicit", NULL };
	char *argv[] = { BB, "sh", "-c", script, NULL };
	pid_t pid;
	int st = -1;

	REQUIRE(s != NULL, "stack");
	snprintf(script, sizeof(script), "echo \"$VDST_ONE\" > %s/env", vt_dir);
	setenv("VDST_ONE", "set-after-the-stack", 1);
	st = run_bb(s, script);
	CHECK(st == 0 && vt_read_file(vt_path("env"), buf, sizeof(buf)) > 0 &&
	      strcmp(buf, "set-after-the-stack\n") == 0,
	      "envp NULL: the caller's current environment (%s)", buf);
	pid = vdestack_spawn(s, argv, envp);
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && st == 0, "spawn with envp");
	CHECK(vt_read_file(vt_path("env"), buf, sizeof(buf)) > 0 &&
	      strcmp(buf, "explicit\n") == 0, "explicit envp (%s)", buf);
	unsetenv("VDST_ONE");
	vde_delstack(s);
}

/* kill(pid, sig) reaches the program; SIGKILL of the child ends it too */
VT_TEST(signals, 30)
{
	struct vdestack *s = vt_stack(NULL, NULL, NULL);
	char script[1024], *ready = vt_path("ready");
	char *argv[] = { BB, "sh", "-c", script, NULL };
	char marker[64];
	pid_t pid;
	int st = -1;

	REQUIRE(s != NULL, "stack");
	snprintf(script, sizeof(script),
		 "trap 'exit 42' TERM; trap 'exit 43' USR1; "
		 "touch %s; while :; do " BB " sleep 0.05; done; : vdst-sig-%d",
		 ready, (int)getpid());
	pid = vdestack_spawn(s, argv, NULL);
	REQUIRE(pid > 0, "spawn (%s)", strerror(errno));
	CHECK(vt_wait_path(ready, 10), "program started");
	kill(pid, SIGTERM);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 42,
	      "SIGTERM to the child reaches the program's trap: exit 42 (status %#x)", st);
	unlink(ready);
	pid = vdestack_spawn(s, argv, NULL);
	REQUIRE(pid > 0, "spawn (%s)", strerror(errno));
	CHECK(vt_wait_path(ready, 10), "program started");
	kill(pid, SIGUSR1);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 43,
	      "SIGUSR1 forwarded: exit 43 (status %#x)", st);
	unlink(ready);
	pid = vdestack_spawn(s, argv, NULL);
	REQUIRE(pid > 0, "spawn (%s)", strerror(errno));
	CHECK(vt_wait_path(ready, 10), "program started");
	kill(pid, SIGKILL);
	CHECK(waitpid(pid, &st, 0) == pid, "reaped");
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "SIGKILL: killed by 9 (status %#x)", st);
	snprintf(marker, sizeof(marker), "vdst-sig-%d", (int)getpid());
	CHECK(marked_gone(marker, 2), "the program died with its SIGKILLed forwarder");
	vde_delstack(s);
}

/* a daemon started by a spawned program: gone with the stack, never ours */
VT_TEST(daemon, 30)
{
	struct vdestack *s = vt_stack(NULL, NULL, NULL);
	char script[512], marker[64];
	int st;

	REQUIRE(s != NULL, "stack");
	snprintf(marker, sizeof(marker), "vdst-daemon-%d", (int)getpid());
	snprintf(script, sizeof(script),
		 BB " sh -c '" BB " sleep 1000; : %s' </dev/null >/dev/null 2>&1 & exit 3",
		 marker);
	st = run_bb(s, script);
	CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 3, "program exit 3 (%#x)", st);
	vt_sleep(0.2);
	CHECK(count_marked(marker) == 1, "the daemon runs after the program ended");
	errno = 0;
	CHECK(waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD,
	      "the caller has no other child: the daemon is not reparented to it");
	vde_delstack(s);
	CHECK(marked_gone(marker, 1), "the daemon ended with the stack");
}

/* setns() with the fd: unprivileged through the user namespace first */
VT_TEST(netns, 30)
{
	struct vdestack *s = vt_stack("null://", "vdsns0", "10.56.0.9/24");
	int fd, st = -1;
	pid_t pid;

	REQUIRE(s != NULL, "stack");
	errno = 0;
	CHECK(vdestack_netns(NULL) == -1 && errno == EINVAL, "NULL stack: EINVAL");
	fd = vdestack_netns(s);
	REQUIRE(fd >= 0, "vdestack_netns (%s)", strerror(errno));
	CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC, "the fd is close-on-exec");
	pid = fork();
	if (pid == 0) {
		struct ifreq ifr;
		int u = ioctl(fd, NS_GET_USERNS), sk;

		if (u < 0 || setns(u, CLONE_NEWUSER) < 0)
			_exit(10);
		if (setns(fd, CLONE_NEWNET) < 0)
			_exit(11);
		sk = socket(AF_INET, SOCK_DGRAM, 0);
		memset(&ifr, 0, sizeof(ifr));
		strcpy(ifr.ifr_name, "vdsns0");
		if (sk < 0 || ioctl(sk, SIOCGIFADDR, &ifr) < 0)
			_exit(12);
		if (((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr != inet_addr("10.56.0.9"))
			_exit(13);
		_exit(0);
	}
	REQUIRE(pid > 0, "fork");
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "a child that setns()es user then net namespace sees 10.56.0.9 on vdsns0 "
	      "(exit %d: 10 userns, 11 netns, 12 no interface, 13 wrong address)",
	      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	if (geteuid() == 0) {
		char cmd[512], buf[1024];

		snprintf(cmd, sizeof(cmd), "nsenter --net=/proc/%d/fd/%d " BB
			 " ip -o addr show dev vdsns0 > %s/nsenter 2>&1", getpid(), fd, vt_dir);
		st = system(cmd);
		buf[0] = 0;
		vt_read_file(vt_path("nsenter"), buf, sizeof(buf));
		CHECK(st == 0 && strstr(buf, "10.56.0.9/24"),
		      "root: nsenter --net=/proc/PID/fd/N shows 10.56.0.9/24 (%d): %s", st, buf);
	}
	close(fd);
	vde_delstack(s);
	errno = 0;
	CHECK(vdestack_netns(s) == -1 && errno == EBADF, "deleted stack: EBADF");
}

/* several threads spawn at once: every child is theirs, every status right */
static void *spawner(void *arg)
{
	struct vdestack *s = arg;
	long bad = 0;
	int i;

	for (i = 0; i < 10; i++) {
		char code[8];
		char *argv[] = { BB, "sh", "-c", "exit $0", code, NULL };
		int st;
		pid_t pid;

		snprintf(code, sizeof(code), "%d", (int)(pthread_self() % 50) + i);
		pid = vdestack_spawn(s, argv, NULL);
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != atoi(code))
			bad++;
	}
	return (void *)bad;
}

VT_TEST(threads, 60)
{
	struct vdestack *s = vt_stack(NULL, NULL, NULL);
	pthread_t t[4];
	long bad = 0;
	void *r;
	int i;

	REQUIRE(s != NULL, "stack");
	for (i = 0; i < 4; i++)
		REQUIRE(pthread_create(&t[i], NULL, spawner, s) == 0, "thread");
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	CHECK(bad == 0, "40 programs spawned from 4 threads at once, each status right (%ld wrong)", bad);
	errno = 0;
	CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD, "no child left");
	vde_delstack(s);
}

/* the host SIGKILLed: its spawned program and what that daemonized go */
VT_TEST(host_killed, 30)
{
	char marker[64], script[512];
	int p[2], st;
	pid_t host;
	char c;

	snprintf(marker, sizeof(marker), "vdst-host-%d", (int)getpid());
	snprintf(script, sizeof(script),
		 BB " sh -c '" BB " sleep 1000; : %s-d' </dev/null >/dev/null 2>&1 & "
		 BB " sleep 1000; : %s-p", marker, marker);
	REQUIRE(pipe(p) == 0, "pipe");
	host = fork();
	if (host == 0) {
		struct vdestack *s = vde_addstack(NULL, NULL);
		char *argv[] = { BB, "sh", "-c", script, NULL };

		close(p[0]);
		if (!s || vdestack_spawn(s, argv, NULL) < 0)
			_exit(1);
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	REQUIRE(host > 0, "fork the host");
	close(p[1]);
	CHECK(read(p[0], &c, 1) == 1, "the host spawned its program");
	close(p[0]);
	/*
	 * At least the two shells: a shell between its fork and the exec of
	 * a child still shows the marker too, so the count can be 3 a moment
	 */
	for (st = 0; st < 100 && count_marked(marker) < 2; st++)
		vt_sleep(0.02);
	CHECK(count_marked(marker) >= 2, "program and daemon run (%d)", count_marked(marker));
	kill(host, SIGKILL);
	waitpid(host, NULL, 0);
	CHECK(marked_gone(marker, 1.0), "both gone within a second of the host's SIGKILL");
}

/* a stack with DNS servers: the program's /etc/resolv.conf names them */
VT_TEST(resolv, 30)
{
	struct vdestack *s = vt_stack("null://", NULL, NULL);
	char script[512], buf[1024] = "";
	int st;

	REQUIRE(s != NULL, "stack");
	REQUIRE(vdestack_config(s, "ip=10.57.0.1/24,dns=10.57.0.53") == 0, "config (%s)",
		strerror(errno));
	snprintf(script, sizeof(script), BB " cat /etc/resolv.conf > %s/resolv", vt_dir);
	st = run_bb(s, script);
	CHECK(st == 0, "program exit 0 (%#x)", st);
	vt_read_file(vt_path("resolv"), buf, sizeof(buf));
	CHECK(strstr(buf, "nameserver 10.57.0.53"), "the program's resolv.conf: %s", buf);
	vde_delstack(s);
}
