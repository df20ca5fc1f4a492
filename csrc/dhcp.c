// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * dhcp.c - a compact DHCPv4 client for a stack (RFC 2131, options RFC 2132,
 * client FQDN RFC 4702).
 *
 * Everything goes over one UDP socket made in the stack, bound to port 68
 * on the interface (SO_BINDTODEVICE).  Before the client has an address it
 * sends to 255.255.255.255 from 0.0.0.0 (the kernel allows that on a bound
 * device) and sets the BROADCAST flag, so the server's answers come back
 * as broadcasts that the socket receives: no packet socket is needed.
 *
 * vds_dhcp4_start() runs DISCOVER/OFFER/REQUEST/ACK in the caller's thread
 * and applies the lease over rtnetlink (address, default route, DNS into
 * the stack's resolver state); a thread then renews at T1 (unicast to the
 * server), rebinds at T2 (broadcast), drops the lease when it expires and
 * starts over.  vds_netinfo_release() wakes it through an eventfd, joins
 * it and sends DHCPRELEASE.  The messages are built and parsed by
 * dhcpmsg.c, which needs no stack.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "vdestack.h"
#include "netinfo.h"
#include "nistate.h"
#include "nlconf.h"
#include "dhcp.h"
#include "dhcpcore.h"

#define NO_LEASE_END	0xffffffffu

/* -------------------------------------------------------------- client --- */

enum { ST_BOUND, ST_LOST };

struct dhcp4 {
	struct vds_dhcpc k;		/* first: dhcpcore and nistate list it */
	struct vds_lease4 lease;	/* under the nistate lock once listed */
	int64_t started;
};

static int open_socket(struct dhcp4 *d)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(68) };
	static const int one = 1;
	const struct vds_dhcpc_opt opt = { SOL_SOCKET, SO_BROADCAST, &one, sizeof(one) };

	return vds_dhcpc_socket(&d->k, (struct sockaddr *)&sin, sizeof(sin), &opt, 1);
}

static int send_msg(struct dhcp4 *d, struct vds_dhcp4_req *req, struct in_addr to)
{
	uint8_t buf[VDS_DHCP4_MAXMSG];
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(67),
				   .sin_addr = to };
	int n;

	memcpy(req->mac, d->k.mac, 6);
	req->fqdn = d->k.fqdn[0] ? d->k.fqdn : NULL;
	req->secs = (vds_dhcpc_now_ms() - d->started) / 1000 > 0xffff ? 0xffff :
		    (vds_dhcpc_now_ms() - d->started) / 1000;
	n = vds_dhcp4_build(buf, sizeof(buf), req);
	return vds_dhcpc_send(&d->k, buf, n, (struct sockaddr *)&sin, sizeof(sin));
}

struct xchg {
	struct vds_dhcp4_req *req;
	struct in_addr to;
	unsigned int want;
	struct vds_dhcp4_msg *m;
};

static int xchg_send(struct vds_dhcpc *k, void *ctx, int64_t began)
{
	struct xchg *x = ctx;

	(void)began;		/* secs counts from the client's start */
	return send_msg((struct dhcp4 *)k, x->req, x->to);
}

static int xchg_match(struct vds_dhcpc *k, void *ctx, const void *buf, size_t len)
{
	struct xchg *x = ctx;

	return vds_dhcp4_parse(buf, len, x->req->xid, k->mac, x->m) == 0 &&
	       (x->want & (1u << x->m->type));
}

/*
 * Send req to `to` and wait for an answer of one of the types in want
 * (a bit mask of 1 << type), retransmitting with growing intervals, until
 * deadline (monotonic ms).  Return: 0 (answer in *m), -ETIMEDOUT, -ECANCELED
 * (woken to stop), -errno.
 */
static int exchange(struct dhcp4 *d, struct vds_dhcp4_req *req, struct in_addr to,
		    unsigned int want, int64_t deadline, struct vds_dhcp4_msg *m)
{
	struct xchg x = { .req = req, .to = to, .want = want, .m = m };

	req->xid = vds_dhcpc_xid();
	return vds_dhcpc_exchange(&d->k, deadline, xchg_send, xchg_match, &x);
}

static int mask_plen(struct in_addr mask)
{
	uint32_t m = ntohl(mask.s_addr);
	int n = 0;

	while (m & 0x80000000u) {
		n++;
		m <<= 1;
	}
	return m ? -1 : n;	/* not contiguous */
}

