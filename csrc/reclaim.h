/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * reclaim.h - endpoints left behind by a dead owner (reclaim.c).
 */
#ifndef VDS_RECLAIM_H
#define VDS_RECLAIM_H

int vds_reclaim_stale(const char *vnl);

#endif /* VDS_RECLAIM_H */
