/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * resolv.h - name resolution in a stack (c-ares over the stack's sockets).
 */
#ifndef VDS_RESOLV_H
#define VDS_RESOLV_H

struct vdestack;
struct addrinfo;

int vds_libc_getaddrinfo(const char *node, const char *service,
			 const struct addrinfo *hints, struct addrinfo **res);
int vds_getaddrinfo(struct vdestack *stack, const char *node, const char *service,
		    const struct addrinfo *hints, struct addrinfo **res);
int vds_resolvconf(struct vdestack *stack, char **out);
int vds_resolv_private(struct vdestack *stack, char **out);

#endif /* VDS_RESOLV_H */
