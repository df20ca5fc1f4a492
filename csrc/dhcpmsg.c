// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * dhcpmsg.c - DHCPv4 messages: built and parsed with no stack, so that they
 * are unit-tested and fuzzed apart (fuzz/fuzz_dhcp4.c).  The client is dhcp.c.
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>

#include "dhcp.h"

#define BOOTP_FIXED	236	/* op .. file */
#define MAGIC		0x63825363
#define FLAG_BROADCAST	0x8000

/**
 * vds_dns_name_encode() - a domain name in DNS wire format (labels)
 * @out:	buffer
 * @size:	its size
 * @name:	"host.example.org" (a final dot is allowed)
 *
 * Return: bytes written (with the root label), or -EINVAL
 */
int vds_dns_name_encode(uint8_t *out, size_t size, const char *name)
{
	size_t pos = 0, len;
	const char *dot;

	while (*name) {
		dot = strchr(name, '.');
		len = dot ? (size_t)(dot - name) : strlen(name);
		if (len == 0 || len > 63 || pos + 1 + len + 1 > size || pos + 1 + len > 254)
			return -EINVAL;
		out[pos++] = len;
		memcpy(out + pos, name, len);
		pos += len;
		name += len;
		if (*name == '.')
			name++;
	}
	if (pos + 1 > size)
		return -EINVAL;
	out[pos++] = 0;
	return pos;
}

static uint8_t *put_opt(uint8_t *p, uint8_t *end, int code, const void *data, size_t len)
{
	if (!p || len > 255 || p + 2 + len > end)
		return NULL;
	*p++ = code;
	*p++ = len;
	memcpy(p, data, len);
	return p + len;
}

/**
 * vds_dhcp4_build() - a client message
 * @buf:	output buffer (at least VDS_DHCP4_MAXMSG bytes)
 * @size:	its size
 * @req:	what to send
 *
 * Return: the message length (padded to the BOOTP minimum of 300), or -EINVAL
 */
int vds_dhcp4_build(uint8_t *buf, size_t size, const struct vds_dhcp4_req *req)
{
	static const uint8_t prl[] = { 1, 3, 6, 15, 28, 51, 54, 58, 59 };
	uint8_t *p, *end = buf + size, tmp[260];
	uint32_t magic = htonl(MAGIC);
	uint8_t type = req->type;
	uint16_t maxsz = htons(VDS_DHCP4_MAXMSG);
	int n;

	if (size < 300)
		return -EINVAL;
	memset(buf, 0, size);
	buf[0] = 1;			/* BOOTREQUEST */
	buf[1] = 1;			/* Ethernet */
	buf[2] = 6;
	memcpy(buf + 4, &req->xid, 4);
	buf[8] = req->secs >> 8;
	buf[9] = req->secs & 0xff;
	if (req->broadcast)
		buf[10] = FLAG_BROADCAST >> 8;
	memcpy(buf + 12, &req->ciaddr, 4);
	memcpy(buf + 28, req->mac, 6);
	memcpy(buf + BOOTP_FIXED, &magic, 4);
	p = buf + BOOTP_FIXED + 4;
	p = put_opt(p, end, 53, &type, 1);
	tmp[0] = 1;			/* client identifier: hardware type + MAC */
	memcpy(tmp + 1, req->mac, 6);
	p = put_opt(p, end, 61, tmp, 7);
	if (req->reqip.s_addr)
		p = put_opt(p, end, 50, &req->reqip, 4);
	if (req->server.s_addr)
		p = put_opt(p, end, 54, &req->server, 4);
	if (req->type != VDS_DHCPRELEASE) {
		p = put_opt(p, end, 57, &maxsz, 2);
		p = put_opt(p, end, 55, prl, sizeof(prl));
		if (req->fqdn && *req->fqdn) {
			const char *dot = strchr(req->fqdn, '.');
			size_t hl = dot ? (size_t)(dot - req->fqdn) : strlen(req->fqdn);

			if (hl == 0 || hl > 63)
				return -EINVAL;
			p = put_opt(p, end, 12, req->fqdn, hl);
			/* flags S|E: the server updates A, name in wire format */
			tmp[0] = 0x05;
			tmp[1] = tmp[2] = 0;
			n = vds_dns_name_encode(tmp + 3, sizeof(tmp) - 3, req->fqdn);
			if (n < 0 || n + 3 > 255)
				return -EINVAL;
			p = put_opt(p, end, 81, tmp, n + 3);
		}
	}
	if (!p || p >= end)
		return -EINVAL;
	*p++ = 255;
	n = p - buf;
	return n < 300 ? 300 : n;
}

