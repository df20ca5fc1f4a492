// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pump.c - frames between each stack's tap interface and its VDE network.
 *
 * A few threads (see pump_count()) each serve many stacks with one epoll
 * set.  A ready fd is drained until it would block (up to a budget, for
 * fairness); the hot loop does a read and a write per frame and nothing
 * else.  VDE sockets are non-blocking, so one thread serving both
 * ends of a link cannot deadlock itself: a frame the peer cannot take now is
 * parked, its stack's tap is muted, and EPOLLOUT resumes it (backpressure
 * instead of loss).
 *
 * The pool adapts (pump_adapt()): a shared thread that worked through a
 * whole window with two stacks or more busy gives its busiest stack a
 * thread of its own, keeps it there only if the stack then moves more,
 * and takes it back when it goes quiet.  Stacks that wait on each other
 * (round trips) never saturate a thread, so they stay together and cost
 * no wake-up between threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
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

#include "offload.h"
#include "pump.h"
#include "spin.h"
#include "stack.h"
#include "stream.h"
#include "util.h"

#define VDS_PUMPS_MAX	8
#define VDS_BUDGET	256	/* frames per fd per wake-up */
#define VDS_EVENTS	64
#define VDS_FLUSH_GRACE_MS 5	/* wait for a late FIN ... */
#define VDS_FLUSH_RECENT_MS 50	/* ... after traffic this recent */
#define VDS_WINDOW_NS	(100 * 1000000LL)	/* a pump looks at its load */
#define VDS_SATURATED	90	/* % of a window worked: saturated */
#define VDS_IDLE	30	/* % below which a lone stack's thread idles */
#define VDS_IDLE_MS	1000	/* ... this long: back to a shared thread */
#define VDS_GAIN	100	/* % of its shared rate a lone stack must reach */
#define VDS_RETRY_MS	1000	/* a move that did not pay: first wait ... */
#define VDS_RETRY_MAX_MS 32000	/* ... doubled up to this */

enum ep_kind { EP_TAP, EP_DATA, EP_CTL, EP_STREAM, EP_WAKE };

/* what an epoll event points to */
struct ep {
	enum ep_kind kind;
	struct vds_pump_stack *ps;
};

/**
 * struct vds_pump_stack - a pump's state for one stack (st->pump)
 * @st:		the stack
 * @pump:	the thread that serves it
 * @ep_tap, @ep_data, @ep_ctl:	what its fds' epoll events point to
 * @registered:	its fds are in the pump's epoll set
 * @blocked, @pend, @job:	what the VDE side refused for now
 *		(backpressure): the rest of a packet, parked in @pend
 * @stream_dead:	the stream command is gone (EPIPE)
 * @stream_out:	EPOLLOUT is watched on the stream socket (bytes queued)
 * @last_tx_ms:	when the tap last had frames (coarse clock)
 * @hung:	the VDE side went away: nothing moves any more
 * @cmd_next, @cmd_done:	the pump's queue of stacks to unregister
 * @next:	next stack of the same pump (pump->stacks)
 * @leaving:	queued for unregistering: never moved again
 * @mark:	frames moved when the pump's window began
 * @rate, @prev:	frames per second in the last window, the one before
 * @before:	the rate on a shared thread before it got one of its own
 *		(of its last two windows there), while that move is on trial
 *		(else 0)
 * @trial, @trial_sum:	windows since that move, the sum of their rates
 *		(but the first)
 * @idle_ms:	how long its own thread has been mostly idle
 * @retry_ns, @retry_ms:	no other move before @retry_ns; the next wait
 *
 * Only the pump thread touches it while registered; @cmd_next and
 * @cmd_done under pump->lock; @pump, @next and @leaving under pool->lock
 * (the pump thread may read @pump without it).  The adaptive fields are
 * the thread's that serves the stack.
 */
struct vds_pump_stack {
	struct vds_stack *st;
	struct vds_pump *pump;
	struct ep ep_tap, ep_data, ep_ctl;
	int registered;
	int blocked;
	unsigned char *pend;
	struct vds_txjob job;
	int stream_dead;
	int stream_out;
	uint32_t last_tx_ms;
	int hung;
	struct vds_pump_stack *cmd_next;
	int cmd_done;
	struct vds_pump_stack *next;
	int leaving;
	uint64_t mark, rate, prev, before, trial_sum;
	int trial;
	int idle_ms;
	int64_t retry_ns;
	int retry_ms;
};

