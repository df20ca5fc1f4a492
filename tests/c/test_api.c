// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_api.c - vde_addstack / vde_delstack / vde_msocket / vdestack_stats:
 * arguments, error paths, NULL and deleted stacks, what a new stack holds.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "vt.h"

#define EBAD(e) ((e) == EINVAL || (e) == EBADF)

/* processes below us, helpers included */
static int nproc(void)
{
	pid_t d[256];

	vt_reap();
	return vt_descendants(getpid(), d, 256);
}

/* wait (up to secs) until at most n descendants are left */
static int settle_procs(int n, double secs)
{
	double end = vt_now() + secs;
	int have;

	while ((have = nproc()) > n && vt_now() < end)
		vt_sleep(0.02);
	return have;
}

VT_TEST(version_and_symbols, 20)
{
	const char *v = vdestack_version();

	CHECK(v && strcmp(v, VT_EXPECTED_VERSION) == 0,
			"vdestack_version() is \"%s\" (the CMake project version): \"%s\"",
			VT_EXPECTED_VERSION, v ? v : "(null)");
	CHECK(dlsym(RTLD_DEFAULT, "vde_stack_onecmd") != NULL,
			"vde_stack_onecmd is exported (the original exports it)");
	CHECK(dlsym(RTLD_DEFAULT, "vds_stackcmd_intr") == NULL,
			"internal vds_stackcmd_intr is not exported (-fvisibility=hidden)");
#ifdef VDESTACK_EXTENSIONS
	CHECK(VDESTACK_STATUS_NOEXEC == 127 && VDESTACK_STATUS_SIGNAL == 128,
			"status constants 127 / 128+N");
#endif
}

VT_TEST(bad_vnl, 30)
{
	int fds0 = vt_count_fds(), procs0 = nproc(), e;
	struct vdestack *s;
	char *missing = vt_path("no-such-switch");
	char vnl[2 * VT_MAXPATH];

	errno = 0;
	s = vde_addstack("nosuchplugin://vdstest", NULL);
	e = errno;
	CHECK(s == NULL && e != 0, "unknown plugin: NULL with errno set (%s)", strerror(e));

	snprintf(vnl, sizeof(vnl), "vde://%s", missing);
	errno = 0;
	s = vde_addstack(vnl, NULL);
	e = errno;
	CHECK(s == NULL && e != 0, "vde:// to a missing switch: NULL with errno set (%s)",
			strerror(e));

	snprintf(vnl, sizeof(vnl), "ptp://%s/no-such-dir/link", vt_dir);
	errno = 0;
	s = vde_addstack(vnl, NULL);
	e = errno;
	CHECK(s == NULL && e != 0, "ptp:// in a missing directory: NULL with errno set (%s)",
			strerror(e));

	errno = 0;
	s = vde_addstack("=vdstest-no-such-command", NULL);
	e = errno;
	CHECK(s == NULL && e != 0, "stream mode with a command not on PATH: NULL with errno set (%s)",
			strerror(e));

	CHECK(settle_procs(procs0, 2) == procs0, "failed vde_addstack calls leave no process");
	CHECK(vt_count_fds() == fds0, "failed vde_addstack calls leave no fd (%d before, %d after)",
			fds0, vt_count_fds());

	/* the library still works after the failures */
	s = vt_stack("null://", NULL, NULL);
	CHECK(s != NULL, "a good VNL works after the failures");
	if (s)
		vde_delstack(s);
}

