// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_offload.c - TSO (csrc/tso.c) and GRO (csrc/gro.c) on synthetic
 * frames, without a stack.
 *
 * Frames are built here byte by byte and every frame the offloads produce
 * is parsed and its checksums verified here too, with a checksum routine
 * of this file (big-endian word sums, RFC 1071), not the library's.
 * Buffers are allocated to the exact length of each frame, so that the
 * sanitizer builds (scripts/sanitize.sh) see any read or write past it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_net.h>

#include "vt.h"
#include "offload.h"

#define ETH	14
#define FIN	0x01
#define SYN	0x02
#define PSH	0x08
#define ACK	0x10
#define URG	0x20
#define CWR	0x80

/* ------------------------------------------------- independent checks --- */

/* folded ones' complement sum of big-endian 16-bit words */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static unsigned get16(const uint8_t *p) { return p[0] << 8 | p[1]; }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }
static void put16(uint8_t *p, unsigned v) { p[0] = v >> 8; p[1] = v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v); }

/* payload byte at TCP stream position seq: concatenations are checkable */
static uint8_t pat(uint32_t seq) { return (uint8_t)(seq * 31 + (seq >> 8) + 7); }

static int v6_of(const uint8_t *f) { return get16(f + 12) == 0x86dd; }
static size_t l4_of(const uint8_t *f) { return v6_of(f) ? ETH + 40 : ETH + (f[ETH] & 15) * 4; }

/* TCP pseudo-header sum of the packet in f, for tcplen bytes of TCP */
static uint32_t pseudo(const uint8_t *f, size_t tcplen)
{
	uint32_t s = v6_of(f) ? sum16(f + ETH + 8, 32, 0) : sum16(f + ETH + 12, 8, 0);

	return sum16((uint8_t[]){ 0, 6, tcplen >> 8, tcplen & 0xff }, 4, s);
}

/*
 * A frame as it would be on the wire: lengths consistent with n, IP and
 * TCP checksums correct.  Returns NULL or what is wrong.
 */
static const char *wire_ok(const uint8_t *f, size_t n)
{
	size_t l4 = l4_of(f), tcplen;

	if (n < l4 + 20)
		return "short";
	if (v6_of(f)) {
		if (get16(f + ETH + 4) != n - ETH - 40)
			return "IPv6 payload length";
	} else {
		if (get16(f + ETH + 2) != n - ETH)
			return "IPv4 total length";
		if (sum16(f + ETH, l4 - ETH, 0) != 0xffff)
			return "IPv4 header checksum";
	}
	tcplen = n - l4;
	if ((f[l4 + 12] >> 4) * 4u > tcplen)
		return "TCP data offset";
	if (sum16(f + l4, tcplen, pseudo(f, tcplen)) != 0xffff)
		return "TCP checksum";
	return NULL;
}

/* ------------------------------------------------------------- frames --- */

struct spec {
	int v6;
	unsigned sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	unsigned win, ipid, ttl;
	size_t optlen;		/* TCP options (multiple of 4) */
	uint8_t optfill;
	size_t pay;
	size_t pad;		/* Ethernet padding after the IP packet */
};

static struct spec base(int v6, size_t pay)
{
	return (struct spec){ .v6 = v6, .sport = 40000, .dport = 5201, .seq = 1000000,
			      .ack = 77777, .flags = ACK, .win = 502, .ipid = 100,
			      .ttl = 64, .optlen = 12, .optfill = 1, .pay = pay };
}

static size_t hdr_len(const struct spec *s)
{
	return ETH + (s->v6 ? 40 : 20) + 20 + s->optlen;
}

