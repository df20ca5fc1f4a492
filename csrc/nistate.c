// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * nistate.c - per-stack network information (DNS servers, domain, running
 * DHCP clients), keyed by the stack handle.
 *
 * A short list under one mutex: lookups are rare (a configuration, a name
 * lookup, a renewal), stacks with such state are few.  A client's thread
 * only updates a record that is still listed; vds_netinfo_release() unlists
 * the stack's record first, then stops its clients (which joins their
 * threads) without the lock, so a thread never waits for a lock held by
 * the one joining it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "netinfo.h"
#include "nistate.h"

struct ni {
	struct ni *next;
	struct vdestack *stack;
	pid_t pid;				/* the process that made it */
	struct vds_ip dns[VDS_NI_MAXDNS];	/* static (dns=) */
	int ndns;
	char domain[VDS_NI_DOMAIN];		/* static (domain=), "" none */
	struct vds_ni_client *clients;
};

static pthread_mutex_t ni_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct ni *ni_list;

/** vds_ni_lock() - take the lock of the per-stack network information */
void vds_ni_lock(void)
{
	pthread_mutex_lock(&ni_mutex);
}

/** vds_ni_unlock() - release it */
void vds_ni_unlock(void)
{
	pthread_mutex_unlock(&ni_mutex);
}

/* the record of stack (lock held), made when create is set; NULL: none/ENOMEM */
static struct ni *ni_get(struct vdestack *stack, int create)
{
	struct ni *n;

	for (n = ni_list; n; n = n->next)
		if (n->stack == stack)
			return n;
	if (!create)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->stack = stack;
	n->pid = getpid();
	n->next = ni_list;
	ni_list = n;
	return n;
}

/**
 * vds_ip_parse() - an IPv4 or IPv6 address from text
 * @s:		"192.0.2.1" or "2001:db8::1"
 * @ip:		filled in
 *
 * Return: 0, or -EINVAL
 */
