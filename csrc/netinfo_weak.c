// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * netinfo_weak.c - placeholders for the dynamic configuration (netinfo.h).
 *
 * TEMPORARY: replaced by the strong definitions of helper "dhcpdns"
 * (csrc/dhcp.c, csrc/dns.c) when its branch is merged; this file can then
 * be deleted.  Until then DHCP, DHCPv6, SLAAC and DNS tokens of
 * vdestack_config() fail with ENOTSUP, and deleting a stack has nothing to
 * release.
 */
#include <errno.h>

#include "netinfo.h"

#define WEAK __attribute__((weak))

/**
 * vds_dhcp4_start() - placeholder: DHCPv4 is not built in
 * @stack, @ifname, @fqdn, @timeout_ms:	unused
 *
 * Return: -ENOTSUP
 */
WEAK int vds_dhcp4_start(struct vdestack *stack, const char *ifname, const char *fqdn,
			 int timeout_ms)
{
	(void)stack, (void)ifname, (void)fqdn, (void)timeout_ms;
	return -ENOTSUP;
}

/**
 * vds_dhcp6_start() - placeholder: DHCPv6 is not built in
 * @stack, @ifname, @fqdn, @timeout_ms:	unused
 *
 * Return: -ENOTSUP
 */
WEAK int vds_dhcp6_start(struct vdestack *stack, const char *ifname, const char *fqdn,
			 int timeout_ms)
{
	(void)stack, (void)ifname, (void)fqdn, (void)timeout_ms;
	return -ENOTSUP;
}

/**
 * vds_slaac_start() - placeholder: SLAAC waiting is not built in
 * @stack, @ifname, @timeout_ms:	unused
 *
 * Return: -ENOTSUP
 */
WEAK int vds_slaac_start(struct vdestack *stack, const char *ifname, int timeout_ms)
{
	(void)stack, (void)ifname, (void)timeout_ms;
	return -ENOTSUP;
}

/**
 * vds_resolv_set() - placeholder: no resolver state is kept
 * @stack, @servers, @nservers, @domain:	unused
 *
 * Return: -ENOTSUP
 */
WEAK int vds_resolv_set(struct vdestack *stack, const char *const *servers, int nservers,
			const char *domain)
{
	(void)stack, (void)servers, (void)nservers, (void)domain;
	return -ENOTSUP;
}

/**
 * vds_netinfo_release() - placeholder: nothing to release
 * @stack:	unused
 */
WEAK void vds_netinfo_release(struct vdestack *stack)
{
	(void)stack;
}
