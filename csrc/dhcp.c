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
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "vdestack.h"
#include "netinfo.h"
#include "nistate.h"
#include "nlconf.h"
#include "dhcp.h"

#define NO_LEASE_END	0xffffffffu

/* -------------------------------------------------------------- client --- */

enum { ST_BOUND, ST_LOST };

struct dhcp4 {
	struct vds_ni_client c;		/* first: nistate lists it */
	struct vdestack *stack;
	int ifindex;
	unsigned char mac[6];
	char fqdn[256];
	int sock, nl, evfd;
	pthread_t thread;
	int has_thread;
	struct vds_lease4 lease;	/* under the nistate lock once listed */
	int bound;			/* lease holds an applied address */
	int64_t acked;			/* monotonic ms of the last ACK */
	int64_t started;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t new_xid(void)
{
	uint32_t x;

	if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != sizeof(x))
		x = (uint32_t)now_ms() * 2654435761u ^ (uint32_t)getpid();
	return x;
}

static int open_socket(struct dhcp4 *d)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(68) };
	int one = 1, fd;

	fd = vde_msocket(d->stack, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, d->c.ifname,
		       strlen(d->c.ifname)) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	d->sock = fd;
	return 0;
}

static int send_msg(struct dhcp4 *d, struct vds_dhcp4_req *req, struct in_addr to)
{
	uint8_t buf[VDS_DHCP4_MAXMSG];
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(67),
				   .sin_addr = to };
	int n;

	memcpy(req->mac, d->mac, 6);
	req->fqdn = d->fqdn[0] ? d->fqdn : NULL;
	req->secs = (now_ms() - d->started) / 1000 > 0xffff ? 0xffff :
		    (now_ms() - d->started) / 1000;
	n = vds_dhcp4_build(buf, sizeof(buf), req);
	if (n < 0)
		return n;
	if (sendto(d->sock, buf, n, 0, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return -errno;
	return 0;
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
	struct pollfd pfd[2] = { { .fd = d->sock, .events = POLLIN },
				 { .fd = d->evfd, .events = POLLIN } };
	uint8_t buf[1500];
	int64_t next = 0, interval = 1000, now;
	ssize_t n;
	int ret, wait;

	req->xid = new_xid();
	for (;;) {
		now = now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		if (now >= next) {
			ret = send_msg(d, req, to);
			/* a transient send error is retried like a lost packet */
			if (ret < 0 && ret != -ENETUNREACH && ret != -ENOBUFS &&
			    ret != -EAGAIN && ret != -EHOSTUNREACH)
				return ret;
			next = now + interval;
			if (interval < 8000)
				interval *= 2;
		}
		wait = (next < deadline ? next : deadline) - now;
		ret = poll(pfd, 2, wait);
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (ret <= 0)
			continue;
		if (pfd[1].revents)
			return -ECANCELED;
		while ((n = recv(d->sock, buf, sizeof(buf), 0)) >= 0) {
			if (vds_dhcp4_parse(buf, n, req->xid, d->mac, m) == 0 &&
			    (want & (1u << m->type)))
				return 0;
		}
	}
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

	memcpy(l.ifname, d->c.ifname, IFNAMSIZ);
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

	if (d->bound && d->lease.addr.s_addr != l.addr.s_addr)
		vds_nl_addr(d->nl, 0, d->ifindex, AF_INET, &d->lease.addr, d->lease.plen);
	ret = vds_nl_addr_brd(d->nl, VDS_NL_ADD | VDS_NL_REPLACE, d->ifindex, AF_INET,
			      &l.addr, l.plen, &brd);
	if (ret < 0)
		return ret;
	/* the first router that the kernel accepts as a gateway */
	for (i = 0; i < l.nrouters; i++)
		if (vds_nl_route(d->nl, VDS_NL_ADD | VDS_NL_REPLACE | VDS_NL_DHCP, AF_INET,
				 NULL, 0, &l.routers[i], d->ifindex) == 0)
			break;

	vds_ni_lock();
	l.renewals = d->lease.renewals + (d->bound ? 1 : 0);
	d->lease = l;
	d->bound = 1;
	d->c.ndns = 0;
	for (i = 0; i < l.ndns && i < VDS_NI_MAXDNS; i++) {
		d->c.dns[i].family = AF_INET;
		d->c.dns[i].u.v4 = l.dns[i];
		d->c.ndns++;
	}
	strcpy(d->c.domain, l.domain);
	vds_ni_unlock();
	d->acked = now_ms();
	return 0;
}

/* the lease expired or was refused: address and route gone, DNS forgotten */
static void drop(struct dhcp4 *d)
{
	if (!d->bound)
		return;
	vds_nl_addr(d->nl, 0, d->ifindex, AF_INET, &d->lease.addr, d->lease.plen);
	vds_ni_lock();
	d->bound = 0;
	d->c.ndns = 0;
	d->c.domain[0] = 0;
	vds_ni_unlock();
}

static const struct in_addr bcast = { .s_addr = INADDR_BROADCAST };

/* DISCOVER .. ACK until deadline; 0 once a lease is applied */
static int acquire(struct dhcp4 *d, int64_t deadline)
{
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

/* wait until the monotonic ms time t; -ECANCELED when told to stop */
static int sleep_until(struct dhcp4 *d, int64_t t)
{
	struct pollfd pfd = { .fd = d->evfd, .events = POLLIN };
	int64_t now;

	while ((now = now_ms()) < t) {
		int wait = t - now > 3600000 ? 3600000 : t - now;

		if (poll(&pfd, 1, wait) > 0)
			return -ECANCELED;
	}
	return 0;
}

/* renew (unicast) until T2, then rebind (broadcast) until the lease ends */
static int renew(struct dhcp4 *d)
{
	struct vds_dhcp4_msg ack;
	struct vds_dhcp4_req req;
	int64_t t2 = d->acked + (int64_t)d->lease.t2 * 1000;
	int64_t end = d->acked + (int64_t)d->lease.lease * 1000;
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

static void *renewal_thread(void *arg)
{
	struct dhcp4 *d = arg;
	int ret;

	for (;;) {
		if (d->bound) {
			if (d->lease.lease == NO_LEASE_END)
				return NULL;	/* nothing to renew, ever */
			if (sleep_until(d, d->acked + (int64_t)d->lease.t1 * 1000) < 0)
				return NULL;
			ret = renew(d);
			if (ret == -ECANCELED)
				return NULL;
			if (ret < 0)
				drop(d);
			continue;
		}
		/* lease lost: start over, for as long as the stack lives */
		ret = acquire(d, INT64_MAX);
		if (ret == -ECANCELED)
			return NULL;
		if (ret < 0 && sleep_until(d, now_ms() + 10000) < 0)
			return NULL;
	}
}

static void dhcp4_free(struct dhcp4 *d)
{
	if (d->sock >= 0)
		close(d->sock);
	if (d->nl >= 0)
		close(d->nl);
	if (d->evfd >= 0)
		close(d->evfd);
	free(d);
}

/* nistate's stop: end the thread, release the lease, free */
static void dhcp4_stop(struct vds_ni_client *c, int owner)
{
	struct dhcp4 *d = (struct dhcp4 *)c;
	struct vds_dhcp4_req req = { .type = VDS_DHCPRELEASE };
	uint64_t one = 1;

	if (!owner) {
		dhcp4_free(d);		/* a forked child's copy */
		return;
	}
	if (d->has_thread) {
		if (write(d->evfd, &one, sizeof(one)) < 0)
			pthread_cancel(d->thread);	/* cannot happen */
		pthread_join(d->thread, NULL);
	}
	if (d->bound) {
		req.xid = new_xid();
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
	dhcp4_free(d);
}

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
	struct dhcp4 *d;
	int ret;

	if (!stack || !ifname || strlen(ifname) >= IFNAMSIZ ||
	    (fqdn && strlen(fqdn) >= sizeof(d->fqdn)))
		return -EINVAL;
	if (fqdn && *fqdn) {
		uint8_t tmp[256];

		if (vds_dns_name_encode(tmp, sizeof(tmp), fqdn) < 0)
			return -EINVAL;
	}
	/* a client already running there releases its lease first */
	vds_ni_stop(stack, ifname, 4);
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->sock = d->nl = d->evfd = -1;
	d->stack = stack;
	d->c.kind = 4;
	d->c.stop = dhcp4_stop;
	strcpy(d->c.ifname, ifname);
	if (fqdn)
		strcpy(d->fqdn, fqdn);
	d->started = now_ms();
	d->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->evfd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = vds_nl_open(stack);
	if (ret < 0)
		goto fail;
	d->nl = ret;
	ret = vds_nl_ifinfo(d->nl, ifname, d->mac);
	if (ret < 0)
		goto fail;
	d->ifindex = ret;
	ret = vds_nl_link_set(d->nl, d->ifindex, 1, 0, NULL);
	if (ret < 0)
		goto fail;
	ret = open_socket(d);
	if (ret < 0)
		goto fail;
	ret = acquire(d, d->started + (timeout_ms > 0 ? timeout_ms : 10000));
	if (ret < 0)
		goto fail;
	ret = -pthread_create(&d->thread, NULL, renewal_thread, d);
	if (ret < 0)
		goto fail;
	d->has_thread = 1;
	ret = vds_ni_attach(stack, &d->c);
	if (ret < 0) {
		dhcp4_stop(&d->c, 1);
		return ret;
	}
	return 0;
fail:
	dhcp4_free(d);
	return ret == -ECANCELED ? -EINTR : ret;
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
	if (d && d->bound) {
		*out = d->lease;
		ret = 0;
	}
	vds_ni_unlock();
	return ret;
}
