// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * resolv.c - name resolution in a stack: vdestack_getaddrinfo() with c-ares
 * over sockets made in the stack, and the stack's resolv.conf text.
 *
 * What is resolved where (iothdns-like, and never through the host):
 * - numeric addresses and a NULL node: at once, without any server;
 * - "localhost" and names under ".localhost" (RFC 6761): the stack's own
 *   loopback, ::1 and 127.0.0.1, without any server;
 * - every other name: by DNS, with the stack's servers (dns=/domain= of its
 *   configuration, else those of its DHCP leases), the domain as the search
 *   list.  A stack with no server fails with EAI_AGAIN.  The host's
 *   /etc/hosts and /etc/resolv.conf are not read: they describe the host's
 *   network, not the stack's.
 * c-ares finds the addresses; each address is then expanded into socket
 * types, protocols and ports by the C library's getaddrinfo() with
 * AI_NUMERICHOST (which asks no one), so the results have exactly the form
 * of getaddrinfo(3)'s and are freed by freeaddrinfo(3).
 */
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <ares.h>

#include "netinfo.h"
#include "nistate.h"
#include "resolv.h"
#include "stack.h"
#include "util.h"

#define RESOLV_TIMEOUT_MS	1500	/* per try and server */
#define RESOLV_TRIES		2

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *,
		      struct addrinfo **);

/**
 * vds_libc_getaddrinfo() - the C library's getaddrinfo(), past any
 * interposer (libvdestack.so's own included)
 * @node, @service, @hints, @res:	as for getaddrinfo(3)
 *
 * Return: as getaddrinfo(3)
 */
int vds_libc_getaddrinfo(const char *node, const char *service,
			 const struct addrinfo *hints, struct addrinfo **res)
{
	static gai_fn next;
	gai_fn f = __atomic_load_n(&next, __ATOMIC_ACQUIRE);

	if (!f) {
		f = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
		if (!f)
			return EAI_SYSTEM;
		__atomic_store_n(&next, f, __ATOMIC_RELEASE);
	}
	return f(node, service, hints, res);
}

/* ------------------------------------------------------ c-ares, in stack --- */

static pthread_once_t ares_once = PTHREAD_ONCE_INIT;
static int ares_init_status;

static void ares_lib_init(void)
{
	ares_init_status = ares_library_init(ARES_LIB_INIT_ALL);
}

static ares_socket_t s_socket(int domain, int type, int protocol, void *arg)
{
	int fd = vde_msocket(arg, domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);

	return fd < 0 ? ARES_SOCKET_BAD : fd;
}

static int s_close(ares_socket_t fd, void *arg)
{
	(void)arg;
	return close(fd);
}

static int s_connect(ares_socket_t fd, const struct sockaddr *sa, ares_socklen_t len,
		     void *arg)
{
	(void)arg;
	return connect(fd, sa, len);
}

static ares_ssize_t s_recvfrom(ares_socket_t fd, void *buf, size_t len, int flags,
			       struct sockaddr *sa, ares_socklen_t *salen, void *arg)
{
	(void)arg;
	return recvfrom(fd, buf, len, flags, sa, salen);
}

static ares_ssize_t s_sendv(ares_socket_t fd, const struct iovec *iov, int n, void *arg)
{
	(void)arg;
	return writev(fd, iov, n);
}

static const struct ares_socket_functions stack_sockets = {
	.asocket = s_socket,
	.aclose = s_close,
	.aconnect = s_connect,
	.arecvfrom = s_recvfrom,
	.asendv = s_sendv,
};

#define MAXADDRS 64

struct lookup {
	int done;
	int status;
	int naddr;
	struct vds_ip addr[MAXADDRS];
	char *canon;
};

static void lookup_done(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct lookup *lk = arg;
	struct ares_addrinfo_node *n;
	struct ares_addrinfo_cname *c;
	const char *canon = NULL;

	(void)timeouts;
	lk->done = 1;
	lk->status = status;
	if (status != ARES_SUCCESS || !ai)
		return;
	for (n = ai->nodes; n && lk->naddr < MAXADDRS; n = n->ai_next) {
		struct vds_ip *ip = &lk->addr[lk->naddr];

		if (n->ai_family == AF_INET && n->ai_addrlen >= sizeof(struct sockaddr_in)) {
			ip->family = AF_INET;
			ip->u.v4 = ((struct sockaddr_in *)n->ai_addr)->sin_addr;
		} else if (n->ai_family == AF_INET6 &&
			   n->ai_addrlen >= sizeof(struct sockaddr_in6)) {
			ip->family = AF_INET6;
			ip->u.v6 = ((struct sockaddr_in6 *)n->ai_addr)->sin6_addr;
		} else {
			continue;
		}
		lk->naddr++;
	}
	for (c = ai->cnames; c; c = c->next)
		if (c->name)
			canon = c->name;
	if (!canon)
		canon = ai->name;
	if (canon)
		lk->canon = strdup(canon);
	ares_freeaddrinfo(ai);
}

