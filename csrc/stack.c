// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * stack.c - the life of a stack: vde_addstack, vde_delstack, its handle,
 * vdestack_stats, the default stack.
 *
 * A struct vdestack is a small handle that is never given back to malloc:
 * a deleted one stays recognisably dead (EBADF, not a crash) until a long
 * quarantine lets it be reused.  The state behind it is reference counted,
 * so a call in progress keeps it alive across a concurrent vde_delstack.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/if_tun.h>

#include "ctx.h"
#include "local.h"
#include "netinfo.h"
#include "proto.h"
#include "pump.h"
#include "stack.h"
#include "reclaim.h"
#include "stream.h"
#include "util.h"
#include "vds_python.h"

#define VDS_VERSION "1.0.0"

#define H_LIVE		0x76647374u
#define H_DEAD		0x64656164u
#define H_QUARANTINE	1024

struct vdestack {
	uint32_t magic;
	struct vds_stack *st;
	struct vdestack *next;	/* free list */
};

struct vdestack *vds_default;

static struct vdestack *free_head, *free_tail;
static int nfree;

/* under vds_glock */
static struct vdestack *handle_new(struct vds_stack *st)
{
	struct vdestack *h;

	if (nfree > H_QUARANTINE) {
		h = free_head;
		free_head = h->next;
		if (!free_head)
			free_tail = NULL;
		nfree--;
	} else {
		h = malloc(sizeof(*h));
		if (!h)
			return NULL;
	}
	h->magic = H_LIVE;
	h->st = st;
	h->next = NULL;
	return h;
}

/* under vds_glock */
static void handle_free(struct vdestack *h)
{
	h->magic = H_DEAD;
	h->st = NULL;
	h->next = NULL;
	if (free_tail)
		free_tail->next = h;
	else
		free_head = h;
	free_tail = h;
	nfree++;
}

static struct vds_stack *stack_ref(struct vdestack *h, int *err, int touch)
{
	struct vds_stack *st = NULL;

	if (!h) {
		*err = -EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&vds_glock);
	if (h->magic == H_LIVE) {
		st = h->st;
		st->refs++;
		st->touched |= touch;
	} else {
		*err = -EBADF;
	}
	pthread_mutex_unlock(&vds_glock);
	return st;
}

/**
 * vds_stack_get() - the live state behind a handle, referenced, for a call
 * that may use its namespace (which then no longer counts as pristine)
 * @h:		handle from vde_addstack()
 * @err:	set to -EINVAL (NULL) or -EBADF (deleted) on failure
 *
 * Return: the state, to be released with vds_stack_put(), or NULL
 */
struct vds_stack *vds_stack_get(struct vdestack *h, int *err)
{
	return stack_ref(h, err, 1);
}

/* vds_stack_get() for a call that only reads the library's own state */
struct vds_stack *vds_stack_peek(struct vdestack *h, int *err)
{
	return stack_ref(h, err, 0);
}

/*
 * The network side of one interface, in the process that owns it: no more
 * frames, the VDE connection closed (which unlinks ptp/switch paths), the
 * stream command ended.  Idempotent.
 */
static void iface_unplug(struct vds_stack *st)
{
	vds_pump_remove(st);
	if (st->conn) {
		vde_close(st->conn);
		st->conn = NULL;
		st->datafd = st->ctlfd = -1;
	}
	vds_stream_stop(st, 1);
}

/*
 * Every interface of a stack unplugged, at vde_delstack(), even while
 * another thread's call (a long command) still holds the stack: that call
 * needs only the helper.  vdestack_addif() inserts at the head of @more
 * (under vds_glock) and nodes go only with the stack, so the list behind
 * the head read here stays as it is; one added meanwhile goes with the
 * stack itself (stack_free()).
 */
static void stack_unplug(struct vds_stack *st)
{
	struct vds_stack *x;

	pthread_mutex_lock(&vds_glock);
	x = st->more;
	pthread_mutex_unlock(&vds_glock);
	for (; x; x = x->more)
		iface_unplug(x);
	iface_unplug(st);
}

/* an interface's frames stop, its VDE side and tap close */
static void iface_release(struct vds_stack *st, int owned)
{
	if (owned) {
		iface_unplug(st);
	} else if (st->conn) {
		/* a forked child: the connection is the parent's */
		if (st->datafd >= 0)
			close(st->datafd);
		if (st->ctlfd >= 0 && st->ctlfd != st->datafd)
			close(st->ctlfd);
	}
	vds_stream_stop(st, owned);
	if (st->tap >= 0)
		close(st->tap);
}

/*
 * Also a half-built stack: every field starts empty (-1, NULL), so a
 * constructor's failure path is this one call.
 */
