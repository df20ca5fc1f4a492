// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * nlconf.c - interfaces, addresses and routes of a stack over rtnetlink.
 *
 * The NETLINK_ROUTE socket is made in the stack (vde_msocket), so the
 * kernel applies every request to the stack's namespace with the rights
 * the stack has there, unprivileged callers included: no command runs.
 * Messages are built and parsed with libmnl; each request asks for an
 * acknowledgement, and the error of the kernel's NLMSG_ERROR is what the
 * caller gets back.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "nlconf.h"
#include "util.h"

/* a reply to one request is small; a dump comes in datagrams of this size */
#define NL_BUF		8192
#define NL_DUMP_BUF	32768
#define NL_DUMP_TRIES	5	/* restarts of a dump the kernel interrupted */

static unsigned int next_seq(void)
{
	static unsigned int seq;

	return __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED) + (unsigned int)time(NULL);
}

static int addr_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : -1;
}

/* does this datagram end a dump (NLMSG_DONE or NLMSG_ERROR)? */
static int last_of_dump(const char *buf, ssize_t n)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	int len = n;

	for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
		if (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR)
			return 1;
	return 0;
}

static void drain(int nl, char *buf, size_t bufsz)
{
	ssize_t n;

	do {
		n = recv(nl, buf, bufsz, 0);
	} while ((n < 0 && errno == EINTR) || (n > 0 && !last_of_dump(buf, n)));
}

/* send one message, expect the replies until an ack (or the dump's end) */
static int talk(int nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	size_t bufsz = (nlh->nlmsg_flags & NLM_F_DUMP) ? NL_DUMP_BUF : NL_BUF;
	unsigned int seq = nlh->nlmsg_seq;
	char *buf;
	ssize_t n = 0;
	int ret;

	while (send(nl, nlh, nlh->nlmsg_len, 0) < 0)
		if (errno != EINTR)
			return -errno;
	buf = malloc(bufsz);
	if (!buf)
		return -ENOMEM;
	do {
		n = recv(nl, buf, bufsz, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* SO_RCVTIMEO of vds_nl_open() ran out */
			ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
			break;
		}
		/* seq checked, port id not: the socket may be unbound */
		errno = 0;
		ret = mnl_cb_run(buf, n, seq, 0, cb, data);
		if (ret < 0)
			ret = errno ? -errno : -EPROTO;
	} while (ret > 0);
	/*
	 * A dump that changed under it (NLM_F_DUMP_INTR: EINTR) or that a
	 * callback gave up still has datagrams queued: read them to the end,
	 * so that the next request on this socket gets its own answer.
	 */
	if (ret < 0 && (nlh->nlmsg_flags & NLM_F_DUMP) && n > 0 &&
	    !last_of_dump(buf, n))
		drain(nl, buf, bufsz);
	free(buf);
	return ret;
}

static struct nlmsghdr *msg_new(char *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = next_seq();
	return nlh;
}

/**
 * vds_nl_open() - a NETLINK_ROUTE socket in the stack
 * @stack:	the stack
 *
 * The socket waits at most 5 seconds for an answer (then -ETIMEDOUT):
 * a kernel answers at once, and a lost answer must not hang a caller
 * (a DHCP client thread, say).
 *
 * Return: the socket (close-on-exec, blocking), or -errno
 */
int vds_nl_open(struct vdestack *stack)
{
	int fd = vde_msocket(stack, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	struct timeval tv = { .tv_sec = 5 };

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

struct ifinfo {
	int index;
	unsigned char *mac;
};

static int mac_attr(const struct nlattr *a, void *data)
{
	struct ifinfo *info = data;

	if (mnl_attr_get_type(a) == IFLA_ADDRESS && mnl_attr_get_payload_len(a) == 6)
		memcpy(info->mac, mnl_attr_get_payload(a), 6);
	return MNL_CB_OK;
}

static int index_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct ifinfo *info = data;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	info->index = ifi->ifi_index;
	if (info->mac)
		mnl_attr_parse(nlh, sizeof(*ifi), mac_attr, info);
	return MNL_CB_OK;
}

/**
 * vds_nl_ifindex() - the index of an interface of the stack
 * @nl:		socket from vds_nl_open()
 * @ifname:	its name
 *
 * Return: the index (> 0), -ENODEV if there is no such interface, -EINVAL
 * for a name that cannot be one, or another -errno
 */
int vds_nl_ifindex(int nl, const char *ifname)
{
	return vds_nl_ifinfo(nl, ifname, NULL);
}

/**
 * vds_nl_ifinfo() - the index and the MAC address of an interface
 * @nl:		socket from vds_nl_open()
 * @ifname:	its name
 * @mac:	6 bytes filled with its MAC address (left alone when it has
 *		none), or NULL
 *
 * Return: the index (> 0), -ENODEV if there is no such interface, -EINVAL
 * for a name that cannot be one, or another -errno
 */
int vds_nl_ifinfo(int nl, const char *ifname, unsigned char *mac)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	size_t len = ifname ? strlen(ifname) : 0;
	struct ifinfo info = { .mac = mac };
	int ret;

	if (len == 0 || len >= IFNAMSIZ)
		return -EINVAL;
	nlh = msg_new(buf, RTM_GETLINK, NLM_F_ACK);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	/* no need for the interface's statistics in the answer */
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	ret = talk(nl, nlh, index_cb, &info);
	if (ret < 0)
		return ret;
	return info.index > 0 ? info.index : -ENODEV;
}

