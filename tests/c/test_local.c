// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_local.c - local://NAME: the stacks of one process on a network the
 * kernel moves (a bridge in a namespace of the helper): traffic between 2
 * and 8 stacks, isolation of names, the network gone with its last stack,
 * never shared with a forked child.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "vt.h"

#define KIB 1024

static int ping(struct vdestack *s, const char *ip)
{
	return vt_cmd(s, "/bin/busybox ping -c 1 -W 2 %s", ip);
}

/* the one helper below us: our only live child */
static pid_t helper_pid(void)
{
	pid_t d[16];
	int n;

	vt_reap();
	n = vt_children(getpid(), d, 16);
	return n == 1 ? d[0] : -1;
}

/*
 * The network namespaces pid holds through fds, as inode numbers, sorted;
 * and the one it is in (*cur).  Returns how many, or -1.
 */
static int netns_fds(pid_t pid, unsigned long *out, int max, unsigned long *cur)
{
	char path[300], link[128];
	struct dirent *e;
	ssize_t l;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	l = readlink(path, link, sizeof(link) - 1);
	if (l <= 0)
		return -1;
	link[l] = 0;
	*cur = strtoul(link + 5, NULL, 10);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)) && n < max) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid, e->d_name);
		l = readlink(path, link, sizeof(link) - 1);
		if (l > 0) {
			link[l] = 0;
			if (!strncmp(link, "net:[", 5))
				out[n++] = strtoul(link + 5, NULL, 10);
		}
	}
	closedir(d);
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
			unsigned long t = out[j];

			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

/* the inode of a stack's network namespace, through one of its sockets */
static unsigned long stack_ns(struct vdestack *s)
{
	int fd = vde_msocket(s, AF_INET, SOCK_DGRAM, 0), ns;
	struct stat sb;
	unsigned long ino = 0;

	if (fd < 0)
		return 0;
	ns = ioctl(fd, SIOCGSKNS);
	if (ns >= 0 && fstat(ns, &sb) == 0)
		ino = sb.st_ino;
	if (ns >= 0)
		close(ns);
	close(fd);
	return ino;
}

/* references to namespace ino from pid's fds and its own namespace */
static int refs_of(pid_t pid, unsigned long ino)
{
	unsigned long s[256], cur;
	int n = netns_fds(pid, s, 256, &cur), r = cur == ino;

	for (int i = 0; i < n; i++)
		r += s[i] == ino;
	return r;
}

static int in_set(unsigned long v, const unsigned long *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] == v)
			return 1;
	return 0;
}

VT_TEST(two_stacks, 60)
{
	struct vdestack *a = vt_stack("local://two", NULL, "10.77.0.1/24");
	struct vdestack *b = vt_stack("local://two", NULL, "10.77.0.2/24");
	char why[256] = "";

	REQUIRE(a && b, "two stacks on local://two");
	CHECK(ping(a, "10.77.0.2") == 0, "a pings b");
	CHECK(ping(b, "10.77.0.1") == 0, "b pings a");
	CHECK(vt_tcp_echo(a, b, "10.77.0.1", 7100, 4096 * KIB, why, sizeof(why)),
			"4 MiB TCP b -> a echoed back byte for byte %s", why);
	CHECK(vt_tcp_echo(b, a, "10.77.0.2", 7101, 256 * KIB, why, sizeof(why)),
			"256 KiB TCP a -> b echoed back byte for byte %s", why);
	vde_delstack(a);
	vde_delstack(b);
}

VT_TEST(eight_stacks, 90)
{
	struct vdestack *s[8];
	char cidr[32], ip[32], why[256] = "";
	int i, ok = 1;

	for (i = 0; i < 8; i++) {
		snprintf(cidr, sizeof(cidr), "10.77.0.%d/24", i + 1);
		s[i] = vt_stack("local://eight", i == 3 ? "eth3" : NULL, cidr);
		REQUIRE(s[i], "stack %d on local://eight", i);
	}
	CHECK(vt_cmd(s[3], "/bin/busybox ip link show eth3") == 0 &&
			vt_cmd(s[3], "/bin/busybox ip link show vde0") != 0,
			"the interface has the name asked for (eth3, no vde0)");
	for (i = 1; i < 8; i++) {
		snprintf(ip, sizeof(ip), "10.77.0.%d", i + 1);
		if (ping(s[0], ip) != 0) {
			ok = 0;
			vt_info("stack 0 cannot ping %s", ip);
		}
	}
	CHECK(ok, "stack 0 pings the 7 others");
	CHECK(ping(s[7], "10.77.0.4") == 0 && ping(s[5], "10.77.0.3") == 0,
			"other pairs ping each other too");
	CHECK(vt_tcp_echo(s[0], s[7], "10.77.0.1", 7200, 1024 * KIB, why, sizeof(why)),
			"1 MiB TCP 8 -> 1 echoed %s", why);
	CHECK(vt_tcp_echo(s[4], s[2], "10.77.0.5", 7201, 1024 * KIB, why, sizeof(why)),
			"1 MiB TCP 3 -> 5 echoed %s", why);
	for (i = 0; i < 8; i++)
		vde_delstack(s[i]);
}

