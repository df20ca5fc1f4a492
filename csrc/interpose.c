// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * interpose.c - socket(2) for programs with a default stack.
 *
 * libvdestack.so defines socket(): a program linked with it (or with it
 * preloaded) gets its plain socket() calls served here, and they open in the
 * default stack once vde_default_stack() named one.  Only the C library has
 * this file; the Python extension sets its default at Python level.
 */
#include <dlfcn.h>
#include <errno.h>

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
