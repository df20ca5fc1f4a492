// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * local.c - local://NAME: stacks of one process on a layer-2 network that
 * the kernel moves, without the pump.
 *
 * The helper keeps, per NAME, a network namespace of its own (created by
 * unshare(CLONE_NEWNET), owned by the helper's user namespace, so this works
 * unprivileged) holding one bridge, "br0".  Each stack that joins gets a
 * veth pair: the end inside the stack carries the name the caller asked for
 * (down, as a tap interface starts), the other end ("p<n>") is a port of
 * the bridge.  When a stack is deleted its port leaves the bridge (even if
 * sockets keep the stack's namespace alive, no frame of it is forwarded
 * any more) and the pair goes with the stack's namespace; when
 * the last stack of NAME goes, the helper closes the namespace and the
 * kernel destroys it with the bridge.  A forked child or another process
 * has a helper of its own, hence networks of its own: local:// never
 * crosses processes.
 *
 * Why a bridge and never a direct veth pair between two stacks: measured
 * between two namespaces on this 2-vCPU VM, a pair gives TCP_RR p50 ~13.7
 * us against ~16.7 us through a bridge, but a bridge streams as fast or
 * faster (0.9-1.5 GB/s against 0.7-0.9 GB/s); and a pair cannot become a
 * bridge when a third stack joins without deleting interfaces that already
 * carry the users' addresses.
 *
 * The helper's half runs after clone() in a threaded host: system calls
 * and memcpy only, tables from mmap().
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "ctx.h"
#include "local.h"
#include "mgrow.h"
#include "proto.h"
#include "stack.h"
#include "util.h"

#define BRIDGE_NAME	"br0"
#define PORT_MTU	65535	/* the stack's end decides what fits */

/* ------------------------------------------------------ library side --- */

/**
 * vds_local_is() - is @vnl a local:// network?
 * @vnl:	a VNL, or NULL
 *
 * Return: 1 if it starts with "local://", else 0
 */
int vds_local_is(const char *vnl)
{
	return vnl && !strncmp(vnl, VDS_LOCAL_PREFIX, sizeof(VDS_LOCAL_PREFIX) - 1);
}

/* pattern with its one "%d" replaced by n (the kernel's own rule for names) */
static int name_of(char out[IFNAMSIZ], const char *pattern, unsigned int n)
{
	const char *pct = strstr(pattern, "%d");
	char num[12];
	int k = 0;
	size_t pre, post;

	if (!pct) {
		if (strlen(pattern) >= IFNAMSIZ)
			return -EINVAL;
		strcpy(out, pattern);
		return 0;
	}
	do
		num[k++] = '0' + n % 10;
	while ((n /= 10));
	pre = pct - pattern;
	post = strlen(pct + 2);
	if (pre + k + post >= IFNAMSIZ)
		return -EINVAL;
	memcpy(out, pattern, pre);
	for (int i = 0; i < k; i++)
		out[pre + i] = num[k - 1 - i];
	memcpy(out + pre + k, pct + 2, post + 1);
	return 0;
}

/**
 * vds_local_addif() - put stack @st on the local network @vnl, through a
 * new interface @ifname
 * @st:		the stack, attached to its helper (st->id >= 0)
 * @vnl:	"local://NAME", NAME 1 to VDS_LOCAL_NAME_MAX bytes
 * @ifname:	the interface's name inside the stack (valid for the kernel),
 *		or a pattern with one "%d": the helper takes the first free N
 * @made:	receives the name made, or NULL
 *
 * The helper creates the network with its first member; the interface
 * leaves the network, and the network goes with its last member, when
 * the helper deletes the stack (VDS_OP_DELSTACK).  Any path that adds an
 * interface to a stack calls this for a local:// VNL instead of opening a
 * VDE connection: no tap, no pump, no VDS_KIND_VDE state.
 *
 * Return: 0, or -errno: -EINVAL (bad NAME or name), -EEXIST (@ifname taken
 * in the stack), or what the kernel said (-EOPNOTSUPP: no veth or bridge)
 */