/**
 * vds_nl_link_set() - state, MTU and MAC address of an interface, at once
 * @nl:		socket from vds_nl_open()
 * @ifindex:	the interface
 * @up:		1 up, 0 down, -1 unchanged
 * @mtu:	new MTU, 0 unchanged
 * @mac:	new 6-byte MAC address, NULL unchanged
 *
 * Return: 0, or -errno (the kernel's)
 */
int vds_nl_link_set(int nl, int ifindex, int up, unsigned int mtu, const unsigned char *mac)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = msg_new(buf, RTM_NEWLINK, NLM_F_ACK);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	if (up >= 0) {
		ifi->ifi_change = IFF_UP;
		ifi->ifi_flags = up ? IFF_UP : 0;
	}
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	if (mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	return talk(nl, nlh, NULL, NULL);
}

/**
 * vds_nl_addr() - add or delete an address
 * @nl:		socket from vds_nl_open()
 * @flags:	VDS_NL_ADD (else delete), VDS_NL_REPLACE (an existing one is
 *		updated instead of EEXIST)
 * @ifindex:	the interface
 * @family:	AF_INET or AF_INET6
 * @addr:	4 or 16 bytes, network byte order
 * @prefixlen:	prefix length
 *
 * IPv4 addresses get the broadcast address of their prefix (as "ip addr
 * add ... brd +"); IPv6 addresses skip duplicate address detection (unless
 * VDS_NL_DAD), so they can be bound at once instead of after a second or two
 * as "tentative".
 *
 * Return: 0, or -errno (the kernel's)
 */
int vds_nl_addr(int nl, int flags, int ifindex, int family, const void *addr,
		unsigned int prefixlen)
{
	return vds_nl_addr_brd(nl, flags, ifindex, family, addr, prefixlen, NULL);
}

/**
 * vds_nl_addr_brd() - vds_nl_addr() with a given IPv4 broadcast address
 * @nl:		socket from vds_nl_open()
 * @flags:	as vds_nl_addr(), and VDS_NL_DAD: an IPv6 address goes
 *		through duplicate address detection
 * @ifindex:	the interface
 * @family:	AF_INET or AF_INET6
 * @addr:	4 or 16 bytes, network byte order
 * @prefixlen:	prefix length
 * @brd:	IPv4 broadcast address (a DHCP server's option 28), or NULL:
 *		the one of the prefix
 *
 * Return: 0, or -errno (the kernel's)
 */
