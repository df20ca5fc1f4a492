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
#include <linux/rtnetlink.h>

#include "vdestack.h"
#include "netinfo.h"
#include "nistate.h"
#include "nlconf.h"
#include "dhcp.h"
#include "dhcp6.h"

/* -------------------------------------------------------------- client --- */

struct dhcp6 {
	struct vds_ni_client c;		/* first: nistate lists it */
	struct vdestack *stack;
	int ifindex;
	unsigned char mac[6];
	char fqdn[256];
	uint8_t duid[10];
	uint32_t iaid;
	int sock, nl, evfd;
	pthread_t thread;
	int has_thread;
	int bound;
	struct in6_addr addr;
	uint8_t server[VDS_DHCP6_MAXDUID];
	size_t serverlen;
	uint32_t t1, t2, valid;
	int64_t acked;			/* monotonic ms of the last REPLY */
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
	return x & 0xffffff;
}

static int open_socket(struct dhcp6 *d)
{
	struct sockaddr_in6 sin = { .sin6_family = AF_INET6, .sin6_port = htons(546) };
	int one = 1, fd;

	fd = vde_msocket(d->stack, AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, d->c.ifname,
		       strlen(d->c.ifname)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &d->ifindex,
		       sizeof(d->ifindex)) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	d->sock = fd;
	return 0;
}

