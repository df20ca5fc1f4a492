// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pump.c - frames between each stack's tap interface and its VDE network.
 *
 * A few threads (one per four cores, at most VDS_PUMPS_MAX) each serve many stacks
 * with one epoll set.  A ready fd is drained until it would block (up to a
 * budget, for fairness); the hot loop does a read and a write per frame and
 * nothing else.  VDE sockets are non-blocking, so one thread serving both
 * ends of a link cannot deadlock itself: a frame the peer cannot take now is
 * parked, its stack's tap is muted, and EPOLLOUT resumes it (backpressure
 * instead of loss).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "vds.h"

#define VDS_PUMPS_MAX	8
#define VDS_BUDGET	256	/* frames per fd per wake-up */
#define VDS_EVENTS	64
#define VDS_FLUSH_GRACE_MS 5	/* wait for a late FIN ... */
#define VDS_FLUSH_RECENT_MS 50	/* ... after traffic this recent */

/**
 * struct vds_pump - one pump thread
 * @ep:		its epoll set
 * @wake:	eventfd that makes it look at @queue or @stop
 * @queue:	stacks to unregister; their callers wait on @cond
 * @nstacks:	stacks served, to spread new ones
 */
struct vds_pump {
	pthread_t th;
	int ep;
	int wake;
	struct vds_ep ep_wake;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct vds_stack *queue;
	int stop;
	int nstacks;
	int running;
	struct vds_gro gro;
	int spin_ns;
};

static void ep_mod(struct vds_pump *p, int fd, uint32_t events, struct vds_ep *e)
{
	struct epoll_event ev = { .events = events, .data.ptr = e };

	epoll_ctl(p->ep, EPOLL_CTL_MOD, fd, &ev);
}

static void unregister(struct vds_pump *p, struct vds_stack *st)
{
	if (st->tap >= 0)
		epoll_ctl(p->ep, EPOLL_CTL_DEL, st->tap, NULL);
	if (st->kind == VDS_KIND_VDE) {
		if (st->datafd >= 0)
			epoll_ctl(p->ep, EPOLL_CTL_DEL, st->datafd, NULL);
		if (st->ctlfd >= 0 && st->ctlfd != st->datafd)
			epoll_ctl(p->ep, EPOLL_CTL_DEL, st->ctlfd, NULL);
	} else if (st->kind == VDS_KIND_STREAM) {
		epoll_ctl(p->ep, EPOLL_CTL_DEL, st->sfd, NULL);
	}
}

/* the VDE side went away: stop for good, and tell the stack (no carrier) */
static void hangup(struct vds_pump *p, struct vds_stack *st)
{
	int off = 0;

	if (st->hung)
		return;
	st->hung = 1;
	st->stats.hung_up = 1;
	unregister(p, st);
	if (st->tap >= 0)
		ioctl(st->tap, TUNSETCARRIER, &off);
}

/* a coarse clock (vDSO, no system call), for what happened lately */
static uint32_t vds_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* is this Ethernet-sized? (else dropped and counted) */
static int frame_ok(struct vds_stack *st, ssize_t n)
{
	if (n < VDS_ETH_HLEN) {
		st->stats.rx_runt++;
		return 0;
	}
	if (n > VDS_FRAME_MAX) {
		st->stats.rx_oversize++;
		return 0;
	}
	return 1;
}

/*
 * The one writer of the tap (GRO's callback): a packet and the virtio-net
 * header that describes it, in one write.  GRO counts the result.
 */
static int tap_write(void *opaque, const struct virtio_net_hdr *h,
		     const void *pkt, size_t len)
{
	struct vds_stack *st = opaque;
	struct iovec iov[2] = {
		{ (void *)h, sizeof(*h) },
		{ (void *)pkt, len },
	};

	return writev(st->tap, iov, 2) == (ssize_t)(sizeof(*h) + len) ? 0 : -errno;
}

/* what GRO wrote for st since the last call: into st's counters */
static void rx_counted(struct vds_pump *p, struct vds_stack *st)
{
	struct vds_ofcount *c = &p->gro.count;

	vds_gro_flush(&p->gro);
	st->stats.rx_frames += c->frames;
	st->stats.rx_bytes += c->bytes;
	st->stats.rx_dropped += c->dropped;
	*c = (struct vds_ofcount){ 0 };
}

static void tx_counted(struct vds_stack *st, const struct vds_ofcount *c)
{
	st->stats.tx_frames += c->frames;
	st->stats.tx_bytes += c->bytes;
	st->stats.tx_dropped += c->dropped;
}