static void stack_free(struct vds_stack *st)
{
	int owned = !st->ctx || vds_ctx_owned(st->ctx);

	while (st->more) {	/* interfaces added by vdestack_addif() */
		struct vds_stack *x = st->more;

		st->more = x->more;
		iface_release(x, owned);
		free(x);
	}
	iface_release(st, owned);
	if (st->netns >= 0)
		close(st->netns);
	if (st->id >= 0 && owned) {
		/*
		 * A namespace no call ever used (nothing but lo and the tap,
		 * down) may be kept by the helper for the next vde_addstack():
		 * a program that creates and deletes stacks in turn does not
		 * pay the kernel's namespace setup each time.
		 */
		int pristine = !st->touched && (st->kind == VDS_KIND_VDE ||
						 st->kind == VDS_KIND_NONE);
		struct vds_call call = {
			.req = { .op = VDS_OP_DELSTACK, .id = st->id, .a = pristine },
		};

		vds_ctx_call(st->ctx, &call);
	}
	if (st->ctx)
		vds_ctx_put(st->ctx);
	free(st);
}

/**
 * vds_stack_put() - drop a reference taken by vds_stack_get()
 * @st:		the state; the last reference frees it
 */
void vds_stack_put(struct vds_stack *st)
{
	int last;

	pthread_mutex_lock(&vds_glock);
	last = --st->refs == 0;
	pthread_mutex_unlock(&vds_glock);
	if (last)
		stack_free(st);
}

/* datafd that is a socket: make it non-blocking and drain it per wake-up */
static void classify_datafd(struct vds_stack *st)
{
	struct stat sb;
	int type;
	socklen_t l = sizeof(type);

	if (st->datafd < 0 || fstat(st->datafd, &sb) < 0 || !S_ISSOCK(sb.st_mode))
		return;
	if (getsockopt(st->datafd, SOL_SOCKET, SO_TYPE, &type, &l) < 0)
		return;
	if (fcntl(st->datafd, F_SETFL, fcntl(st->datafd, F_GETFL) | O_NONBLOCK) < 0)
		return;
	st->data_drain = 1;
	st->data_dgram = type == SOCK_DGRAM;
}

/**
 * vds_ifname_valid() - may the kernel name an interface so?
 * @name:	the name
 *
 * The kernel's rule (dev_valid_name()): 1 to 15 bytes, not "." or "..",
 * no '/', ':' or white space (its isspace(), which counts 0xa0 too).
 * vde_addstack() checks it first, so a bad name fails before anything
 * starts; the Python binding asks it to word its ValueError.
 *
 * Return: 1 if valid, else 0
 */
