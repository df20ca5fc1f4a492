// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * confapply.c - vdestack_config(): a parsed configuration string applied to
 * a stack.
 *
 * Order: everything is checked first (the string by config.c, then that
 * every interface it names exists in the stack); then, per interface, one
 * link request (MTU, MAC, up/down together), its addresses, its gateways;
 * then the DNS settings; then the dynamic parts (DHCPv4, DHCPv6, SLAAC),
 * which wait for their answers.  Addresses and gateways replace what is
 * there, so applying a string twice is not an error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "netinfo.h"
#include "nlconf.h"
#include "stack.h"
#include "util.h"

static int apply_if(int nl, const struct vds_conf *c, int i, int index)
{
	const struct vds_conf_if *s = &c->ifs[i];
	int ret = 0;

	if (s->up >= 0 || s->mtu || s->has_mac)
		ret = vds_nl_link_set(nl, index, s->up, s->mtu, s->has_mac ? s->mac : NULL);
	for (int j = 0; j < c->naddrs && ret >= 0; j++)
		if (c->addrs[j].ifs == i)
			ret = vds_nl_addr(nl, VDS_NL_ADD | VDS_NL_REPLACE, index,
					  c->addrs[j].family, c->addrs[j].addr,
					  c->addrs[j].prefixlen);
	if (ret >= 0 && s->gw4.family)
		ret = vds_nl_route(nl, VDS_NL_ADD | VDS_NL_REPLACE, AF_INET, NULL, 0,
				   s->gw4.addr, index);
	if (ret >= 0 && s->gw6.family)
		ret = vds_nl_route(nl, VDS_NL_ADD | VDS_NL_REPLACE, AF_INET6, NULL, 0,
				   s->gw6.addr, index);
	return ret;
}

static int apply_dynamic(struct vdestack *stack, const struct vds_conf *c,
			 const char *name, int i)
{
	const struct vds_conf_if *s = &c->ifs[i];
	int ret = 0;

	if (s->dhcp)
		ret = vds_dhcp4_start(stack, name, c->fqdn, c->timeout_ms);
	if (ret >= 0 && s->dhcp6)
		ret = vds_dhcp6_start(stack, name, c->fqdn, c->timeout_ms);
	if (ret >= 0 && s->slaac)
		ret = vds_slaac_start(stack, name, c->timeout_ms);
	return ret;
}

/**
 * vds_config_apply() - check a configuration string, then apply it
 * @stack:	the stack
 * @config:	the string (see config.c)
 * @bad_offset:	on -EINVAL from the checks, the offset of the token at
 *		fault, or VDS_CONF_NOWHERE
 *
 * Nothing is applied unless every check passed.  A failure while applying
 * (the kernel refused, a DHCP server did not answer) leaves what was
 * applied before it.
 *
 * Return: 0, or -errno (-EINVAL: the string, with *bad_offset set)
 */
int vds_config_apply(struct vdestack *stack, const char *config, size_t *bad_offset)
{
	struct vds_conf c;
	char first[IFNAMSIZ];
	int *index = NULL, nl = -1, ret, need_nl = 0;

	*bad_offset = VDS_CONF_NOWHERE;
	ret = vds_stack_first_ifname(stack, first);
	if (ret < 0)
		return ret;
	ret = vds_config_parse(config, &c, bad_offset);
	if (ret < 0)
		return ret;
	index = calloc(c.nifs, sizeof(*index));
	if (!index) {
		ret = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < c.nifs; i++) {
		struct vds_conf_if *s = &c.ifs[i];

		if (!s->used)
			continue;
		if (!s->name && !first[0]) {
			*bad_offset = s->off;	/* a loopback-only stack */
			ret = -EINVAL;
			goto out;
		}
		if (!s->name)
			s->name = first;
		need_nl = 1;
	}
	if (need_nl) {
		nl = vds_nl_open(stack);
		if (nl < 0) {
			ret = nl;
			goto out;
		}
	}
	for (int i = 0; i < c.nifs; i++) {
		if (!c.ifs[i].used)
			continue;
		ret = vds_nl_ifindex(nl, c.ifs[i].name);
		if (ret == -ENODEV) {
			*bad_offset = c.ifs[i].off;
			ret = -EINVAL;
		}
		if (ret < 0)
			goto out;
		index[i] = ret;
	}
	/* checked: from here on, things change */
	for (int i = 0; i < c.nifs; i++) {
		if (!c.ifs[i].used)
			continue;
		ret = apply_if(nl, &c, i, index[i]);
		if (ret < 0)
			goto out;
	}
	if (c.ndns || c.domain) {
		ret = vds_resolv_set(stack, c.dns, c.ndns, c.domain);
		if (ret < 0)
			goto out;
	}
	for (int i = 0; i < c.nifs; i++) {
		if (!c.ifs[i].used)
			continue;
		ret = apply_dynamic(stack, &c, c.ifs[i].name, i);
		if (ret < 0)
			goto out;
	}
	ret = 0;
out:
	if (nl >= 0)
		close(nl);
	free(index);
	vds_config_free(&c);
	return ret;
}

/**
 * vdestack_config() - configure a stack from a configuration string
 * @stack:	the stack
 * @config:	comma-separated tokens (vdestack_config(3))
 *
 * Return: 0, or -1 with errno (EINVAL: a bad string, nothing applied)
 */
VDS_EXPORT int vdestack_config(struct vdestack *stack, const char *config)
{
	size_t bad;
	int ret = vds_config_apply(stack, config, &bad);

	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return 0;
}
