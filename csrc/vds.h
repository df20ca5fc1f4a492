/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vds.h - internals shared by the parts of the C core.
 *
 * Inside the library every call returns >= 0 on success and -errno on
 * failure; the public functions (stack.c, cmd.c, interpose.c) turn that into
 * the libc convention once, at the edge.
 */
#ifndef VDS_H
#define VDS_H

#include <stdint.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/types.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <net/if.h>
#include <libvdeplug.h>
#include "vdestack.h"

#define VDS_EXPORT __attribute__((visibility("default")))

/* socket(2) itself: libvdestack.so interposes the libc symbol */
#define vds_sys_socket(d, t, p) ((int)syscall(SYS_socket, (d), (t), (p)))

#define VDS_VERSION "1.0.0"

/* largest frame we accept from either side; one byte more detects oversize */
#define VDS_FRAME_MAX	VDE_ETHBUFSIZE
#define VDS_BUF_SIZE	(VDS_FRAME_MAX + 1)
#define VDS_ETH_HLEN	14
#define VDS_VNET_HLEN	10	/* struct virtio_net_hdr before each tap frame */

/* largest argument vector (bytes of strings) one command may carry */
#define VDS_ARGS_MAX	65536
#define VDS_ARGC_MAX	4096
/* largest environment sent along with it (bytes of strings, count) */
#define VDS_ENV_MAX	131072
#define VDS_ENVC_MAX	4096
/* largest request payload */
#define VDS_REQ_MAX	(VDS_ARGS_MAX + VDS_ENV_MAX)

/* ------------------------------------------------------------ protocol --- */
/*
 * Library <-> helper messages, over SOCK_SEQPACKET.  The library sends
 * struct vds_req (+ payload), the helper answers with struct vds_rep (+ fds
 * in SCM_RIGHTS).  One request is outstanding per channel at a time.
 */
enum vds_op {
	VDS_OP_NEWCHAN = 1,		/* (main socket only) fd: a new channel, no reply */
	VDS_OP_ADDSTACK,	/* payload ifname ("" none); a: send netns fd too */
	VDS_OP_DELSTACK,	/* id */
	VDS_OP_SOCKET,		/* id, a b c: domain type protocol -> fd */
	VDS_OP_EXEC,		/* id, a: argc, b: envc, payload argv then envp -> status */
	VDS_OP_CANCEL,		/* during EXEC: kill the command (no own reply) */
	VDS_OP_NSFDS,		/* id -> fds: user, net, PID namespace */
	VDS_OP_ADOPT,		/* id, fd: pidfd of its stream command */
};

struct vds_req {
	uint32_t op;
	int32_t id;
	int32_t a, b, c;
	uint32_t len;		/* payload bytes following the header */
};

struct vds_rep {
	int32_t ret;		/* >= 0 result, or -1 */
	int32_t err;		/* errno when ret == -1 */
};

/* -------------------------------------------------------------- helper --- */

/**
 * struct vds_helper_args - what the helper process starts from
 * @ctl:	its end of the main control socket
 * @host:	pid of the host process, whose death ends the helper
 * @spin_ns:	how long it polls for the next request after one
 */
struct vds_helper_args {
	int ctl;
	pid_t host;
	int spin_ns;
};

int vds_helper_main(void *arg);

/* ---------------------------------------------------------------- spin --- */

#define VDS_SPIN_US	50	/* default of VDESTACK_BUSY_POLL_US */

int vds_spin_us(void);

/* monotonic nanoseconds (vDSO, no system call) */
static inline int64_t vds_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/**
 * vds_epoll_spin() - epoll_wait() that polls while work was recent
 * @ep, @evs, @max:	as for epoll_wait()
 * @spin_ns:	how long after the last work to poll instead of sleeping
 * @busy:	time of the last work (vds_now_ns()), updated on events
 *
 * Right after work it polls without sleeping (sched_yield() in between, so
 * a thread waiting for this CPU runs): an answer due within microseconds
 * then costs no wake-up.  Otherwise it blocks at once, as epoll_wait(-1).
 */
