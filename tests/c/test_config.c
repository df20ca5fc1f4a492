// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_config.c - stacks configured in-process: vdestack_config() strings
 * and the rtnetlink calls (vdestack_link_set, _addr_*, _route_*, the
 * lists), checked by what the kernel reports back and by traffic: TCP over
 * IPv4 and IPv6 between stacks configured only by strings, the source MAC
 * and the frame sizes a peer sees, a route through a gateway stack that
 * works until it is removed, and bad strings that change nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>

#include "vt.h"

#define KIB 1024

/* ------------------------------------------------------------ helpers --- */

/* a call that must fail with errno want (read right after the call) */
static void expect_fail(int rc, int err, int want, const char *what)
{
	CHECK(rc == -1 && err == want, "%s: -1 %s (got %d, %s)", what, strerrorname_np(want), rc,
	      rc ? strerror(err) : "no error");
}

#define FAILS(call, want, what)						\
	do {								\
		errno = 0;						\
		int r_ = (call);					\
		expect_fail(r_, errno, (want), (what));			\
	} while (0)

/* a call that must return 0 */
#define WORKS(call, what)						\
	do {								\
		errno = 0;						\
		int r_ = (call), e_ = errno;				\
		CHECK(r_ == 0, "%s%s%s", (what), r_ ? ": " : "",	\
		      r_ ? strerror(e_) : "");				\
	} while (0)

static struct vdestack *stack_cfg(const char *vnl, const char *config)
{
	struct vdestack *s = vde_addstack((char *)vnl, NULL);
	int rc;

	if (!s) {
		CHECK(0, "vde_addstack(%s): %s", vnl ? vnl : "NULL", strerror(errno));
		return NULL;
	}
	rc = vdestack_config(s, config);
	if (rc != 0) {
		CHECK(0, "vdestack_config(\"%s\") = %d: %s", config, rc, strerror(errno));
		vde_delstack(s);
		return NULL;
	}
	return s;
}

static const struct vdestack_link *find_link(const struct vdestack_link *l, int n,
					     const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(l[i].name, name))
			return &l[i];
	return NULL;
}

/* has the stack the address text/plen on ifname (as the kernel reports)? */
static int has_addr(struct vdestack *s, const char *ifname, const char *text, unsigned plen)
{
	struct vdestack_addr *a = NULL;
	unsigned char want[16];
	int family = strchr(text, ':') ? AF_INET6 : AF_INET, n, found = 0;

	inet_pton(family, text, want);
	n = vdestack_addrs(s, &a);
	for (int i = 0; i < n; i++)
		if (a[i].family == family && a[i].prefixlen == plen &&
		    !memcmp(a[i].addr, want, family == AF_INET ? 4 : 16) &&
		    !strcmp(a[i].ifname, ifname))
			found = 1;
	free(a);
	return found;
}

/* the default route of family: 1 with its gateway in gw, 0 if none */
static int default_route(struct vdestack *s, int family, char *gw, size_t len)
{
	struct vdestack_route *r = NULL;
	int n = vdestack_routes(s, &r), found = 0;

	for (int i = 0; i < n; i++)
		if (r[i].family == family && r[i].dst_len == 0) {
			found++;
			if (r[i].has_gateway)
				inet_ntop(family, r[i].gateway, gw, len);
			else
				snprintf(gw, len, "(none)");
		}
	free(r);
	return found;
}

static int sa_of(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
		*len = sizeof(*s6);
		return AF_INET6;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	inet_pton(AF_INET, ip, &s4->sin_addr);
	*len = sizeof(*s4);
	return AF_INET;
}

/* TCP echo of total bytes: server in a on ip:port (v4 or v6), client in b */
static int echo(struct vdestack *a, struct vdestack *b, const char *ip, int port, size_t total,
		double connect_secs, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int family = sa_of(ip, port, &ss, &sl), one = 1, lfd, c = -1, ok;
	double end = vt_now() + connect_secs;

	lfd = vde_msocket(a, family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&ss, sl) < 0 || listen(lfd, 4) < 0) {
		snprintf(why, whylen, "listen on [%s]:%d: %s", ip, port, strerror(errno));
		if (lfd >= 0)
			close(lfd);
		return 0;
	}
	vt_timeouts(lfd, 10);
	for (;;) {
		c = vde_msocket(b, family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c < 0)
			break;
		vt_timeouts(c, 3);
		if (connect(c, (struct sockaddr *)&ss, sl) == 0)
			break;
		int e = errno;

		close(c);
		c = -1;
		errno = e;
		if (vt_now() > end)
			break;
		vt_sleep(0.05);
	}
	if (c < 0) {
		snprintf(why, whylen, "connect to [%s]:%d: %s", ip, port, strerror(errno));
		close(lfd);
		return 0;
	}
	vt_echo_server(lfd, 1);
	ok = vt_echo_roundtrip(c, total, why, whylen);
	close(c);
	return ok;
}

