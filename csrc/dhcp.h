/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dhcp.h - DHCPv4 (RFC 2131/2132): the messages (built and parsed with no
 * stack, so they can be unit-tested and fuzzed) and the lease a client holds.
 */
#ifndef VDS_DHCP_H
#define VDS_DHCP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <net/if.h>
#include <netinet/in.h>

struct vdestack;

#define VDS_DHCP4_MAXADDR	8	/* routers, DNS servers kept */
#define VDS_DHCP4_MAXMSG	576	/* what we send; and ask for at least */

enum {
	VDS_DHCPDISCOVER = 1, VDS_DHCPOFFER, VDS_DHCPREQUEST, VDS_DHCPDECLINE,
	VDS_DHCPACK, VDS_DHCPNAK, VDS_DHCPRELEASE, VDS_DHCPINFORM,
};

/**
 * struct vds_dhcp4_msg - what a server's message says (parsed)
 * @type:	option 53
 * @yiaddr:	the address offered or acknowledged
 * @server:	option 54 (server identifier), 0 when absent
 * @mask:	option 1, 0 when absent
 * @broadcast:	option 28, 0 when absent
 * @routers, @nrouters:	option 3
 * @dns, @ndns:	option 6
 * @domain:	option 15, "" when absent or not a plain domain name
 * @lease, @t1, @t2:	options 51, 58, 59 in seconds, 0 when absent
 */
struct vds_dhcp4_msg {
	int type;
	struct in_addr yiaddr, server, mask, broadcast;
	struct in_addr routers[VDS_DHCP4_MAXADDR];
	int nrouters;
	struct in_addr dns[VDS_DHCP4_MAXADDR];
	int ndns;
	char domain[256];
	uint32_t lease, t1, t2;
};

/**
 * struct vds_dhcp4_req - what a client message carries
 * @type:	VDS_DHCPDISCOVER, REQUEST or RELEASE
 * @xid:	transaction id
 * @mac:	client hardware address
 * @ciaddr:	client address (renewing, rebinding, releasing), or 0
 * @reqip:	option 50, or 0
 * @server:	option 54, or 0
 * @fqdn:	sent as options 12 (first label) and 81, or NULL
 * @secs:	seconds since the client began
 * @broadcast:	ask the server to broadcast its answer
 */
struct vds_dhcp4_req {
	int type;
	uint32_t xid;
	unsigned char mac[6];
	struct in_addr ciaddr, reqip, server;
	const char *fqdn;
	uint16_t secs;
	int broadcast;
};

int vds_dhcp4_build(uint8_t *buf, size_t size, const struct vds_dhcp4_req *req);
int vds_dhcp4_parse(const void *buf, size_t len, uint32_t xid,
		    const unsigned char mac[6], struct vds_dhcp4_msg *m);
int vds_dns_name_encode(uint8_t *out, size_t size, const char *name);

/**
 * struct vds_lease4 - a DHCPv4 lease as applied
 * @ifname:	interface
 * @addr, @mask, @plen:	address and netmask / prefix length
 * @server:	the server that granted it
 * @routers, @nrouters, @dns, @ndns, @domain:	as the server sent them
 * @lease, @t1, @t2:	lease time, renewal and rebinding times (seconds)
 * @obtained:	when the last DHCPACK came (CLOCK_REALTIME seconds)
 * @renewals:	how many times the lease was renewed or rebound
 */
struct vds_lease4 {
	char ifname[IFNAMSIZ];
	struct in_addr addr, mask, server;
	int plen;
	struct in_addr routers[VDS_DHCP4_MAXADDR];
	int nrouters;
	struct in_addr dns[VDS_DHCP4_MAXADDR];
	int ndns;
	char domain[256];
	uint32_t lease, t1, t2;
	time_t obtained;
	unsigned int renewals;
};

int vds_dhcp4_lease(struct vdestack *stack, const char *ifname, struct vds_lease4 *out);

#endif /* VDS_DHCP_H */
