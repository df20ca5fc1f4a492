// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_dhcp.c - the DHCPv4, DHCPv6 and SLAAC clients and the resolver of
 * the library against real servers (busybox udhcpd, ISC dhcpd -6, radvd,
 * dnsmasq) that run in another stack on the same switch.
 *
 * The program links the library's objects statically (vdestack_objs), so it
 * can call the internal entry points the configuration string uses
 * (vds_dhcp4_start, ...; csrc/netinfo.h) as well as the public calls.
 * A server runs as a command of its stack, from a thread (vde_stackcmd
 * waits for it); the test ends it by pid.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "vt.h"

/* built with ASan or TSan (gcc's macros, clang's __has_feature) */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define VT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define VT_SANITIZED 1
#endif
#endif
#ifndef VT_SANITIZED
#define VT_SANITIZED 0
#endif
#include "netinfo.h"
#include "dhcp.h"

/* ------------------------------------------------------ server in a stack --- */

struct daemon {
	struct vdestack *stack;
	char *argv[16];
	pthread_t thread;
	int status;
	pid_t pid;
};

static void *daemon_thread(void *arg)
{
	struct daemon *d = arg;

	d->status = vdestack_cmdv(d->stack, d->argv);
	return NULL;
}

/* the first descendant process (breadth first: a daemon before its own
 * children) whose command name is comm */
static pid_t find_proc(const char *comm, pid_t not)
{
	pid_t pids[256];
	int n = vt_descendants(getpid(), pids, 256);

	for (int i = 0; i < n; i++)
		if (pids[i] != not && !strcmp(vt_comm(pids[i]), comm))
			return pids[i];
	return -1;
}

/* start argv in stack; the process is found by its command name */
static int daemon_start(struct daemon *d, struct vdestack *stack, const char *comm, ...)
{
	va_list ap;
	int i = 0;
	pid_t before = find_proc(comm, -1);

	memset(d, 0, sizeof(*d));
	d->stack = stack;
	d->status = -2;
	va_start(ap, comm);
	while (i < 15 && (d->argv[i] = va_arg(ap, char *)))
		i++;
	va_end(ap);
	if (pthread_create(&d->thread, NULL, daemon_thread, d))
		return -1;
	for (double end = vt_now() + 5; vt_now() < end; vt_sleep(0.02)) {
		d->pid = find_proc(comm, before);
		if (d->pid > 0) {
			vt_track(d->pid);
			return 0;
		}
		if (d->status != -2)
			break;
	}
	CHECK(0, "%s started in its stack (status %d)", d->argv[0], d->status);
	return -1;
}

static void daemon_stop(struct daemon *d)
{
	struct timespec ts;

	if (d->pid > 0)
		kill(d->pid, SIGTERM);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	if (pthread_timedjoin_np(d->thread, NULL, &ts) != 0) {
		CHECK(0, "%s ended within 5 s of SIGTERM", d->argv[0]);
		kill(d->pid, SIGKILL);
		pthread_join(d->thread, NULL);
	}
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	REQUIRE(f != NULL, "create %s", path);
	fputs(text, f);
	fclose(f);
}

/* run a command on the host, its output in buf */
static int host_output(char *buf, size_t len, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	FILE *p;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	n = fread(buf, 1, len - 1, p);
	buf[n] = 0;
	return pclose(p);
}

/* accept one TCP connection on lfd; the peer's address as text in peer */
static int accept_peer(int lfd, char *peer, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd = accept(lfd, (struct sockaddr *)&ss, &sl);

	if (fd < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, peer, len);
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, peer, len);
	return fd;
}

/* ---------------------------------------------------------------- DHCPv4 --- */

static const char udhcpd_conf[] =
	"start 10.0.0.100\n"
	"end 10.0.0.150\n"
	"interface vde0\n"
	"lease_file %s\n"
	"option subnet 255.255.255.0\n"
	"option router 10.0.0.1\n"
	"option dns 10.0.0.53 10.0.0.54\n"
	"option domain dhcp.test\n"
	"option lease %d\n";

static struct vdestack *udhcpd_setup(struct daemon *srv, const char *vnl, int lease_s)
{
	char text[1024];
	struct vdestack *s = vt_stack(vnl, NULL, "10.0.0.1/24");

	REQUIRE(s != NULL, "server stack");
	snprintf(text, sizeof(text), udhcpd_conf, vt_path("leases"), lease_s);
	write_file(vt_path("udhcpd.conf"), text);
	write_file(vt_path("leases"), "");
	REQUIRE(daemon_start(srv, s, "busybox", "/bin/busybox", "udhcpd", "-f",
			     vt_path("udhcpd.conf"), NULL) == 0, "udhcpd runs");
	return s;
}

/* what udhcpd's lease file says now (SIGUSR1 makes it write the file) */
static void dump_leases(struct daemon *srv, char *buf, size_t len)
{
	char before[4096] = "";

	vt_read_file(vt_path("leases"), before, sizeof(before));
	kill(srv->pid, SIGUSR1);
	vt_sleep(0.3);
	host_output(buf, len, "/bin/busybox dumpleases -f %s 2>&1", vt_path("leases"));
	vt_info("dumpleases: %s", buf);
}

