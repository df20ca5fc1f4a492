// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_linger.c - the helper outlives the last vde_delstack by at most
 * half a second: a delete/create loop reuses one helper; 1 s after the
 * last delete no process, thread or fd of ours is left; the host's death
 * still ends it at once; a forked child is not confused by it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "vt.h"

static int threads(void)
{
	char buf[4096], *p;

	if (vt_read_file("/proc/self/status", buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "Threads:");
	return p ? atoi(p + 8) : -1;
}

/*
 * The helper: our one live child, or -1 (0 if there is none).  (Below it
 * run the stacks' PID namespace inits and commands: not counted.)
 */
static pid_t only_child(void)
{
	pid_t d[16];
	int n;

	vt_reap();
	n = vt_children(getpid(), d, 16);
	return n == 1 ? d[0] : n == 0 ? 0 : -1;
}

/* with the longest linger allowed (500 ms) */
VT_TEST(loop_reuses_helper, 60)
{
	int fds0, th0, same = 1, i, procs;
	pid_t first = -1, h;
	double t_last, end;
	struct vdestack *w;

	setenv("VDESTACK_LINGER_MS", "500", 1);
	/*
	 * One cycle first, waited out: a sanitizer's runtime starts threads of
	 * its own at the first pthread_create() (TSan: a second background
	 * thread), which must be in the baseline.
	 */
	w = vt_stack(NULL, NULL, NULL);
	REQUIRE(w, "a first stack");
	vde_delstack(w);
	end = vt_now() + 2;
	while (only_child() != 0 && vt_now() < end)
		vt_sleep(0.01);
	vt_sleep(0.05);
	fds0 = vt_count_fds();
	th0 = threads();
	for (i = 0; i < 20; i++) {
		struct vdestack *s = vt_stack("null://", NULL, i % 5 ? NULL : "10.77.0.1/24");

		REQUIRE(s, "stack %d", i);
		h = only_child();
		if (i == 0)
			first = h;
		else if (h != first)
			same = 0;
		vde_delstack(s);
	}
	t_last = vt_now();
	CHECK(first > 0 && same, "20 create/delete cycles of a lone stack use one helper (pid %d)",
			(int)first);
	vt_sleep(0.2);
	CHECK(vt_alive(first), "0.2 s after the last delete the helper still waits");
	end = t_last + 1.0;
	while (((procs = only_child()) != 0 || threads() != th0 || vt_count_fds() != fds0) &&
	       vt_now() < end)
		vt_sleep(0.01);
	CHECK(procs == 0 && !vt_alive(first),
			"1 s after the last delete no process of ours is left (%d)", (int)procs);
	CHECK(threads() == th0, "and no thread (%d before, %d after)", th0, threads());
	CHECK(vt_count_fds() == fds0, "and no fd (%d before, %d after)", fds0, vt_count_fds());
	vt_info("all gone %.3f s after the last delete", vt_now() - t_last);

	/* a new stack after that starts a new helper, and works */
	struct vdestack *s = vt_stack("null://", NULL, "10.77.0.1/24");
	REQUIRE(s, "a stack after the helper ended");
	h = only_child();
	CHECK(h > 0 && h != first, "it has a new helper (%d, was %d)", (int)h, (int)first);
	CHECK(vt_cmd(s, "/bin/busybox true") == 0, "which runs commands");
	vde_delstack(s);
}

/* the default: a moment, gone well within the 300 ms the conformance suite allows */
VT_TEST(linger_default, 30)
{
	struct vdestack *s = vt_stack("null://", NULL, NULL);
	pid_t h;
	double t;

	REQUIRE(s, "stack");
	h = only_child();
	vde_delstack(s);
	t = vt_now();
	CHECK(h > 0 && vt_alive(h), "right after the last delete the helper waits");
	s = vt_stack("null://", NULL, NULL);
	REQUIRE(s, "a new stack");
	CHECK(only_child() == h, "and serves the next stack (%d)", (int)h);
	vde_delstack(s);
	t = vt_now();
	while (vt_alive(h) && vt_now() - t < 2) {
		vt_reap();
		vt_sleep(0.005);
	}
	CHECK(!vt_alive(h) && vt_now() - t < 0.3, "gone %.3f s after the last delete", vt_now() - t);
}

VT_TEST(linger_off, 30)
{
	struct vdestack *s;
	pid_t h;

	setenv("VDESTACK_LINGER_MS", "0", 1);
	s = vt_stack("null://", NULL, NULL);
	REQUIRE(s, "stack");
	h = only_child();
	vde_delstack(s);
	CHECK(h > 0 && !vt_alive(h) && only_child() == 0,
			"VDESTACK_LINGER_MS=0: the helper is gone when vde_delstack returns");
}

/* the host dies while its helper lingers: the helper goes at once */
VT_TEST(host_death_while_lingering, 30)
{
	int p[2], status;
	pid_t host, helper = -1;
	double t;

	REQUIRE(pipe(p) == 0, "pipe");
	host = fork();
	REQUIRE(host >= 0, "fork");
	if (host == 0) {
		struct vdestack *s = vde_addstack("null://", NULL);
		pid_t d[16];
		int n;

		close(p[0]);
		if (!s)
			_exit(2);
		n = vt_descendants(getpid(), d, 16);
		vde_delstack(s);
		if (n != 1 || write(p[1], &d[0], sizeof(d[0])) != sizeof(d[0]))
			_exit(3);
		_exit(0);	/* while the helper lingers */
	}
	close(p[1]);
	CHECK(read(p[0], &helper, sizeof(helper)) == sizeof(helper), "the host told its helper");
	close(p[0]);
	waitpid(host, &status, 0);
	t = vt_now();
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the host exited (status %d)",
			WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	while (helper > 0 && vt_alive(helper) && vt_now() - t < 2) {
		vt_reap();
		vt_sleep(0.005);
	}
	CHECK(helper > 0 && !vt_alive(helper) && vt_now() - t < 0.3,
			"the lingering helper ended %.3f s after its host died (well before 0.5 s)",
			vt_now() - t);
}

/* fork while the helper lingers: the child makes its own, the parent reuses its own */
VT_TEST(fork_while_lingering, 40)
{
	struct vdestack *s = vt_stack("null://", NULL, NULL);
	pid_t h, child;
	int status;

	REQUIRE(s, "stack");
	h = only_child();
	vde_delstack(s);
	/*
	 * Let the thread that times the linger start up first: the sanitizers'
	 * runtimes do not survive a fork() in the middle of pthread_create().
	 * The child's stack has no interface, so it starts no thread of its
	 * own (TSan refuses new threads after a multi-threaded fork).
	 */
	vt_sleep(0.02);
	fflush(stdout);
	child = fork();
	REQUIRE(child >= 0, "fork");
	if (child == 0) {
		struct vdestack *c;

		setenv("VDESTACK_LINGER_MS", "0", 1);	/* no thread here either */
		c = vde_addstack(NULL, NULL);

		if (!c)
			_exit(2);
		if (vde_stackcmd(c, "/bin/busybox ip link show lo") != 0)
			_exit(3);
		vde_delstack(c);
		_exit(0);
	}
	waitpid(child, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			"a child forked while the helper lingers makes and uses a stack (status %d)",
			WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	s = vt_stack("null://", NULL, "10.77.0.1/24");
	REQUIRE(s, "the parent's next stack");
	CHECK(only_child() == h, "reuses the parent's lingering helper (%d)", (int)h);
	vde_delstack(s);
}

/* network namespaces (inode numbers) the process pid holds fds of */
static int netns_fds(pid_t pid, unsigned long *ino, int max)
{
	char dir[64], path[320], link[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	while (d && (e = readdir(d)) && n < max) {
		ssize_t len;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = 0;
		if (sscanf(link, "net:[%lu]", &ino[n]) == 1)
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

static unsigned long netns_of(struct vdestack *s)
{
	struct stat sb;
	int fd = vdestack_netns(s);

	if (fd < 0 || fstat(fd, &sb) < 0)
		return 0;
	close(fd);
	return sb.st_ino;
}

/* what `cmd` printed in s (through a file of the scratch directory) */
static const char *output(struct vdestack *s, const char *cmd)
{
	static char buf[4096];
	const char *path = vt_path("out");
	ssize_t n;

	buf[0] = 0;
	if (vt_cmd(s, "/bin/busybox sh -c '%s > %s 2>&1'", cmd, path) != 0)
		return "";
	n = vt_read_file(path, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

/*
 * A stack no call ever used leaves its namespace to the helper, which
 * gives it to the next stack with the same interface name: the kernel's
 * setup of a namespace is most of what a lone create/delete costs.  The
 * namespace must come back as a new one would be: only lo (up) and the
 * tap (down, a new MAC address).  A stack that was used (a socket, a
 * command, an address) never leaves its namespace behind.
 */
VT_TEST(pristine_namespace_reused, 60)
{
	unsigned long held[8], first, used;
	struct vdestack *a, *b, *c, *d;
	pid_t h;
	int n;

	a = vt_stack("null://", "vde0", NULL);
	REQUIRE(a, "a stack, never used");
	h = only_child();
	REQUIRE(h > 0, "its helper (%d)", (int)h);
	n = netns_fds(h, held, 8);
	CHECK(n == 1, "the helper holds 1 namespace (%d)", n);
	vde_delstack(a);
	n = netns_fds(h, held, 8);
	REQUIRE(n == 1, "after its delete the helper keeps that one namespace (%d)", n);
	first = held[0];

	b = vt_stack("null://", "vde0", NULL);
	REQUIRE(b, "a second stack");
	CHECK(netns_of(b) == first, "it got the kept namespace (%lu, kept %lu)", netns_of(b), first);
	CHECK(strstr(output(b, "/bin/busybox ip -o link | /bin/busybox wc -l"), "2") != NULL,
	      "two interfaces in it: %s", output(b, "/bin/busybox ip -o link"));
	CHECK(strstr(output(b, "/bin/busybox ip -o link show lo"), ",UP") != NULL &&
	      strstr(output(b, "/bin/busybox ip -o link show vde0"), ",UP") == NULL,
	      "lo up, vde0 down: %s", output(b, "/bin/busybox ip -o link"));
	/* now used: an address, a socket; deleted, it must not come back */
	CHECK(vt_cmd(b, "/bin/busybox ip addr add 10.77.0.9/24 dev vde0") == 0, "10.77.0.9 on b");
	used = netns_of(b);
	vde_delstack(b);
	n = netns_fds(h, held, 8);
	CHECK(n == 0, "a used stack's namespace is not kept (%d held)", n);

	c = vt_stack("null://", "vde0", NULL);
	REQUIRE(c, "a third stack");
	CHECK(netns_of(c) != used && strstr(output(c, "/bin/busybox ip -o addr"), "10.77.0.9") == NULL,
	      "a new namespace, without b's address: %s", output(c, "/bin/busybox ip -o addr"));
	vde_delstack(c);	/* used (netns_of, output): not kept */

	/* a kept namespace and another interface name: a fresh one */
	d = vt_stack("null://", "vde0", NULL);
	REQUIRE(d, "a fourth stack");
	vde_delstack(d);
	REQUIRE(netns_fds(h, held, 8) == 1, "its namespace kept");
	first = held[0];
	d = vt_stack("null://", "eth7", NULL);
	REQUIRE(d, "a stack with eth7");
	CHECK(netns_of(d) != first && strstr(output(d, "/bin/busybox ip -o link"), "eth7") &&
	      !strstr(output(d, "/bin/busybox ip -o link"), "vde0"),
	      "it has a namespace of its own, with eth7 only: %s", output(d, "/bin/busybox ip -o link"));
	CHECK(netns_fds(h, held, 8) == 1, "and the kept one was released");
	vde_delstack(d);

	/* a name pattern ("vde%d": the kernel picks vde0) is never kept */
	d = vt_stack("null://", "vde%d", NULL);
	REQUIRE(d, "a stack with the name pattern vde%%d");
	vde_delstack(d);
	CHECK(netns_fds(h, held, 8) == 0, "its namespace is not kept (%d held)", netns_fds(h, held, 8));
	d = vt_stack("null://", "vde%d", NULL);
	REQUIRE(d, "another one");
	CHECK(strstr(output(d, "/bin/busybox ip -o link | /bin/busybox wc -l"), "2") != NULL,
	      "with lo and one tap: %s", output(d, "/bin/busybox ip -o link"));
	vde_delstack(d);
}

/*
 * The MAC address of vde0 in the namespace the helper keeps (fd of the
 * helper's, joined from a child: its user namespace first unless root),
 * as "xx:xx:..", or "" when it cannot be read
 */
static void kept_mac(pid_t helper, char out[32])
{
	char path[64], link[64], buf[32] = "";
	int pfd[2];
	pid_t c;

	out[0] = 0;
	if (pipe(pfd) < 0)
		return;
	c = fork();
	if (c == 0) {
		unsigned long ino;
		struct ifreq ifr;
		int fd = -1, s, i;

		close(pfd[0]);
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)helper);
		if (geteuid() != 0) {
			int u = open(path, O_RDONLY);

			if (u < 0 || setns(u, CLONE_NEWUSER) < 0)
				_exit(1);
		}
		for (i = 0; i < 1024 && fd < 0; i++) {
			ssize_t len;

			snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)helper, i);
			len = readlink(path, link, sizeof(link) - 1);
			if (len > 0 && (link[len] = 0, sscanf(link, "net:[%lu]", &ino) == 1))
				fd = open(path, O_RDONLY);
		}
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
			_exit(1);
		s = socket(AF_INET, SOCK_DGRAM, 0);
		memset(&ifr, 0, sizeof(ifr));
		strcpy(ifr.ifr_name, "vde0");
		if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr) < 0)
			_exit(1);
		for (i = 0; i < 6; i++)
			snprintf(buf + 3 * i, 4, i < 5 ? "%02x:" : "%02x",
				 (unsigned char)ifr.ifr_hwaddr.sa_data[i]);
		if (write(pfd[1], buf, strlen(buf)) < 0)
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	if (c > 0) {
		ssize_t n = read(pfd[0], out, 31);

		out[n > 0 ? n : 0] = 0;
		waitpid(c, NULL, 0);
	}
	close(pfd[0]);
}

/* a kept namespace's tap gets a new MAC address when it is handed on */
VT_TEST(pristine_namespace_new_mac, 60)
{
	char before[32], *after;
	struct vdestack *a, *b;
	pid_t h;

	a = vt_stack("null://", "vde0", NULL);
	REQUIRE(a, "a stack, never used");
	h = only_child();
	REQUIRE(h > 0, "its helper (%d)", (int)h);
	vde_delstack(a);
	kept_mac(h, before);
	REQUIRE(strlen(before) == 17, "the kept namespace's vde0 has MAC %s", before);
	b = vt_stack("null://", "vde0", NULL);
	REQUIRE(b, "the next stack");
	after = strstr(output(b, "/bin/busybox ip -o link show vde0"), "link/ether ");
	REQUIRE(after, "vde0's MAC in it: %s", output(b, "/bin/busybox ip -o link show vde0"));
	after += 11;
	after[17] = 0;
	CHECK(strcmp(after, before) != 0 && (strtoul(after, NULL, 16) & 3) == 2,
	      "its vde0 has a new locally administered unicast MAC (%s, was %s)", after, before);
	vde_delstack(b);
}
