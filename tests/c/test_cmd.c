// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_cmd.c - vde_stackcmd and vdestack_cmdv: exit statuses, ';'
 * sequences, quoting, refusal of relative paths, capabilities, and that the
 * command runs inside the stack.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "vt.h"

/* the four network capabilities: NET_BIND_SERVICE(10) NET_BROADCAST(11) NET_ADMIN(12) NET_RAW(13) */
#define NETCAPS 0x3c00ULL

static int exists(const char *path)
{
	return access(path, F_OK) == 0;
}

VT_TEST(status, 30)
{
	struct vdestack *s = vt_stack("null://", NULL, NULL);
	int rc;

	REQUIRE(s != NULL, "stack");
	rc = vde_stackcmd(s, "/bin/busybox true");
	CHECK(rc == 0, "\"/bin/busybox true\" -> 0 (rc %d)", rc);
	rc = vde_stackcmd(s, "/bin/busybox false");
	CHECK(rc == 1, "\"/bin/busybox false\" -> 1 (rc %d)", rc);
	rc = vde_stackcmd(s, "/bin/busybox sh -c 'exit 7'");
	CHECK(rc == 7, "\"sh -c 'exit 7'\" -> 7 (rc %d)", rc);
	rc = vde_stackcmd(s, "/bin/busybox sh -c 'exit 255'");
	CHECK(rc == 255, "\"sh -c 'exit 255'\" -> 255 (rc %d)", rc);
	rc = vde_stackcmd(s, "/nonexistent/vdstest-cmd");
	CHECK(rc == 127, "missing command -> 127 (rc %d)", rc);
	rc = vde_stackcmd(s, "/bin/busybox sh -c 'kill -9 $$'");
	CHECK(rc == 128 + 9, "command killing itself with SIGKILL -> 137 (rc %d)", rc);
	rc = vde_stackcmd(s, "/bin/busybox sh -c 'kill -15 $$'");
	CHECK(rc == 128 + 15, "command killing itself with SIGTERM -> 143 (rc %d)", rc);
	rc = vde_stackcmd(s, "/bin/busybox sh -c 'kill -6 $$'");
	CHECK(rc == 128 + 6, "command killing itself with SIGABRT -> 134 (rc %d)", rc);
	rc = vde_stackcmd(s, "/bin/busybox true");
	CHECK(rc == 0, "the stack still runs commands after all that (rc %d)", rc);
	vde_delstack(s);
}

VT_TEST(refused, 30)
{
	struct vdestack *s = vt_stack("null://", NULL, NULL);
	char *m1 = vt_path("m1"), *m2 = vt_path("m2"), cmd[1024];
	int rc, e;

	REQUIRE(s != NULL, "stack");
	errno = 0;
	rc = vde_stackcmd(s, "");
	e = errno;
	CHECK(rc == -1 && e == EINVAL, "empty string -> -1 EINVAL (rc %d, %s)", rc, strerror(e));

	snprintf(cmd, sizeof(cmd), "busybox touch %s", m1);
	errno = 0;
	rc = vde_stackcmd(s, cmd);
	e = errno;
	CHECK(rc == -1 && e == EINVAL, "relative path \"busybox ...\" -> -1 EINVAL (rc %d, %s)",
			rc, strerror(e));
	CHECK(!exists(m1), "and nothing ran");

	snprintf(cmd, sizeof(cmd), "/bin/busybox touch %s;bin/busybox touch %s", m1, m2);
	errno = 0;
	rc = vde_stackcmd(s, cmd);
	e = errno;
	CHECK(rc == -1 && e == EINVAL, "a relative path later in a sequence -> -1 EINVAL (rc %d, %s)",
			rc, strerror(e));
	CHECK(!exists(m1) && !exists(m2), "and nothing of the sequence ran (m1 %d, m2 %d)",
			exists(m1), exists(m2));

	snprintf(cmd, sizeof(cmd), "./busybox touch %s", m1);
	errno = 0;
	rc = vde_stackcmd(s, cmd);
	e = errno;
	CHECK(rc == -1 && e == EINVAL, "\"./busybox\" -> -1 EINVAL (rc %d, %s)", rc, strerror(e));
	CHECK(!exists(m1), "and nothing ran");

	char *argv[] = { "busybox", "true", NULL };
	errno = 0;
	rc = vdestack_cmdv(s, argv);
	e = errno;
	CHECK(rc == -1 && e == EINVAL, "vdestack_cmdv with relative argv[0] -> -1 EINVAL (rc %d, %s)",
			rc, strerror(e));
	rc = vde_stackcmd(s, "/bin/busybox true");
	CHECK(rc == 0, "the stack still works (rc %d)", rc);
	vde_delstack(s);
}

