// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * gro.c - receive coalescing: consecutive TCP segments of one flow, taken
 * from the VDE side in one drain, enter the stack as one large packet.
 *
 * The tap carries a virtio-net header, so a single write() can hand the
 * kernel a 64 KiB TCP packet marked for segmentation (what GRO builds from
 * a NIC's frames): the stack's TCP then does its per-packet work once
 * instead of forty times.  The rules are GRO's: same flow, no IPv4 options,
 * no fragments, no IPv6 extension headers, only ACK/PSH flags, contiguous
 * sequence numbers, same ack, window and options, full-sized segments but
 * the last.  Each segment's IP and TCP checksums are verified here before
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

#include "offload.h"

#define TCP_FLAGS_OFF	13	/* byte of the TCP header holding the flags */
#define TCP_FLAG_PSH	0x08
#define TCP_FLAG_ACK	0x10

static const struct virtio_net_hdr no_offload;

/* TCP pseudo-header sum of an IPv4 or IPv6 packet at l3 */
static uint64_t pseudo(const unsigned char *l3, int v6, size_t tcplen)
{
	uint64_t sum;

	if (v6)
		sum = vds_csum_add(0, l3 + offsetof(struct ip6_hdr, ip6_src), 32);
	else
		sum = vds_csum_add(0, l3 + offsetof(struct iphdr, saddr), 8);
	return sum + htons(IPPROTO_TCP) + htons(tcplen);
}

/* a TCP segment we may merge, as parsed by tcp_segment() */
struct seg {
	size_t l4;		/* offset of the TCP header */
	size_t hdrlen;		/* Ethernet + IP + TCP header bytes */
	size_t end;		/* Ethernet + IP packet: what follows is padding */
	size_t pay;		/* payload bytes */
	int v6;
	uint8_t flags;
	uint32_t seq;
};

/* IPv4 without options, not a fragment, TCP; lengths and header checksum */
static int ip4_segment(const unsigned char *f, size_t n, struct seg *s)
{
	struct iphdr ip;

	if (n < ETH_HLEN + sizeof(ip))
		return 0;
	memcpy(&ip, f + ETH_HLEN, sizeof(ip));
	if (ip.version != 4 || ip.ihl * 4 != sizeof(ip) || ip.protocol != IPPROTO_TCP ||
	    (ntohs(ip.frag_off) & (IP_MF | IP_OFFMASK)) ||
	    ntohs(ip.tot_len) < sizeof(ip) || ntohs(ip.tot_len) > n - ETH_HLEN ||
	    vds_csum_fold(vds_csum_add(0, f + ETH_HLEN, sizeof(ip))) != 0xffff)
		return 0;
	s->l4 = ETH_HLEN + sizeof(ip);
	s->end = ETH_HLEN + ntohs(ip.tot_len);
	s->v6 = 0;
	return 1;
}

/* IPv6 with TCP as the next header; lengths */
static int ip6_segment(const unsigned char *f, size_t n, struct seg *s)
{
	struct ip6_hdr ip6;

	if (n < ETH_HLEN + sizeof(ip6))
		return 0;
	memcpy(&ip6, f + ETH_HLEN, sizeof(ip6));
	if ((ip6.ip6_vfc >> 4) != 6 || ip6.ip6_nxt != IPPROTO_TCP ||
	    ntohs(ip6.ip6_plen) > n - ETH_HLEN - sizeof(ip6))
		return 0;
	s->l4 = ETH_HLEN + sizeof(ip6);
	s->end = s->l4 + ntohs(ip6.ip6_plen);
	s->v6 = 1;
	return 1;
}

/*
 * A TCP data segment we may merge: 1 with *s filled in, or 0.  Checks every
 * length against n and both checksums.
 */
static int tcp_segment(const unsigned char *f, size_t n, struct seg *s)
{
	const unsigned char *tcp;
	struct ethhdr eth;
	struct tcphdr th;
	size_t tcplen;

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
	tcplen = s->end - s->l4;
	if (tcplen < sizeof(th) || s->end > VDS_GRO_MAX)
		return 0;
	tcp = f + s->l4;
	memcpy(&th, tcp, sizeof(th));
	s->flags = tcp[TCP_FLAGS_OFF];
	if (th.doff * 4 < sizeof(th) || th.doff * 4u >= tcplen ||
	    (s->flags & ~TCP_FLAG_PSH) != TCP_FLAG_ACK)
		return 0;
	if (vds_csum_fold(vds_csum_add(pseudo(f + ETH_HLEN, s->v6, tcplen), tcp, tcplen)) != 0xffff)
		return 0;
	s->hdrlen = s->l4 + th.doff * 4;
	s->pay = s->end - s->hdrlen;
	s->seq = ntohl(th.seq);
	return 1;
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
	const unsigned char *m = g->buf, *tcp = f + s->l4, *mtcp = m + g->l4;
	struct tcphdr th, mth;

	if (g->closed || s->v6 != g->v6 || s->hdrlen != g->hdrlen ||
	    s->pay > g->mss || g->len + s->pay > VDS_GRO_MAX || s->seq != g->next_seq ||
	    memcmp(f, m, ETH_HLEN) || !same_ip(f + ETH_HLEN, m + ETH_HLEN, s->v6))
		return 0;
	memcpy(&th, tcp, sizeof(th));
	memcpy(&mth, mtcp, sizeof(mth));
	return th.source == mth.source && th.dest == mth.dest &&
	       th.ack_seq == mth.ack_seq && th.window == mth.window &&
	       !((tcp[TCP_FLAGS_OFF] ^ mtcp[TCP_FLAGS_OFF]) & ~TCP_FLAG_PSH) &&
	       !memcmp(tcp + sizeof(th), mtcp + sizeof(th), s->hdrlen - s->l4 - sizeof(th));
}

/* the packet built in g->buf, as one write */
static void gro_write(struct vds_gro *g)
{
	unsigned char *l3 = g->buf + ETH_HLEN, *tcp = g->buf + g->l4;
	size_t tcplen = g->len - g->l4;
	struct virtio_net_hdr h;
	uint16_t v;

	if (g->nseg == 1) {
		g->write(g->opaque, &no_offload, g->buf, g->len, 1, g->bytes);
		return;
	}
	if (g->v6) {
		v = htons(tcplen);
		memcpy(l3 + offsetof(struct ip6_hdr, ip6_plen), &v, 2);
	} else {
		v = htons(g->len - ETH_HLEN);
		memcpy(l3 + offsetof(struct iphdr, tot_len), &v, 2);
		memset(l3 + offsetof(struct iphdr, check), 0, 2);
		v = ~vds_csum_fold(vds_csum_add(0, l3, sizeof(struct iphdr)));
		memcpy(l3 + offsetof(struct iphdr, check), &v, 2);
	}
	if (g->psh)
		tcp[TCP_FLAGS_OFF] |= TCP_FLAG_PSH;
	/* CHECKSUM_PARTIAL, as GRO leaves it: the segments were verified */
	v = vds_csum_fold(pseudo(l3, g->v6, tcplen));
	memcpy(tcp + offsetof(struct tcphdr, check), &v, 2);
	memset(&h, 0, sizeof(h));
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = g->v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	h.hdr_len = g->hdrlen;
	h.gso_size = g->mss;
	h.csum_start = g->l4;
	h.csum_offset = offsetof(struct tcphdr, check);
	g->write(g->opaque, &h, g->buf, g->len, g->nseg, g->bytes);
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

	if (!g->buf || !tcp_segment(f, n, &s)) {
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
	g->mss = s.pay;
	g->next_seq = s.seq + s.pay;
	g->psh = 0;
	g->closed = !!(s.flags & TCP_FLAG_PSH);
}