int vds_ifname_valid(const char *name)
{
	size_t len = strnlen(name, IFNAMSIZ);
	const unsigned char *p;

	if (len == 0 || len == IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	for (p = (const unsigned char *)name; *p; p++)
		if (*p == '/' || *p == ':' || *p == ' ' || (*p >= '\t' && *p <= '\r') ||
		    *p == 0xa0)
			return 0;
	return 1;
}

/* what the interface connects to: nothing, a command, a VDE network */
static int stack_connect(struct vds_stack *st, const char *vnl)
{
	char *copy;
	int ret;

	if (!vnl || !vnl[0]) {
		st->kind = VDS_KIND_NONE;
		return 0;
	}
	if (vnl[0] == '=') {
		st->kind = VDS_KIND_STREAM;
		return vds_stream_start(st, vnl + 1);
	}
	if (vds_local_is(vnl)) {	/* the helper connects it (stack_new) */
		st->kind = VDS_KIND_LOCAL;
		return 0;
	}
	/* a switch:// left by a dead owner is taken back, a live one never */
	vds_reclaim_stale(vnl);
	copy = strdup(vnl);
	if (!copy)
		return -ENOMEM;
	st->kind = VDS_KIND_VDE;
	errno = 0;
	st->conn = vde_open(copy, "vdestack", NULL);
	ret = errno ? -errno : -EINVAL;
	free(copy);
	if (!st->conn)
		return ret;
	st->datafd = vde_datafd(st->conn);
	st->ctlfd = vde_ctlfd(st->conn);
	classify_datafd(st);
	return 0;
}

/* the helper makes the namespace (and the tap); we take their fds */
static int stack_attach(struct vds_stack *st)
{
	int fds[2], nfds = 0, wantns, ret;
	int tap = st->kind == VDS_KIND_VDE || st->kind == VDS_KIND_STREAM;
	struct vds_call call = {
		.req = { .op = VDS_OP_ADDSTACK },
		.payload = st->ifname, .fds = fds, .cloexec = 1,
	};

	ret = vds_ctx_get(&st->ctx);
	if (ret < 0) {
		st->ctx = NULL;
		return ret;
	}
	wantns = vds_ctx_fastpath(st->ctx, -1);
	call.req.a = wantns;
	if (tap)
		call.req.len = strlen(st->ifname);
	call.nfds = tap + wantns;
	ret = vds_ctx_call(st->ctx, &call);
	if (ret < 0)
		return ret;
	st->id = ret;
	if (tap)
		st->tap = fds[nfds++];
	if (wantns) {
		st->netns = fds[nfds++];
		if (!vds_ctx_fastpath(st->ctx, st->netns)) {
			close(st->netns);
			st->netns = -1;
		}
	}
	return 0;
}

static int stack_new(const char *vnl, const char *ifname, struct vdestack **out)
{
	struct vds_stack *st = calloc(1, sizeof(*st));
	const char *name = ifname ? ifname : "vde0";
	struct vdestack *h;
	int ret;

	if (!st)
		return -ENOMEM;
	st->refs = 1;
	st->id = -1;
	st->netns = st->tap = st->datafd = st->ctlfd = st->sfd = -1;
	st->spid = -1;
	ret = -EINVAL;
	if (!vds_ifname_valid(name))
		goto fail;
	memcpy(st->ifname, name, strlen(name) + 1);
	ret = stack_connect(st, vnl);
	if (ret == 0)
		ret = stack_attach(st);
	if (ret == 0 && st->kind == VDS_KIND_LOCAL)
		ret = vds_local_addif(st, vnl, st->ifname, NULL);
	if (ret == 0 && st->kind == VDS_KIND_STREAM)
		ret = vds_stream_adopt(st);
	if (ret == 0 && st->tap >= 0)
		ret = vds_pump_add(st->ctx->pumps, st);
	if (ret < 0)
		goto fail;
	pthread_mutex_lock(&vds_glock);
	h = handle_new(st);
	pthread_mutex_unlock(&vds_glock);
	ret = -ENOMEM;
	if (!h)
		goto fail;
	*out = h;
	return 0;
fail:
	stack_free(st);
	return ret;
}

/**
 * vde_addstack() - a new network stack
 * @vdenet:	NULL or "": loopback only; "=cmd args": stream mode; a VNL
 * @ifname:	its interface, NULL for "vde0" (at most 15 bytes)
 *
 * Return: the stack, or NULL with errno set; nothing is left behind then.
 */
VDS_EXPORT struct vdestack *vde_addstack(char *vdenet, char *ifname)
{
	struct vdestack *h = NULL;
	int ret = stack_new(vdenet, ifname, &h);

	if (ret < 0) {
		errno = -ret;
		return NULL;
	}
	return h;
}

/**
 * vde_delstack() - delete a stack: stop its frames, close its VDE
 * connection, end its namespace (and the helper with the last stack)
 * @stack:	the stack; NULL or an already deleted one is ignored
 *
 * Sockets opened in the stack stay usable until closed, but carry no
 * traffic any more.  In a forked child this releases only the child's copy.
 */
VDS_EXPORT void vde_delstack(struct vdestack *stack)
{
	struct vds_stack *st = NULL;
	struct vdestack *expect = stack;

	if (!stack)
		return;
	vds_netinfo_release(stack);	/* DHCP release, renewals and DNS state */
	__atomic_compare_exchange_n(&vds_default, &expect, NULL, 0,
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&vds_glock);
	if (stack->magic == H_LIVE) {
		st = stack->st;
		handle_free(stack);
	}
	pthread_mutex_unlock(&vds_glock);
	if (!st) {
		errno = EBADF;
		return;
	}
	if (!st->ctx || vds_ctx_owned(st->ctx))
		stack_unplug(st);
	vds_stack_put(st);
}

/**
 * vdestack_stats() - frame counters of a stack
 * @stack:	the stack
 * @stats:	filled in
 *
 * Return: 0, or -1 with errno EINVAL (NULL argument) or EBADF (deleted)
 */
VDS_EXPORT int vdestack_stats(struct vdestack *stack, struct vdestack_stats *stats)
{
	int ret;
	struct vds_stack *st;

	if (!stats) {
		errno = EINVAL;
		return -1;
	}
	st = vds_stack_peek(stack, &ret);
	if (!st) {
		errno = -ret;
		return -1;
	}
	memcpy(stats, &st->stats, sizeof(*stats));
	vds_stack_put(st);
	return 0;
}

/**
 * vde_default_stack() - make plain socket(2) calls open in @stack
 * @stack:	the stack, or NULL for the host's own network again
 */
VDS_EXPORT void vde_default_stack(struct vdestack *stack)
{
	__atomic_store_n(&vds_default, stack, __ATOMIC_SEQ_CST);
}

/**
 * vdestack_version() - the library version
 *
 * Return: a static string such as "1.0.0"
 */
VDS_EXPORT const char *vdestack_version(void)
{
	return VDS_VERSION;
}

/* ------------------------------------------------------- more interfaces --- */

/**
 * vds_addif() - one more interface for a stack, on another VDE network
 * @stack:	the stack
 * @vnl:	the VDE network of the new interface (a VNL, or "=cmd" for a
 *		stream command, as for vde_addstack())
 * @ifname:	its name, NULL for the first free "vdeN"
 * @made:	receives the name it got, when not NULL
 *
 * The interface gets its own tap in the stack's namespace, its own VDE
 * connection and its own place in a pump thread; it goes with the stack.
 *
 * Return: 0, or -errno (EINVAL: bad name or empty VNL, EBUSY or EEXIST:
 * the stack has an interface of that name, ENOTSUP: in a forked child,
 * EBADF: deleted stack; the errors of vde_addstack() for the VNL)
 */
int vds_addif(struct vdestack *stack, const char *vnl, const char *ifname,
	      char made[IFNAMSIZ])
{
	const char *name = ifname ? ifname : "vde%d";	/* the kernel picks N */
	struct vds_stack *st, *x = NULL;
	struct vds_call call = { .req = { .op = VDS_OP_ADDIF }, .cloexec = 1, .nfds = 1 };
	struct ifreq ifr;
	int ret, tap = -1;

	st = vds_stack_get(stack, &ret);
	if (!st)
		goto out;
	ret = -EINVAL;
	if (!vnl || !vnl[0] || (ifname && (!vds_ifname_valid(ifname) || strchr(ifname, '%'))))
		goto out;
	ret = -ENOTSUP;		/* a forked child has no pump of its own */
	if (!vds_ctx_owned(st->ctx) || !st->ctx->pumps)
		goto out;
	ret = -ENOMEM;
	x = calloc(1, sizeof(*x));
	if (!x)
		goto out;
	x->id = -1;
	x->netns = x->tap = x->datafd = x->ctlfd = x->sfd = -1;
	x->spid = -1;
	ret = stack_connect(x, vnl);
	if (ret < 0)
		goto out;
	x->ctx = st->ctx;	/* borrowed: the stack holds the reference */
	if (x->kind == VDS_KIND_LOCAL) {
		/* a veth on the process's local://NAME bridge: no tap, no pump */
		ret = vds_local_addif(st, vnl, name, x->ifname);
		if (ret < 0)
			goto out;
	} else {
		call.req.id = st->id;
		call.req.len = strlen(name);
		call.payload = name;
		call.fds = &tap;
		ret = vds_ctx_call(st->ctx, &call);
		if (ret < 0)
			goto out;
		x->tap = tap;
		memset(&ifr, 0, sizeof(ifr));
		if (ioctl(x->tap, TUNGETIFF, &ifr) < 0) {
			ret = -errno;
			goto out;
		}
		memcpy(x->ifname, ifr.ifr_name, IFNAMSIZ - 1);
		ret = vds_pump_add(st->ctx->pumps, x);
		if (ret < 0)
			goto out;
	}
	if (made)
		memcpy(made, x->ifname, IFNAMSIZ);
	pthread_mutex_lock(&vds_glock);
	x->more = st->more;
	st->more = x;
	pthread_mutex_unlock(&vds_glock);
	x = NULL;
	ret = 0;
out:
	if (x) {
		/* the helper made the tap persistent: let it go with its fd */
		if (x->tap >= 0)
			ioctl(x->tap, TUNSETPERSIST, 0);
		iface_release(x, 1);
		free(x);
	}
	if (st)
		vds_stack_put(st);
	return ret;
}

/**
 * vdestack_addif() - add an interface on another VDE network to a stack
 * @stack:	the stack
 * @vnl:	its VDE network
 * @ifname:	its name, NULL for the first free "vdeN"
 *
 * Return: 0, or -1 with errno (see vds_addif())
 */
VDS_EXPORT int vdestack_addif(struct vdestack *stack, const char *vnl, const char *ifname)
{
	int ret = vds_addif(stack, vnl, ifname, NULL);

	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return 0;
}

/**
 * vds_stack_first_ifname() - the name of a stack's first interface
 * @stack:	the stack
 * @name:	receives it; "" for a stack without any interface
 *
 * The first is the one vde_addstack() made, else the first one added.
 *
 * Return: 0, or -errno (-EINVAL, -EBADF)
 */
int vds_stack_first_ifname(struct vdestack *stack, char name[IFNAMSIZ])
{
	struct vds_stack *st, *x;
	int err = 0;

	st = vds_stack_peek(stack, &err);
	if (!st)
		return err;
	name[0] = '\0';
	pthread_mutex_lock(&vds_glock);
	if (st->kind != VDS_KIND_NONE) {
		memcpy(name, st->ifname, IFNAMSIZ);
	} else {
		for (x = st->more; x && x->more; x = x->more)
			;	/* newest first: the last one came first */
		if (x)
			memcpy(name, x->ifname, IFNAMSIZ);
	}
	pthread_mutex_unlock(&vds_glock);
	vds_stack_put(st);
	return 0;
}
