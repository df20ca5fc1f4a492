/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pidns.h - a PID namespace per stack (pidns.c), used by the helper.
 */
#ifndef VDS_PIDNS_H
#define VDS_PIDNS_H

#include <sys/types.h>

struct vds_pidns_ctl;

pid_t vds_pidns_new(int helper_pidfd, int again, int *pidnsp,
		    struct vds_pidns_ctl **ctlp);
int vds_pidns_claim(struct vds_pidns_ctl *c);
void vds_pidns_release(struct vds_pidns_ctl *c, int handed);
void vds_pidns_poke(pid_t init);
void vds_pidns_free(struct vds_pidns_ctl *c);
int vds_pidns_for_children(int pidns);

#endif /* VDS_PIDNS_H */