/* one connect attempt: 0, or the errno it failed with */
static int try_connect(struct vdestack *s, const char *ip, int port, double secs)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int family = sa_of(ip, port, &ss, &sl), fd, e = 0;

	fd = vde_msocket(s, family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	vt_timeouts(fd, secs);
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0)
		e = errno;
	close(fd);
	return e;
}

/* ------------------------------------------------------------- tests --- */

/* two stacks configured only by strings exchange TCP over IPv4 and IPv6 */
VT_TEST(strings_tcp, 60)
{
	char vnl[2 * VT_MAXPATH], why[256] = "";
	struct vdestack *a, *b;
	struct vdestack_link *l = NULL;
	const struct vdestack_link *v;
	int n;

	snprintf(vnl, sizeof(vnl), "ptp://%s/link", vt_dir);
	a = stack_cfg(vnl, "ip=10.61.0.1/24,ip=fd61::1/64");
	b = stack_cfg(vnl, "ip=10.61.0.2/24,ip=fd61::2/64");
	REQUIRE(a && b, "two stacks configured by strings on %s", vnl);
	CHECK(has_addr(a, "vde0", "10.61.0.1", 24) && has_addr(a, "vde0", "fd61::1", 64),
	      "the kernel of a reports 10.61.0.1/24 and fd61::1/64 on vde0");
	n = vdestack_links(a, &l);
	v = find_link(l, n, "vde0");
	CHECK(v && (v->flags & IFF_UP), "an address brought vde0 up (flags %#x)", v ? v->flags : 0);
	free(l);
	CHECK(echo(a, b, "10.61.0.1", 7001, 256 * KIB, 15, why, sizeof(why)),
	      "TCP over IPv4, b -> a, 256 KiB echoed %s", why);
	CHECK(echo(b, a, "fd61::2", 7002, 256 * KIB, 15, why, sizeof(why)),
	      "TCP over IPv6, a -> b, 256 KiB echoed %s", why);
	/* applying the same string again changes nothing and is no error */
	WORKS(vdestack_config(a, "ip=10.61.0.1/24,ip=fd61::1/64"),
	      "the same string applied twice: 0");
	CHECK(echo(a, b, "fd61::1", 7003, 64 * KIB, 15, why, sizeof(why)),
	      "TCP over IPv6 after reapplying, b -> a %s", why);
	vde_delstack(b);
	vde_delstack(a);
}

/*
 * MTU and MAC: read back, and what a peer sees on the wire: frames from
 * the configured MAC, none longer than the MTU allows.
 */
