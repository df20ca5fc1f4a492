// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * gro.c - receive coalescing: consecutive TCP segments of one flow, taken
 * from the VDE side in one drain, enter the stack as one large packet; so
 * do consecutive UDP datagrams of one flow and one size (the last may be
 * shorter), as a UDP GSO packet (VIRTIO_NET_HDR_GSO_UDP_L4) that the
 * kernel splits into the same datagrams again after a single trip through
 * the interface, IP and the socket lookup (a socket with UDP_GRO gets them
 * in one piece, as from a NIC's UDP GRO).
 *
 * The tap carries a virtio-net header, so a single write() can hand the
 * kernel a 64 KiB TCP packet marked for segmentation (what GRO builds from
 * a NIC's frames): the stack's TCP then does its per-packet work once
 * instead of forty times.  The rules are GRO's: same flow, no IPv4 options,
 * no fragments, no IPv6 extension headers, only ACK/PSH flags, contiguous
 * sequence numbers, same ack, window and options, full-sized segments but
 * the last; for UDP: unicast, same ports, same size but the last, a
 * checksum, at most VDS_GRO_UDP_SEGS.  Each segment's IP and TCP or UDP
 * checksums are verified here before
 * it is merged, so a corrupt frame is never accepted on our word; anything
 * that does not qualify goes to the interface unchanged, and the kernel
 * judges it.
 *
 * Headers are read and written through copies (memcpy): frames sit at any
 * alignment in the caller's buffers.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>

#include "offload.h"

#define TCP_FLAGS_OFF	13	/* byte of the TCP header holding the flags */
#define TCP_FLAG_PSH	0x08
#define TCP_FLAG_ACK	0x10
#define VDS_GRO_UDP_SEGS 64	/* the kernel takes up to UDP_MAX_SEGMENTS (64 or more) */

static const struct virtio_net_hdr no_offload;

/* TCP or UDP (@proto) pseudo-header sum of an IPv4 or IPv6 packet at l3 */
static uint64_t pseudo(const unsigned char *l3, int v6, int proto, size_t l4len)
{
	uint64_t sum;

	if (v6)
		sum = vds_csum_add(0, l3 + offsetof(struct ip6_hdr, ip6_src), 32);
	else
		sum = vds_csum_add(0, l3 + offsetof(struct iphdr, saddr), 8);
	return sum + htons(proto) + htons(l4len);
}

/* a TCP segment or UDP datagram we may merge, as parsed by segment() */
struct seg {
	size_t l4;		/* offset of the TCP or UDP header */
	size_t hdrlen;		/* Ethernet + IP + TCP/UDP header bytes */
	size_t end;		/* Ethernet + IP packet: what follows is padding */
	size_t pay;		/* payload bytes */
	int v6;
	int proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t flags;
	uint32_t seq;
};

static int l4_ok(int proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP;
}

/* IPv4 without options, not a fragment, TCP or UDP; lengths and header checksum */
static int ip4_segment(const unsigned char *f, size_t n, struct seg *s)
{
	struct iphdr ip;

	if (n < ETH_HLEN + sizeof(ip))
		return 0;
	memcpy(&ip, f + ETH_HLEN, sizeof(ip));
	if (ip.version != 4 || ip.ihl * 4 != sizeof(ip) || !l4_ok(ip.protocol) ||
	    (ntohs(ip.frag_off) & (IP_MF | IP_OFFMASK)) ||
	    ntohs(ip.tot_len) < sizeof(ip) || ntohs(ip.tot_len) > n - ETH_HLEN ||
	    vds_csum_fold(vds_csum_add(0, f + ETH_HLEN, sizeof(ip))) != 0xffff)
		return 0;
	s->l4 = ETH_HLEN + sizeof(ip);
	s->end = ETH_HLEN + ntohs(ip.tot_len);
	s->v6 = 0;
	s->proto = ip.protocol;
	return 1;
}

/* IPv6 with TCP or UDP as the next header; lengths */
static int ip6_segment(const unsigned char *f, size_t n, struct seg *s)
{
	struct ip6_hdr ip6;

	if (n < ETH_HLEN + sizeof(ip6))
		return 0;
	memcpy(&ip6, f + ETH_HLEN, sizeof(ip6));
	if ((ip6.ip6_vfc >> 4) != 6 || !l4_ok(ip6.ip6_nxt) ||
	    ntohs(ip6.ip6_plen) > n - ETH_HLEN - sizeof(ip6))
		return 0;
	s->l4 = ETH_HLEN + sizeof(ip6);
	s->end = s->l4 + ntohs(ip6.ip6_plen);
	s->v6 = 1;
	s->proto = ip6.ip6_nxt;
	return 1;
}

/* a TCP data segment (after segment()'s IP checks): 1 or 0 */
static int tcp_segment(const unsigned char *f, struct seg *s)
{
	const unsigned char *tcp = f + s->l4;
	size_t tcplen = s->end - s->l4;
	struct tcphdr th;

	if (tcplen < sizeof(th))
		return 0;
	memcpy(&th, tcp, sizeof(th));
	s->flags = tcp[TCP_FLAGS_OFF];
	if (th.doff * 4 < sizeof(th) || th.doff * 4u >= tcplen ||
	    (s->flags & ~TCP_FLAG_PSH) != TCP_FLAG_ACK)
		return 0;
	if (vds_csum_fold(vds_csum_add(pseudo(f + ETH_HLEN, s->v6, IPPROTO_TCP, tcplen),
				       tcp, tcplen)) != 0xffff)
		return 0;
	s->hdrlen = s->l4 + th.doff * 4;
	s->pay = s->end - s->hdrlen;
	s->seq = ntohl(th.seq);
	return 1;
}

/*
 * A unicast UDP datagram with data and a checksum (IPv4's optional one
 * too: a datagram without is left alone), its length the IP packet's
 */
static int udp_datagram(const unsigned char *f, struct seg *s)
{
	const unsigned char *udp = f + s->l4;
	size_t udplen = s->end - s->l4;
	struct udphdr uh;

	if (udplen <= sizeof(uh) || (f[0] & 1))
		return 0;
	memcpy(&uh, udp, sizeof(uh));
	if (ntohs(uh.len) != udplen || uh.check == 0 ||
	    vds_csum_fold(vds_csum_add(pseudo(f + ETH_HLEN, s->v6, IPPROTO_UDP, udplen),
				       udp, udplen)) != 0xffff)
		return 0;
	s->hdrlen = s->l4 + sizeof(uh);
	s->pay = udplen - sizeof(uh);
	s->flags = 0;
	s->seq = 0;
	return 1;
}

/*
 * A TCP data segment or UDP datagram we may merge: 1 with *s filled in,
 * or 0.  Checks every length against n and both checksums.
 */
static int segment(const unsigned char *f, size_t n, struct seg *s, int no_udp)
{
	struct ethhdr eth;

	if (n < sizeof(eth))
		return 0;
	memcpy(&eth, f, sizeof(eth));
	switch (ntohs(eth.h_proto)) {
	case ETH_P_IP:
		if (!ip4_segment(f, n, s))
			return 0;
		break;
	case ETH_P_IPV6:
		if (!ip6_segment(f, n, s))
			return 0;
		break;
	default:
		return 0;
	}
	if (s->end > VDS_GRO_MAX)
		return 0;
	return s->proto == IPPROTO_TCP ? tcp_segment(f, s) : !no_udp && udp_datagram(f, s);
}

/* the IP header fields that must match for two segments to be merged */
static int same_ip(const unsigned char *a, const unsigned char *b, int v6)
{
	if (v6) {
		struct ip6_hdr x, y;

		memcpy(&x, a, sizeof(x));
		memcpy(&y, b, sizeof(y));
		return x.ip6_flow == y.ip6_flow && x.ip6_hlim == y.ip6_hlim &&
		       !memcmp(&x.ip6_src, &y.ip6_src, 32);
	} else {
		struct iphdr x, y;

		memcpy(&x, a, sizeof(x));
		memcpy(&y, b, sizeof(y));
		return x.tos == y.tos && x.frag_off == y.frag_off && x.ttl == y.ttl &&
		       x.saddr == y.saddr && x.daddr == y.daddr;
	}
}

/* same flow, next in sequence, same everything GRO wants the same */
static int follows(const struct vds_gro *g, const unsigned char *f, const struct seg *s)
{
	const unsigned char *m = g->buf, *l4 = f + s->l4, *ml4 = m + g->l4;
	struct tcphdr th, mth;

	if (g->closed || s->v6 != g->v6 || s->proto != g->proto || s->hdrlen != g->hdrlen ||
	    s->pay > g->mss || g->len + s->pay > VDS_GRO_MAX ||
	    memcmp(f, m, ETH_HLEN) || !same_ip(f + ETH_HLEN, m + ETH_HLEN, s->v6))
		return 0;
	if (s->proto == IPPROTO_UDP)	/* the ports; the rest was checked */
		return g->nseg < VDS_GRO_UDP_SEGS && !memcmp(l4, ml4, 4);
	memcpy(&th, l4, sizeof(th));
	memcpy(&mth, ml4, sizeof(mth));
	return s->seq == g->next_seq && th.source == mth.source && th.dest == mth.dest &&
	       th.ack_seq == mth.ack_seq && th.window == mth.window &&
	       !((l4[TCP_FLAGS_OFF] ^ ml4[TCP_FLAGS_OFF]) & ~TCP_FLAG_PSH) &&
	       !memcmp(l4 + sizeof(th), ml4 + sizeof(th), s->hdrlen - s->l4 - sizeof(th));
}

/*
 * A kernel that takes no UDP GSO packet from a tap (before Linux 6.2): the
 * datagrams one by one, each rebuilt in place in front of its payload (over
 * the payload before it, already written), and no UDP merging from now on.
 */
static void udp_split(struct vds_gro *g)
{
	unsigned char hdr[ETH_HLEN + sizeof(struct ip6_hdr) + sizeof(struct udphdr)];
	size_t hl = g->hdrlen, off;
	uint16_t v;

	g->no_udp = 1;
	memcpy(hdr, g->buf, hl);
	for (off = 0; hl + off < g->len; off += g->mss) {
		unsigned char *d = g->buf + off, *l3 = d + ETH_HLEN, *l4 = d + g->l4;
		size_t pay = g->len - hl - off < g->mss ? g->len - hl - off : g->mss;
		size_t l4len = sizeof(struct udphdr) + pay;

		memcpy(d, hdr, hl);
		if (g->v6) {
			v = htons(l4len);
			memcpy(l3 + offsetof(struct ip6_hdr, ip6_plen), &v, 2);
		} else {
			v = htons(g->l4 - ETH_HLEN + l4len);
			memcpy(l3 + offsetof(struct iphdr, tot_len), &v, 2);
			memset(l3 + offsetof(struct iphdr, check), 0, 2);
			v = ~vds_csum_fold(vds_csum_add(0, l3, sizeof(struct iphdr)));
			memcpy(l3 + offsetof(struct iphdr, check), &v, 2);
		}
		v = htons(l4len);
		memcpy(l4 + offsetof(struct udphdr, len), &v, 2);
		memset(l4 + offsetof(struct udphdr, check), 0, 2);
		v = ~vds_csum_fold(vds_csum_add(pseudo(l3, g->v6, IPPROTO_UDP, l4len), l4, l4len));
		v = v ? v : 0xffff;
		memcpy(l4 + offsetof(struct udphdr, check), &v, 2);
		g->write(g->opaque, &no_offload, d, g->l4 + l4len, 1, g->l4 + l4len);
	}
}

/* the packet built in g->buf, as one write */
static void gro_write(struct vds_gro *g)
{
	unsigned char *l3 = g->buf + ETH_HLEN, *l4 = g->buf + g->l4;
	size_t l4len = g->len - g->l4;
	int udp = g->proto == IPPROTO_UDP;
	struct virtio_net_hdr h;
	uint16_t v;

	if (g->nseg == 1) {
		g->write(g->opaque, &no_offload, g->buf, g->len, 1, g->bytes);
		return;
	}
	if (g->v6) {
		v = htons(l4len);
		memcpy(l3 + offsetof(struct ip6_hdr, ip6_plen), &v, 2);
	} else {
		v = htons(g->len - ETH_HLEN);
		memcpy(l3 + offsetof(struct iphdr, tot_len), &v, 2);
		memset(l3 + offsetof(struct iphdr, check), 0, 2);
		v = ~vds_csum_fold(vds_csum_add(0, l3, sizeof(struct iphdr)));
		memcpy(l3 + offsetof(struct iphdr, check), &v, 2);
	}
	if (udp) {
		v = htons(l4len);
		memcpy(l4 + offsetof(struct udphdr, len), &v, 2);
	} else if (g->psh) {
		l4[TCP_FLAGS_OFF] |= TCP_FLAG_PSH;
	}
	/* CHECKSUM_PARTIAL, as GRO leaves it: the segments were verified */
	v = vds_csum_fold(pseudo(l3, g->v6, g->proto, l4len));
	memcpy(l4 + (udp ? offsetof(struct udphdr, check) : offsetof(struct tcphdr, check)), &v, 2);
	memset(&h, 0, sizeof(h));
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = udp ? VIRTIO_NET_HDR_GSO_UDP_L4 :
		g->v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	h.hdr_len = g->hdrlen;
	h.gso_size = g->mss;
	h.csum_start = g->l4;
	h.csum_offset = udp ? offsetof(struct udphdr, check) : offsetof(struct tcphdr, check);
	if (g->write(g->opaque, &h, g->buf, g->len, g->nseg, g->bytes) == -EINVAL && udp)
		udp_split(g);
}

/**
 * vds_gro_flush() - hand what was merged to the interface
 * @g:		the coalescing state
 */
void vds_gro_flush(struct vds_gro *g)
{
	if (g->nseg)
		gro_write(g);
	g->nseg = 0;
}

/**
 * vds_gro_push() - one frame towards the interface of @g->opaque
 * @g:		the coalescing state
 * @f:		the frame
 * @n:		its length (any: what is not TCP data goes out as it came)
 *
 * The frame is merged with what came before, or that is flushed and the
 * frame starts a new packet, or (not a TCP segment that qualifies) the
 * frame goes out at once, unchanged.
 */
void vds_gro_push(struct vds_gro *g, const unsigned char *f, size_t n)
{
	struct seg s;

	if (!g->buf || !segment(f, n, &s, g->no_udp)) {
		vds_gro_flush(g);
		g->write(g->opaque, &no_offload, f, n, 1, n);
		return;
	}
	if (g->nseg && follows(g, f, &s)) {
		memcpy(g->buf + g->len, f + s.hdrlen, s.pay);
		g->len += s.pay;
		g->bytes += n;
		g->nseg++;
		g->next_seq += s.pay;
		if (s.pay < g->mss || (s.flags & TCP_FLAG_PSH)) {
			g->psh = !!(s.flags & TCP_FLAG_PSH);
			g->closed = 1;
		}
		return;
	}
	vds_gro_flush(g);
	/* the frame up to the end of its IP packet: Ethernet padding goes */
	memcpy(g->buf, f, s.end);
	g->len = s.end;
	g->bytes = n;
	g->nseg = 1;
	g->hdrlen = s.hdrlen;
	g->l4 = s.l4;
	g->v6 = s.v6;
	g->proto = s.proto;
	g->mss = s.pay;
	g->next_seq = s.seq + s.pay;
	g->psh = 0;
	g->closed = !!(s.flags & TCP_FLAG_PSH);
}
