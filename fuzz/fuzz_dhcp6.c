// fuzz-sources: csrc/dhcpmsg.c csrc/dhcp6msg.c
/*
 * fuzz_dhcp6.c - the DHCPv6 parser (ADVERTISE/REPLY from the link, with
 * nested IA_NA / IAADDR / status options) and the DNS name decoder of its
 * domain list option.
 *
 * The client identifier the parser insists on is a fixed DUID-LL; the
 * transaction id comes from the input, so inputs reach the options.
 */
#include <stdint.h>
#include <string.h>

#include "dhcp6.h"

static const uint8_t duid[10] = { 0, 3, 0, 1, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vds_dhcp6_msg m;
	char name[256];
	uint32_t xid = 0;
	int n;

	if (size >= 4)
		xid = (uint32_t)data[1] << 16 | data[2] << 8 | data[3];
	if (vds_dhcp6_parse(data, size, xid, duid, sizeof(duid), 0x00000001, &m) == 0) {
		if (m.ndns < 0 || m.ndns > VDS_DHCP6_MAXDNS ||
		    m.serverlen == 0 || m.serverlen > VDS_DHCP6_MAXDUID ||
		    memchr(m.domain, 0, sizeof(m.domain)) == NULL)
			__builtin_trap();
	}
	n = vds_dns_name_decode(data, size, name, sizeof(name));
	if (n > (int)size || (n >= 0 && memchr(name, 0, sizeof(name)) == NULL))
		__builtin_trap();
	return 0;
}
