/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dhcp6.h - DHCPv6 (RFC 8415) for one address (IA_NA) and DNS servers
 * (RFC 3646): messages built and parsed with no stack (unit tests, fuzzing).
 */
#ifndef VDS_DHCP6_H
#define VDS_DHCP6_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define VDS_DHCP6_MAXDNS	8
#define VDS_DHCP6_MAXDUID	130	/* RFC 8415: at most 128 + type */

enum {
	VDS_DH6_SOLICIT = 1, VDS_DH6_ADVERTISE, VDS_DH6_REQUEST, VDS_DH6_CONFIRM,
	VDS_DH6_RENEW, VDS_DH6_REBIND, VDS_DH6_REPLY, VDS_DH6_RELEASE,
};

/**
 * struct vds_dhcp6_msg - what a server's message says (parsed)
 * @type:	message type
 * @server, @serverlen:	server identifier (DUID)
 * @preference:	option 7, 0 when absent
 * @status:	status code of the message or of the IA (0 success)
 * @has_addr:	an IA address came with a non-zero valid lifetime
 * @addr, @preferred, @valid:	the address of our IA_NA and its lifetimes
 * @t1, @t2:	of our IA_NA
 * @dns, @ndns:	option 23
 * @domain:	first name of option 24, "" when absent
 */
struct vds_dhcp6_msg {
	int type;
	uint8_t server[VDS_DHCP6_MAXDUID];
	size_t serverlen;
	int preference;
	int status;
	int has_addr;
	struct in6_addr addr;
	uint32_t preferred, valid, t1, t2;
	struct in6_addr dns[VDS_DHCP6_MAXDNS];
	int ndns;
	char domain[256];
};

/**
 * struct vds_dhcp6_req - what a client message carries
 * @type:	VDS_DH6_SOLICIT, REQUEST, RENEW, REBIND or RELEASE
 * @xid:	transaction id (24 bits)
 * @duid, @duidlen:	client identifier
 * @iaid:	our IA_NA
 * @server, @serverlen:	server identifier (REQUEST, RENEW, RELEASE), or 0
 * @addr:	the address asked for / held, or NULL
 * @fqdn:	option 39, or NULL
 * @elapsed:	centiseconds since the exchange began
 */
struct vds_dhcp6_req {
	int type;
	uint32_t xid;
	const uint8_t *duid;
	size_t duidlen;
	uint32_t iaid;
	const uint8_t *server;
	size_t serverlen;
	const struct in6_addr *addr;
	const char *fqdn;
	uint16_t elapsed;
};

int vds_dhcp6_build(uint8_t *buf, size_t size, const struct vds_dhcp6_req *req);
int vds_dhcp6_parse(const void *buf, size_t len, uint32_t xid, const uint8_t *duid,
		    size_t duidlen, uint32_t iaid, struct vds_dhcp6_msg *m);
int vds_dns_name_decode(const uint8_t *in, size_t len, char *out, size_t outlen);

#endif /* VDS_DHCP6_H */
