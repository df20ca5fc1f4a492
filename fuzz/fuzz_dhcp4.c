// fuzz-sources: csrc/dhcpmsg.c
/*
 * fuzz_dhcp4.c - the DHCPv4 parser (what a server, or anyone on the link,
 * sends to the client) and the builder of client messages.
 *
 * The transaction id and MAC address are taken from the input itself, so
 * that every input gets past the "is it ours" check into the options.
 */
#include <stdint.h>
#include <string.h>

#include "dhcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vds_dhcp4_msg m;
	struct vds_dhcp4_req req = { .type = VDS_DHCPREQUEST };
	unsigned char mac[6] = { 0 };
	uint8_t out[VDS_DHCP4_MAXMSG];
	char name[300];
	uint32_t xid = 0;
	size_t n;

	if (size >= 34) {
		memcpy(&xid, data + 4, 4);
		memcpy(mac, data + 28, 6);
	}
	if (vds_dhcp4_parse(data, size, xid, mac, &m) == 0) {
		if (m.nrouters < 0 || m.nrouters > VDS_DHCP4_MAXADDR ||
		    m.ndns < 0 || m.ndns > VDS_DHCP4_MAXADDR ||
		    memchr(m.domain, 0, sizeof(m.domain)) == NULL ||
		    m.type < VDS_DHCPDISCOVER || m.type > VDS_DHCPINFORM)
			__builtin_trap();
	}
	/* the input as the name a client sends (options 12 and 81) */
	n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
	memcpy(name, data, n);
	name[n] = 0;
	req.fqdn = name;
	req.xid = xid;
	memcpy(req.mac, mac, 6);
	n = vds_dhcp4_build(out, sizeof(out), &req);
	if ((int)n > (int)sizeof(out))
		__builtin_trap();
	return 0;
}