VT_TEST(mtu_mac, 60)
{
	static const unsigned char mac[6] = { 0x02, 0x12, 0x34, 0x56, 0x78, 0x9a };
	char vnl[2 * VT_MAXPATH];
	struct vdestack *a, *b;
	struct vdestack_link *l = NULL;
	const struct vdestack_link *v;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP) };
	unsigned char frame[4096];
	int n, pk, tx, frames = 0, from_mac = 0, longest = 0;
	double end;

	snprintf(vnl, sizeof(vnl), "ptp://%s/link", vt_dir);
	a = stack_cfg(vnl, "mtu=1280,mac=02:12:34:56:78:9a,ip=10.62.0.1/24");
	b = stack_cfg(vnl, "ip=10.62.0.2/24");
	REQUIRE(a && b, "two stacks on %s", vnl);
	n = vdestack_links(a, &l);
	v = find_link(l, n, "vde0");
	REQUIRE(v, "vdestack_links lists vde0 (%d links)", n);
	CHECK(v->mtu == 1280, "MTU read back: %u", v->mtu);
	CHECK(v->mac_len == 6 && !memcmp(v->mac, mac, 6),
	      "MAC read back: %02x:%02x:%02x:%02x:%02x:%02x", v->mac[0], v->mac[1], v->mac[2],
	      v->mac[3], v->mac[4], v->mac[5]);
	CHECK(v->flags & IFF_UP, "vde0 is up");
	free(l);

	/* b captures IPv4 frames on its vde0 */
	pk = vde_msocket(b, AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_IP));
	REQUIRE(pk >= 0, "packet socket in b: %s", pk < 0 ? strerror(errno) : "ok");
	l = NULL;
	n = vdestack_links(b, &l);
	v = find_link(l, n, "vde0");
	REQUIRE(v, "b has vde0");
	sll.sll_ifindex = v->index;
	free(l);
	REQUIRE(bind(pk, (struct sockaddr *)&sll, sizeof(sll)) == 0, "bind the packet socket");
	vt_timeouts(pk, 0.5);
	tx = vde_msocket(a, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	REQUIRE(tx >= 0, "UDP socket in a");
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	static char big[3000];

	inet_pton(AF_INET, "10.62.0.2", &to.sin_addr);
	end = vt_now() + 10;
	while (vt_now() < end && frames < 4) {
		sendto(tx, big, sizeof(big), 0, (struct sockaddr *)&to, sizeof(to));
		for (;;) {
			struct sockaddr_ll from;
			socklen_t fl = sizeof(from);
			ssize_t r = recvfrom(pk, frame, sizeof(frame), MSG_TRUNC,
					     (struct sockaddr *)&from, &fl);
			if (r < 0)
				break;
			if (from.sll_pkttype == PACKET_OUTGOING)
				continue;	/* b's own answers */
			frames++;
			if (r > longest)
				longest = r;
			/* a cooked-less (SOCK_RAW) capture: Ethernet source at 6 */
			from_mac += r >= 14 && !memcmp(frame + 6, mac, 6);
		}
	}
	CHECK(frames >= 3 && from_mac == frames,
	      "b saw %d IPv4 frames from a, %d with source MAC 02:12:34:56:78:9a", frames, from_mac);
	CHECK(longest > 1000 && longest <= 1280 + 14,
	      "the longest frame b saw is %d bytes: fragments of a 3000-byte datagram fit "
	      "the MTU of 1280 (+14)", longest);
	close(tx);
	close(pk);

	/* vdestack_link_set: MTU back, down, up */
	CHECK(vdestack_link_set(a, "vde0", 0, 1500, NULL) == 0, "vdestack_link_set(down, 1500)");
	l = NULL;
	n = vdestack_links(a, &l);
	v = find_link(l, n, "vde0");
	CHECK(v && v->mtu == 1500 && !(v->flags & IFF_UP) && !memcmp(v->mac, mac, 6),
	      "read back: MTU 1500, down, MAC unchanged");
	free(l);
	CHECK(vdestack_link_set(a, "vde0", 1, 0, NULL) == 0, "vdestack_link_set(up)");
	l = NULL;
	n = vdestack_links(a, &l);
	v = find_link(l, n, "vde0");
	CHECK(v && v->mtu == 1500 && (v->flags & IFF_UP), "read back: up, MTU still 1500");
	free(l);
	vde_delstack(b);
	vde_delstack(a);
}

/* the state a test compares: links, addresses and routes, as raw arrays */
struct snap {
	struct vdestack_link *l;
	struct vdestack_addr *a;
	struct vdestack_route *r;
	int nl, na, nr;
};

static void snap_take(struct vdestack *s, struct snap *sn)
{
	sn->nl = vdestack_links(s, &sn->l);
	sn->na = vdestack_addrs(s, &sn->a);
	sn->nr = vdestack_routes(s, &sn->r);
}

static void snap_free(struct snap *sn)
{
	free(sn->l);
	free(sn->a);
	free(sn->r);
}