/* more networks than the helper's first table holds (16): it grows, and a
 * slot freed by a network that ended is taken again */
VT_TEST(many_networks, 90)
{
	enum { NNET = 20 };
	struct vdestack *s[NNET][2];
	char vnl[32], ip[2][32];
	int i, j;

	memset(s, 0, sizeof(s));
	for (i = 0; i < NNET; i++)
		for (j = 0; j < 2; j++) {
			snprintf(vnl, sizeof(vnl), "local://many%d", i);
			snprintf(ip[j], sizeof(ip[j]), "10.78.%d.%d/24", i, j + 1);
			s[i][j] = vt_stack(vnl, NULL, ip[j]);
			REQUIRE(s[i][j], "stack %d of %s", j, vnl);
		}
	for (i = 0; i < NNET; i += NNET - 1) {
		snprintf(ip[0], sizeof(ip[0]), "10.78.%d.1", i);
		CHECK(ping(s[i][1], ip[0]) == 0, "network %d: b pings a", i);
	}
	/* network 3 ends; a new one takes its slot and works */
	vde_delstack(s[3][0]);
	vde_delstack(s[3][1]);
	s[3][0] = vt_stack("local://manynew", NULL, "10.79.0.1/24");
	s[3][1] = vt_stack("local://manynew", NULL, "10.79.0.2/24");
	REQUIRE(s[3][0] && s[3][1], "two stacks on local://manynew");
	CHECK(ping(s[3][0], "10.79.0.2") == 0, "the new network carries a ping");
	CHECK(ping(s[4][0], "10.79.0.2") != 0, "and only its own stacks reach it");
	for (i = 0; i < NNET; i++)
		for (j = 0; j < 2; j++)
			vde_delstack(s[i][j]);
}

VT_TEST(names_isolated, 60)
{
	struct vdestack *a = vt_stack("local://red", NULL, "10.77.0.1/24");
	struct vdestack *b = vt_stack("local://blue", NULL, "10.77.0.2/24");
	struct vdestack *c = vt_stack("local://red", NULL, "10.77.0.3/24");
	struct vdestack *d = vt_stack("local://blue", NULL, "10.77.0.4/24");
	int fd;

	REQUIRE(a && b && c && d, "two stacks on local://red, two on local://blue");
	CHECK(ping(c, "10.77.0.1") == 0, "red reaches red");
	CHECK(ping(d, "10.77.0.2") == 0, "blue reaches blue");
	CHECK(ping(b, "10.77.0.1") != 0 && ping(b, "10.77.0.3") != 0,
			"blue does not reach red");
	CHECK(ping(a, "10.77.0.2") != 0 && ping(c, "10.77.0.4") != 0,
			"red does not reach blue");
	fd = vt_connect(b, "10.77.0.1", 7300, 1.0);
	CHECK(fd < 0, "no TCP connection from blue to red");
	if (fd >= 0)
		close(fd);
	vde_delstack(a);
	vde_delstack(b);
	vde_delstack(c);
	vde_delstack(d);
}

/* a name pattern, as the kernel takes for a tap: the first free N */
VT_TEST(name_pattern, 30)
{
	struct vdestack *a = vde_addstack("local://pat", "lp%d");
	struct vdestack *b = vt_stack("local://pat", NULL, "10.77.0.2/24");

	REQUIRE(a && b, "a stack with interface \"lp%%d\" and one with vde0 on local://pat");
	CHECK(vt_cmd(a, "/bin/busybox ip link show lp0") == 0, "the interface is lp0");
	CHECK(vt_cmd(a, "/bin/busybox ip addr add 10.77.0.1/24 dev lp0;"
		     "/bin/busybox ip link set lp0 up") == 0 && ping(b, "10.77.0.1") == 0,
			"and it is on the network");
	vde_delstack(a);
	vde_delstack(b);
}

