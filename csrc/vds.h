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
	VDS_OP_EXEC,		/* id, a: argc, payload argv strings -> status */
	VDS_OP_CANCEL,		/* during EXEC: kill the command (no own reply) */
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

extern pthread_mutex_t vds_glock;

/* ------------------------------------------------------------ offloads --- */

#include "offload.h"

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

/* --------------------------------------------------------- default stack --- */

extern struct vdestack *vds_default;

#endif /* VDS_H */