/* equal, except for what the kernel changes by itself (IFF_RUNNING etc.) */
static int snap_same(const struct snap *x, const struct snap *y)
{
	if (x->nl != y->nl || x->na != y->na || x->nr != y->nr || x->nl < 0 || x->na < 0 ||
	    x->nr < 0)
		return 0;
	for (int i = 0; i < x->nl; i++)
		if (x->l[i].index != y->l[i].index || x->l[i].mtu != y->l[i].mtu ||
		    (x->l[i].flags & IFF_UP) != (y->l[i].flags & IFF_UP) ||
		    memcmp(x->l[i].mac, y->l[i].mac, sizeof(x->l[i].mac)))
			return 0;
	/* flags: an IPv6 link-local address stops being tentative by itself */
	for (int i = 0; i < x->na; i++)
		if (x->a[i].ifindex != y->a[i].ifindex || x->a[i].family != y->a[i].family ||
		    x->a[i].prefixlen != y->a[i].prefixlen ||
		    memcmp(x->a[i].addr, y->a[i].addr, sizeof(x->a[i].addr)))
			return 0;
	return !memcmp(x->r, y->r, x->nr * sizeof(*x->r));
}

/*
 * Bad strings: EINVAL, and nothing changes (links, addresses, routes as
 * the kernel reports them), even when the bad token comes after good ones.
 */