VT_TEST(ifname, 30)
{
	struct vdestack *s;
	int rc, e, fds0 = vt_count_fds();

	errno = 0;
	s = vde_addstack("null://", "abcdefghijklmnop");
	e = errno;
	CHECK(s == NULL && e == EINVAL, "16-byte ifname: NULL, errno EINVAL (%s)", strerror(e));

	s = vde_addstack("null://", "abcdefghijklmno");
	CHECK(s != NULL, "15-byte ifname accepted (%s)", s ? "ok" : strerror(errno));
	if (s) {
		rc = vde_stackcmd(s, "/bin/busybox ip link show abcdefghijklmno");
		CHECK(rc == 0, "interface abcdefghijklmno exists in the stack (rc %d)", rc);
		rc = vde_stackcmd(s, "/bin/busybox ip link show vde0");
		CHECK(rc != 0 && rc != -1, "and there is no vde0 (rc %d)", rc);
		CHECK(if_nametoindex("abcdefghijklmno") == 0, "the interface is not on the host");
		vde_delstack(s);
	}

	s = vde_addstack("null://", NULL);
	CHECK(s != NULL, "ifname NULL accepted");
	if (s) {
		rc = vde_stackcmd(s, "/bin/busybox ip link show vde0");
		CHECK(rc == 0, "ifname NULL gives vde0 (rc %d)", rc);
		vde_delstack(s);
	}

	s = vde_addstack("null://", "vdst_custom");
	CHECK(s != NULL, "ifname \"vdst_custom\" accepted");
	if (s) {
		rc = vde_stackcmd(s, "/bin/busybox ip link set vdst_custom up;"
				"/bin/busybox ip addr add 10.77.9.1/24 dev vdst_custom");
		CHECK(rc == 0, "vdst_custom can be configured (rc %d)", rc);
		vde_delstack(s);
	}
	CHECK(vt_settle_fds(fds0, 1.0) == fds0, "no fd left within 1 s (%d before, %d after)", fds0,
			vt_count_fds());
}

/* a tap that the kernel refuses: NULL with errno, never a stack that hangs */
VT_TEST(tap_fails, 30)
{
	static char *bad[] = { "bad/name", "bad name", "..", "bad:name" };
	int procs0 = nproc(), fds0 = vt_count_fds();

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		double t0 = vt_now();
		errno = 0;
		struct vdestack *s = vde_addstack("null://", bad[i]);
		int e = errno;
		CHECK(s == NULL && e != 0, "ifname \"%s\" (invalid for the kernel): NULL with errno (%s) "
				"after %.2f s", bad[i], strerror(e), vt_now() - t0);
		if (s) {
			int rc = vde_stackcmd(s, "/bin/busybox true");
			vt_info("the stack was created anyway; vde_stackcmd returned %d", rc);
			vde_delstack(s);
		}
	}
	CHECK(settle_procs(procs0, 2) == procs0, "nothing left running");
	CHECK(vt_settle_fds(fds0, 1.0) == fds0, "no fd left within 1 s (%d before, %d after)", fds0,
			vt_count_fds());
	struct vdestack *s = vt_stack("null://", NULL, "10.77.0.1/24");
	CHECK(s != NULL, "a valid stack afterwards");
	if (s)
		vde_delstack(s);
}

/* the kernel's rule for names (dev_valid_name), checked before anything starts */
VT_TEST(ifname_rule, 30)
{
	static const char *bad[] = {
		"", ".", "..", "a/b", "a:b", "a b", "a\tb", "a\nb", "a\vb",
		"a\fb", "a\rb", "a\xa0" "b", "abcdefghijklmnop",
	};
	int procs0 = nproc(), fds0 = vt_count_fds(), rc;
	struct vdestack *s;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		s = vde_addstack("null://", (char *)bad[i]);
		CHECK(s == NULL && errno == EINVAL, "ifname #%zu (\"%s\"): NULL, errno EINVAL (%s)",
		      i, bad[i], strerror(errno));
		if (s)
			vde_delstack(s);
		errno = 0;
		s = vde_addstack(NULL, (char *)bad[i]);
		CHECK(s == NULL && errno == EINVAL, "the same without a VNL: EINVAL (%s)",
		      strerror(errno));
		if (s)
			vde_delstack(s);
	}
	CHECK(settle_procs(procs0, 2) == procs0, "nothing was started");
	CHECK(vt_count_fds() == fds0, "no fd left (%d before, %d after)", fds0, vt_count_fds());
	/* what the kernel does take, dots and signs included */
	s = vde_addstack("null://", "a.b-c_d@e+f");
	CHECK(s != NULL, "ifname \"a.b-c_d@e+f\" accepted (%s)", s ? "ok" : strerror(errno));
	if (s) {
		rc = vde_stackcmd(s, "/bin/busybox ip link show a.b-c_d@e+f");
		CHECK(rc == 0, "the interface exists in the stack (rc %d)", rc);
		vde_delstack(s);
	}
}

