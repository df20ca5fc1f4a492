/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nistate.h - per-stack network information: the static DNS configuration
 * and the clients (DHCPv4, DHCPv6) running for a stack, keyed by the stack
 * handle, under one lock.  vds_netinfo_release() stops the clients and
 * forgets the rest.
 */
#ifndef VDS_NISTATE_H
#define VDS_NISTATE_H

#include <net/if.h>
#include <netinet/in.h>

struct vdestack;

#define VDS_NI_MAXDNS	8	/* DNS servers kept per source */
#define VDS_NI_DOMAIN	256	/* a domain name and its NUL */

/* an IPv4 or IPv6 address */
struct vds_ip {
	int family;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} u;
};

/**
 * struct vds_ni_client - a client that runs for a stack (embedded first
 * in the DHCP clients' own state)
 * @next:	next client of the same stack
 * @ifname:	its interface
 * @kind:	4 (DHCPv4) or 6 (DHCPv6)
 * @stop:	stops it (release, join its thread) and frees it; called
 *		without the lock held, once it is no longer listed; with
 *		@owner 0 in a forked child, where its thread does not exist:
 *		then it only closes and frees
 * @dns, @ndns, @domain:	what it learnt (under the lock)
 */
struct vds_ni_client {
	struct vds_ni_client *next;
	char ifname[IFNAMSIZ];
	int kind;
	void (*stop)(struct vds_ni_client *c, int owner);
	struct vds_ip dns[VDS_NI_MAXDNS];
	int ndns;
	char domain[VDS_NI_DOMAIN];
};

void vds_ni_lock(void);
void vds_ni_unlock(void);
int vds_ni_attach(struct vdestack *stack, struct vds_ni_client *c);
void vds_ni_stop(struct vdestack *stack, const char *ifname, int kind);
struct vds_ni_client *vds_ni_find(struct vdestack *stack, const char *ifname, int kind);
int vds_ni_dns(struct vdestack *stack, struct vds_ip *out, int max,
	       char *domain, size_t dlen);
int vds_ip_parse(const char *s, struct vds_ip *ip);

#endif /* VDS_NISTATE_H */