/**
 * vds_stream_frame() - vdestream callback: one decoded frame
 * @opaque:	the stack (its pump thread runs vdestream_recv, from_stream())
 * @buf, @len:	the frame
 *
 * Return: @len
 */
ssize_t vds_stream_frame(void *opaque, void *buf, size_t len)
{
	struct vds_stack *st = opaque;

	if (frame_ok(st, len))
		vds_gro_push(&st->pump->gro, buf, len);
	return len;
}

/**
 * vds_stream_error() - vdestream callback: a length the framing rejects
 * @opaque:	the stack
 * @type:	PACKET_LENGTH_ERROR
 * @format:	its message (unused: a library does not log)
 */
void vds_stream_error(void *opaque, int type, char *format, ...)
{
	struct vds_stack *st = opaque;

	(void)type;
	(void)format;
	st->stats.rx_oversize++;
}

static int emit_vde(void *opaque, const void *f, size_t n)
{
	struct vds_stack *st = opaque;

	if (vde_send(st->conn, f, n, 0) >= 0)
		return 0;
	if ((errno == EAGAIN || errno == ENOBUFS) && st->data_drain)
		return -EAGAIN;
	return -errno;
}

static int emit_stream(void *opaque, const void *f, size_t n)
{
	struct vds_stack *st = opaque;

	if (vdestream_send(st->vs, f, n) >= 0)
		return 0;
	if (errno == EPIPE)
		st->stream_dead = 1;
	return -errno;
}

/* the VDE side is full: keep the rest of the job, mute the tap */
static void park(struct vds_pump *p, struct vds_stack *st, struct vds_txjob *j)
{
	if (!st->pend) {
		st->pend = malloc(VDS_TX_MAX);
		if (!st->pend) {
			st->stats.tx_dropped++;
			return;
		}
	}
	if (j != &st->job) {
		memmove(st->pend, j->pkt, vds_txjob_size(j));
		st->job = *j;
		st->job.pkt = st->pend;
	}
	st->blocked = 1;
	ep_mod(p, st->tap, 0, &st->ep_tap);
	ep_mod(p, st->datafd, EPOLLIN | EPOLLOUT, &st->ep_data);
}

static void unpark(struct vds_pump *p, struct vds_stack *st)
{
	struct vds_ofcount c = { 0 };
	int ret = vds_txjob_run(&st->job, emit_vde, st, &c);

	tx_counted(st, &c);
	if (ret == -EAGAIN)
		return;		/* still full: wait for the next EPOLLOUT */
	st->blocked = 0;
	ep_mod(p, st->datafd, EPOLLIN, &st->ep_data);
	ep_mod(p, st->tap, EPOLLIN, &st->ep_tap);
}

static void from_tap(struct vds_pump *p, struct vds_stack *st, unsigned char *buf)
{
	unsigned char *f = buf + VDS_VNET_HLEN;	/* after the virtio-net header */
	int stream = st->kind == VDS_KIND_STREAM, k;

	st->last_tx_ms = vds_now_ms();
	for (k = 0; k < VDS_BUDGET && !st->blocked; k++) {
		ssize_t n = read(st->tap, buf, VDS_VNET_HLEN + VDS_TX_MAX);
		struct vds_ofcount c = { 0 };
		struct virtio_net_hdr h;
		struct vds_txjob j;
		int ret;

		if (n <= VDS_VNET_HLEN) {
			if (n < 0 && errno == EINTR)
				continue;
			return;
		}
		memcpy(&h, buf, sizeof(h));
		if (vds_txjob_init(&j, f, n - VDS_VNET_HLEN, &h) < 0) {
			st->stats.tx_dropped++;
			continue;
		}
		ret = vds_txjob_run(&j, stream ? emit_stream : emit_vde, st, &c);
		tx_counted(st, &c);
		if (ret == -EAGAIN) {
			park(p, st, &j);
			return;
		}
		if (st->stream_dead) {
			hangup(p, st);
			return;
		}
	}
}

/* more to receive on a datafd that is not a plain socket (an epoll set)? */
static int more_ready(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN);
}

static void from_vde(struct vds_pump *p, struct vds_stack *st, unsigned char *buf)
{
	int k = 0;

	p->gro.opaque = st;
	/*
	 * A plain socket is drained until EAGAIN.  Plugins whose datafd is an
	 * epoll set of their own (switch, hub, vxvde) block in vde_recv when
	 * nothing is there, so each call is preceded by a look at the set:
	 * either way the VDE side gets the same budget as the tap.
	 */
	do {
		ssize_t n = vde_recv(st->conn, buf, VDS_BUF_SIZE, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (st->data_drain)
				break;	/* EAGAIN: drained; other errors: next event */
			continue;
		}
		if (n == 0) {
			/* a datagram of 0 bytes is no end of stream */
			if (st->data_drain && !st->data_dgram) {
				rx_counted(p, st);
				hangup(p, st);
				return;
			}
			continue;
		}
		if (frame_ok(st, n))
			vds_gro_push(&p->gro, buf, n);
	} while (++k < VDS_BUDGET && (st->data_drain || more_ready(st->datafd)));
	rx_counted(p, st);
}