int vds_ip_parse(const char *s, struct vds_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (s && inet_pton(AF_INET, s, &ip->u.v4) == 1) {
		ip->family = AF_INET;
		return 0;
	}
	if (s && inet_pton(AF_INET6, s, &ip->u.v6) == 1) {
		ip->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

/* a DNS domain name we are willing to write into resolv.conf */
static int domain_ok(const char *d)
{
	size_t n = strlen(d);

	if (n == 0 || n >= VDS_NI_DOMAIN)
		return 0;
	for (; *d; d++)
		if (!((*d >= 'a' && *d <= 'z') || (*d >= 'A' && *d <= 'Z') ||
		      (*d >= '0' && *d <= '9') || *d == '.' || *d == '-' || *d == '_'))
			return 0;
	return 1;
}

/**
 * vds_resolv_set() - replace the static DNS configuration of a stack
 * @stack:	the stack
 * @servers:	IPv4/IPv6 addresses as text (at most VDS_NI_MAXDNS)
 * @nservers:	how many; 0 removes the static servers
 * @domain:	search domain, NULL or "" for none
 *
 * Static servers, when there are any, are used instead of those of the
 * DHCP leases (as a written resolv.conf wins over a DHCP client's).
 *
 * Return: 0, or -EINVAL (a bad address or domain, too many servers), -ENOMEM
 */
int vds_resolv_set(struct vdestack *stack, const char *const *servers, int nservers,
		   const char *domain)
{
	struct vds_ip ips[VDS_NI_MAXDNS];
	struct ni *n;
	int i;

	if (!stack || nservers < 0 || nservers > VDS_NI_MAXDNS || (nservers && !servers))
		return -EINVAL;
	for (i = 0; i < nservers; i++)
		if (vds_ip_parse(servers[i], &ips[i]) < 0)
			return -EINVAL;
	if (domain && *domain && !domain_ok(domain))
		return -EINVAL;
	vds_ni_lock();
	n = ni_get(stack, 1);
	if (!n) {
		vds_ni_unlock();
		return -ENOMEM;
	}
	memcpy(n->dns, ips, sizeof(ips[0]) * nservers);
	n->ndns = nservers;
	n->domain[0] = 0;
	if (domain)
		strcpy(n->domain, domain);
	vds_ni_unlock();
	return 0;
}

/**
 * vds_ni_attach() - list a started client for a stack
 * @stack:	the stack
 * @c:		the client; one listed before for the same interface and
 *		kind is stopped and replaced
 *
 * Return: 0, or -ENOMEM
 */
int vds_ni_attach(struct vdestack *stack, struct vds_ni_client *c)
{
	struct vds_ni_client **pp, *old = NULL;
	struct ni *n;
	int owner = 0;

	vds_ni_lock();
	n = ni_get(stack, 1);
	if (!n) {
		vds_ni_unlock();
		return -ENOMEM;
	}
	for (pp = &n->clients; *pp; pp = &(*pp)->next) {
		if ((*pp)->kind == c->kind && !strcmp((*pp)->ifname, c->ifname)) {
			old = *pp;
			*pp = old->next;
			owner = n->pid == getpid();
			break;
		}
	}
	/* appended: the DNS servers of the first client come first */
	c->next = NULL;
	for (pp = &n->clients; *pp; pp = &(*pp)->next)
		;
	*pp = c;
	vds_ni_unlock();
	if (old)
		old->stop(old, owner);
	return 0;
}

/**
 * vds_ni_stop() - stop the client of a stack's interface, if there is one
 * @stack:	the stack
 * @ifname:	its interface
 * @kind:	4 or 6
 *
 * A new client calls it before it starts, so that the old one's RELEASE
 * cannot free the address the new one is about to be given.
 */
void vds_ni_stop(struct vdestack *stack, const char *ifname, int kind)
{
	struct vds_ni_client **pp, *old = NULL;
	struct ni *n;
	int owner = 0;

	vds_ni_lock();
	n = ni_get(stack, 0);
	for (pp = n ? &n->clients : NULL; pp && *pp; pp = &(*pp)->next) {
		if ((*pp)->kind == kind && !strcmp((*pp)->ifname, ifname)) {
			old = *pp;
			*pp = old->next;
			owner = n->pid == getpid();
			break;
		}
	}
	vds_ni_unlock();
	if (old)
		old->stop(old, owner);
}

/**
 * vds_ni_find() - a listed client (call with the lock held)
 * @stack:	the stack
 * @ifname:	its interface
 * @kind:	4 or 6
 *
 * Return: the client, valid while the lock is held, or NULL
 */
struct vds_ni_client *vds_ni_find(struct vdestack *stack, const char *ifname, int kind)
{
	struct ni *n = ni_get(stack, 0);
	struct vds_ni_client *c;

	for (c = n ? n->clients : NULL; c; c = c->next)
		if (c->kind == kind && (!ifname || !strcmp(c->ifname, ifname)))
			return c;
	return NULL;
}

static int add_ip(struct vds_ip *out, int n, int max, const struct vds_ip *ip)
{
	int i;

	for (i = 0; i < n; i++)
		if (out[i].family == ip->family &&
		    !memcmp(&out[i].u, &ip->u, ip->family == AF_INET ? 4 : 16))
			return n;
	if (n < max)
		out[n++] = *ip;
	return n;
}

/**
 * vds_ni_dns() - the DNS servers and domain a stack uses now
 * @stack:	the stack
 * @out:	servers, at most @max
 * @max:	size of @out
 * @domain:	the search domain ("" none), or NULL
 * @dlen:	size of @domain (at least VDS_NI_DOMAIN)
 *
 * The static configuration when it names servers, else the servers of the
 * running clients (DHCPv4 before DHCPv6, in the order they started); the
 * static domain when set, else the first one a client learnt.
 *
 * Return: the number of servers (0: none)
 */
int vds_ni_dns(struct vdestack *stack, struct vds_ip *out, int max, char *domain,
	       size_t dlen)
{
	struct vds_ni_client *c;
	struct ni *n;
	int cnt = 0, i, kind;

	if (domain && dlen)
		domain[0] = 0;
	vds_ni_lock();
	n = ni_get(stack, 0);
	if (n) {
		for (i = 0; i < n->ndns; i++)
			cnt = add_ip(out, cnt, max, &n->dns[i]);
		for (kind = 4; !n->ndns && kind <= 6; kind += 2)
			for (c = n->clients; c; c = c->next)
				for (i = 0; c->kind == kind && i < c->ndns; i++)
					cnt = add_ip(out, cnt, max, &c->dns[i]);
		if (domain && dlen >= VDS_NI_DOMAIN) {
			if (n->domain[0])
				strcpy(domain, n->domain);
			for (kind = 4; !domain[0] && kind <= 6; kind += 2)
				for (c = n->clients; c && !domain[0]; c = c->next)
					if (c->kind == kind && c->domain[0])
						strcpy(domain, c->domain);
		}
	}
	vds_ni_unlock();
	return cnt;
}

/**
 * vds_netinfo_release() - forget a stack's network information
 * @stack:	the stack being deleted
 *
 * Stops its DHCP clients (each sends its RELEASE and ends its renewal
 * thread) and drops its DNS configuration.  vde_delstack() calls it first.
 */
void vds_netinfo_release(struct vdestack *stack)
{
	struct ni **pp, *n = NULL;
	struct vds_ni_client *c;

	vds_ni_lock();
	for (pp = &ni_list; *pp; pp = &(*pp)->next) {
		if ((*pp)->stack == stack) {
			n = *pp;
			*pp = n->next;
			break;
		}
	}
	vds_ni_unlock();
	if (!n)
		return;
	while ((c = n->clients)) {
		n->clients = c->next;
		c->stop(c, n->pid == getpid());
	}
	free(n);
}
