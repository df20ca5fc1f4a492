// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_robust.c - what goes wrong around a stack: garbage from the VDE side,
 * a switch or stream command that goes away, a host process that dies,
 * recreating stacks on the same paths, many stacks, many threads.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "vt.h"

static void get_stats(struct vdestack *s, struct vdestack_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (vdestack_stats(s, st) != 0)
		CHECK(0, "vdestack_stats: %s", strerror(errno));
}

static void print_stats(const char *name, const struct vdestack_stats *st)
{
	vt_info("%s: tx %llu/%llu B rx %llu/%llu B drop tx %llu rx %llu runt %llu oversize %llu hung_up %u",
			name, (unsigned long long)st->tx_frames, (unsigned long long)st->tx_bytes,
			(unsigned long long)st->rx_frames, (unsigned long long)st->rx_bytes,
			(unsigned long long)st->tx_dropped, (unsigned long long)st->rx_dropped,
			(unsigned long long)st->rx_runt, (unsigned long long)st->rx_oversize, st->hung_up);
}

/* ------------------------------------------------------------- garbage --- */
static int unix_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path, sizeof(sa->sun_path), "%s", path);
	return sizeof(*sa);
}

/* an ARP request "who has 10.77.0.1? tell 10.77.0.2" from 02:00:00:77:00:02 */
static size_t arp_request(unsigned char *f)
{
	static const unsigned char mac[6] = { 0x02, 0x00, 0x00, 0x77, 0x00, 0x02 };
	unsigned char *p = f;

	memset(p, 0xff, 6), p += 6;			/* dst: broadcast */
	memcpy(p, mac, 6), p += 6;			/* src */
	*p++ = 0x08, *p++ = 0x06;			/* ARP */
	*p++ = 0, *p++ = 1, *p++ = 0x08, *p++ = 0;	/* Ethernet, IPv4 */
	*p++ = 6, *p++ = 4, *p++ = 0, *p++ = 1;		/* sizes, request */
	memcpy(p, mac, 6), p += 6;
	*p++ = 10, *p++ = 77, *p++ = 0, *p++ = 2;	/* sender IP */
	memset(p, 0, 6), p += 6;
	*p++ = 10, *p++ = 77, *p++ = 0, *p++ = 1;	/* target IP */
	memset(p, 0, 60 - (p - f));			/* pad to the minimum frame */
	return 60;
}

/* wait for an ARP reply for 10.77.0.1 on the raw socket; 1 if one came */
static int arp_reply(int raw, double secs)
{
	unsigned char f[16384];
	double end = vt_now() + secs;

	vt_timeouts(raw, 0.2);
	while (vt_now() < end) {
		ssize_t n = recv(raw, f, sizeof(f), 0);
		if (n < 42)
			continue;
		if (f[12] == 0x08 && f[13] == 0x06 && f[20] == 0 && f[21] == 2 &&
				memcmp(f + 28, "\x0a\x4d\x00\x01", 4) == 0)
			return 1;
	}
	return 0;
}

