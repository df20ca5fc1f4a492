/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * proto.h - the wire protocol between the library and its helper process.
 *
 * Over SOCK_SEQPACKET: the library sends struct vds_req (+ payload), the
 * helper answers with struct vds_rep (+ fds in SCM_RIGHTS, see ipc.h).  One
 * request is outstanding per channel at a time.  Users: ctx.c (the client),
 * helper.c (the server), and the request builders stack.c, msocket.c, cmd.c.
 */
#ifndef VDS_PROTO_H
#define VDS_PROTO_H

#include <stdint.h>

/* largest argument vector (bytes of strings) one command may carry */
#define VDS_ARGS_MAX	65536
#define VDS_ARGC_MAX	4096
/* largest environment sent along with it (bytes of strings, count) */
#define VDS_ENV_MAX	131072
#define VDS_ENVC_MAX	4096
/* largest resolv.conf text it may carry (the stack's DNS configuration) */
#define VDS_RESOLV_MAX	4096
/* largest request payload */
#define VDS_REQ_MAX	(VDS_ARGS_MAX + VDS_ENV_MAX + VDS_RESOLV_MAX)

enum vds_op {
	VDS_OP_NEWCHAN = 1,	/* (main socket only) fd: a new channel, no reply */
	VDS_OP_ADDSTACK,	/* payload ifname ("" none); a: send netns fd too */
	VDS_OP_DELSTACK,	/* id */
	VDS_OP_SOCKET,		/* id, a b c: domain type protocol -> fd */
	VDS_OP_EXEC,		/* id, a: argc, b: envc, c: bytes of resolv.conf text
				   (0: none); payload argv, envp, text -> status */
	VDS_OP_CANCEL,		/* during EXEC: kill the command (no own reply) */
	VDS_OP_NSFDS,		/* id -> fds: user, net, PID namespace */
	VDS_OP_ADDIF,		/* id, payload ifname -> the fd of a new tap there */
	VDS_OP_LOCALIF,		/* id, payload "ifname\0NAME": join local://NAME */
};

struct vds_req {
	uint32_t op;
	int32_t id;
	int32_t a, b, c;
	uint32_t len;		/* payload bytes following the header */
};

/* the reply, also the helper's first word on the main socket */
struct vds_rep {
	int32_t ret;		/* >= 0 result, or -errno */
};

#endif /* VDS_PROTO_H */
