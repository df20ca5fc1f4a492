// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_pidns.c - nothing started in or for a stack outlives it: programs
 * that fork, daemonize or go to the background from vde_stackcmd end with
 * vde_delstack and with the host's death (SIGKILL included), and so does a
 * stream-mode command that ignores its stdin.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "vt.h"

#define HTTP_PORT 8087

/* descendants of root whose command name is comm */
static int find_comm(pid_t root, const char *comm, pid_t *out, int max)
{
	pid_t all[512];
	int n = vt_descendants(root, all, 512), k = 0;

	for (int i = 0; i < n && k < max; i++)
		if (!strcmp(vt_comm(all[i]), comm) && vt_alive(all[i]))
			out[k++] = all[i];
	return k;
}

/* are all of pids gone within secs? (orphans come to the harness, reaped) */
static int all_gone(const pid_t *pids, int n, double secs, double *took)
{
	double t0 = vt_now();
	int live;

	do {
		vt_reap();
		live = 0;
		for (int i = 0; i < n; i++)
			live += vt_alive(pids[i]);
		if (!live)
			break;
		vt_sleep(0.01);
	} while (vt_now() - t0 < secs);
	*took = vt_now() - t0;
	for (int i = 0; i < n; i++)
		if (vt_alive(pids[i]))
			vt_info("still alive after %.2f s: %d (%s)", *took, (int)pids[i],
					vt_comm(pids[i]));
	return live == 0;
}

/* GET /hello.txt from the stack's own httpd on 127.0.0.1 */
static int http_get(struct vdestack *s, char *body, size_t len)
{
	int fd = vt_connect(s, "127.0.0.1", HTTP_PORT, 5);
	size_t got = 0;
	ssize_t n;
	const char *req = "GET /hello.txt HTTP/1.0\r\n\r\n";
	char buf[4096];

	body[0] = 0;
	if (fd < 0)
		return -1;
	vt_timeouts(fd, 5);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return -1;
	}
	while (got < sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += n;
	close(fd);
	buf[got] = 0;
	char *b = strstr(buf, "\r\n\r\n");
	snprintf(body, len, "%s", b ? b + 4 : "");
	return strncmp(buf, "HTTP/1.", 7) == 0 ? 0 : -1;
}

/*
 * Start in s: busybox httpd (forks itself into the background), a shell that
 * leaves "sleep 777" behind, and start-stop-daemon -b (forks, setsid).
 * Checks that httpd serves.  Returns the host pids of what runs, *n of them.
 */