VT_TEST(dhcp4_udhcpd, 60)
{
	char vnl[VT_MAXPATH + 8], text[4096], peer[64], addr[32];
	struct daemon srv;
	struct vds_lease4 l, l2;
	struct vdestack *s, *c;
	double t0;
	int ret, lfd, cfd, afd;
	char *rc;

	REQUIRE(vt_switch_start(vt_path("sw")) > 0, "switch");
	snprintf(vnl, sizeof(vnl), "vde://%s", vt_path("sw"));
	s = udhcpd_setup(&srv, vnl, 10);
	c = vt_stack(vnl, NULL, NULL);
	REQUIRE(c != NULL, "client stack");

	t0 = vt_now();
	ret = vds_dhcp4_start(c, "vde0", "dhcpclient.dhcp.test", 10000);
	REQUIRE(ret == 0, "vds_dhcp4_start: %d (%s) after %.2f s", ret, strerror(-ret),
		vt_now() - t0);
	vt_info("leased in %.3f s", vt_now() - t0);
	REQUIRE(vds_dhcp4_lease(c, "vde0", &l) == 0, "the lease is readable");
	inet_ntop(AF_INET, &l.addr, addr, sizeof(addr));
	CHECK(ntohl(l.addr.s_addr) >= 0x0a000064 && ntohl(l.addr.s_addr) <= 0x0a000096,
	      "address %s from udhcpd's pool", addr);
	CHECK(l.plen == 24, "prefix /%d from the subnet option", l.plen);
	CHECK(l.nrouters == 1 && l.routers[0].s_addr == inet_addr("10.0.0.1"), "router");
	CHECK(l.ndns == 2 && l.dns[0].s_addr == inet_addr("10.0.0.53") &&
	      l.dns[1].s_addr == inet_addr("10.0.0.54"), "DNS servers (%d)", l.ndns);
	CHECK(!strcmp(l.domain, "dhcp.test"), "domain '%s'", l.domain);
	CHECK(l.lease == 10 && l.t1 == 5, "lease %u s, T1 %u s", l.lease, l.t1);
	CHECK(l.server.s_addr == inet_addr("10.0.0.1"), "server id");

	/* the address works: the server stack sees a connection from it */
	lfd = vt_listen(s, "10.0.0.1", 7000);
	REQUIRE(lfd >= 0, "listener in the server stack");
	cfd = vt_connect(c, "10.0.0.1", 7000, 5);
	REQUIRE(cfd >= 0, "the client stack connects to the server with its lease");
	afd = accept_peer(lfd, peer, sizeof(peer));
	CHECK(afd >= 0 && !strcmp(peer, addr), "the server saw %s (lease %s)", peer, addr);
	close(afd);
	close(cfd);
	/* the default route came from the router option: 10.9.9.9 is off-link */
	cfd = vde_msocket(c, AF_INET, SOCK_DGRAM, 0);
	{
		struct sockaddr_in far = { .sin_family = AF_INET, .sin_port = htons(9),
					   .sin_addr.s_addr = inet_addr("10.9.9.9") };
		CHECK(connect(cfd, (struct sockaddr *)&far, sizeof(far)) == 0,
		      "an off-link destination is routed (default route via 10.0.0.1): %s",
		      strerror(errno));
	}
	close(cfd);

	rc = vdestack_resolvconf(c);
	REQUIRE(rc != NULL, "vdestack_resolvconf");
	vt_info("resolv.conf:\n%s", rc);
	CHECK(strstr(rc, "search dhcp.test\n") && strstr(rc, "nameserver 10.0.0.53\n") &&
	      strstr(rc, "nameserver 10.0.0.54\n"), "resolv.conf has the lease's DNS");
	free(rc);
	ret = vt_cmd(c, "/bin/busybox grep -qx 'nameserver 10.0.0.54' /etc/resolv.conf");
	CHECK(ret == 0, "commands in the stack see the lease's DNS in /etc/resolv.conf (%d)", ret);

	dump_leases(&srv, text, sizeof(text));
	CHECK(strstr(text, addr) && strstr(text, "dhcpclient"),
	      "udhcpd's lease file has %s with the host name sent", addr);

	/* renewal: T1 is 5 s after the ACK */
	vt_sleep(7);
	REQUIRE(vds_dhcp4_lease(c, "vde0", &l2) == 0, "lease still held");
	CHECK(l2.renewals >= 1 && l2.obtained > l.obtained && l2.addr.s_addr == l.addr.s_addr,
	      "renewed by the server (%u renewals, obtained +%ld s)", l2.renewals,
	      (long)(l2.obtained - l.obtained));
	/* past the first lease's end, the address still carries traffic */
	vt_sleep(4);
	cfd = vt_connect(c, "10.0.0.1", 7000, 5);
	afd = accept_peer(lfd, peer, sizeof(peer));
	CHECK(cfd >= 0 && afd >= 0 && !strcmp(peer, addr),
	      "after 11 s (lease 10 s) the server still sees %s", peer);
	close(afd);
	close(cfd);
	close(lfd);

	/* release on delete */
	vde_delstack(c);
	vt_sleep(0.3);
	dump_leases(&srv, text, sizeof(text));
	CHECK(strstr(text, addr) && strstr(text, "expired"),
	      "after vde_delstack udhcpd marks the lease of %s released (expired)", addr);
	daemon_stop(&srv);
	vde_delstack(s);
}