/**
 * struct vds_pump - one pump thread
 * @pool:	the pool it belongs to
 * @ep:		its epoll set
 * @wake:	eventfd that makes it look at @queue or @stop
 * @lock:	protects @queue, @stop (and the queued stacks' cmd_* fields)
 * @cond:	signalled when the queue was served
 * @queue:	stacks to unregister; their callers wait on @cond
 * @nstacks:	stacks served, to spread new ones (under pool->lock)
 * @stacks:	the stacks it serves (under pool->lock)
 * @running:	the thread was started (under pool->lock)
 * @lone:	it serves one busy stack of its own, or none (never picked
 *		for new stacks)
 * @gro:	receive coalescing, used by the thread only
 * @win_start, @win_idle:	its load: when the window began, how long
 *		it waited for events since (the thread's own)
 */
struct vds_pump {
	struct vds_pumps *pool;
	pthread_t th;
	int ep;
	int wake;
	struct ep ep_wake;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct vds_pump_stack *queue;
	int stop;
	int nstacks;
	struct vds_pump_stack *stacks;
	int running;
	int lone;
	struct vds_gro gro;
	int spin_ns;
	int64_t win_start, win_idle;
};

/**
 * struct vds_pumps - the pump threads of a context
 * @lock:	protects each pump's @running, @nstacks, @stacks
 * @n:		pumps (threads start when stacks need them)
 * @shared:	of which the first @shared take new stacks; the others
 *		are lone (pump_adapt())
 */
struct vds_pumps {
	pthread_mutex_t lock;
	int n;
	int shared;
	int spin_ns;
	struct vds_pump p[];
};

static void ep_mod(struct vds_pump *p, int fd, uint32_t events, struct ep *e)
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
static void hangup(struct vds_pump_stack *ps)
{
	struct vds_stack *st = ps->st;
	int off = 0;

	if (ps->hung)
		return;
	ps->hung = 1;
	st->stats.hung_up = 1;
	unregister(ps->pump, st);
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

/*
 * The one writer of the tap (GRO's callback), and its counters: a packet
 * and the virtio-net header that describes it, in one write, standing for
 * @frames frames of @bytes bytes from the VDE side.  They are counted
 * before the write: a socket of the stack may have the data (and its
 * reader look at the counters) before writev() even returns here.
 */
static int tap_write(void *opaque, const struct virtio_net_hdr *h,
		     const void *pkt, size_t len, unsigned int frames, size_t bytes)
{
	struct vds_stack *st = opaque;
	struct iovec iov[2] = {
		{ (void *)h, sizeof(*h) },
		{ (void *)pkt, len },
	};
	int ret;

	st->stats.rx_frames += frames;
	st->stats.rx_bytes += bytes;
	if (writev(st->tap, iov, 2) == (ssize_t)(sizeof(*h) + len))
		return 0;
	ret = -errno;
	st->stats.rx_frames -= frames;
	st->stats.rx_bytes -= bytes;
	if (ret != -EINVAL || h->gso_type != VIRTIO_NET_HDR_GSO_UDP_L4)
		st->stats.rx_dropped += frames;
	return ret;
}

static void tx_counted(struct vds_stack *st, const struct vds_ofcount *c)
{
	st->stats.tx_frames += c->frames;
	st->stats.tx_bytes += c->bytes;
	st->stats.tx_dropped += c->dropped;
}

static int emit_vde(void *opaque, const void *f, size_t n)
{
	struct vds_stack *st = opaque;

	if (vde_send(st->conn, f, n, 0) >= 0) {
		if (st->stats.peer_lost)
			st->stats.peer_lost = 0;
		return 0;
	}
	/* a datagram link's other end is gone (ptp://): only a send tells */
	if (st->data_dgram && (errno == ENOTCONN || errno == ECONNREFUSED))
		st->stats.peer_lost = 1;
	if ((errno == EAGAIN || errno == ENOBUFS) && st->data_drain)
		return -EAGAIN;
	return -errno;
}

static int emit_stream(void *opaque, const void *f, size_t n)
{
	struct vds_stack *st = opaque;
	int ret = vds_stream_send(st, f, n);

	if (ret == -EPIPE)
		st->pump->stream_dead = 1;
	return ret;
}

/* the VDE side is full: keep the rest of the job, mute the tap */
static void park(struct vds_pump_stack *ps, struct vds_txjob *j)
{
	struct vds_stack *st = ps->st;

	if (!ps->pend) {
		ps->pend = malloc(VDS_TX_MAX);
		if (!ps->pend) {
			st->stats.tx_dropped++;
			return;
		}
	}
	if (j != &ps->job) {
		memmove(ps->pend, j->pkt, vds_txjob_size(j));
		ps->job = *j;
		ps->job.pkt = ps->pend;
	}
	ps->blocked = 1;
	ep_mod(ps->pump, st->tap, 0, &ps->ep_tap);
	ep_mod(ps->pump, st->datafd, EPOLLIN | EPOLLOUT, &ps->ep_data);
}

static void unpark(struct vds_pump_stack *ps)
{
	struct vds_stack *st = ps->st;
	struct vds_ofcount c = { 0 };
	int ret = vds_txjob_run(&ps->job, emit_vde, st, &c);

	tx_counted(st, &c);
	if (ret == -EAGAIN)
		return;		/* still full: wait for the next EPOLLOUT */
	ps->blocked = 0;
	ep_mod(ps->pump, st->datafd, EPOLLIN, &ps->ep_data);
	ep_mod(ps->pump, st->tap, EPOLLIN, &ps->ep_tap);
}

/* watch for room on the stream socket while bytes wait for it */
static void stream_watch(struct vds_pump_stack *ps)
{
	int want = vds_stream_pending(ps->st);

	if (want != ps->stream_out) {
		ep_mod(ps->pump, ps->st->sfd, EPOLLIN | (want ? EPOLLOUT : 0), &ps->ep_data);
		ps->stream_out = want;
	}
}

static void from_tap(struct vds_pump_stack *ps, unsigned char *buf)
{
	struct vds_stack *st = ps->st;
	unsigned char *f = buf + VDS_VNET_HLEN;	/* after the virtio-net header */
	int stream = st->kind == VDS_KIND_STREAM, k;

	ps->last_tx_ms = vds_now_ms();
	for (k = 0; k < VDS_BUDGET && !ps->blocked; k++) {
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
			park(ps, &j);
			return;
		}
		if (ps->stream_dead) {
			hangup(ps);
			return;
		}
	}
	if (stream)
		stream_watch(ps);
}