static int ares_to_eai(int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return 0;
	case ARES_ENOTFOUND:
	case ARES_EBADNAME:
	case ARES_EBADQUERY:
		return EAI_NONAME;
	case ARES_ENODATA:
		return EAI_NODATA;
	case ARES_ENOMEM:
		return EAI_MEMORY;
	case ARES_EBADFAMILY:
		return EAI_FAMILY;
	case ARES_ESERVICE:
		return EAI_SERVICE;
	case ARES_ETIMEOUT:
	case ARES_ECONNREFUSED:
	case ARES_ESERVFAIL:
	case ARES_EREFUSED:
		return EAI_AGAIN;
	default:
		return EAI_FAIL;
	}
}

/* run one ares_getaddrinfo() on a private channel until it is done */
static int dns_lookup(struct vdestack *stack, const char *node, int family, int flags,
		      struct lookup *lk)
{
	struct vds_ip dns[VDS_NI_MAXDNS];
	struct ares_addr_node srv[VDS_NI_MAXDNS];
	struct ares_options o;
	struct ares_addrinfo_hints ah = { 0 };
	char domain[VDS_NI_DOMAIN], *domains[1] = { domain };
	ares_channel ch;
	int nsrv, i, mask, ret;

	nsrv = vds_ni_dns(stack, dns, VDS_NI_MAXDNS, domain, sizeof(domain));
	if (nsrv == 0)
		return EAI_AGAIN;	/* no server: never the host's */
	pthread_once(&ares_once, ares_lib_init);
	if (ares_init_status != ARES_SUCCESS)
		return EAI_FAIL;
	memset(&o, 0, sizeof(o));
	o.timeout = RESOLV_TIMEOUT_MS;
	o.tries = RESOLV_TRIES;
	o.lookups = (char *)"b";		/* DNS only, no /etc/hosts */
	o.resolvconf_path = (char *)"/dev/null";
	mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS | ARES_OPT_RESOLVCONF;
	o.ndomains = domain[0] ? 1 : 0;
	o.domains = domains;
	mask |= ARES_OPT_DOMAINS;
	ret = ares_init_options(&ch, &o, mask);
	if (ret != ARES_SUCCESS)
		return ares_to_eai(ret);
	for (i = 0; i < nsrv; i++) {
		memset(&srv[i], 0, sizeof(srv[i]));
		srv[i].next = i + 1 < nsrv ? &srv[i + 1] : NULL;
		srv[i].family = dns[i].family;
		if (dns[i].family == AF_INET)
			srv[i].addr.addr4 = dns[i].u.v4;
		else
			memcpy(&srv[i].addr.addr6, &dns[i].u.v6, 16);
	}
	ret = ares_set_servers(ch, srv);
	if (ret != ARES_SUCCESS) {
		ares_destroy(ch);
		return ares_to_eai(ret);
	}
	ares_set_socket_functions(ch, &stack_sockets, stack);
	ah.ai_family = family;
	/* NOSORT: c-ares's RFC 6724 sort probes routes with host sockets */
	ah.ai_flags = ARES_AI_NOSORT;
	if (flags & AI_V4MAPPED)
		ah.ai_flags |= ARES_AI_V4MAPPED;
	if (flags & AI_ALL)
		ah.ai_flags |= ARES_AI_ALL;
	if (flags & AI_CANONNAME)
		ah.ai_flags |= ARES_AI_CANONNAME;
	ares_getaddrinfo(ch, node, NULL, &ah, lookup_done, lk);
	while (!lk->done) {
		ares_socket_t socks[ARES_GETSOCK_MAXNUM];
		struct pollfd pfd[ARES_GETSOCK_MAXNUM];
		struct timeval tvbuf, *tv;
		unsigned int bits, rd, wr;
		int n = 0, ms;

		/* c-ares's ARES_GETSOCK_WRITABLE shifts a signed 1 by up to 31 */
		bits = (unsigned int)ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
		for (i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			rd = bits & (1u << i);
			wr = bits & (1u << (i + ARES_GETSOCK_MAXNUM));
			if (!rd && !wr)
				continue;
			pfd[n].fd = socks[i];
			pfd[n].events = (rd ? POLLIN : 0) | (wr ? POLLOUT : 0);
			pfd[n].revents = 0;
			n++;
		}
		tv = ares_timeout(ch, NULL, &tvbuf);
		ms = tv ? (int)(tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000) : 1000;
		ret = poll(pfd, n, ms);
		if (ret < 0 && errno != EINTR)
			break;
		if (ret <= 0) {
			ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
			continue;
		}
		for (i = 0; i < n; i++)
			ares_process_fd(ch,
				pfd[i].revents & (POLLIN | POLLERR | POLLHUP) ? pfd[i].fd : ARES_SOCKET_BAD,
				pfd[i].revents & POLLOUT ? pfd[i].fd : ARES_SOCKET_BAD);
	}
	ares_destroy(ch);	/* a pending query ends here, its callback runs */
	return ares_to_eai(lk->status);
}

