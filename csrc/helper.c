// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * helper.c - the process that lives inside the stacks' user namespace.
 *
 * It is cloned (without CLONE_VM) from a host that may run many threads, so
 * from its first instruction to its exit it only makes system calls: no
 * malloc, no stdio, no locks, nothing that another host thread could have
 * left half-done.  Memory it needs comes from mmap().
 *
 * One helper owns every network namespace of its host: it creates them with
 * unshare(CLONE_NEWNET), keeps their fds, setns()es between them to open
 * sockets and interfaces, and vforks the commands that run in them.
 *
 * It is cloned into a new user namespace and, where the kernel allows, a new
 * PID namespace whose init it is: each stack gets a PID namespace inside
 * that one on its first command (pidns.c), so that nothing a command starts
 * outlives its stack, and when the helper dies the kernel ends every
 * process of every stack.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "helper.h"
#include "ipc.h"
#include "local.h"
#include "mgrow.h"
#include "nsjoin.h"
#include "pidns.h"
#include "proto.h"
#include "spin.h"
#include "util.h"
#include "vdestack.h"

#define H_MAIN		1
#define H_CHAN		2
#define H_SIGCHLD	3
#define H_HOST		4

struct hchan {
	int fd;			/* -1: free slot */
	pid_t pid;		/* command running for this channel, or -1 */
	int sid;		/* the stack it runs in */
};

/* per stack, beside its netns fd */
struct hstack {
	int pidns;		/* its PID namespace, -1 until the first command */
	pid_t init;		/* that namespace's init (our child), -1 none */
	struct vds_pidns_ctl *ctl;	/* shared with that init (pidns.c) */
	int inits;		/* inits it had: from the second on they linger */
	int ntaps;		/* taps opened in it (ADDSTACK, ADDIF) */
	char ifname[IFNAMSIZ];	/* the tap ADDSTACK made, "" none */
};

/* the helper's whole state; lives on its own stack */
struct helper {
	int ctl, ep, sigfd, hostfd;
	int *netns;		/* id -> namespace fd, -1 free */
	int nnetns;
	struct hstack *stk;	/* id -> what else the helper keeps of it */
	struct hchan *chan;
	int nchan;
	int curns;		/* id the helper is in now, -1: its first one */
	int lastcap;
	int selffd;		/* pidfd of the helper itself */
	int ownpid;		/* fd of its own PID namespace; -1: none of ours */
	int curpid;		/* id whose PID namespace children go to, -1 own */
	unsigned char *buf;	/* request buffer */
	char **argv;
	char **envp;
	struct vds_lnets *lnets;	/* local:// networks (local.c), or NULL */
	int spare;		/* a deleted stack's pristine namespace, or -1 */
	char spare_if[IFNAMSIZ];	/* ... and the name of its tap, "" none */
};

/* a command leads its own process group: end it with what it started */
static void h_kill(pid_t pid)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
}

/* the reply: ret >= 0 or -errno, and fds */
static int h_send(int fd, int ret, const int *fds, int nfds)
{
	struct vds_rep rep = { .ret = ret };
	ssize_t n = vds_ipc_send(fd, &rep, sizeof(rep), NULL, 0, fds, nfds);

	return n < 0 ? (int)n : 0;
}

