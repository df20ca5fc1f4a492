/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vds.h - what tso.c and gro.c still need from the rest of the core: the
 * stack they count into (stack.h) and their own declarations (offload.h).
 * Nothing else includes it; it goes when the offloads become pure
 * functions over buffers (issue 8).
 */
#ifndef VDS_H
#define VDS_H

#include "util.h"
#include "stack.h"
#include "offload.h"

#endif /* VDS_H */
