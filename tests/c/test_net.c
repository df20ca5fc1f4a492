// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_net.c - two stacks exchanging data: over ptp://, through a switch the
 * test starts, through an in-process switch:// of one of the stacks, and in
 * stream mode ("=cmd ..."); every transfer is checked byte for byte.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "vt.h"

#define KIB 1024

static void show_stats(struct vdestack *s, const char *name, struct vdestack_stats *st)
{
	memset(st, 0, sizeof(*st));
	int rc = vdestack_stats(s, st);
	CHECK(rc == 0, "vdestack_stats(%s) returns 0 (rc %d)", name, rc);
	vt_info("%s: tx %llu frames %llu bytes, rx %llu frames %llu bytes, dropped tx %llu rx %llu, "
			"runt %llu oversize %llu hung_up %u", name,
			(unsigned long long)st->tx_frames, (unsigned long long)st->tx_bytes,
			(unsigned long long)st->rx_frames, (unsigned long long)st->rx_bytes,
			(unsigned long long)st->tx_dropped, (unsigned long long)st->rx_dropped,
			(unsigned long long)st->rx_runt, (unsigned long long)st->rx_oversize, st->hung_up);
}

/*
 * echo in both directions, then the counters must show the traffic.  The
 * owner of an in-process switch:// (a_switch) sees the plugin's 1-byte
 * "handled internally" returns, which count as runts (vdestack.h).
 */
static void exchange(struct vdestack *a, struct vdestack *b, const char *how, size_t total,
		int a_switch)
{
	char why[256] = "";
	struct vdestack_stats sa, sb;
	int ok;

	ok = vt_tcp_echo(a, b, "10.77.0.1", 7100, total, why, sizeof(why));
	CHECK(ok, "%s: %zu KiB TCP echo, client in b, server in a %s", how, total / KIB, why);
	ok = vt_tcp_echo(b, a, "10.77.0.2", 7101, total, why, sizeof(why));
	CHECK(ok, "%s: %zu KiB TCP echo, client in a, server in b %s", how, total / KIB, why);
	show_stats(a, "a", &sa);
	show_stats(b, "b", &sb);
	CHECK(sa.tx_bytes >= 2 * total && sa.rx_bytes >= 2 * total && sa.tx_frames > 0 &&
			sa.rx_frames > 0, "%s: a's counters show the traffic", how);
	CHECK(sb.tx_bytes >= 2 * total && sb.rx_bytes >= 2 * total, "%s: b's counters show the traffic",
			how);
	CHECK(sa.hung_up == 0 && sb.hung_up == 0, "%s: no hang-up", how);
	CHECK((a_switch || sa.rx_runt == 0) && sb.rx_runt == 0 &&
			sa.rx_oversize == 0 && sb.rx_oversize == 0,
			"%s: no garbage counted", how);
}