/* receive one message without waiting; *fdp gets a passed fd (or -1) */
static ssize_t h_recv(int fd, void *buf, size_t len, int *fdp)
{
	int nfds;
	ssize_t n;

	do {
		nfds = 1;
		n = vds_ipc_recv(fd, buf, len, fdp, &nfds,
				 MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (n == -EINTR);
	if (nfds == 0)
		*fdp = -1;
	return n;
}

static int h_epoll_add(struct helper *h, int fd, uint32_t tag, uint32_t idx)
{
	struct epoll_event ev = {
		.events = EPOLLIN,
		.data.u64 = ((uint64_t)tag << 32) | idx,
	};

	return epoll_ctl(h->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int h_chan_add(struct helper *h, int fd)
{
	int i;

	for (i = 0; i < h->nchan; i++)
		if (h->chan[i].fd < 0)
			break;
	if (i == h->nchan) {
		size_t o = vds_mpage(sizeof(*h->chan) * h->nchan);
		int n = h->nchan ? h->nchan * 2 : 64;
		struct hchan *c = vds_mgrow(h->chan, o, vds_mpage(sizeof(*c) * n));
		int j;

		if (!c)
			return -ENOMEM;
		for (j = h->nchan; j < n; j++)
			c[j].fd = c[j].pid = -1;
		h->chan = c;
		h->nchan = n;
	}
	h->chan[i].fd = fd;
	h->chan[i].pid = -1;
	return h_epoll_add(h, fd, H_CHAN, i);
}

static void h_chan_close(struct helper *h, int i)
{
	/* its command (if any) dies with it: nobody waits for it any more */
	if (h->chan[i].pid > 0)
		h_kill(h->chan[i].pid);
	epoll_ctl(h->ep, EPOLL_CTL_DEL, h->chan[i].fd, NULL);
	close(h->chan[i].fd);
	h->chan[i].fd = -1;
	h->chan[i].pid = -1;
}

/* enter the namespace of stack id */
static int h_enter(struct helper *h, int id)
{
	if (id < 0 || id >= h->nnetns || h->netns[id] < 0)
		return -EBADF;
	if (h->curns == id)
		return 0;
	if (setns(h->netns[id], CLONE_NEWNET) < 0)
		return -errno;
	h->curns = id;
	return 0;
}

static int h_lo_up(void)
{
	struct ifreq ifr;
	int fd = vds_sys_socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = 0;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		ret = -errno;
	} else {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			ret = -errno;
	}
	close(fd);
	return ret;
}

static int h_open_tap(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	/* a virtio-net header lets one write carry many TCP segments (gro.c) */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
	/*
	 * Persistent: closing the fd does not unregister the device, which
	 * costs an RCU grace period per interface; it goes with its namespace,
	 * where the kernel deletes the devices of many namespaces in a batch.
	 */
	/*
	 * Offloads: the stack hands over 64 KiB TCP packets and leaves
	 * checksums to the "device"; tso.c cuts and completes them.
	 */
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* a new random unicast, locally administered MAC for a reused tap */
static void h_new_mac(const char *ifname)
{
	struct ifreq ifr;
	int fd = vds_sys_socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strnlen(ifname, IFNAMSIZ - 1));
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	if (syscall(SYS_getrandom, ifr.ifr_hwaddr.sa_data, 6, 0) == 6) {
		ifr.ifr_hwaddr.sa_data[0] = (ifr.ifr_hwaddr.sa_data[0] & ~1) | 2;
		ioctl(fd, SIOCSIFHWADDR, &ifr);
	}
	close(fd);
}

static void h_spare_drop(struct helper *h)
{
	if (h->spare >= 0)
		close(h->spare);
	h->spare = -1;
}

/*
 * The namespace for a new stack, entered, lo up: the spare one a pristine
 * stack left (h_delstack()) if its tap has the name wanted, else a new one.
 * Return: its fd, or -errno; *reused: it is the spare
 */
static int h_newns(struct helper *h, int id, const char *ifname, int *reused)
{
	int ns, ret;

	*reused = 0;
	if (h->spare >= 0 && !strncmp(h->spare_if, ifname, IFNAMSIZ) &&
	    setns(h->spare, CLONE_NEWNET) == 0) {
		ns = h->spare;
		h->spare = -1;
		h->curns = id;
		*reused = 1;
		return ns;
	}
	h_spare_drop(h);
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	h->curns = id;
	ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		return -errno;
	ret = h_lo_up();
	if (ret < 0) {
		close(ns);
		return ret;
	}
	return ns;
}

/* room for stack ids up to h->nnetns * 2: 0 or -ENOMEM */
static int h_grow(struct helper *h)
{
	size_t o = vds_mpage(sizeof(int) * h->nnetns);
	int n = h->nnetns ? h->nnetns * 2 : 256, j;
	struct hstack *k = vds_mgrow(h->stk, vds_mpage(sizeof(*k) * h->nnetns),
				  vds_mpage(sizeof(*k) * n));
	int *t = k ? vds_mgrow(h->netns, o, vds_mpage(sizeof(int) * n)) : NULL;

	if (k)
		h->stk = k;
	if (!t)
		return -ENOMEM;
	for (j = h->nnetns; j < n; j++)
		t[j] = -1;
	h->netns = t;
	h->nnetns = n;
	return 0;
}

/* ADDSTACK: a new namespace with lo up and, if named, a tap interface */
static void h_addstack(struct helper *h, int cfd, const struct vds_req *rq,
		       const char *ifname)
{
	int fds[2], nfds = 0, id, ns, tap = -1, ret, reused;

	for (id = 0; id < h->nnetns; id++)
		if (h->netns[id] < 0)
			break;
	if (id == h->nnetns && h_grow(h) < 0) {
		h_send(cfd, -ENOMEM, NULL, 0);
		return;
	}
	ns = h_newns(h, id, ifname, &reused);
	if (ns < 0) {
		h->curns = -1;	/* the failed namespace dies with its last reference */
		h_send(cfd, ns, NULL, 0);
		return;
	}
	if (ifname[0]) {
		/* a reused tap: attached again (it is persistent), a new MAC */
		tap = h_open_tap(ifname);
		if (tap < 0) {
			ret = tap;
			goto fail;
		}
		if (reused)
			h_new_mac(ifname);
		fds[nfds++] = tap;
	}
	if (rq->a)
		fds[nfds++] = ns;
	h->netns[id] = ns;
	h->stk[id].pidns = -1;
	h->stk[id].init = -1;
	h->stk[id].ctl = NULL;
	h->stk[id].inits = 0;
	h->stk[id].ntaps = tap >= 0;
	memset(h->stk[id].ifname, 0, IFNAMSIZ);
	memcpy(h->stk[id].ifname, ifname, strnlen(ifname, IFNAMSIZ - 1));
	ret = h_send(cfd, id, fds, nfds);
	if (tap >= 0)
		close(tap);
	if (ret < 0) {	/* the library is gone; forget the namespace */
		close(ns);
		h->netns[id] = -1;
	}
	return;
fail:
	close(ns);
	h->curns = -1;	/* the failed namespace dies with its last reference */
	h_send(cfd, ret, NULL, 0);
}

static void h_socket(struct helper *h, int cfd, const struct vds_req *rq)
{
	int ret = h_enter(h, rq->id), fd;

	if (ret < 0) {
		h_send(cfd, ret, NULL, 0);
		return;
	}
	fd = vds_sys_socket(rq->a, rq->b | SOCK_CLOEXEC, rq->c);
	if (fd < 0) {
		h_send(cfd, -errno, NULL, 0);
		return;
	}
	h_send(cfd, 0, &fd, 1);
	close(fd);
}

/*
 * The command's side of the vfork: enter the stack and keep exactly the four
 * network capabilities, as ambient ones so they survive execve as any uid.
 * The helper already emptied the bounding set of everything else and set
 * securebits that stop uid 0 from regaining it (vds_caps_bound), once for all.
 */
static void h_child(int ns, char **argv, char **envp, int helperfd,
		    const char *resolv, size_t rlen)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	struct pollfd alive = { .fd = helperfd, .events = POLLIN };
	sigset_t none;

	/* (in a PID namespace getppid() is 0: the helper's pidfd tells) */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || poll(&alive, 1, 0) != 0)
		_exit(VDESTACK_STATUS_NOEXEC);
	if (setns(ns, CLONE_NEWNET) < 0)
		_exit(VDESTACK_STATUS_NOEXEC);
	if (rlen)
		vds_resolv_mount(resolv, rlen);
	sigaction(SIGPIPE, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	if (vds_caps_net() < 0)
		_exit(VDESTACK_STATUS_NOEXEC);
	execve(argv[0], argv, envp);
	_exit(VDESTACK_STATUS_NOEXEC);
}

/* up to max NUL-terminated strings from payload at *off, NULL after them */
static int h_strings(const unsigned char *payload, size_t len, size_t *off,
		     char **out, int max)
{
	int n = 0;

	while (*off < len && n < max) {
		const unsigned char *z = memchr(payload + *off, 0, len - *off);

		if (!z)
			break;
		out[n++] = (char *)payload + *off;
		*off = z - payload + 1;
	}
	out[n] = NULL;
	return n;
}

/* children of the helper are born in its own PID namespace again */
static int h_pid_home(struct helper *h)
{
	int ret;

	if (h->curpid < 0)
		return 0;
	ret = vds_pidns_for_children(h->ownpid);
	if (ret == 0)
		h->curpid = -1;
	return ret;
}

/* the end of a stack's PID namespace: its init, and with it everything */
static void h_pidns_end(struct helper *h, int id)
{
	struct hstack *k = &h->stk[id];

	if (k->init > 0)
		kill(k->init, SIGKILL);	/* reaped by h_reap() */
	k->init = -1;
	vds_pidns_free(k->ctl);
	k->ctl = NULL;
	if (k->pidns >= 0)
		close(k->pidns);
	k->pidns = -1;
	if (h->curpid == id)
		h_pid_home(h);
}

/*
 * The next child of the helper is born in the PID namespace of stack id,
 * whose init is started first if there is none (yet, or any more, or it is
 * exiting: an idle one does, pidns.c).  Claimed: vds_pidns_release() after
 * the fork or the hand-out.
 */
static int h_pidns(struct helper *h, int id)
{
	struct hstack *k = &h->stk[id];
	int ret;

	/* no PID namespaces here: commands run as the original's did */
	if (h->ownpid < 0)
		return 0;
	if (k->pidns >= 0 && vds_pidns_claim(k->ctl) < 0)
		h_pidns_end(h, id);	/* its init is exiting: a new one */
	if (k->pidns < 0) {
		/* a new namespace is made below the one children go to */
		ret = h_pid_home(h);
		/* the init keeps this stack's netns referenced, no other */
		if (ret == 0)
			ret = h_enter(h, id);
		if (ret == 0)
			ret = vds_pidns_new(h->selffd, k->inits > 0, &k->pidns,
					    &k->ctl);
		if (ret < 0) {
			h->curpid = 0;	/* moved, or not: go home for sure */
			h_pid_home(h);
			return ret;
		}
		k->init = ret;
		k->inits++;
		h->curpid = id;	/* (and it is born claimed) */
	}
	if (h->curpid == id)
		return 0;
	ret = vds_pidns_for_children(k->pidns);
	if (ret < 0) {
		vds_pidns_release(k->ctl, 0);
		return ret;
	}
	h->curpid = id;
	return 0;
}

static void h_exec(struct helper *h, int ci, const struct vds_req *rq,
		   const unsigned char *payload, size_t len)
{
	int cfd = h->chan[ci].fd, argc, envc, ret, tries;
	size_t off = 0, rlen = rq->c > 0 ? (size_t)rq->c : 0;
	pid_t pid;

	if (rq->id < 0 || rq->id >= h->nnetns || h->netns[rq->id] < 0) {
		h_send(cfd, -EBADF, NULL, 0);
		return;
	}
	/* payload: argc then envc NUL-terminated strings, checked before use,
	 * then rlen bytes of resolv.conf text */
	if (rq->a < 1 || rq->a > VDS_ARGC_MAX || rq->b < 0 || rq->b > VDS_ENVC_MAX ||
	    rq->c < 0 || rlen > VDS_RESOLV_MAX || rlen > len) {
		h_send(cfd, -EINVAL, NULL, 0);
		return;
	}
	argc = h_strings(payload, len - rlen, &off, h->argv, rq->a);
	envc = h_strings(payload, len - rlen, &off, h->envp, rq->b);
	if (argc != rq->a || envc != rq->b || off != len - rlen || h->argv[0][0] != '/') {
		h_send(cfd, -EINVAL, NULL, 0);
		return;
	}
	for (tries = 0;; tries++) {
		/* into the stack's PID namespace: nothing it starts outlives it */
		ret = h_pidns(h, rq->id);
		if (ret < 0) {
			h_send(cfd, ret, NULL, 0);
			return;
		}
		pid = vfork();
		if (pid == 0)
			h_child(h->netns[rq->id], h->argv, h->envp, h->selffd,
				(const char *)payload + len - rlen, rlen);
		vds_pidns_release(h->stk[rq->id].ctl, 0);
		/* its init died under us (killed): once more in a new namespace */
		if (pid >= 0 || errno != ENOMEM || tries || h->stk[rq->id].pidns < 0)
			break;
		h_pidns_end(h, rq->id);
	}
	if (pid < 0) {
		h_send(cfd, -errno, NULL, 0);
		return;
	}
	h->chan[ci].pid = pid;
	h->chan[ci].sid = rq->id;
}

/* LOCALIF: a veth in stack id, on the bridge of local://NAME (local.c) */
static void h_localif(struct helper *h, int cfd, const struct vds_req *rq,
		      const char *payload, size_t len)
{
	const char *z = memchr(payload, 0, len);
	size_t ilen = z ? (size_t)(z - payload) : 0;
	int ret;

	if (rq->id < 0 || rq->id >= h->nnetns || h->netns[rq->id] < 0) {
		h_send(cfd, -EBADF, NULL, 0);
		return;
	}
	if (!z || ilen == 0 || ilen >= IFNAMSIZ) {
		h_send(cfd, -EINVAL, NULL, 0);
		return;
	}
	ret = vds_lnet_join(&h->lnets, z + 1, len - ilen - 1, rq->id,
			    h->netns[rq->id], payload);
	h->curns = -1;	/* in the stack's namespace or where it was: setns next time */
	if (ret >= 0)	/* down at delete like a tap: its neighbour entries go */
		h->stk[rq->id].ntaps++;
	h_send(cfd, ret, NULL, 0);
}

static void h_reap(struct helper *h)
{
	struct signalfd_siginfo si;
	int status, i;
	pid_t pid;

	while (read(h->sigfd, &si, sizeof(si)) > 0)
		;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		int ret = WIFEXITED(status) ? WEXITSTATUS(status) :
			  WIFSIGNALED(status) ? VDESTACK_STATUS_SIGNAL + WTERMSIG(status) :
			  VDESTACK_STATUS_NOEXEC;

		for (i = 0; i < h->nchan; i++) {
			if (h->chan[i].fd >= 0 && h->chan[i].pid == pid) {
				int sid = h->chan[i].sid;

				h->chan[i].pid = -1;
				/* its stack's init: is its namespace empty now? */
				if (sid >= 0 && sid < h->nnetns && h->netns[sid] >= 0)
					vds_pidns_poke(h->stk[sid].init);
				if (h_send(h->chan[i].fd, ret, NULL, 0) < 0)
					h_chan_close(h, i);
				break;
			}
		}
		/* a stack's init that died: the next command makes a new one */
		for (i = 0; i < h->nnetns; i++)
			if (h->netns[i] >= 0 && h->stk[i].init == pid) {
				h->stk[i].init = -1;
				h_pidns_end(h, i);
			}
	}
}

/* the stack's user, network and PID namespaces, as three new fds */
static void h_nsfds(struct helper *h, int cfd, const struct vds_req *rq)
{
	int fds[3] = { -1, -1, -1 }, ret;

	if (rq->id < 0 || rq->id >= h->nnetns || h->netns[rq->id] < 0) {
		h_send(cfd, -EBADF, NULL, 0);
		return;
	}
	ret = h->ownpid < 0 ? -EOPNOTSUPP : h_pidns(h, rq->id);
	if (ret == 0) {
		fds[0] = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
		if (fds[0] < 0)
			ret = -errno;
	}
	if (ret < 0) {
		vds_pidns_release(h->stk[rq->id].ctl, 0);
		h_send(cfd, ret, NULL, 0);
		return;
	}
	fds[1] = h->netns[rq->id];
	fds[2] = h->stk[rq->id].pidns;
	h_send(cfd, 0, fds, 3);
	/* held a while for the receiver to fork into it (pidns.c) */
	vds_pidns_release(h->stk[rq->id].ctl, 1);
	close(fds[0]);
}

/*
 * Its interfaces down before the namespace goes: that flushes their
 * neighbour entries now.  The kernel's neighbour table is
 * shared by all namespaces, and a persistent tap (h_open_tap) would keep
 * them until the namespace's cleanup, long after.
 */
static void h_link_down(struct helper *h, int id)
{
	struct ifreq ifr;
	int fd, idx, found = 0;

	if (!h->stk[id].ntaps || h_enter(h, id) < 0)
		return;
	fd = vds_sys_socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	/*
	 * Every tap we opened there (vdestack_addif() adds some): lo is index
	 * 1 of a new namespace, the taps follow; a few more indexes cover
	 * interfaces its commands made in between.
	 */
	for (idx = 2; found < h->stk[id].ntaps && idx < h->stk[id].ntaps + 10; idx++) {
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_ifindex = idx;
		if (ioctl(fd, SIOCGIFNAME, &ifr) < 0)
			continue;
		found++;
		if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP)) {
			ifr.ifr_flags &= ~IFF_UP;
			ioctl(fd, SIOCSIFFLAGS, &ifr);
		}
	}
	close(fd);
}