int vds_local_addif(struct vds_stack *st, const char *vnl, const char *ifname,
		    char made[IFNAMSIZ])
{
	const char *name = vnl + sizeof(VDS_LOCAL_PREFIX) - 1;
	size_t nlen = strlen(name), ilen = strlen(ifname);
	char payload[IFNAMSIZ + VDS_LOCAL_NAME_MAX + 1];
	struct vds_call call = {
		.req = { .op = VDS_OP_LOCALIF, .id = st->id },
		.payload = payload,
	};
	int ret;

	if (!vds_local_is(vnl) || nlen == 0 || nlen > VDS_LOCAL_NAME_MAX ||
	    ilen == 0 || ilen >= IFNAMSIZ)
		return -EINVAL;
	/* "ifname\0NAME": NAME is bytes, NUL excluded */
	memcpy(payload, ifname, ilen + 1);
	memcpy(payload + ilen + 1, name, nlen);
	call.req.len = ilen + 1 + nlen;
	ret = vds_ctx_call(st->ctx, &call);	/* >= 0: the N of a pattern */
	if (ret < 0)
		return ret;
	return made ? name_of(made, ifname, ret) : 0;
}

/* ------------------------------------------------------- helper side --- */

struct lnet {
	int ns;			/* the bridge's namespace, -1: free slot (first: tab_slot) */
	int nl;			/* rtnetlink socket made in it */
	int users;		/* ports */
	int brindex;
	uint32_t seq;		/* names the next port, p<seq> */
	uint32_t nlseq;
	size_t namelen;
	char name[VDS_LOCAL_NAME_MAX];
};

struct lport {
	int id;			/* stack, -1: free slot (first: tab_slot) */
	int net;		/* index in nets */
	int ifindex;		/* of p<seq>, in the bridge's namespace */
	uint32_t seq;		/* its name: p<seq> */
};

struct vds_lnets {
	struct lnet *net;
	int nnet;
	struct lport *port;
	int nport;
};

/* an rtnetlink request under construction */
struct nlreq {
	union {
		struct nlmsghdr h;
		char buf[1024];
	};
};

static void nl_init(struct nlreq *r, int type, int flags, unsigned int ifflags)
{
	struct ifinfomsg ifi = {
		.ifi_family = AF_UNSPEC,
		.ifi_flags = ifflags,
		.ifi_change = ifflags,
	};

	memset(&r->h, 0, sizeof(r->h));
	r->h.nlmsg_type = type;
	r->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	r->h.nlmsg_len = NLMSG_LENGTH(sizeof(ifi));
	memcpy(NLMSG_DATA(&r->h), &ifi, sizeof(ifi));
}

/* append an attribute (sizes here are known to fit the buffer) */
static struct rtattr *nl_put(struct nlreq *r, int type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)(r->buf + NLMSG_ALIGN(r->h.nlmsg_len));

	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
	return a;
}

static void nl_put_str(struct nlreq *r, int type, const char *s)
{
	nl_put(r, type, s, strlen(s) + 1);
}

static void nl_put_u32(struct nlreq *r, int type, uint32_t v)
{
	nl_put(r, type, &v, sizeof(v));
}

static void nl_end(struct nlreq *r, struct rtattr *nest)
{
	nest->rta_len = (char *)&r->h + r->h.nlmsg_len - (char *)nest;
}

/* IPv6 off on our own devices: no link-local address, no DAD, RS or MLD */
static void nl_put_no_ipv6(struct nlreq *r)
{
	struct rtattr *spec = nl_put(r, IFLA_AF_SPEC, NULL, 0);
	struct rtattr *in6 = nl_put(r, AF_INET6, NULL, 0);
	uint8_t mode = IN6_ADDR_GEN_MODE_NONE;

	nl_put(r, IFLA_INET6_ADDR_GEN_MODE, &mode, 1);
	nl_end(r, in6);
	nl_end(r, spec);
}

/* send a request and wait for its acknowledgement: 0 or -errno */
static int nl_talk(struct lnet *n, struct nlreq *r)
{
	union {
		struct nlmsghdr h;
		char buf[4096];
	} rep;
	ssize_t len;

	r->h.nlmsg_seq = ++n->nlseq;
	do
		len = send(n->nl, r->buf, r->h.nlmsg_len, 0);
	while (len < 0 && errno == EINTR);
	if (len < 0)
		return -errno;
	for (;;) {
		struct nlmsghdr *h;

		len = recv(n->nl, rep.buf, sizeof(rep.buf), 0);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (h = &rep.h; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
			struct nlmsgerr *e = NLMSG_DATA(h);

			if (h->nlmsg_seq != n->nlseq || h->nlmsg_type != NLMSG_ERROR)
				continue;
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				return -EPROTO;
			return e->error;
		}
	}
}