/*
 * Rebinding at T2: the server that granted the lease moves to another
 * address (udhcpd restarted with the same lease file), so the unicast
 * renewals from T1 reach no one; the broadcast REQUEST at T2 reaches the
 * moved server, whose ACK names its new identifier.
 */
VT_TEST(dhcp4_rebind, 40)
{
	char vnl[VT_MAXPATH + 8], text[1024];
	struct daemon srv, srv2;
	struct vds_lease4 l, l2;
	struct vdestack *s, *c;
	int ret;

	REQUIRE(vt_switch_start(vt_path("sw")) > 0, "switch");
	snprintf(vnl, sizeof(vnl), "vde://%s", vt_path("sw"));
	s = udhcpd_setup(&srv, vnl, 10);
	c = vt_stack(vnl, NULL, NULL);
	REQUIRE(c != NULL, "client stack");
	ret = vds_dhcp4_start(c, "vde0", NULL, 10000);
	REQUIRE(ret == 0 && vds_dhcp4_lease(c, "vde0", &l) == 0, "leased (%d)", ret);
	CHECK(l.server.s_addr == inet_addr("10.0.0.1") && l.t1 == 5 && l.t2 == 9,
	      "from 10.0.0.1, T1 %u T2 %u", l.t1, l.t2);
	daemon_stop(&srv);		/* udhcpd writes its leases at SIGTERM */
	REQUIRE(vt_cmd(s, "/bin/busybox ip addr del 10.0.0.1/24 dev vde0;"
		       "/bin/busybox ip addr add 10.0.0.2/24 dev vde0") == 0,
		"the server moves to 10.0.0.2");
	REQUIRE(daemon_start(&srv2, s, "busybox", "/bin/busybox", "udhcpd", "-f",
			     vt_path("udhcpd.conf"), NULL) == 0, "udhcpd again");
	vt_sleep(7.5);			/* T1 passed, T2 not yet */
	REQUIRE(vds_dhcp4_lease(c, "vde0", &l2) == 0, "lease held");
	CHECK(l2.renewals == 0, "no renewal between T1 and T2: the old server is gone (%u)",
	      l2.renewals);
	vt_sleep(3);			/* T2 passed */
	REQUIRE(vds_dhcp4_lease(c, "vde0", &l2) == 0, "lease held after T2");
	inet_ntop(AF_INET, &l2.server, text, sizeof(text));
	CHECK(l2.renewals == 1 && l2.addr.s_addr == l.addr.s_addr &&
	      l2.server.s_addr == inet_addr("10.0.0.2"),
	      "rebound at T2 by the moved server (%u renewals, server %s)", l2.renewals, text);
	vde_delstack(c);
	daemon_stop(&srv2);
	vde_delstack(s);
}

/* the lease ends with no server left: address and DNS go, the lease too */
VT_TEST(dhcp4_expiry, 30)
{
	char vnl[VT_MAXPATH + 8];
	struct daemon srv;
	struct vds_lease4 l;
	struct vdestack *s, *c;
	int ret;
	char *rc;

	REQUIRE(vt_switch_start(vt_path("sw")) > 0, "switch");
	snprintf(vnl, sizeof(vnl), "vde://%s", vt_path("sw"));
	s = udhcpd_setup(&srv, vnl, 6);
	c = vt_stack(vnl, NULL, NULL);
	REQUIRE(c != NULL, "client stack");
	ret = vds_dhcp4_start(c, "vde0", NULL, 10000);
	REQUIRE(ret == 0 && vds_dhcp4_lease(c, "vde0", &l) == 0, "leased (%d)", ret);
	daemon_stop(&srv);
	CHECK(vt_cmd(c, "/bin/busybox sh -c '/bin/busybox ip -4 addr show dev vde0 | "
			"/bin/busybox grep -q 10.0.0.1'") == 0, "the address is there");
	vt_sleep(7.5);
	CHECK(vds_dhcp4_lease(c, "vde0", &l) == -ENOENT, "no lease after its end");
	CHECK(vt_cmd(c, "/bin/busybox sh -c '/bin/busybox ip -4 addr show dev vde0 | "
			"/bin/busybox grep -q 10.0.0.1'") == 1, "the address is gone");
	rc = vdestack_resolvconf(c);
	CHECK(rc && !strstr(rc, "nameserver"), "no DNS server left: %s", rc);
	free(rc);
	vde_delstack(c);
	vde_delstack(s);
}