VT_TEST(bad_strings, 60)
{
	static const char *const bad[] = {
		/* unknown or malformed tokens */
		"frobnicate", "IP=10.63.0.1/24", "ip", "ip=", ",", "up,", ",up", "up,,down",
		"dhcp=1", "dhcp6=yes", "slaac=on", "up=1", "down=0",
		/* iface */
		"iface=", "iface=nope", "iface=vde0,iface=nope0,up", "iface=a/b", "iface=a:b",
		"iface=a b", "iface=0123456789abcdef", "iface=.", "iface=..",
		/* ip */
		"ip=10.63.0.1", "ip=10.63.0.1/", "ip=10.63.0.1/33", "ip=10.63.0.1/2x",
		"ip=10.63.0.1/-1", "ip=300.1.1.1/24", "ip=10.63.0/24", "ip=224.0.0.1/4",
		"ip=0.0.0.0/0", "ip=::/64", "ip=ff02::1/64", "ip=fd63::1/129", "ip=fd63::1%vde0/64",
		"ip=fd63:::1/64", "ip=10.63.0.1/24/1",
		/* gw */
		"gw=", "gw=10.63.0.256", "gw=10.63.0.0/24", "gw=224.0.0.1", "gw=::",
		"gw=10.63.0.254,gw=10.63.0.253", "gw=fd63::fe,iface=lo,gw=fd63::fd",
		/* mtu */
		"mtu=", "mtu=67", "mtu=65536", "mtu=abc", "mtu=-1", "mtu=+1500", "mtu=1500,mtu=1500",
		"mtu=99999999999999999999",
		/* mac */
		"mac=01:00:00:00:00:01", "mac=00:00:00:00:00:00", "mac=02:00:00:00:00",
		"mac=02-00-00-00-00-01", "mac=02:00:00:00:00:0g", "mac=02:00:00:00:00:011",
		"mac=2:0:0:0:0:1", "mac=02:00:00:00:00:01,mac=02:00:00:00:00:02",
		/* dns, domain, fqdn */
		"dns=", "dns=10.63.0", "dns=10.63.0.1/24", "dns=ff02::1",
		"domain=", "domain=-bad.example", "domain=a..b", "domain=bad-.example",
		"domain=a b", "domain=x,domain=y",
		"domain=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
		"fqdn=", "fqdn=host name", "fqdn=h@st", "fqdn=a,fqdn=b",
		/* timeout */
		"timeout=", "timeout=0", "timeout=0.000", "timeout=3601", "timeout=1.2345",
		"timeout=x", "timeout=1.", "timeout=.5", "timeout=5,timeout=6",
		/* flags: repeated, contradictory */
		"up,down", "down,up", "up,up", "dhcp,dhcp", "slaac,slaac", "dhcp6,dhcp6",
		"down,gw=10.63.0.254", "gw=10.63.0.254,down", "down,dhcp", "down,dhcp6", "down,slaac",
	};
	/* good tokens first: a bad string must not apply them */
	static const char *const prefix = "ip=10.63.0.9/24,mtu=9000,ip=fd63::9/64,";
	char vnl[2 * VT_MAXPATH], s[1024], name300[300];
	struct vdestack *a, *lo;
	struct snap before, after;
	int rejected = 0, total = 0, rc, e;

	snprintf(vnl, sizeof(vnl), "ptp://%s/link", vt_dir);
	a = stack_cfg(vnl, "ip=10.63.0.1/24,ip=fd63::1/64,gw=10.63.0.254");
	REQUIRE(a, "a stack on %s, configured", vnl);
	snap_take(a, &before);
	REQUIRE(before.nl >= 2 && before.na >= 5 && before.nr >= 3,
		"links (%d), addresses (%d) and routes (%d) listed", before.nl, before.na,
		before.nr);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int with_prefix = 0; with_prefix < 2; with_prefix++) {
			snprintf(s, sizeof(s), "%s%s", with_prefix ? prefix : "", bad[i]);
			errno = 0;
			rc = vdestack_config(a, s);
			e = errno;
			total++;
			if (rc == -1 && e == EINVAL)
				rejected++;
			else
				CHECK(0, "\"%s\": %d (%s), want -1 EINVAL", s, rc, strerror(e));
		}
	}
	/* names too long for the kernel: 300 bytes, far over 253 and 15 */
	memset(name300, 'a', sizeof(name300) - 1);
	name300[sizeof(name300) - 1] = '\0';
	const char *keys[] = { "iface", "domain", "fqdn" };

	for (int k = 0; k < 3; k++) {
		snprintf(s, sizeof(s), "%s%s=%s", prefix, keys[k], name300);
		rc = vdestack_config(a, s);
		e = errno;
		total++;
		if (rc == -1 && e == EINVAL)
			rejected++;
		else
			CHECK(0, "a %s= of 300 bytes: %d (%s), want -1 EINVAL", keys[k], rc, strerror(e));
	}
	/* longer than the 64 KiB a configuration string may have */
	size_t biglen = 70000;
	char *big = malloc(biglen + 1);

	REQUIRE(big, "malloc");
	for (size_t i = 0; i < biglen; i++)
		big[i] = i % 3 == 2 ? ',' : 'u' + (i % 3);	/* "uv,uv,..." */
	memcpy(big, "up,", 3);
	big[biglen] = '\0';
	rc = vdestack_config(a, big);
	e = errno;
	total++;
	rejected += rc == -1 && e == EINVAL;
	CHECK(rc == -1 && e == EINVAL, "a 70000-byte string: %d (%s)", rc, strerror(e));
	free(big);
	CHECK(rejected == total, "%d of %d bad strings rejected with EINVAL", rejected, total);

	snap_take(a, &after);
	CHECK(snap_same(&before, &after),
	      "nothing changed: links %d/%d, addresses %d/%d, routes %d/%d (before/after)",
	      before.nl, after.nl, before.na, after.na, before.nr, after.nr);
	snap_free(&after);

	/* the control: the good prefix alone does change the stack */
	WORKS(vdestack_config(a, "ip=10.63.0.9/24,mtu=9000,ip=fd63::9/64"),
	      "the good tokens alone apply");
	snap_take(a, &after);
	CHECK(!snap_same(&before, &after) && has_addr(a, "vde0", "10.63.0.9", 24) &&
	      has_addr(a, "vde0", "fd63::9", 64), "and the kernel reports the change");
	snap_free(&after);
	snap_free(&before);

	/* a stack without an interface: a token that needs one is refused */
	lo = vde_addstack(NULL, NULL);
	REQUIRE(lo, "a loopback-only stack");
	FAILS(vdestack_config(lo, "ip=10.63.1.1/24"), EINVAL,
	      "loopback-only stack, ip= without iface=");
	CHECK(vdestack_config(lo, "iface=lo,ip=127.0.0.2/8") == 0 &&
	      has_addr(lo, "lo", "127.0.0.2", 8), "iface=lo,ip=127.0.0.2/8 applies to lo");
	vde_delstack(lo);
	FAILS(vdestack_config(NULL, "up"), EINVAL, "NULL stack");
	vde_delstack(a);
	FAILS(vdestack_config(a, "up"), EBADF, "deleted stack");
}

