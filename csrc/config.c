// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * config.c - the parser of vdestack_config()'s configuration string.
 *
 * Comma-separated tokens, each checked completely here, before anything is
 * applied to a stack: a string that parses is one the stack can be asked
 * to apply (only what the kernel itself refuses, and interfaces the stack
 * does not have, are found later).  The parser uses nothing of the library,
 * so it is fuzzed alone (fuzz/fuzz_config.c).
 *
 *   iface=NAME	the interface of the tokens after it (default: the first)
 *   ip=ADDR/LEN	an IPv4 or IPv6 address (repeatable)
 *   gw=ADDR	default gateway, IPv4 or IPv6 (one per family)
 *   mtu=N	68..65535
 *   mac=XX:XX:XX:XX:XX:XX	unicast, not all zero
 *   dns=ADDR	a DNS server (repeatable)
 *   domain=NAME, fqdn=NAME	DNS names
 *   dhcp, dhcp6, slaac, up, down
 *   timeout=SECONDS	for dhcp, dhcp6, slaac (at most 3 decimals)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "config.h"

enum key {
	K_IFACE, K_IP, K_GW, K_MTU, K_MAC, K_DNS, K_DOMAIN, K_FQDN, K_TIMEOUT,
	K_DHCP, K_DHCP6, K_SLAAC, K_UP, K_DOWN,
};

static const struct {
	const char *name;
	int value;	/* 1: NAME=VALUE, 0: a bare word */
} keys[] = {
	[K_IFACE] = { "iface", 1 },	[K_IP] = { "ip", 1 },
	[K_GW] = { "gw", 1 },		[K_MTU] = { "mtu", 1 },
	[K_MAC] = { "mac", 1 },		[K_DNS] = { "dns", 1 },
	[K_DOMAIN] = { "domain", 1 },	[K_FQDN] = { "fqdn", 1 },
	[K_TIMEOUT] = { "timeout", 1 },	[K_DHCP] = { "dhcp", 0 },
	[K_DHCP6] = { "dhcp6", 0 },	[K_SLAAC] = { "slaac", 0 },
	[K_UP] = { "up", 0 },		[K_DOWN] = { "down", 0 },
};

static int find_key(const char *tok, size_t klen)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strlen(keys[i].name) == klen && !memcmp(keys[i].name, tok, klen))
			return i;
	return -1;
}

/* decimal digits only, no sign, at most max; -1 if not */
static long number(const char *s, long max)
{
	long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > max)
			return -1;
	}
	return v;
}

/* an interface name the kernel accepts (dev_valid_name), printable ASCII */
static int valid_ifname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s >= 0x7f || *s == '/' || *s == ':')
			return 0;
	return 1;
}

/* a DNS name: labels of 1-63 letters, digits, '-', '_'; 253 bytes at most */
static int valid_dnsname(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n && s[n - 1] == '.')
		n--;			/* a rooted name */
	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
		if (c == '-' && label == 0)
			return 0;
		if (++label > 63)
			return 0;
	}
	return s[n - 1] != '-';
}

/* an address that can be a host's: not unspecified, not multicast */
static int parse_host(const char *s, struct vds_conf_addr *a)
{
	static const unsigned char zero[16];

	if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, a->addr) != 1)
			return 0;
		a->family = AF_INET6;
		return memcmp(a->addr, zero, 16) && a->addr[0] != 0xff;
	}
	if (inet_pton(AF_INET, s, a->addr) != 1)
		return 0;
	a->family = AF_INET;
	/* 0.0.0.0/8 is "this network", 224/4 multicast, 240/4 reserved */
	return a->addr[0] != 0 && a->addr[0] < 224;
}