/* dnsmasq as the DHCP server: -d (no daemon) keeps it from changing user and
 * group, which the four network capabilities do not allow */
VT_TEST(dhcp4_dnsmasq, 40)
{
	char vnl[VT_MAXPATH + 8], text[4096], peer[64], addr[32], leaseopt[VT_MAXPATH + 32];
	struct daemon srv;
	struct vds_lease4 l;
	struct vdestack *s, *c;
	int ret, lfd, cfd, afd;
	char *rc;

	REQUIRE(vt_switch_start(vt_path("sw")) > 0, "switch");
	snprintf(vnl, sizeof(vnl), "vde://%s", vt_path("sw"));
	s = vt_stack(vnl, NULL, "10.0.0.1/24");
	c = vt_stack(vnl, NULL, NULL);
	REQUIRE(s && c, "server and client stacks");
	snprintf(leaseopt, sizeof(leaseopt), "--dhcp-leasefile=%s", vt_path("dnsmasq.leases"));
	REQUIRE(daemon_start(&srv, s, "dnsmasq", "/usr/sbin/dnsmasq", "-d", "-C", "/dev/null",
			     "--port=0", "--bind-interfaces", "--interface=vde0",
			     "--dhcp-range=10.0.0.160,10.0.0.170,255.255.255.0,2m", leaseopt,
			     "--dhcp-option=option:dns-server,10.0.0.53",
			     "--dhcp-option=option:domain-name,dnsmasq.test",
			     "--pid-file=", NULL) == 0, "dnsmasq (DHCP) runs in the server stack");
	ret = vds_dhcp4_start(c, "vde0", "dmclient", 10000);
	REQUIRE(ret == 0, "vds_dhcp4_start against dnsmasq: %d (%s)", ret, strerror(-ret));
	REQUIRE(vds_dhcp4_lease(c, "vde0", &l) == 0, "the lease is readable");
	inet_ntop(AF_INET, &l.addr, addr, sizeof(addr));
	CHECK(ntohl(l.addr.s_addr) >= 0x0a0000a0 && ntohl(l.addr.s_addr) <= 0x0a0000aa &&
	      l.plen == 24 && l.lease == 120, "%s/%d for %u s from dnsmasq's range", addr,
	      l.plen, l.lease);
	rc = vdestack_resolvconf(c);
	CHECK(rc && strstr(rc, "search dnsmasq.test\n") && strstr(rc, "nameserver 10.0.0.53\n"),
	      "DNS from dnsmasq's lease: %s", rc);
	free(rc);
	lfd = vt_listen(s, "10.0.0.1", 7005);
	cfd = vt_connect(c, "10.0.0.1", 7005, 5);
	afd = lfd >= 0 ? accept_peer(lfd, peer, sizeof(peer)) : -1;
	CHECK(cfd >= 0 && afd >= 0 && !strcmp(peer, addr), "the server sees %s", peer);
	close(afd);
	close(cfd);
	close(lfd);
	vt_read_file(vt_path("dnsmasq.leases"), text, sizeof(text));
	CHECK(strstr(text, addr) && strstr(text, "dmclient"),
	      "dnsmasq's lease file has %s for dmclient: %s", addr, text);
	/* dhcp again on the same interface: the old lease is released first,
	 * so the server still holds the new one afterwards */
	ret = vds_dhcp4_start(c, "vde0", "dmclient", 10000);
	REQUIRE(ret == 0 && vds_dhcp4_lease(c, "vde0", &l) == 0, "leased again (%d)", ret);
	inet_ntop(AF_INET, &l.addr, addr, sizeof(addr));
	vt_sleep(0.3);
	vt_read_file(vt_path("dnsmasq.leases"), text, sizeof(text));
	CHECK(strstr(text, addr) != NULL, "dnsmasq holds the second lease %s: %s", addr, text);
	/* no neighbour entry for the server: the RELEASE must still get out */
	CHECK(vt_cmd(c, "/bin/ip neigh flush all") == 0, "neighbour table flushed");
	vde_delstack(c);
	vt_sleep(0.5);
	text[0] = 0;
	vt_read_file(vt_path("dnsmasq.leases"), text, sizeof(text));
	CHECK(!strstr(text, addr), "after vde_delstack dnsmasq dropped the released lease: '%s'",
	      text);
	daemon_stop(&srv);
	vde_delstack(s);
}

VT_TEST(dhcp4_timeout, 30)
{
	char vnl[VT_MAXPATH + 8];
	struct vdestack *c;
	double t0, dt;
	int ret;

	REQUIRE(vt_switch_start(vt_path("sw")) > 0, "switch");
	snprintf(vnl, sizeof(vnl), "vde://%s", vt_path("sw"));
	c = vt_stack(vnl, NULL, NULL);
	REQUIRE(c != NULL, "client stack");
	t0 = vt_now();
	ret = vds_dhcp4_start(c, "vde0", NULL, 1500);
	dt = vt_now() - t0;
	CHECK(ret == -ETIMEDOUT, "no server: -ETIMEDOUT (%d)", ret);
	CHECK(dt >= 1.4 && dt < 3, "after the timeout: %.2f s", dt);
	ret = vds_dhcp4_start(c, "nosuch0", NULL, 1500);
	CHECK(ret == -ENODEV, "no such interface: -ENODEV (%d)", ret);
	vde_delstack(c);
}