VT_TEST(sequence, 30)
{
	struct vdestack *s = vt_stack("null://", NULL, NULL);
	char *a = vt_path("a"), *b = vt_path("b"), *c = vt_path("c"), *after = vt_path("after");
	int rc;

	REQUIRE(s != NULL, "stack");
	rc = vt_cmd(s, "/bin/busybox touch %s;/bin/busybox touch %s;/bin/busybox touch %s", a, b, c);
	CHECK(rc == 0 && exists(a) && exists(b) && exists(c),
			"3 successful commands: all ran, 0 (rc %d, markers %d%d%d)", rc,
			exists(a), exists(b), exists(c));
	rc = vt_cmd(s, "/bin/busybox true;/bin/busybox sh -c 'exit 5';/bin/busybox touch %s", after);
	CHECK(rc == 5, "sequence returns the failing command's status 5 (rc %d)", rc);
	CHECK(!exists(after), "and stops there (marker %d)", exists(after));
	rc = vt_cmd(s, "/nonexistent/cmd;/bin/busybox touch %s", after);
	CHECK(rc == 127 && !exists(after), "a missing command stops the sequence with 127 (rc %d, marker %d)",
			rc, exists(after));
	rc = vt_cmd(s, "/bin/busybox sh -c 'kill -9 $$';/bin/busybox touch %s", after);
	CHECK(rc == 137 && !exists(after), "a killed command stops the sequence with 137 (rc %d, marker %d)",
			rc, exists(after));
	rc = vt_cmd(s, "  /bin/busybox true ; /bin/busybox touch %s  ", after);
	CHECK(rc == 0 && exists(after), "spaces around ';' are allowed (rc %d, marker %d)", rc,
			exists(after));
	vde_delstack(s);
}

VT_TEST(quoting, 30)
{
	struct vdestack *s = vt_stack("null://", NULL, NULL);
	char buf[256];
	int rc;

	REQUIRE(s != NULL, "stack");
	rc = vt_cmd(s, "/bin/busybox sh -c 'echo \"a;b\" > %s/q1'", vt_dir);
	vt_read_file(vt_path("q1"), buf, sizeof(buf));
	CHECK(rc == 0 && strcmp(buf, "a;b\n") == 0, "';' inside quotes is not a separator "
			"(rc %d, file \"%s\")", rc, buf);
	rc = vt_cmd(s, "/bin/busybox touch %s/sp\\ ace", vt_dir);
	CHECK(rc == 0 && exists(vt_path("sp ace")), "backslash-space keeps one argument (rc %d)", rc);
	rc = vt_cmd(s, "/bin/busybox touch \"%s/dq uote\"", vt_dir);
	CHECK(rc == 0 && exists(vt_path("dq uote")), "double quotes keep one argument (rc %d)", rc);
	rc = vt_cmd(s, "/bin/busybox touch '%s/sq uote'", vt_dir);
	CHECK(rc == 0 && exists(vt_path("sq uote")), "single quotes keep one argument (rc %d)", rc);
	rc = vt_cmd(s, "/bin/busybox sh -c 'printf %%s \"$1\" > %s/arg' x 'it'\\''s'", vt_dir);
	vt_read_file(vt_path("arg"), buf, sizeof(buf));
	CHECK(rc == 0 && strcmp(buf, "it's") == 0, "'it'\\''s' is one argument it's (rc %d, \"%s\")",
			rc, buf);
	vde_delstack(s);
}

