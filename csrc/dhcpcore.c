// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * dhcpcore.c - the part of a DHCP client that does not depend on the
 * protocol version: interface and sockets, request/answer exchange with
 * retransmission (1, 2, 4, 8, 8... seconds), the renewal thread (renew at
 * T1, drop the lease when renewing fails, start over every 10 seconds while
 * none is got) and the stop that nistate calls when the stack goes.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/random.h>

#include "vdestack.h"
#include "nlconf.h"
#include "dhcp.h"
#include "dhcpcore.h"

/**
 * vds_dhcpc_now_ms() - monotonic time
 *
 * Return: CLOCK_MONOTONIC in milliseconds
 */
int64_t vds_dhcpc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/**
 * vds_dhcpc_xid() - a random transaction id
 *
 * Return: 32 random bits (from the clock and pid if getrandom fails)
 */
uint32_t vds_dhcpc_xid(void)
{
	uint32_t x;

	if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != sizeof(x))
		x = (uint32_t)vds_dhcpc_now_ms() * 2654435761u ^ (uint32_t)getpid();
	return x;
}

/* are these an interface name and an FQDN to send? 0 or -EINVAL */
static int check(const char *ifname, const char *fqdn)
{
	uint8_t tmp[256];

	if (!ifname || strlen(ifname) >= IFNAMSIZ || (fqdn && strlen(fqdn) >= 256))
		return -EINVAL;
	if (fqdn && *fqdn && vds_dns_name_encode(tmp, sizeof(tmp), fqdn) < 0)
		return -EINVAL;
	return 0;
}

static void dhcpc_stop(struct vds_ni_client *c, int owner);
static void dhcpc_free(struct vds_dhcpc *k);

/* eventfd, rtnetlink socket, the interface's index and MAC, the interface up */
static int init(struct vds_dhcpc *k, struct vdestack *stack, const char *ifname,
		   const char *fqdn, int kind, const struct vds_dhcpc_ops *ops)
{
	int ret;

	k->sock = k->nl = k->evfd = -1;
	k->stack = stack;
	k->ops = ops;
	k->c.kind = kind;
	k->c.stop = dhcpc_stop;
	strcpy(k->c.ifname, ifname);
	if (fqdn)
		strcpy(k->fqdn, fqdn);
	k->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (k->evfd < 0)
		return -errno;
	ret = vds_nl_open(stack);
	if (ret < 0)
		return ret;
	k->nl = ret;
	ret = vds_nl_ifinfo(k->nl, ifname, k->mac);
	if (ret < 0)
		return ret;
	k->ifindex = ret;
	return vds_nl_link_set(k->nl, k->ifindex, 1, 0, NULL);
}

/**
 * vds_dhcpc_new() - a new client of an interface, set up (eventfd,
 * rtnetlink socket, the interface's index and MAC, the interface up); a
 * client of that kind already running there is stopped first
 * @size:	size of the protocol's client, which begins with the core's
 * @stack:	the stack
 * @ifname:	the interface
 * @fqdn:	name to send, or NULL
 * @kind:	4 or 6 (the nistate kind)
 * @ops:	the protocol
 * @out:	the client (zeroed beyond the core's part)
 *
 * Return: 0, -EINVAL (bad name), -ENODEV (no such interface), -errno
 */
int vds_dhcpc_new(size_t size, struct vdestack *stack, const char *ifname, const char *fqdn,
		  int kind, const struct vds_dhcpc_ops *ops, struct vds_dhcpc **out)
{
	struct vds_dhcpc *k;
	int ret;

	if (!stack)
		return -EINVAL;
	ret = check(ifname, fqdn);
	if (ret < 0)
		return ret;
	/* a client already running there releases its lease first */
	vds_ni_stop(stack, ifname, kind);
	k = calloc(1, size);
	if (!k)
		return -ENOMEM;
	ret = init(k, stack, ifname, fqdn, kind, ops);
	if (ret < 0) {
		dhcpc_free(k);
		return ret;
	}
	*out = k;
	return 0;
}

/**
 * vds_dhcpc_socket() - the client's UDP socket, on its interface
 * @k:		the client
 * @sa, @salen:	the address to bind (the client port)
 * @opts, @nopts:	socket options besides SO_REUSEADDR and SO_BINDTODEVICE
 *
 * Return: 0 (the socket in k->sock, non-blocking), or -errno
 */
int vds_dhcpc_socket(struct vds_dhcpc *k, const struct sockaddr *sa, socklen_t salen,
		     const struct vds_dhcpc_opt *opts, int nopts)
{
	int one = 1, fd, i, e;

	fd = vde_msocket(k->stack, sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, k->c.ifname,
		       strlen(k->c.ifname)) < 0)
		goto fail;
	for (i = 0; i < nopts; i++)
		if (setsockopt(fd, opts[i].level, opts[i].name, opts[i].val, opts[i].len) < 0)
			goto fail;
	if (bind(fd, sa, salen) < 0)
		goto fail;
	k->sock = fd;
	return 0;
fail:
	e = -errno;
	close(fd);
	return e;
}

/**
 * vds_dhcpc_send() - send a message the protocol built
 * @k:		the client
 * @buf:	the message
 * @len:	its length, or the -errno its building failed with
 * @to, @tolen:	the server or multicast group
 *
 * Return: 0, or -errno
 */