int vds_nl_addr_brd(int nl, int flags, int ifindex, int family, const void *addr,
		    unsigned int prefixlen, const void *brd)
{
	char buf[NL_BUF];
	int alen = addr_len(family);
	int add = flags & VDS_NL_ADD;
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;

	if (alen < 0 || !addr || prefixlen > (unsigned int)alen * 8 || ifindex <= 0)
		return -EINVAL;
	nlh = msg_new(buf, add ? RTM_NEWADDR : RTM_DELADDR,
		      NLM_F_ACK | (add ? NLM_F_CREATE : 0) |
		      (add ? ((flags & VDS_NL_REPLACE) ? NLM_F_REPLACE : NLM_F_EXCL) : 0));
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = family;
	ifa->ifa_prefixlen = prefixlen;
	ifa->ifa_index = ifindex;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	if (family == AF_INET) {
		uint32_t a, mask, bcast;

		memcpy(&a, addr, 4);
		mnl_attr_put(nlh, IFA_LOCAL, 4, addr);
		mnl_attr_put(nlh, IFA_ADDRESS, 4, addr);
		if (add && brd) {
			mnl_attr_put(nlh, IFA_BROADCAST, 4, brd);
		} else if (add && prefixlen < 31) {
			mask = prefixlen ? htonl(~0u << (32 - prefixlen)) : 0;
			bcast = a | ~mask;
			mnl_attr_put(nlh, IFA_BROADCAST, 4, &bcast);
		}
		if ((ntohl(a) >> 24) == 127)
			ifa->ifa_scope = RT_SCOPE_HOST;
	} else {
		mnl_attr_put(nlh, IFA_ADDRESS, 16, addr);
		if (add && !(flags & VDS_NL_DAD)) {
			ifa->ifa_flags = IFA_F_NODAD;
			mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
		}
	}
	return talk(nl, nlh, NULL, NULL);
}

/**
 * vds_nl_route() - add or delete a route of the main table
 * @nl:		socket from vds_nl_open()
 * @flags:	VDS_NL_ADD (else delete), VDS_NL_REPLACE (replace a route
 *		to the same destination instead of EEXIST), VDS_NL_DHCP (the
 *		route was learnt by DHCP: protocol "dhcp", not "boot")
 * @family:	AF_INET or AF_INET6
 * @dst:	destination prefix, NULL for the default route
 * @dst_len:	its length (0 with dst NULL)
 * @gateway:	next hop, NULL for a route directly on the link
 * @oif:	outgoing interface index, 0 to let the kernel find it
 *
 * Return: 0, or -errno (the kernel's)
 */
int vds_nl_route(int nl, int flags, int family, const void *dst, unsigned int dst_len,
		 const void *gateway, int oif)
{
	char buf[NL_BUF];
	int alen = addr_len(family);
	int add = flags & VDS_NL_ADD;
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	if (alen < 0 || dst_len > (unsigned int)alen * 8 || (dst_len && !dst) || oif < 0)
		return -EINVAL;
	if (add && !gateway && !oif)
		return -EINVAL;		/* a route to nowhere */
	nlh = msg_new(buf, add ? RTM_NEWROUTE : RTM_DELROUTE,
		      NLM_F_ACK | (add ? NLM_F_CREATE : 0) |
		      (add ? ((flags & VDS_NL_REPLACE) ? NLM_F_REPLACE : NLM_F_EXCL) : 0));
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = family;
	rtm->rtm_dst_len = dst_len;
	rtm->rtm_table = RT_TABLE_MAIN;
	if (add) {
		rtm->rtm_protocol = (flags & VDS_NL_DHCP) ? RTPROT_DHCP : RTPROT_BOOT;
		rtm->rtm_type = RTN_UNICAST;
		/* an IPv4 route without a gateway reaches hosts on the link */
		rtm->rtm_scope = (family == AF_INET && !gateway) ? RT_SCOPE_LINK
								   : RT_SCOPE_UNIVERSE;
	} else {
		rtm->rtm_scope = RT_SCOPE_NOWHERE;	/* any scope matches */
	}
	if (dst_len)
		mnl_attr_put(nlh, RTA_DST, alen, dst);
	if (gateway)
		mnl_attr_put(nlh, RTA_GATEWAY, alen, gateway);
	if (oif)
		mnl_attr_put_u32(nlh, RTA_OIF, oif);
	return talk(nl, nlh, NULL, NULL);
}

/* ------------------------------------------------------------- dumps --- */

/* a growing array of fixed-size records */
struct vec {
	void *items;
	size_t size;
	int n, cap;
	int err;
};

static void *vec_push(struct vec *v)
{
	char *p;

	if (v->n == v->cap) {
		int cap = v->cap ? v->cap * 2 : 8;

		p = realloc(v->items, (size_t)cap * v->size);
		if (!p) {
			v->err = -ENOMEM;
			return NULL;
		}
		v->items = p;
		v->cap = cap;
	}
	p = (char *)v->items + (size_t)v->n++ * v->size;
	memset(p, 0, v->size);
	return p;
}