/* UDP datagrams cross too, with the sender's address as the stack has it */
static void udp_check(struct vdestack *a, struct vdestack *b, const char *how)
{
	int rx = vde_msocket(a, AF_INET, SOCK_DGRAM, 0), tx = vde_msocket(b, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(7200) }, from;
	socklen_t fl = sizeof(from);
	char buf[64] = "", ip[32] = "";
	ssize_t n = -1;

	inet_pton(AF_INET, "10.77.0.1", &to.sin_addr);
	vt_bind(rx, "10.77.0.1", 7200);
	vt_timeouts(rx, 0.5);
	/* the first datagrams may wait for ARP: resend until one arrives */
	for (int i = 0; i < 20 && n < 0; i++) {
		sendto(tx, "datagram", 8, 0, (struct sockaddr *)&to, sizeof(to));
		n = recvfrom(rx, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
	}
	if (n >= 0) {
		buf[n] = 0;
		inet_ntop(AF_INET, &from.sin_addr, ip, sizeof(ip));
	}
	CHECK(n == 8 && strcmp(buf, "datagram") == 0 && strcmp(ip, "10.77.0.2") == 0,
			"%s: UDP datagram b -> a arrives intact from 10.77.0.2 (n %zd, \"%s\" from %s)",
			how, n, buf, ip);
	close(rx);
	close(tx);
}

VT_TEST(ptp_echo, 60)
{
	char vnl[2 * VT_MAXPATH];
	struct vdestack *a, *b;

	snprintf(vnl, sizeof(vnl), "ptp://%s/link", vt_dir);
	a = vt_stack(vnl, NULL, "10.77.0.1/24");
	b = vt_stack(vnl, NULL, "10.77.0.2/24");
	REQUIRE(a && b, "two stacks on %s", vnl);
	exchange(a, b, "ptp", 512 * KIB, 0);
	udp_check(a, b, "ptp");
	vde_delstack(b);
	vde_delstack(a);
	CHECK(access(vt_path("link"), F_OK) != 0 && access(vt_path("link+"), F_OK) != 0,
			"after vde_delstack the ptp sockets link and link+ are gone");
}

/* two stacks on one ptp:// link: TCP both ways and UDP, then deleted */
static void ptp_pair(const char *how)
{
	char vnl[2 * VT_MAXPATH];
	struct vdestack *a, *b;

	snprintf(vnl, sizeof(vnl), "ptp://%s/link", vt_dir);
	a = vt_stack(vnl, NULL, "10.77.0.1/24");
	b = vt_stack(vnl, NULL, "10.77.0.2/24");
	REQUIRE(a && b, "%s: two stacks on %s", how, vnl);
	exchange(a, b, how, 512 * KIB, 0);
	udp_check(a, b, how);
	vde_delstack(b);
	vde_delstack(a);
}

/* polling off (VDESTACK_BUSY_POLL_US=0): pumps and callers sleep */
VT_TEST(ptp_echo_no_polling, 60)
{
	setenv("VDESTACK_BUSY_POLL_US", "0", 1);
	ptp_pair("ptp, no polling");
}

/* this process confined to the CPU it runs on */
static void pin_one_cpu(void)
{
	cpu_set_t one;
	int cpu = sched_getcpu();

	CPU_ZERO(&one);
	CPU_SET(cpu < 0 ? 0 : cpu, &one);
	REQUIRE(sched_setaffinity(0, sizeof(one), &one) == 0, "pinned to CPU %d", cpu);
}

/* a process confined to one CPU (no polling by default there) */
VT_TEST(ptp_echo_one_cpu, 60)
{
	pin_one_cpu();
	ptp_pair("ptp, one CPU");
}

/*
 * Polling stops: after traffic and a burst of socket requests (which make
 * the pump, the helper and the caller poll), the process and its helper
 * use next to no CPU while nothing happens.
 */
VT_TEST(idle_after_traffic, 60)
{
	char vnl[2 * VT_MAXPATH];
	struct vdestack *a, *b;
	double c0, c1;

	snprintf(vnl, sizeof(vnl), "ptp://%s/link", vt_dir);
	a = vt_stack(vnl, NULL, "10.77.0.1/24");
	b = vt_stack(vnl, NULL, "10.77.0.2/24");
	REQUIRE(a && b, "two stacks on %s", vnl);
	exchange(a, b, "ptp", 256 * KIB, 0);
	for (int i = 0; i < 200; i++) {
		int fd = vde_msocket(i % 2 ? a : b, AF_INET, SOCK_DGRAM, 0);

		REQUIRE(fd >= 0, "vde_msocket %d: %s", i, fd < 0 ? strerror(errno) : "ok");
		close(fd);
	}
	vt_sleep(0.2);
	c0 = vt_cpu_tree();
	vt_sleep(1.0);
	c1 = vt_cpu_tree();
	CHECK(c1 - c0 < 0.1, "idle after traffic: %.2f s of CPU in 1 s (this process and its helper)",
			c1 - c0);
	vde_delstack(b);
	vde_delstack(a);
}

VT_TEST(switch_echo, 60)
{
	char vnl[2 * VT_MAXPATH];
	struct vdestack *a, *b, *c;
	pid_t sw = vt_switch_start(vt_path("sw"));

	REQUIRE(sw > 0, "vde_plug null:// switch://%s/sw started", vt_dir);
	snprintf(vnl, sizeof(vnl), "vde://%s/sw", vt_dir);
	a = vt_stack(vnl, NULL, "10.77.0.1/24");
	b = vt_stack(vnl, NULL, "10.77.0.2/24");
	c = vt_stack(vnl, NULL, "10.77.0.3/24");
	REQUIRE(a && b && c, "three stacks on %s", vnl);
	exchange(a, b, "switch", 512 * KIB, 0);
	udp_check(a, b, "switch");
	char why[256] = "";
	CHECK(vt_tcp_echo(c, a, "10.77.0.3", 7300, 64 * KIB, why, sizeof(why)),
			"switch: a third stack reaches the others %s", why);
	vde_delstack(a);
	vde_delstack(b);
	vde_delstack(c);
	vt_kill(sw, SIGTERM);
}

/* switch:// opened by one stack (an in-process switch), vde:// by the others */
VT_TEST(inproc_switch, 60)
{
	char vsw[2 * VT_MAXPATH], vde[2 * VT_MAXPATH];
	struct vdestack *a, *b, *c;

	snprintf(vsw, sizeof(vsw), "switch://%s/sw", vt_dir);
	snprintf(vde, sizeof(vde), "vde://%s/sw", vt_dir);
	a = vt_stack(vsw, NULL, "10.77.0.1/24");
	REQUIRE(a != NULL, "stack a opens %s", vsw);
	CHECK(access(vt_path("sw/ctl"), F_OK) == 0, "the switch's ctl socket exists");
	b = vt_stack(vde, NULL, "10.77.0.2/24");
	c = vt_stack(vde, NULL, "10.77.0.3/24");
	REQUIRE(b && c, "stacks b and c join with %s", vde);
	exchange(a, b, "in-process switch", 256 * KIB, 1);
	udp_check(a, b, "in-process switch");
	char why[256] = "";
	CHECK(vt_tcp_echo(b, c, "10.77.0.2", 7300, 64 * KIB, why, sizeof(why)),
			"two members of the switch (neither its owner) talk %s", why);
	errno = 0;
	struct vdestack *dup = vde_addstack(vsw, NULL);
	int e = errno;
	CHECK(dup == NULL && e != 0, "a second switch:// on the same path fails (%s)", strerror(e));
	if (dup)
		vde_delstack(dup);
	vde_delstack(c);
	vde_delstack(b);
	vde_delstack(a);
	CHECK(access(vt_path("sw"), F_OK) != 0, "after vde_delstack the switch directory is gone");
}

static void stream_test(const char *cmd)
{
	char vnl[2 * VT_MAXPATH], vde[2 * VT_MAXPATH];
	struct vdestack *a, *b;
	pid_t sw = vt_switch_start(vt_path("sw"));

	REQUIRE(sw > 0, "switch started");
	snprintf(vnl, sizeof(vnl), "=%s vde://%s/sw", cmd, vt_dir);
	snprintf(vde, sizeof(vde), "vde://%s/sw", vt_dir);
	a = vt_stack(vnl, NULL, "10.77.0.1/24");
	b = vt_stack(vde, NULL, "10.77.0.2/24");
	REQUIRE(a && b, "stream-mode stack \"%s\" and a vde:// stack", vnl);
	exchange(a, b, "stream", 256 * KIB, 0);
	udp_check(a, b, "stream");
	vde_delstack(a);
	vde_delstack(b);
	vt_kill(sw, SIGTERM);
}

VT_TEST(stream_path_lookup, 60)
{
	stream_test("vde_plug");
}

VT_TEST(stream_full_path, 60)
{
	const char *p = vt_which("vde_plug");

	REQUIRE(p != NULL, "vde_plug found on PATH");
	char full[VT_MAXPATH];
	snprintf(full, sizeof(full), "%s", p);
	stream_test(full);
}

/* ptp between a stream-mode stack and a vde_plug the test starts */
VT_TEST(stream_ptp, 60)
{
	char vnl[2 * VT_MAXPATH], ptp[2 * VT_MAXPATH];
	struct vdestack *a, *b;

	snprintf(vnl, sizeof(vnl), "=vde_plug ptp://%s/link", vt_dir);
	snprintf(ptp, sizeof(ptp), "ptp://%s/link", vt_dir);
	a = vt_stack(vnl, NULL, "10.77.0.1/24");
	REQUIRE(a != NULL, "stream-mode stack \"%s\"", vnl);
	REQUIRE(vt_wait_path(vt_path("link"), 5), "vde_plug opened %s", ptp);
	b = vt_stack(ptp, NULL, "10.77.0.2/24");
	REQUIRE(b != NULL, "the other end of the link");
	exchange(a, b, "stream over ptp", 128 * KIB, 0);
	vde_delstack(b);
	vde_delstack(a);
}

/* two separate networks with the same addresses do not mix */
VT_TEST(isolation, 60)
{
	char l1[2 * VT_MAXPATH], l2[2 * VT_MAXPATH], why[256] = "";
	struct vdestack *a1, *b1, *a2, *b2;

	snprintf(l1, sizeof(l1), "ptp://%s/l1", vt_dir);
	snprintf(l2, sizeof(l2), "ptp://%s/l2", vt_dir);
	a1 = vt_stack(l1, NULL, "10.77.0.1/24");
	b1 = vt_stack(l1, NULL, "10.77.0.2/24");
	a2 = vt_stack(l2, NULL, "10.77.0.1/24");
	b2 = vt_stack(l2, NULL, "10.77.0.2/24");
	REQUIRE(a1 && b1 && a2 && b2, "four stacks on two links");
	int s1 = vt_listen(a1, "10.77.0.1", 7400), s2 = vt_listen(a2, "10.77.0.1", 7400);
	REQUIRE(s1 >= 0 && s2 >= 0, "both a1 and a2 listen on 10.77.0.1:7400");
	/* a1 echoes; a2 only accepts and says "two" */
	vt_echo_server(s1, 1);
	int c2 = vt_connect(b2, "10.77.0.1", 7400, 10), k2 = c2 >= 0 ? accept(s2, NULL, NULL) : -1;
	CHECK(c2 >= 0 && k2 >= 0, "b2 connects to a2");
	if (k2 >= 0) {
		send(k2, "two", 3, MSG_NOSIGNAL);
		char buf[8] = "";
		vt_timeouts(c2, 5);
		ssize_t n = recv(c2, buf, 3, MSG_WAITALL);
		CHECK(n == 3 && memcmp(buf, "two", 3) == 0, "b2 hears a2 (\"%.3s\")", buf);
		close(k2);
	}
	if (c2 >= 0)
		close(c2);
	int c1 = vt_connect(b1, "10.77.0.1", 7400, 10);
	CHECK(c1 >= 0 && vt_echo_roundtrip(c1, 16 * KIB, why, sizeof(why)),
			"b1 gets a1's echo service, not a2's %s", why);
	if (c1 >= 0)
		close(c1);
	close(s2);
	vde_delstack(a1);
	vde_delstack(b1);
	vde_delstack(a2);
	vde_delstack(b2);
}

static int flush_rounds(const char *server_vnl, const char *client_vnl, int rounds, char *why,
		size_t whylen)
{
	int lost = 0;
	struct vdestack *a = vt_stack(server_vnl, NULL, "10.77.0.1/24");

	REQUIRE(a != NULL, "server stack on %s", server_vnl);
	int lfd = vt_listen(a, "10.77.0.1", 7500);
	REQUIRE(lfd >= 0, "listening");
	for (int r = 0; r < rounds; r++) {
		struct vdestack *b = vt_stack(client_vnl, NULL, "10.77.0.2/24");
		REQUIRE(b != NULL, "round %d: client stack", r);
		int c = vt_connect(b, "10.77.0.1", 7500, 10);
		int s = c >= 0 ? accept(lfd, NULL, NULL) : -1;
		REQUIRE(c >= 0 && s >= 0, "round %d: connected", r);
		char buf[8];
		ssize_t n = send(c, "x", 1, MSG_NOSIGNAL);
		vt_timeouts(s, 2);
		n = recv(s, buf, 1, 0);
		close(c);
		vde_delstack(b);
		n = recv(s, buf, sizeof(buf), 0);
		if (n != 0) {
			lost++;
			snprintf(why, whylen, "round %d: recv %zd (%s)", r, n,
					n < 0 ? strerror(errno) : "data");
		}
		close(s);
	}
	close(lfd);
	vde_delstack(a);
	return lost;
}

/*
 * close() then vde_delstack() at once, as a program that exits does: the
 * FIN that close() queued on the interface still reaches the peer, which
 * sees end of file (else the README echo server's child waits forever).
 */
VT_TEST(delstack_flushes, 90)
{
	char vsw[2 * VT_MAXPATH], vde[2 * VT_MAXPATH], why[64] = "";
	int lost, rounds = 20;
	pid_t sw = vt_switch_start(vt_path("sw"));

	REQUIRE(sw > 0, "switch started");
	snprintf(vde, sizeof(vde), "vde://%s/sw", vt_dir);
	lost = flush_rounds(vde, vde, rounds, why, sizeof(why));
	CHECK(lost == 0, "external switch: after close() + vde_delstack() the peer saw end of file "
			"in all %d rounds (%d lost; last: %s)", rounds, lost, why);
	vt_kill(sw, SIGTERM);

	snprintf(vsw, sizeof(vsw), "switch://%s/sw2", vt_dir);
	snprintf(vde, sizeof(vde), "vde://%s/sw2", vt_dir);
	why[0] = 0;
	lost = flush_rounds(vsw, vde, rounds, why, sizeof(why));
	CHECK(lost == 0, "in-process switch of the server: after close() + vde_delstack() the peer saw "
			"end of file in all %d rounds (%d lost; last: %s)", rounds, lost, why);
}

/* ---------------------------------------------------------------- IPv6 --- */

/* the kernel's counters of vde0 in stack s (/proc/net/dev read inside it) */
static int kernel_counters(struct vdestack *s, const char *name, unsigned long long *rx_pkts,
		unsigned long long *tx_pkts)
{
	char buf[4096], *l;
	const char *path = vt_path("dev-%s", name);

	if (vt_cmd(s, "/bin/busybox sh -c 'cat /proc/net/dev > %s'", path) != 0 ||
			vt_read_file(path, buf, sizeof(buf)) < 0 || !(l = strstr(buf, "vde0:")))
		return -1;
	/* rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets */
	return sscanf(l + 5, "%*u %llu %*u %*u %*u %*u %*u %*u %*u %llu", rx_pkts, tx_pkts) == 2 ?
		0 : -1;
}

struct bulk {
	int fd;
	size_t total;
	int err;
};

static uint8_t bulk_byte(size_t i)
{
	return (uint8_t)(i * 131 + (i >> 11));
}

static void *bulk_send(void *arg)
{
	struct bulk *b = arg;
	static uint8_t chunk[64 * KIB];
	size_t done = 0;

	while (done < b->total) {
		size_t len = b->total - done < sizeof(chunk) ? b->total - done : sizeof(chunk), i;
		ssize_t w;

		for (i = 0; i < len; i++)
			chunk[i] = bulk_byte(done + i);
		for (i = 0; i < len; i += w) {
			w = send(b->fd, chunk + i, len - i, MSG_NOSIGNAL);
			if (w <= 0) {
				b->err = w < 0 ? errno : EPIPE;
				return NULL;
			}
		}
		done += len;
	}
	shutdown(b->fd, SHUT_WR);
	return NULL;
}

/*
 * total bytes to an echo server at ip in a, from b, in 64 KiB writes while
 * the echo is read back and compared: both directions full, so the stacks
 * hand their interfaces large TSO packets and GRO has trains to merge.
 */
static int bulk_echo(struct vdestack *a, struct vdestack *b, const char *ip, int port,
		size_t total, char *why, size_t whylen)
{
	int lfd = vt_listen(a, ip, port);
	struct bulk bk = { .total = total };
	static uint8_t in[64 * KIB];
	size_t got = 0;
	pthread_t th;
	int ok = 1;

	if (lfd < 0) {
		snprintf(why, whylen, "listen on [%s]:%d: %s", ip, port, strerror(errno));
		return 0;
	}
	vt_echo_server(lfd, 1);
	bk.fd = vt_connect(b, ip, port, 15);
	if (bk.fd < 0) {
		snprintf(why, whylen, "connect to [%s]:%d: %s", ip, port, strerror(errno));
		return 0;
	}
	vt_timeouts(bk.fd, 10);
	pthread_create(&th, NULL, bulk_send, &bk);
	while (ok && got < total) {
		ssize_t r = recv(bk.fd, in, sizeof(in), 0);

		if (r <= 0) {
			snprintf(why, whylen, "recv at byte %zu/%zu: %s", got, total,
					r < 0 ? strerror(errno) : "EOF");
			ok = 0;
			break;
		}
		for (ssize_t i = 0; i < r; i++)
			if (in[i] != bulk_byte(got + i)) {
				snprintf(why, whylen, "byte %zd came back different", got + i);
				ok = 0;
				break;
			}
		got += r;
	}
	if (!ok)
		shutdown(bk.fd, SHUT_RDWR);
	pthread_join(th, NULL);
	if (ok && bk.err) {
		snprintf(why, whylen, "send: %s", strerror(bk.err));
		ok = 0;
	}
	close(bk.fd);
	return ok;
}

/*
 * IPv6 TCP between two stacks: 4 MiB each way, byte for byte.  The stacks'
 * own counters (frames on the VDE side) against the kernel's (packets
 * through the tap) show that TSO (GSO_TCPV6) and GRO (IPv6) did the work.
 */
VT_TEST(ptp_ipv6, 90)
{
	char vnl[2 * VT_MAXPATH], why[256] = "";
	unsigned long long krx_a, ktx_a, krx_b, ktx_b;
	struct vdestack_stats sa, sb, sa0, sb0;
	struct vdestack *a, *b;
	int rc;

	snprintf(vnl, sizeof(vnl), "ptp://%s/link", vt_dir);
	a = vt_stack(vnl, NULL, NULL);
	b = vt_stack(vnl, NULL, NULL);
	REQUIRE(a && b, "two stacks on %s", vnl);
	/* busybox ip has no nodad: iproute2's (scripts/deps.sh installs it) */
	rc = vt_cmd(a, "/bin/ip -6 addr add fd00::1/64 dev vde0 nodad;/bin/ip link set vde0 up");
	CHECK(rc == 0, "fd00::1/64 nodad on a's vde0, link up (rc %d)", rc);
	rc = vt_cmd(b, "/bin/ip -6 addr add fd00::2/64 dev vde0 nodad;/bin/ip link set vde0 up");
	CHECK(rc == 0, "fd00::2/64 nodad on b's vde0, link up (rc %d)", rc);
	/* a's first multicast listener reports may meet b's link still down (EIO) */
	show_stats(a, "a", &sa0);
	show_stats(b, "b", &sb0);

	rc = vt_tcp_echo(a, b, "fd00::1", 7300, 512 * KIB, why, sizeof(why));
	CHECK(rc, "IPv6: 512 KiB echoed in 4 KiB steps, client in b %s", why);
	rc = bulk_echo(a, b, "fd00::1", 7301, 4096 * KIB, why, sizeof(why));
	CHECK(rc, "IPv6: 4 MiB echoed at full speed, client in b, server in a %s", why);
	rc = bulk_echo(b, a, "fd00::2", 7302, 4096 * KIB, why, sizeof(why));
	CHECK(rc, "IPv6: 4 MiB echoed at full speed, client in a, server in b %s", why);

	show_stats(a, "a", &sa);
	show_stats(b, "b", &sb);
	/* 0.5 + 4 + 4 MiB of TCP payload each way */
	CHECK(sa.tx_bytes >= 8704ull * KIB && sb.tx_bytes >= 8704ull * KIB &&
			sa.rx_bytes >= 8704ull * KIB && sb.rx_bytes >= 8704ull * KIB,
			"the counters show 8.5 MiB and more each way");
	REQUIRE(kernel_counters(a, "a", &krx_a, &ktx_a) == 0 &&
			kernel_counters(b, "b", &krx_b, &ktx_b) == 0,
			"the kernel's counters of vde0 read in both stacks");
	vt_info("kernel vde0: a rx %llu tx %llu packets, b rx %llu tx %llu packets",
			krx_a, ktx_a, krx_b, ktx_b);
	/* each packet read from the tap became frames; frames merged into packets */
	CHECK(sa.tx_frames > 2 * ktx_a && sb.tx_frames > 2 * ktx_b,
			"TSO: more than 2 frames sent per packet read (a %llu/%llu, b %llu/%llu)",
			(unsigned long long)sa.tx_frames, ktx_a, (unsigned long long)sb.tx_frames, ktx_b);
	CHECK(sa.rx_frames > 2 * krx_a && sb.rx_frames > 2 * krx_b,
			"GRO: more than 2 frames received per packet written (a %llu/%llu, b %llu/%llu)",
			(unsigned long long)sa.rx_frames, krx_a, (unsigned long long)sb.rx_frames, krx_b);
	CHECK(sa.tx_dropped == sa0.tx_dropped && sb.tx_dropped == sb0.tx_dropped &&
			sa.rx_dropped == sa0.rx_dropped && sb.rx_dropped == sb0.rx_dropped,
			"nothing dropped once both links were up");
	vde_delstack(b);
	vde_delstack(a);
}


/*
 * UDP GRO: bursts of datagrams from b to a (ptp://) arrive each intact and
 * in order, while a's kernel counts fewer packets written to its vde0 than
 * frames the pump took from the link: runs of them entered as UDP GSO
 * packets and were cut into the same datagrams again by the kernel.
 */
VT_TEST(udp_gro, 60)
{
	char vnl[2 * VT_MAXPATH];
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(7500) };
	unsigned long long krx0, ktx0, krx, ktx;
	struct vdestack_stats s0, s1;
	struct vdestack *a, *b;
	int rx, tx, rcvbuf = 4 << 20, bad = 0, got = 0, sent = 0;
	char buf[512];

	snprintf(vnl, sizeof(vnl), "ptp://%s/link", vt_dir);
	a = vt_stack(vnl, NULL, "10.77.0.1/24");
	b = vt_stack(vnl, NULL, "10.77.0.2/24");
	REQUIRE(a && b, "two stacks on %s", vnl);
	udp_check(a, b, "ptp");	/* ARP done */
	rx = vde_msocket(a, AF_INET, SOCK_DGRAM, 0);
	tx = vde_msocket(b, AF_INET, SOCK_DGRAM, 0);
	REQUIRE(rx >= 0 && tx >= 0, "UDP sockets in a and b");
	setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	inet_pton(AF_INET, "10.77.0.1", &to.sin_addr);
	vt_bind(rx, "10.77.0.1", 7500);
	vt_timeouts(rx, 2);
	REQUIRE(connect(tx, (struct sockaddr *)&to, sizeof(to)) == 0, "connect");
	show_stats(a, "a", &s0);
	REQUIRE(kernel_counters(a, "a0", &krx0, &ktx0) == 0, "a's vde0 counters");
	/* 20 bursts of 200 datagrams of 200 bytes: number, then a pattern */
	for (int burst = 0; burst < 20 && !bad; burst++) {
		for (int i = 0; i < 200; i++, sent++) {
			memset(buf, 'a' + sent % 26, 200);
			memcpy(buf, &sent, sizeof(sent));
			if (send(tx, buf, 200, 0) != 200)
				bad++;
		}
		while (got < sent && !bad) {
			int num;
			ssize_t n = recv(rx, buf, sizeof(buf), 0);

			if (n < 0)
				break;
			memcpy(&num, buf, sizeof(num));
			if (n != 200 || num != got || buf[199] != 'a' + got % 26)
				bad++;
			got++;
		}
	}
	CHECK(!bad && got == sent && sent == 4000,
	      "4000 datagrams of 200 bytes arrived, each intact and in order (%d of %d, %d bad)",
	      got, sent, bad);
	show_stats(a, "a", &s1);
	REQUIRE(kernel_counters(a, "a1", &krx, &ktx) == 0, "a's vde0 counters again");
	vt_info("a: %llu frames from the link, %llu packets written to vde0",
		(unsigned long long)(s1.rx_frames - s0.rx_frames), krx - krx0);
	CHECK(s1.rx_frames - s0.rx_frames >= 4000 && krx - krx0 < (s1.rx_frames - s0.rx_frames) / 2,
	      "UDP GRO: fewer than half as many packets written as frames received");
	CHECK(s1.rx_dropped == s0.rx_dropped, "nothing dropped");
	close(rx);
	close(tx);
	vde_delstack(b);
	vde_delstack(a);
}