/* more to receive on a datafd that is not a plain socket (an epoll set)? */
static int more_ready(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN);
}

static void from_vde(struct vds_pump_stack *ps, unsigned char *buf)
{
	struct vds_stack *st = ps->st;
	struct vds_gro *gro = &ps->pump->gro;
	int k = 0;

	gro->opaque = st;
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
				vds_gro_flush(gro);
				hangup(ps);
				return;
			}
			st->stats.rx_empty++;
			continue;
		}
		if (vds_frame_ok(st, n))
			vds_gro_push(gro, buf, n);
	} while (++k < VDS_BUDGET && (st->data_drain || more_ready(st->datafd)));
	vds_gro_flush(gro);
}

static void from_stream(struct vds_pump_stack *ps, unsigned char *buf)
{
	struct vds_stack *st = ps->st;
	struct vds_gro *gro = &ps->pump->gro;
	int k;

	/* the frames decoded go through GRO, as the VDE side's do */
	gro->opaque = st;
	for (k = 0; k < VDS_BUDGET; k++) {
		ssize_t n = recv(st->sfd, buf, VDS_BUF_SIZE, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			vds_gro_flush(gro);
			hangup(ps);
			return;
		}
		vds_stream_input(st, gro, buf, n);
	}
	vds_gro_flush(gro);
}

/* the stream socket: room for what is queued, bytes from the command */
static void stream_event(struct vds_pump_stack *ps, uint32_t ev, unsigned char *buf)
{
	if (ev & EPOLLOUT) {
		if (vds_stream_flush(ps->st) == -EPIPE) {
			hangup(ps);
			return;
		}
		stream_watch(ps);
	}
	if (ev & ~EPOLLOUT)
		from_stream(ps, buf);
}