static void from_stream(struct vds_pump *p, struct vds_stack *st, unsigned char *buf)
{
	int k;

	/* vdestream_recv() hands the frames to vds_stream_frame() */
	p->gro.opaque = st;
	for (k = 0; k < VDS_BUDGET; k++) {
		ssize_t n = recv(st->sfd, buf, VDS_BUF_SIZE, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			rx_counted(p, st);
			hangup(p, st);
			return;
		}
		vdestream_recv(st->vs, buf, n);
	}
	rx_counted(p, st);
}

static void data_event(struct vds_pump *p, struct vds_stack *st, uint32_t ev,
		       unsigned char *buf)
{
	if ((ev & EPOLLOUT) && st->blocked)
		unpark(p, st);
	if (ev & EPOLLIN)
		from_vde(p, st, buf);
	if (st->hung)
		return;
	if (ev & EPOLLHUP) {
		hangup(p, st);
	} else if (ev & EPOLLERR) {
		/* a datagram socket's pending error (peer gone for now) */
		int e;
		socklen_t l = sizeof(e);

		if (!st->data_drain ||
		    getsockopt(st->datafd, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
			hangup(p, st);
	}
}

/* unregister what callers queued, and wake them */
static int drain_queue(struct vds_pump *p)
{
	uint64_t v;
	int stop;

	if (read(p->wake, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return 1;
	pthread_mutex_lock(&p->lock);
	while (p->queue) {
		struct vds_stack *st = p->queue;

		p->queue = st->cmd_next;
		if (!st->hung)
			unregister(p, st);
		st->cmd_done = 1;
	}
	stop = p->stop;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return stop;
}

static void *pump_main(void *arg)
{
	struct vds_pump *p = arg;
	struct epoll_event evs[VDS_EVENTS];
	unsigned char buf[VDS_VNET_HLEN + VDS_TX_MAX];
	int64_t busy = INT64_MIN / 2;	/* no work yet */

	for (;;) {
		int n = vds_epoll_spin(p->ep, evs, VDS_EVENTS, p->spin_ns, &busy), i, woken = 0;

		for (i = 0; i < n; i++) {
			struct vds_ep *e = evs[i].data.ptr;
			struct vds_stack *st = e->st;

			if (e->kind == VDS_EP_WAKE) {
				woken = 1;
				continue;
			}
			if (st->hung)
				continue;
			switch (e->kind) {
			case VDS_EP_TAP:
				from_tap(p, st, buf);
				break;
			case VDS_EP_DATA:
				data_event(p, st, evs[i].events, buf);
				break;
			case VDS_EP_CTL:
				hangup(p, st);
				break;
			case VDS_EP_STREAM:
				from_stream(p, st, buf);
				break;
			default:
				break;
			}
		}
		/* only now: events of this batch may still name a queued stack */
		if (woken && drain_queue(p))
			return NULL;
	}
}

/*
 * One thread serves both ends of a local link without a wake-up in between,
 * and with GRO one core moves more than a TCP stream of its own can use: a
 * thread per four cores (VDESTACK_PUMPS overrides).
 */
static int pump_count(void)
{
	const char *env = getenv("VDESTACK_PUMPS");
	long n = (sysconf(_SC_NPROCESSORS_ONLN) + 3) / 4;

	if (env && atoi(env) > 0)
		n = atoi(env);
	if (n < 1)
		n = 1;
	return n > VDS_PUMPS_MAX ? VDS_PUMPS_MAX : n;
}

/**
 * vds_spin_us() - how long to poll for an answer that is due soon
 *
 * A pump polls that long after work before it sleeps, a caller for the
 * helper's reply, the helper for the next request.  VDESTACK_BUSY_POLL_US,
 * else VDS_SPIN_US when the process may run on more than one CPU (on one,
 * polling only delays the thread the answer must come from).
 *
 * Return: microseconds, 0 for none.
 */
int vds_spin_us(void)
{
	const char *env = getenv("VDESTACK_BUSY_POLL_US");
	int us = VDS_SPIN_US;
	cpu_set_t cpus;

	if (env && *env)
		us = atoi(env);
	else if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && CPU_COUNT(&cpus) < 2)
		us = 0;

	return us < 0 ? 0 : us > 10000 ? 10000 : us;
}

static int pump_start(struct vds_pump *p, int spin_ns)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &p->ep_wake };
	pthread_attr_t attr;
	sigset_t all, old;
	int ret;

	p->gro.buf = malloc(VDS_GRO_MAX);
	p->gro.write = tap_write;
	if (!p->gro.buf)
		return -ENOMEM;
	p->spin_ns = spin_ns;
	p->ep = epoll_create1(EPOLL_CLOEXEC);
	p->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->ep < 0 || p->wake < 0 ||
	    epoll_ctl(p->ep, EPOLL_CTL_ADD, p->wake, &ev) < 0)
		return -errno;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	/* signals are the host's business: the thread blocks them all */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&p->th, &attr, pump_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (ret == 0)
		p->running = 1;
	return ret;
}