static inline int vds_epoll_spin(int ep, struct epoll_event *evs, int max,
				 int64_t spin_ns, int64_t *busy)
{
	int n;

	while (spin_ns > 0 && vds_now_ns() - *busy < spin_ns) {
		n = epoll_wait(ep, evs, max, 0);
		if (n != 0)
			goto got;
		sched_yield();
	}
	n = epoll_wait(ep, evs, max, -1);
got:
	if (n > 0 && spin_ns > 0)
		*busy = vds_now_ns();
	return n;
}

/* ----------------------------------------------------------------- ctx --- */

struct vds_pump;

/**
 * struct vds_ctx - one helper process and the stacks it owns
 * @pid:	process that created it; another pid means we are a forked child
 * @helper:	pid of the helper (a clone child without exit signal)
 * @ctl:	main control socket: only carries new channels
 * @lock:	protects @pool
 * @pool:	idle channels (connected SOCK_SEQPACKET sockets to the helper)
 * @nstacks:	stacks alive in this context; the last one ends it
 * @fastpath:	1 if the calling thread may setns() into stacks (root)
 * @hostns:	network namespace of the thread that created the context
 * @hostns_ino:	its inode, to notice threads living in another namespace
 */
struct vds_ctx {
	pid_t pid;
	pid_t helper;
	int ctl;
	pthread_mutex_t lock;
	int *pool;
	int npool, cpool;
	int nstacks;
	int fastpath;
	int hostns;
	ino_t hostns_ino;
	dev_t hostns_dev;
	struct vds_pump *pumps;
	int npumps;
	int spin_ns;		/* poll this long for a reply before sleeping */
	struct vds_ctx *next;	/* all contexts of this process (fork) */
};

int vds_ctx_get(struct vds_ctx **ctxp);
void vds_ctx_put(struct vds_ctx *ctx);
int vds_ctx_request(struct vds_ctx *ctx, const struct vds_req *req,
		    const void *payload, struct vds_rep *rep,
		    int *fds, int nfds, int fdflags,
		    int (*interrupted)(void *), void *arg);
int vds_ctx_owned(const struct vds_ctx *ctx);
int vds_ctx_give_fd(struct vds_ctx *ctx, const struct vds_req *req, int fd);

extern pthread_mutex_t vds_glock;

/* ------------------------------------------------------------ offloads --- */

struct vds_stack;
struct virtio_net_hdr;

/* largest packet the tap hands us with TSO: 64 KiB of IP + Ethernet */
#define VDS_TX_MAX	(65536 + 256)

/**
 * struct vds_txjob - a packet from the tap on its way out as frames (tso.c)
 * @pkt:	where the next frame starts (headers of the next segment)
 * @rem:	payload bytes left (GSO), or bytes of the one frame
 * @hl, @l4:	header length, offset of the TCP header
 * @hdr:	the packet's original headers, copied in front of each segment
 */
struct vds_txjob {
	unsigned char *pkt;
	size_t rem, hl, l4, mss;
	uint32_t seq;
	uint16_t ipid;
	unsigned int seg;
	int gso, v6;
	unsigned char hdr[192];
};

int vds_txjob_init(struct vds_txjob *j, unsigned char *pkt, size_t n,
		   const struct virtio_net_hdr *h);
int vds_txjob_run(struct vds_txjob *j, int (*emit)(struct vds_stack *, const void *, size_t),
		  struct vds_stack *st);
size_t vds_txjob_size(const struct vds_txjob *j);

/* ones' complement sum of memory, as 16-bit words in memory order */
static inline uint64_t vds_csum_add(uint64_t sum, const unsigned char *p, size_t len)
{
	while (len >= 4) {
		uint32_t w;

		__builtin_memcpy(&w, p, 4);
		sum += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;

		__builtin_memcpy(&w, p, 2);
		sum += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint16_t w = 0;

		__builtin_memcpy(&w, p, 1);
		sum += w;
	}
	return sum;
}

static inline uint16_t vds_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* --------------------------------------------------------------- stack --- */