VT_TEST(garbage_frames, 40)
{
	char vnl[2 * VT_MAXPATH];
	struct sockaddr_un me, peer;
	struct vdestack_stats st;
	static unsigned char big[9300];
	unsigned char frame[64];
	int raw, got;

	snprintf(vnl, sizeof(vnl), "ptp://%s/link", vt_dir);
	struct vdestack *s = vt_stack(vnl, NULL, "10.77.0.1/24");
	REQUIRE(s != NULL, "stack on %s (first opener: binds link)", vnl);
	/* the other end of the link is ours: bound at link+, sending to link */
	raw = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int brc = bind(raw, (struct sockaddr *)&me, unix_addr(&me, vt_path("link+")));
	REQUIRE(brc == 0, "raw AF_UNIX socket bound at link+ (%s)", brc ? strerror(errno) : "ok");
	socklen_t pl = unix_addr(&peer, vt_path("link"));

	/* valid traffic first: the stack answers ARP */
	size_t fl = arp_request(frame);
	got = 0;
	for (int i = 0; i < 10 && !got; i++) {
		sendto(raw, frame, fl, 0, (struct sockaddr *)&peer, pl);
		got = arp_reply(raw, 0.5);
	}
	REQUIRE(got, "before the garbage: the stack answers an ARP request sent on the link");

	/*
	 * garbage: 1 byte (the "drop it" size), 5 bytes, 0 bytes, 9300 bytes.
	 * A pause after each: on a zero-length datagram the ptp plugin
	 * disconnects its socket (connect AF_UNSPEC), and the kernel then
	 * purges whatever is still queued on it, so a datagram sent right
	 * behind the empty one may vanish before the pump sees it.
	 */
	memset(big, 0xab, sizeof(big));
	memcpy(big, frame, fl);
	ssize_t r1 = sendto(raw, "x", 1, 0, (struct sockaddr *)&peer, pl);
	vt_sleep(0.1);
	ssize_t r5 = sendto(raw, "12345", 5, 0, (struct sockaddr *)&peer, pl);
	vt_sleep(0.1);
	ssize_t r0 = sendto(raw, "", 0, 0, (struct sockaddr *)&peer, pl);
	vt_sleep(0.2);
	ssize_t rb = sendto(raw, big, sizeof(big), 0, (struct sockaddr *)&peer, pl);
	CHECK(r1 == 1 && r5 == 5 && r0 == 0 && rb == (ssize_t)sizeof(big),
			"sent 1, 5, 0 and 9300 byte datagrams (%zd %zd %zd %zd)", r1, r5, r0, rb);
	vt_sleep(0.2);

	/* valid traffic afterwards: the stack still answers */
	got = 0;
	for (int i = 0; i < 10 && !got; i++) {
		sendto(raw, frame, fl, 0, (struct sockaddr *)&peer, pl);
		got = arp_reply(raw, 0.5);
	}
	CHECK(got, "after the garbage the stack still answers ARP over the link");
	get_stats(s, &st);
	print_stats("stack", &st);
	CHECK(st.rx_runt >= 2 && st.rx_runt <= 3,
			"rx_runt counts the 1- and 5-byte items (and maybe the 0-byte one): %llu",
			(unsigned long long)st.rx_runt);
	CHECK(st.rx_oversize == 1, "rx_oversize counts the 9300-byte item: %llu",
			(unsigned long long)st.rx_oversize);
	CHECK(st.hung_up == 0, "a zero-length datagram is not a hang-up (hung_up %u)", st.hung_up);
	CHECK(st.rx_frames >= 2, "the valid frames were counted (rx_frames %llu)",
			(unsigned long long)st.rx_frames);
	int rc = vde_stackcmd(s, "/bin/busybox true");
	CHECK(rc == 0, "vde_stackcmd still works (rc %d)", rc);
	close(raw);
	vde_delstack(s);
}

/* ------------------------------------------------------------- hang-up --- */
/* the stack sends frames towards a dead peer: ARP for a neighbour, UDP */
static void poke(struct vdestack *s, const char *dst)
{
	int fd = vde_msocket(s, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };

	if (fd < 0)
		return;
	inet_pton(AF_INET, dst, &to.sin_addr);
	for (int i = 0; i < 20; i++)
		sendto(fd, "poke", 4, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to));
	close(fd);
}

static void after_hangup(struct vdestack *s, const char *what)
{
	struct vdestack_stats st;
	double t0 = vt_now(), c0, c1;
	int rc, fd;

	do {
		memset(&st, 0, sizeof(st));
		if (vdestack_stats(s, &st) == 0 && st.hung_up)
			break;
		vt_sleep(0.05);
	} while (vt_now() - t0 < 5);
	CHECK(st.hung_up == 1, "%s: stats.hung_up becomes 1 (after %.2f s)", what, vt_now() - t0);
	/* frames towards the dead side: no SIGPIPE (the test keeps SIGPIPE's default) */
	poke(s, "10.77.0.2");
	vt_sleep(0.2);
	c0 = vt_cpu_tree();
	vt_sleep(1.0);
	c1 = vt_cpu_tree();
	CHECK(c1 - c0 < 0.5, "%s: no busy loop: %.2f s of CPU in 1 s (this process and its children)",
			what, c1 - c0);
	fd = vde_msocket(s, AF_INET, SOCK_DGRAM, 0);
	CHECK(fd >= 0, "%s: vde_msocket still returns a socket (%s)", what,
			fd >= 0 ? "ok" : strerror(errno));
	if (fd >= 0)
		close(fd);
	rc = vde_stackcmd(s, "/bin/busybox true");
	CHECK(rc == 0, "%s: vde_stackcmd still returns 0 (rc %d)", what, rc);
	get_stats(s, &st);
	print_stats(what, &st);
}