/* run a dump of type (family AF_UNSPEC), collecting with cb into v */
static int dump(int nl, uint16_t type, size_t hdrsize, mnl_cb_t cb, struct vec *v)
{
	char buf[NL_BUF];
	int tries, ret = -EINTR;

	for (tries = 0; tries < NL_DUMP_TRIES && ret == -EINTR; tries++) {
		struct nlmsghdr *nlh = msg_new(buf, type, NLM_F_DUMP);
		unsigned char *hdr = mnl_nlmsg_put_extra_header(nlh, hdrsize);

		/* the family is the first byte of ifinfomsg, ifaddrmsg, rtmsg */
		hdr[0] = AF_UNSPEC;
		if (type == RTM_GETLINK)
			mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
		v->n = 0;
		v->err = 0;
		ret = talk(nl, nlh, cb, v);
		if (v->err < 0)
			ret = v->err;
	}
	return ret;
}

static int link_attr(const struct nlattr *a, void *data)
{
	struct vdestack_link *l = data;
	size_t len = mnl_attr_get_payload_len(a);

	switch (mnl_attr_get_type(a)) {
	case IFLA_IFNAME:
		if (len > 0 && len <= sizeof(l->name)) {
			memcpy(l->name, mnl_attr_get_payload(a), len);
			l->name[sizeof(l->name) - 1] = '\0';
		}
		break;
	case IFLA_MTU:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			l->mtu = mnl_attr_get_u32(a);
		break;
	case IFLA_ADDRESS:
		if (len <= sizeof(l->mac)) {
			memcpy(l->mac, mnl_attr_get_payload(a), len);
			l->mac_len = len;
		}
		break;
	}
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct vec *v = data;
	struct vdestack_link *l;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	l = vec_push(v);
	if (!l)
		return MNL_CB_ERROR;
	l->index = ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	mnl_attr_parse(nlh, sizeof(*ifi), link_attr, l);
	return MNL_CB_OK;
}

/**
 * vds_nl_links() - the interfaces of the stack
 * @nl:		socket from vds_nl_open()
 * @links:	set to a malloc'd array (NULL when empty)
 *
 * Return: the number of interfaces, or -errno
 */
int vds_nl_links(int nl, struct vdestack_link **links)
{
	struct vec v = { .size = sizeof(struct vdestack_link) };
	int ret = dump(nl, RTM_GETLINK, sizeof(struct ifinfomsg), link_cb, &v);

	if (ret < 0 || v.n == 0) {
		free(v.items);
		*links = NULL;
		return ret < 0 ? ret : 0;
	}
	*links = v.items;
	return v.n;
}

/* the name of each interface index, from a dump of the links */
static void fill_names(int nl, int n, size_t size, size_t off_index, size_t off_name,
		       void *items)
{
	struct vdestack_link *links = NULL;
	int nl_n = vds_nl_links(nl, &links);

	for (int i = 0; i < n; i++) {
		char *rec = (char *)items + (size_t)i * size;
		int index;

		memcpy(&index, rec + off_index, sizeof(index));
		for (int j = 0; j < nl_n; j++)
			if (links[j].index == index && index > 0)
				memcpy(rec + off_name, links[j].name, VDESTACK_IFNAMSIZ);
	}
	free(links);
}

struct addr_attrs {
	const struct nlattr *local, *address, *flags;
};

static int addr_attr(const struct nlattr *a, void *data)
{
	struct addr_attrs *t = data;

	switch (mnl_attr_get_type(a)) {
	case IFA_LOCAL:
		t->local = a;
		break;
	case IFA_ADDRESS:
		t->address = a;
		break;
	case IFA_FLAGS:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			t->flags = a;
		break;
	}
	return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct addr_attrs t = { 0 };
	const struct nlattr *a;
	struct vec *v = data;
	struct vdestack_addr *r;
	int alen = addr_len(ifa->ifa_family);

	if (nlh->nlmsg_type != RTM_NEWADDR || alen < 0)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifa), addr_attr, &t);
	/* IFA_LOCAL is the address itself; IFA_ADDRESS a point-to-point peer */
	a = t.local ? t.local : t.address;
	if (!a || mnl_attr_get_payload_len(a) != (size_t)alen)
		return MNL_CB_OK;
	r = vec_push(v);
	if (!r)
		return MNL_CB_ERROR;
	r->ifindex = ifa->ifa_index;
	r->family = ifa->ifa_family;
	r->prefixlen = ifa->ifa_prefixlen;
	memcpy(r->addr, mnl_attr_get_payload(a), alen);
	r->flags = t.flags ? mnl_attr_get_u32(t.flags) : ifa->ifa_flags;
	r->scope = ifa->ifa_scope;
	return MNL_CB_OK;
}

