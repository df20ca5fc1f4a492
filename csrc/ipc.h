/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ipc.h - one message with file descriptors (SCM_RIGHTS) over a socket.
 *
 * Shared by the library (ctx.c) and the helper process (helper.c), so both
 * calls are async-signal-safe: system calls and memcpy only.
 */
#ifndef VDS_IPC_H
#define VDS_IPC_H

#include <stddef.h>
#include <sys/types.h>

/* most fds one message carries (and one receive accepts) */
#define VDS_IPC_MAXFDS	4

ssize_t vds_ipc_send(int sock, const void *hdr, size_t hlen,
		     const void *payload, size_t plen,
		     const int *fds, int nfds);
ssize_t vds_ipc_recv(int sock, void *buf, size_t len, int *fds, int *nfds,
		     int flags);

#endif /* VDS_IPC_H */