VT_TEST(hangup_switch, 40)
{
	char vnl[2 * VT_MAXPATH], why[256] = "";
	pid_t sw = vt_switch_start(vt_path("sw"));

	REQUIRE(sw > 0, "switch started");
	snprintf(vnl, sizeof(vnl), "vde://%s/sw", vt_dir);
	struct vdestack *a = vt_stack(vnl, NULL, "10.77.0.1/24");
	struct vdestack *b = vt_stack(vnl, NULL, "10.77.0.2/24");
	REQUIRE(a && b, "two stacks on the switch");
	CHECK(vt_tcp_echo(a, b, "10.77.0.1", 7000, 65536, why, sizeof(why)),
			"traffic flows before the switch dies %s", why);
	vt_kill(sw, SIGKILL);
	after_hangup(a, "switch killed, stack a");
	after_hangup(b, "switch killed, stack b");
	double t0 = vt_now();
	vde_delstack(a);
	vde_delstack(b);
	CHECK(vt_now() - t0 < 3, "vde_delstack returns for hung-up stacks (%.2f s)", vt_now() - t0);
}

VT_TEST(hangup_stream, 40)
{
	char vnl[2 * VT_MAXPATH], vde[2 * VT_MAXPATH], why[256] = "";
	pid_t sw = vt_switch_start(vt_path("sw"));

	REQUIRE(sw > 0, "switch started");
	snprintf(vnl, sizeof(vnl), "=vde_plug vde://%s/sw", vt_dir);
	snprintf(vde, sizeof(vde), "vde://%s/sw", vt_dir);
	struct vdestack *a = vt_stack(vnl, NULL, "10.77.0.1/24");
	struct vdestack *b = vt_stack(vde, NULL, "10.77.0.2/24");
	REQUIRE(a && b, "stream-mode stack and a vde:// stack");
	CHECK(vt_tcp_echo(a, b, "10.77.0.1", 7000, 65536, why, sizeof(why)),
			"traffic flows before the switch dies %s", why);
	/* the switch goes: the stream command (vde_plug) exits, the stream ends */
	vt_kill(sw, SIGKILL);
	after_hangup(a, "stream command gone");
	double t0 = vt_now();
	vde_delstack(a);
	vde_delstack(b);
	CHECK(vt_now() - t0 < 3, "vde_delstack returns (%.2f s)", vt_now() - t0);
}

/* the peer of an in-process switch is deleted: its members see the hang-up */
VT_TEST(hangup_inproc_switch, 40)
{
	char vsw[2 * VT_MAXPATH], vde[2 * VT_MAXPATH];

	snprintf(vsw, sizeof(vsw), "switch://%s/sw", vt_dir);
	snprintf(vde, sizeof(vde), "vde://%s/sw", vt_dir);
	struct vdestack *a = vt_stack(vsw, NULL, "10.77.0.1/24");
	struct vdestack *b = vt_stack(vde, NULL, "10.77.0.2/24");
	REQUIRE(a && b, "switch owner and member");
	vde_delstack(a);
	after_hangup(b, "switch owner deleted, member b");
	vde_delstack(b);
}

/* ---------------------------------------------------------- host death --- */
struct bg { struct vdestack *s; char cmd[512]; };

static void *bg_cmd(void *arg)
{
	struct bg *bg = arg;

	vde_stackcmd(bg->s, bg->cmd);
	return NULL;
}