/**
 * vds_pumps_start() - prepare the pump threads of a context
 * @ctx:	context
 *
 * Threads start with the stacks that need them: none for loopback-only
 * stacks, one more per stack with an interface up to one per core.
 *
 * Return: 0 or -errno
 */
int vds_pumps_start(struct vds_ctx *ctx)
{
	int n = pump_count(), i;

	ctx->pumps = calloc(n, sizeof(*ctx->pumps));
	if (!ctx->pumps)
		return -ENOMEM;
	ctx->npumps = n;
	for (i = 0; i < n; i++) {
		struct vds_pump *p = &ctx->pumps[i];

		p->ep = p->wake = -1;
		p->ep_wake.kind = VDS_EP_WAKE;
		pthread_mutex_init(&p->lock, NULL);
		pthread_cond_init(&p->cond, NULL);
	}
	return 0;
}

/**
 * vds_pumps_stop() - stop and join the pump threads, release their fds
 * @ctx:	context (its stacks are all unregistered already)
 */
void vds_pumps_stop(struct vds_ctx *ctx)
{
	int i;

	for (i = 0; i < ctx->npumps; i++) {
		struct vds_pump *p = &ctx->pumps[i];
		uint64_t one = 1;

		if (p->running) {
			pthread_mutex_lock(&p->lock);
			p->stop = 1;
			pthread_mutex_unlock(&p->lock);
			if (write(p->wake, &one, sizeof(one)) < 0) {
				/* cannot fail: the counter is far from full */
			}
			pthread_join(p->th, NULL);
		}
		if (p->ep >= 0)
			close(p->ep);
		if (p->wake >= 0)
			close(p->wake);
		free(p->gro.buf);
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->cond);
	}
	free(ctx->pumps);
	ctx->pumps = NULL;
	ctx->npumps = 0;
}

