// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * dhcp6.c - a compact DHCPv6 client for a stack (RFC 8415): one address
 * (IA_NA) and the DNS servers and domain (RFC 3646), client FQDN (RFC 4704).
 *
 * A UDP socket made in the stack, bound to [::]:546 on the interface, sends
 * to All_DHCP_Relay_Agents_and_Servers (ff02::1:2) from the interface's
 * link-local address, which must first pass duplicate address detection:
 * the client waits for it.  SOLICIT/ADVERTISE/REQUEST/REPLY run in the
 * caller's thread; the address is applied as a /64 (as iothconf does: DHCPv6
 * carries no prefix length, and a router's advertisement of the prefix
 * agrees with it); a thread renews at T1, rebinds at T2 and drops the
 * address when its valid lifetime ends; vds_netinfo_release() stops the
 * thread and sends RELEASE.  The messages are built and parsed by
 * dhcp6msg.c, which needs no stack.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/rtnetlink.h>

#include "vdestack.h"
#include "netinfo.h"
#include "nistate.h"
#include "nlconf.h"
#include "dhcp.h"
#include "dhcp6.h"
#include "dhcpcore.h"

/* -------------------------------------------------------------- client --- */

struct dhcp6 {
	struct vds_dhcpc k;		/* first: dhcpcore and nistate list it */
	uint8_t duid[10];
	uint32_t iaid;
	struct in6_addr addr;
	uint8_t server[VDS_DHCP6_MAXDUID];
	size_t serverlen;
	uint32_t t1, t2, valid;
};

/* a DHCPv6 transaction id has 24 bits */
static uint32_t new_xid(void)
{
	return vds_dhcpc_xid() & 0xffffff;
}

static int open_socket(struct dhcp6 *d)
{
	struct sockaddr_in6 sin = { .sin6_family = AF_INET6, .sin6_port = htons(546) };
	static const int one = 1;
	const struct vds_dhcpc_opt opts[] = {
		{ IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one) },
		{ IPPROTO_IPV6, IPV6_MULTICAST_IF, &d->k.ifindex, sizeof(d->k.ifindex) },
	};

	return vds_dhcpc_socket(&d->k, (struct sockaddr *)&sin, sizeof(sin), opts, 2);
}

static int send_msg(struct dhcp6 *d, struct vds_dhcp6_req *req, int64_t began)
{
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_port = htons(547),
				   .sin6_scope_id = d->k.ifindex };
	uint8_t buf[600];
	int64_t cs = (vds_dhcpc_now_ms() - began) / 10;
	int n;

	inet_pton(AF_INET6, "ff02::1:2", &to.sin6_addr);
	req->duid = d->duid;
	req->duidlen = sizeof(d->duid);
	req->iaid = d->iaid;
	req->fqdn = d->k.fqdn[0] ? d->k.fqdn : NULL;
	req->elapsed = cs > 0xffff ? 0xffff : cs;
	n = vds_dhcp6_build(buf, sizeof(buf), req);
	return vds_dhcpc_send(&d->k, buf, n, (struct sockaddr *)&to, sizeof(to));
}

struct xchg {
	struct vds_dhcp6_req *req;
	int want;
	struct vds_dhcp6_msg *m;
};

static int xchg_send(struct vds_dhcpc *k, void *ctx, int64_t began)
{
	return send_msg((struct dhcp6 *)k, ((struct xchg *)ctx)->req, began);
}

static int xchg_match(struct vds_dhcpc *k, void *ctx, const void *buf, size_t len)
{
	struct dhcp6 *d = (struct dhcp6 *)k;
	struct xchg *x = ctx;

	return vds_dhcp6_parse(buf, len, x->req->xid, d->duid, sizeof(d->duid),
			       d->iaid, x->m) == 0 && x->m->type == x->want;
}

/*
 * Send req and wait for a message of type want, retransmitting, until
 * deadline.  A SOLICIT takes the first ADVERTISE (or the one with
 * preference 255 at once, which is the same for a single server).
 * Return: 0, -ETIMEDOUT, -ECANCELED, -errno.
 */
static int exchange(struct dhcp6 *d, struct vds_dhcp6_req *req, int want,
		    int64_t deadline, struct vds_dhcp6_msg *m)
{
	struct xchg x = { .req = req, .want = want, .m = m };

	req->xid = new_xid();
	return vds_dhcpc_exchange(&d->k, deadline, xchg_send, xchg_match, &x);
}

static int apply(struct dhcp6 *d, const struct vds_dhcp6_msg *m)
{
	int ret, i;

	if (d->k.bound && memcmp(&d->addr, &m->addr, 16))
		vds_nl_addr(d->k.nl, 0, d->k.ifindex, AF_INET6, &d->addr, 64);
	/* with duplicate address detection: wait_dad() waits for its end */
	ret = vds_nl_addr(d->k.nl, VDS_NL_ADD | VDS_NL_REPLACE | VDS_NL_DAD, d->k.ifindex,
			  AF_INET6, &m->addr, 64);
	if (ret < 0)
		return ret;
	vds_ni_lock();
	d->addr = m->addr;
	memcpy(d->server, m->server, m->serverlen);
	d->serverlen = m->serverlen;
	d->valid = m->valid;
	d->t1 = m->t1 ? m->t1 : m->preferred / 2;
	d->t2 = m->t2 ? m->t2 : m->preferred - m->preferred / 5;
	if (d->t2 > d->valid)
		d->t2 = d->valid;
	if (d->t1 > d->t2)
		d->t1 = d->t2;
	d->k.bound = 1;
	if (m->ndns) {
		d->k.c.ndns = 0;
		for (i = 0; i < m->ndns && i < VDS_NI_MAXDNS; i++) {
			d->k.c.dns[i].family = AF_INET6;
			d->k.c.dns[i].u.v6 = m->dns[i];
			d->k.c.ndns++;
		}
	}
	if (m->domain[0])
		strcpy(d->k.c.domain, m->domain);
	vds_ni_unlock();
	d->k.acked = vds_dhcpc_now_ms();
	return 0;
}

