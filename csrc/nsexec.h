/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsexec.h - programs in a stack that are the caller's own children
 * (nsexec.c).  vdestack_spawn() and vdestack_netns() are public (vdestack.h);
 * these are for the Python binding, whose subprocess.Popen child does the
 * same as vdestack_spawn()'s child from a preexec_fn.
 */
#ifndef VDS_NSEXEC_H
#define VDS_NSEXEC_H

#include <signal.h>
#include "vdestack.h"

/* indexes into the fds[] of vds_nsexec_fds() */
#define VDS_NS_USER	0
#define VDS_NS_NET	1
#define VDS_NS_PID	2

int vds_nsexec_fds(struct vdestack *stack, int fds[3]);
int vds_nsexec_child(const int fds[3], const sigset_t *mask);
int vds_nsexec_enter(const int fds[3]);

#endif /* VDS_NSEXEC_H */