/* NULL and "" VNL: a stack with loopback only; lo is up */
VT_TEST(no_interface, 30)
{
	char *vnls[] = { NULL, "" };

	for (int i = 0; i < 2; i++) {
		const char *what = vnls[i] ? "\"\"" : "NULL";
		struct vdestack *s = vde_addstack(vnls[i], NULL);
		char why[256] = "";
		int rc;

		CHECK(s != NULL, "vde_addstack(%s, NULL) gives a stack (%s)", what,
				s ? "ok" : strerror(errno));
		if (!s)
			continue;
		rc = vde_stackcmd(s, "/bin/busybox true");
		CHECK(rc == 0, "%s VNL: vde_stackcmd returns (rc %d)", what, rc);
		rc = vde_stackcmd(s, "/bin/busybox ip link show vde0");
		CHECK(rc > 0, "%s VNL: no vde0 in the stack (rc %d)", what, rc);
		CHECK(vt_tcp_echo(s, s, "127.0.0.1", 7001, 4096, why, sizeof(why)),
				"%s VNL: TCP echo over 127.0.0.1 inside the stack (lo is up) %s", what, why);
		vde_delstack(s);
	}
}

VT_TEST(lo_up, 30)
{
	struct vdestack *s = vt_stack("null://", NULL, NULL);
	char why[256] = "";

	REQUIRE(s != NULL, "stack");
	CHECK(vt_tcp_echo(s, s, "127.0.0.1", 7002, 65536, why, sizeof(why)),
			"a fresh stack has lo up: 64 KiB TCP echo over 127.0.0.1 %s", why);
	vde_delstack(s);
}

VT_TEST(null_stack, 20)
{
	struct vdestack_stats st;
	char *argv[] = { "/bin/busybox", "true", NULL };
	int rc, e;

	errno = 0;
	rc = vde_msocket(NULL, AF_INET, SOCK_STREAM, 0);
	e = errno;
	CHECK(rc == -1 && EBAD(e), "vde_msocket(NULL): -1 EINVAL/EBADF (rc %d, %s)", rc, strerror(e));
	errno = 0;
	rc = vde_stackcmd(NULL, "/bin/busybox true");
	e = errno;
	CHECK(rc == -1 && EBAD(e), "vde_stackcmd(NULL): -1 EINVAL/EBADF (rc %d, %s)", rc, strerror(e));
	errno = 0;
	rc = vdestack_stats(NULL, &st);
	e = errno;
	CHECK(rc == -1 && EBAD(e), "vdestack_stats(NULL): -1 EINVAL/EBADF (rc %d, %s)", rc, strerror(e));
	errno = 0;
	rc = vdestack_cmdv(NULL, argv);
	e = errno;
	CHECK(rc == -1 && EBAD(e), "vdestack_cmdv(NULL): -1 EINVAL/EBADF (rc %d, %s)", rc, strerror(e));
	vde_delstack(NULL);
	CHECK(1, "vde_delstack(NULL) returns");
	vde_default_stack(NULL);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK(fd >= 0, "vde_default_stack(NULL) without a default: socket() still works");
	close(fd);

	/* bad arguments with a valid stack */
	struct vdestack *s = vt_stack("null://", NULL, NULL);
	REQUIRE(s != NULL, "stack");
	errno = 0;
	rc = vde_stackcmd(s, NULL);
	e = errno;
	CHECK(rc == -1 && e == EINVAL, "vde_stackcmd(s, NULL): -1 EINVAL (rc %d, %s)", rc, strerror(e));
	errno = 0;
	rc = vdestack_stats(s, NULL);
	e = errno;
	CHECK(rc == -1 && e == EINVAL, "vdestack_stats(s, NULL): -1 EINVAL (rc %d, %s)", rc, strerror(e));
	errno = 0;
	rc = vdestack_cmdv(s, NULL);
	e = errno;
	CHECK(rc == -1 && e == EINVAL, "vdestack_cmdv(s, NULL): -1 EINVAL (rc %d, %s)", rc, strerror(e));
	char *empty[] = { NULL };
	errno = 0;
	rc = vdestack_cmdv(s, empty);
	e = errno;
	CHECK(rc == -1 && e == EINVAL, "vdestack_cmdv(s, {NULL}): -1 EINVAL (rc %d, %s)", rc, strerror(e));
	rc = vde_stackcmd(s, "/bin/busybox true");
	CHECK(rc == 0, "the stack still works (rc %d)", rc);
	vde_delstack(s);
}

