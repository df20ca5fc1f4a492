// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_recover.c - what must not outlast or outlive a stack (issue 9): a
 * helper killed is replaced for new stacks, and says why when it cannot
 * start; deleted stacks leave no neighbour entries in the kernel's shared
 * table; a stream command that stops reading stalls only its own stack; a
 * switch or ptp endpoint left by a SIGKILLed owner is reclaimed, a live one
 * never stolen; zero-length datagrams are counted.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <libvdeplug.h>

#include "vt.h"

/* direct children of this process (the helper, a keeper), at most max */
static int own_children(pid_t *out, int max)
{
	pid_t all[256];
	int n = vt_descendants(getpid(), all, 256), k = 0;

	for (int i = 0; i < n && k < max; i++) {
		char path[64], buf[512], *p;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)all[i]);
		if (vt_read_file(path, buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
			continue;
		if (atoi(p + 4) == getpid() && vt_alive(all[i]))
			out[k++] = all[i];
	}
	return k;
}

/* ------------------------------------------------------------- helper --- */

VT_TEST(helper_killed_is_replaced, 60)
{
	struct vdestack *old = vt_stack(NULL, NULL, NULL);
	pid_t kids[8], helper, again[8];
	char cmd[128], why[256];
	int n, rc, e;

	REQUIRE(old != NULL, "a first stack");
	n = own_children(kids, 8);
	REQUIRE(n == 1, "one helper below us (%d)", n);
	helper = kids[0];
	/* a command in the stack cannot even name it: its own PID namespace */
	snprintf(cmd, sizeof(cmd), "/bin/busybox kill -9 %d", (int)helper);
	rc = vde_stackcmd(old, cmd);
	CHECK(rc != 0 && vt_alive(helper),
			"\"kill -9 <helper's pid>\" from inside the stack fails (rc %d), the helper lives",
			rc);
	/* someone with our uid outside the stack can */
	kill(helper, SIGKILL);
	for (int i = 0; i < 100 && vt_alive(helper); i++)
		vt_sleep(0.01);
	errno = 0;
	rc = vde_stackcmd(old, "/bin/busybox true");
	e = errno;
	CHECK(rc == -1 && (e == ECONNRESET || e == EIO || e == EPIPE),
			"the old stack reports its loss: rc %d, %s", rc, strerror(e));
	/* new stacks get a new helper, and work */
	char vnl[2 * VT_MAXPATH];
	snprintf(vnl, sizeof(vnl), "ptp://%s/link", vt_dir);
	struct vdestack *a = vt_stack(vnl, NULL, "10.77.0.1/24");
	struct vdestack *b = vt_stack(vnl, NULL, "10.77.0.2/24");
	REQUIRE(a && b, "two new stacks after the helper's death");
	n = own_children(again, 8);
	CHECK(n == 1 && again[0] != helper, "a new helper (%d, was %d)", n ? (int)again[0] : -1,
			(int)helper);
	CHECK(vt_tcp_echo(a, b, "10.77.0.1", 7777, 100000, why, sizeof(why)),
			"100 kB echoed between the new stacks %s", why);
	rc = vde_stackcmd(a, "/bin/busybox true");
	CHECK(rc == 0, "commands run in the new stacks (rc %d)", rc);
	vde_delstack(old);
	vde_delstack(a);
	vde_delstack(b);
	vt_reap();
}

/*
 * A helper that cannot start tells why.  In a child with a known fd layout
 * (0-2 only) and 6, 7 or 8 fds allowed, the library's own fds fit, and the
 * helper's do not (at 6 it used to give ECONNRESET): EMFILE.
 */
static int addstack_errno(int maxfds)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct rlimit rl;
		struct vdestack *s;
		int e;

		syscall(SYS_close_range, 3, ~0U, 0);
		for (int fd = 0; fd < 3; fd++)
			if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
				_exit(100);
		rl.rlim_cur = rl.rlim_max = maxfds;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(101);
		errno = 0;
		s = vde_addstack(NULL, NULL);
		e = errno;
		_exit(s ? 0 : e);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

VT_TEST(helper_start_errno, 30)
{
	for (int max = 6; max <= 8; max++) {
		int e = addstack_errno(max);

		CHECK(e == EMFILE, "vde_addstack with %d fds allowed: NULL, %s (%d)", max,
				e > 0 && e < 100 ? strerror(e) : "?", e);
	}
	struct vdestack *s = vt_stack(NULL, NULL, NULL);
	CHECK(s != NULL && vde_stackcmd(s, "/bin/busybox true") == 0, "and with fds, a stack works");
	vde_delstack(s);
}

