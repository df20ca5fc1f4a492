/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nlconf.h - rtnetlink configuration of a stack (libmnl over a NETLINK_ROUTE
 * socket made in the stack).  Every call returns >= 0 or -errno; an error
 * the kernel reported (NLMSG_ERROR) is returned as is.
 */
#ifndef NLCONF_H
#define NLCONF_H

#include <netinet/in.h>

#include "vdestack.h"

/* flags of vds_nl_addr() and vds_nl_route() */
#define VDS_NL_ADD	1	/* add (else delete) */
#define VDS_NL_REPLACE	2	/* with VDS_NL_ADD: replace what exists */
#define VDS_NL_DAD	4	/* IPv6 address: run duplicate address detection */
#define VDS_NL_DHCP	8	/* route: protocol "dhcp" (learnt from a server) */

int vds_nl_open(struct vdestack *stack);
int vds_nl_ifindex(int nl, const char *ifname);
int vds_nl_ifinfo(int nl, const char *ifname, unsigned char *mac);
int vds_nl_link_set(int nl, int ifindex, int up, unsigned int mtu,
		    const unsigned char *mac);
int vds_nl_addr(int nl, int flags, int ifindex, int family, const void *addr,
		unsigned int prefixlen);
int vds_nl_addr_brd(int nl, int flags, int ifindex, int family, const void *addr,
		    unsigned int prefixlen, const void *brd);
int vds_nl_route(int nl, int flags, int family, const void *dst, unsigned int dst_len,
		 const void *gateway, int oif);
int vds_nl_links(int nl, struct vdestack_link **links);
int vds_nl_addrs(int nl, struct vdestack_addr **addrs);
int vds_nl_routes(int nl, struct vdestack_route **routes);
int vds_nl_addr6_wait(int nl, int ifindex, int scope, const struct in6_addr *want,
		      int timeout_ms);

#endif /* NLCONF_H */