static void deleted_calls(struct vdestack *dead, const char *when)
{
	struct vdestack_stats st;
	char *argv[] = { "/bin/busybox", "true", NULL };
	int rc, e;

	errno = 0;
	rc = vde_msocket(dead, AF_INET, SOCK_STREAM, 0);
	e = errno;
	CHECK(rc == -1 && EBAD(e), "%s: vde_msocket on the deleted stack: -1 EINVAL/EBADF (rc %d, %s)",
			when, rc, strerror(e));
	if (rc >= 0)
		close(rc);
	errno = 0;
	rc = vde_stackcmd(dead, "/bin/busybox true");
	e = errno;
	CHECK(rc == -1 && EBAD(e), "%s: vde_stackcmd on the deleted stack: -1 EINVAL/EBADF (rc %d, %s)",
			when, rc, strerror(e));
	errno = 0;
	rc = vdestack_stats(dead, &st);
	e = errno;
	CHECK(rc == -1 && EBAD(e), "%s: vdestack_stats on the deleted stack: -1 EINVAL/EBADF (rc %d, %s)",
			when, rc, strerror(e));
	errno = 0;
	rc = vdestack_cmdv(dead, argv);
	e = errno;
	CHECK(rc == -1 && EBAD(e), "%s: vdestack_cmdv on the deleted stack: -1 EINVAL/EBADF (rc %d, %s)",
			when, rc, strerror(e));
	vde_delstack(dead);
	CHECK(1, "%s: vde_delstack on the deleted stack returns", when);
}

VT_TEST(deleted_stack, 30)
{
	/* keep one stack alive so that the helper is still there */
	struct vdestack *keep = vt_stack("null://", NULL, "10.77.0.1/24");
	struct vdestack *s = vt_stack("null://", NULL, "10.77.0.2/24"), *copy;
	int rc, fd, e;

	REQUIRE(keep && s, "two stacks");
	copy = s;
	vde_delstack(s);
	deleted_calls(copy, "another stack alive");

	rc = vde_stackcmd(keep, "/bin/busybox true");
	CHECK(rc == 0, "the other stack still runs commands (rc %d)", rc);
	fd = vde_msocket(keep, AF_INET, SOCK_DGRAM, 0);
	e = fd < 0 ? errno : vt_bind(fd, "10.77.0.1", 0);
	CHECK(fd >= 0 && e == 0, "the other stack still makes sockets in itself (%s)", strerror(e));
	if (fd >= 0)
		close(fd);

	/* the last stack: the helper goes away */
	copy = keep;
	vde_delstack(keep);
	deleted_calls(copy, "last stack deleted");

	/* and a new one works */
	s = vt_stack("null://", NULL, "10.77.0.3/24");
	CHECK(s != NULL, "a new stack after all that");
	if (s)
		vde_delstack(s);
}

