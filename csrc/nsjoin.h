/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsjoin.h - what a program gets when it joins a stack, the same for
 * vde_stackcmd()'s commands (helper.c) and vdestack_spawn()'s programs
 * (nsexec.c): the four network capabilities and the stack's resolv.conf.
 * System calls only (nsjoin.c): safe after fork/vfork in a threaded host.
 */
#ifndef VDS_NSJOIN_H
#define VDS_NSJOIN_H

#include <stddef.h>
#include <linux/capability.h>

/* the capabilities a program in a stack keeps, as vde_stackcmd's commands */
#define VDS_NET_CAPS ((1ULL << CAP_NET_ADMIN) | (1ULL << CAP_NET_RAW) | \
		      (1ULL << CAP_NET_BIND_SERVICE) | (1ULL << CAP_NET_BROADCAST))

int vds_caps_bound(int lastcap);
int vds_caps_net(void);
void vds_resolv_mount(const char *text, size_t len);

#endif /* VDS_NSJOIN_H */