/**
 * vds_nl_addrs() - the IPv4 and IPv6 addresses of the stack
 * @nl:		socket from vds_nl_open()
 * @addrs:	set to a malloc'd array (NULL when empty)
 *
 * Return: the number of addresses, or -errno
 */
int vds_nl_addrs(int nl, struct vdestack_addr **addrs)
{
	struct vec v = { .size = sizeof(struct vdestack_addr) };
	int ret = dump(nl, RTM_GETADDR, sizeof(struct ifaddrmsg), addr_cb, &v);

	if (ret < 0 || v.n == 0) {
		free(v.items);
		*addrs = NULL;
		return ret < 0 ? ret : 0;
	}
	fill_names(nl, v.n, v.size, offsetof(struct vdestack_addr, ifindex),
		   offsetof(struct vdestack_addr, ifname), v.items);
	*addrs = v.items;
	return v.n;
}

/* a usable IPv6 address (see vds_nl_addr6_wait()): 1 found, 0 not (yet), -errno */
static int addr6_ready(int nl, int ifindex, int scope, const struct in6_addr *want)
{
	struct vec v = { .size = sizeof(struct vdestack_addr) };
	struct vdestack_addr *a;
	int ret = dump(nl, RTM_GETADDR, sizeof(struct ifaddrmsg), addr_cb, &v);

	for (int i = 0; ret >= 0 && i < v.n && ret != 1; i++) {
		a = (struct vdestack_addr *)v.items + i;
		if (a->family == AF_INET6 && a->ifindex == ifindex && (int)a->scope == scope &&
		    /* an address in duplicate address detection cannot be used yet */
		    !(a->flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) &&
		    (!want || !memcmp(a->addr, want, 16)))
			ret = 1;
	}
	free(v.items);
	return ret < 0 ? ret : ret == 1;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/**
 * vds_nl_addr6_wait() - wait for a usable IPv6 address on an interface
 * @nl:		socket from vds_nl_open()
 * @ifindex:	the interface
 * @scope:	RT_SCOPE_UNIVERSE (global) or RT_SCOPE_LINK
 * @want:	only this address, or NULL: any
 * @timeout_ms:	how long to wait (the addresses are polled every 20 ms)
 *
 * Tentative addresses (duplicate address detection still running) and
 * those that failed it do not count: this is how the SLAAC and DHCPv6
 * clients learn that an address can be used.
 *
 * Return: 0 when there is one, -ETIMEDOUT, or another -errno
 */
int vds_nl_addr6_wait(int nl, int ifindex, int scope, const struct in6_addr *want,
		      int timeout_ms)
{
	long long end = mono_ms() + timeout_ms;
	int ret;

	while ((ret = addr6_ready(nl, ifindex, scope, want)) == 0) {
		if (mono_ms() >= end)
			return -ETIMEDOUT;
		usleep(20000);
	}
	return ret < 0 ? ret : 0;
}

struct route_attrs {
	const struct nlattr *dst, *gw, *oif, *prio, *table;
};

static int route_attr(const struct nlattr *a, void *data)
{
	struct route_attrs *t = data;

	switch (mnl_attr_get_type(a)) {
	case RTA_DST:
		t->dst = a;
		break;
	case RTA_GATEWAY:
		t->gw = a;
		break;
	case RTA_OIF:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			t->oif = a;
		break;
	case RTA_PRIORITY:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			t->prio = a;
		break;
	case RTA_TABLE:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			t->table = a;
		break;
	}
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct route_attrs t = { 0 };
	struct vec *v = data;
	struct vdestack_route *r;
	int alen = addr_len(rtm->rtm_family);
	unsigned int table;

	if (nlh->nlmsg_type != RTM_NEWROUTE || alen < 0 || rtm->rtm_type != RTN_UNICAST)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*rtm), route_attr, &t);
	table = t.table ? mnl_attr_get_u32(t.table) : rtm->rtm_table;
	if (table != RT_TABLE_MAIN)
		return MNL_CB_OK;
	r = vec_push(v);
	if (!r)
		return MNL_CB_ERROR;
	r->family = rtm->rtm_family;
	r->dst_len = rtm->rtm_dst_len;
	if (t.dst && mnl_attr_get_payload_len(t.dst) == (size_t)alen)
		memcpy(r->dst, mnl_attr_get_payload(t.dst), alen);
	if (t.gw && mnl_attr_get_payload_len(t.gw) == (size_t)alen) {
		memcpy(r->gateway, mnl_attr_get_payload(t.gw), alen);
		r->has_gateway = 1;
	}
	r->ifindex = t.oif ? (int)mnl_attr_get_u32(t.oif) : 0;
	r->metric = t.prio ? mnl_attr_get_u32(t.prio) : 0;
	r->protocol = rtm->rtm_protocol;
	return MNL_CB_OK;
}

