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
 * @host:	pid of the host process, whose death ends the helper
 * @spin_ns:	how long it polls for the next request after one
 */
struct vds_helper_args {
	int ctl;
	pid_t host;
	int spin_ns;
};

int vds_helper_main(void *arg);

#endif /* VDS_HELPER_H */
