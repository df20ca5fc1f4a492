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
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/rtnetlink.h>

#include "netinfo.h"
#include "rtnl.h"

#define POLL_MS 20

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
	long long end = mono_ms() + (timeout_ms > 0 ? timeout_ms : 10000);
	struct vds_ifinfo ifi;
	int nl, ret;

	if (!stack || !ifname)
		return -EINVAL;
	ret = vds_ifinfo(stack, ifname, &ifi);
	if (ret < 0)
		return ret;
	nl = vds_rtnl_open(stack);
	if (nl < 0)
		return nl;
	ret = vds_rtnl_link_up(nl, ifi.index);
	while (ret == 0) {
		ret = vds_rtnl_addr6(nl, ifi.index, RT_SCOPE_UNIVERSE, NULL, NULL);
		if (ret > 0) {
			ret = 0;
			break;
		}
		if (ret < 0)
			break;
		if (mono_ms() >= end) {
			ret = -ETIMEDOUT;
			break;
		}
		usleep(POLL_MS * 1000);
	}
	close(nl);
	return ret;
}
