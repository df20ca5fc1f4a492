/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pidns.h - a PID namespace per stack (pidns.c), used by the helper.
 */
#ifndef VDS_PIDNS_H
#define VDS_PIDNS_H

#include <sys/types.h>

pid_t vds_pidns_new(int helper_pidfd, int *pidnsp);
int vds_pidns_for_children(int pidns);

#endif /* VDS_PIDNS_H */