static void data_event(struct vds_pump_stack *ps, uint32_t ev, unsigned char *buf)
{
	struct vds_stack *st = ps->st;

	if ((ev & EPOLLOUT) && ps->blocked)
		unpark(ps);
	if (ev & EPOLLIN)
		from_vde(ps, buf);
	if (ps->hung)
		return;
	if (ev & EPOLLHUP) {
		hangup(ps);
	} else if (ev & EPOLLERR) {
		/* a datagram socket's pending error (peer gone for now) */
		int e;
		socklen_t l = sizeof(e);

		if (!st->data_drain ||
		    getsockopt(st->datafd, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
			hangup(ps);
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
		struct vds_pump_stack *ps = p->queue;

		p->queue = ps->cmd_next;
		if (!ps->hung)
			unregister(p, ps->st);
		ps->cmd_done = 1;
	}
	stop = p->stop;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return stop;
}

static void pump_adapt(struct vds_pump *p, int64_t now);

static void *pump_main(void *arg)
{
	struct vds_pump *p = arg;
	struct epoll_event evs[VDS_EVENTS];
	unsigned char buf[VDS_VNET_HLEN + VDS_TX_MAX];
	int64_t busy = INT64_MIN / 2;	/* no work yet */
	/* the load is measured only where a stack could move (pump_count()) */
	int adapt = p->pool->n > p->pool->shared;

	p->win_start = vds_now_ns();
	for (;;) {
		int64_t t0 = adapt ? vds_now_ns() : 0, t1 = 0;
		int n = vds_epoll_spin(p->ep, evs, VDS_EVENTS, p->spin_ns, &busy), i, woken = 0;

		if (adapt) {
			t1 = vds_now_ns();
			p->win_idle += t1 - t0;
		}
		for (i = 0; i < n; i++) {
			struct ep *e = evs[i].data.ptr;
			struct vds_pump_stack *ps = e->ps;

			if (e->kind == EP_WAKE) {
				woken = 1;
				continue;
			}
			if (ps->hung)
				continue;
			switch (e->kind) {
			case EP_TAP:
				from_tap(ps, buf);
				break;
			case EP_DATA:
				data_event(ps, evs[i].events, buf);
				break;
			case EP_CTL:
				hangup(ps);
				break;
			case EP_STREAM:
				stream_event(ps, evs[i].events, buf);
				break;
			default:
				break;
			}
		}
		/* only now: events of this batch may still name a queued stack */
		if (woken && drain_queue(p))
			return NULL;
		if (adapt && t1 - p->win_start >= VDS_WINDOW_NS)
			pump_adapt(p, t1);
	}
}

/*
 * One thread serves both ends of a local link without a wake-up in between,
 * and with GRO one core moves more than a TCP stream of its own can use: a
 * shared thread per four cores.  Busy stacks get threads of their own
 * (pump_adapt()), as many as leave one CPU per thread.  VDESTACK_PUMPS=N
 * fixes N shared threads and nothing else, at most VDS_PUMPS_MAX.
 */
static void pump_count(int *shared, int *lone)
{
	const char *env = getenv("VDESTACK_PUMPS");
	cpu_set_t cpus;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0)
		ncpu = CPU_COUNT(&cpus);
	if (ncpu < 1)
		ncpu = 1;
	*shared = (ncpu + 3) / 4;
	*lone = ncpu - *shared;
	if (env && atoi(env) > 0) {
		*shared = atoi(env);
		*lone = 0;
	}
	if (*shared > VDS_PUMPS_MAX)
		*shared = VDS_PUMPS_MAX;
	if (*lone > VDS_PUMPS_MAX - *shared)
		*lone = VDS_PUMPS_MAX - *shared;
}

/* under pool->lock */
static int pump_start(struct vds_pump *p)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &p->ep_wake };
	pthread_attr_t attr;
	sigset_t all, old;
	int ret;

	if (!p->gro.buf)
		p->gro.buf = malloc(VDS_GRO_MAX);
	if (!p->gro.buf)
		return -ENOMEM;
	p->gro.write = tap_write;
	if (p->ep < 0)
		p->ep = epoll_create1(EPOLL_CLOEXEC);
	if (p->wake < 0) {
		p->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->wake >= 0 && p->ep >= 0 &&
		    epoll_ctl(p->ep, EPOLL_CTL_ADD, p->wake, &ev) < 0) {
			close(p->wake);
			p->wake = -1;
		}
	}
	if (p->ep < 0 || p->wake < 0)
		return -errno;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	/* signals are the host's business: the thread blocks them all */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&p->th, &attr, pump_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (ret == 0) {
		/* for ps, top and perf; the tests count them by this name */
		pthread_setname_np(p->th, p->lone ? "vdestack-lone" : "vdestack-pump");
		p->running = 1;
	}
	return ret;
}