/* "p<seq>" */
static void port_name(char *out, uint32_t seq)
{
	char tmp[12];
	int n = 0;

	do
		tmp[n++] = '0' + seq % 10;
	while ((seq /= 10));
	*out++ = 'p';
	while (n)
		*out++ = tmp[--n];
	*out = 0;
}

static void lnet_free(struct lnet *n)
{
	if (n->nl >= 0)
		close(n->nl);
	if (n->ns >= 0)
		close(n->ns);	/* the kernel destroys the namespace, bridge, ports */
	n->nl = n->ns = -1;
	n->users = 0;
}

/*
 * Where the kernel has br_netfilter, a new namespace sends every bridged
 * frame through the iptables hooks (bridge-nf-call-*: 1), rules or not.
 * Nobody sets rules in ours: turn it off (the helper holds CAP_NET_ADMIN
 * over the namespace, which makes its sysctls writable, unprivileged too).
 * Best effort: without br_netfilter the files do not exist.
 */
static void bridge_nf_off(void)
{
	static const char *const knob[] = {
		"/proc/sys/net/bridge/bridge-nf-call-iptables",
		"/proc/sys/net/bridge/bridge-nf-call-ip6tables",
		"/proc/sys/net/bridge/bridge-nf-call-arptables",
	};
	unsigned int i;

	for (i = 0; i < sizeof(knob) / sizeof(knob[0]); i++) {
		int fd = open(knob[i], O_WRONLY | O_CLOEXEC);

		if (fd >= 0) {
			if (write(fd, "0\n", 2) < 0) {
				/* stays on: slower, not wrong */
			}
			close(fd);
		}
	}
}

/*
 * A new namespace with the bridge, up.  The helper goes back to @home
 * (the joining stack's namespace) on every path: a helper left inside
 * would keep the namespace alive after its last member.
 */
static int lnet_create(struct lnet *n, const char *name, size_t namelen, int home)
{
	struct nlreq r;
	struct ifreq ifr;
	int ret;

	n->nl = n->ns = -1;
	n->users = 0;
	n->seq = n->nlseq = 0;
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	n->ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (n->ns < 0)
		return -errno;
	bridge_nf_off();
	n->nl = vds_sys_socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (n->nl < 0) {
		ret = -errno;
		goto fail;
	}
	nl_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
	nl_put_str(&r, IFLA_IFNAME, BRIDGE_NAME);
	{
		struct rtattr *li = nl_put(&r, IFLA_LINKINFO, NULL, 0);
		struct rtattr *data;
		uint8_t off = 0;

		nl_put_str(&r, IFLA_INFO_KIND, "bridge");
		data = nl_put(&r, IFLA_INFO_DATA, NULL, 0);
		/* flood multicast: nothing to learn it for, no querier */
		nl_put(&r, IFLA_BR_MCAST_SNOOPING, &off, 1);
		nl_end(&r, data);
		nl_end(&r, li);
	}
	ret = nl_talk(n, &r);
	if (ret < 0)
		goto fail;
	/* IPv6 off before up: the bridge itself sends nothing on its ports */
	nl_init(&r, RTM_SETLINK, 0, 0);
	nl_put_str(&r, IFLA_IFNAME, BRIDGE_NAME);
	nl_put_no_ipv6(&r);
	ret = nl_talk(n, &r);
	if (ret < 0)
		goto fail;
	nl_init(&r, RTM_SETLINK, 0, IFF_UP);
	nl_put_str(&r, IFLA_IFNAME, BRIDGE_NAME);
	ret = nl_talk(n, &r);
	if (ret < 0)
		goto fail;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, BRIDGE_NAME, sizeof(BRIDGE_NAME));
	if (ioctl(n->nl, SIOCGIFINDEX, &ifr) < 0) {
		ret = -errno;
		goto fail;
	}
	n->brindex = ifr.ifr_ifindex;
	memcpy(n->name, name, namelen);
	n->namelen = namelen;
	if (setns(home, CLONE_NEWNET) < 0) {
		ret = -errno;
		goto fail;
	}
	return 0;
