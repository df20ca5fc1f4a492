// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * rtnl.c - rtnetlink requests for the DHCP and SLAAC clients.
 *
 * Every socket is made in the stack with vde_msocket(), so the kernel applies
 * the requests to the stack's namespace with the stack's rights, for an
 * unprivileged caller too.  Messages are built and parsed with libmnl; one
 * request is sent at a time and its acknowledgement (or the dump) read back.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <net/if.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "vdestack.h"
#include "rtnl.h"

/**
 * vds_rtnl_open() - a NETLINK_ROUTE socket in the stack
 * @stack:	the stack
 *
 * Return: the socket (close-on-exec), or -errno
 */
int vds_rtnl_open(struct vdestack *stack)
{
	int fd = vde_msocket(stack, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	struct timeval tv = { .tv_sec = 5 };

	if (fd < 0)
		return -errno;
	/* a kernel answer is immediate; a lost one must not hang a client */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/**
 * vds_ifinfo() - index and MAC address of an interface of the stack
 * @stack:	the stack
 * @ifname:	interface name
 * @info:	filled in
 *
 * Return: 0, or -errno (-ENODEV: no such interface)
 */
int vds_ifinfo(struct vdestack *stack, const char *ifname, struct vds_ifinfo *info)
{
	struct ifreq ifr;
	int fd, ret = 0;

	if (!ifname || strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	fd = vde_msocket(stack, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, ifname);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
		ret = -errno;
		goto out;
	}
	info->index = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		ret = -errno;
		goto out;
	}
	memcpy(info->mac, ifr.ifr_hwaddr.sa_data, 6);
out:
	close(fd);
	return ret;
}

/* send the request in buf and read until its ack; 0 or the kernel's -errno */
static int transact(int nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[8192] __attribute__((aligned(4)));
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t n;
	int ret;

	if (send(nl, nlh, nlh->nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		n = recv(nl, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		ret = mnl_cb_run(buf, n, seq, 0, cb, data);
		if (ret <= MNL_CB_STOP)
			return ret < 0 ? -errno : 0;
	}
}

static struct nlmsghdr *start(char *buf, int type, int flags)
{
	static uint32_t seqs;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = __atomic_add_fetch(&seqs, 1, __ATOMIC_RELAXED) ^ (uint32_t)time(NULL);
	return nlh;
}

/**
 * vds_rtnl_link_up() - set an interface up
 * @nl:		NETLINK_ROUTE socket of the stack
 * @ifindex:	the interface
 *
 * Return: 0, or -errno from the kernel
 */
int vds_rtnl_link_up(int nl, int ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(4)));
	struct nlmsghdr *nlh = start(buf, RTM_NEWLINK, NLM_F_ACK);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));

	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	ifm->ifi_flags = IFF_UP;
	ifm->ifi_change = IFF_UP;
	return transact(nl, nlh, NULL, NULL);
}

/**
 * vds_rtnl_addr() - add (replace) or delete an address
 * @nl:		NETLINK_ROUTE socket of the stack
 * @add:	1 add or update, 0 delete
 * @family:	AF_INET or AF_INET6
 * @ifindex:	the interface
 * @addr:	struct in_addr / struct in6_addr
 * @plen:	prefix length
 * @brd:	IPv4 broadcast address or NULL
 * @valid_s:	lifetime in seconds (the kernel removes it then), 0: forever
 *
 * Return: 0, or -errno from the kernel
 */
int vds_rtnl_addr(int nl, int add, int family, int ifindex, const void *addr,
		  int plen, const void *brd, unsigned int valid_s)
{
	char buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(4)));
	struct nlmsghdr *nlh = start(buf, add ? RTM_NEWADDR : RTM_DELADDR,
				     NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0));
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	size_t alen = family == AF_INET ? 4 : 16;

	ifa->ifa_family = family;
	ifa->ifa_prefixlen = plen;
	ifa->ifa_index = ifindex;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	mnl_attr_put(nlh, IFA_LOCAL, alen, addr);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, addr);
	if (brd && family == AF_INET)
		mnl_attr_put(nlh, IFA_BROADCAST, alen, brd);
	if (add && valid_s) {
		struct ifa_cacheinfo ci = { .ifa_prefered = valid_s, .ifa_valid = valid_s };

		mnl_attr_put(nlh, IFA_CACHEINFO, sizeof(ci), &ci);
	}
	return transact(nl, nlh, NULL, NULL);
}