/* ------------------------------------------------------------------ DNS --- */

/* how many lines of the file contain what */
static int count_lines(const char *path, const char *what)
{
	char buf[65536], *p;
	int n = 0;

	if (vt_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	for (p = buf; (p = strstr(p, what)); p++)
		n++;
	return n;
}

static int first_addr(const struct addrinfo *ai, char *out, size_t len, int *port)
{
	if (!ai)
		return -1;
	if (ai->ai_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, out, len);
		*port = ntohs(((struct sockaddr_in *)ai->ai_addr)->sin_port);
	} else {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, out, len);
		*port = ntohs(((struct sockaddr_in6 *)ai->ai_addr)->sin6_port);
	}
	return 0;
}

VT_TEST(dns_dnsmasq, 40)
{
	char vnl[VT_MAXPATH + 8], text[64], peer[64], logopt[VT_MAXPATH + 32];
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;
	const char *servers[] = { "10.0.0.1" };
	struct daemon dns;
	struct vdestack *s, *c;
	int ret, port, lfd, cfd, afd, n;
	const char *log = vt_path("dnsmasq.log");
	char *rc;

	REQUIRE(vt_switch_start(vt_path("sw")) > 0, "switch");
	snprintf(vnl, sizeof(vnl), "vde://%s", vt_path("sw"));
	s = vt_stack(vnl, NULL, "10.0.0.1/24");
	c = vt_stack(vnl, NULL, "10.0.0.2/24");
	REQUIRE(s && c, "server and client stacks");
	/* IPv6 too, without duplicate address detection: usable at once */
	REQUIRE(vt_cmd(s, "/bin/ip addr add fd00::1/64 dev vde0 nodad") == 0 &&
		vt_cmd(c, "/bin/ip addr add fd00::2/64 dev vde0 nodad") == 0,
		"IPv6 addresses");
	snprintf(logopt, sizeof(logopt), "--log-facility=%s", log);
	ret = daemon_start(&dns, s, "dnsmasq", "/usr/sbin/dnsmasq", "-d", "-C", "/dev/null",
			     "--no-resolv", "--no-hosts", "--bind-interfaces",
			     "--listen-address=10.0.0.1", "--listen-address=fd00::1",
			     "--pid-file=", "--log-queries", logopt,
			     "--local=/vdstest.internal/",
			     "--address=/web.vdstest.internal/10.0.0.1",
			     "--address=/web6.vdstest.internal/fd00::80", NULL);
	if (ret) {
		char buf[8192] = "";

		vt_read_file(log, buf, sizeof(buf));
		vt_info("dnsmasq's log:\n%s", buf);
	}
	REQUIRE(ret == 0, "dnsmasq runs in the server stack");

	/* no server yet: numeric and localhost work, names do not leak */
	ret = vdestack_getaddrinfo(c, "web.vdstest.internal", "80", &hints, &ai);
	CHECK(ret == EAI_AGAIN, "no DNS server: EAI_AGAIN (%d %s)", ret, gai_strerror(ret));
	ret = vdestack_getaddrinfo(c, "10.1.2.3", "http", &hints, &ai);
	CHECK(ret == 0 && first_addr(ai, text, sizeof(text), &port) == 0 &&
	      !strcmp(text, "10.1.2.3") && port == 80, "numeric host, named service, no server");
	if (ret == 0)
		vdestack_freeaddrinfo(ai);
	ret = vdestack_getaddrinfo(c, "localhost", "7", &hints, &ai);
	CHECK(ret == 0 && first_addr(ai, text, sizeof(text), &port) == 0 &&
	      !strcmp(text, "127.0.0.1"), "localhost is the stack's loopback");
	if (ret == 0)
		vdestack_freeaddrinfo(ai);

	REQUIRE(vds_resolv_set(c, servers, 1, "vdstest.internal") == 0, "dns=10.0.0.1");
	rc = vdestack_resolvconf(c);
	CHECK(rc && !strcmp(rc, "# resolv.conf of a vdestack stack\nsearch vdstest.internal\n"
			    "nameserver 10.0.0.1\n"), "resolv.conf text: %s", rc);
	free(rc);
	/* wait until dnsmasq answers */
	for (double end = vt_now() + 5; vt_now() < end; vt_sleep(0.1)) {
		ret = vdestack_getaddrinfo(c, "web.vdstest.internal", "80", &hints, &ai);
		if (ret == 0)
			break;
	}
	if (ret) {
		char buf[8192] = "";

		vt_read_file(log, buf, sizeof(buf));
		vt_info("dnsmasq's log:\n%s", buf);
	}
	REQUIRE(ret == 0, "web.vdstest.internal resolved (%d)", ret);
	CHECK(first_addr(ai, text, sizeof(text), &port) == 0 && !strcmp(text, "10.0.0.1") &&
	      port == 80 && !ai->ai_next && ai->ai_socktype == SOCK_STREAM &&
	      ai->ai_protocol == IPPROTO_TCP, "one TCP result 10.0.0.1:80 (%s:%d)", text, port);
	vdestack_freeaddrinfo(ai);
	hints.ai_flags = AI_CANONNAME;
	ret = vdestack_getaddrinfo(c, "web", "81", &hints, &ai);
	CHECK(ret == 0 && first_addr(ai, text, sizeof(text), &port) == 0 &&
	      !strcmp(text, "10.0.0.1") && port == 81 && ai->ai_canonname &&
	      !strcmp(ai->ai_canonname, "web.vdstest.internal"),
	      "'web' found through the search domain (%s)", ret ? gai_strerror(ret) : text);
	if (ret == 0)
		vdestack_freeaddrinfo(ai);
	hints.ai_flags = 0;
	ret = vdestack_getaddrinfo(c, "nosuch.vdstest.internal", "80", &hints, &ai);
	CHECK(ret == EAI_NONAME, "a name that does not exist: EAI_NONAME (%s)",
	      gai_strerror(ret));

#if VT_SANITIZED
	/*
	 * ASan and TSan intercept getaddrinfo() themselves: a call would
	 * reach the host's resolver, not our interposer (a sanitized program
	 * gets no default-stack name lookups; vdestack_getaddrinfo(3) says so).
	 */
	vt_info("sanitizer build: getaddrinfo() through the default stack not tried");
	(void)peer;
	lfd = cfd = afd = -1;
	(void)lfd, (void)cfd, (void)afd;
#else
	/* the default stack: the program's plain getaddrinfo() goes through it */
	lfd = vt_listen(s, "10.0.0.1", 7001);
	REQUIRE(lfd >= 0, "listener");
	vde_default_stack(c);
	ret = getaddrinfo("web.vdstest.internal", "7001", &hints, &ai);
	CHECK(ret == 0, "getaddrinfo() with a default stack (%d)", ret);
	cfd = ret == 0 ? socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol) : -1;
	CHECK(cfd >= 0 && connect(cfd, ai->ai_addr, ai->ai_addrlen) == 0,
	      "connect by name from the default stack");
	if (ret == 0)
		freeaddrinfo(ai);
	vde_default_stack(NULL);
	afd = accept_peer(lfd, peer, sizeof(peer));
	CHECK(afd >= 0 && !strcmp(peer, "10.0.0.2"), "the server saw the client stack (%s)", peer);
	close(afd);
	close(cfd);
	close(lfd);

