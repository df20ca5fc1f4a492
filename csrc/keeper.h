/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keeper.h - the process that ends the stream commands of a host that
 * died (keeper.c).
 */
#ifndef VDS_KEEPER_H
#define VDS_KEEPER_H

#include <sys/types.h>

/**
 * struct vds_keeper - the library's side of a keeper process
 * @pid:	the keeper (a clone child without exit signal), -1 none
 * @sock:	where pidfds go to it, -1 none
 */
struct vds_keeper {
	pid_t pid;
	int sock;
};

int vds_keeper_watch(struct vds_keeper *k, int pidfd);
void vds_keeper_end(struct vds_keeper *k);

#endif /* VDS_KEEPER_H */
