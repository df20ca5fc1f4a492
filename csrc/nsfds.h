/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsfds.h - the namespaces of a stack as file descriptors (nsfds.c).
 */
#ifndef VDS_NSFDS_H
#define VDS_NSFDS_H

struct vdestack;

/* indexes into the array vds_nsfds() fills */
enum { VDS_NS_USER, VDS_NS_NET, VDS_NS_PID, VDS_NS_COUNT };

int vds_nsfds(struct vdestack *stack, int fds[VDS_NS_COUNT]);

#endif /* VDS_NSFDS_H */