/**
 * vds_rtnl_route() - add (replace) or delete a route in the main table
 * @nl:		NETLINK_ROUTE socket of the stack
 * @add:	1 add or replace, 0 delete
 * @family:	AF_INET or AF_INET6
 * @ifindex:	output interface
 * @dst:	destination prefix, NULL with @dlen 0 for the default route
 * @dlen:	destination prefix length
 * @gw:		gateway or NULL
 *
 * Return: 0, or -errno from the kernel
 */
int vds_rtnl_route(int nl, int add, int family, int ifindex, const void *dst,
		   int dlen, const void *gw)
{
	char buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(4)));
	struct nlmsghdr *nlh = start(buf, add ? RTM_NEWROUTE : RTM_DELROUTE,
				     NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0));
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	size_t alen = family == AF_INET ? 4 : 16;

	rtm->rtm_family = family;
	rtm->rtm_dst_len = dlen;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_DHCP;
	rtm->rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	if (dst && dlen)
		mnl_attr_put(nlh, RTA_DST, alen, dst);
	if (gw)
		mnl_attr_put(nlh, RTA_GATEWAY, alen, gw);
	mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
	return transact(nl, nlh, NULL, NULL);
}

struct g6 {
	int ifindex;
	int scope;
	const struct in6_addr *want;
	int found;
	struct in6_addr addr;
};

static int g6_attr(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type == IFA_ADDRESS && mnl_attr_get_payload_len(attr) == 16)
		tb[IFA_ADDRESS] = attr;
	if (type == IFA_FLAGS && mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
		tb[IFA_FLAGS] = attr;
	return MNL_CB_OK;
}

static int g6_msg(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[IFA_MAX + 1] = { NULL };
	struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct g6 *g = data;
	uint32_t flags;

	if (nlh->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != AF_INET6 ||
	    (int)ifa->ifa_index != g->ifindex || ifa->ifa_scope != g->scope)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifa), g6_attr, tb);
	flags = tb[IFA_FLAGS] ? mnl_attr_get_u32(tb[IFA_FLAGS]) : ifa->ifa_flags;
	/* an address still in duplicate address detection cannot be used yet */
	if (!tb[IFA_ADDRESS] || (flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)))
		return MNL_CB_OK;
	if (g->want && memcmp(g->want, mnl_attr_get_payload(tb[IFA_ADDRESS]), 16))
		return MNL_CB_OK;
	if (!g->found)
		memcpy(&g->addr, mnl_attr_get_payload(tb[IFA_ADDRESS]), 16);
	g->found = 1;
	return MNL_CB_OK;
}

/**
 * vds_rtnl_addr6() - a usable IPv6 address of an interface
 * @nl:		NETLINK_ROUTE socket of the stack
 * @ifindex:	the interface
 * @scope:	RT_SCOPE_UNIVERSE (global) or RT_SCOPE_LINK
 * @want:	only this address, or NULL: any
 * @out:	the first one found, or NULL
 *
 * Tentative addresses (duplicate address detection still running) and
 * those that failed it do not count.
 *
 * Return: 1 found, 0 none (yet), -errno
 */
int vds_rtnl_addr6(int nl, int ifindex, int scope, const struct in6_addr *want,
		   struct in6_addr *out)
{
	char buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(4)));
	struct nlmsghdr *nlh = start(buf, RTM_GETADDR, NLM_F_DUMP);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	struct g6 g = { .ifindex = ifindex, .scope = scope, .want = want };
	int ret;

	ifa->ifa_family = AF_INET6;
	ret = transact(nl, nlh, g6_msg, &g);
	if (ret < 0)
		return ret;
	if (g.found && out)
		*out = g.addr;
	return g.found;
}