/* ---------------------------------------------------------- getaddrinfo --- */

static int is_localhost(const char *node)
{
	size_t n = strlen(node);

	if (n && node[n - 1] == '.')
		n--;
	if (n == 9 && !strncasecmp(node, "localhost", 9))
		return 1;
	return n > 10 && !strncasecmp(node + n - 10, ".localhost", 10);
}

static int is_numeric(const char *node)
{
	unsigned char buf[sizeof(struct in6_addr)];
	char tmp[INET6_ADDRSTRLEN + IFNAMSIZ + 2];
	const char *pct = strchr(node, '%');

	if (inet_pton(AF_INET, node, buf) == 1)
		return 1;
	/* getaddrinfo(3) also takes the old a.b.c forms and a %scope */
	if (inet_aton(node, (struct in_addr *)buf))
		return 1;
	if (pct && (size_t)(pct - node) < sizeof(tmp)) {
		memcpy(tmp, node, pct - node);
		tmp[pct - node] = 0;
		node = tmp;
	}
	return inet_pton(AF_INET6, node, buf) == 1;
}

/* append the expansion of one address (socket types, ports) to *tail */
static int expand(const struct vds_ip *ip, const char *service,
		  const struct addrinfo *hints, struct addrinfo ***tail)
{
	char text[INET6_ADDRSTRLEN];
	struct addrinfo h = *hints, *r = NULL;
	int ret;

	h.ai_flags = (h.ai_flags | AI_NUMERICHOST) & ~(AI_CANONNAME | AI_ADDRCONFIG);
	h.ai_family = ip->family;
	inet_ntop(ip->family, &ip->u, text, sizeof(text));
	ret = vds_libc_getaddrinfo(text, service, &h, &r);
	if (ret)
		return ret;
	**tail = r;
	while (r->ai_next)
		r = r->ai_next;
	*tail = &r->ai_next;
	return 0;
}

/**
 * vds_getaddrinfo() - getaddrinfo(3) in a stack
 * @stack:	the stack (its DNS servers)
 * @node, @service, @hints, @res:	as for getaddrinfo(3)
 *
 * Return: 0, or an EAI_* code (EAI_SYSTEM with errno set)
 */
int vds_getaddrinfo(struct vdestack *stack, const char *node, const char *service,
		    const struct addrinfo *hints, struct addrinfo **res)
{
	struct addrinfo h = { .ai_family = AF_UNSPEC }, *head = NULL, **tail = &head;
	struct lookup *lk;
	int ret = 0, i, err = 0;

	if (!res)
		return EAI_NONAME;
	*res = NULL;
	if (hints)
		h = *hints;
	h.ai_addrlen = 0;
	h.ai_addr = NULL;
	h.ai_canonname = NULL;
	h.ai_next = NULL;
	if (!node && !service)
		return EAI_NONAME;
	if (h.ai_family != AF_UNSPEC && h.ai_family != AF_INET && h.ai_family != AF_INET6)
		return EAI_FAMILY;
	/* nothing that needs a server: the C library, told to ask no one */
	if (!node || is_numeric(node)) {
		if (node)
			h.ai_flags |= AI_NUMERICHOST;
		h.ai_flags &= ~AI_ADDRCONFIG;	/* the stack's, not the host's */
		return vds_libc_getaddrinfo(node, service, &h, res);
	}
	if (h.ai_flags & AI_NUMERICHOST)
		return EAI_NONAME;
	lk = calloc(1, sizeof(*lk));
	if (!lk)
		return EAI_MEMORY;
	if (is_localhost(node)) {
		if (h.ai_family != AF_INET) {
			lk->addr[lk->naddr].family = AF_INET6;
			lk->addr[lk->naddr++].u.v6 = in6addr_loopback;
		}
		if (h.ai_family != AF_INET6) {
			lk->addr[lk->naddr].family = AF_INET;
			lk->addr[lk->naddr++].u.v4.s_addr = htonl(INADDR_LOOPBACK);
		}
		lk->canon = strdup(node);
	} else {
		ret = dns_lookup(stack, node, h.ai_family, h.ai_flags, lk);
		if (ret)
			goto out;
		if (lk->naddr == 0) {
			ret = EAI_NODATA;
			goto out;
		}
	}
	for (i = 0; i < lk->naddr; i++) {
		err = expand(&lk->addr[i], service, &h, &tail);
		if (err == EAI_MEMORY || err == EAI_SERVICE || err == EAI_SOCKTYPE) {
			ret = err;
			goto out;
		}
	}
	if (!head) {
		ret = err ? err : EAI_NONAME;
		goto out;
	}
	if (h.ai_flags & AI_CANONNAME) {
		free(head->ai_canonname);
		head->ai_canonname = strdup(lk->canon ? lk->canon : node);
		if (!head->ai_canonname) {
			ret = EAI_MEMORY;
			goto out;
		}
	}
	*res = head;
	head = NULL;
out:
	if (head)
		freeaddrinfo(head);
	free(lk->canon);
	free(lk);
	return ret;
}