/* the lease in m applied to the interface and recorded */
static int apply(struct dhcp4 *d, const struct vds_dhcp4_msg *m)
{
	struct vds_lease4 l = { 0 };
	struct in_addr brd;
	int ret, i;

	memcpy(l.ifname, d->k.c.ifname, IFNAMSIZ);
	l.addr = m->yiaddr;
	l.mask = m->mask;
	l.plen = m->mask.s_addr ? mask_plen(m->mask) : -1;
	if (l.plen < 0 || l.plen > 32) {
		/* no usable mask: the class default */
		uint32_t a = ntohl(l.addr.s_addr);

		l.plen = a < 0x80000000u ? 8 : a < 0xc0000000u ? 16 : 24;
	}
	l.mask.s_addr = l.plen ? htonl(~0u << (32 - l.plen)) : 0;
	l.server = m->server;
	memcpy(l.routers, m->routers, sizeof(l.routers));
	l.nrouters = m->nrouters;
	memcpy(l.dns, m->dns, sizeof(l.dns));
	l.ndns = m->ndns;
	strcpy(l.domain, m->domain);
	l.lease = m->lease ? m->lease : 3600;
	l.t1 = m->t1 ? m->t1 : l.lease / 2;
	l.t2 = m->t2 ? m->t2 : l.lease - l.lease / 8;
	if (l.t2 > l.lease)
		l.t2 = l.lease;
	if (l.t1 > l.t2)
		l.t1 = l.t2;
	l.obtained = time(NULL);
	brd.s_addr = m->broadcast.s_addr ? m->broadcast.s_addr :
		     (l.addr.s_addr | ~l.mask.s_addr);

	if (d->k.bound && d->lease.addr.s_addr != l.addr.s_addr)
		vds_nl_addr(d->k.nl, 0, d->k.ifindex, AF_INET, &d->lease.addr, d->lease.plen);
	ret = vds_nl_addr_brd(d->k.nl, VDS_NL_ADD | VDS_NL_REPLACE, d->k.ifindex, AF_INET,
			      &l.addr, l.plen, &brd);
	if (ret < 0)
		return ret;
	/* the first router that the kernel accepts as a gateway */
	for (i = 0; i < l.nrouters; i++)
		if (vds_nl_route(d->k.nl, VDS_NL_ADD | VDS_NL_REPLACE | VDS_NL_DHCP, AF_INET,
				 NULL, 0, &l.routers[i], d->k.ifindex) == 0)
			break;

	vds_ni_lock();
	l.renewals = d->lease.renewals + (d->k.bound ? 1 : 0);
	d->lease = l;
	d->k.bound = 1;
	d->k.c.ndns = 0;
	for (i = 0; i < l.ndns && i < VDS_NI_MAXDNS; i++) {
		d->k.c.dns[i].family = AF_INET;
		d->k.c.dns[i].u.v4 = l.dns[i];
		d->k.c.ndns++;
	}
	strcpy(d->k.c.domain, l.domain);
	vds_ni_unlock();
	d->k.acked = vds_dhcpc_now_ms();
	return 0;
}

/* the lease expired or was refused: address and route gone, DNS forgotten */
static void drop(struct vds_dhcpc *k)
{
	struct dhcp4 *d = (struct dhcp4 *)k;

	vds_nl_addr(k->nl, 0, k->ifindex, AF_INET, &d->lease.addr, d->lease.plen);
}

static const struct in_addr bcast = { .s_addr = INADDR_BROADCAST };

/* DISCOVER .. ACK until deadline; 0 once a lease is applied */
static int acquire(struct vds_dhcpc *k, int64_t deadline)
{
	struct dhcp4 *d = (struct dhcp4 *)k;
	struct vds_dhcp4_msg offer, ack;
	struct vds_dhcp4_req req;
	int ret;

	for (;;) {
		memset(&req, 0, sizeof(req));
		req.type = VDS_DHCPDISCOVER;
		req.broadcast = 1;
		ret = exchange(d, &req, bcast, 1u << VDS_DHCPOFFER, deadline, &offer);
		if (ret < 0)
			return ret;
		if (!offer.yiaddr.s_addr || !offer.server.s_addr)
			continue;
		memset(&req, 0, sizeof(req));
		req.type = VDS_DHCPREQUEST;
		req.broadcast = 1;
		req.reqip = offer.yiaddr;
		req.server = offer.server;
		ret = exchange(d, &req, bcast, 1u << VDS_DHCPACK | 1u << VDS_DHCPNAK,
			       deadline, &ack);
		if (ret < 0)
			return ret;
		if (ack.type == VDS_DHCPNAK || !ack.yiaddr.s_addr)
			continue;
		if (!ack.server.s_addr)
			ack.server = offer.server;
		return apply(d, &ack);
	}
}