VT_TEST(host_death, 40)
{
	char *pidfile = vt_path("cmd.pid"), buf[64];
	int sync[2];
	pid_t host, cmdpid = -1, desc[256];
	int nd;

	/* orphans of the killed host come to us, so we can see them go */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	REQUIRE(pipe(sync) == 0, "pipe");
	fflush(stdout);
	host = fork();
	if (host == 0) {
		char vnl[2 * VT_MAXPATH];
		static struct bg bg;
		pthread_t t;
		close(sync[0]);
		snprintf(vnl, sizeof(vnl), "ptp://%s/link", vt_dir);
		struct vdestack *s1 = vde_addstack(vnl, NULL);
		struct vdestack *s2 = vde_addstack(vnl, NULL);
		struct vdestack *s3 = vde_addstack(NULL, NULL);
		if (!s1 || !s2 || !s3)
			_exit(1);
		bg.s = s2;
		snprintf(bg.cmd, sizeof(bg.cmd), "/bin/busybox sh -c 'echo $$ > %s.tmp; "
				"/bin/busybox mv %s.tmp %s; exec /bin/busybox sleep 100'",
				pidfile, pidfile, pidfile);
		pthread_create(&t, NULL, bg_cmd, &bg);
		if (!vt_wait_path(pidfile, 10))
			_exit(2);
		if (write(sync[1], "r", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	close(sync[1]);
	char c;
	ssize_t n = read(sync[0], &c, 1);
	close(sync[0]);
	REQUIRE(n == 1, "the host child made 3 stacks and runs a command in one (pid file written)");
	if (vt_read_file(pidfile, buf, sizeof(buf)) > 0)
		cmdpid = atoi(buf);
	nd = vt_descendants(host, desc, 256);
	int found = 0;
	for (int i = 0; i < nd; i++) {
		vt_info("process below the host: %d (%s)", (int)desc[i], vt_comm(desc[i]));
		/* its $$ is its pid in the stack's PID namespace */
		found |= !strcmp(vt_comm(desc[i]), "busybox") && vt_nspid(desc[i]) == cmdpid;
	}
	CHECK(cmdpid > 0 && found, "the command (pid %d in the stack, from its pid file) runs below "
			"the host", cmdpid);

	kill(host, SIGKILL);
	waitpid(host, NULL, 0);
	double t0 = vt_now();
	int live;
	do {
		vt_reap();
		live = 0;
		for (int i = 0; i < nd; i++)
			live += vt_alive(desc[i]);
		if (!live)
			break;
		vt_sleep(0.01);
	} while (vt_now() - t0 < 1.0);
	double dt = vt_now() - t0;
	for (int i = 0; i < nd; i++)
		if (vt_alive(desc[i]))
			vt_info("still alive after %.2f s: %d (%s)", dt, (int)desc[i], vt_comm(desc[i]));
	CHECK(live == 0, "after SIGKILL of the host, its helper(s) and the command are gone within 1 s "
			"(%d left after %.2f s)", live, dt);
	/* leave nothing behind in any case */
	for (int i = 0; i < nd; i++)
		if (vt_alive(desc[i]))
			kill(desc[i], SIGKILL);
	vt_sleep(0.05);
	vt_reap();
}

/* ------------------------------------------------------------ recreate --- */
VT_TEST(recreate_ptp, 60)
{
	char vnl[2 * VT_MAXPATH], why[256];

	snprintf(vnl, sizeof(vnl), "ptp://%s/link", vt_dir);
	for (int r = 0; r < 3; r++) {
		struct vdestack *a = vt_stack(vnl, NULL, "10.77.0.1/24");
		struct vdestack *b = vt_stack(vnl, NULL, "10.77.0.2/24");
		REQUIRE(a && b, "round %d: both ends of %s open", r, vnl);
		why[0] = 0;
		CHECK(vt_tcp_echo(a, b, "10.77.0.1", 7000 + r, 32768, why, sizeof(why)),
				"round %d: TCP echo over the link %s", r, why);
		if (r == 1) {
			vde_delstack(a);
			vde_delstack(b);
		} else {
			vde_delstack(b);
			vde_delstack(a);
		}
		CHECK(access(vt_path("link"), F_OK) != 0 && access(vt_path("link+"), F_OK) != 0,
				"round %d: vde_delstack removed link and link+", r);
	}
}

VT_TEST(recreate_switch, 60)
{
	char vsw[2 * VT_MAXPATH], vde[2 * VT_MAXPATH], why[256];

	snprintf(vsw, sizeof(vsw), "switch://%s/sw", vt_dir);
	snprintf(vde, sizeof(vde), "vde://%s/sw", vt_dir);
	for (int r = 0; r < 3; r++) {
		struct vdestack *a = vt_stack(vsw, NULL, "10.77.0.1/24");
		REQUIRE(a != NULL, "round %d: %s opens", r, vsw);
		struct vdestack *b = vt_stack(vde, NULL, "10.77.0.2/24");
		REQUIRE(b != NULL, "round %d: %s opens", r, vde);
		why[0] = 0;
		CHECK(vt_tcp_echo(a, b, "10.77.0.1", 7000 + r, 32768, why, sizeof(why)),
				"round %d: TCP echo through the in-process switch %s", r, why);
		/* last round: the switch owner goes first */
		if (r == 2) {
			vde_delstack(a);
			vde_delstack(b);
		} else {
			vde_delstack(b);
			vde_delstack(a);
		}
		CHECK(access(vt_path("sw"), F_OK) != 0, "round %d: the switch directory is gone", r);
	}
}

VT_TEST(recreate_vde, 60)
{
	char vde[2 * VT_MAXPATH], why[256] = "";
	pid_t sw = vt_switch_start(vt_path("sw"));

	REQUIRE(sw > 0, "switch");
	snprintf(vde, sizeof(vde), "vde://%s/sw", vt_dir);
	struct vdestack *b = vt_stack(vde, NULL, "10.77.0.2/24");
	REQUIRE(b != NULL, "peer stack");
	int lfd = vt_listen(b, "10.77.0.2", 7000);
	REQUIRE(lfd >= 0, "echo server in the peer");
	vt_echo_server(lfd, 3);
	for (int r = 0; r < 3; r++) {
		struct vdestack *a = vt_stack(vde, NULL, "10.77.0.1/24");
		REQUIRE(a != NULL, "round %d: stack on the switch", r);
		int c = vt_connect(a, "10.77.0.2", 7000, 15);
		CHECK(c >= 0 && vt_echo_roundtrip(c, 16384, why, sizeof(why)),
				"round %d: echo with the peer %s", r, why);
		if (c >= 0)
			close(c);
		vde_delstack(a);
	}
	vde_delstack(b);
	vt_kill(sw, SIGTERM);
}

/* --------------------------------------------------------- 100 stacks --- */
static unsigned long netns_of(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (unsigned long)sb.st_ino : 0;
}

/* tasks (threads) of this process whose netns is not ns */
static int tasks_elsewhere(unsigned long ns)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		char p[300];
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/self/task/%s/ns/net", e->d_name);
		unsigned long x = netns_of(p);
		if (x && x != ns)
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

/* references to network namespace "net:[ino]" held by process pid */
static int netns_refs_of(pid_t pid, const char *want)
{
	char link[128], path[640];
	struct dirent *f;
	DIR *fd;
	ssize_t l;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if ((l = readlink(path, link, sizeof(link) - 1)) > 0) {
		link[l] = 0;
		n += strcmp(link, want) == 0;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if (!(fd = opendir(path)))
		return n;
	while ((f = readdir(fd))) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid, f->d_name);
		if ((l = readlink(path, link, sizeof(link) - 1)) > 0) {
			link[l] = 0;
			n += strcmp(link, want) == 0;
		}
	}
	closedir(fd);
	return n;
}

/*
 * references to network namespace ino from this process (its threads, its
 * fds) and its descendants.  Only these: a freed namespace's inode number
 * is soon reused by namespaces of other processes (other tests).
 */
static int netns_refs(unsigned long ino)
{
	char want[64], path[300], link[128];
	pid_t d[256];
	int n, nd = vt_descendants(getpid(), d, 256);
	DIR *t = opendir("/proc/self/task");
	struct dirent *e;

	snprintf(want, sizeof(want), "net:[%lu]", ino);
	n = netns_refs_of(getpid(), want);
	for (int i = 0; i < nd; i++)
		n += netns_refs_of(d[i], want);
	while (t && (e = readdir(t))) {
		ssize_t l;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/ns/net", e->d_name);
		if ((l = readlink(path, link, sizeof(link) - 1)) > 0) {
			link[l] = 0;
			n += strcmp(link, want) == 0;
		}
	}
	if (t)
		closedir(t);
	return n;
}

/* the inode of a stack's network namespace, as a command in it sees it */
static unsigned long stack_netns(struct vdestack *s, const char *file)
{
	char buf[64];
	unsigned long ino = 0;

	if (vt_cmd(s, "/bin/busybox sh -c '/bin/busybox readlink /proc/self/ns/net > %s'", file) != 0 ||
			vt_read_file(file, buf, sizeof(buf)) <= 0 || sscanf(buf, "net:[%lu]", &ino) != 1)
		return 0;
	return ino;
}

#define NSTACKS 100

VT_TEST(hundred_stacks, 120)
{
	static struct vdestack *s[NSTACKS];
	unsigned long ns0 = netns_of("/proc/self/ns/net");
	int fds0 = vt_count_fds(), made = 0, procs, rc;
	pid_t d[256];
	double t0 = vt_now();

	for (int i = 0; i < NSTACKS; i++) {
		s[i] = vde_addstack("null://", NULL);
		if (!s[i]) {
			CHECK(0, "stack %d: vde_addstack: %s", i, strerror(errno));
			break;
		}
		made++;
	}
	CHECK(made == NSTACKS, "%d stacks on null:// created in %.2f s", made, vt_now() - t0);
	procs = vt_descendants(getpid(), d, 256);
	CHECK(procs <= 4, "with %d stacks there are %d processes below this one (one helper serves them all)",
			made, procs);
	/* each one is its own namespace and works */
	rc = made ? vde_stackcmd(s[made - 1], "/bin/busybox ip addr add 10.77.0.1/24 dev vde0") : -1;
	CHECK(rc == 0, "the last stack runs commands (rc %d)", rc);
	int fd = made ? vde_msocket(s[0], AF_INET, SOCK_DGRAM, 0) : -1;
	int e = fd < 0 ? errno : vt_bind(fd, "10.77.0.1", 0);
	CHECK(e == EADDRNOTAVAIL, "the first stack does not have the last one's address (%s)", strerror(e));
	if (fd >= 0)
		close(fd);
	unsigned long ns_first = made ? stack_netns(s[0], vt_path("ns0")) : 0;
	unsigned long ns_last = made ? stack_netns(s[made - 1], vt_path("ns1")) : 0;
	CHECK(ns_first && ns_last && ns_first != ns_last && ns_first != ns0,
			"the first and the last stack have namespaces of their own (%lu, %lu; host %lu)",
			ns_first, ns_last, ns0);
	vt_info("references to them while they exist (visible to uid %d): %d, %d", (int)getuid(),
			netns_refs(ns_first), netns_refs(ns_last));
	t0 = vt_now();
	for (int i = 0; i < made; i++)
		vde_delstack(s[i]);
	CHECK(1, "%d stacks deleted in %.2f s", made, vt_now() - t0);

	double end = vt_now() + 2;
	while ((procs = vt_descendants(getpid(), d, 256)) > 0 && vt_now() < end) {
		vt_reap();
		vt_sleep(0.02);
	}
	CHECK(procs == 0, "no process left below this one (%d: first %d %s)", procs,
			procs ? (int)d[0] : 0, procs ? vt_comm(d[0]) : "");
	CHECK(vt_settle_fds(fds0, 1.0) == fds0, "no fd left within 1 s (%d before, %d after)", fds0,
			vt_count_fds());
	CHECK(tasks_elsewhere(ns0) == 0, "every thread of this process is back in the host netns");
	/* the helper held the namespaces; with no helper and no fd they are gone */
	int r1 = netns_refs(ns_first), r2 = netns_refs(ns_last);
	CHECK(r1 == 0 && r2 == 0,
			"nothing of this process or below refers to the stacks' namespaces any more (%d, %d)",
			r1, r2);
}

/* -------------------------------------------------------------- threads --- */
static struct vdestack *tstack;
static int terr;
static pthread_mutex_t tmu = PTHREAD_MUTEX_INITIALIZER;

static void *th_msocket(void *arg)
{
	int n = (int)(intptr_t)arg, bad = 0;

	for (int i = 0; i < n; i++) {
		int fd = vde_msocket(tstack, AF_INET, i & 1 ? SOCK_DGRAM : SOCK_STREAM, 0);
		if (fd < 0 || vt_bind(fd, "10.77.0.1", 0) != 0)
			bad++;
		if (fd >= 0)
			close(fd);
	}
	pthread_mutex_lock(&tmu);
	terr += bad;
	pthread_mutex_unlock(&tmu);
	return NULL;
}

static void *th_cmd(void *arg)
{
	int want = (int)(intptr_t)arg, bad = 0;

	for (int i = 0; i < 20; i++)
		if (vde_stackcmd(tstack, want ? "/bin/busybox false" : "/bin/busybox true") != want)
			bad++;
	pthread_mutex_lock(&tmu);
	terr += bad;
	pthread_mutex_unlock(&tmu);
	return NULL;
}

VT_TEST(threads_msocket, 90)
{
	pthread_t th[10];
	int fds0 = vt_count_fds();
	double t0 = vt_now();

	tstack = vt_stack("null://", NULL, "10.77.0.1/24");
	REQUIRE(tstack != NULL, "stack");
	terr = 0;
	for (int i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, th_msocket, (void *)(intptr_t)500);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	CHECK(terr == 0, "8 threads x 500 vde_msocket: every socket binds the stack address "
			"(%d failures, %.2f s)", terr, vt_now() - t0);
	terr = 0;
	pthread_create(&th[0], NULL, th_cmd, (void *)(intptr_t)1);
	pthread_create(&th[1], NULL, th_cmd, (void *)(intptr_t)0);
	for (int i = 2; i < 6; i++)
		pthread_create(&th[i], NULL, th_msocket, (void *)(intptr_t)200);
	for (int i = 0; i < 6; i++)
		pthread_join(th[i], NULL);
	CHECK(terr == 0, "stackcmd true/false in 2 threads with msocket in 4 more: every result right "
			"(%d failures)", terr);
	vde_delstack(tstack);
	CHECK(vt_settle_fds(fds0, 1.0) == fds0, "no fd left within 1 s (%d before, %d after)", fds0,
			vt_count_fds());
}

/* stacks created and deleted from several threads at once */
static void *th_addel(void *arg)
{
	char *vnl = arg;
	int bad = 0;

	for (int i = 0; i < 10; i++) {
		struct vdestack *s = vde_addstack(vnl, NULL);
		if (!s) {
			bad++;
			continue;
		}
		if (vde_stackcmd(s, "/bin/busybox true") != 0)
			bad++;
		vde_delstack(s);
	}
	pthread_mutex_lock(&tmu);
	terr += bad;
	pthread_mutex_unlock(&tmu);
	return NULL;
}

VT_TEST(threads_addstack, 90)
{
	pthread_t th[4];
	int fds0 = vt_count_fds();
	pid_t d[64];

	terr = 0;
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, th_addel, "null://");
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	CHECK(terr == 0, "4 threads x 10 addstack/stackcmd/delstack: %d failures", terr);
	double end = vt_now() + 2;
	int procs;
	while ((procs = vt_descendants(getpid(), d, 64)) > 0 && vt_now() < end) {
		vt_reap();
		vt_sleep(0.02);
	}
	CHECK(procs == 0, "no process left (%d)", procs);
	CHECK(vt_settle_fds(fds0, 1.0) == fds0, "no fd left within 1 s (%d before, %d after)", fds0,
			vt_count_fds());
}