/* ---------------------------------------------------------- neighbours --- */

/* IPv4 neighbour entries (not on lo) of the namespace of netlink socket fd */
static int neigh_count(int fd)
{
	struct {
		struct nlmsghdr nh;
		struct ndmsg nd;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETNEIGH,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		.nd = { .ndm_family = AF_INET },
	};
	static char buf[65536];
	int count = 0;

	if (send(fd, &req, sizeof(req), 0) < 0)
		return -1;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *nh;

		if (n <= 0)
			return -1;
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type == NLMSG_DONE)
				return count;
			if (nh->nlmsg_type == NLMSG_ERROR)
				return -1;
			if (nh->nlmsg_type == RTM_NEWNEIGH) {
				struct ndmsg *nd = NLMSG_DATA(nh);
				if (nd->ndm_ifindex != 1)
					count++;
			}
		}
	}
}

/* the kernel's count of neighbour entries (all namespaces), or -1 */
static long arp_entries(void)
{
	char buf[4096];

	if (vt_read_file("/proc/net/stat/arp_cache", buf, sizeof(buf)) <= 0)
		return -1;
	char *line = strchr(buf, '\n');
	return line ? strtol(line + 1, NULL, 16) : -1;
}

/* b sends to a's port, a answers: each learns the other's MAC */
static int udp_exchange(struct vdestack *a, struct vdestack *b, int port)
{
	int sa = vde_msocket(a, AF_INET, SOCK_DGRAM, 0);
	int sb = vde_msocket(b, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	char buf[16];
	int ok = 0;

	if (sa < 0 || sb < 0 || vt_bind(sa, "10.78.0.1", port) != 0)
		goto out;
	vt_timeouts(sa, 5);
	vt_timeouts(sb, 5);
	inet_pton(AF_INET, "10.78.0.1", &to.sin_addr);
	if (sendto(sb, "ping", 4, 0, (struct sockaddr *)&to, sizeof(to)) != 4 ||
	    recvfrom(sa, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl) != 4 ||
	    memcmp(buf, "ping", 4) ||
	    sendto(sa, "pong", 4, 0, (struct sockaddr *)&from, fl) != 4 ||
	    recv(sb, buf, sizeof(buf), 0) != 4 || memcmp(buf, "pong", 4))
		goto out;
	ok = 1;
out:
	if (sa >= 0)
		close(sa);
	if (sb >= 0)
		close(sb);
	return ok;
}

#define CYCLES 300

VT_TEST(neighbours_go_with_the_stack, 240)
{
	char vnl[2 * VT_MAXPATH];
	long before = arp_entries(), after = -1;
	int traffic = 0, had = 0, left = 0, checked = 0;

	snprintf(vnl, sizeof(vnl), "ptp://%s/link", vt_dir);
	for (int i = 0; i < CYCLES; i++) {
		struct vdestack *a = vt_stack(vnl, NULL, "10.78.0.1/24");
		struct vdestack *b = vt_stack(vnl, NULL, "10.78.0.2/24");
		int na, nb;

		REQUIRE(a && b, "cycle %d: two stacks", i);
		/* netlink sockets that keep each namespace to look into it */
		na = vde_msocket(a, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
		nb = vde_msocket(b, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
		REQUIRE(na >= 0 && nb >= 0, "cycle %d: netlink sockets in the stacks", i);
		vt_timeouts(na, 5);
		vt_timeouts(nb, 5);
		traffic += udp_exchange(a, b, 9000 + i % 1000);
		if (neigh_count(na) > 0 && neigh_count(nb) > 0)
			had++;
		vde_delstack(a);
		vde_delstack(b);
		int ca = neigh_count(na), cb = neigh_count(nb);
		if (ca >= 0 && cb >= 0)
			checked++;
		left += (ca > 0 ? ca : 0) + (cb > 0 ? cb : 0);
		close(na);
		close(nb);
	}
	CHECK(traffic == CYCLES, "datagrams crossed both ways in %d of %d cycles", traffic, CYCLES);
	CHECK(had == CYCLES, "both stacks had resolved their neighbour in %d of %d cycles", had,
			CYCLES);
	CHECK(checked == CYCLES && left == 0,
			"after vde_delstack the stacks' namespaces hold no neighbour entry "
			"(%d left in %d checked pairs)", left, checked);
	/*
	 * The kernel's table is shared with everything else on the machine
	 * (other test runs add and drain entries meanwhile), so it is only
	 * reported; the check above is on this test's own namespaces.
	 */
	for (int t = 0; t < 20; t++) {
		after = arp_entries();
		if (after <= before)
			break;
		vt_sleep(0.1);
	}
	vt_info("kernel neighbour table (all namespaces): %ld entries before, %ld after %d cycles",
			before, after, CYCLES);
}

/* -------------------------------------------------------- stuck stream --- */

/* flood: datagrams from stack s towards a neighbour that never answers */
static int flood(struct vdestack *s, int count)
{
	int fd = vde_msocket(s, AF_INET, SOCK_DGRAM, 0), sent = 0;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	static char payload[1400];

	if (fd < 0)
		return -1;
	inet_pton(AF_INET, "10.79.0.2", &to.sin_addr);
	for (int i = 0; i < count; i++)
		if (sendto(fd, payload, sizeof(payload), MSG_DONTWAIT,
			   (struct sockaddr *)&to, sizeof(to)) == sizeof(payload))
			sent++;
	close(fd);
	return sent;
}

VT_TEST(stuck_stream_stalls_only_itself, 90)
{
	char vnl[2 * VT_MAXPATH], why[256];
	struct vdestack_stats stats;
	int rc, sent = 0;

	/* one pump thread for everything: the stuck stack shares it */
	setenv("VDESTACK_PUMPS", "1", 1);
	snprintf(vnl, sizeof(vnl), "ptp://%s/link", vt_dir);
	struct vdestack *stuck = vt_stack("=/bin/sleep 1000", NULL, "10.79.0.1/24");
	struct vdestack *a = vt_stack(vnl, NULL, "10.77.0.1/24");
	struct vdestack *b = vt_stack(vnl, NULL, "10.77.0.2/24");
	REQUIRE(stuck && a && b, "a stack on a command that never reads, two on a ptp link");
	const char *ip = vt_which("ip");
	REQUIRE(ip != NULL, "iproute2's ip (scripts/deps.sh installs it)");
	rc = vt_cmd(stuck, "%s neigh add 10.79.0.2 lladdr 02:00:00:79:00:02 dev vde0", ip);
	REQUIRE(rc == 0, "a neighbour to send to (rc %d)", rc);
	/* far more than the socket and the queue take: 7 MB */
	for (int round = 0; round < 10; round++) {
		int n = flood(stuck, 500);
		sent += n > 0 ? n : 0;
		vt_sleep(0.02);
	}
	CHECK(sent > 1000, "%d datagrams of 1400 bytes sent into the stuck stack", sent);
	double t0 = vt_now();
	int ok = vt_tcp_echo(a, b, "10.77.0.1", 7777, 4 << 20, why, sizeof(why));
	double dt = vt_now() - t0;
	CHECK(ok && dt < 20, "meanwhile 4 MB echoed between the ptp stacks on the same pump "
			"(%.2f s) %s", dt, why);
	/* and again, while the stuck stack keeps getting more */
	flood(stuck, 500);
	ok = vt_tcp_echo(a, b, "10.77.0.1", 7778, 1 << 20, why, sizeof(why));
	CHECK(ok, "1 MB more after another flood %s", why);
	memset(&stats, 0, sizeof(stats));
	vdestack_stats(stuck, &stats);
	vt_info("stuck stack: tx %llu frames, %llu dropped",
			(unsigned long long)stats.tx_frames, (unsigned long long)stats.tx_dropped);
	CHECK(stats.tx_dropped > 0 && stats.tx_frames > 0,
			"its frames were queued up to a bound, then dropped and counted");
	t0 = vt_now();
	vde_delstack(stuck);
	dt = vt_now() - t0;
	CHECK(dt < 0.5, "vde_delstack of the stuck stack returned in %.3f s", dt);
	ok = vt_tcp_echo(a, b, "10.77.0.1", 7779, 1 << 20, why, sizeof(why));
	CHECK(ok, "the ptp stacks still work afterwards %s", why);
	vde_delstack(a);
	vde_delstack(b);
}

/* ------------------------------------------------------ leftover paths --- */

/* a host child opens vnl (and a second stack on vnl2), then is SIGKILLed */
static void open_and_die(const char *vnl, const char *vnl2)
{
	int sync[2];
	char c;
	pid_t pid;

	REQUIRE(pipe(sync) == 0, "pipe");
	fflush(stdout);
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		struct vdestack *s = vde_addstack((char *)vnl, NULL);
		struct vdestack *t = vnl2 ? vde_addstack((char *)vnl2, NULL) : NULL;

		if (!s || (vnl2 && !t))
			_exit(1);
		if (write(sync[1], "r", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	close(sync[1]);
	REQUIRE(read(sync[0], &c, 1) == 1, "a host child opened %s%s%s", vnl, vnl2 ? " and " : "",
			vnl2 ? vnl2 : "");
	close(sync[0]);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	for (int i = 0; i < 100; i++) {	/* its helper and switch thread go too */
		pid_t kids[4];
		if (own_children(kids, 4) == 0)
			break;
		vt_reap();
		vt_sleep(0.01);
	}
}

static int is_sock(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISSOCK(sb.st_mode);
}

VT_TEST(stale_switch_reclaimed, 60)
{
	char sw[2 * VT_MAXPATH], vde[2 * VT_MAXPATH], why[256];
	char *dir = vt_path("sw"), *ctl = vt_path("sw/ctl");

	snprintf(sw, sizeof(sw), "switch://%s", dir);
	snprintf(vde, sizeof(vde), "vde://%s", dir);
	open_and_die(sw, vde);
	CHECK(is_sock(ctl), "the SIGKILLed owner left %s behind", ctl);
	struct vdestack *a = vt_stack(sw, NULL, "10.80.0.1/24");
	CHECK(a != NULL, "switch:// on the same path opens again");
	struct vdestack *b = vt_stack(vde, NULL, "10.80.0.2/24");
	CHECK(b != NULL, "and vde:// joins it");
	REQUIRE(a && b, "both stacks");
	CHECK(vt_tcp_echo(a, b, "10.80.0.1", 7780, 200000, why, sizeof(why)),
			"200 kB echoed across the reclaimed switch %s", why);
	vde_delstack(b);
	vde_delstack(a);
	CHECK(access(dir, F_OK) < 0, "closed, the switch removed its directory");
}

VT_TEST(live_switch_not_stolen, 60)
{
	char sw[2 * VT_MAXPATH], vde[2 * VT_MAXPATH], why[256];
	char *dir = vt_path("sw"), *ext = vt_path("ext"), *ctl = vt_path("ext/ctl");
	struct vdestack *s;
	int e;

	snprintf(sw, sizeof(sw), "switch://%s", dir);
	snprintf(vde, sizeof(vde), "vde://%s", dir);
	/* our own live switch */
	struct vdestack *a = vt_stack(sw, NULL, "10.80.0.1/24");
	REQUIRE(a != NULL, "a switch:// stack");
	errno = 0;
	s = vde_addstack(sw, NULL);
	e = errno;
	CHECK(!s && e == EEXIST, "a second switch:// on its path fails: %s", strerror(e));
	vde_delstack(s);
	struct vdestack *b = vt_stack(vde, NULL, "10.80.0.2/24");
	REQUIRE(b != NULL, "a vde:// member");
	CHECK(vt_tcp_echo(a, b, "10.80.0.1", 7781, 200000, why, sizeof(why)),
			"the first switch still carries traffic %s", why);
	vde_delstack(b);
	vde_delstack(a);

	/* another program's live switch */
	pid_t sp = vt_switch_start(ext);
	REQUIRE(sp > 0 && vt_wait_path(ctl, 10), "vde_plug's switch at %s", ext);
	snprintf(sw, sizeof(sw), "switch://%s", ext);
	errno = 0;
	s = vde_addstack(sw, NULL);
	e = errno;
	CHECK(!s && e == EEXIST, "switch:// on another program's live switch fails: %s",
			strerror(e));
	vde_delstack(s);
	CHECK(vt_alive(sp) && is_sock(ctl), "that switch and its socket are untouched");
	snprintf(vde, sizeof(vde), "vde://%s", ext);
	a = vt_stack(vde, NULL, "10.80.0.1/24");
	b = vt_stack(vde, NULL, "10.80.0.2/24");
	REQUIRE(a && b, "two members of it");
	CHECK(vt_tcp_echo(a, b, "10.80.0.1", 7782, 200000, why, sizeof(why)),
			"and it carries traffic %s", why);
	vde_delstack(a);
	vde_delstack(b);
	vt_kill(sp, SIGTERM);
}

VT_TEST(stale_ptp_reopened, 60)
{
	char vnl[2 * VT_MAXPATH], why[256];
	char *path = vt_path("link");

	snprintf(vnl, sizeof(vnl), "ptp://%s", path);
	open_and_die(vnl, NULL);
	CHECK(is_sock(path), "the SIGKILLed owner left %s behind", path);
	struct vdestack *a = vt_stack(vnl, NULL, "10.80.0.1/24");
	struct vdestack *b = vt_stack(vnl, NULL, "10.80.0.2/24");
	REQUIRE(a && b, "ptp:// on the same path links two new stacks");
	CHECK(vt_tcp_echo(a, b, "10.80.0.1", 7783, 200000, why, sizeof(why)),
			"200 kB echoed over it %s", why);
	vde_delstack(a);
	vde_delstack(b);
	CHECK(access(path, F_OK) < 0, "closed, nothing is left at the path");
}

/* --------------------------------------------------------- counters --- */

/* the layout of version 1.0: new fields took reserved ones */
_Static_assert(sizeof(struct vdestack_stats) == 96, "struct vdestack_stats keeps its size");
_Static_assert(offsetof(struct vdestack_stats, hung_up) == 64 &&
	       offsetof(struct vdestack_stats, peer_lost) == 68 &&
	       offsetof(struct vdestack_stats, rx_empty) == 72 &&
	       offsetof(struct vdestack_stats, reserved) == 80,
	       "struct vdestack_stats keeps its layout");

static struct vdestack_stats stats_of(struct vdestack *s)
{
	struct vdestack_stats st;

	memset(&st, 0, sizeof(st));
	vdestack_stats(s, &st);
	return st;
}

VT_TEST(empty_datagrams_and_lost_peer, 60)
{
	char vnl[2 * VT_MAXPATH];
	struct vdestack_stats st;
	VDECONN *peer;
	int fd, rc;

	snprintf(vnl, sizeof(vnl), "ptp://%s/link", vt_dir);
	struct vdestack *s = vt_stack(vnl, NULL, "10.82.0.1/24");
	REQUIRE(s != NULL, "a stack on a ptp link");
	peer = vde_open(vnl, "vdstest", NULL);
	REQUIRE(peer != NULL, "the test holds the other end");
	fd = vde_datafd(peer);
	/* three zero-length datagrams, then a real frame from the peer */
	for (int i = 0; i < 3; i++)
		CHECK(send(fd, "", 0, 0) == 0, "an empty datagram sent");
	const char *ip = vt_which("ip");
	REQUIRE(ip != NULL, "iproute2's ip");
	rc = vt_cmd(s, "%s neigh add 10.82.0.2 lladdr 02:00:00:82:00:02 dev vde0", ip);
	REQUIRE(rc == 0, "a static neighbour (rc %d)", rc);
	for (int i = 0; i < 100 && stats_of(s).rx_empty < 3; i++)
		vt_sleep(0.01);
	st = stats_of(s);
	CHECK(st.rx_empty == 3 && st.hung_up == 0,
			"3 zero-length datagrams counted (rx_empty %llu), no hang-up (%u)",
			(unsigned long long)st.rx_empty, st.hung_up);
	/* frames to the peer go through while it is there */
	int u = vde_msocket(s, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	inet_pton(AF_INET, "10.82.0.2", &to.sin_addr);
	REQUIRE(u >= 0, "a socket in the stack");
	char buf[2048];
	CHECK(sendto(u, "one", 3, 0, (struct sockaddr *)&to, sizeof(to)) == 3, "a datagram out");
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	CHECK(poll(&pfd, 1, 5000) == 1 && vde_recv(peer, buf, sizeof(buf), 0) > 42,
			"and the peer got its frame");
	CHECK(stats_of(s).peer_lost == 0, "peer_lost 0 while the peer is there");
	/* the peer goes: the next frames find nobody */
	vde_close(peer);
	for (int i = 0; i < 50 && !stats_of(s).peer_lost; i++) {
		sendto(u, "two", 3, 0, (struct sockaddr *)&to, sizeof(to));
		vt_sleep(0.02);
	}
	st = stats_of(s);
	CHECK(st.peer_lost == 1 && st.tx_dropped > 0,
			"after the peer closed, the stack's sends flag peer_lost (%u, %llu dropped)",
			st.peer_lost, (unsigned long long)st.tx_dropped);
	/* a new peer on the same path: frames flow again */
	peer = vde_open(vnl, "vdstest", NULL);
	if (peer) {
		fd = vde_datafd(peer);
		for (int i = 0; i < 50 && stats_of(s).peer_lost; i++) {
			sendto(u, "three", 5, 0, (struct sockaddr *)&to, sizeof(to));
			vt_sleep(0.02);
		}
		vt_info("with a new peer on the path: peer_lost %u", stats_of(s).peer_lost);
		vde_close(peer);
	}
	close(u);
	vde_delstack(s);
}