VT_TEST(cmdv, 30)
{
	struct vdestack *s = vt_stack("null://", NULL, NULL);
	char *semi = vt_path("x;y"), *quote = vt_path("'q'");
	int rc;

	REQUIRE(s != NULL, "stack");
	char *a1[] = { "/bin/busybox", "sh", "-c", "exit 3", NULL };
	rc = vdestack_cmdv(s, a1);
	CHECK(rc == 3, "cmdv sh -c 'exit 3' -> 3 (rc %d)", rc);
	char *a2[] = { "/bin/busybox", "touch", semi, quote, NULL };
	rc = vdestack_cmdv(s, a2);
	CHECK(rc == 0 && exists(semi) && exists(quote),
			"cmdv passes ';' and quotes through untouched (rc %d)", rc);
	char *a3[] = { "/nonexistent/cmd", NULL };
	rc = vdestack_cmdv(s, a3);
	CHECK(rc == 127, "cmdv missing command -> 127 (rc %d)", rc);
	char *a4[] = { "/bin/busybox", "sh", "-c", "kill -9 $$", NULL };
	rc = vdestack_cmdv(s, a4);
	CHECK(rc == 137, "cmdv killed by SIGKILL -> 137 (rc %d)", rc);
	vde_delstack(s);
}

/* the command runs inside the stack's network namespace */
VT_TEST(in_stack, 30)
{
	struct vdestack *s = vt_stack("null://", NULL, NULL);
	int rc, fd, e1, e2;

	REQUIRE(s != NULL, "stack");
	rc = vde_stackcmd(s, "/bin/busybox ip addr add 10.77.0.9/24 dev vde0;"
			"/bin/busybox ip link set vde0 up");
	CHECK(rc == 0, "ip addr add / link set up (rc %d)", rc);
	fd = vde_msocket(s, AF_INET, SOCK_DGRAM, 0);
	e1 = fd < 0 ? errno : vt_bind(fd, "10.77.0.9", 0);
	close(fd);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	e2 = vt_bind(fd, "10.77.0.9", 0);
	close(fd);
	CHECK(e1 == 0 && e2 == EADDRNOTAVAIL, "the address is bindable in the stack (%s), not on the host (%s)",
			strerror(e1), strerror(e2));
	vde_delstack(s);
}

/* parse "CapEff:\t0000000000003c00" lines of a /proc/PID/status copy */
static int capline(const char *status, const char *key, unsigned long long *val)
{
	const char *p = strstr(status, key);

	if (!p)
		return -1;
	return sscanf(p + strlen(key), ":%llx", val) == 1 ? 0 : -1;
}

static void check_caps(const char *file, const char *how)
{
	char buf[4096];
	unsigned long long eff = ~0ULL, prm = ~0ULL, amb = ~0ULL, inh = ~0ULL, bnd = ~0ULL;

	if (vt_read_file(file, buf, sizeof(buf)) <= 0) {
		CHECK(0, "%s: the command wrote %s", how, file);
		return;
	}
	capline(buf, "CapEff", &eff);
	capline(buf, "CapPrm", &prm);
	capline(buf, "CapAmb", &amb);
	capline(buf, "CapInh", &inh);
	capline(buf, "CapBnd", &bnd);
	CHECK(eff == NETCAPS, "%s: CapEff is exactly the 4 net caps 0x3c00 (0x%llx)", how, eff);
	CHECK(prm == NETCAPS, "%s: CapPrm is exactly 0x3c00 (0x%llx)", how, prm);
	CHECK(amb == NETCAPS, "%s: CapAmb is exactly 0x3c00 (0x%llx)", how, amb);
	vt_info("%s: CapInh 0x%llx CapBnd 0x%llx", how, inh, bnd);
}

VT_TEST(caps, 30)
{
	struct vdestack *s = vt_stack("null://", NULL, NULL);
	int rc;

	REQUIRE(s != NULL, "stack");
	/* busybox cp: /proc/self is the exec'd command itself */
	rc = vt_cmd(s, "/bin/busybox cp /proc/self/status %s/st1", vt_dir);
	CHECK(rc == 0, "cp /proc/self/status (rc %d)", rc);
	check_caps(vt_path("st1"), "exec'd command");
	/* a second exec below the command keeps them (ambient), gains nothing */
	rc = vt_cmd(s, "/bin/busybox sh -c '/bin/busybox cat /proc/self/status > %s/st2; true'", vt_dir);
	CHECK(rc == 0, "sh -c 'cat /proc/self/status' (rc %d)", rc);
	check_caps(vt_path("st2"), "grandchild after a second exec");
	char *argv[] = { "/bin/busybox", "cp", "/proc/self/status", vt_path("st3"), NULL };
	rc = vdestack_cmdv(s, argv);
	CHECK(rc == 0, "cmdv cp /proc/self/status (rc %d)", rc);
	check_caps(vt_path("st3"), "vdestack_cmdv");
	/* the caps work: NET_ADMIN (set mtu) and NET_RAW (ping on lo) */
	rc = vde_stackcmd(s, "/bin/busybox ip link set lo mtu 1500");
	CHECK(rc == 0, "CAP_NET_ADMIN usable: ip link set lo mtu (rc %d)", rc);
	rc = vde_stackcmd(s, "/bin/busybox ip link set lo up;/bin/busybox ping -c 1 -W 2 127.0.0.1");
	CHECK(rc == 0, "CAP_NET_RAW usable: ping 127.0.0.1 in the stack (rc %d)", rc);
	vde_delstack(s);
}