/* the rtnetlink calls one by one, with the kernel's errors */
VT_TEST(api_calls, 60)
{
	char vnl[2 * VT_MAXPATH], gw[64] = "";
	struct vdestack *a;
	unsigned char v4[4], v6[16], net[4], hop[4], far[4];
	struct vdestack_link *l = NULL;

	snprintf(vnl, sizeof(vnl), "ptp://%s/link", vt_dir);
	a = vde_addstack(vnl, NULL);
	REQUIRE(a, "a stack");
	inet_pton(AF_INET, "10.64.0.1", v4);
	inet_pton(AF_INET6, "fd64::1", v6);
	inet_pton(AF_INET, "10.99.0.0", net);
	inet_pton(AF_INET, "10.64.0.254", hop);
	inet_pton(AF_INET, "10.65.0.1", far);

	FAILS(vdestack_link_set(a, "nope0", 1, 0, NULL), ENODEV, "link_set on an unknown interface");
	WORKS(vdestack_link_set(a, "vde0", 1, 0, NULL), "vde0 up");
	WORKS(vdestack_addr_add(a, "vde0", AF_INET, v4, 24), "addr_add 10.64.0.1/24");
	WORKS(vdestack_addr_add(a, "vde0", AF_INET6, v6, 64), "addr_add fd64::1/64");
	CHECK(has_addr(a, "vde0", "10.64.0.1", 24) && has_addr(a, "vde0", "fd64::1", 64),
	      "both listed");
	FAILS(vdestack_addr_add(a, "vde0", AF_INET, v4, 24), EEXIST,
	      "the same address again: the kernel's error");
	FAILS(vdestack_addr_add(a, "vde0", AF_INET, v4, 33), EINVAL, "prefix 33");
	FAILS(vdestack_addr_add(a, "vde0", AF_PACKET, v4, 24), EINVAL, "family AF_PACKET");

	WORKS(vdestack_route_add(a, AF_INET, net, 16, hop, NULL),
	      "route_add 10.99.0.0/16 via 10.64.0.254");
	FAILS(vdestack_route_add(a, AF_INET, net, 16, hop, NULL), EEXIST, "the same route again");
	FAILS(vdestack_route_add(a, AF_INET, NULL, 0, far, NULL), ENETUNREACH,
	      "a default route through an unreachable gateway");
	WORKS(vdestack_route_add(a, AF_INET, NULL, 0, hop, "vde0"), "default via 10.64.0.254");
	CHECK(default_route(a, AF_INET, gw, sizeof(gw)) == 1 && !strcmp(gw, "10.64.0.254"),
	      "the kernel reports one default route, via %s", gw);
	/* the configuration string replaces the default route */
	WORKS(vdestack_config(a, "gw=10.64.0.253"), "config gw=10.64.0.253");
	CHECK(default_route(a, AF_INET, gw, sizeof(gw)) == 1 && !strcmp(gw, "10.64.0.253"),
	      "still one default route, now via %s", gw);
	WORKS(vdestack_route_del(a, AF_INET, NULL, 0, NULL, NULL), "route_del default");
	CHECK(default_route(a, AF_INET, gw, sizeof(gw)) == 0, "no default route left");
	WORKS(vdestack_route_del(a, AF_INET, net, 16, hop, "vde0"), "route_del 10.99/16");
	FAILS(vdestack_route_del(a, AF_INET, net, 16, NULL, NULL), ESRCH, "route_del again");

	WORKS(vdestack_addr_del(a, "vde0", AF_INET, v4, 24), "addr_del 10.64.0.1/24");
	FAILS(vdestack_addr_del(a, "vde0", AF_INET, v4, 24), EADDRNOTAVAIL, "addr_del again");
	CHECK(!has_addr(a, "vde0", "10.64.0.1", 24) && has_addr(a, "vde0", "fd64::1", 64),
	      "10.64.0.1 gone, fd64::1 still there");
	CHECK(vdestack_addr_del(a, "vde0", AF_INET6, v6, 64) == 0 &&
	      !has_addr(a, "vde0", "fd64::1", 64), "addr_del fd64::1/64");
	FAILS(vdestack_links(a, NULL), EINVAL, "links(NULL)");
	vde_delstack(a);
	FAILS(vdestack_links(a, &l), EBADF, "links of a deleted stack");
	CHECK(!l, "and the pointer is NULL");
}