static void start_daemons(struct vdestack *s, pid_t *pids, int *n)
{
	char cmd[1024], body[256];
	pid_t found[16];
	int rc, k;

	REQUIRE(vt_read_file(vt_path("hello.txt"), body, sizeof(body)) < 0, "fresh scratch dir");
	FILE *f = fopen(vt_path("hello.txt"), "w");
	REQUIRE(f != NULL, "write hello.txt");
	fputs("hello from the stack\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "/bin/busybox httpd -p 127.0.0.1:%d -h %s", HTTP_PORT, vt_dir);
	rc = vde_stackcmd(s, cmd);
	CHECK(rc == 0, "busybox httpd started and went to the background (rc %d)", rc);
	rc = vde_stackcmd(s, "/bin/busybox sh -c '/bin/busybox sleep 777 & exit 0'");
	CHECK(rc == 0, "sh -c 'sleep 777 &' returned (rc %d)", rc);
	/* -n: a name nothing has, so that it starts (httpd is busybox too) */
	rc = vde_stackcmd(s, "/bin/busybox start-stop-daemon -S -b -n vdst-none -a /bin/busybox -- "
			"sleep 779");
	CHECK(rc == 0, "start-stop-daemon -b returned (rc %d)", rc);
	CHECK(http_get(s, body, sizeof(body)) == 0 && !strcmp(body, "hello from the stack\n"),
			"httpd serves in the stack: \"%s\"", body);
	*n = 0;
	/* httpd and both sleeps are all "busybox" */
	k = find_comm(getpid(), "busybox", found, 16);
	for (int i = 0; i < k; i++)
		pids[(*n)++] = found[i];
	CHECK(*n >= 3, "httpd and both sleeps (and an httpd child serving) run below us (%d found)", *n);
}

VT_TEST(delstack_ends_daemons, 40)
{
	struct vdestack *s = vt_stack(NULL, NULL, NULL);
	pid_t pids[16];
	int n;
	double took;
	int ok;

	REQUIRE(s != NULL, "stack");
	start_daemons(s, pids, &n);
	vde_delstack(s);
	ok = all_gone(pids, n, 1.0, &took);
	CHECK(ok, "after vde_delstack all %d are gone (%.2f s)", n, took);
}

VT_TEST(delstack_ends_only_its_own, 40)
{
	struct vdestack *a = vt_stack(NULL, NULL, NULL);
	struct vdestack *b = vt_stack(NULL, NULL, NULL);
	pid_t pa[4], pb[4];
	int rc;
	double took;
	int ok;

	REQUIRE(a && b, "two stacks");
	rc = vde_stackcmd(a, "/bin/busybox sh -c '/bin/busybox sleep 771 & exit 0'");
	CHECK(rc == 0, "a: sleep in the background (rc %d)", rc);
	REQUIRE(find_comm(getpid(), "busybox", pa, 4) == 1, "one sleep (a)");
	rc = vde_stackcmd(b, "/bin/busybox sh -c '/bin/busybox sleep 772 & exit 0'");
	CHECK(rc == 0, "b: sleep in the background (rc %d)", rc);
	int nb = find_comm(getpid(), "busybox", pb, 4);
	REQUIRE(nb == 2, "two sleeps");
	pid_t other = pb[0] == pa[0] ? pb[1] : pb[0];
	vde_delstack(a);
	ok = all_gone(pa, 1, 1.0, &took);
	CHECK(ok, "a's sleep is gone after deleting a");
	CHECK(vt_alive(other), "b's sleep still runs");
	rc = vde_stackcmd(b, "/bin/busybox true");
	CHECK(rc == 0, "b still runs commands (rc %d)", rc);
	vde_delstack(b);
	ok = all_gone(&other, 1, 1.0, &took);
	CHECK(ok, "b's sleep is gone after deleting b");
}

/* a host child: stacks, daemons, then it waits to be killed */
VT_TEST(host_sigkill_ends_daemons, 40)
{
	int sync[2];
	pid_t host, pids[32];
	int n = 0;
	double took;
	int ok;
	char c;

	REQUIRE(pipe(sync) == 0, "pipe");
	fflush(stdout);
	host = fork();
	if (host == 0) {
		struct vdestack *s = vde_addstack(NULL, NULL);
		struct vdestack *st = vde_addstack("=/bin/sleep 1000", NULL);
		pid_t d[16];
		int k;

		close(sync[0]);
		if (!s || !st)
			_exit(1);
		start_daemons(s, d, &k);
		if (write(sync[1], "r", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	close(sync[1]);
	REQUIRE(read(sync[0], &c, 1) == 1, "the host child started its daemons");
	close(sync[0]);
	n = find_comm(host, "busybox", pids, 30);
	CHECK(n >= 3, "httpd and both sleeps run below the host (%d)", n);
	int ns = find_comm(host, "sleep", pids + n, 2);
	CHECK(ns == 1, "and the stream command /bin/sleep 1000 (%d)", ns);
	n += ns;
	kill(host, SIGKILL);
	waitpid(host, NULL, 0);
	ok = all_gone(pids, n, 1.0, &took);
	CHECK(ok, "after SIGKILL of the host all %d are gone (%.2f s)",
			n, took);
}

/*
 * A stack's PID namespace init lives only while something runs in it
 * (pidns.c): the helper's live children are the stacks' inits and the
 * commands running.
 */

/* the one helper below us: our only live child */
static pid_t helper_pid(void)
{
	pid_t d[16];

	vt_reap();
	return vt_children(getpid(), d, 16) == 1 ? d[0] : -1;
}

/* seconds until the helper h has n live children (-1: not within secs) */
static double helper_children_settle(pid_t h, int n, double secs)
{
	pid_t d[64];
	double t0 = vt_now();

	do {
		if (vt_children(h, d, 64) == n)
			return vt_now() - t0;
		vt_sleep(0.01);
	} while (vt_now() - t0 < secs);
	return -1;
}

VT_TEST(idle_init_ends, 30)
{
	struct vdestack *s = vt_stack(NULL, NULL, NULL);
	pid_t h, d[4];
	double took;
	int rc;

	REQUIRE(s != NULL, "stack");
	h = helper_pid();
	REQUIRE(h > 0, "one helper below us (%d)", (int)h);
	CHECK(vt_children(h, d, 4) == 0, "a stack that ran nothing has no init");
	/* the command sees its init as a process of its own namespace */
	rc = vde_stackcmd(s, "/bin/busybox sh -c '/bin/busybox kill -0 1 && exit 42'");
	CHECK(rc == 42, "the command ran (and saw an init, pid 1) (rc %d)", rc);
	took = helper_children_settle(h, 0, 1.0);
	CHECK(took >= 0, "the stack's init is gone %.3f s after its command ended", took);
	rc = vde_stackcmd(s, "/bin/busybox sh -c 'exit 43'");
	CHECK(rc == 43, "the next command gets a new init and runs (rc %d)", rc);
	took = helper_children_settle(h, 0, 1.0);
	CHECK(took >= 0, "and that init is gone too (%.3f s)", took);
	vde_delstack(s);
}

VT_TEST(daemon_keeps_init, 30)
{
	struct vdestack *s = vt_stack(NULL, NULL, NULL);
	pid_t h, sl[4], init[4], both[2];
	double took;
	int rc, ok;

	REQUIRE(s != NULL, "stack");
	h = helper_pid();
	REQUIRE(h > 0, "one helper below us (%d)", (int)h);
	rc = vde_stackcmd(s, "/bin/busybox sh -c '/bin/busybox sleep 773 & exit 0'");
	CHECK(rc == 0, "sh -c 'sleep 773 &' returned (rc %d)", rc);
	REQUIRE(find_comm(getpid(), "busybox", sl, 4) == 1, "one sleep left behind");
	vt_sleep(0.5);	/* five lingers */
	REQUIRE(vt_children(h, init, 4) == 1, "the helper keeps one child: the init");
	CHECK(vt_alive(sl[0]), "the sleep still runs 0.5 s later");
	CHECK(vt_nspid(sl[0]) > 1, "in the stack's PID namespace (pid %d there)",
			(int)vt_nspid(sl[0]));
	rc = vde_stackcmd(s, "/bin/busybox sh -c 'exit 5'");
	CHECK(rc == 5, "a command beside the daemon runs (rc %d)", rc);
	vt_sleep(0.3);
	pid_t again[4];
	CHECK(vt_children(h, again, 4) == 1 && again[0] == init[0],
			"still the same init after that command ended");
	both[0] = sl[0];
	both[1] = init[0];
	vde_delstack(s);
	ok = all_gone(both, 2, 1.0, &took);
	CHECK(ok, "vde_delstack ends the daemon and the init (%.2f s)", took);
}

VT_TEST(back_to_back_commands, 60)
{
	struct vdestack *s = vt_stack(NULL, NULL, NULL);
	double t0;
	int rc, bad = 0;

	REQUIRE(s != NULL, "stack");
	t0 = vt_now();
	for (int i = 0; i < 100; i++) {
		rc = vt_cmd(s, "/bin/busybox sh -c 'exit %d'", i % 100);
		if (rc != i % 100 && bad++ < 3)
			vt_info("command %d: rc %d", i, rc);
	}
	CHECK(bad == 0, "100 back-to-back commands each returned their status "
			"(%d wrong, %.3f s)", bad, vt_now() - t0);
	vde_delstack(s);
}

/*
 * Commands at about the moment the idle init decides to exit: either the
 * command lands in the old namespace (which then lives on), or in a new one
 * (the old init was closing); never killed by the old init's exit.
 */
VT_TEST(command_as_init_exits, 90)
{
	struct vdestack *s = vt_stack(NULL, NULL, NULL);
	pid_t h;
	double took;
	int rc, bad = 0;

	REQUIRE(s != NULL, "stack");
	h = helper_pid();
	REQUIRE(h > 0, "one helper below us (%d)", (int)h);
	rc = vde_stackcmd(s, "/bin/busybox true");
	CHECK(rc == 0, "first command (rc %d)", rc);
	took = helper_children_settle(h, 0, 1.0);
	CHECK(took >= 0, "its init is gone (%.3f s)", took);
	rc = vde_stackcmd(s, "/bin/busybox sh -c 'exit 9'");
	CHECK(rc == 9, "a command right after the init exited runs (rc %d)", rc);
	/* around the linger (100 ms): 0.080 .. 0.125 s apart */
	for (int i = 0; i < 60; i++) {
		vt_sleep(0.080 + 0.0025 * (i % 19));
		rc = vt_cmd(s, "/bin/busybox sh -c 'exit %d'", 10 + i);
		if (rc != 10 + i && bad++ < 3)
			vt_info("command %d: rc %d", i, rc);
	}
	CHECK(bad == 0, "60 commands spaced about the linger each returned their status "
			"(%d wrong)", bad);
	vde_delstack(s);
	took = helper_children_settle(h, 0, 1.0);
	CHECK(took >= 0 || !vt_alive(h), "nothing left below the helper after the delete");
}