VT_TEST(msocket, 30)
{
	struct vdestack *s = vt_stack("null://", NULL, "10.77.0.1/24");
	int fd, v, e;
	socklen_t l = sizeof(v);

	REQUIRE(s != NULL, "stack");
	fd = vde_msocket(s, AF_INET, SOCK_STREAM, 0);
	CHECK(fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l) == 0 && v == SOCK_STREAM,
			"AF_INET/SOCK_STREAM: a TCP socket (fd %d)", fd);
	e = fd < 0 ? errno : vt_bind(fd, "10.77.0.1", 0);
	CHECK(e == 0, "it binds to the stack's address (%s)", strerror(e));
	close(fd);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	e = vt_bind(fd, "10.77.0.1", 0);
	CHECK(e == EADDRNOTAVAIL, "a host socket cannot bind it (%s)", strerror(e));
	close(fd);

	fd = vde_msocket(s, AF_INET6, SOCK_DGRAM, 0);
	CHECK(fd >= 0, "AF_INET6/SOCK_DGRAM (%s)", fd >= 0 ? "ok" : strerror(errno));
	close(fd);
	fd = vde_msocket(s, AF_UNIX, SOCK_SEQPACKET, 0);
	CHECK(fd >= 0, "AF_UNIX/SOCK_SEQPACKET (%s)", fd >= 0 ? "ok" : strerror(errno));
	close(fd);
	fd = vde_msocket(s, AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK) && (fcntl(fd, F_GETFD) & FD_CLOEXEC),
			"SOCK_NONBLOCK|SOCK_CLOEXEC honoured (fd %d)", fd);
	close(fd);
	fd = vde_msocket(s, AF_INET, SOCK_STREAM, 0);
	CHECK(fd >= 0 && !(fcntl(fd, F_GETFL) & O_NONBLOCK) && !(fcntl(fd, F_GETFD) & FD_CLOEXEC),
			"without flags: blocking and inherited by exec, like socket(2) (fd %d)", fd);
	close(fd);

	errno = 0;
	fd = vde_msocket(s, 12345, SOCK_STREAM, 0);
	e = errno;
	CHECK(fd == -1 && e == EAFNOSUPPORT, "bad domain: -1 EAFNOSUPPORT (fd %d, %s)", fd, strerror(e));
	errno = 0;
	fd = vde_msocket(s, AF_INET, 12345, 0);
	e = errno;
	CHECK(fd == -1 && e == EINVAL, "bad type: -1 EINVAL (fd %d, %s)", fd, strerror(e));
	errno = 0;
	fd = vde_msocket(s, AF_INET, SOCK_STREAM, IPPROTO_UDP);
	e = errno;
	CHECK(fd == -1 && e == EPROTONOSUPPORT, "TCP with IPPROTO_UDP: -1 EPROTONOSUPPORT (fd %d, %s)",
			fd, strerror(e));
	vde_delstack(s);
}

VT_TEST(stats_fresh, 20)
{
	struct vdestack *s = vt_stack("null://", NULL, NULL);
	struct vdestack_stats st;
	int rc;

	REQUIRE(s != NULL, "stack");
	memset(&st, 0xff, sizeof(st));
	rc = vdestack_stats(s, &st);
	CHECK(rc == 0, "vdestack_stats on a new stack returns 0 (rc %d)", rc);
	CHECK(st.rx_frames == 0 && st.rx_runt == 0 && st.rx_oversize == 0 && st.hung_up == 0,
			"a new stack on null:// received nothing and is not hung up "
			"(rx %llu runt %llu oversize %llu hung_up %u)",
			(unsigned long long)st.rx_frames, (unsigned long long)st.rx_runt,
			(unsigned long long)st.rx_oversize, st.hung_up);
	vde_delstack(s);
}