#endif
	/* every query reached dnsmasq from the client stack's address */
	n = count_lines(log, "query[A] web.vdstest.internal from 10.0.0.2");
	CHECK(n >= (VT_SANITIZED ? 2 : 3),
	      "dnsmasq logged %d A queries for web.vdstest.internal from 10.0.0.2", n);

	/* a command in the stack resolves through its /etc/resolv.conf */
	{
		char host_before[4096] = "", host_after[4096] = "";

		vt_read_file("/etc/resolv.conf", host_before, sizeof(host_before));
		ret = vt_cmd(c, "/bin/busybox grep -qx 'nameserver 10.0.0.1' /etc/resolv.conf");
		CHECK(ret == 0, "a command sees the stack's nameserver in /etc/resolv.conf (%d)",
		      ret);
		ret = vt_cmd(c, "/bin/busybox nslookup cmd.vdstest.internal");
		CHECK(ret != 0, "nslookup of a missing name fails (%d)", ret);
		CHECK(count_lines(log, "cmd.vdstest.internal from 10.0.0.2") >= 1,
		      "busybox nslookup in the stack asked dnsmasq, from the client stack");
		ret = vt_cmd(s, "/bin/busybox grep -q 'nameserver 10.0.0.1' /etc/resolv.conf");
		CHECK(ret == 1, "a stack without DNS configuration keeps the host's file (%d)",
		      ret);
		vt_read_file("/etc/resolv.conf", host_after, sizeof(host_after));
		CHECK(!strcmp(host_before, host_after), "the host's /etc/resolv.conf is unchanged");
	}
	n = count_lines(log, "nosuch.vdstest.internal from 10.0.0.2");
	CHECK(n >= 1, "and the one for the missing name (%d)", n);

	/* an IPv6 DNS server, an AAAA answer */
	{
		const char *servers6[] = { "fd00::1" };
		struct addrinfo h6 = { .ai_family = AF_INET6, .ai_socktype = SOCK_DGRAM };

		REQUIRE(vds_resolv_set(c, servers6, 1, NULL) == 0, "dns=fd00::1");
		ret = vdestack_getaddrinfo(c, "web6.vdstest.internal", "53", &h6, &ai);
		CHECK(ret == 0 && first_addr(ai, text, sizeof(text), &port) == 0 &&
		      !strcmp(text, "fd00::80") && port == 53 && ai->ai_protocol == IPPROTO_UDP,
		      "AAAA through an IPv6 server (%d)", ret);
		if (ret == 0)
			vdestack_freeaddrinfo(ai);
		n = count_lines(log, "query[AAAA] web6.vdstest.internal from fd00::2");
		CHECK(n == 1, "dnsmasq logged the AAAA query from fd00::2 (%d)", n);
	}
	daemon_stop(&dns);
	vde_delstack(c);
	vde_delstack(s);
}