/**
 * vds_pumps_new() - the pump threads of a context, none started yet
 * @spin_ns:	how long a pump polls after work before it sleeps
 *
 * Threads start with the stacks that need them: none for loopback-only
 * stacks, one more per stack with an interface up to the shared ones of
 * pump_count(); lone ones when pump_adapt() wants them.
 *
 * Return: the pool, or NULL (no memory)
 */
struct vds_pumps *vds_pumps_new(int spin_ns)
{
	struct vds_pumps *pool;
	int shared, lone, i;

	pump_count(&shared, &lone);
	pool = calloc(1, sizeof(*pool) + (shared + lone) * sizeof(pool->p[0]));
	if (!pool)
		return NULL;
	pthread_mutex_init(&pool->lock, NULL);
	pool->n = shared + lone;
	pool->shared = shared;
	pool->spin_ns = spin_ns;
	for (i = 0; i < pool->n; i++) {
		struct vds_pump *p = &pool->p[i];

		p->pool = pool;
		p->lone = i >= shared;
		p->ep = p->wake = -1;
		p->ep_wake.kind = EP_WAKE;
		p->spin_ns = spin_ns;
		pthread_mutex_init(&p->lock, NULL);
		pthread_cond_init(&p->cond, NULL);
	}
	return pool;
}

/**
 * vds_pumps_free() - stop and join the pump threads, release their fds
 * @pool:	the pool (its stacks are all removed already), or NULL
 */