/* a command that runs for a while blocks neither vde_msocket nor other stacks */
struct slow { struct vdestack *s; int rc; double secs; };

static void *slow_cmd(void *arg)
{
	struct slow *sl = arg;
	double t0 = vt_now();

	sl->rc = vde_stackcmd(sl->s, "/bin/busybox sleep 1");
	sl->secs = vt_now() - t0;
	return NULL;
}

VT_TEST(concurrent_with_msocket, 30)
{
	struct vdestack *s = vt_stack("null://", NULL, "10.77.0.1/24");
	struct vdestack *t = vt_stack("null://", NULL, NULL);
	struct slow sl = { s, -2, 0 };
	pthread_t th;
	double worst = 0;
	int bad = 0, rc;

	REQUIRE(s && t, "two stacks");
	pthread_create(&th, NULL, slow_cmd, &sl);
	vt_sleep(0.2);
	for (int i = 0; i < 20; i++) {
		double t0 = vt_now();
		int fd = vde_msocket(s, AF_INET, SOCK_DGRAM, 0);
		double dt = vt_now() - t0;
		if (dt > worst)
			worst = dt;
		if (fd < 0 || vt_bind(fd, "10.77.0.1", 0) != 0)
			bad++;
		if (fd >= 0)
			close(fd);
	}
	double t0 = vt_now();
	rc = vde_stackcmd(t, "/bin/busybox true");
	double dcmd = vt_now() - t0;
	pthread_join(th, NULL);
	CHECK(sl.rc == 0 && sl.secs >= 0.9, "sleep 1 in the stack: rc %d after %.2f s", sl.rc, sl.secs);
	CHECK(bad == 0 && worst < 0.5, "20 vde_msocket while a command runs: %d failed, slowest %.3f s",
			bad, worst);
	CHECK(rc == 0 && dcmd < 0.5, "a command in another stack meanwhile: rc %d in %.3f s", rc, dcmd);
	vde_delstack(s);
	vde_delstack(t);
}