enum vds_kind { VDS_KIND_NONE, VDS_KIND_VDE, VDS_KIND_STREAM };

enum vds_ep_kind { VDS_EP_TAP, VDS_EP_DATA, VDS_EP_CTL, VDS_EP_STREAM, VDS_EP_WAKE };

struct vds_stack;

/* what an epoll event points to */
struct vds_ep {
	enum vds_ep_kind kind;
	struct vds_stack *st;
};

/**
 * struct vds_stack - the state behind one handle
 * @refs:	handle reference + one per call in progress
 * @id:		the helper's number for this stack
 * @netns:	namespace fd for the setns() fast path, or -1
 * @tap:	the interface's tap fd (non-blocking), or -1
 * @conn:	VDE connection (VDS_KIND_VDE)
 * @sfd, @spid, @vs:	stream mode: socket to the command, its pid, framing
 * @pend, @job:	what the VDE side refused for now (backpressure), parked
 */
struct vds_stack {
	int refs;
	struct vds_ctx *ctx;
	int id;
	int netns;
	int tap;
	enum vds_kind kind;
	VDECONN *conn;
	int datafd, ctlfd;
	int data_drain;		/* datafd is a non-blocking socket: drain it */
	int data_dgram;		/* ... a datagram socket: 0 bytes is no EOF */
	int sfd;
	pid_t spid;
	VDESTREAM *vs;
	struct vds_pump *pump;
	struct vds_ep ep_tap, ep_data, ep_ctl;
	int registered;
	int blocked;
	unsigned char *pend;
	struct vds_txjob job;
	int stream_dead;
	uint32_t last_tx_ms;	/* when the tap last had frames (coarse) */
	int hung;
	struct vdestack_stats stats;
	struct vds_stack *cmd_next;	/* pump command queue */
	int cmd_done;
	char ifname[IFNAMSIZ];
};

struct vds_stack *vds_stack_get(struct vdestack *h, int *err);
void vds_stack_put(struct vds_stack *st);

/* ---------------------------------------------------------------- pump --- */

struct virtio_net_hdr;

/**
 * struct vds_gro - TCP segments being merged for one stack's interface
 * @buf:	virtio-net header + the packet being built
 * @len:	bytes of packet in @buf (after the header)
 * @bytes:	bytes of the frames merged (for the counters)
 * @hdrlen:	Ethernet + IP + TCP header bytes
 * @mss:	payload of each segment (the last may be shorter)
 * @closed:	the last segment was short or pushed: nothing may follow
 */
struct vds_gro {
	struct vds_stack *st;
	unsigned char *buf;
	size_t len, bytes, hdrlen, mss;
	uint32_t next_seq;
	int nseg, psh, closed;
};

#define VDS_GRO_BUF	(16 + 65536 + VDS_BUF_SIZE)


void vds_gro_push(struct vds_gro *g, struct vds_stack *st,
		  const unsigned char *f, size_t n);
void vds_gro_flush(struct vds_gro *g);
int vds_tap_write(struct vds_stack *st, const struct virtio_net_hdr *hdr,
		  const void *buf, size_t n);

int vds_pumps_start(struct vds_ctx *ctx);
void vds_pumps_stop(struct vds_ctx *ctx);
int vds_pump_add(struct vds_ctx *ctx, struct vds_stack *st);
void vds_pump_remove(struct vds_stack *st);
void vds_pump_flush(struct vds_stack *st);
ssize_t vds_stream_frame(void *opaque, void *buf, size_t len);
void vds_stream_error(void *opaque, int type, char *format, ...);

/* ----------------------------------------------------------------- cmd --- */

int vds_parse_cmdline(const char *line, char ***cmdsp, int absolute);
int vds_run_argv(struct vds_stack *st, char *const argv[],
		 int (*interrupted)(void *), void *arg);
int vds_run_argve(struct vds_stack *st, char *const argv[], char *const envp[],
		  int (*interrupted)(void *), void *arg);

/* --------------------------------------------------------- default stack --- */

extern struct vdestack *vds_default;

#endif /* VDS_H */