/*
 * DELSTACK: what ran in it ends, its interface goes down, the ns goes; or,
 * @pristine (the library says no call ever used it, and nothing of it
 * here says otherwise: no command, no other interface), it is kept as the
 * spare for the next ADDSTACK (one at most: it goes with the helper).
 */
static void h_delstack(struct helper *h, int id, int pristine)
{
	struct hstack *k = &h->stk[id];

	/* (a name with % was a pattern: the tap has another name) */
	pristine = pristine && k->pidns < 0 && !k->inits &&
		k->ntaps == (k->ifname[0] ? 1 : 0) && !memchr(k->ifname, '%', IFNAMSIZ);
	h_pidns_end(h, id);
	h_link_down(h, id);
	vds_lnet_leave(h->lnets, id);	/* its local:// ports (local.c) */
	if (pristine) {
		h_spare_drop(h);
		h->spare = h->netns[id];
		memcpy(h->spare_if, k->ifname, IFNAMSIZ);
	} else {
		close(h->netns[id]);
	}
	h->netns[id] = -1;
}

static void h_request(struct helper *h, int ci)
{
	int cfd = h->chan[ci].fd, fd;
	ssize_t n = h_recv(cfd, h->buf, sizeof(struct vds_req) + VDS_REQ_MAX, &fd);
	struct vds_req rq;
	const unsigned char *payload = h->buf + sizeof(rq);
	size_t len;

	if (n == -EAGAIN)
		return;
	if (n == -EMSGSIZE) {
		if (fd >= 0)
			close(fd);
		h_send(cfd, -E2BIG, NULL, 0);
		return;
	}
	if (n <= 0) {
		if (fd >= 0)
			close(fd);
		h_chan_close(h, ci);
		return;
	}
	if ((size_t)n >= sizeof(rq))
		memcpy(&rq, h->buf, sizeof(rq));
	if (fd >= 0)	/* channels carry no fds towards the helper */
		close(fd);
	len = n - sizeof(rq);
	if ((size_t)n < sizeof(rq) || rq.len != len) {
		h_send(cfd, -EPROTO, NULL, 0);
		return;
	}
	if (rq.op == VDS_OP_CANCEL) {
		if (h->chan[ci].pid > 0)
			h_kill(h->chan[ci].pid);
		return;
	}
	if (h->chan[ci].pid > 0) {	/* one request at a time */
		h_send(cfd, -EBUSY, NULL, 0);
		return;
	}
	switch (rq.op) {
	case VDS_OP_ADDSTACK: {
		char name[IFNAMSIZ];

		if (len >= IFNAMSIZ || memchr(payload, 0, len)) {
			h_send(cfd, -EINVAL, NULL, 0);
			return;
		}
		memcpy(name, payload, len);
		name[len] = 0;
		h_addstack(h, cfd, &rq, name);
		return;
	}
	case VDS_OP_ADDIF: {	/* one more tap in an existing namespace */
		char name[IFNAMSIZ];
		int tap;

		if (len == 0 || len >= IFNAMSIZ || memchr(payload, 0, len)) {
			h_send(cfd, -EINVAL, NULL, 0);
			return;
		}
		memcpy(name, payload, len);
		name[len] = 0;
		tap = h_enter(h, rq.id);
		if (tap == 0)
			tap = h_open_tap(name);
		if (tap >= 0)
			h->stk[rq.id].ntaps++;
		h_send(cfd, tap < 0 ? tap : 0, &tap, tap >= 0);
		if (tap >= 0)
			close(tap);
		return;
	}
	case VDS_OP_DELSTACK:
		if (rq.id < 0 || rq.id >= h->nnetns || h->netns[rq.id] < 0) {
			h_send(cfd, -EBADF, NULL, 0);
			return;
		}
		h_delstack(h, rq.id, rq.a == 1);
		h_send(cfd, 0, NULL, 0);
		return;
	case VDS_OP_NSFDS:
		h_nsfds(h, cfd, &rq);
		return;
	case VDS_OP_LOCALIF:
		h_localif(h, cfd, &rq, (const char *)payload, len);
		return;
	case VDS_OP_SOCKET:
		h_socket(h, cfd, &rq);
		return;
	case VDS_OP_EXEC:
		h_exec(h, ci, &rq, payload, len);
		return;
	default:
		h_send(cfd, -EPROTO, NULL, 0);
	}
}

