// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * interpose.c - socket(2) and getaddrinfo(3) for programs with a default stack.
 *
 * libvdestack.so defines socket(): a program linked with it (or with it
 * preloaded) gets its plain socket() calls served here, and they open in the
 * default stack once vde_default_stack() named one; its getaddrinfo()
 * calls are then resolved with the default stack's DNS servers.  Only the
 * C library has this file; the Python extension sets its default at Python
 * level.
 */
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>

#include "resolv.h"
#include "stack.h"
#include "util.h"

typedef int (*socket_fn)(int, int, int);

static socket_fn next_socket(void)
{
	static socket_fn next;
	socket_fn f = __atomic_load_n(&next, __ATOMIC_ACQUIRE);

	if (!f) {
		/* another interposer further down the chain, or libc */
		f = (socket_fn)dlsym(RTLD_NEXT, "socket");
		__atomic_store_n(&next, f, __ATOMIC_RELEASE);
	}
	return f;
}

/**
 * socket() - socket(2), in the default stack if there is one
 * @domain, @type, @protocol:	as for socket(2)
 *
 * Return: the socket, or -1 with errno
 */
VDS_EXPORT int socket(int domain, int type, int protocol)
{
	struct vdestack *d = __atomic_load_n(&vds_default, __ATOMIC_ACQUIRE);
	socket_fn f;

	if (d)
		return vde_msocket(d, domain, type, protocol);
	f = next_socket();
	if (f)
		return f(domain, type, protocol);
	return vds_sys_socket(domain, type, protocol);
}

/**
 * getaddrinfo() - getaddrinfo(3), with the default stack's DNS servers if
 * there is a default stack
 * @node, @service, @hints, @res:	as for getaddrinfo(3)
 *
 * With a default stack, names are resolved as vdestack_getaddrinfo() does
 * (the stack's servers, over its sockets; never the host's resolver).  The
 * list has the C library's layout, so freeaddrinfo(3) frees it.
 *
 * Return: 0 or an EAI_* code
 */
VDS_EXPORT int getaddrinfo(const char *node, const char *service,
			   const struct addrinfo *hints, struct addrinfo **res)
{
	struct vdestack *d = __atomic_load_n(&vds_default, __ATOMIC_ACQUIRE);

	if (d)
		return vdestack_getaddrinfo(d, node, service, hints, res);
	return vds_libc_getaddrinfo(node, service, hints, res);
}
