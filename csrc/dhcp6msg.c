// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * dhcp6msg.c - DHCPv6 messages: built and parsed with no stack, so that
 * they are unit-tested and fuzzed apart (fuzz/fuzz_dhcp6.c).  The client is
 * dhcp6.c.
 */
#include <errno.h>
#include <string.h>

#include "dhcp.h"
#include "dhcp6.h"

#define OPT_CLIENTID	1
#define OPT_SERVERID	2
#define OPT_IA_NA	3
#define OPT_IAADDR	5
#define OPT_ORO		6
#define OPT_PREFERENCE	7
#define OPT_ELAPSED	8
#define OPT_STATUS	13
#define OPT_DNS		23
#define OPT_DOMAINS	24
#define OPT_FQDN	39

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
	return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
	return p + 4;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* an option header + data, if it fits */
static uint8_t *opt(uint8_t *p, uint8_t *end, int code, const void *data, size_t len)
{
	if (!p || len > 0xffff || (size_t)(end - p) < 4 + len)
		return NULL;
	p = put16(p, code);
	p = put16(p, len);
	if (len)
		memcpy(p, data, len);
	return p + len;
}

/**
 * vds_dhcp6_build() - a client message
 * @buf:	output buffer
 * @size:	its size (512 is plenty)
 * @req:	what to send
 *
 * Return: the message length, or -EINVAL (does not fit, bad name)
 */
int vds_dhcp6_build(uint8_t *buf, size_t size, const struct vds_dhcp6_req *req)
{
	uint8_t *p = buf, *end = buf + size, ia[12 + 4 + 24], tmp[260], *q;
	static const uint8_t oro[] = { 0, OPT_DNS, 0, OPT_DOMAINS };
	int n;

	if (size < 4)
		return -EINVAL;
	*p++ = req->type;
	*p++ = req->xid >> 16;
	*p++ = req->xid >> 8;
	*p++ = req->xid;
	p = opt(p, end, OPT_CLIENTID, req->duid, req->duidlen);
	if (req->server && req->serverlen)
		p = opt(p, end, OPT_SERVERID, req->server, req->serverlen);
	/* IA_NA: IAID, T1 = T2 = 0 (the server chooses), our address if any */
	q = put32(ia, req->iaid);
	q = put32(q, 0);
	q = put32(q, 0);
	if (req->addr) {
		q = put16(q, OPT_IAADDR);
		q = put16(q, 24);
		memcpy(q, req->addr, 16);
		q = put32(q + 16, 0);
		q = put32(q, 0);
	}
	p = opt(p, end, OPT_IA_NA, ia, q - ia);
	if (req->type != VDS_DH6_RELEASE) {
		put16(tmp, req->elapsed);
		p = opt(p, end, OPT_ELAPSED, tmp, 2);
		p = opt(p, end, OPT_ORO, oro, sizeof(oro));
		if (req->fqdn && *req->fqdn) {
			tmp[0] = 0x01;		/* S: the server updates AAAA */
			n = vds_dns_name_encode(tmp + 1, sizeof(tmp) - 1, req->fqdn);
			if (n < 0)
				return -EINVAL;
			p = opt(p, end, OPT_FQDN, tmp, n + 1);
		}
	} else {
		put16(tmp, 0);
		p = opt(p, end, OPT_ELAPSED, tmp, 2);
	}
	if (!p)
		return -EINVAL;
	return p - buf;
}

/**
 * vds_dns_name_decode() - the first name of a DNS wire-format name list
 * @in:		the encoded names (no compression, as DHCPv6 uses)
 * @len:	their length
 * @out:	"name.example" (no final dot)
 * @outlen:	size of @out
 *
 * Only names of letters, digits, '-' and '_' are accepted.
 *
 * Return: bytes of @in used, or -EBADMSG
 */
int vds_dns_name_decode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	size_t pos = 0, o = 0, l, i;

	if (outlen == 0)
		return -EBADMSG;
	for (;;) {
		if (pos >= len)
			return -EBADMSG;
		l = in[pos++];
		if (l == 0)
			break;
		if (l > 63 || l > len - pos || o + l + 2 > outlen || o + l + 1 > 253)
			return -EBADMSG;
		if (o)
			out[o++] = '.';
		for (i = 0; i < l; i++) {
			uint8_t c = in[pos + i];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '-' || c == '_'))
				return -EBADMSG;
			out[o++] = c;
		}
		pos += l;
	}
	if (o == 0)
		return -EBADMSG;
	out[o] = 0;
	return pos;
}

