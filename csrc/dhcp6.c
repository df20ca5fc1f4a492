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
 * thread and sends RELEASE.
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
#include "rtnl.h"
#include "dhcp.h"
#include "dhcp6.h"

#define OPT_CLIENTID	1
#define OPT_SERVERID	2
#define OPT_IA_NA	3
#define OPT_IAADDR	5
#define OPT_ORO		6
#define OPT_PREFERENCE	7
#define OPT_ELAPSED	8
#define OPT_STATUS	13
#define OPT_DNS		23
#define OPT_DOMAINS	24
#define OPT_FQDN	39

/* ------------------------------------------------------------ messages --- */

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
	return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
	return p + 4;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* an option header + data, if it fits */
static uint8_t *opt(uint8_t *p, uint8_t *end, int code, const void *data, size_t len)
{
	if (!p || len > 0xffff || (size_t)(end - p) < 4 + len)
		return NULL;
	p = put16(p, code);
	p = put16(p, len);
	if (len)
		memcpy(p, data, len);
	return p + len;
}

/**
 * vds_dhcp6_build() - a client message
 * @buf:	output buffer
 * @size:	its size (512 is plenty)
 * @req:	what to send
 *
 * Return: the message length, or -EINVAL (does not fit, bad name)
 */
int vds_dhcp6_build(uint8_t *buf, size_t size, const struct vds_dhcp6_req *req)
{
	uint8_t *p = buf, *end = buf + size, ia[12 + 4 + 24], tmp[260], *q;
	static const uint8_t oro[] = { 0, OPT_DNS, 0, OPT_DOMAINS };
	int n;

	if (size < 4)
		return -EINVAL;
	*p++ = req->type;
	*p++ = req->xid >> 16;
	*p++ = req->xid >> 8;
	*p++ = req->xid;
	p = opt(p, end, OPT_CLIENTID, req->duid, req->duidlen);
	if (req->server && req->serverlen)
		p = opt(p, end, OPT_SERVERID, req->server, req->serverlen);
	/* IA_NA: IAID, T1 = T2 = 0 (the server chooses), our address if any */
	q = put32(ia, req->iaid);
	q = put32(q, 0);
	q = put32(q, 0);
	if (req->addr) {
		q = put16(q, OPT_IAADDR);
		q = put16(q, 24);
		memcpy(q, req->addr, 16);
		q = put32(q + 16, 0);
		q = put32(q, 0);
	}
	p = opt(p, end, OPT_IA_NA, ia, q - ia);
	if (req->type != VDS_DH6_RELEASE) {
		put16(tmp, req->elapsed);
		p = opt(p, end, OPT_ELAPSED, tmp, 2);
		p = opt(p, end, OPT_ORO, oro, sizeof(oro));
		if (req->fqdn && *req->fqdn) {
			tmp[0] = 0x01;		/* S: the server updates AAAA */
			n = vds_dns_name_encode(tmp + 1, sizeof(tmp) - 1, req->fqdn);
			if (n < 0)
				return -EINVAL;
			p = opt(p, end, OPT_FQDN, tmp, n + 1);
		}
	} else {
		put16(tmp, 0);
		p = opt(p, end, OPT_ELAPSED, tmp, 2);
	}
	if (!p)
		return -EINVAL;
	return p - buf;
}

/**
 * vds_dns_name_decode() - the first name of a DNS wire-format name list
 * @in:		the encoded names (no compression, as DHCPv6 uses)
 * @len:	their length
 * @out:	"name.example" (no final dot)
 * @outlen:	size of @out
 *
 * Only names of letters, digits, '-' and '_' are accepted.
 *
 * Return: bytes of @in used, or -EBADMSG
 */
int vds_dns_name_decode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	size_t pos = 0, o = 0, l, i;

	if (outlen == 0)
		return -EBADMSG;
	for (;;) {
		if (pos >= len)
			return -EBADMSG;
		l = in[pos++];
		if (l == 0)
			break;
		if (l > 63 || l > len - pos || o + l + 2 > outlen || o + l + 1 > 253)
			return -EBADMSG;
		if (o)
			out[o++] = '.';
		for (i = 0; i < l; i++) {
			uint8_t c = in[pos + i];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '-' || c == '_'))
				return -EBADMSG;
			out[o++] = c;
		}
		pos += l;
	}
	if (o == 0)
		return -EBADMSG;
	out[o] = 0;
	return pos;
}

static int status_of(const uint8_t *v, size_t len)
{
	return len >= 2 ? get16(v) : 0;
}

