/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nlconf.h - rtnetlink configuration of a stack (libmnl over a NETLINK_ROUTE
 * socket made in the stack).  Every call returns >= 0 or -errno; an error
 * the kernel reported (NLMSG_ERROR) is returned as is.
 */
#ifndef NLCONF_H
#define NLCONF_H

#include "vdestack.h"

/* flags of vds_nl_addr() and vds_nl_route() */
#define VDS_NL_ADD	1	/* add (else delete) */
#define VDS_NL_REPLACE	2	/* with VDS_NL_ADD: replace what exists */

int vds_nl_open(struct vdestack *stack);
int vds_nl_ifindex(int nl, const char *ifname);
int vds_nl_link_set(int nl, int ifindex, int up, unsigned int mtu,
		    const unsigned char *mac);
int vds_nl_addr(int nl, int flags, int ifindex, int family, const void *addr,
		unsigned int prefixlen);
int vds_nl_route(int nl, int flags, int family, const void *dst, unsigned int dst_len,
		 const void *gateway, int oif);
int vds_nl_links(int nl, struct vdestack_link **links);
int vds_nl_addrs(int nl, struct vdestack_addr **addrs);
int vds_nl_routes(int nl, struct vdestack_route **routes);

#endif /* NLCONF_H */