/* ADDR/LEN */
static int parse_cidr(char *s, struct vds_conf_addr *a)
{
	char *slash = strchr(s, '/');
	long len;

	if (!slash)
		return 0;
	*slash = '\0';
	if (!parse_host(s, a))
		return 0;
	len = number(slash + 1, 128);
	return len >= 0 && len <= (a->family == AF_INET ? 32 : 128) &&
	       (a->prefixlen = len, 1);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_mac(const char *s, unsigned char mac[6])
{
	if (strlen(s) != 17)
		return 0;
	for (int i = 0; i < 6; i++) {
		const char *h = s + 3 * i;
		int hi = hexval(h[0]), lo = hexval(h[1]);

		if (hi < 0 || lo < 0 || (i < 5 && h[2] != ':'))
			return 0;
		mac[i] = hi << 4 | lo;
	}
	/* the kernel refuses a multicast (group bit) or all-zero address */
	return !(mac[0] & 1) && (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

/* SECONDS with at most 3 decimals, > 0 and <= VDS_CONF_TIMEOUT_MAX */
static int parse_timeout(char *s, int *ms)
{
	char *dot = strchr(s, '.');
	long sec, frac = 0;
	size_t nd = 0;

	if (dot) {
		*dot = '\0';
		nd = strlen(dot + 1);
		if (nd == 0 || nd > 3)
			return 0;
		frac = number(dot + 1, 999);
		if (frac < 0)
			return 0;
		while (nd++ < 3)
			frac *= 10;
	}
	sec = number(s, VDS_CONF_TIMEOUT_MAX);
	if (sec < 0 || (sec == VDS_CONF_TIMEOUT_MAX && frac) || (sec == 0 && frac == 0))
		return 0;
	*ms = sec * 1000 + frac;
	return 1;
}

/* the section of interface name (NULL: the default one), made if new */
static int section(struct vds_conf *c, const char *name, size_t off)
{
	for (int i = 0; i < c->nifs; i++)
		if ((!name && !c->ifs[i].name) ||
		    (name && c->ifs[i].name && !strcmp(name, c->ifs[i].name)))
			return i;
	c->ifs[c->nifs] = (struct vds_conf_if){ .name = name, .off = off, .up = -1 };
	return c->nifs++;
}

/* one token; 0 if it is bad */
static int token(struct vds_conf *c, int *cur, char *tok, size_t off)
{
	char *eq = strchr(tok, '=');
	char *val = eq ? eq + 1 : NULL;
	int k = find_key(tok, eq ? (size_t)(eq - tok) : strlen(tok));
	struct vds_conf_if *s;
	struct vds_conf_addr a = { .ifs = *cur, .off = off };
	long n;

	if (k < 0 || keys[k].value != !!eq || (val && !*val))
		return 0;
	if (k == K_IFACE) {
		if (!valid_ifname(val))
			return 0;
		*cur = section(c, val, off);
		c->ifs[*cur].used = 1;	/* a named interface must exist */
		return 1;
	}
	s = &c->ifs[*cur];
	switch (k) {
	case K_IP:
		if (!parse_cidr(val, &a))
			return 0;
		c->addrs[c->naddrs++] = a;
		break;
	case K_GW:
		if (!parse_host(val, &a))
			return 0;
		/* one default route per family, in the whole string */
		for (int i = 0; i < c->nifs; i++)
			if ((a.family == AF_INET ? c->ifs[i].gw4 : c->ifs[i].gw6).family)
				return 0;
		if (a.family == AF_INET)
			s->gw4 = a;
		else
			s->gw6 = a;
		break;
	case K_MTU:
		n = number(val, 65535);
		if (n < 68 || s->mtu)
			return 0;
		s->mtu = n;
		break;
	case K_MAC:
		if (s->has_mac || !parse_mac(val, s->mac))
			return 0;
		s->has_mac = 1;
		break;
	case K_DNS:
		if (!parse_host(val, &a))
			return 0;
		c->dns[c->ndns++] = val;
		return 1;		/* not about an interface */
	case K_DOMAIN:
		if (c->domain || !valid_dnsname(val))
			return 0;
		c->domain = val;
		return 1;
	case K_FQDN:
		if (c->fqdn || !valid_dnsname(val))
			return 0;
		c->fqdn = val;
		return 1;
	case K_TIMEOUT:
		if (c->timeout_ms || !parse_timeout(val, &c->timeout_ms))
			return 0;
		return 1;
	case K_DHCP:
		if (s->dhcp)
			return 0;
		s->dhcp = 1;
		break;
	case K_DHCP6:
		if (s->dhcp6)
			return 0;
		s->dhcp6 = 1;
		break;
	case K_SLAAC:
		if (s->slaac)
			return 0;
		s->slaac = 1;
		break;
	case K_UP:
	case K_DOWN:
		if (s->up >= 0)
			return 0;	/* said twice, or both */
		s->up = k == K_UP;
		if (k == K_DOWN)
			s->off_down = off;
		break;
	}
	if (!s->used) {
		s->used = 1;
		if (!s->name)
			s->off = off;	/* blamed if the stack has no interface */
	}
	return 1;
}

/**
 * vds_config_free() - free what vds_config_parse() allocated
 * @c:	the parsed string (zeroed or parsed); NULL is ignored
 */
void vds_config_free(struct vds_conf *c)
{
	if (!c)
		return;
	free(c->buf);
	free(c->ifs);
	free(c->addrs);
	free(c->dns);
	memset(c, 0, sizeof(*c));
}

/**
 * vds_config_parse() - check and parse a configuration string
 * @config:	the string (NULL or "": nothing to do)
 * @c:		filled in; free it with vds_config_free() after success
 * @bad:	on -EINVAL, the offset of the bad token in @config
 *		(VDS_CONF_NOWHERE when the string as a whole is at fault)
 *
 * Return: 0, -EINVAL for a bad string, -ENOMEM
 */
int vds_config_parse(const char *config, struct vds_conf *c, size_t *bad)
{
	size_t len, off = 0, ntok = 1;
	char *tok;
	int cur;

	memset(c, 0, sizeof(*c));
	*bad = VDS_CONF_NOWHERE;
	if (!config)
		config = "";
	len = strnlen(config, VDS_CONF_MAX + 1);
	if (len > VDS_CONF_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		ntok += config[i] == ',';
	c->buf = malloc(len + 1);
	c->ifs = calloc(ntok + 1, sizeof(*c->ifs));
	c->addrs = calloc(ntok, sizeof(*c->addrs));
	c->dns = calloc(ntok, sizeof(*c->dns));
	if (!c->buf || !c->ifs || !c->addrs || !c->dns) {
		vds_config_free(c);
		return -ENOMEM;
	}
	memcpy(c->buf, config, len + 1);
	cur = section(c, NULL, 0);
	for (tok = c->buf; len > 0; tok = c->buf + off) {
		char *comma = strchr(tok, ',');

		if (comma)
			*comma = '\0';
		if (!token(c, &cur, tok, off)) {
			*bad = off;
			vds_config_free(c);
			return -EINVAL;
		}
		if (!comma)
			break;
		off = comma + 1 - c->buf;
	}
	for (int i = 0; i < c->nifs; i++) {
		struct vds_conf_if *s = &c->ifs[i];
		int dynamic = s->dhcp || s->dhcp6 || s->slaac;
		int addressed = dynamic || s->gw4.family || s->gw6.family;

		for (int j = 0; j < c->naddrs; j++)
			addressed |= c->addrs[j].ifs == i;
		/* a gateway or a lease cannot work on a link kept down */
		if (s->up == 0 && (dynamic || s->gw4.family || s->gw6.family)) {
			*bad = s->off_down;
			vds_config_free(c);
			return -EINVAL;
		}
		if (s->up < 0 && addressed)
			s->up = 1;
	}
	if (!c->timeout_ms)
		c->timeout_ms = VDS_CONF_TIMEOUT_MS;
	return 0;
}

/**
 * vds_config_check() - is this a valid configuration string?
 * @config:	the string
 * @bad_offset:	on -EINVAL, where the bad token starts (VDS_CONF_NOWHERE:
 *		the string as a whole, e.g. too long); may be NULL
 *
 * Interfaces are not looked up: that needs the stack (vds_config_apply).
 *
 * Return: 0, -EINVAL, -ENOMEM
 */
int vds_config_check(const char *config, size_t *bad_offset)
{
	struct vds_conf c;
	size_t bad;
	int ret = vds_config_parse(config, &c, &bad);

	if (bad_offset)
		*bad_offset = bad;
	if (ret == 0)
		vds_config_free(&c);
	return ret;
}