static int ep_add(struct vds_pump *p, int fd, uint32_t events, struct vds_ep *e)
{
	struct epoll_event ev = { .events = events, .data.ptr = e };

	return epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/**
 * vds_pump_add() - let a pump thread move the frames of a stack
 * @ctx:	its context
 * @st:		the stack, complete: the pump may use it at once
 *
 * Return: 0 or -errno
 */
int vds_pump_add(struct vds_ctx *ctx, struct vds_stack *st)
{
	struct vds_pump *p;
	int i, ret = 0;

	if (st->tap < 0 || !ctx->npumps)
		return 0;
	/* an idle running pump, else a new one, else the least loaded */
	pthread_mutex_lock(&ctx->lock);
	p = NULL;
	for (i = 0; i < ctx->npumps; i++) {
		struct vds_pump *q = &ctx->pumps[i];

		if (!q->running) {
			if (!p || p->nstacks) {
				ret = pump_start(q, ctx->spin_ns);
				if (ret == 0)
					p = q;
			}
			break;
		}
		if (!p || __atomic_load_n(&q->nstacks, __ATOMIC_RELAXED) <
			  __atomic_load_n(&p->nstacks, __ATOMIC_RELAXED))
			p = q;
		if (!p->nstacks)
			break;
	}
	if (p)
		__atomic_add_fetch(&p->nstacks, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&ctx->lock);
	if (!p)
		return ret < 0 ? ret : -EAGAIN;
	ret = 0;
	st->pump = p;
	st->ep_tap = (struct vds_ep){ VDS_EP_TAP, st };
	st->ep_data = (struct vds_ep){ VDS_EP_DATA, st };
	st->ep_ctl = (struct vds_ep){ VDS_EP_CTL, st };
	if (st->kind == VDS_KIND_STREAM) {
		st->ep_data.kind = VDS_EP_STREAM;
		ret = ep_add(p, st->sfd, EPOLLIN, &st->ep_data);
	} else {
		if (st->datafd >= 0)
			ret = ep_add(p, st->datafd, EPOLLIN, &st->ep_data);
		if (ret == 0 && st->ctlfd >= 0 && st->ctlfd != st->datafd)
			ret = ep_add(p, st->ctlfd, EPOLLRDHUP, &st->ep_ctl);
	}
	if (ret == 0)
		ret = ep_add(p, st->tap, EPOLLIN, &st->ep_tap);
	st->registered = 1;
	if (ret < 0)
		vds_pump_remove(st);
	return ret;
}

/**
 * vds_pump_remove() - stop moving a stack's frames; returns when its pump
 * thread no longer touches it
 * @st:		the stack
 */
void vds_pump_remove(struct vds_stack *st)
{
	struct vds_pump *p = st->pump;
	uint64_t one = 1;

	if (!p || !st->registered)
		return;
	pthread_mutex_lock(&p->lock);
	st->cmd_done = 0;
	st->cmd_next = p->queue;
	p->queue = st;
	pthread_mutex_unlock(&p->lock);
	if (write(p->wake, &one, sizeof(one)) < 0) {
		/* cannot fail: the counter is far from full */
	}
	pthread_mutex_lock(&p->lock);
	while (!st->cmd_done)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
	__atomic_sub_fetch(&p->nstacks, 1, __ATOMIC_RELAXED);
	st->registered = 0;
	st->pump = NULL;
}

/* send one frame at teardown, waiting a little for room if need be */
static int emit_wait(void *opaque, const void *f, size_t n)
{
	struct vds_stack *st = opaque;
	int tries, ret = -EAGAIN;

	for (tries = 0; tries < 20 && ret == -EAGAIN; tries++) {
		struct pollfd pfd = { .fd = st->datafd, .events = POLLOUT };

		ret = st->kind == VDS_KIND_STREAM ? emit_stream(st, f, n) : emit_vde(st, f, n);
		if (ret == -EAGAIN && poll(&pfd, 1, 10) < 0)
			break;
	}
	return ret == -EAGAIN ? -ENOBUFS : ret;
}

/**
 * vds_pump_flush() - send what the stack still queued on its interface
 * @st:		the stack, no longer served by a pump thread
 *
 * A socket closed just before vde_delstack() has put its FIN on the tap;
 * without this the peer would never see the connection end.
 */
void vds_pump_flush(struct vds_stack *st)
{
	struct vds_ofcount c = { 0 };
	unsigned char *buf;
	int k;

	if (st->tap < 0 || st->hung || st->kind == VDS_KIND_NONE)
		return;
	if (st->blocked)
		vds_txjob_run(&st->job, emit_wait, st, &c);
	st->blocked = 0;
	buf = malloc(VDS_VNET_HLEN + VDS_TX_MAX);
	for (k = 0; buf && k < VDS_BUDGET; k++) {
		struct pollfd pfd = { .fd = st->tap, .events = POLLIN };
		ssize_t n = read(st->tap, buf, VDS_VNET_HLEN + VDS_TX_MAX);
		struct virtio_net_hdr h;
		struct vds_txjob j;

		/*
		 * The kernel may queue a last frame (a FIN) a moment after the
		 * close() that caused it (data still in flight): a stack that
		 * sent in the last few tens of milliseconds gets a few
		 * milliseconds for it.  Not a longer window: the kernel's own
		 * chatter after link-up (IPv6 DAD, router solicitations) would
		 * make deleting a thousand freshly configured stacks wait 5 ms
		 * each.
		 */
		if (n <= VDS_VNET_HLEN && vds_now_ms() - st->last_tx_ms < VDS_FLUSH_RECENT_MS &&
		    poll(&pfd, 1, VDS_FLUSH_GRACE_MS) > 0)
			n = read(st->tap, buf, VDS_VNET_HLEN + VDS_TX_MAX);
		if (n <= VDS_VNET_HLEN)
			break;
		memcpy(&h, buf, sizeof(h));
		if (vds_txjob_init(&j, buf + VDS_VNET_HLEN, n - VDS_VNET_HLEN, &h) == 0)
			vds_txjob_run(&j, emit_wait, st, &c);
		else
			c.dropped++;
	}
	free(buf);
	tx_counted(st, &c);
	/*
	 * A switch may close a port before reading its last datagrams once
	 * the control connection ends: give the peer a moment to take what
	 * is still queued (a datagram is charged to its sender until read).
	 */
	for (k = 0; k < 200 && st->data_drain; k++) {
		int queued = 0;

		if (ioctl(st->datafd, SIOCOUTQ, &queued) < 0 || queued <= 0)
			break;
		usleep(1000);
	}
}
