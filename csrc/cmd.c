// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cmd.c - commands in a stack: vde_stackcmd, vdestack_cmdv and the
 * original's vde_stack_onecmd.  The helper vforks each command inside the
 * stack (helper.c); the string is parsed by cmdline.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdline.h"
#include "ctx.h"
#include "proto.h"
#include "resolv.h"
#include "stack.h"
#include "util.h"
#include "vds_python.h"

/* bytes of a NULL-terminated string vector, or -E2BIG past max/maxc */
static ssize_t vec_size(char *const v[], size_t max, int maxc, int *countp)
{
	size_t len = 0;
	int n;

	for (n = 0; v[n]; n++) {
		len += strlen(v[n]) + 1;
		if (len > max || n >= maxc)
			return -E2BIG;
	}
	*countp = n;
	return len;
}

static void vec_copy(char *q, char *const v[])
{
	size_t l;

	for (; *v; v++, q += l) {
		l = strlen(*v) + 1;
		memcpy(q, *v, l);
	}
}

/**
 * run_argv_st() - run one command in a stack and wait for it
 * @h:		the stack's handle (its DNS configuration, seen by the command
 *		as /etc/resolv.conf)
 * @st:		the stack
 * @argv:	argument vector, argv[0] an absolute path
 * @envp:	its environment; NULL: the caller's environment now
 * @interrupted, @arg:	see struct vds_call
 *
 * The environment goes with each request: a variable set between two
 * commands is seen by the second.
 *
 * Return: exit status (127: could not execute, 128+N: signal N), or -errno
 * (-E2BIG: past VDS_ARGS_MAX bytes or VDS_ARGC_MAX strings of arguments, or
 * VDS_ENV_MAX bytes or VDS_ENVC_MAX strings of environment)
 */
static int run_argv_st(struct vdestack *h, struct vds_stack *st, char *const argv[],
		       char *const envp[],
		       int (*interrupted)(void *), void *arg)
{
	struct vds_call call = {
		.req = { .op = VDS_OP_EXEC, .id = st->id },
		.interrupted = interrupted, .arg = arg,
	};
	ssize_t alen, elen = 0;
	size_t rlen = 0;
	char *payload, *resolv = NULL;
	int argc, envc = 0, ret;

	if (!argv || !argv[0] || argv[0][0] != '/')
		return -EINVAL;
	if (!envp)
		envp = environ;
	alen = vec_size(argv, VDS_ARGS_MAX, VDS_ARGC_MAX, &argc);
	if (alen < 0)
		return alen;
	if (envp)
		elen = vec_size(envp, VDS_ENV_MAX, VDS_ENVC_MAX, &envc);
	if (elen < 0)
		return elen;
	/* a stack with DNS configuration: the command sees it in resolv.conf */
	ret = vds_resolv_private(h, &resolv);
	if (ret < 0)
		return ret;
	if (resolv)
		rlen = strlen(resolv);
	if (rlen > VDS_RESOLV_MAX) {	/* cannot happen: 8 servers, a domain */
		free(resolv);
		return -E2BIG;
	}
	payload = malloc(alen + elen + rlen + 1);
	if (!payload) {
		free(resolv);
		return -ENOMEM;
	}
	vec_copy(payload, argv);
	if (envp)
		vec_copy(payload + alen, envp);
	if (rlen)
		memcpy(payload + alen + elen, resolv, rlen);
	free(resolv);
	call.req.a = argc;
	call.req.b = envc;
	call.req.c = rlen;
	call.req.len = alen + elen + rlen;
	call.payload = payload;
	ret = vds_ctx_call(st->ctx, &call);
	free(payload);
	return ret;
}

static int run_line(struct vdestack *h, const char *line, char *const envp[],
		    int (*interrupted)(void *), void *arg)
{
	struct vds_stack *st;
	char **cmds, **c;
	int ret = vds_parse_cmdline(line, &cmds, 1);

	if (ret < 0)
		return ret;
	st = vds_stack_get(h, &ret);
	if (!st) {
		free(cmds);
		return ret;
	}
	for (c = cmds; *c; ) {
		ret = run_argv_st(h, st, c, envp, interrupted, arg);
		if (ret != 0)
			break;
		while (*c)
			c++;
		c++;
	}
	vds_stack_put(st);
	free(cmds);
	return ret;
}

static int run_argv(struct vdestack *h, char *const argv[], char *const envp[],
		    int (*interrupted)(void *), void *arg)
{
	int ret;
	struct vds_stack *st = vds_stack_get(h, &ret);

	if (!st)
		return ret;
	ret = run_argv_st(h, st, argv, envp, interrupted, arg);
	vds_stack_put(st);
	return ret;
}