/* a switch of the test's own, sw<n> in the scratch dir: its vde:// VNL */
static char *switch_vnl(int n)
{
	char *path = vt_path("sw%d", n), *vnl = malloc(strlen(path) + 8);
	pid_t sw = vt_switch_start(path);

	REQUIRE(sw > 0 && vnl, "switch %s started", path);
	sprintf(vnl, "vde://%s", path);
	return vnl;
}

static int has_link(struct vdestack *s, const char *name)
{
	struct vdestack_link *l = NULL;
	int n = vdestack_links(s, &l), found = find_link(l, n, name) != NULL;

	free(l);
	return found;
}

/*
 * One stack on two switches (vdestack_addif) reaches a peer on each; the
 * interfaces' names, the errors, and nothing left after the delete.
 */
VT_TEST(two_switches, 60)
{
	char *sw1 = switch_vnl(1), *sw2 = switch_vnl(2), why[256] = "";
	struct vdestack *s, *p1, *p2;
	int fds0, rc, e;

	fds0 = vt_count_fds();
	s = stack_cfg(sw1, "ip=10.72.1.1/24,ip=fd72:1::1/64");
	REQUIRE(s, "a stack on sw1");
	WORKS(vdestack_addif(s, sw2, NULL), "vdestack_addif(sw2, NULL)");
	CHECK(has_link(s, "vde1"), "the new interface is named vde1");
	WORKS(vdestack_config(s, "iface=vde1,ip=10.72.2.1/24,ip=fd72:2::1/64"),
	      "vde1 configured by string");
	p1 = stack_cfg(sw1, "ip=10.72.1.2/24,ip=fd72:1::2/64");
	p2 = stack_cfg(sw2, "ip=10.72.2.2/24,ip=fd72:2::2/64");
	REQUIRE(p1 && p2, "a peer on each switch");
	CHECK(echo(p1, s, "10.72.1.2", 7201, 128 * KIB, 15, why, sizeof(why)),
	      "the stack reaches the peer on sw1 over IPv4 %s", why);
	CHECK(echo(p2, s, "10.72.2.2", 7202, 128 * KIB, 15, why, sizeof(why)),
	      "the stack reaches the peer on sw2 over IPv4 %s", why);
	CHECK(echo(s, p2, "fd72:2::1", 7203, 128 * KIB, 15, why, sizeof(why)),
	      "the peer on sw2 reaches the stack's vde1 over IPv6 %s", why);
	CHECK(echo(s, p1, "fd72:1::1", 7204, 64 * KIB, 15, why, sizeof(why)),
	      "the peer on sw1 reaches the stack's vde0 over IPv6 %s", why);
	/* the peers are not on each other's network */
	rc = try_connect(p1, "10.72.2.2", 7205, 2);
	CHECK(rc == ENETUNREACH, "the peer on sw1 has no route to sw2's network (%s)",
	      strerror(rc));

	/* a name of one's own, and the errors */
	WORKS(vdestack_addif(s, sw2, "uplink7"), "vdestack_addif(sw2, \"uplink7\")");
	CHECK(has_link(s, "uplink7"), "the stack has uplink7");
	errno = 0;
	rc = vdestack_addif(s, sw2, "uplink7");
	e = errno;
	CHECK(rc == -1 && (e == EBUSY || e == EEXIST), "the same name again: %d (%s)", rc,
	      strerror(e));
	errno = 0;
	rc = vdestack_addif(s, sw2, "lo");
	e = errno;
	CHECK(rc == -1 && e != 0, "the name of lo: %d (%s)", rc, strerror(e));
	FAILS(vdestack_addif(s, sw2, "0123456789abcdef"), EINVAL, "a 16-byte name");
	FAILS(vdestack_addif(s, sw2, "a/b"), EINVAL, "the name a/b");
	FAILS(vdestack_addif(s, sw2, "vde%d"), EINVAL, "a kernel name pattern");
	FAILS(vdestack_addif(s, "", NULL), EINVAL, "an empty VNL");
	FAILS(vdestack_addif(s, NULL, NULL), EINVAL, "a NULL VNL");
	errno = 0;
	rc = vdestack_addif(s, vt_path("nosuchswitch"), NULL);
	e = errno;
	CHECK(rc == -1 && e != 0, "a VNL that cannot be opened: %d (%s)", rc, strerror(e));
	CHECK(has_link(s, "vde1") && has_link(s, "uplink7") && !has_link(s, "vde2"),
	      "the failed calls left no interface behind");
	vde_delstack(p1);
	vde_delstack(p2);
	vde_delstack(s);
	FAILS(vdestack_addif(s, sw2, NULL), EBADF, "a deleted stack");
	rc = vt_settle_fds(fds0, 1.0);	/* the helper lingers a moment */
	CHECK(rc == fds0, "no fd left: %d before, %d after", fds0, rc);
}

