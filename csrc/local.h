/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * local.h - local://NAME (local.c): a layer-2 network private to one
 * process, moved by the kernel.  Every stack of the process that opens
 * local://NAME gets a veth interface whose peer is a port of one bridge;
 * the bridge lives in a network namespace of its own that the helper
 * creates with the first such stack and releases with the last one.  No
 * frame goes through the pump.
 *
 * Two halves: the library's (vds_local_is, vds_local_addif: a request to
 * the helper) and the helper's (vds_lnet_*, async-signal-safe: system
 * calls only, memory from mmap).
 */
#ifndef VDS_LOCAL_H
#define VDS_LOCAL_H

#include <stddef.h>
#include <net/if.h>

#define VDS_LOCAL_PREFIX	"local://"
#define VDS_LOCAL_NAME_MAX	255	/* bytes of NAME */

struct vds_stack;
struct vds_lnets;

/* library side */
int vds_local_is(const char *vnl);
int vds_local_addif(struct vds_stack *st, const char *vnl, const char *ifname,
		    char made[IFNAMSIZ]);

/* helper side */
int vds_lnet_join(struct vds_lnets **tabp, const char *name, size_t namelen,
		  int id, int stackns, const char *ifname);
void vds_lnet_leave(struct vds_lnets *tab, int id);

#endif /* VDS_LOCAL_H */
