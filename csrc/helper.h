/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * helper.h - the helper process's entry point, for ctx.c, which clones it.
 */
#ifndef VDS_HELPER_H
#define VDS_HELPER_H

#include <sys/types.h>

/**
 * struct vds_helper_args - what the helper process starts from
 * @ctl:	its end of the main control socket
 * @hostfd:	pidfd of the host process, whose death ends the helper
 * @uid, @gid:	the host's effective ids, mapped to themselves in the
 *		helper's user namespace
 * @pidns:	1 if the helper is the init of a new PID namespace (cloned
 *		with CLONE_NEWPID), where the stacks' PID namespaces go
 * @spin_ns:	how long it polls for the next request after one
 *
 * The helper is cloned into a new user namespace (CLONE_NEWUSER).
 */
struct vds_helper_args {
	int ctl;
	int hostfd;
	uid_t uid;
	gid_t gid;
	int pidns;
	int spin_ns;
};

int vds_helper_main(void *arg);

#endif /* VDS_HELPER_H */
