/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dhcpcore.h - what the DHCPv4 and DHCPv6 clients share: the interface and
 * sockets of a client, the exchange of a request and its answer with
 * retransmission, the thread that renews a lease, and stopping.  The
 * protocols (dhcp.c, dhcp6.c) give their messages and lease rules as ops.
 */
#ifndef VDS_DHCPCORE_H
#define VDS_DHCPCORE_H

#include <stdint.h>
#include <pthread.h>
#include <sys/socket.h>

#include "nistate.h"

struct vds_dhcpc;

/**
 * struct vds_dhcpc_ops - what a protocol does
 * @acquire:	get a lease until deadline (monotonic ms); 0 once applied
 * @renew:	renew and rebind a bound lease; 0 once applied again
 * @renew_at:	monotonic ms when a bound lease is to be renewed, -1: never
 * @drop:	the lease is lost: remove the address it applied (dhcpcore
 *		then forgets its DNS servers)
 * @release:	tell the server the bound lease is given back
 */
struct vds_dhcpc_ops {
	int (*acquire)(struct vds_dhcpc *k, int64_t deadline);
	int (*renew)(struct vds_dhcpc *k);
	int64_t (*renew_at)(struct vds_dhcpc *k);
	void (*drop)(struct vds_dhcpc *k);
	void (*release)(struct vds_dhcpc *k);
};

/**
 * struct vds_dhcpc - a DHCP client of an interface (first member of the
 * protocol's client, as the nistate entry is first here)
 * @c:		the nistate entry (DNS servers, domain)
 * @ops:	the protocol
 * @stack:	the stack
 * @ifindex, @mac:	the interface
 * @fqdn:	name sent to the server, "" none
 * @sock:	the UDP socket, @nl: NETLINK_ROUTE, @evfd: eventfd that stops
 * @thread, @has_thread:	the renewal thread
 * @bound:	a lease is applied
 * @acked:	monotonic ms of the last answer that granted it
 */
struct vds_dhcpc {
	struct vds_ni_client c;
	const struct vds_dhcpc_ops *ops;
	struct vdestack *stack;
	int ifindex;
	unsigned char mac[6];
	char fqdn[256];
	int sock, nl, evfd;
	pthread_t thread;
	int has_thread;
	int bound;
	int64_t acked;
};

/* a socket option for vds_dhcpc_socket() */
struct vds_dhcpc_opt {
	int level, name;
	const void *val;
	socklen_t len;
};

/* send the request (again); began: monotonic ms of the first send */
typedef int (*vds_dhcpc_send_fn)(struct vds_dhcpc *k, void *ctx, int64_t began);
/* 1 when the datagram is the awaited answer (parsed into ctx), else 0 */
typedef int (*vds_dhcpc_match_fn)(struct vds_dhcpc *k, void *ctx, const void *buf,
				  size_t len);

int64_t vds_dhcpc_now_ms(void);
uint32_t vds_dhcpc_xid(void);
int vds_dhcpc_new(size_t size, struct vdestack *stack, const char *ifname, const char *fqdn,
		  int kind, const struct vds_dhcpc_ops *ops, struct vds_dhcpc **out);
int vds_dhcpc_socket(struct vds_dhcpc *k, const struct sockaddr *sa, socklen_t salen,
		     const struct vds_dhcpc_opt *opts, int nopts);
int vds_dhcpc_send(struct vds_dhcpc *k, const void *buf, int len, const struct sockaddr *to,
		   socklen_t tolen);
int vds_dhcpc_exchange(struct vds_dhcpc *k, int64_t deadline, vds_dhcpc_send_fn send,
		       vds_dhcpc_match_fn match, void *ctx);
int vds_dhcpc_finish(struct vds_dhcpc *k, int ret);

#endif /* VDS_DHCPCORE_H */