/*
 * A route through a gateway stack (two interfaces, forwarding on) works,
 * and stops working when it is removed; IPv4 and IPv6.
 */
VT_TEST(gateway_route, 60)
{
	char *sw1 = switch_vnl(1), *sw2 = switch_vnl(2), why[256] = "";
	struct vdestack *a, *b, *g;
	unsigned char net4[4], gw4[4], net6[16], gw6[16];
	int rc;

	a = stack_cfg(sw1, "ip=10.71.1.1/24,ip=fd71:1::1/64");
	b = stack_cfg(sw2, "ip=10.71.2.1/24,gw=10.71.2.254,ip=fd71:2::1/64,gw=fd71:2::fe");
	g = vde_addstack(sw1, NULL);
	REQUIRE(a && b && g, "stacks a (sw1), b (sw2), g (sw1)");
	rc = vdestack_addif(g, sw2, NULL);
	REQUIRE(rc == 0, "g gets vde1 on sw2: %s", rc ? strerror(errno) : "ok");
	rc = vdestack_config(g, "ip=10.71.1.254/24,ip=fd71:1::fe/64,"
			     "iface=vde1,ip=10.71.2.254/24,ip=fd71:2::fe/64");
	REQUIRE(rc == 0, "g configured by string: %s", rc ? strerror(errno) : "ok");
	rc = vt_cmd(g, "/bin/busybox sysctl -w net.ipv4.ip_forward=1;"
		    "/bin/busybox sysctl -w net.ipv6.conf.all.forwarding=1");
	REQUIRE(rc == 0, "forwarding on in g (busybox sysctl: %d)", rc);
	inet_pton(AF_INET, "10.71.2.0", net4);
	inet_pton(AF_INET, "10.71.1.254", gw4);
	inet_pton(AF_INET6, "fd71:2::", net6);
	inet_pton(AF_INET6, "fd71:1::fe", gw6);

	rc = try_connect(a, "10.71.2.1", 7300, 2);
	CHECK(rc == ENETUNREACH, "before the route: a cannot reach b (%s)", strerror(rc));
	WORKS(vdestack_route_add(a, AF_INET, net4, 24, gw4, NULL),
	      "a: route to 10.71.2.0/24 via g");
	WORKS(vdestack_route_add(a, AF_INET6, net6, 64, gw6, "vde0"),
	      "a: route to fd71:2::/64 via g");
	CHECK(echo(b, a, "10.71.2.1", 7301, 64 * KIB, 15, why, sizeof(why)),
	      "through g: a -> b over IPv4, 64 KiB echoed %s", why);
	CHECK(echo(b, a, "fd71:2::1", 7302, 64 * KIB, 15, why, sizeof(why)),
	      "through g: a -> b over IPv6, 64 KiB echoed %s", why);
	WORKS(vdestack_route_del(a, AF_INET, net4, 24, NULL, NULL), "a: IPv4 route removed");
	WORKS(vdestack_route_del(a, AF_INET6, net6, 64, NULL, NULL), "a: IPv6 route removed");
	rc = try_connect(a, "10.71.2.1", 7303, 2);
	CHECK(rc == ENETUNREACH, "without the route: a cannot reach b over IPv4 (%s)",
	      strerror(rc));
	rc = try_connect(a, "fd71:2::1", 7304, 2);
	CHECK(rc == ENETUNREACH, "without the route: a cannot reach b over IPv6 (%s)",
	      strerror(rc));
	/* and a default route through g, by string, works the same */
	WORKS(vdestack_config(a, "gw=10.71.1.254"), "a: gw=10.71.1.254");
	CHECK(echo(b, a, "10.71.2.1", 7305, 64 * KIB, 15, why, sizeof(why)),
	      "through g by a default route %s", why);
	vde_delstack(a);
	vde_delstack(b);
	vde_delstack(g);
}
