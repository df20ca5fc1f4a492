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
#include "nsfds.h"

int vds_nsexec_fds(struct vdestack *stack, int fds[VDS_NS_COUNT]);
int vds_nsexec_child(const int fds[VDS_NS_COUNT], const sigset_t *mask, int rawfork,
		     const char *resolv);
int vds_nsexec_enter(const int fds[VDS_NS_COUNT], const char *resolv);

#endif /* VDS_NSEXEC_H */