/* a frame of s, in a buffer of exactly its length (*np); checksums correct */
static uint8_t *build(const struct spec *s, size_t *np)
{
	size_t hl = hdr_len(s), n = hl + s->pay + s->pad, l4 = ETH + (s->v6 ? 40 : 20);
	size_t tcplen = n - s->pad - l4, i;
	uint8_t *f = calloc(1, n);

	memcpy(f, "\x02\0\0\0\0\x01\x02\0\0\0\0\x02", 12);
	if (s->v6) {
		put16(f + 12, 0x86dd);
		f[ETH] = 0x60;
		put16(f + ETH + 4, tcplen);
		f[ETH + 6] = 6;
		f[ETH + 7] = s->ttl;
		memcpy(f + ETH + 8, "\xfd\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
		memcpy(f + ETH + 24, "\xfd\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x02", 16);
	} else {
		put16(f + 12, 0x0800);
		f[ETH] = 0x45;
		put16(f + ETH + 2, n - s->pad - ETH);
		put16(f + ETH + 4, s->ipid);
		put16(f + ETH + 6, 0x4000);	/* DF */
		f[ETH + 8] = s->ttl;
		f[ETH + 9] = 6;
		memcpy(f + ETH + 12, "\x0a\x4d\0\x01\x0a\x4d\0\x02", 8);
		put16(f + ETH + 10, ~sum16(f + ETH, 20, 0) & 0xffff);
	}
	put16(f + l4, s->sport);
	put16(f + l4 + 2, s->dport);
	put32(f + l4 + 4, s->seq);
	put32(f + l4 + 8, s->ack);
	f[l4 + 12] = (20 + s->optlen) / 4 << 4;
	f[l4 + 13] = s->flags;
	put16(f + l4 + 14, s->win);
	for (i = 0; i < s->optlen; i++)
		f[l4 + 20 + i] = s->optfill + i;
	for (i = 0; i < s->pay; i++)
		f[hl + i] = pat(s->seq + i);
	put16(f + l4 + 16, ~sum16(f + l4, tcplen, pseudo(f, tcplen)) & 0xffff);
	*np = n;
	return f;
}

/* a TSO packet as the tap hands it: one header, pay bytes, partial checksum */
static uint8_t *build_gso(const struct spec *s, unsigned mss, struct virtio_net_hdr *h, size_t *np)
{
	uint8_t *f = build(s, np);
	size_t l4 = ETH + (s->v6 ? 40 : 20);

	put16(f + l4 + 16, 0xdead);	/* the kernel leaves the pseudo sum: ignored */
	memset(h, 0, sizeof(*h));
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->gso_type = s->v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	h->hdr_len = hdr_len(s);
	h->gso_size = mss;
	h->csum_start = l4;
	h->csum_offset = 16;
	return f;
}

/* ------------------------------------------------------ capture sinks --- */

#define MAXF 256

struct sink {
	int n;
	uint8_t *f[MAXF];
	size_t len[MAXF];
	struct virtio_net_hdr h[MAXF];
	unsigned int frames[MAXF];	/* GRO: frames each packet stands for */
	size_t bytes[MAXF];		/* ... and their bytes */
	int eagain_at;		/* TSO: refuse the frame of this index once (-EAGAIN) */
	int fail_at;		/* TSO: refuse the frame of this index (-EIO) */
	int no_uso;		/* GRO: refuse UDP GSO packets (-EINVAL), as Linux < 6.2 */
	int calls;
};

/* frames and bytes all GRO packets so far stood for */
static unsigned long long sink_frames(const struct sink *k)
{
	unsigned long long n = 0;

	for (int i = 0; i < k->n; i++)
		n += k->frames[i];
	return n;
}

static unsigned long long sink_bytes(const struct sink *k)
{
	unsigned long long n = 0;

	for (int i = 0; i < k->n; i++)
		n += k->bytes[i];
	return n;
}

static void sink_init(struct sink *k)
{
	memset(k, 0, sizeof(*k));
	k->eagain_at = k->fail_at = -1;
}

static void sink_free(struct sink *k)
{
	for (int i = 0; i < k->n; i++)
		free(k->f[i]);
	k->n = 0;
}

static int keep(struct sink *k, const struct virtio_net_hdr *h, const void *p, size_t len)
{
	int i = k->calls++;

	if (i == k->eagain_at) {
		k->eagain_at = -1;
		k->calls--;
		return -EAGAIN;
	}
	if (i == k->fail_at)
		return -EIO;
	if (k->n == MAXF)
		return -ENOBUFS;
	k->f[k->n] = malloc(len);
	memcpy(k->f[k->n], p, len);
	k->len[k->n] = len;
	if (h)
		k->h[k->n] = *h;
	k->n++;
	return 0;
}

static int emit(void *opaque, const void *frame, size_t len)
{
	return keep(opaque, NULL, frame, len);
}

static int tapwrite(void *opaque, const struct virtio_net_hdr *h, const void *pkt, size_t len,
		    unsigned int frames, size_t bytes)
{
	struct sink *k = opaque;
	int ret;

	if (k->no_uso && h->gso_type == VIRTIO_NET_HDR_GSO_UDP_L4)
		return -EINVAL;
	ret = keep(k, h, pkt, len);
	if (ret == 0) {
		k->frames[k->n - 1] = frames;
		k->bytes[k->n - 1] = bytes;
	}
	return ret;
}

/* ---------------------------------------------------------------- TSO --- */

/*
 * Cut s (pay bytes) with mss, check every segment: wire-valid, headers as
 * the original but for length, sequence, IP id, FIN/PSH only on the last,
 * CWR only on the first, payloads concatenating to the original.
 */
static void tso_check(struct spec s, unsigned mss, int eagain_at, const char *what)
{
	struct virtio_net_hdr h;
	struct vds_ofcount c = { 0 };
	struct vds_txjob j;
	struct sink k;
	size_t n, hl = hdr_len(&s), want = (s.pay + mss - 1) / mss, got = 0, bytes = 0;
	uint8_t *f = build_gso(&s, mss, &h, &n);
	int ret, bad = 0, i;
	char why[160] = "";

	sink_init(&k);
	k.eagain_at = eagain_at;
	REQUIRE(vds_txjob_init(&j, f, n, &h) == 0, "%s: TSO packet of %zu bytes accepted", what, n);
	ret = vds_txjob_run(&j, emit, &k, &c);
	if (eagain_at >= 0) {
		CHECK(ret == -EAGAIN && k.n == eagain_at,
		      "%s: -EAGAIN at frame %d stops the job (ret %d, %d sent)", what, eagain_at,
		      ret, k.n);
		ret = vds_txjob_run(&j, emit, &k, &c);
	}
	CHECK(ret == 0, "%s: job done (ret %d)", what, ret);
	CHECK((size_t)k.n == want, "%s: %zu segments of mss %u for %zu bytes (got %d)", what,
	      want, mss, s.pay, k.n);
	for (i = 0; i < k.n && !bad; i++) {
		const uint8_t *g = k.f[i];
		size_t l4 = l4_of(g), len = k.len[i] - hl, e;
		uint8_t fl = g[l4 + 13], last = i == k.n - 1;
		const char *w = wire_ok(g, k.len[i]);

		bytes += k.len[i];
		if (w)
			snprintf(why, sizeof(why), "segment %d: %s", i, w), bad = 1;
		else if (len != (last ? s.pay - got : mss))
			snprintf(why, sizeof(why), "segment %d: %zu bytes", i, len), bad = 1;
		else if (get32(g + l4 + 4) != (uint32_t)(s.seq + got))
			snprintf(why, sizeof(why), "segment %d: seq", i), bad = 1;
		else if (!s.v6 && get16(g + ETH + 4) != ((s.ipid + i) & 0xffff))
			snprintf(why, sizeof(why), "segment %d: IP id %u", i, get16(g + ETH + 4)), bad = 1;
		else if ((fl & (FIN | PSH)) != (last ? s.flags & (FIN | PSH) : 0) ||
			 (fl & CWR) != (i == 0 ? s.flags & CWR : 0) ||
			 (fl & ~(FIN | PSH | CWR)) != (s.flags & ~(FIN | PSH | CWR)))
			snprintf(why, sizeof(why), "segment %d: flags %#x", i, fl), bad = 1;
		else if (memcmp(g, f, 12) || get32(g + l4 + 8) != s.ack ||
			 get16(g + l4 + 14) != s.win || get16(g + l4) != s.sport ||
			 memcmp(g + l4 + 20, f + l4 + 20, s.optlen))
			snprintf(why, sizeof(why), "segment %d: header fields changed", i), bad = 1;
		for (e = 0; e < len && !bad; e++)
			if (g[hl + e] != pat(s.seq + got + e))
				snprintf(why, sizeof(why), "segment %d: payload byte %zu", i, e), bad = 1;
		got += len;
	}
	CHECK(!bad && got == s.pay, "%s: every segment valid, payload intact %s", what, why);
	CHECK(c.frames == (uint64_t)k.n && c.bytes == bytes && c.dropped == 0,
	      "%s: counts %llu frames %llu bytes %llu dropped", what,
	      (unsigned long long)c.frames, (unsigned long long)c.bytes,
	      (unsigned long long)c.dropped);
	sink_free(&k);
	free(f);
}

VT_TEST(tso_ipv4, 30)
{
	struct spec s = base(0, 10001);

	s.flags = ACK | PSH | FIN | CWR;
	tso_check(s, 1448, -1, "IPv4 10001 bytes FIN PSH CWR");
	s = base(0, 1448 * 4);
	tso_check(s, 1448, -1, "IPv4 exact multiple of mss");
	s = base(0, 65000);
	s.optlen = 0;
	s.ipid = 0xfffe;	/* the IP id wraps */
	s.flags = ACK | PSH;
	tso_check(s, 1460, -1, "IPv4 65000 bytes, no options, id wraps");
	s = base(0, 1);
	tso_check(s, 536, -1, "IPv4 one byte");
	s = base(0, 3001);
	s.seq = 0xfffffc00;	/* the sequence number wraps */
	tso_check(s, 999, -1, "IPv4 odd mss, seq wraps");
}

VT_TEST(tso_ipv6, 30)
{
	struct spec s = base(1, 10001);

	s.flags = ACK | PSH | FIN | CWR;
	tso_check(s, 1428, -1, "IPv6 10001 bytes FIN PSH CWR");
	s = base(1, 64999);
	s.optlen = 32;
	tso_check(s, 1211, -1, "IPv6 64999 bytes, 32 bytes of options");
	s = base(1, 7);
	s.flags = ACK | FIN;
	tso_check(s, 1428, -1, "IPv6 7 bytes");
}

VT_TEST(tso_backpressure, 30)
{
	struct spec s = base(0, 20000);
	struct virtio_net_hdr h;
	struct vds_ofcount c = { 0 };
	struct vds_txjob j;
	struct sink k;
	uint8_t *f;
	size_t n;

	s.flags = ACK | PSH;
	tso_check(s, 1448, 3, "IPv4 refused once at segment 3");
	s.v6 = 1;
	tso_check(s, 1448, 0, "IPv6 refused once at segment 0");

	/* a segment refused for good is dropped and counted; the rest go */
	s = base(0, 5000);
	f = build_gso(&s, 1000, &h, &n);
	sink_init(&k);
	k.fail_at = 2;
	CHECK(vds_txjob_init(&j, f, n, &h) == 0 && vds_txjob_run(&j, emit, &k, &c) == 0,
	      "job with a failing segment completes");
	CHECK(k.n == 4 && c.frames == 4 && c.dropped == 1,
	      "4 segments sent, 1 dropped and counted (sent %d, counted %llu/%llu)", k.n,
	      (unsigned long long)c.frames, (unsigned long long)c.dropped);
	sink_free(&k);
	free(f);
}

VT_TEST(tso_no_gso, 30)
{
	struct spec s = base(0, 300);
	struct virtio_net_hdr h = { 0 };
	struct vds_ofcount c = { 0 };
	struct vds_txjob j;
	struct sink k;
	size_t n, l4 = ETH + 20;
	uint8_t *f = build(&s, &n);

	/* checksum left to the device (the pseudo-header sum in place): completed */
	put16(f + l4 + 16, pseudo(f, n - l4));
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = l4;
	h.csum_offset = 16;
	sink_init(&k);
	CHECK(vds_txjob_init(&j, f, n, &h) == 0 && vds_txjob_run(&j, emit, &k, &c) == 0,
	      "a packet with its checksum left to the device is accepted");
	CHECK(k.n == 1 && k.len[0] == n && !wire_ok(k.f[0], n),
	      "one frame, checksum completed (%s)", k.n ? wire_ok(k.f[0], k.len[0]) : "none");
	CHECK(c.frames == 1 && c.bytes == n, "counted once");
	sink_free(&k);

	/* a checksum position outside the packet is refused */
	h.csum_start = n - 1;
	CHECK(vds_txjob_init(&j, f, n, &h) == -EINVAL, "csum_start + csum_offset past the end: refused");
	h.csum_start = 0xffff;
	h.csum_offset = 0xffff;
	CHECK(vds_txjob_init(&j, f, n, &h) == -EINVAL, "csum_start past the end: refused");
	/* no offload at all: the frame as it is */
	memset(&h, 0, sizeof(h));
	sink_init(&k);
	CHECK(vds_txjob_init(&j, f, n, &h) == 0 && vds_txjob_run(&j, emit, &k, &c) == 0 &&
	      k.n == 1 && !memcmp(k.f[0], f, n), "a plain frame goes out unchanged");
	sink_free(&k);
	free(f);
}

/* one malformed TSO packet: refused, and nothing read or written past it */
static void tso_bad(const struct spec *s, void (*mangle)(uint8_t *f, size_t *n,
			struct virtio_net_hdr *h), const char *what)
{
	struct virtio_net_hdr h;
	struct vds_txjob j;
	size_t n;
	uint8_t *f = build_gso(s, 1000, &h, &n), *g;

	mangle(f, &n, &h);
	g = malloc(n ? n : 1);	/* exactly n bytes: a sanitizer sees overruns */
	memcpy(g, f, n);
	CHECK(vds_txjob_init(&j, g, n, &h) == -EINVAL, "TSO refuses: %s", what);
	free(g);
	free(f);
}

#define MANGLE(name, body) \
	static void name(uint8_t *f, size_t *n, struct virtio_net_hdr *h) \
	{ (void)f; (void)n; (void)h; body; }

MANGLE(doff_small, f[l4_of(f) + 12] = 4 << 4)
MANGLE(doff_zero, f[l4_of(f) + 12] = 0)
MANGLE(doff_past_end, f[l4_of(f) + 12] = 15 << 4; *n = l4_of(f) + 40)
MANGLE(header_only, *n = h->hdr_len; put16(f + ETH + 2, *n - ETH); put16(f + ETH + 4, *n - ETH - 40))
MANGLE(ihl_small, f[ETH] = 0x44)
MANGLE(ihl_large, f[ETH] = 0x46)
MANGLE(ihl_huge, f[ETH] = 0x4f; h->csum_start = ETH + 60)
MANGLE(version_bad, f[ETH] = 0x65)
MANGLE(totlen_long, put16(f + ETH + 2, *n - ETH + 1))
MANGLE(totlen_short, put16(f + ETH + 2, 20))
MANGLE(frag_mf, put16(f + ETH + 6, 0x2000))
MANGLE(frag_off, put16(f + ETH + 6, 0x0001))
MANGLE(proto_udp, f[ETH + 9] = 17)
MANGLE(ethertype, put16(f + 12, 0x0806))
MANGLE(gso_v6_on_v4, h->gso_type = VIRTIO_NET_HDR_GSO_TCPV6)
MANGLE(gso_udp, h->gso_type = VIRTIO_NET_HDR_GSO_UDP)
MANGLE(gso_size_zero, h->gso_size = 0)
MANGLE(gso_size_huge, h->gso_size = 60000)
MANGLE(no_needs_csum, h->flags = 0)
MANGLE(csum_offset_bad, h->csum_offset = 6)
MANGLE(csum_start_bad, h->csum_start = 0xfff0)
MANGLE(short_eth, *n = 13)
MANGLE(short_ip, *n = ETH + 19)
MANGLE(short_tcp, *n = l4_of(f) + 19)
MANGLE(empty, *n = 0)
MANGLE(v6_next_hdr, f[ETH + 6] = 0)	/* an extension header */
MANGLE(v6_plen_long, put16(f + ETH + 4, *n - ETH - 40 + 1))
MANGLE(v6_plen_short, put16(f + ETH + 4, 0))
MANGLE(v6_version, f[ETH] = 0x40)
MANGLE(v6_gso_v4, h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4)

VT_TEST(tso_malformed, 30)
{
	struct spec s4 = base(0, 5000), s6 = base(1, 5000), big = base(0, 5000);

	big.optlen = 40;	/* 14 + 20 + 60 + ... the largest TCP header */
	tso_bad(&s4, doff_small, "IPv4, TCP data offset 4 (< 5)");
	tso_bad(&s4, doff_zero, "IPv4, TCP data offset 0");
	tso_bad(&s6, doff_small, "IPv6, TCP data offset 4 (< 5)");
	tso_bad(&s4, doff_past_end, "TCP header longer than the packet");
	tso_bad(&s4, header_only, "headers but no payload");
	tso_bad(&s4, ihl_small, "IPv4 ihl 4 (< 5)");
	tso_bad(&s4, ihl_large, "IPv4 ihl that does not match csum_start");
	tso_bad(&big, ihl_huge, "IPv4 ihl 15, options not present");
	tso_bad(&s4, version_bad, "IP version 6 in an IPv4 packet");
	tso_bad(&s4, totlen_long, "IPv4 total length past the packet");
	tso_bad(&s4, totlen_short, "IPv4 total length 20");
	tso_bad(&s4, frag_mf, "IPv4 fragment (MF)");
	tso_bad(&s4, frag_off, "IPv4 fragment (offset)");
	tso_bad(&s4, proto_udp, "IPv4 protocol UDP with TCP segmentation");
	tso_bad(&s4, ethertype, "Ethernet type ARP");
	tso_bad(&s4, gso_v6_on_v4, "GSO_TCPV6 on an IPv4 packet");
	tso_bad(&s4, gso_udp, "GSO_UDP");
	tso_bad(&s4, gso_size_zero, "gso_size 0");
	tso_bad(&s4, gso_size_huge, "gso_size larger than a VDE frame");
	tso_bad(&s4, no_needs_csum, "GSO without NEEDS_CSUM");
	tso_bad(&s4, csum_offset_bad, "checksum offset not TCP's");
	tso_bad(&s4, csum_start_bad, "checksum start past the end");
	tso_bad(&s4, short_eth, "13 bytes");
	tso_bad(&s4, short_ip, "IPv4 header cut");
	tso_bad(&s4, short_tcp, "TCP header cut");
	tso_bad(&s4, empty, "0 bytes");
	tso_bad(&s6, v6_next_hdr, "IPv6 extension header");
	tso_bad(&s6, v6_plen_long, "IPv6 payload length past the packet");
	tso_bad(&s6, v6_plen_short, "IPv6 payload length 0");
	tso_bad(&s6, v6_version, "IP version 4 in an IPv6 packet");
	tso_bad(&s6, v6_gso_v4, "GSO_TCPV4 on an IPv6 packet");
}

/* ---------------------------------------------------------------- GRO --- */

/* a GRO state whose packets land in k */
static void gro_init(struct vds_gro *g, struct sink *k, uint8_t *buf)
{
	memset(g, 0, sizeof(*g));
	g->write = tapwrite;
	g->opaque = k;
	g->buf = buf;
}

/* push the frame of s */
static size_t push(struct vds_gro *g, const struct spec *s)
{
	size_t n;
	uint8_t *f = build(s, &n);

	vds_gro_push(g, f, n);
	free(f);
	return n;
}

/*
 * The merged packet p: what the kernel would see after completing the
 * partial checksum, checked as a wire frame; its payload is pat() from seq.
 */
static const char *merged_ok(const struct sink *k, int i, uint32_t seq, size_t pay,
			     unsigned mss)
{
	const struct virtio_net_hdr *h = &k->h[i];
	size_t n = k->len[i], l4;
	uint8_t *p = malloc(n);
	static char why[96];
	const char *w = NULL;
	size_t hl, e;

	memcpy(p, k->f[i], n);
	l4 = l4_of(p);
	hl = l4 + (p[l4 + 12] >> 4) * 4;
	if (h->gso_type != (v6_of(p) ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4) ||
	    h->flags != VIRTIO_NET_HDR_F_NEEDS_CSUM || h->gso_size != mss ||
	    h->csum_start != l4 || h->csum_offset != 16 || h->hdr_len != hl) {
		w = "virtio-net header";
		goto out;
	}
	/* what the device does: the sum from csum_start, pseudo sum included */
	put16(p + l4 + 16, ~sum16(p + l4, n - l4, 0) & 0xffff);
	w = wire_ok(p, n);
	if (!w && (n - hl != pay || get32(p + l4 + 4) != seq))
		w = "payload length or seq";
	for (e = 0; !w && e < n - hl; e++)
		if (p[hl + e] != pat(seq + e)) {
			snprintf(why, sizeof(why), "payload byte %zu", e);
			w = why;
		}
out:
	free(p);
	return w;
}

static void gro_merge(int v6)
{
	static uint8_t buf[VDS_GRO_MAX];
	struct vds_gro g;
	struct sink k;
	struct spec s = base(v6, 1448);
	size_t bytes = 0;
	const char *w;
	int i;

	sink_init(&k);
	gro_init(&g, &k, buf);
	for (i = 0; i < 10; i++) {
		s.pay = i < 9 ? 1448 : 333;
		s.flags = i < 9 ? ACK : ACK | PSH;
		s.ipid = 100 + i;
		bytes += push(&g, &s);
		s.seq += s.pay;
	}
	CHECK(k.n == 0, "%s: nothing written before the flush (%d)", v6 ? "IPv6" : "IPv4", k.n);
	vds_gro_flush(&g);
	REQUIRE(k.n == 1, "%s: 10 segments merged into one packet (%d written)",
		v6 ? "IPv6" : "IPv4", k.n);
	w = merged_ok(&k, 0, 1000000, 9 * 1448 + 333, 1448);
	CHECK(!w, "%s: merged packet valid, payload intact (%s)", v6 ? "IPv6" : "IPv4",
	      w ? w : "ok");
	CHECK(k.f[0][l4_of(k.f[0]) + 13] == (ACK | PSH), "%s: PSH of the last segment kept",
	      v6 ? "IPv6" : "IPv4");
	CHECK(k.frames[0] == 10 && k.bytes[0] == bytes,
	      "%s: the packet stands for 10 frames, %zu bytes (got %u, %zu)",
	      v6 ? "IPv6" : "IPv4", bytes, k.frames[0], k.bytes[0]);
	sink_free(&k);

	/* a short segment ends the packet: the next one starts another */
	s = base(v6, 1448);
	push(&g, &s);
	s.seq += 1448, s.pay = 100;
	push(&g, &s);
	s.seq += 100, s.pay = 1448;
	push(&g, &s);
	vds_gro_flush(&g);
	CHECK(k.n == 2 && !merged_ok(&k, 0, 1000000, 1548, 1448) && k.h[1].gso_type == 0 &&
	      !wire_ok(k.f[1], k.len[1]),
	      "%s: full + short merged, the next one apart (%d packets)", v6 ? "IPv6" : "IPv4",
	      k.n);
	sink_free(&k);
}

VT_TEST(gro_merge_ipv4, 30)
{
	gro_merge(0);
}

VT_TEST(gro_merge_ipv6, 30)
{
	gro_merge(1);
}

/* two segments that must not be merged: both go out unchanged */
static void no_merge(struct spec a, void (*change)(struct spec *), const char *what)
{
	static uint8_t buf[VDS_GRO_MAX];
	struct spec b = a;
	struct vds_gro g;
	struct sink k;
	size_t na, nb;
	uint8_t *fa, *fb;

	b.seq += a.pay;
	change(&b);
	fa = build(&a, &na);
	fb = build(&b, &nb);
	sink_init(&k);
	gro_init(&g, &k, buf);
	vds_gro_push(&g, fa, na);
	vds_gro_push(&g, fb, nb);
	vds_gro_flush(&g);
	CHECK(k.n == 2 && k.h[0].gso_type == 0 && k.h[1].gso_type == 0 && k.h[0].flags == 0 &&
	      k.len[0] == na && !memcmp(k.f[0], fa, na) && k.len[1] == nb &&
	      !memcmp(k.f[1], fb, nb) && sink_frames(&k) == 2 && sink_bytes(&k) == na + nb,
	      "%s %s: not merged, both unchanged (%d packets)", a.v6 ? "IPv6" : "IPv4", what, k.n);
	sink_free(&k);
	free(fa);
	free(fb);
}

#define CHANGE(name, body) static void name(struct spec *s) { body; }
CHANGE(other_port, s->sport++)
CHANGE(other_dport, s->dport++)
CHANGE(seq_gap, s->seq += 1)
CHANGE(seq_back, s->seq -= 1448)
CHANGE(other_ack, s->ack++)
CHANGE(other_win, s->win++)
CHANGE(other_opt, s->optfill++)
CHANGE(no_opt, s->optlen = 0)
CHANGE(other_ttl, s->ttl--)
CHANGE(fin, s->flags |= FIN)
CHANGE(syn, s->flags |= SYN)
CHANGE(urg, s->flags |= URG)
CHANGE(cwr, s->flags |= CWR)
CHANGE(no_ack, s->flags = PSH)
CHANGE(bigger, s->pay = 1449)
CHANGE(no_payload, s->pay = 0)
CHANGE(other_family, s->v6 = !s->v6)
CHANGE(nothing, (void)s)

VT_TEST(gro_no_merge, 30)
{
	for (int v6 = 0; v6 < 2; v6++) {
		struct spec a = base(v6, 1448), p = a;

		no_merge(a, other_port, "other source port");
		no_merge(a, other_dport, "other destination port");
		no_merge(a, seq_gap, "gap in sequence");
		no_merge(a, seq_back, "sequence going back");
		no_merge(a, other_ack, "different ack");
		no_merge(a, other_win, "different window");
		no_merge(a, other_opt, "different options");
		no_merge(a, no_opt, "options then none");
		no_merge(a, other_ttl, "different TTL / hop limit");
		no_merge(a, fin, "FIN");
		no_merge(a, syn, "SYN");
		no_merge(a, urg, "URG");
		no_merge(a, cwr, "CWR");
		no_merge(a, no_ack, "no ACK");
		no_merge(a, bigger, "larger than the first");
		no_merge(a, no_payload, "no payload (pure ACK)");
		no_merge(a, other_family, "other IP version");
		p.flags = ACK | PSH;
		no_merge(p, nothing, "first one pushed");
	}
}

/* three consecutive segments, the middle one corrupted: nothing merged */
static void bad_csum(int v6, size_t at, const char *what)
{
	static uint8_t buf[VDS_GRO_MAX];
	struct spec s = base(v6, 1448);
	uint8_t *f[3];
	size_t n[3];
	struct vds_gro g;
	struct sink k;
	int i, same = 1;

	for (i = 0; i < 3; i++, s.seq += 1448)
		f[i] = build(&s, &n[i]);
	f[1][at] ^= 0x40;
	sink_init(&k);
	gro_init(&g, &k, buf);
	for (i = 0; i < 3; i++)
		vds_gro_push(&g, f[i], n[i]);
	vds_gro_flush(&g);
	for (i = 0; i < 3 && k.n == 3; i++)
		same &= k.len[i] == n[i] && !memcmp(k.f[i], f[i], n[i]) && k.h[i].gso_type == 0;
	CHECK(k.n == 3 && same, "%s %s: not merged, passed on unchanged for the kernel to judge (%d)",
	      v6 ? "IPv6" : "IPv4", what, k.n);
	sink_free(&k);
	for (i = 0; i < 3; i++)
		free(f[i]);
}

VT_TEST(gro_bad_checksum, 30)
{
	bad_csum(0, ETH + 10, "bad IPv4 header checksum");
	bad_csum(0, ETH + 8, "IPv4 header corrupted (TTL)");
	bad_csum(0, ETH + 20 + 16, "bad TCP checksum");
	bad_csum(0, ETH + 20 + 32 + 700, "payload corrupted");
	bad_csum(0, ETH + 13, "IPv4 source address corrupted");
	bad_csum(1, ETH + 40 + 16, "bad TCP checksum");
	bad_csum(1, ETH + 40 + 32 + 5, "payload corrupted");
	bad_csum(1, ETH + 8, "IPv6 source address corrupted");
}

/*
 * Make the checksums of a mangled frame right again where its headers
 * allow, so that what GRO refuses it refuses for the mangling alone.
 */
static void fix_csums(uint8_t *f, size_t n)
{
	size_t l4, end;

	if (n < ETH + 20)
		return;
	if (v6_of(f)) {
		if (n < ETH + 40)
			return;
		l4 = ETH + 40;
		end = l4 + get16(f + ETH + 4);
	} else {
		l4 = ETH + (f[ETH] & 15) * 4;
		if (l4 < ETH + 20 || l4 > n)
			return;
		put16(f + ETH + 10, 0);
		put16(f + ETH + 10, ~sum16(f + ETH, l4 - ETH, 0) & 0xffff);
		end = ETH + get16(f + ETH + 2);
	}
	if (end > n || end < l4 + 20)
		return;
	put16(f + l4 + 16, 0);
	put16(f + l4 + 16, ~sum16(f + l4, end - l4, pseudo(f, end - l4)) & 0xffff);
}

/*
 * A malformed frame after a good segment: the good one is flushed, the bad
 * one passed on as it came, nothing read past it (exact-size buffer).
 */
static void gro_bad(const struct spec *s, void (*mangle)(uint8_t *f, size_t *n,
			struct virtio_net_hdr *h), const char *what)
{
	static uint8_t buf[VDS_GRO_MAX];
	struct spec first = *s;
	struct vds_gro g;
	struct sink k;
	size_t n, n0;
	uint8_t *f, *g0, *f0;

	first.seq -= s->pay;
	f0 = build(&first, &n0);
	f = build(s, &n);
	mangle(f, &n, NULL);
	fix_csums(f, n);
	g0 = malloc(n ? n : 1);
	memcpy(g0, f, n);
	sink_init(&k);
	gro_init(&g, &k, buf);
	vds_gro_push(&g, f0, n0);
	vds_gro_push(&g, g0, n);
	vds_gro_flush(&g);
	CHECK(k.n == 2 && k.len[0] == n0 && k.len[1] == n && !memcmp(k.f[1], g0, n) &&
	      k.h[1].gso_type == 0 && k.h[1].flags == 0,
	      "GRO passes on unchanged, unmerged: %s (%d packets)", what, k.n);
	sink_free(&k);
	free(g0);
	free(f);
	free(f0);
}

/* GRO also uses the TSO mangles above that touch only the frame (h is NULL here) */
MANGLE(g_doff_past, f[l4_of(f) + 12] = 15 << 4; *n = l4_of(f) + 50;
       put16(f + ETH + 2, *n - ETH); put16(f + ETH + 4, *n - ETH - 40))
MANGLE(g_ihl_options, f[ETH] = 0x46)
MANGLE(g_ihl_huge, f[ETH] = 0x4f)
MANGLE(g_totlen_tiny, put16(f + ETH + 2, 10))
MANGLE(g_frag_off, put16(f + ETH + 6, 0x0010))
MANGLE(g_cut_ip, *n = ETH + 10)
MANGLE(g_cut_tcp, *n = l4_of(f) + 10)
MANGLE(g_cut_eth, *n = 7)
MANGLE(g_v6_plen_tiny, put16(f + ETH + 4, 8))

/*
 * Two segments with TCP data offset doff (< 5) whose sequence numbers
 * follow each other as a GRO that believed doff would read them: checksums
 * right, everything else equal.  They must go out apart and unchanged.
 */
static void gro_doff_pair(int v6, unsigned doff)
{
	static uint8_t buf[VDS_GRO_MAX];
	struct spec s = base(v6, 1448);
	size_t tcplen = 20 + s.optlen + s.pay, n[2];
	struct vds_gro g;
	struct sink k;
	uint8_t *f[2];
	int i, same = 1;

	for (i = 0; i < 2; i++) {
		f[i] = build(&s, &n[i]);
		f[i][l4_of(f[i]) + 12] = doff << 4;
		fix_csums(f[i], n[i]);
		s.seq += tcplen - doff * 4;	/* the "payload" with that offset */
	}
	sink_init(&k);
	gro_init(&g, &k, buf);
	vds_gro_push(&g, f[0], n[0]);
	vds_gro_push(&g, f[1], n[1]);
	vds_gro_flush(&g);
	for (i = 0; i < 2 && k.n == 2; i++)
		same &= k.len[i] == n[i] && !memcmp(k.f[i], f[i], n[i]) && k.h[i].gso_type == 0;
	CHECK(k.n == 2 && same, "%s: two segments with TCP data offset %u not merged (%d packets)",
	      v6 ? "IPv6" : "IPv4", doff, k.n);
	sink_free(&k);
	free(f[0]);
	free(f[1]);
}

VT_TEST(gro_malformed, 30)
{
	gro_doff_pair(0, 4);
	gro_doff_pair(0, 0);
	gro_doff_pair(1, 4);
	gro_doff_pair(1, 1);
	struct spec s4 = base(0, 1448), s6 = base(1, 1448);

	gro_bad(&s4, doff_small, "IPv4 TCP data offset 4");
	gro_bad(&s4, doff_zero, "IPv4 TCP data offset 0");
	gro_bad(&s6, doff_small, "IPv6 TCP data offset 4");
	gro_bad(&s4, g_doff_past, "IPv4 TCP header past the packet");
	gro_bad(&s6, g_doff_past, "IPv6 TCP header past the packet");
	gro_bad(&s4, ihl_small, "IPv4 ihl 4");
	gro_bad(&s4, g_ihl_options, "IPv4 ihl 6 (options)");
	gro_bad(&s4, g_ihl_huge, "IPv4 ihl 15");
	gro_bad(&s4, totlen_long, "IPv4 total length past the frame");
	gro_bad(&s4, g_totlen_tiny, "IPv4 total length 10");
	gro_bad(&s4, frag_mf, "IPv4 fragment (MF)");
	gro_bad(&s4, g_frag_off, "IPv4 fragment (offset)");
	gro_bad(&s4, proto_udp, "IPv4 UDP");
	gro_bad(&s4, ethertype, "Ethernet type ARP");
	gro_bad(&s4, g_cut_ip, "IPv4 header cut");
	gro_bad(&s4, g_cut_tcp, "TCP header cut");
	gro_bad(&s6, g_cut_ip, "IPv6 header cut");
	gro_bad(&s4, g_cut_eth, "7 bytes");
	gro_bad(&s4, empty, "0 bytes");
	gro_bad(&s6, v6_next_hdr, "IPv6 extension header");
	gro_bad(&s6, v6_plen_long, "IPv6 payload length past the frame");
	gro_bad(&s6, g_v6_plen_tiny, "IPv6 payload length 8");
	gro_bad(&s6, v6_version, "IPv6 version 4");
}

VT_TEST(gro_padding_and_limits, 30)
{
	static uint8_t buf[VDS_GRO_MAX];
	struct spec s = base(0, 1448);
	struct vds_gro g;
	struct sink k;
	const char *w;

	/* a short last segment padded to 60 bytes: the padding is not data */
	sink_init(&k);
	gro_init(&g, &k, buf);
	s.optlen = 0;
	push(&g, &s);
	s.seq += 1448;
	s.pay = 2;
	s.pad = 4;
	push(&g, &s);
	vds_gro_flush(&g);
	w = k.n == 1 ? merged_ok(&k, 0, 1000000, 1450, 1448) : "not merged";
	CHECK(!w, "Ethernet padding of a short segment left out of the merge (%s)", w ? w : "ok");
	sink_free(&k);

	/* a lone padded segment goes out without its padding, checksums intact */
	s = base(1, 3);
	s.pad = 9;
	push(&g, &s);
	vds_gro_flush(&g);
	CHECK(k.n == 1 && k.len[0] == hdr_len(&s) + 3 && !wire_ok(k.f[0], k.len[0]),
	      "a lone segment: padding trimmed, valid (%zu bytes)", k.n ? k.len[0] : 0);

	/* a lone segment stands for its whole frame, padding included */
	CHECK(k.n == 1 && k.frames[0] == 1 && k.bytes[0] == hdr_len(&s) + 3 + 9,
	      "a lone segment counts as 1 frame of %zu bytes (%zu)", hdr_len(&s) + 12,
	      k.n ? k.bytes[0] : 0);
	sink_free(&k);

	/* no buffer: nothing merged, each frame as it came */
	sink_init(&k);
	gro_init(&g, &k, NULL);
	s = base(0, 1448);
	push(&g, &s);
	s.seq += 1448;
	push(&g, &s);
	vds_gro_flush(&g);
	CHECK(k.n == 2 && sink_frames(&k) == 2, "without a buffer every frame goes out alone (%d)",
	      k.n);
	sink_free(&k);

	/* 64 KiB at most: a flow of 100 segments becomes 2 packets */
	gro_init(&g, &k, buf);
	s = base(0, 1448);
	for (int i = 0; i < 60; i++, s.seq += 1448)
		push(&g, &s);
	vds_gro_flush(&g);
	CHECK(k.n == 2 && k.len[0] <= VDS_GRO_MAX && k.len[0] + k.len[1] > VDS_GRO_MAX &&
	      !merged_ok(&k, 0, 1000000, k.len[0] - hdr_len(&s), 1448) &&
	      !merged_ok(&k, 1, 1000000 + k.len[0] - hdr_len(&s), k.len[1] - hdr_len(&s), 1448),
	      "60 full segments: 2 packets within VDS_GRO_MAX (%d)", k.n);
	sink_free(&k);
}

/* what TSO cuts, GRO puts back together: the original payload */
VT_TEST(tso_then_gro, 30)
{
	static uint8_t buf[VDS_GRO_MAX];

	for (int v6 = 0; v6 < 2; v6++) {
		struct spec s = base(v6, 40001);
		struct virtio_net_hdr h;
		struct vds_ofcount c = { 0 };
		struct vds_txjob j;
		struct vds_gro g;
		struct sink k, out;
		size_t n;
		uint8_t *f;
		const char *w;

		s.flags = ACK | PSH;
		f = build_gso(&s, 1448, &h, &n);
		sink_init(&k);
		sink_init(&out);
		REQUIRE(vds_txjob_init(&j, f, n, &h) == 0 && vds_txjob_run(&j, emit, &k, &c) == 0,
			"TSO of 40001 bytes");
		gro_init(&g, &out, buf);
		for (int i = 0; i < k.n; i++)
			vds_gro_push(&g, k.f[i], k.len[i]);
		vds_gro_flush(&g);
		w = out.n == 1 ? merged_ok(&out, 0, s.seq, s.pay, 1448) : "not one packet";
		CHECK(!w, "%s: %d segments merged back into the original (%s)",
		      v6 ? "IPv6" : "IPv4", k.n, w ? w : "ok");
		CHECK(out.n == 1 && out.f[0][l4_of(out.f[0]) + 13] == (ACK | PSH),
		      "%s: PSH back on the merged packet", v6 ? "IPv6" : "IPv4");
		sink_free(&k);
		sink_free(&out);
		free(f);
	}
}

/* ---------------------------------------------------------- UDP GRO --- */

/* UDP pseudo-header sum of the packet in f, for udplen bytes of UDP */
static uint32_t pseudo_udp(const uint8_t *f, size_t udplen)
{
	uint32_t s = v6_of(f) ? sum16(f + ETH + 8, 32, 0) : sum16(f + ETH + 12, 8, 0);

	return sum16((uint8_t[]){ 0, 17, udplen >> 8, udplen & 0xff }, 4, s);
}

/* a UDP datagram frame, payload pat(at ...), checksums correct */
static uint8_t *build_udp(int v6, unsigned dport, size_t pay, uint32_t at, size_t *np)
{
	size_t l4 = ETH + (v6 ? 40 : 20), n = l4 + 8 + pay, i;
	uint8_t *f = calloc(1, n);

	memcpy(f, "\x02\0\0\0\0\x01\x02\0\0\0\0\x02", 12);
	if (v6) {
		put16(f + 12, 0x86dd);
		f[ETH] = 0x60;
		put16(f + ETH + 4, 8 + pay);
		f[ETH + 6] = 17;
		f[ETH + 7] = 64;
		memcpy(f + ETH + 8, "\xfd\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
		memcpy(f + ETH + 24, "\xfd\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x02", 16);
	} else {
		put16(f + 12, 0x0800);
		f[ETH] = 0x45;
		put16(f + ETH + 2, n - ETH);
		put16(f + ETH + 4, at & 0xffff);
		put16(f + ETH + 6, 0x4000);
		f[ETH + 8] = 64;
		f[ETH + 9] = 17;
		memcpy(f + ETH + 12, "\x0a\x4d\0\x01\x0a\x4d\0\x02", 8);
		put16(f + ETH + 10, ~sum16(f + ETH, 20, 0) & 0xffff);
	}
	put16(f + l4, 40000);
	put16(f + l4 + 2, dport);
	put16(f + l4 + 4, 8 + pay);
	for (i = 0; i < pay; i++)
		f[l4 + 8 + i] = pat(at + i);
	put16(f + l4 + 6, ~sum16(f + l4, 8 + pay, pseudo_udp(f, 8 + pay)) & 0xffff);
	*np = n;
	return f;
}

static size_t push_udp(struct vds_gro *g, int v6, unsigned dport, size_t pay, uint32_t at,
		       uint8_t mangle_at)
{
	size_t n;
	uint8_t *f = build_udp(v6, dport, pay, at, &n);

	if (mangle_at)
		f[mangle_at] ^= 0x40;
	vds_gro_push(g, f, n);
	free(f);
	return n;
}

/* a datagram as the wire has it: lengths, checksums, payload pat(at ...) */
static const char *udp_ok(const uint8_t *f, size_t n, size_t pay, uint32_t at)
{
	size_t l4 = l4_of(f);

	if (n != l4 + 8 + pay || get16(f + l4 + 4) != 8 + pay)
		return "UDP length";
	if (v6_of(f) ? get16(f + ETH + 4) != 8 + pay :
	    get16(f + ETH + 2) != n - ETH || sum16(f + ETH, 20, 0) != 0xffff)
		return "IP length or header checksum";
	if (sum16(f + l4, 8 + pay, pseudo_udp(f, 8 + pay)) != 0xffff)
		return "UDP checksum";
	for (size_t i = 0; i < pay; i++)
		if (f[l4 + 8 + i] != pat(at + i))
			return "payload";
	return NULL;
}

/*
 * The merged UDP packet i: a UDP GSO packet of segments of mss bytes (the
 * kernel cuts it, completing the partial checksum of each): checked here
 * by cutting it the same way, datagram by datagram.
 */
static const char *udp_merged_ok(const struct sink *k, int i, size_t total, unsigned mss,
				 uint32_t at)
{
	const struct virtio_net_hdr *h = &k->h[i];
	const uint8_t *p = k->f[i];
	size_t l4 = l4_of(p), off;
	const char *w = NULL;

	if (h->gso_type != VIRTIO_NET_HDR_GSO_UDP_L4 || h->flags != VIRTIO_NET_HDR_F_NEEDS_CSUM ||
	    h->gso_size != mss || h->csum_start != l4 || h->csum_offset != 6 ||
	    h->hdr_len != l4 + 8 || k->len[i] != l4 + 8 + total)
		return "virtio-net header or length";
	/* CHECKSUM_PARTIAL: the pseudo-header sum over the whole length */
	if (get16(p + l4 + 4) != 8 + total ||
	    get16(p + l4 + 6) != (sum16((uint8_t[]){ 0 }, 0, pseudo_udp(p, 8 + total)) & 0xffff))
		return "UDP length or pseudo-header sum";
	for (off = 0; !w && off < total; off += mss) {
		size_t pay = total - off < mss ? total - off : mss, n = l4 + 8 + pay;
		uint8_t *d = malloc(n);

		memcpy(d, p, l4 + 8);
		memcpy(d + l4 + 8, p + l4 + 8 + off, pay);
		if (v6_of(d)) {
			put16(d + ETH + 4, 8 + pay);
		} else {
			put16(d + ETH + 2, n - ETH);
			put16(d + ETH + 10, 0);
			put16(d + ETH + 10, ~sum16(d + ETH, 20, 0) & 0xffff);
		}
		put16(d + l4 + 4, 8 + pay);
		put16(d + l4 + 6, 0);
		put16(d + l4 + 6, ~sum16(d + l4, 8 + pay, pseudo_udp(d, 8 + pay)) & 0xffff);
		w = udp_ok(d, n, pay, at + off);
		free(d);
	}
	return w;
}

static void gro_udp(int v6)
{
	static uint8_t buf[VDS_GRO_MAX];
	const char *ip = v6 ? "IPv6" : "IPv4", *w;
	size_t bytes = 0, l4 = ETH + (v6 ? 40 : 20);
	struct vds_gro g;
	struct sink k;
	int i;

	sink_init(&k);
	gro_init(&g, &k, buf);
	/* five of 100 bytes and one of 40: one packet */
	for (i = 0; i < 6; i++)
		bytes += push_udp(&g, v6, 5201, i < 5 ? 100 : 40, i * 100, 0);
	vds_gro_flush(&g);
	REQUIRE(k.n == 1, "%s: 6 datagrams of one flow merged into one packet (%d)", ip, k.n);
	w = udp_merged_ok(&k, 0, 540, 100, 0);
	CHECK(!w, "%s: UDP GSO packet cut by 100 gives the 6 datagrams back (%s)", ip, w ? w : "ok");
	CHECK(k.frames[0] == 6 && k.bytes[0] == bytes, "%s: it stands for 6 frames, %zu bytes",
	      ip, bytes);
	sink_free(&k);

	/* a bad checksum, another port, a multicast frame: apart, as they came */
	push_udp(&g, v6, 5201, 100, 0, 0);
	push_udp(&g, v6, 5201, 100, 100, 0);
	push_udp(&g, v6, 5201, 100, 200, l4 + 8 + 5);	/* payload bit flipped */
	push_udp(&g, v6, 5202, 100, 300, 0);
	push_udp(&g, v6, 5201, 100, 400, 0);
	push_udp(&g, v6, 5201, 100, 500, 0);
	vds_gro_flush(&g);
	CHECK(k.n == 4 && !udp_merged_ok(&k, 0, 200, 100, 0) && k.h[1].gso_type == 0 &&
	      udp_ok(k.f[1], k.len[1], 100, 200) && k.h[2].gso_type == 0 &&
	      !udp_ok(k.f[2], k.len[2], 100, 300) && !udp_merged_ok(&k, 3, 200, 100, 400),
	      "%s: the corrupt datagram and the other port's go apart, unchanged; the"
	      " flow merges around them (%d packets)", ip, k.n);
	sink_free(&k);

	/* a longer one after a shorter: apart; at most 64 per packet */
	push_udp(&g, v6, 5201, 50, 0, 0);
	push_udp(&g, v6, 5201, 100, 50, 0);
	vds_gro_flush(&g);
	CHECK(k.n == 2 && k.h[0].gso_type == 0 && k.h[1].gso_type == 0,
	      "%s: a larger datagram after a smaller one is not merged", ip);
	sink_free(&k);
	for (i = 0; i < 70; i++)
		push_udp(&g, v6, 5201, 16, i * 16, 0);
	vds_gro_flush(&g);
	CHECK(k.n == 2 && !udp_merged_ok(&k, 0, 64 * 16, 16, 0) && k.frames[0] == 64 &&
	      k.frames[1] == 6, "%s: 70 datagrams: packets of 64 and 6 (%d packets)", ip, k.n);
	sink_free(&k);

	/* a kernel without UDP GSO from taps: one by one, and no merging since */
	k.no_uso = 1;
	for (i = 0; i < 4; i++)
		push_udp(&g, v6, 5201, i < 3 ? 100 : 30, i * 100, 0);
	vds_gro_flush(&g);
	CHECK(k.n == 4 && !udp_ok(k.f[0], k.len[0], 100, 0) && !udp_ok(k.f[1], k.len[1], 100, 100) &&
	      !udp_ok(k.f[2], k.len[2], 100, 200) && !udp_ok(k.f[3], k.len[3], 30, 300) &&
	      k.frames[0] + k.frames[1] + k.frames[2] + k.frames[3] == 4,
	      "%s: refused UDP GSO packet sent as its 4 datagrams, each valid (%d)", ip, k.n);
	sink_free(&k);
	push_udp(&g, v6, 5201, 100, 0, 0);
	push_udp(&g, v6, 5201, 100, 100, 0);
	vds_gro_flush(&g);
	CHECK(k.n == 2 && k.h[0].gso_type == 0 && k.h[1].gso_type == 0,
	      "%s: after that, UDP is not merged any more", ip);
	sink_free(&k);
}

VT_TEST(gro_udp_ipv4, 30)
{
	gro_udp(0);
}

VT_TEST(gro_udp_ipv6, 30)
{
	gro_udp(1);
}