fail:
	lnet_free(n);
	setns(home, CLONE_NEWNET);
	return ret;
}

/* the pair: p<seq> on the bridge, ifname inside the stack; p's ifindex */
static int port_create(struct lnet *n, uint32_t seq, int stackns, const char *ifname)
{
	struct nlreq r;
	struct ifinfomsg peer = { .ifi_family = AF_UNSPEC };
	struct rtattr *li, *data, *pa;
	char pname[IFNAMSIZ];
	int ret;

	port_name(pname, seq);
	nl_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
	nl_put_str(&r, IFLA_IFNAME, pname);
	nl_put_u32(&r, IFLA_MTU, PORT_MTU);
	nl_put_u32(&r, IFLA_MASTER, n->brindex);
	li = nl_put(&r, IFLA_LINKINFO, NULL, 0);
	nl_put_str(&r, IFLA_INFO_KIND, "veth");
	data = nl_put(&r, IFLA_INFO_DATA, NULL, 0);
	pa = nl_put(&r, VETH_INFO_PEER, &peer, sizeof(peer));
	nl_put_str(&r, IFLA_IFNAME, ifname);
	nl_put_u32(&r, IFLA_MTU, 1500);
	nl_put_u32(&r, IFLA_NET_NS_FD, stackns);
	nl_end(&r, pa);
	nl_end(&r, data);
	nl_end(&r, li);
	ret = nl_talk(n, &r);
	if (ret < 0)
		return ret;
	/* IPv6 off and up in one request: no address is made in between */
	nl_init(&r, RTM_SETLINK, 0, IFF_UP);
	nl_put_str(&r, IFLA_IFNAME, pname);
	nl_put_no_ipv6(&r);
	ret = nl_talk(n, &r);
	if (ret == 0) {
		struct ifreq ifr;

		memset(&ifr, 0, sizeof(ifr));
		memcpy(ifr.ifr_name, pname, sizeof(pname));
		ret = ioctl(n->nl, SIOCGIFINDEX, &ifr) < 0 ? -errno : ifr.ifr_ifindex;
	}
	if (ret < 0) {
		nl_init(&r, RTM_DELLINK, 0, 0);
		nl_put_str(&r, IFLA_IFNAME, pname);
		nl_talk(n, &r);
	}
	return ret;
}

/*
 * A free slot of a table of *n entries of size sz, each beginning with an
 * int that is -1 in a free one (lnet.ns, lport.id): the first free one, or
 * else the first new one of the table grown (to first entries, then twice
 * as many; every byte of a new entry 0xff, so that int is -1).
 *
 * Return: the table, moved or not (*slot: the index; *n: its new size),
 * or NULL for ENOMEM (the table unchanged)
 */
static void *tab_slot(void *tab, int *n, size_t sz, int first, int *slot)
{
	unsigned char *p = tab;
	int i, m = *n ? *n * 2 : first;

	for (i = 0; i < *n; i++)
		if (*(const int *)(p + sz * i) < 0) {
			*slot = i;
			return tab;
		}
	p = vds_mgrow(p, sz * *n, sz * m);
	if (!p)
		return NULL;
	memset(p + sz * *n, 0xff, sz * (m - *n));
	*slot = *n;
	*n = m;
	return p;
}

/* the first free name of pattern in the namespace stackns (the helper enters it) */
static int free_name(const char *pattern, int stackns, char out[IFNAMSIZ])
{
	struct ifreq ifr;
	unsigned int n;
	int fd, ret = -ENFILE;

	if (setns(stackns, CLONE_NEWNET) < 0)
		return -errno;
	fd = vds_sys_socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	for (n = 0; n < 10000; n++) {
		ret = name_of(out, pattern, n);
		if (ret < 0)
			break;
		memset(&ifr, 0, sizeof(ifr));
		memcpy(ifr.ifr_name, out, IFNAMSIZ);
		if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
			ret = errno == ENODEV ? (int)n : -errno;
			break;
		}
		ret = -ENFILE;
	}
	close(fd);
	return ret;
}