/**
 * vds_nl_routes() - the unicast routes of the stack's main table
 * @nl:		socket from vds_nl_open()
 * @routes:	set to a malloc'd array (NULL when empty)
 *
 * Return: the number of routes, or -errno
 */
int vds_nl_routes(int nl, struct vdestack_route **routes)
{
	struct vec v = { .size = sizeof(struct vdestack_route) };
	int ret = dump(nl, RTM_GETROUTE, sizeof(struct rtmsg), route_cb, &v);

	if (ret < 0 || v.n == 0) {
		free(v.items);
		*routes = NULL;
		return ret < 0 ? ret : 0;
	}
	fill_names(nl, v.n, v.size, offsetof(struct vdestack_route, ifindex),
		   offsetof(struct vdestack_route, ifname), v.items);
	*routes = v.items;
	return v.n;
}

/* ------------------------------------------------------- public calls --- */

/* a socket in the stack and the index of ifname (when not NULL) */
static int open_if(struct vdestack *stack, const char *ifname, int *index)
{
	int nl, ret;

	nl = vds_nl_open(stack);
	if (nl < 0 || !ifname) {
		*index = 0;
		return nl;
	}
	ret = vds_nl_ifindex(nl, ifname);
	if (ret < 0) {
		close(nl);
		return ret;
	}
	*index = ret;
	return nl;
}