void vds_pumps_free(struct vds_pumps *pool)
{
	int i;

	if (!pool)
		return;
	for (i = 0; i < pool->n; i++) {
		struct vds_pump *p = &pool->p[i];
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
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

/*
 * A shared pump: an idle running one, else a new one, else the least
 * loaded; counted, and @ps on its list
 */
static struct vds_pump *pump_pick(struct vds_pumps *pool, struct vds_pump_stack *ps, int *err)
{
	struct vds_pump *p = NULL;
	int i;

	*err = -EAGAIN;
	pthread_mutex_lock(&pool->lock);
	for (i = 0; i < pool->shared; i++) {
		struct vds_pump *q = &pool->p[i];

		if (!q->running) {
			if (!p || p->nstacks) {
				*err = pump_start(q);
				if (*err == 0)
					p = q;
			}
			break;
		}
		if (!p || q->nstacks < p->nstacks)
			p = q;
		if (!p->nstacks)
			break;
	}
	if (p) {
		p->nstacks++;
		ps->pump = p;
		ps->next = p->stacks;
		p->stacks = ps;
	}
	pthread_mutex_unlock(&pool->lock);
	return p;
}

static int ep_add(struct vds_pump *p, int fd, uint32_t events, struct ep *e)
{
	struct epoll_event ev = { .events = events, .data.ptr = e };

	return epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* its fds into @p's epoll set, as a stack not parked (p may serve it at once) */
static int pump_watch(struct vds_pump *p, struct vds_pump_stack *ps)
{
	struct vds_stack *st = ps->st;
	int ret = 0;

	if (st->kind == VDS_KIND_STREAM) {
		ret = ep_add(p, st->sfd, EPOLLIN, &ps->ep_data);
	} else {
		if (st->datafd >= 0)
			ret = ep_add(p, st->datafd, EPOLLIN, &ps->ep_data);
		if (ret == 0 && st->ctlfd >= 0 && st->ctlfd != st->datafd)
			ret = ep_add(p, st->ctlfd, EPOLLRDHUP, &ps->ep_ctl);
	}
	if (ret == 0)
		ret = ep_add(p, st->tap, EPOLLIN, &ps->ep_tap);
	if (ret < 0)
		unregister(p, st);
	return ret;
}

static int pump_register(struct vds_pump_stack *ps)
{
	ps->ep_tap = (struct ep){ EP_TAP, ps };
	ps->ep_data = (struct ep){ ps->st->kind == VDS_KIND_STREAM ? EP_STREAM : EP_DATA, ps };
	ps->ep_ctl = (struct ep){ EP_CTL, ps };
	ps->registered = 1;
	return pump_watch(ps->pump, ps);
}

/* ------------------------------------------------------------ adapting */

/* off its pump's list (under pool->lock) */
static void pump_unlink(struct vds_pump_stack *ps)
{
	struct vds_pump_stack **pp = &ps->pump->stacks;

	while (*pp && *pp != ps)
		pp = &(*pp)->next;
	if (*pp)
		*pp = ps->next;
	ps->next = NULL;
	ps->pump->nstacks--;
}

/* onto @to's list, as served by it (under pool->lock) */
static void pump_link(struct vds_pump_stack *ps, struct vds_pump *to)
{
	ps->pump = to;
	ps->next = to->stacks;
	to->stacks = ps;
	to->nstacks++;
}

/*
 * Hand a stack over to another pump: called by the thread that serves it,
 * between two batches of events (none of it in flight), under pool->lock.
 * Everything about it is written before its fds join @to's epoll set: from
 * then on @to's thread may serve it.
 */
static int pump_move(struct vds_pump_stack *ps, struct vds_pump *to)
{
	struct vds_pump *from = ps->pump;
	int ret;

	if (!to->running && (ret = pump_start(to)) < 0)
		return ret;
	unregister(from, ps->st);
	pump_unlink(ps);
	pump_link(ps, to);
	ps->mark = ps->st->stats.tx_frames + ps->st->stats.rx_frames;
	ps->idle_ms = 0;
	ret = pump_watch(to, ps);
	if (ret < 0) {
		pump_unlink(ps);
		pump_link(ps, from);
		if (pump_watch(from, ps) < 0)
			hangup(ps);	/* no epoll set takes it: out of memory */
	}
	return ret;
}

/* a lone pump with no stack, or NULL (under pool->lock) */
static struct vds_pump *lone_free(struct vds_pumps *pool)
{
	int i;

	for (i = pool->shared; i < pool->n; i++)
		if (!pool->p[i].stacks)
			return &pool->p[i];
	return NULL;
}

/* the least loaded shared pump that runs (under pool->lock) */
static struct vds_pump *shared_least(struct vds_pumps *pool)
{
	struct vds_pump *best = NULL;
	int i;

	for (i = 0; i < pool->shared; i++) {
		struct vds_pump *q = &pool->p[i];

		if (q->running && (!best || q->nstacks < best->nstacks))
			best = q;
	}
	return best;
}

/* back to a shared pump; @failed: it did not move more alone, wait longer */
static void lone_end(struct vds_pump_stack *ps, int64_t now, int failed)
{
	struct vds_pump *to = shared_least(ps->pump->pool);

	if (!to)
		return;
	if (failed) {
		ps->retry_ms = ps->retry_ms ? ps->retry_ms * 2 : VDS_RETRY_MS;
		if (ps->retry_ms > VDS_RETRY_MAX_MS)
			ps->retry_ms = VDS_RETRY_MAX_MS;
		ps->retry_ns = now + ps->retry_ms * 1000000LL;
	}
	ps->before = 0;
	pump_move(ps, to);
}

/* a lone pump's window: judge the move on trial, or notice it went quiet */
static void lone_window(struct vds_pump *p, int busy, int64_t span, int64_t now)
{
	struct vds_pump_stack *ps = p->stacks;

	if (!ps || ps->leaving || ps->hung || ps->blocked)
		return;
	if (ps->before) {
		/* the first window after the move settles; two more judge */
		if (++ps->trial < 2)
			return;
		ps->trial_sum += ps->rate;
		if (ps->trial < 3)
			return;
		if (ps->trial_sum * 100 / 2 < ps->before * VDS_GAIN) {
			lone_end(ps, now, 1);
		} else {
			ps->before = 0;
			ps->retry_ms = 0;
		}
		return;
	}
	ps->idle_ms = busy < VDS_IDLE ? ps->idle_ms + span / 1000000 : 0;
	if (ps->idle_ms >= VDS_IDLE_MS)
		lone_end(ps, now, 0);
}

/* a shared pump's window: a saturated one gives its busiest stack a thread */
static void shared_window(struct vds_pump *p, struct vds_pump_stack *top, int active,
			  int busy, int64_t now)
{
	struct vds_pump *to;

	if (busy < VDS_SATURATED || active < 2 || !top || now < top->retry_ns ||
	    top->st->kind != VDS_KIND_VDE || top->blocked)
		return;
	to = lone_free(p->pool);
	if (!to)
		return;
	top->before = top->prev ? (top->rate + top->prev) / 2 : top->rate;
	top->trial = 0;
	top->trial_sum = 0;
	if (pump_move(top, to) < 0)
		top->before = 0;
}

/*
 * Called by a pump thread at the end of each window of VDS_WINDOW_NS: each
 * stack's rate (frames per second, both ways) in it, and what the pump's
 * load says.  A stack moves only between two batches of its own pump's
 * events, under pool->lock, so nothing else ever sees it half moved.
 */
static void pump_adapt(struct vds_pump *p, int64_t now)
{
	struct vds_pumps *pool = p->pool;
	int64_t span = now - p->win_start;
	int busy = 100 - (int)(p->win_idle * 100 / span), active = 0;
	struct vds_pump_stack *ps, *top = NULL;

	pthread_mutex_lock(&pool->lock);
	for (ps = p->stacks; ps; ps = ps->next) {
		uint64_t n;

		if (ps->leaving || ps->hung)
			continue;
		n = ps->st->stats.tx_frames + ps->st->stats.rx_frames - ps->mark;
		ps->mark += n;
		ps->prev = ps->rate;
		ps->rate = n * 1000000000ULL / (uint64_t)span;
		if (n)
			active++;
		if (n && (!top || ps->rate > top->rate))
			top = ps;
	}
	if (p->lone)
		lone_window(p, busy, span, now);
	else
		shared_window(p, top, active, busy, now);
	pthread_mutex_unlock(&pool->lock);
	p->win_start = now;
	p->win_idle = 0;
}

/* returns when the pump thread no longer touches the stack */
static void pump_unregister(struct vds_pump_stack *ps)
{
	struct vds_pumps *pool;
	struct vds_pump *p;
	uint64_t one = 1;

	if (!ps->registered)
		return;
	pool = ps->pump->pool;
	/* the pump that serves it now, and it stays there */
	pthread_mutex_lock(&pool->lock);
	ps->leaving = 1;
	p = ps->pump;
	pthread_mutex_lock(&p->lock);
	ps->cmd_done = 0;
	ps->cmd_next = p->queue;
	p->queue = ps;
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_unlock(&pool->lock);
	if (write(p->wake, &one, sizeof(one)) < 0) {
		/* cannot fail: the counter is far from full */
	}
	pthread_mutex_lock(&p->lock);
	while (!ps->cmd_done)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
	ps->registered = 0;
}

/* also a half-added one */
static void pump_stack_free(struct vds_pump_stack *ps)
{
	struct vds_pumps *pool;

	pump_unregister(ps);
	if (ps->pump) {
		pool = ps->pump->pool;
		pthread_mutex_lock(&pool->lock);
		pump_unlink(ps);
		pthread_mutex_unlock(&pool->lock);
	}
	ps->st->pump = NULL;
	free(ps->pend);
	free(ps);
}

/**
 * vds_pump_add() - let a pump thread move the frames of a stack
 * @pool:	its context's pumps
 * @st:		the stack, complete: the pump may use it at once
 *
 * Return: 0 or -errno
 */
int vds_pump_add(struct vds_pumps *pool, struct vds_stack *st)
{
	struct vds_pump_stack *ps;
	int ret;

	if (st->tap < 0 || !pool)
		return 0;
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	ps->st = st;
	st->pump = ps;
	if (pump_pick(pool, ps, &ret))
		ret = pump_register(ps);
	if (ret < 0)
		pump_stack_free(ps);
	return ret;
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

/*
 * Send what the stack still queued on its interface: a socket closed just
 * before vde_delstack() has put its FIN on the tap; without this the peer
 * would never see the connection end.
 */
static void pump_flush(struct vds_pump_stack *ps)
{
	struct vds_stack *st = ps->st;
	struct vds_ofcount c = { 0 };
	unsigned char *buf;
	int k;

	if (ps->hung || st->kind == VDS_KIND_NONE)
		return;
	if (ps->blocked)
		vds_txjob_run(&ps->job, emit_wait, st, &c);
	ps->blocked = 0;
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
		if (n <= VDS_VNET_HLEN && vds_now_ms() - ps->last_tx_ms < VDS_FLUSH_RECENT_MS &&
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

/**
 * vds_pump_remove() - stop moving a stack's frames, send what it still
 * queued, and release the pump's state for it
 * @st:		the stack; nothing happens if no pump serves it
 *
 * Returns when its pump thread no longer touches it.
 */
void vds_pump_remove(struct vds_stack *st)
{
	struct vds_pump_stack *ps = st->pump;

	if (!ps)
		return;
	pump_unregister(ps);
	pump_flush(ps);
	pump_stack_free(ps);
}
