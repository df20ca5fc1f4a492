// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * ipc.c - one message with file descriptors (SCM_RIGHTS) over a socket.
 *
 * The helper process calls these after clone() in a threaded host, so they
 * make system calls and nothing else (no malloc, no locks, no stdio).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "ipc.h"

union cmsg_fds {
	char buf[CMSG_SPACE(sizeof(int) * VDS_IPC_MAXFDS)];
	struct cmsghdr align;
};

/**
 * vds_ipc_send() - send one message: a header, a payload, some fds
 * @sock:	connected SOCK_SEQPACKET socket
 * @hdr, @hlen:	the header
 * @payload, @plen:	bytes that follow it (@plen 0: none)
 * @fds, @nfds:	fds to pass (at most VDS_IPC_MAXFDS), or NULL, 0
 *
 * Retries when a signal interrupts it; never raises SIGPIPE.
 *
 * Return: bytes sent, or -errno (-ECONNRESET when the peer is gone)
 */
ssize_t vds_ipc_send(int sock, const void *hdr, size_t hlen,
		     const void *payload, size_t plen,
		     const int *fds, int nfds)
{
	struct iovec iov[2] = {
		{ (void *)hdr, hlen },
		{ (void *)payload, plen },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = plen ? 2 : 1 };
	union cmsg_fds u;
	ssize_t n;

	if (nfds < 0 || nfds > VDS_IPC_MAXFDS)
		return -EINVAL;
	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EPIPE ? -ECONNRESET : -errno;
	return n;
}

/* keep the first *nfds passed fds, close the rest */
static int take_fds(struct msghdr *msg, int *fds, int max)
{
	struct cmsghdr *c;
	int got = 0, i;

	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (i = 0; i < (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)); i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (got < max)
				fds[got++] = f;
			else
				close(f);
		}
	}
	return got;
}

/**
 * vds_ipc_recv() - receive one message and the fds it carries
 * @sock:	the socket
 * @buf, @len:	where the message goes
 * @fds:	receives up to *@nfds fds; any more are closed
 * @nfds:	in: room in @fds (0: none wanted); out: fds received
 * @flags:	recvmsg() flags: MSG_CMSG_CLOEXEC (the fds are close-on-exec
 *		from birth), MSG_DONTWAIT
 *
 * A signal is not retried here: the caller decides (-EINTR).
 *
 * Return: message bytes (0: the peer closed), or -errno; -EMSGSIZE for a
 * message longer than @len (its fds closed)
 */
ssize_t vds_ipc_recv(int sock, void *buf, size_t len, int *fds, int *nfds,
		     int flags)
{
	struct iovec iov = { buf, len };
	union cmsg_fds u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	int max = *nfds, i;
	ssize_t n;

	*nfds = 0;
	n = recvmsg(sock, &msg, flags);
	if (n < 0)
		return -errno;
	*nfds = take_fds(&msg, fds, max);
	if (msg.msg_flags & MSG_TRUNC) {
		for (i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
		return -EMSGSIZE;
	}
	return n;
}