static void addr_list(const uint8_t *v, size_t len, struct in_addr *out, int *n)
{
	size_t i;

	for (i = 0; i + 4 <= len && *n < VDS_DHCP4_MAXADDR; i += 4)
		memcpy(&out[(*n)++], v + i, 4);
}

static uint32_t get32(const uint8_t *v)
{
	return (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
}

static void take_domain(char *out, const uint8_t *v, size_t len)
{
	size_t i;

	while (len && v[len - 1] == 0)		/* some servers add a NUL */
		len--;
	if (len == 0 || len > 253)
		return;
	for (i = 0; i < len; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
		      (v[i] >= '0' && v[i] <= '9') || v[i] == '.' || v[i] == '-' ||
		      v[i] == '_'))
			return;
	memcpy(out, v, len);
	out[len] = 0;
}

/**
 * vds_dhcp4_parse() - check and read a server's message
 * @buf:	the UDP payload
 * @len:	its length
 * @xid:	the transaction it must answer
 * @mac:	our hardware address, which it must carry
 * @m:		filled in
 *
 * Every option is bounds-checked against the message; options of the wrong
 * length are ignored; a message without a DHCP message type is refused.
 *
 * Return: 0, or -EBADMSG (not a well-formed BOOTREPLY), -ESRCH (not ours)
 */
int vds_dhcp4_parse(const void *buf, size_t len, uint32_t xid,
		    const unsigned char mac[6], struct vds_dhcp4_msg *m)
{
	const uint8_t *b = buf, *p, *end = b + len, *v;
	size_t olen;
	int code;

	memset(m, 0, sizeof(*m));
	if (len < BOOTP_FIXED + 4 || b[0] != 2 || b[1] != 1 || b[2] != 6)
		return -EBADMSG;
	if (get32(b + BOOTP_FIXED) != MAGIC)
		return -EBADMSG;
	if (memcmp(b + 4, &xid, 4) || memcmp(b + 28, mac, 6))
		return -ESRCH;
	memcpy(&m->yiaddr, b + 16, 4);
	for (p = b + BOOTP_FIXED + 4; p < end; ) {
		code = *p++;
		if (code == 0)
			continue;
		if (code == 255)
			break;
		if (p >= end)
			return -EBADMSG;
		olen = *p++;
		if (olen > (size_t)(end - p))
			return -EBADMSG;
		v = p;
		p += olen;
		switch (code) {
		case 53:
			if (olen == 1)
				m->type = v[0];
			break;
		case 54:	/* server identifier, netmask, broadcast */
		case 1:
		case 28:
			if (olen == 4)
				memcpy(code == 54 ? &m->server : code == 1 ? &m->mask :
				       &m->broadcast, v, 4);
			break;
		case 3:
			addr_list(v, olen, m->routers, &m->nrouters);
			break;
		case 6:
			addr_list(v, olen, m->dns, &m->ndns);
			break;
		case 15:
			take_domain(m->domain, v, olen);
			break;
		case 51:
			if (olen == 4)
				m->lease = get32(v);
			break;
		case 58:
			if (olen == 4)
				m->t1 = get32(v);
			break;
		case 59:
			if (olen == 4)
				m->t2 = get32(v);
			break;
		}
	}
	if (m->type < VDS_DHCPDISCOVER || m->type > VDS_DHCPINFORM)
		return -EBADMSG;
	return 0;
}