/**
 * vds_lnet_join() - (helper) connect stack @id to local network @name
 * @tabp:	the helper's table, created on first use (*tabp NULL)
 * @name, @namelen:	NAME of local://NAME
 * @id:		the stack's id
 * @stackns:	its namespace fd
 * @ifname:	the interface to make in it, or a pattern with one "%d"
 *
 * The first member creates the network; the helper is then left in the
 * namespace of @stackns (also when it looked for a free name).
 *
 * Return: the N put in place of "%d" (0 for a plain name), or -errno
 */
int vds_lnet_join(struct vds_lnets **tabp, const char *name, size_t namelen,
		  int id, int stackns, const char *ifname)
{
	struct vds_lnets *t = *tabp;
	struct lnet *n = NULL;
	struct lport *p;
	char made[IFNAMSIZ];
	int i, pi, ret, num = 0;

	if (namelen == 0 || namelen > VDS_LOCAL_NAME_MAX)
		return -EINVAL;
	if (strchr(ifname, '%')) {
		num = free_name(ifname, stackns, made);
		if (num < 0)
			return num;
		ifname = made;
	}
	if (!t) {
		t = vds_mgrow(NULL, 0, vds_mpage(sizeof(*t)));
		if (!t)
			return -ENOMEM;
		*tabp = t;
	}
	p = tab_slot(t->port, &t->nport, sizeof(*t->port), 256, &pi);
	if (!p)
		return -ENOMEM;
	t->port = p;
	for (i = 0; i < t->nnet; i++)
		if (t->net[i].ns >= 0 && t->net[i].namelen == namelen &&
		    !memcmp(t->net[i].name, name, namelen))
			break;
	if (i == t->nnet) {
		n = tab_slot(t->net, &t->nnet, sizeof(*t->net), 16, &i);
		if (!n)
			return -ENOMEM;
		t->net = n;
		ret = lnet_create(&t->net[i], name, namelen, stackns);
		if (ret < 0)
			return ret;
	}
	n = &t->net[i];
	ret = port_create(n, n->seq, stackns, ifname);
	if (ret < 0) {
		if (n->users == 0)
			lnet_free(n);
		return ret;
	}
	t->port[pi].id = id;
	t->port[pi].net = i;
	t->port[pi].ifindex = ret;
	t->port[pi].seq = n->seq++;
	n->users++;
	return num;
}

/**
 * vds_lnet_leave() - (helper) stack @id is deleted: its ports go, and each
 * network it was the last member of
 * @tab:	the helper's table, or NULL (no local network ever)
 * @id:		the stack's id
 */
void vds_lnet_leave(struct vds_lnets *tab, int id)
{
	int i;

	if (!tab)
		return;
	for (i = 0; i < tab->nport; i++) {
		struct lport *p = &tab->port[i];
		struct lnet *n;

		if (p->id != id)
			continue;
		n = &tab->net[p->net];
		if (--n->users == 0) {
			lnet_free(n);	/* the namespace takes every port along */
		} else {
			struct nlreq r;
			char pname[IFNAMSIZ];

			/*
			 * A dead port at once, whatever keeps the stack's
			 * namespace alive; the pair itself goes with that
			 * namespace (or the bridge's), in the kernel's batched
			 * cleanup.  Deleting it here would cost ~20 ms each
			 * (unregistering a device waits for RCU), detaching
			 * ~1 ms, disabling the port (what this does) less.
			 */
			port_name(pname, p->seq);
			nl_init(&r, RTM_SETLINK, 0, 0);
			((struct ifinfomsg *)NLMSG_DATA(&r.h))->ifi_family = AF_BRIDGE;
			((struct ifinfomsg *)NLMSG_DATA(&r.h))->ifi_index = p->ifindex;
			{
				struct rtattr *pi = nl_put(&r, IFLA_PROTINFO | NLA_F_NESTED,
							   NULL, 0);
				uint8_t state = BR_STATE_DISABLED;

				nl_put(&r, IFLA_BRPORT_STATE, &state, 1);
				nl_end(&r, pi);
			}
			nl_talk(n, &r);
		}
		p->id = -1;
	}
}
