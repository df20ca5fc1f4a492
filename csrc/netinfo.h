/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * netinfo.h - what the configuration string asks of the DHCP, SLAAC and
 * resolver parts (dhcp.c, dhcp6.c, slaac.c, resolv.c).  Inside the library:
 * each returns 0 or -errno.
 */
#ifndef VDS_NETINFO_H
#define VDS_NETINFO_H

struct vdestack;

/* 0 once leased and applied, -ETIMEDOUT, -errno */
int vds_dhcp4_start(struct vdestack *stack, const char *ifname, const char *fqdn, int timeout_ms);
int vds_dhcp6_start(struct vdestack *stack, const char *ifname, const char *fqdn, int timeout_ms);
int vds_slaac_start(struct vdestack *stack, const char *ifname, int timeout_ms);
/* replaces the stack's static DNS configuration */
int vds_resolv_set(struct vdestack *stack, const char *const *servers, int nservers, const char *domain);
/* vde_delstack calls it first: DHCP release, stop renewals, forget DNS state */
void vds_netinfo_release(struct vdestack *stack);

#endif /* VDS_NETINFO_H */