/* -------------------------------------------------------------- public --- */

/**
 * vdestack_getaddrinfo() - getaddrinfo(3) with the stack's DNS servers,
 * over sockets made in the stack
 * @stack:	the stack
 * @node, @service, @hints, @res:	as for getaddrinfo(3)
 *
 * Return: 0 (the list in *@res, free it with vdestack_freeaddrinfo() or
 * freeaddrinfo(3)), or an EAI_* code; EAI_AGAIN when a name needs DNS and
 * the stack has no server; EAI_SYSTEM with errno EINVAL (NULL stack) or
 * EBADF (deleted stack)
 */
VDS_EXPORT int vdestack_getaddrinfo(struct vdestack *stack, const char *node,
				    const char *service, const struct addrinfo *hints,
				    struct addrinfo **res)
{
	struct vds_stack *st;
	int ret;

	st = vds_stack_get(stack, &ret);
	if (!st) {
		if (res)
			*res = NULL;
		errno = -ret;
		return EAI_SYSTEM;
	}
	ret = vds_getaddrinfo(stack, node, service, hints, res);
	vds_stack_put(st);
	return ret;
}

/**
 * vdestack_freeaddrinfo() - free what vdestack_getaddrinfo() returned
 * @res:	the list, or NULL
 */
VDS_EXPORT void vdestack_freeaddrinfo(struct addrinfo *res)
{
	if (res)
		freeaddrinfo(res);
}

/**
 * vds_resolvconf() - the resolv.conf text of a stack
 * @stack:	the stack
 * @out:	set to the malloc'd text
 *
 * Return: 0, or -ENOMEM
 */
int vds_resolvconf(struct vdestack *stack, char **out)
{
	struct vds_ip dns[VDS_NI_MAXDNS];
	char domain[VDS_NI_DOMAIN], text[INET6_ADDRSTRLEN];
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int n, i;

	n = vds_ni_dns(stack, dns, VDS_NI_MAXDNS, domain, sizeof(domain));
	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	fprintf(f, "# resolv.conf of a vdestack stack\n");
	if (domain[0])
		fprintf(f, "search %s\n", domain);
	for (i = 0; i < n; i++) {
		inet_ntop(dns[i].family, &dns[i].u, text, sizeof(text));
		fprintf(f, "nameserver %s\n", text);
	}
	if (fclose(f) != 0 || !buf) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	return 0;
}

/**
 * vds_resolv_private() - the resolv.conf text that commands of a stack see
 * @stack:	the stack
 * @out:	set to the malloc'd text, or NULL when the stack has no DNS
 *		configuration (its commands then see the host's file)
 *
 * Return: 0, or -ENOMEM
 */
int vds_resolv_private(struct vdestack *stack, char **out)
{
	struct vds_ip dns[VDS_NI_MAXDNS];
	char domain[VDS_NI_DOMAIN];

	*out = NULL;
	if (vds_ni_dns(stack, dns, VDS_NI_MAXDNS, domain, sizeof(domain)) == 0 &&
	    !domain[0])
		return 0;
	return vds_resolvconf(stack, out);
}

/**
 * vdestack_resolvconf() - the stack's resolver configuration as resolv.conf text
 * @stack:	the stack
 *
 * Return: a malloc'd string (free(3) it): a comment line, "search DOMAIN"
 * when the stack has a domain, one "nameserver ADDR" per DNS server; or
 * NULL with errno EINVAL, EBADF, ENOMEM
 */
VDS_EXPORT char *vdestack_resolvconf(struct vdestack *stack)
{
	struct vds_stack *st;
	char *text = NULL;
	int ret;

	st = vds_stack_get(stack, &ret);
	if (!st) {
		errno = -ret;
		return NULL;
	}
	ret = vds_resolvconf(stack, &text);
	vds_stack_put(st);
	if (ret < 0) {
		errno = -ret;
		return NULL;
	}
	return text;
}
