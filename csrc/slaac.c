// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * slaac.c - IPv6 stateless autoconfiguration: the kernel's.
 *
 * A new network namespace accepts router advertisements (accept_ra 1,
 * forwarding 0), so the kernel itself makes the addresses and the default
 * route from a router's prefix.  This brings the link up and waits, over
 * rtnetlink, for a global address that has passed duplicate address
 * detection.  DNS options of the advertisement (RDNSS) are not read.
 */
#include <errno.h>
#include <unistd.h>
#include <linux/rtnetlink.h>

#include "netinfo.h"
#include "nlconf.h"

/**
 * vds_slaac_start() - bring an interface up and wait for a global IPv6
 * address made from a router advertisement
 * @stack:	the stack
 * @ifname:	the interface
 * @timeout_ms:	how long to wait; <= 0: 10 seconds
 *
 * Return: 0 once the interface has a usable global IPv6 address,
 * -ETIMEDOUT, -ENODEV (no such interface), or another -errno
 */
int vds_slaac_start(struct vdestack *stack, const char *ifname, int timeout_ms)
{
	int nl, ifindex, ret;

	if (!stack || !ifname)
		return -EINVAL;
	nl = vds_nl_open(stack);
	if (nl < 0)
		return nl;
	ret = ifindex = vds_nl_ifindex(nl, ifname);
	if (ret > 0)
		ret = vds_nl_link_set(nl, ifindex, 1, 0, NULL);
	if (ret == 0)
		ret = vds_nl_addr6_wait(nl, ifindex, RT_SCOPE_UNIVERSE, NULL,
					timeout_ms > 0 ? timeout_ms : 10000);
	close(nl);
	return ret;
}