/* a message on the main socket: a new channel, or (at start) the handshake */
static int h_main(struct helper *h)
{
	struct vds_req rq;
	int fd;
	ssize_t n = h_recv(h->ctl, &rq, sizeof(rq), &fd);

	if (n == -EAGAIN || n == -EMSGSIZE)
		return 0;
	if (n <= 0)
		return -1;	/* every host-side copy is closed */
	if ((size_t)n == sizeof(rq) && rq.op == VDS_OP_NEWCHAN && fd >= 0) {
		if (h_chan_add(h, fd) < 0)
			close(fd);
	} else if (fd >= 0) {
		close(fd);
	}
	return 0;
}

/* decimal digits of v, NUL-terminated; returns the end */
static char *h_utoa(char *p, unsigned int v)
{
	char tmp[12];
	int n = 0;

	do
		tmp[n++] = '0' + v % 10;
	while ((v /= 10));
	while (n)
		*p++ = tmp[--n];
	*p = 0;
	return p;
}

static int h_write(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		ret = -errno;
	close(fd);
	return ret;
}

/* map our own uid and gid, as an unprivileged process may: "id id 1" */
static int h_map(const char *path, unsigned int id)
{
	char map[40], *p = h_utoa(map, id);

	*p++ = ' ';
	p = h_utoa(p, id);
	memcpy(p, " 1\n", 4);
	return h_write(path, map, p + 3 - map);
}

