/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stream.h - stream mode (stream.c): a VNL "=cmd args" runs cmd, whose
 * stdin and stdout carry the stack's frames in vdestream framing.
 */
#ifndef VDS_STREAM_H
#define VDS_STREAM_H

#include <stddef.h>

struct vds_stack;
struct vds_gro;

int vds_stream_start(struct vds_stack *st, const char *cmdline);
int vds_stream_adopt(struct vds_stack *st);
void vds_stream_stop(struct vds_stack *st, int owned);
int vds_stream_send(struct vds_stack *st, const void *frame, size_t n);
int vds_stream_flush(struct vds_stack *st);
int vds_stream_pending(const struct vds_stack *st);
void vds_stream_input(struct vds_stack *st, struct vds_gro *gro, void *buf, size_t n);

#endif /* VDS_STREAM_H */