/* the options of our IA_NA (after IAID, T1, T2) */
static void parse_ia(const uint8_t *p, const uint8_t *end, struct vds_dhcp6_msg *m)
{
	uint16_t code, len;
	const uint8_t *v;

	while (end - p >= 4) {
		code = get16(p);
		len = get16(p + 2);
		v = p + 4;
		if (len > end - v)
			return;
		p = v + len;
		if (code == OPT_STATUS && status_of(v, len))
			m->status = status_of(v, len);
		if (code == OPT_IAADDR && len >= 24 && !m->has_addr) {
			uint32_t valid = get32(v + 20);
			const uint8_t *sub = v + 24, *send = v + len;

			/* a status inside the address (e.g. NoAddrsAvail) */
			while (send - sub >= 4) {
				uint16_t sl = get16(sub + 2);

				if (sl > send - sub - 4)
					break;
				if (get16(sub) == OPT_STATUS && status_of(sub + 4, sl))
					m->status = status_of(sub + 4, sl);
				sub += 4 + sl;
			}
			if (valid == 0)
				continue;
			memcpy(&m->addr, v, 16);
			m->preferred = get32(v + 16);
			m->valid = valid;
			m->has_addr = 1;
		}
	}
}

/**
 * vds_dhcp6_parse() - check and read a server's message
 * @buf, @len:	the UDP payload
 * @xid:	the transaction it must answer
 * @duid, @duidlen:	our client identifier, which it must carry
 * @iaid:	our IA_NA
 * @m:		filled in
 *
 * Every option is bounds-checked against the message (and sub-options
 * against their option).
 *
 * Return: 0, or -EBADMSG (malformed, or not ADVERTISE/REPLY), -ESRCH (not
 * ours: transaction or client id)
 */
int vds_dhcp6_parse(const void *buf, size_t len, uint32_t xid, const uint8_t *duid,
		    size_t duidlen, uint32_t iaid, struct vds_dhcp6_msg *m)
{
	const uint8_t *b = buf, *p, *end = b + len, *v;
	uint16_t code, olen;
	int ours = 0;
	size_t i;

	memset(m, 0, sizeof(*m));
	if (len < 4)
		return -EBADMSG;
	m->type = b[0];
	if (m->type != VDS_DH6_ADVERTISE && m->type != VDS_DH6_REPLY)
		return -EBADMSG;
	if (((uint32_t)b[1] << 16 | b[2] << 8 | b[3]) != (xid & 0xffffff))
		return -ESRCH;
	for (p = b + 4; p < end; p = v + olen) {
		if (end - p < 4)
			return -EBADMSG;
		code = get16(p);
		olen = get16(p + 2);
		v = p + 4;
		if (olen > end - v)
			return -EBADMSG;
		switch (code) {
		case OPT_CLIENTID:
			ours = olen == duidlen && !memcmp(v, duid, duidlen);
			break;
		case OPT_SERVERID:
			if (olen > 0 && olen <= VDS_DHCP6_MAXDUID) {
				memcpy(m->server, v, olen);
				m->serverlen = olen;
			}
			break;
		case OPT_PREFERENCE:
			if (olen == 1)
				m->preference = v[0];
			break;
		case OPT_STATUS:
			if (status_of(v, olen))
				m->status = status_of(v, olen);
			break;
		case OPT_IA_NA:
			if (olen >= 12 && get32(v) == iaid) {
				m->t1 = get32(v + 4);
				m->t2 = get32(v + 8);
				parse_ia(v + 12, v + olen, m);
			}
			break;
		case OPT_DNS:
			for (i = 0; i + 16 <= olen && m->ndns < VDS_DHCP6_MAXDNS; i += 16)
				memcpy(&m->dns[m->ndns++], v + i, 16);
			break;
		case OPT_DOMAINS:
			if (vds_dns_name_decode(v, olen, m->domain, sizeof(m->domain)) < 0)
				m->domain[0] = 0;
			break;
		}
	}
	if (!ours)
		return -ESRCH;
	if (!m->serverlen)
		return -EBADMSG;
	return 0;
}

/* -------------------------------------------------------------- client --- */

struct dhcp6 {
	struct vds_ni_client c;		/* first: nistate lists it */
	struct vdestack *stack;
	struct vds_ifinfo ifi;
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
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &d->ifi.index,
		       sizeof(d->ifi.index)) < 0 ||
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
				   .sin6_scope_id = d->ifi.index };
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
		vds_rtnl_addr(d->nl, 0, AF_INET6, d->ifi.index, &d->addr, 64, NULL, 0);
	ret = vds_rtnl_addr(d->nl, 1, AF_INET6, d->ifi.index, &m->addr, 64, NULL, 0);
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
	vds_rtnl_addr(d->nl, 0, AF_INET6, d->ifi.index, &d->addr, 64, NULL, 0);
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
	int ret;

	while ((ret = vds_rtnl_addr6(d->nl, d->ifi.index, scope, want, NULL)) == 0) {
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(20000);
	}
	return ret < 0 ? ret : 0;
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
	ret = vds_ifinfo(stack, ifname, &d->ifi);
	if (ret < 0)
		goto fail;
	/* DUID-LL (type 3, Ethernet) from the MAC; the IAID from it too */
	d->duid[1] = 3;
	d->duid[3] = 1;
	memcpy(d->duid + 4, d->ifi.mac, 6);
	memcpy(&d->iaid, d->ifi.mac + 2, 4);
	ret = vds_rtnl_open(stack);
	if (ret < 0)
		goto fail;
	d->nl = ret;
	ret = vds_rtnl_link_up(d->nl, d->ifi.index);
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
