/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pump.h - the threads that move frames between each stack's tap interface
 * and its VDE network (pump.c).
 *
 * A context (ctx.c) owns one pool of pump threads; stack.c gives each stack
 * with an interface to a pump and takes it back.  The pump's per-stack
 * state is private to pump.c.
 */
#ifndef VDS_PUMP_H
#define VDS_PUMP_H

struct vds_pumps;
struct vds_stack;

struct vds_pumps *vds_pumps_new(int spin_ns);
void vds_pumps_free(struct vds_pumps *pool);
int vds_pump_add(struct vds_pumps *pool, struct vds_stack *st);
void vds_pump_remove(struct vds_stack *st);

#endif /* VDS_PUMP_H */