static void drop(struct vds_dhcpc *k)
{
	struct dhcp6 *d = (struct dhcp6 *)k;

	vds_nl_addr(k->nl, 0, k->ifindex, AF_INET6, &d->addr, 64);
}

static int acquire(struct vds_dhcpc *k, int64_t deadline)
{
	struct dhcp6 *d = (struct dhcp6 *)k;
	struct vds_dhcp6_msg adv, rep;
	struct vds_dhcp6_req req;
	int ret;

	for (;;) {
		memset(&req, 0, sizeof(req));
		req.type = VDS_DH6_SOLICIT;
		ret = exchange(d, &req, VDS_DH6_ADVERTISE, deadline, &adv);
		if (ret < 0)
			return ret;
		if (!adv.has_addr || adv.status)
			continue;
		memset(&req, 0, sizeof(req));
		req.type = VDS_DH6_REQUEST;
		req.server = adv.server;
		req.serverlen = adv.serverlen;
		req.addr = &adv.addr;
		ret = exchange(d, &req, VDS_DH6_REPLY, deadline, &rep);
		if (ret < 0)
			return ret;
		if (!rep.has_addr || rep.status)
			continue;
		return apply(d, &rep);
	}
}

static int renew(struct vds_dhcpc *k)
{
	struct dhcp6 *d = (struct dhcp6 *)k;
	struct vds_dhcp6_msg rep;
	struct vds_dhcp6_req req;
	int64_t t2 = d->k.acked + (int64_t)d->t2 * 1000;
	int64_t end = d->k.acked + (int64_t)d->valid * 1000;
	int ret, rebinding;

	for (rebinding = 0; rebinding < 2; rebinding++) {
		memset(&req, 0, sizeof(req));
		req.type = rebinding ? VDS_DH6_REBIND : VDS_DH6_RENEW;
		if (!rebinding) {
			req.server = d->server;
			req.serverlen = d->serverlen;
		}
		req.addr = &d->addr;
		ret = exchange(d, &req, VDS_DH6_REPLY, rebinding ? end : t2, &rep);
		if (ret == -ETIMEDOUT)
			continue;
		if (ret < 0)
			return ret;
		if (!rep.has_addr || rep.status)
			return -EACCES;
		return apply(d, &rep);
	}
	return -ETIMEDOUT;
}

static int64_t renew_at(struct vds_dhcpc *k)
{
	struct dhcp6 *d = (struct dhcp6 *)k;

	if (d->valid == 0xffffffffu || d->t1 == 0xffffffffu)
		return -1;
	return k->acked + (int64_t)d->t1 * 1000;
}

static void release(struct vds_dhcpc *k)
{
	struct dhcp6 *d = (struct dhcp6 *)k;
	struct vds_dhcp6_req req = { .type = VDS_DH6_RELEASE };

	req.xid = new_xid();
	req.server = d->server;
	req.serverlen = d->serverlen;
	req.addr = &d->addr;
	send_msg(d, &req, vds_dhcpc_now_ms());
}

static const struct vds_dhcpc_ops dhcp6_ops = {
	.acquire = acquire,
	.renew = renew,
	.renew_at = renew_at,
	.drop = drop,
	.release = release,
};

/*
 * wait until an address of the interface has passed duplicate address
 * detection: the link-local one (want NULL), before it can talk to a
 * server, or the leased one, before a connection can use it
 */
static int wait_dad(struct dhcp6 *d, int scope, const struct in6_addr *want,
		    int64_t deadline)
{
	return vds_nl_addr6_wait(d->k.nl, d->k.ifindex, scope, want,
				 (int)(deadline - vds_dhcpc_now_ms()));
}

/**
 * vds_dhcp6_start() - get a DHCPv6 address and DNS servers for an interface
 * @stack:	the stack
 * @ifname:	the interface (brought up)
 * @fqdn:	name sent to the server (option 39), or NULL
 * @timeout_ms:	how long to try; <= 0: 10 seconds
 *
 * Return: 0 once the address is applied (a thread then renews it until the
 * stack is deleted, which releases it), -ETIMEDOUT, -ENODEV, -EINVAL, -errno
 */
int vds_dhcp6_start(struct vdestack *stack, const char *ifname, const char *fqdn,
		    int timeout_ms)
{
	int64_t deadline = vds_dhcpc_now_ms() + (timeout_ms > 0 ? timeout_ms : 10000);
	struct vds_dhcpc *k;
	struct dhcp6 *d;
	int ret;

	ret = vds_dhcpc_new(sizeof(*d), stack, ifname, fqdn, 6, &dhcp6_ops, &k);
	if (ret < 0)
		return ret;
	d = (struct dhcp6 *)k;
	/* DUID-LL (type 3, Ethernet) from the MAC; the IAID from it too */
	d->duid[1] = 3;
	d->duid[3] = 1;
	memcpy(d->duid + 4, d->k.mac, 6);
	memcpy(&d->iaid, d->k.mac + 2, 4);
	ret = wait_dad(d, RT_SCOPE_LINK, NULL, deadline);
	if (ret < 0)
		goto out;
	ret = open_socket(d);
	if (ret < 0)
		goto out;
	ret = acquire(k, deadline);
	if (ret < 0)
		goto out;
	ret = wait_dad(d, RT_SCOPE_UNIVERSE, &d->addr, deadline + 3000);
out:
	return vds_dhcpc_finish(k, ret);
}
