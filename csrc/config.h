/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config.h - the configuration string of vdestack_config(): its parser
 * (config.c, no dependency on the rest of the library, so it can be fuzzed
 * alone) and its application to a stack (confapply.c).
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>

struct vdestack;

#define VDS_CONF_MAX		65536	/* longest configuration string */
#define VDS_CONF_TIMEOUT_MS	10000	/* dhcp/dhcp6/slaac wait without timeout= */
#define VDS_CONF_TIMEOUT_MAX	3600	/* seconds */
#define VDS_CONF_NOWHERE	((size_t)-1)	/* no token to blame */

/**
 * struct vds_conf_addr - an address of an ip=, gw= or dns= token
 * @ifs:	the interface section it belongs to (ip=, gw=)
 * @family:	AF_INET or AF_INET6
 * @addr:	network byte order
 * @prefixlen:	ip= only
 * @off:	where the token starts in the string
 */
struct vds_conf_addr {
	int ifs;
	int family;
	unsigned char addr[16];
	unsigned int prefixlen;
	size_t off;
};

/**
 * struct vds_conf_if - what the string says about one interface
 * @name:	NULL for the stack's first interface (no iface= yet)
 * @off:	offset of its iface= token, or of its first token without one
 * @used:	some token applies to it
 * @up:		-1 unchanged, 0 down, 1 up (said, or implied by an address,
 *		a gateway, dhcp, dhcp6, slaac)
 * @mtu:	0 unchanged
 * @has_mac, @mac:	new MAC address
 * @gw4, @gw6:	gateways (family 0: none)
 * @dhcp, @dhcp6, @slaac:	dynamic configuration asked for
 * @off_down:	where its "down" token is (a conflict is blamed on it)
 */
struct vds_conf_if {
	const char *name;
	size_t off;
	int used;
	int up;
	unsigned int mtu;
	int has_mac;
	unsigned char mac[6];
	struct vds_conf_addr gw4, gw6;
	int dhcp, dhcp6, slaac;
	size_t off_down;
};

/**
 * struct vds_conf - a parsed configuration string
 * @buf:	copy of the string; names point into it
 * @ifs, @nifs:	interface sections, in order of first mention
 * @addrs, @naddrs:	ip= addresses, in string order
 * @dns, @ndns:	dns= servers as written (validated)
 * @domain, @fqdn:	NULL when not given
 * @timeout_ms:	for dhcp, dhcp6, slaac
 */
struct vds_conf {
	char *buf;
	struct vds_conf_if *ifs;
	int nifs;
	struct vds_conf_addr *addrs;
	int naddrs;
	const char **dns;
	int ndns;
	const char *domain, *fqdn;
	int timeout_ms;
};

int vds_config_parse(const char *config, struct vds_conf *conf, size_t *bad);
void vds_config_free(struct vds_conf *conf);
int vds_config_check(const char *config, size_t *bad_offset);

int vds_config_apply(struct vdestack *stack, const char *config, size_t *bad_offset);

#endif /* CONFIG_H */