/* threads of this process named @name (pump.c names its threads) */
static int threads_named(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		char path[300], comm[32];
		ssize_t len;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		len = vt_read_file(path, comm, sizeof(comm) - 1);
		if (len > 0 && strncmp(comm, name, strlen(name)) == 0 && comm[strlen(name)] == '\n')
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

static int cpus_allowed(void)
{
	cpu_set_t cpus;

	return sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
}

struct inflight {
	int fd;
	size_t sent;
};

/* sends until the socket fails (shut down by the test) */
static void *send_until_shut(void *arg)
{
	struct inflight *f = arg;
	static uint8_t chunk[64 * KIB];

	for (;;) {
		ssize_t w = send(f->fd, chunk, sizeof(chunk), MSG_NOSIGNAL);

		if (w <= 0)
			return NULL;
		f->sent += w;
	}
}

/*
 * The pump adapts.  A bulk stream over ptp:// keeps the one shared pump
 * thread busy with both stacks, so (given two CPUs or more) one stack gets
 * a thread of its own; the stream goes on byte for byte while stacks move
 * (back, too, when the move does not pay); a stack that may sit on its own
 * thread is deleted with bytes in flight; and no pump thread outlives the
 * stacks.
 */
VT_TEST(adaptive_pump, 120)
{
	char vnl[2 * VT_MAXPATH], why[256] = "";
	int rounds = 0, ok = 1, lone, port = 7400;
	struct inflight f = { -1, 0 };
	struct vdestack *a, *b;
	double end;
	pthread_t th;
	int lfd;

	snprintf(vnl, sizeof(vnl), "ptp://%s/link", vt_dir);
	a = vt_stack(vnl, NULL, "10.77.0.1/24");
	b = vt_stack(vnl, NULL, "10.77.0.2/24");
	REQUIRE(a && b, "two stacks on %s", vnl);
	ok = vt_tcp_echo(a, b, "10.77.0.1", port++, 64 * KIB, why, sizeof(why));
	REQUIRE(ok, "64 KiB echoed %s", why);
	CHECK(threads_named("vdestack-pump") == 1 && threads_named("vdestack-lone") == 0,
			"one shared pump thread, no other (%d, %d)", threads_named("vdestack-pump"),
			threads_named("vdestack-lone"));
	lone = cpus_allowed() >= 2;
	end = vt_now() + (lone ? 30 : 3);
	while (ok && vt_now() < end && (!lone || threads_named("vdestack-lone") == 0)) {
		ok = bulk_echo(a, b, "10.77.0.1", port++, 16384 * KIB, why, sizeof(why));
		rounds++;
	}
	CHECK(ok, "16 MiB echoes at full speed, byte for byte (%d rounds) %s", rounds, why);
	CHECK(threads_named("vdestack-lone") == lone && threads_named("vdestack-pump") == 1,
			"%s: %d lone pump thread(s) after %d rounds of 16 MiB (%d CPUs)",
			lone ? "a busy stack got a pump thread of its own" :
			"one CPU: no pump thread besides the shared one",
			threads_named("vdestack-lone"), rounds, cpus_allowed());
	ok = bulk_echo(b, a, "10.77.0.2", port++, 16384 * KIB, why, sizeof(why)) &&
		bulk_echo(a, b, "10.77.0.1", port++, 16384 * KIB, why, sizeof(why));
	CHECK(ok, "after that, 16 MiB each way byte for byte %s", why);

	/* delete the server's stack while the stream runs */
	lfd = vt_listen(a, "10.77.0.1", port);
	REQUIRE(lfd >= 0, "listen in a");
	vt_echo_server(lfd, 1);
	f.fd = vt_connect(b, "10.77.0.1", port, 15);
	REQUIRE(f.fd >= 0, "connect from b");
	pthread_create(&th, NULL, send_until_shut, &f);
	vt_sleep(0.5);
	vde_delstack(a);
	shutdown(f.fd, SHUT_RDWR);
	pthread_join(th, NULL);
	close(f.fd);
	vt_info("%zu bytes sent before a was deleted", f.sent);
	CHECK(f.sent > 0, "the stream ran when a was deleted (%zu bytes)", f.sent);
	ok = vt_cmd(b, "/bin/true") == 0;
	CHECK(ok, "b still works after a was deleted");
	vde_delstack(b);
	end = vt_now() + 5;
	while (threads_named("vdestack-pump") + threads_named("vdestack-lone") > 0 && vt_now() < end)
		vt_sleep(0.05);
	CHECK(threads_named("vdestack-pump") + threads_named("vdestack-lone") == 0,
			"no pump thread outlives the stacks (%d left)",
			threads_named("vdestack-pump") + threads_named("vdestack-lone"));
}

/* one CPU: never a pump thread of its own (it could only take turns) */
VT_TEST(adaptive_one_cpu, 60)
{
	pin_one_cpu();
	vt_body_adaptive_pump();
}