static int edge(int ret)
{
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

/**
 * vde_stackcmd() - run ';'-separated commands in a stack
 * @stack:	the stack
 * @stackcmd:	"/full/path args; /full/path args"
 *
 * Each command runs with CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE
 * and CAP_NET_BROADCAST as ambient capabilities and no other.
 *
 * Return: 0 if every command exited with 0, else the first non-zero status
 * (127: could not be executed, 128+N: killed by signal N; later commands do
 * not run); -1 with errno EINVAL for a NULL stack, an empty line, a relative
 * path or unbalanced quotes (then nothing runs), EBADF for a deleted stack.
 */
VDS_EXPORT int vde_stackcmd(struct vdestack *stack, char *stackcmd)
{
	return edge(run_line(stack, stackcmd, NULL, NULL, NULL));
}

/**
 * vdestack_cmdv() - run one command, given as an argument vector
 * @stack:	the stack
 * @argv:	NULL-terminated, argv[0] an absolute path
 *
 * Return: as vde_stackcmd()
 */
VDS_EXPORT int vdestack_cmdv(struct vdestack *stack, char *const argv[])
{
	return edge(run_argv(stack, argv, NULL, NULL, NULL));
}

/**
 * vdestack_cmdve() - run one command with an explicit environment
 * @stack:	the stack
 * @argv:	NULL-terminated, argv[0] an absolute path
 * @envp:	NULL-terminated environment; NULL: the caller's environment
 *		at the time of the call
 *
 * Return: as vdestack_cmdv(); -1 with errno E2BIG when the arguments or the
 * environment exceed the limits of vdestack_cmdve(3)
 */
VDS_EXPORT int vdestack_cmdve(struct vdestack *stack, char *const argv[], char *const envp[])
{
	return edge(run_argv(stack, argv, envp, NULL, NULL));
}

/**
 * vde_stack_onecmd() - the original library's exported one-command call
 * @argv:	argument vector
 * @stack:	the stack
 *
 * Return: as vdestack_cmdv()
 */
VDS_EXPORT int vde_stack_onecmd(char **argv, void *stack)
{
	return edge(run_argv(stack, argv, NULL, NULL, NULL));
}

/**
 * vds_stackcmd_intr() - vde_stackcmd() that a signal can cancel
 * @stack, @cmdline:	as vde_stackcmd()
 * @interrupted, @arg:	asked on EINTR; non-zero kills the command
 *
 * Return: as vde_stackcmd(); -1 errno EINTR when cancelled
 */
int vds_stackcmd_intr(struct vdestack *stack, const char *cmdline,
		      int (*interrupted)(void *arg), void *arg)
{
	return edge(run_line(stack, cmdline, NULL, interrupted, arg));
}

/**
 * vds_cmdv_intr() - vdestack_cmdv() that a signal can cancel
 * @stack, @argv:	as vdestack_cmdv()
 * @interrupted, @arg:	asked on EINTR; non-zero kills the command
 *
 * Return: as vdestack_cmdv(); -1 errno EINTR when cancelled
 */
int vds_cmdv_intr(struct vdestack *stack, char *const argv[],
		  int (*interrupted)(void *arg), void *arg)
{
	return edge(run_argv(stack, argv, NULL, interrupted, arg));
}

/**
 * vds_stackcmde_intr() - vds_stackcmd_intr() with an explicit environment
 * @stack, @cmdline:	as vde_stackcmd()
 * @envp:	environment of every command, NULL: the caller's
 * @interrupted, @arg:	asked on EINTR; non-zero kills the command
 *
 * Return: as vde_stackcmd(); -1 errno EINTR when cancelled
 */
int vds_stackcmde_intr(struct vdestack *stack, const char *cmdline, char *const envp[],
		       int (*interrupted)(void *arg), void *arg)
{
	return edge(run_line(stack, cmdline, envp, interrupted, arg));
}

/**
 * vds_cmdve_intr() - vdestack_cmdve() that a signal can cancel
 * @stack, @argv, @envp:	as vdestack_cmdve()
 * @interrupted, @arg:	asked on EINTR; non-zero kills the command
 *
 * Return: as vdestack_cmdve(); -1 errno EINTR when cancelled
 */
int vds_cmdve_intr(struct vdestack *stack, char *const argv[], char *const envp[],
		   int (*interrupted)(void *arg), void *arg)
{
	return edge(run_argv(stack, argv, envp, interrupted, arg));
}
