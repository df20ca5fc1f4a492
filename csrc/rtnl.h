/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rtnl.h - the few rtnetlink requests that DHCP and SLAAC need, on a
 * NETLINK_ROUTE socket made in the stack (libmnl builds the messages).
 */
#ifndef VDS_RTNL_H
#define VDS_RTNL_H

#include <netinet/in.h>

struct vdestack;

/**
 * struct vds_ifinfo - what a client needs to know about its interface
 * @index:	interface index in the stack
 * @mac:	its hardware address
 */
struct vds_ifinfo {
	int index;
	unsigned char mac[6];
};

int vds_rtnl_open(struct vdestack *stack);
int vds_ifinfo(struct vdestack *stack, const char *ifname, struct vds_ifinfo *info);
int vds_rtnl_link_up(int nl, int ifindex);
int vds_rtnl_addr(int nl, int add, int family, int ifindex, const void *addr,
		  int plen, const void *brd, unsigned int valid_s);
int vds_rtnl_route(int nl, int add, int family, int ifindex, const void *dst,
		   int dlen, const void *gw);
int vds_rtnl_addr6(int nl, int ifindex, int scope, const struct in6_addr *want,
		   struct in6_addr *out);

#endif /* VDS_RTNL_H */