/* vdestack_addif() with local://: a router stack between two local networks */
VT_TEST(addif_router, 60)
{
	struct vdestack *a = vt_stack("local://left", NULL, "10.1.0.1/24");
	struct vdestack *b = vt_stack("local://right", NULL, "10.2.0.1/24");
	struct vdestack *r = vt_stack("local://left", NULL, "10.1.0.254/24");
	char why[256] = "";

	REQUIRE(a && b && r, "two hosts on local://left and local://right, a router on left");
	CHECK(vdestack_addif(r, "local://right", NULL) == 0,
			"vdestack_addif(router, \"local://right\", NULL) (%s)", strerror(errno));
	CHECK(vt_cmd(r, "/bin/busybox ip link show vde1") == 0, "it is the first free vdeN: vde1");
	CHECK(vt_cmd(r, "/bin/busybox ip addr add 10.2.0.254/24 dev vde1;"
		     "/bin/busybox ip link set vde1 up;"
		     "/bin/busybox sysctl -w net.ipv4.ip_forward=1") == 0, "router configured");
	CHECK(vt_cmd(a, "/bin/busybox ip route add default via 10.1.0.254") == 0 &&
	      vt_cmd(b, "/bin/busybox ip route add default via 10.2.0.254") == 0, "routes");
	CHECK(ping(a, "10.2.0.1") == 0, "left pings right through the router");
	CHECK(vt_tcp_echo(b, a, "10.2.0.1", 7400, 256 * KIB, why, sizeof(why)),
			"256 KiB TCP left -> right echoed through the router %s", why);
	errno = 0;
	CHECK(vdestack_addif(r, "local://right", "vde1") == -1 && errno == EEXIST,
			"a name taken in the stack: -1 EEXIST (%s)", strerror(errno));
	vde_delstack(r);
	CHECK(ping(a, "10.2.0.1") != 0, "without the router, no way through");
	vde_delstack(a);
	vde_delstack(b);
}

VT_TEST(bad_names, 30)
{
	struct vdestack *s;
	char vnl[300];

	errno = 0;
	s = vde_addstack("local://", NULL);
	CHECK(!s && errno == EINVAL, "local:// with no NAME: NULL, EINVAL (%s)", strerror(errno));
	memcpy(vnl, "local://", 8);
	memset(vnl + 8, 'n', 256);
	vnl[8 + 256] = 0;
	errno = 0;
	s = vde_addstack(vnl, NULL);
	CHECK(!s && errno == EINVAL, "a 256-byte NAME: NULL, EINVAL (%s)", strerror(errno));
	vnl[8 + 255] = 0;
	s = vde_addstack(vnl, NULL);
	CHECK(s != NULL, "a 255-byte NAME works (%s)", s ? "" : strerror(errno));
	vde_delstack(s);
}

/*
 * The network is gone with its last stack: the helper (kept by a stack of
 * no interface) holds no namespace more than before, and nothing of this
 * process or below is in the bridge's namespace; a deleted stack whose
 * namespace a socket keeps alive is off the network at once.
 */
