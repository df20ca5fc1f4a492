/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * util.h - small definitions every part of the C core may use: symbol
 * export, the raw socket(2), Ethernet frame sizes.
 *
 * Conventions of the C core (STYLE.md): inside the library a call returns
 * >= 0 on success and -errno on failure (void for destructors and the
 * pump's per-frame work, which counts instead of failing); the public
 * functions (stack.c, msocket.c, cmd.c, interpose.c) turn that into the libc
 * convention once, at the edge.
 *
 * Locks of the core, and what each protects (the only order in which two are
 * held is vds_glock, then a ctx->lock: the fork handlers in ctx.c):
 *   vds_glock (ctx.h)		handles and their magic, stack refcounts, the
 *				list of contexts and their stack counts
 *   ctx->lock (ctx.h)		the context's pool of idle channels
 *   pool->lock (pump.c)	which pump threads run, stacks per pump
 *   pump->lock (pump.c)	a pump's queue of stacks to unregister, stop
 * No lock is held while waiting for the helper or for a pump thread except
 * pump->lock inside pthread_cond_wait().
 */
#ifndef VDS_UTIL_H
#define VDS_UTIL_H

#include <sys/syscall.h>
#include <unistd.h>
#include <libvdeplug.h>

#define VDS_EXPORT __attribute__((visibility("default")))

/* socket(2) itself: libvdestack.so interposes the libc symbol */
#define vds_sys_socket(d, t, p) ((int)syscall(SYS_socket, (d), (t), (p)))

/* largest frame we accept from either side; one byte more detects oversize */
#define VDS_FRAME_MAX	VDE_ETHBUFSIZE
#define VDS_BUF_SIZE	(VDS_FRAME_MAX + 1)
#define VDS_ETH_HLEN	14
#define VDS_VNET_HLEN	10	/* struct virtio_net_hdr before each tap frame */

#endif /* VDS_UTIL_H */