static int h_read_lastcap(void)
{
	char b[16];
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, b, sizeof(b) - 1);
	int v = 0, i;

	if (fd >= 0)
		close(fd);
	for (i = 0; i < n && b[i] >= '0' && b[i] <= '9'; i++)
		v = v * 10 + b[i] - '0';
	return n > 0 ? v : 63;
}

/* could not start: the host's vde_addstack gets why, then we are gone */
static void h_fail(int ctl, int err)
{
	h_send(ctl, err < 0 ? err : -EIO, NULL, 0);
	_exit(1);
}

/*
 * Nothing of the host leaks in: only stdio, the control socket (fd 3) and
 * the host's pidfd (fd 4).
 */
static void h_isolate(struct helper *h, const struct vds_helper_args *a,
		      sigset_t *chld)
{
	struct pollfd host = { .events = POLLIN };
	struct rlimit rl;
	int ctl, hostfd, sig;

	ctl = fcntl(a->ctl, F_DUPFD_CLOEXEC, 5);
	if (ctl < 0)
		h_fail(a->ctl, -errno);
	hostfd = fcntl(a->hostfd, F_DUPFD_CLOEXEC, 5);
	if (hostfd < 0)
		h_fail(ctl, -errno);
	if (dup3(ctl, 3, O_CLOEXEC) < 0 || dup3(hostfd, 4, O_CLOEXEC) < 0)
		h_fail(ctl, -errno);
	h->ctl = 3;
	h->hostfd = host.fd = 4;
	syscall(SYS_close_range, 5, ~0U, 0);
	for (sig = 1; sig < 65; sig++) {
		struct sigaction sa = { .sa_handler = SIG_DFL };

		if (sig == SIGPIPE)
			sa.sa_handler = SIG_IGN;
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	}
	sigemptyset(chld);
	sigaddset(chld, SIGCHLD);
	sigprocmask(SIG_SETMASK, chld, NULL);
	/* a terminal's ^C is for the host, which decides what to cancel */
	setpgid(0, 0);
	/* the host died before we started watching: nobody to serve */
	if (poll(&host, 1, 0) != 0)
		_exit(1);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* buffers, the epoll set of the control socket, SIGCHLD and the host */
static void h_setup(struct helper *h, const struct vds_helper_args *a,
		    const sigset_t *chld)
{
	h->lastcap = h_read_lastcap();
	h->buf = vds_mgrow(NULL, 0, vds_mpage(sizeof(struct vds_req) + VDS_REQ_MAX));
	h->argv = vds_mgrow(NULL, 0, vds_mpage(sizeof(char *) * (VDS_ARGC_MAX + 1)));
	h->envp = vds_mgrow(NULL, 0, vds_mpage(sizeof(char *) * (VDS_ENVC_MAX + 1)));
	if (!h->buf || !h->argv || !h->envp)
		h_fail(h->ctl, -ENOMEM);
	h->selffd = syscall(SYS_pidfd_open, getpid(), 0);
	if (h->selffd < 0)
		h_fail(h->ctl, -errno);
	if (a->pidns) {
		h->ownpid = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
		if (h->ownpid < 0)
			h_fail(h->ctl, -errno);
	}
	h->ep = epoll_create1(EPOLL_CLOEXEC);
	if (h->ep < 0)
		h_fail(h->ctl, -errno);
	h->sigfd = signalfd(-1, chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (h->sigfd < 0 ||
	    h_epoll_add(h, h->ctl, H_MAIN, 0) < 0 ||
	    h_epoll_add(h, h->sigfd, H_SIGCHLD, 0) < 0 ||
	    h_epoll_add(h, h->hostfd, H_HOST, 0) < 0)
		h_fail(h->ctl, -errno);
}

/*
 * The user namespace (made by the clone), where we are who we were (as the
 * original library maps it): root stays uid 0, a user stays that user.
 */
static int h_userns(struct helper *h, const struct vds_helper_args *a)
{
	int ret = h_write("/proc/self/setgroups", "deny\n", 5);

	if (ret == 0)
		ret = h_map("/proc/self/uid_map", a->uid);
	if (ret == 0)
		ret = h_map("/proc/self/gid_map", a->gid);
	if (ret == 0)
		ret = vds_caps_bound(h->lastcap);
	return ret;
}

/* serve requests until the host goes away or closes the main socket */
static void h_serve(struct helper *h, int spin_ns)
{
	int64_t busy = INT64_MIN / 2;	/* no work yet */

	for (;;) {
		struct epoll_event evs[32];
		/* a host that just asked asks again soon: poll a moment */
		int n = vds_epoll_spin(h->ep, evs, 32, spin_ns, &busy), i;

		if (n < 0 && errno != EINTR)
			return;
		for (i = 0; i < n; i++) {
			uint32_t tag = evs[i].data.u64 >> 32;
			uint32_t idx = (uint32_t)evs[i].data.u64;

			if (tag == H_HOST)
				return;
			if (tag == H_MAIN && h_main(h) < 0)
				return;
			if (tag == H_SIGCHLD)
				h_reap(h);
			if (tag == H_CHAN && (int)idx < h->nchan && h->chan[idx].fd >= 0)
				h_request(h, idx);
		}
	}
}

/**
 * vds_helper_main() - body of the helper process
 * @arg:	struct vds_helper_args, in the helper's copy of the host memory
 *
 * Return: never; the process exits with 0 when its host goes away or
 * closes the main socket, 1 if it could not start.
 */
int vds_helper_main(void *arg)
{
	struct vds_helper_args *a = arg;
	struct helper h = { .ctl = -1, .ep = -1, .sigfd = -1, .hostfd = -1,
			    .curns = -1, .selffd = -1, .ownpid = -1, .curpid = -1,
			    .spare = -1 };
	sigset_t chld;
	int ret, i;

	h_isolate(&h, a, &chld);
	h_setup(&h, a, &chld);
	ret = h_userns(&h, a);
	if (ret < 0)
		h_fail(h.ctl, ret);
	h_send(h.ctl, 0, NULL, 0);
	h_serve(&h, a->spin_ns);
	/*
	 * The host is gone: so are its commands, reaped here, not by init.
	 * (As the init of our PID namespace, our exit would end them anyway.)
	 */
	for (i = 0; i < h.nchan; i++)
		if (h.chan[i].fd >= 0 && h.chan[i].pid > 0)
			h_kill(h.chan[i].pid);
	/* and every stack's processes */
	for (i = 0; i < h.nnetns; i++)
		if (h.netns[i] >= 0 && h.stk[i].init > 0)
			kill(h.stk[i].init, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	_exit(0);
}
