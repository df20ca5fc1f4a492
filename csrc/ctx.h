/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ctx.h - the library's side of the helper process (ctx.c): a context is
 * one helper, its channels and its pump threads; it lives while a stack does.
 *
 * Locks (see util.h for all of them):
 *   vds_glock	the list of contexts, ctx->nstacks, and (stack.c) every
 *		handle and stack refcount; taken first when both are held
 *   ctx->lock	ctx->pool, npool, cpool: the idle channels
 * ctx->fastpath is read and written with atomics, without a lock.
 */
#ifndef VDS_CTX_H
#define VDS_CTX_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "keeper.h"
#include "proto.h"

struct vds_pumps;

/**
 * struct vds_ctx - one helper process and the stacks it owns
 * @pid:	process that created it; another pid means we are a forked child
 * @helper:	pid of the helper (a clone child without exit signal)
 * @helperfd:	its pidfd (in the creating process), to see that it died
 * @keeper:	kills the stream commands if we die (keeper.h), under @lock
 * @ctl:	main control socket: only carries new channels
 * @lock:	protects @pool, @npool, @cpool
 * @pool:	idle channels (connected SOCK_SEQPACKET sockets to the helper)
 * @nstacks:	stacks alive in this context; the last one ends it (vds_glock)
 * @fastpath:	1 if the calling thread may setns() into stacks (root), 0 if
 *		not, -1 until the first stack tells (atomic)
 * @hostns:	network namespace of the thread that created the context
 * @hostns_ino, @hostns_dev:	its identity, to notice threads living in
 *		another namespace
 * @pumps:	the pump threads (pump.h); NULL in a forked child
 * @spin_ns:	poll this long for a reply before sleeping
 * @linger_ns:	how long it outlives its last stack (ctx.c), 0: not at all
 * @lingering:	it has no stack and waits for one or its end (vds_glock)
 * @linger_thread:	a thread times the wait (vds_glock)
 * @idle_since:	when the last stack went (vds_glock)
 * @linger_cv:	wakes that thread (with vds_glock)
 * @next:	all contexts of this process (fork), under vds_glock
 */
struct vds_ctx {
	pid_t pid;
	pid_t helper;
	int helperfd;
	struct vds_keeper keeper;
	int ctl;
	pthread_mutex_t lock;
	int *pool;
	int npool, cpool;
	int nstacks;
	int fastpath;
	int hostns;
	ino_t hostns_ino;
	dev_t hostns_dev;
	struct vds_pumps *pumps;
	int spin_ns;
	int64_t linger_ns;
	int lingering;
	int linger_thread;
	int64_t idle_since;
	pthread_cond_t linger_cv;
	struct vds_ctx *next;
};

/**
 * struct vds_call - one request to the helper and what its reply brings
 * @req:	the request; @req.len bytes of @payload follow it
 * @payload:	request payload, or NULL
 * @fds:	receives the fds a successful reply carries
 * @nfds:	how many it must carry (0: none)
 * @cloexec:	receive them close-on-exec
 * @interrupted:	called when a signal interrupts the wait for the reply;
 *		non-zero cancels the request (the helper kills the command)
 * @arg:	its argument
 */
struct vds_call {
	struct vds_req req;
	const void *payload;
	int *fds;
	int nfds;
	int cloexec;
	int (*interrupted)(void *arg);
	void *arg;
};

extern pthread_mutex_t vds_glock;

int vds_ctx_get(struct vds_ctx **ctxp);
void vds_ctx_put(struct vds_ctx *ctx);
int vds_ctx_owned(const struct vds_ctx *ctx);
int vds_ctx_call(struct vds_ctx *ctx, struct vds_call *call);
int vds_ctx_fastpath(struct vds_ctx *ctx, int netns);
int vds_ctx_keep(struct vds_ctx *ctx, int pidfd);

#endif /* VDS_CTX_H */