static int send_msg(struct dhcp6 *d, struct vds_dhcp6_req *req, int64_t began)
{
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_port = htons(547),
				   .sin6_scope_id = d->ifindex };
	uint8_t buf[600];
	int64_t cs = (now_ms() - began) / 10;
	int n;

	inet_pton(AF_INET6, "ff02::1:2", &to.sin6_addr);
	req->duid = d->duid;
	req->duidlen = sizeof(d->duid);
	req->iaid = d->iaid;
	req->fqdn = d->fqdn[0] ? d->fqdn : NULL;
	req->elapsed = cs > 0xffff ? 0xffff : cs;
	n = vds_dhcp6_build(buf, sizeof(buf), req);
	if (n < 0)
		return n;
	if (sendto(d->sock, buf, n, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
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
	struct pollfd pfd[2] = { { .fd = d->sock, .events = POLLIN },
				 { .fd = d->evfd, .events = POLLIN } };
	int64_t began = now_ms(), next = 0, interval = 1000, now;
	uint8_t buf[1500];
	ssize_t n;
	int ret, wait;

	req->xid = new_xid();
	for (;;) {
		now = now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		if (now >= next) {
			ret = send_msg(d, req, began);
			if (ret < 0 && ret != -ENETUNREACH && ret != -EADDRNOTAVAIL &&
			    ret != -ENOBUFS && ret != -EAGAIN)
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
		while ((n = recv(d->sock, buf, sizeof(buf), 0)) >= 0)
			if (vds_dhcp6_parse(buf, n, req->xid, d->duid, sizeof(d->duid),
					    d->iaid, m) == 0 && m->type == want)
				return 0;
	}
}

static int apply(struct dhcp6 *d, const struct vds_dhcp6_msg *m)
{
	int ret, i;

	if (d->bound && memcmp(&d->addr, &m->addr, 16))
		vds_nl_addr(d->nl, 0, d->ifindex, AF_INET6, &d->addr, 64);
	/* with duplicate address detection: wait_dad() waits for its end */
	ret = vds_nl_addr(d->nl, VDS_NL_ADD | VDS_NL_REPLACE | VDS_NL_DAD, d->ifindex,
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
	d->bound = 1;
	if (m->ndns) {
		d->c.ndns = 0;
		for (i = 0; i < m->ndns && i < VDS_NI_MAXDNS; i++) {
			d->c.dns[i].family = AF_INET6;
			d->c.dns[i].u.v6 = m->dns[i];
			d->c.ndns++;
		}
	}
	if (m->domain[0])
		strcpy(d->c.domain, m->domain);
	vds_ni_unlock();
	d->acked = now_ms();
	return 0;
}

static void drop(struct dhcp6 *d)
{
	if (!d->bound)
		return;
	vds_nl_addr(d->nl, 0, d->ifindex, AF_INET6, &d->addr, 64);
	vds_ni_lock();
	d->bound = 0;
	d->c.ndns = 0;
	d->c.domain[0] = 0;
	vds_ni_unlock();
}

static int acquire(struct dhcp6 *d, int64_t deadline)
{
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

static int sleep_until(struct dhcp6 *d, int64_t t)
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

static int renew(struct dhcp6 *d)
{
	struct vds_dhcp6_msg rep;
	struct vds_dhcp6_req req;
	int64_t t2 = d->acked + (int64_t)d->t2 * 1000;
	int64_t end = d->acked + (int64_t)d->valid * 1000;
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

static void *renewal_thread(void *arg)
{
	struct dhcp6 *d = arg;
	int ret;

	for (;;) {
		if (d->bound) {
			if (d->valid == 0xffffffffu || d->t1 == 0xffffffffu)
				return NULL;
			if (sleep_until(d, d->acked + (int64_t)d->t1 * 1000) < 0)
				return NULL;
			ret = renew(d);
			if (ret == -ECANCELED)
				return NULL;
			if (ret < 0)
				drop(d);
			continue;
		}
		ret = acquire(d, INT64_MAX);
		if (ret == -ECANCELED)
			return NULL;
		if (ret < 0 && sleep_until(d, now_ms() + 10000) < 0)
			return NULL;
	}
}

static void dhcp6_free(struct dhcp6 *d)
{
	if (d->sock >= 0)
		close(d->sock);
	if (d->nl >= 0)
		close(d->nl);
	if (d->evfd >= 0)
		close(d->evfd);
	free(d);
}

static void dhcp6_stop(struct vds_ni_client *c, int owner)
{
	struct dhcp6 *d = (struct dhcp6 *)c;
	struct vds_dhcp6_req req = { .type = VDS_DH6_RELEASE };
	uint64_t one = 1;

	if (!owner) {
		dhcp6_free(d);
		return;
	}
	if (d->has_thread) {
		if (write(d->evfd, &one, sizeof(one)) < 0)
			pthread_cancel(d->thread);
		pthread_join(d->thread, NULL);
	}
	if (d->bound) {
		req.xid = new_xid();
		req.server = d->server;
		req.serverlen = d->serverlen;
		req.addr = &d->addr;
		send_msg(d, &req, now_ms());
	}
	dhcp6_free(d);
}

/*
 * wait until an address of the interface has passed duplicate address
 * detection: the link-local one (want NULL), before it can talk to a
 * server, or the leased one, before a connection can use it
 */
static int wait_dad(struct dhcp6 *d, int scope, const struct in6_addr *want,
		    int64_t deadline)
{
	return vds_nl_addr6_wait(d->nl, d->ifindex, scope, want, (int)(deadline - now_ms()));
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
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 10000);
	struct dhcp6 *d;
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
	vds_ni_stop(stack, ifname, 6);
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->sock = d->nl = d->evfd = -1;
	d->stack = stack;
	d->c.kind = 6;
	d->c.stop = dhcp6_stop;
	strcpy(d->c.ifname, ifname);
	if (fqdn)
		strcpy(d->fqdn, fqdn);
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
	/* DUID-LL (type 3, Ethernet) from the MAC; the IAID from it too */
	d->duid[1] = 3;
	d->duid[3] = 1;
	memcpy(d->duid + 4, d->mac, 6);
	memcpy(&d->iaid, d->mac + 2, 4);
	ret = vds_nl_link_set(d->nl, d->ifindex, 1, 0, NULL);
	if (ret < 0)
		goto fail;
	ret = wait_dad(d, RT_SCOPE_LINK, NULL, deadline);
	if (ret < 0)
		goto fail;
	ret = open_socket(d);
	if (ret < 0)
		goto fail;
	ret = acquire(d, deadline);
	if (ret < 0)
		goto fail;
	ret = wait_dad(d, RT_SCOPE_UNIVERSE, &d->addr, deadline + 3000);
	if (ret < 0)
		goto fail;
	ret = -pthread_create(&d->thread, NULL, renewal_thread, d);
	if (ret < 0)
		goto fail;
	d->has_thread = 1;
	ret = vds_ni_attach(stack, &d->c);
	if (ret < 0) {
		dhcp6_stop(&d->c, 1);
		return ret;
	}
	return 0;
fail:
	dhcp6_free(d);
	return ret == -ECANCELED ? -EINTR : ret;
}