static int status_of(const uint8_t *v, size_t len)
{
	return len >= 2 ? get16(v) : 0;
}

/* the options of our IA_NA (after IAID, T1, T2) */
static void parse_ia(const uint8_t *p, const uint8_t *end, struct vds_dhcp6_msg *m)
{
	uint16_t code, len;
	const uint8_t *v;

	while (end - p >= 4) {
		code = get16(p);
		len = get16(p + 2);
		v = p + 4;
		if (len > end - v)
			return;
		p = v + len;
		if (code == OPT_STATUS && status_of(v, len))
			m->status = status_of(v, len);
		if (code == OPT_IAADDR && len >= 24 && !m->has_addr) {
			uint32_t valid = get32(v + 20);
			const uint8_t *sub = v + 24, *send = v + len;

			/* a status inside the address (e.g. NoAddrsAvail) */
			while (send - sub >= 4) {
				uint16_t sl = get16(sub + 2);

				if (sl > send - sub - 4)
					break;
				if (get16(sub) == OPT_STATUS && status_of(sub + 4, sl))
					m->status = status_of(sub + 4, sl);
				sub += 4 + sl;
			}
			if (valid == 0)
				continue;
			memcpy(&m->addr, v, 16);
			m->preferred = get32(v + 16);
			m->valid = valid;
			m->has_addr = 1;
		}
	}
}

/**
 * vds_dhcp6_parse() - check and read a server's message
 * @buf, @len:	the UDP payload
 * @xid:	the transaction it must answer
 * @duid, @duidlen:	our client identifier, which it must carry
 * @iaid:	our IA_NA
 * @m:		filled in
 *
 * Every option is bounds-checked against the message (and sub-options
 * against their option).
 *
 * Return: 0, or -EBADMSG (malformed, or not ADVERTISE/REPLY), -ESRCH (not
 * ours: transaction or client id)
 */
int vds_dhcp6_parse(const void *buf, size_t len, uint32_t xid, const uint8_t *duid,
		    size_t duidlen, uint32_t iaid, struct vds_dhcp6_msg *m)
{
	const uint8_t *b = buf, *p, *end = b + len, *v;
	uint16_t code, olen;
	int ours = 0;
	size_t i;

	memset(m, 0, sizeof(*m));
	if (len < 4)
		return -EBADMSG;
	m->type = b[0];
	if (m->type != VDS_DH6_ADVERTISE && m->type != VDS_DH6_REPLY)
		return -EBADMSG;
	if (((uint32_t)b[1] << 16 | b[2] << 8 | b[3]) != (xid & 0xffffff))
		return -ESRCH;
	for (p = b + 4; p < end; p = v + olen) {
		if (end - p < 4)
			return -EBADMSG;
		code = get16(p);
		olen = get16(p + 2);
		v = p + 4;
		if (olen > end - v)
			return -EBADMSG;
		switch (code) {
		case OPT_CLIENTID:
			ours = olen == duidlen && !memcmp(v, duid, duidlen);
			break;
		case OPT_SERVERID:
			if (olen > 0 && olen <= VDS_DHCP6_MAXDUID) {
				memcpy(m->server, v, olen);
				m->serverlen = olen;
			}
			break;
		case OPT_PREFERENCE:
			if (olen == 1)
				m->preference = v[0];
			break;
		case OPT_STATUS:
			if (status_of(v, olen))
				m->status = status_of(v, olen);
			break;
		case OPT_IA_NA:
			if (olen >= 12 && get32(v) == iaid) {
				m->t1 = get32(v + 4);
				m->t2 = get32(v + 8);
				parse_ia(v + 12, v + olen, m);
			}
			break;
		case OPT_DNS:
			for (i = 0; i + 16 <= olen && m->ndns < VDS_DHCP6_MAXDNS; i += 16)
				memcpy(&m->dns[m->ndns++], v + i, 16);
			break;
		case OPT_DOMAINS:
			if (vds_dns_name_decode(v, olen, m->domain, sizeof(m->domain)) < 0)
				m->domain[0] = 0;
			break;
		}
	}
	if (!ours)
		return -ESRCH;
	if (!m->serverlen)
		return -EBADMSG;
	return 0;
}