/* --------------------------------------------------------- IPv6: SLAAC --- */

/* the peer of one connection from stack c to [addr]:port, as text */
static int tcp6_peer(struct vdestack *s, struct vdestack *c, const char *addr, int port,
		     char *peer, size_t len)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	int lfd = vde_msocket(s, AF_INET6, SOCK_STREAM, 0), cfd = -1, afd = -1, one = 1;

	inet_pton(AF_INET6, addr, &sa.sin6_addr);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0)
		goto out;
	cfd = vde_msocket(c, AF_INET6, SOCK_STREAM, 0);
	vt_timeouts(cfd, 5);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	afd = accept_peer(lfd, peer, len);
out:
	if (afd >= 0)
		close(afd);
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
	return afd >= 0 ? 0 : -1;
}

VT_TEST(slaac_radvd, 40)
{
	char vnl[VT_MAXPATH + 8], peer[64] = "";
	struct daemon ra;
	struct vdestack *s, *c;
	double t0;
	int ret;

	REQUIRE(vt_switch_start(vt_path("sw")) > 0, "switch");
	snprintf(vnl, sizeof(vnl), "vde://%s", vt_path("sw"));
	s = vt_stack(vnl, NULL, "fd00:1::1/64");
	c = vt_stack(vnl, NULL, NULL);
	REQUIRE(s && c, "router and client stacks");
	write_file(vt_path("radvd.conf"),
		   "interface vde0 {\n"
		   "  AdvSendAdvert on;\n"
		   "  MinRtrAdvInterval 3;\n"
		   "  MaxRtrAdvInterval 4;\n"
		   "  prefix fd00:1::/64 { AdvOnLink on; AdvAutonomous on; };\n"
		   "};\n");
	REQUIRE(daemon_start(&ra, s, "radvd", "/usr/sbin/radvd", "-n", "-C",
			     vt_path("radvd.conf"), "-p", vt_path("radvd.pid"),
			     "-m", "stderr", NULL) == 0, "radvd runs in the router stack");
	t0 = vt_now();
	ret = vds_slaac_start(c, "vde0", 15000);
	REQUIRE(ret == 0, "vds_slaac_start: %d (%s) after %.2f s", ret, strerror(-ret),
		vt_now() - t0);
	vt_info("a global address after %.2f s", vt_now() - t0);
	ret = tcp6_peer(s, c, "fd00:1::1", 7002, peer, sizeof(peer));
	CHECK(ret == 0 && !strncmp(peer, "fd00:1::", 8) && strcmp(peer, "fd00:1::1"),
	      "the router stack sees a connection from the client's SLAAC address %s", peer);
	daemon_stop(&ra);
	vde_delstack(c);

	/* no router: a bounded timeout */
	c = vt_stack(vnl, NULL, NULL);
	REQUIRE(c != NULL, "second client");
	t0 = vt_now();
	ret = vds_slaac_start(c, "vde0", 1500);
	CHECK(ret == -ETIMEDOUT && vt_now() - t0 < 3, "no router: -ETIMEDOUT after %.2f s (%d)",
	      vt_now() - t0, ret);
	vde_delstack(c);
	vde_delstack(s);
}

/* ------------------------------------------------------------- DHCPv6 --- */