/* the first line of a file written by a command, "" if none */
static const char *first_line(const char *path)
{
	static char buf[512];
	ssize_t n = vt_read_file(path, buf, sizeof(buf));

	if (n < 0)
		return "";
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

VT_TEST(environment_now, 30)
{
	struct vdestack *s = vt_stack(NULL, NULL, NULL);
	char *out = vt_path("env.out"), cmd[512];
	int rc;

	REQUIRE(s != NULL, "stack");
	unsetenv("VDST_LATE");
	snprintf(cmd, sizeof(cmd), "/bin/busybox sh -c 'echo \"[$VDST_LATE]\" > %s'", out);
	rc = vde_stackcmd(s, cmd);
	CHECK(rc == 0 && !strcmp(first_line(out), "[]"), "before setenv: \"%s\" (rc %d)",
			first_line(out), rc);
	setenv("VDST_LATE", "set between two commands", 1);
	rc = vde_stackcmd(s, cmd);
	CHECK(rc == 0 && !strcmp(first_line(out), "[set between two commands]"),
			"after setenv the next command sees it: \"%s\" (rc %d)", first_line(out), rc);
	/* the same through vdestack_cmdv */
	char inner[512];
	snprintf(inner, sizeof(inner), "echo \"[$VDST_LATE]\" > %s", out);
	char *const av[] = { "/bin/busybox", "sh", "-c", inner, NULL };
	unsetenv("VDST_LATE");
	rc = vdestack_cmdv(s, av);
	CHECK(rc == 0 && !strcmp(first_line(out), "[]"), "vdestack_cmdv after unsetenv: \"%s\" (rc %d)",
			first_line(out), rc);
	vde_delstack(s);
}

VT_TEST(cmdve, 30)
{
	struct vdestack *s = vt_stack(NULL, NULL, NULL);
	char *out = vt_path("env.out"), inner[512];
	int rc, e;

	REQUIRE(s != NULL, "stack");
	setenv("VDST_HOST", "host value", 1);
	snprintf(inner, sizeof(inner), "echo \"[$VDST_MINE][$VDST_HOST]\" > %s", out);
	char *const av[] = { "/bin/busybox", "sh", "-c", inner, NULL };
	char *const env[] = { "VDST_MINE=given", NULL };
	rc = vdestack_cmdve(s, av, env);
	CHECK(rc == 0 && !strcmp(first_line(out), "[given][]"),
			"explicit environment, and only it: \"%s\" (rc %d)", first_line(out), rc);
	char *const none[] = { NULL };
	rc = vdestack_cmdve(s, av, none);
	CHECK(rc == 0 && !strcmp(first_line(out), "[][]"), "empty environment: \"%s\" (rc %d)",
			first_line(out), rc);
	rc = vdestack_cmdve(s, av, NULL);
	CHECK(rc == 0 && !strncmp(first_line(out), "[][host value]", 14),
			"NULL: the caller's environment: \"%s\" (rc %d)", first_line(out), rc);

	/* limits: 128 KiB of environment, 64 KiB of arguments */
	size_t big = 131072;
	char *v = malloc(big + 16);
	REQUIRE(v != NULL, "malloc");
	memset(v, 'x', big + 15);
	memcpy(v, "BIG=", 4);
	v[big - 1] = 0;		/* exactly 131072 bytes with its NUL: accepted */
	char *const fits[] = { v, NULL };
	rc = vdestack_cmdve(s, av, fits);
	CHECK(rc == 0, "an environment of exactly 131072 bytes runs (rc %d)", rc);
	v[big - 1] = 'x';
	v[big] = 0;		/* one more byte */
	char *const toobig[] = { v, NULL };
	errno = 0;
	rc = vdestack_cmdve(s, av, toobig);
	e = errno;
	CHECK(rc == -1 && e == E2BIG, "131073 bytes: -1 E2BIG (rc %d, %s)", rc, strerror(e));
	char *const bigarg[] = { "/bin/busybox", "true", v, NULL };
	errno = 0;
	rc = vdestack_cmdve(s, bigarg, none);
	e = errno;
	CHECK(rc == -1 && e == E2BIG, "an argument of 128 KiB: -1 E2BIG (rc %d, %s)", rc, strerror(e));
	free(v);
	rc = vdestack_cmdve(s, av, env);
	CHECK(rc == 0 && !strcmp(first_line(out), "[given][]"), "and the stack still works (rc %d)", rc);
	vde_delstack(s);
}

VT_TEST(cmdve_largest, 30)
{
	struct vdestack *s = vt_stack(NULL, NULL, NULL);
	char *out = vt_path("env.out"), inner[512];
	/* 64 KiB of arguments and 128 KiB of environment: the largest request */
	size_t arglen = 65536, envlen = 131072;
	char *arg = malloc(arglen), *env = malloc(envlen);
	int rc;

	REQUIRE(s && arg && env, "stack and buffers");
	snprintf(inner, sizeof(inner), "echo ${#BIG} ${#1} > %s", out);
	/* argv strings with their NULs: "/bin/busybox" "sh" "-c" inner "x" arg */
	size_t used = strlen("/bin/busybox") + 1 + 3 + 3 + strlen(inner) + 1 + 2;
	memset(arg, 'a', arglen - used - 1);
	arg[arglen - used - 1] = 0;
	memcpy(env, "BIG=", 4);
	memset(env + 4, 'e', envlen - 5);
	env[envlen - 1] = 0;
	char *const av[] = { "/bin/busybox", "sh", "-c", inner, "x", arg, NULL };
	char *const ev[] = { env, NULL };
	rc = vdestack_cmdve(s, av, ev);
	char buf[64] = "";
	vt_read_file(out, buf, sizeof(buf));
	buf[strcspn(buf, "\n")] = 0;
	char want[64];
	snprintf(want, sizeof(want), "%zu %zu", envlen - 5, strlen(arg));
	CHECK(rc == 0 && !strcmp(buf, want),
			"64 KiB of arguments and 128 KiB of environment arrive whole: \"%s\" (want \"%s\", "
			"rc %d)", buf, want, rc);
	free(arg);
	free(env);
	vde_delstack(s);
}