int vds_dhcpc_send(struct vds_dhcpc *k, const void *buf, int len, const struct sockaddr *to,
		   socklen_t tolen)
{
	if (len < 0)
		return len;
	if (sendto(k->sock, buf, len, 0, to, tolen) < 0)
		return -errno;
	return 0;
}

/**
 * vds_dhcpc_exchange() - send a request and wait for its answer,
 * retransmitting with growing intervals
 * @k:		the client
 * @deadline:	monotonic ms
 * @send:	sends the request
 * @match:	recognizes (and keeps) the answer
 * @ctx:	for @send and @match
 *
 * A transient send error (no route or address yet, full buffers) is
 * retried like a lost packet.
 *
 * Return: 0 (the answer matched), -ETIMEDOUT, -ECANCELED (woken to stop),
 * or -errno
 */
int vds_dhcpc_exchange(struct vds_dhcpc *k, int64_t deadline, vds_dhcpc_send_fn send,
		       vds_dhcpc_match_fn match, void *ctx)
{
	struct pollfd pfd[2] = { { .fd = k->sock, .events = POLLIN },
				 { .fd = k->evfd, .events = POLLIN } };
	int64_t began = vds_dhcpc_now_ms(), next = 0, interval = 1000, now;
	uint8_t buf[1500];
	ssize_t n;
	int ret, wait;

	for (;;) {
		now = vds_dhcpc_now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		if (now >= next) {
			ret = send(k, ctx, began);
			if (ret < 0 && ret != -ENETUNREACH && ret != -EHOSTUNREACH &&
			    ret != -EADDRNOTAVAIL && ret != -ENOBUFS && ret != -EAGAIN)
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
		while ((n = recv(k->sock, buf, sizeof(buf), 0)) >= 0)
			if (match(k, ctx, buf, n))
				return 0;
	}
}

/* wait until the monotonic ms time t; -ECANCELED when told to stop */
static int sleep_until(struct vds_dhcpc *k, int64_t t)
{
	struct pollfd pfd = { .fd = k->evfd, .events = POLLIN };
	int64_t now;

	while ((now = vds_dhcpc_now_ms()) < t) {
		int wait = t - now > 3600000 ? 3600000 : t - now;

		if (poll(&pfd, 1, wait) > 0)
			return -ECANCELED;
	}
	return 0;
}

/* the lease expired or was refused: what it applied gone, DNS forgotten */
static void drop(struct vds_dhcpc *k)
{
	k->ops->drop(k);
	vds_ni_lock();
	k->bound = 0;
	k->c.ndns = 0;
	k->c.domain[0] = 0;
	vds_ni_unlock();
}

static void *renewal_thread(void *arg)
{
	struct vds_dhcpc *k = arg;
	int64_t at;
	int ret;

	for (;;) {
		if (k->bound) {
			at = k->ops->renew_at(k);
			if (at < 0)
				return NULL;	/* nothing to renew, ever */
			if (sleep_until(k, at) < 0)
				return NULL;
			ret = k->ops->renew(k);
			if (ret == -ECANCELED)
				return NULL;
			if (ret < 0)
				drop(k);
			continue;
		}
		/* lease lost: start over, for as long as the stack lives */
		ret = k->ops->acquire(k, INT64_MAX);
		if (ret == -ECANCELED)
			return NULL;
		if (ret < 0 && sleep_until(k, vds_dhcpc_now_ms() + 10000) < 0)
			return NULL;
	}
}

/* close the client's fds and free it (not listed, no thread) */
static void dhcpc_free(struct vds_dhcpc *k)
{
	if (k->sock >= 0)
		close(k->sock);
	if (k->nl >= 0)
		close(k->nl);
	if (k->evfd >= 0)
		close(k->evfd);
	free(k);
}

/* nistate's stop: end the thread, release the lease, free */
static void dhcpc_stop(struct vds_ni_client *c, int owner)
{
	struct vds_dhcpc *k = (struct vds_dhcpc *)c;
	uint64_t one = 1;

	if (!owner) {
		dhcpc_free(k);	/* a forked child's copy */
		return;
	}
	if (k->has_thread) {
		if (write(k->evfd, &one, sizeof(one)) < 0)
			pthread_cancel(k->thread);	/* cannot happen */
		pthread_join(k->thread, NULL);
	}
	if (k->bound)
		k->ops->release(k);
	dhcpc_free(k);
}

/**
 * vds_dhcpc_finish() - end a client's start: when it got its lease
 * (@ret 0) it keeps it from now on (renewal thread started, client listed
 * in the stack's nistate), else it is freed
 * @k:		the client
 * @ret:	0, or the -errno its start failed with
 *
 * Return: 0, or -errno (-EINTR when the start was cancelled; @k is then
 * stopped and freed)
 */
int vds_dhcpc_finish(struct vds_dhcpc *k, int ret)
{
	if (ret == 0)
		ret = -pthread_create(&k->thread, NULL, renewal_thread, k);
	if (ret < 0) {
		dhcpc_free(k);
		return ret == -ECANCELED ? -EINTR : ret;
	}
	k->has_thread = 1;
	ret = vds_ni_attach(k->stack, &k->c);
	if (ret < 0)
		dhcpc_stop(&k->c, 1);
	return ret;
}