/* renew (unicast) until T2, then rebind (broadcast) until the lease ends */
static int renew(struct vds_dhcpc *k)
{
	struct dhcp4 *d = (struct dhcp4 *)k;
	struct vds_dhcp4_msg ack;
	struct vds_dhcp4_req req;
	int64_t t2 = d->k.acked + (int64_t)d->lease.t2 * 1000;
	int64_t end = d->k.acked + (int64_t)d->lease.lease * 1000;
	int ret, rebinding;

	for (rebinding = 0; rebinding < 2; rebinding++) {
		memset(&req, 0, sizeof(req));
		req.type = VDS_DHCPREQUEST;
		req.ciaddr = d->lease.addr;
		ret = exchange(d, &req, rebinding ? bcast : d->lease.server,
			       1u << VDS_DHCPACK | 1u << VDS_DHCPNAK,
			       rebinding ? end : t2, &ack);
		if (ret == -ETIMEDOUT)
			continue;
		if (ret < 0)
			return ret;
		if (ack.type == VDS_DHCPNAK)
			return -EACCES;
		if (!ack.yiaddr.s_addr)
			ack.yiaddr = d->lease.addr;
		if (!ack.server.s_addr)
			ack.server = d->lease.server;
		return apply(d, &ack);
	}
	return -ETIMEDOUT;
}

static int64_t renew_at(struct vds_dhcpc *k)
{
	struct dhcp4 *d = (struct dhcp4 *)k;

	if (d->lease.lease == NO_LEASE_END)
		return -1;
	return k->acked + (int64_t)d->lease.t1 * 1000;
}

static void release(struct vds_dhcpc *k)
{
	struct dhcp4 *d = (struct dhcp4 *)k;
	struct vds_dhcp4_req req = { .type = VDS_DHCPRELEASE };

	req.xid = vds_dhcpc_xid();
	req.ciaddr = d->lease.addr;
	req.server = d->lease.server;
	send_msg(d, &req, d->lease.server);
	/*
	 * The unicast waits for the server's MAC when the neighbour
	 * entry is gone, and the stack is about to be deleted: the
	 * same RELEASE broadcast needs no resolution (a server drops
	 * the copy it gets second: the lease is no longer bound).
	 */
	send_msg(d, &req, bcast);
}

static const struct vds_dhcpc_ops dhcp4_ops = {
	.acquire = acquire,
	.renew = renew,
	.renew_at = renew_at,
	.drop = drop,
	.release = release,
};

/**
 * vds_dhcp4_start() - get a DHCPv4 lease for an interface of a stack
 * @stack:	the stack
 * @ifname:	the interface (brought up)
 * @fqdn:	name sent to the server (options 12 and 81), or NULL
 * @timeout_ms:	how long to try; <= 0: 10 seconds
 *
 * On success the address, the default route and the DNS servers are
 * applied and a thread keeps the lease (renewal, rebinding) until the
 * stack is deleted, which releases it.
 *
 * Return: 0, -ETIMEDOUT (no server answered in time), -ENODEV (no such
 * interface), -EINVAL (bad fqdn), or another -errno
 */
int vds_dhcp4_start(struct vdestack *stack, const char *ifname, const char *fqdn,
		    int timeout_ms)
{
	struct vds_dhcpc *k;
	struct dhcp4 *d;
	int ret;

	ret = vds_dhcpc_new(sizeof(*d), stack, ifname, fqdn, 4, &dhcp4_ops, &k);
	if (ret < 0)
		return ret;
	d = (struct dhcp4 *)k;
	d->started = vds_dhcpc_now_ms();
	ret = open_socket(d);
	if (ret == 0)
		ret = acquire(k, d->started + (timeout_ms > 0 ? timeout_ms : 10000));
	return vds_dhcpc_finish(k, ret);
}

/**
 * vds_dhcp4_lease() - a copy of the lease a stack's interface holds
 * @stack:	the stack
 * @ifname:	the interface, NULL: the first with a DHCPv4 client
 * @out:	filled in
 *
 * Return: 0, or -ENOENT (no DHCPv4 client, or its lease was lost)
 */
int vds_dhcp4_lease(struct vdestack *stack, const char *ifname, struct vds_lease4 *out)
{
	struct dhcp4 *d;
	int ret = -ENOENT;

	vds_ni_lock();
	d = (struct dhcp4 *)vds_ni_find(stack, ifname, 4);
	if (d && d->k.bound) {
		*out = d->lease;
		ret = 0;
	}
	vds_ni_unlock();
	return ret;
}