VT_TEST(gone_with_last, 60)
{
	int fds0 = vt_count_fds();
	struct vdestack *keep = vt_stack(NULL, NULL, NULL), *a, *b, *c;
	unsigned long s0[64], s1[64], s2[64], cur, br = 0, ns[3];
	int n0, n1, n2, nextra = 0, fd, i, procs;
	pid_t h, d[16];
	double end;

	REQUIRE(keep, "a stack with no interface keeps the helper");
	h = helper_pid();
	REQUIRE(h > 0, "one helper below us (%d)", (int)h);
	n0 = netns_fds(h, s0, 64, &cur);
	REQUIRE(n0 >= 1, "the helper's namespace fds are readable (%d)", n0);

	a = vt_stack("local://gone", NULL, "10.77.0.1/24");
	b = vt_stack("local://gone", NULL, "10.77.0.2/24");
	c = vt_stack("local://gone", NULL, "10.77.0.3/24");
	REQUIRE(a && b && c, "three stacks on local://gone");
	CHECK(ping(a, "10.77.0.3") == 0, "a pings c");
	ns[0] = stack_ns(a);
	ns[1] = stack_ns(b);
	ns[2] = stack_ns(c);
	n1 = netns_fds(h, s1, 64, &cur);
	for (i = 0; i < n1; i++) {
		if (in_set(s1[i], s0, n0))
			continue;
		nextra++;
		if (!in_set(s1[i], ns, 3))
			br = s1[i];
	}
	CHECK(nextra == 4 && br, "the helper holds 4 more namespaces: 3 stacks' and the "
			"bridge's (%d, bridge %lu)", nextra, br);

	/* c is deleted while a socket keeps its namespace: it leaves at once */
	fd = vde_msocket(c, AF_INET, SOCK_DGRAM, 0);
	REQUIRE(fd >= 0, "a socket in c");
	vde_delstack(c);
	CHECK(ping(a, "10.77.0.3") != 0, "a deleted stack is off the network (its socket kept)");
	close(fd);

	vde_delstack(a);
	vde_delstack(b);
	n2 = netns_fds(h, s2, 64, &cur);
	CHECK(n2 == n0 && !memcmp(s0, s2, n0 * sizeof(*s0)),
			"after the last stack of local://gone the helper holds what it held before (%d, %d)",
			n0, n2);
	CHECK(br && refs_of(h, br) == 0 && refs_of(getpid(), br) == 0,
			"neither the helper nor we refer to the bridge's namespace: it is gone");

	/* the same NAME again: a new, empty network */
	a = vt_stack("local://gone", NULL, "10.77.0.1/24");
	REQUIRE(a, "local://gone again");
	CHECK(ping(a, "10.77.0.2") != 0, "the old members are not on it");
	n1 = netns_fds(h, s1, 64, &cur);
	CHECK(n1 == n0 + 2, "the helper holds 2 namespaces more: the stack's and a new bridge's (%d)",
			n1 - n0);
	vde_delstack(a);
	vde_delstack(keep);
	end = vt_now() + 2;
	while (((procs = vt_descendants(getpid(), d, 16)) > 0 || vt_count_fds() != fds0) &&
	       vt_now() < end) {
		vt_reap();
		vt_sleep(0.02);
	}
	CHECK(procs == 0, "no process left below us within 2 s (%d)", procs);
	CHECK(vt_count_fds() == fds0, "no fd of ours left (%d before, %d after)", fds0,
			vt_count_fds());
}

/*
 * A forked child has a helper, hence local networks, of its own: the
 * parent's local://NAME is out of its reach (documented: use a switch).
 */
VT_TEST(not_across_processes, 60)
{
	struct vdestack *a = vt_stack("local://fam", NULL, "10.77.0.1/24");
	struct vdestack *b = vt_stack("local://fam", NULL, "10.77.0.2/24");
	int status = -1;
	pid_t pid;

	REQUIRE(a && b, "two stacks in the parent");
	REQUIRE(ping(b, "10.77.0.1") == 0, "the parent's stacks ping each other");
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		struct vdestack *c = vde_addstack("local://fam", NULL);

		if (!c)
			_exit(2);
		if (vde_stackcmd(c, "/bin/busybox ip addr add 10.77.0.3/24 dev vde0;"
				 "/bin/busybox ip link set vde0 up") != 0)
			_exit(3);
		if (vde_stackcmd(c, "/bin/busybox ping -c 1 -W 2 10.77.0.1") == 0)
			_exit(4);	/* reached the parent's network */
		/* but its own local://fam works */
		struct vdestack *d = vde_addstack("local://fam", NULL);
		if (!d || vde_stackcmd(d, "/bin/busybox ip addr add 10.77.0.4/24 dev vde0;"
				       "/bin/busybox ip link set vde0 up") != 0)
			_exit(5);
		if (vde_stackcmd(d, "/bin/busybox ping -c 1 -W 2 10.77.0.3") != 0)
			_exit(6);
		vde_delstack(c);
		vde_delstack(d);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			"the child's local://fam is its own: made, usable, not the parent's "
			"(status %d: 2 no stack, 3 config, 4 reached the parent, 5/6 own net)",
			WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	CHECK(ping(a, "10.77.0.2") == 0, "the parent's network still works");
	CHECK(ping(a, "10.77.0.3") != 0, "and the child never joined it");
	vde_delstack(a);
	vde_delstack(b);
}
