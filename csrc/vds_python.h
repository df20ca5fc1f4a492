/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vds_python.h - calls for the Python binding, which compiles the C core
 * into its extension.  Not part of the installed API.
 */
#ifndef VDS_PYTHON_H
#define VDS_PYTHON_H

#include "vdestack.h"

/*
 * Like vde_stackcmd() / vdestack_cmdv(), but a wait that a signal interrupts
 * calls interrupted(arg); if that returns non-zero the running command is
 * killed and reaped, and the call returns -1 with errno EINTR.
 * Return: exit status >= 0, or -1 with errno.
 */
int vds_stackcmd_intr(struct vdestack *stack, const char *cmdline,
		      int (*interrupted)(void *arg), void *arg);
int vds_cmdv_intr(struct vdestack *stack, char *const argv[],
		  int (*interrupted)(void *arg), void *arg);
/* the same with an environment for the commands (NULL: the caller's) */
int vds_stackcmde_intr(struct vdestack *stack, const char *cmdline, char *const envp[],
		       int (*interrupted)(void *arg), void *arg);
int vds_cmdve_intr(struct vdestack *stack, char *const argv[], char *const envp[],
		   int (*interrupted)(void *arg), void *arg);

/*
 * Whether the kernel accepts name for an interface (vde_addstack() fails
 * with EINVAL otherwise): the binding words its ValueError with it.
 * Return: 1 valid, 0 not.
 */
int vds_ifname_valid(const char *name);

/*
 * The command-line parser of vde_stackcmd() (cmdline.c), for the binding's
 * error messages: *cmdsp gets one malloc()ed block, each command's argv
 * ending with NULL and an extra NULL ending the list; free() it.
 * Return: the number of commands, or -EINVAL (nothing to run, an open
 * quote), -ENOMEM.
 */
int vds_parse_cmdline(const char *line, char ***cmdsp, int absolute);

#endif /* VDS_PYTHON_H */
