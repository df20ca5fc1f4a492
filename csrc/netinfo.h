/* csrc/netinfo.h (created by dhcpdns; you create it too with exactly this content, the merge will unify) */
struct vdestack;
int vds_dhcp4_start(struct vdestack *stack, const char *ifname, const char *fqdn, int timeout_ms); /* 0 once leased and applied, -ETIMEDOUT, -errno */
int vds_dhcp6_start(struct vdestack *stack, const char *ifname, const char *fqdn, int timeout_ms);
int vds_slaac_start(struct vdestack *stack, const char *ifname, int timeout_ms);
int vds_resolv_set(struct vdestack *stack, const char *const *servers, int nservers, const char *domain); /* replaces the stack's static DNS configuration */
void vds_netinfo_release(struct vdestack *stack); /* vde_delstack calls it first: DHCP release, stop renewals, forget DNS state */