VT_TEST(dhcp6_iscd, 60)
{
	char vnl[VT_MAXPATH + 8], peer[64] = "", peer2[64] = "", text[16384];
	struct daemon srv;
	struct vdestack *s, *c;
	double t0;
	int ret, n;
	char *rc;

	REQUIRE(vt_switch_start(vt_path("sw")) > 0, "switch");
	snprintf(vnl, sizeof(vnl), "vde://%s", vt_path("sw"));
	s = vt_stack(vnl, NULL, "fd00:2::1/64");
	c = vt_stack(vnl, NULL, NULL);
	REQUIRE(s && c, "server and client stacks");
	write_file(vt_path("dhcpd6.conf"),
		   "default-lease-time 12;\n"
		   "preferred-lifetime 8;\n"
		   "max-lease-time 7200;\n"
		   "option dhcp6.name-servers fd00:2::53;\n"
		   "option dhcp6.domain-search \"v6.test\";\n"
		   "subnet6 fd00:2::/64 { range6 fd00:2::100 fd00:2::1ff; }\n");
	write_file(vt_path("dhcpd6.leases"), "");
	/* the server's link-local address must have passed DAD */
	vt_sleep(1.5);
	REQUIRE(daemon_start(&srv, s, "dhcpd", "/usr/sbin/dhcpd", "-6", "-f", "-d",
			     "-cf", vt_path("dhcpd6.conf"), "-lf", vt_path("dhcpd6.leases"),
			     "-pf", vt_path("dhcpd6.pid"), "vde0", NULL) == 0,
		"ISC dhcpd -6 runs in the server stack");
	t0 = vt_now();
	ret = vds_dhcp6_start(c, "vde0", "v6client.v6.test", 15000);
	REQUIRE(ret == 0, "vds_dhcp6_start: %d (%s) after %.2f s", ret, strerror(-ret),
		vt_now() - t0);
	vt_info("DHCPv6 address after %.2f s", vt_now() - t0);
	ret = tcp6_peer(s, c, "fd00:2::1", 7003, peer, sizeof(peer));
	CHECK(ret == 0 && !strncmp(peer, "fd00:2::1", 9) && strlen(peer) == 11,
	      "the server stack sees a connection from the leased address %s", peer);
	rc = vdestack_resolvconf(c);
	CHECK(rc && strstr(rc, "nameserver fd00:2::53\n") && strstr(rc, "search v6.test\n"),
	      "DNS server and domain from DHCPv6: %s", rc);
	free(rc);
	vt_read_file(vt_path("dhcpd6.leases"), text, sizeof(text));
	CHECK(strstr(text, peer) && count_lines(vt_path("dhcpd6.leases"),
						"binding state active") == 1,
	      "dhcpd's lease file has %s active, once", peer);
	/* renewal at T1 (half the preferred lifetime of 8 s): dhcpd writes the
	 * binding again */
	vt_sleep(6);
	vt_read_file(vt_path("dhcpd6.leases"), text, sizeof(text));
	n = count_lines(vt_path("dhcpd6.leases"), "binding state active");
	CHECK(n >= 2, "renewed: dhcpd wrote the active binding %d times", n);
	ret = tcp6_peer(s, c, "fd00:2::1", 7004, peer2, sizeof(peer2));
	CHECK(ret == 0 && !strcmp(peer, peer2), "after the renewal the address still works (%s)",
	      peer2);
	vde_delstack(c);
	vt_sleep(0.5);
	vt_read_file(vt_path("dhcpd6.leases"), text, sizeof(text));
	vt_info("lease file after delete:\n%s", text);
	CHECK(strstr(text, "binding state released"), "RELEASE on delete: dhcpd marks it released");
	daemon_stop(&srv);
	vde_delstack(s);
}

/* ------------------------------------------------- parsers, no stack --- */

VT_TEST(dhcp_parsers, 10)
{
	static const unsigned char mac[6] = { 2, 0, 0, 0, 0, 7 };
	struct vds_dhcp4_req req = { .type = VDS_DHCPDISCOVER, .xid = 0x12345678,
				     .fqdn = "host.example.org" };
	struct vds_dhcp4_msg m;
	uint8_t b[VDS_DHCP4_MAXMSG], *o;
	int n, ret;

	memcpy(req.mac, mac, 6);
	n = vds_dhcp4_build(b, sizeof(b), &req);
	REQUIRE(n >= 300, "a DISCOVER of %d bytes", n);
	/* turned into a server's OFFER: op 2, options rewritten */
	b[0] = 2;
	o = b + 240;
	*o++ = 53; *o++ = 1; *o++ = VDS_DHCPOFFER;
	*o++ = 54; *o++ = 4; memcpy(o, "\x0a\x00\x00\x01", 4); o += 4;
	*o++ = 6; *o++ = 10; memcpy(o, "\x0a\x00\x00\x35\x0a\x00\x00\x36\x01\x02", 10); o += 10;
	*o++ = 15; *o++ = 5; memcpy(o, "a;b.c", 5); o += 5;
	*o++ = 51; *o++ = 4; memcpy(o, "\x00\x00\x0e\x10", 4); o += 4;
	*o++ = 255;
	ret = vds_dhcp4_parse(b, o - b, 0x12345678, mac, &m);
	CHECK(ret == 0 && m.type == VDS_DHCPOFFER && m.server.s_addr == inet_addr("10.0.0.1") &&
	      m.ndns == 2 && m.lease == 3600, "an OFFER parses (%d)", ret);
	CHECK(m.domain[0] == 0, "a domain with ';' is refused, not written to resolv.conf");
	CHECK(vds_dhcp4_parse(b, o - b, 0x12345679, mac, &m) == -ESRCH, "another xid: -ESRCH");
	/* an option running past the end */
	o[-1] = 3;
	*o++ = 200;
	CHECK(vds_dhcp4_parse(b, o - b, 0x12345678, mac, &m) == -EBADMSG,
	      "an option longer than the message: -EBADMSG");
	CHECK(vds_dhcp4_parse(b, 100, 0x12345678, mac, &m) == -EBADMSG, "truncated: -EBADMSG");
	req.fqdn = "a..b";
	CHECK(vds_dhcp4_build(b, sizeof(b), &req) == -EINVAL, "an empty label in fqdn: -EINVAL");
}