static int public_ret(int ret)
{
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

/**
 * vdestack_link_set() - bring an interface up or down, set its MTU and MAC
 * @stack:	the stack
 * @ifname:	the interface
 * @up:		1 up, 0 down, -1 unchanged
 * @mtu:	the MTU, 0 unchanged
 * @mac:	6 bytes, NULL unchanged
 *
 * Return: 0, or -1 with errno (ENODEV: no such interface; the kernel's)
 */
VDS_EXPORT int vdestack_link_set(struct vdestack *stack, const char *ifname, int up,
				 unsigned int mtu, const unsigned char *mac)
{
	int index, ret, nl;

	if (!ifname || up < -1 || up > 1)
		return public_ret(-EINVAL);
	nl = open_if(stack, ifname, &index);
	if (nl < 0)
		return public_ret(nl);
	ret = vds_nl_link_set(nl, index, up, mtu, mac);
	close(nl);
	return public_ret(ret);
}

static int addr_change(struct vdestack *stack, int flags, const char *ifname, int family,
		       const void *addr, unsigned int prefixlen)
{
	int index, ret, nl;

	if (!ifname || !addr || addr_len(family) < 0 ||
	    prefixlen > (unsigned int)addr_len(family) * 8)
		return public_ret(-EINVAL);
	nl = open_if(stack, ifname, &index);
	if (nl < 0)
		return public_ret(nl);
	ret = vds_nl_addr(nl, flags, index, family, addr, prefixlen);
	close(nl);
	return public_ret(ret);
}

/**
 * vdestack_addr_add() - add an address to an interface
 * @stack:	the stack
 * @ifname:	the interface
 * @family:	AF_INET or AF_INET6
 * @addr:	the address, 4 or 16 bytes in network byte order
 * @prefixlen:	its prefix length
 *
 * Return: 0, or -1 with errno (EEXIST if it is there already)
 */
VDS_EXPORT int vdestack_addr_add(struct vdestack *stack, const char *ifname, int family,
				 const void *addr, unsigned int prefixlen)
{
	return addr_change(stack, VDS_NL_ADD, ifname, family, addr, prefixlen);
}

/**
 * vdestack_addr_del() - remove an address from an interface
 * @stack:	the stack
 * @ifname:	the interface
 * @family:	AF_INET or AF_INET6
 * @addr:	the address, 4 or 16 bytes in network byte order
 * @prefixlen:	its prefix length
 *
 * Return: 0, or -1 with errno (EADDRNOTAVAIL if it is not there)
 */
VDS_EXPORT int vdestack_addr_del(struct vdestack *stack, const char *ifname, int family,
				 const void *addr, unsigned int prefixlen)
{
	return addr_change(stack, 0, ifname, family, addr, prefixlen);
}

static int route_change(struct vdestack *stack, int flags, int family, const void *dst,
			unsigned int dst_len, const void *gateway, const char *ifname)
{
	int index, ret, nl;

	if (addr_len(family) < 0 || dst_len > (unsigned int)addr_len(family) * 8)
		return public_ret(-EINVAL);
	if (!dst)
		dst_len = 0;
	if ((flags & VDS_NL_ADD) && !gateway && !ifname)
		return public_ret(-EINVAL);
	nl = open_if(stack, ifname, &index);
	if (nl < 0)
		return public_ret(nl);
	ret = vds_nl_route(nl, flags, family, dst, dst_len, gateway, index);
	close(nl);
	return public_ret(ret);
}

/**
 * vdestack_route_add() - add a route to the stack's main table
 * @stack:	the stack
 * @family:	AF_INET or AF_INET6
 * @dst:	destination prefix (network byte order), NULL: default route
 * @dst_len:	its length
 * @gateway:	next hop, NULL for a route directly on the link
 * @ifname:	outgoing interface, NULL to let the kernel find it from @gateway
 *
 * Return: 0, or -1 with errno (EEXIST, ENETUNREACH, the kernel's)
 */
VDS_EXPORT int vdestack_route_add(struct vdestack *stack, int family, const void *dst,
				  unsigned int dst_len, const void *gateway, const char *ifname)
{
	return route_change(stack, VDS_NL_ADD, family, dst, dst_len, gateway, ifname);
}

/**
 * vdestack_route_del() - remove a route from the stack's main table
 * @stack:	the stack
 * @family:	AF_INET or AF_INET6
 * @dst:	destination prefix (network byte order), NULL: default route
 * @dst_len:	its length
 * @gateway:	next hop to match, NULL: any
 * @ifname:	outgoing interface to match, NULL: any
 *
 * Return: 0, or -1 with errno (ESRCH if no route matches)
 */
VDS_EXPORT int vdestack_route_del(struct vdestack *stack, int family, const void *dst,
				  unsigned int dst_len, const void *gateway, const char *ifname)
{
	return route_change(stack, 0, family, dst, dst_len, gateway, ifname);
}

/**
 * vdestack_links() - list the interfaces of a stack
 * @stack:	the stack
 * @links:	set to a malloc'd array, free() it (NULL when empty)
 *
 * Return: the number of interfaces, or -1 with errno
 */
VDS_EXPORT int vdestack_links(struct vdestack *stack, struct vdestack_link **links)
{
	int nl, ret;

	if (!links)
		return public_ret(-EINVAL);
	*links = NULL;
	nl = vds_nl_open(stack);
	if (nl < 0)
		return public_ret(nl);
	ret = vds_nl_links(nl, links);
	close(nl);
	return public_ret(ret);
}

/**
 * vdestack_addrs() - list the IPv4 and IPv6 addresses of a stack
 * @stack:	the stack
 * @addrs:	set to a malloc'd array, free() it (NULL when empty)
 *
 * Return: the number of addresses, or -1 with errno
 */
VDS_EXPORT int vdestack_addrs(struct vdestack *stack, struct vdestack_addr **addrs)
{
	int nl, ret;

	if (!addrs)
		return public_ret(-EINVAL);
	*addrs = NULL;
	nl = vds_nl_open(stack);
	if (nl < 0)
		return public_ret(nl);
	ret = vds_nl_addrs(nl, addrs);
	close(nl);
	return public_ret(ret);
}

/**
 * vdestack_routes() - list the unicast routes of a stack's main table
 * @stack:	the stack
 * @routes:	set to a malloc'd array, free() it (NULL when empty)
 *
 * Return: the number of routes, or -1 with errno
 */
VDS_EXPORT int vdestack_routes(struct vdestack *stack, struct vdestack_route **routes)
{
	int nl, ret;

	if (!routes)
		return public_ret(-EINVAL);
	*routes = NULL;
	nl = vds_nl_open(stack);
	if (nl < 0)
		return public_ret(nl);
	ret = vds_nl_routes(nl, routes);
	close(nl);
	return public_ret(ret);
}
