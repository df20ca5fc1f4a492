// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tso.c - send-side segmentation: the stack hands its interface TCP packets
 * of up to 64 KiB (TSO) and packets whose checksum is left to the "device";
 * here they become Ethernet frames of the interface's MTU with complete
 * checksums, as a NIC would put them on the wire.
 *
 * One read() from the tap then replaces dozens, and the stack's TCP does
 * its per-packet work once per 64 KiB.  Segments are built in place: the
 * headers of segment i+1 overwrite the tail of segment i, already sent.
 * A segment the callback refuses with -EAGAIN leaves the job where it
 * stands; the caller parks it and resumes it later.
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
#define TCP_FLAG_FIN	0x01
#define TCP_FLAG_PSH	0x08
#define TCP_FLAG_CWR	0x80

/* a segment larger than the largest VDE frame (VDE_ETHBUFSIZE) is refused */
#define TSO_FRAME_MAX	(9216 + ETH_HLEN + 4)

/* complete a checksum the stack left to the device (CHECKSUM_PARTIAL) */
static int csum_complete(unsigned char *pkt, size_t n, const struct virtio_net_hdr *h)
{
	size_t start = h->csum_start, off = h->csum_offset;
	uint16_t v;

	if (start > n || off > n - start || n - start - off < 2)
		return -EINVAL;
	v = ~vds_csum_fold(vds_csum_add(0, pkt + start, n - start));
	if (!v)
		v = 0xffff;	/* UDP's "no checksum" must not appear */
	memcpy(pkt + start + off, &v, 2);
	return 0;
}

/* the IPv4 header of a TSO packet: TCP, not a fragment, lengths in bounds */
static int check_ip4(struct vds_txjob *j, const unsigned char *pkt, size_t n, size_t start)
{
	struct iphdr ip;
	size_t ihl;

	if (n < ETH_HLEN + sizeof(ip))
		return -EINVAL;
	memcpy(&ip, pkt + ETH_HLEN, sizeof(ip));
	ihl = ip.ihl * 4;
	if (ip.version != 4 || ihl < sizeof(ip) || ip.protocol != IPPROTO_TCP ||
	    (ntohs(ip.frag_off) & (IP_MF | IP_OFFMASK)) ||
	    ntohs(ip.tot_len) != n - ETH_HLEN || start != ETH_HLEN + ihl)
		return -EINVAL;
	j->ipid = ntohs(ip.id);
	return 0;
}

/* the IPv6 header of a TSO packet: TCP right after it, lengths in bounds */
static int check_ip6(const unsigned char *pkt, size_t n, size_t start)
{
	struct ip6_hdr ip6;

	if (n < ETH_HLEN + sizeof(ip6))
		return -EINVAL;
	memcpy(&ip6, pkt + ETH_HLEN, sizeof(ip6));
	if ((ip6.ip6_vfc >> 4) != 6 || ip6.ip6_nxt != IPPROTO_TCP ||
	    ntohs(ip6.ip6_plen) != n - ETH_HLEN - sizeof(ip6) ||
	    start != ETH_HLEN + sizeof(ip6))
		return -EINVAL;
	return 0;
}

/**
 * vds_txjob_init() - a packet read from the tap, ready to be sent
 * @j:		the job
 * @pkt:	the packet (Ethernet frame), after its virtio-net header
 * @n:		its length
 * @h:		that header
 *
 * Completes a checksum left to the device; for a TSO packet checks every
 * header (Ethernet type, IP version and lengths, TCP header length, the
 * checksum position) against @n, and that each segment is a sane frame.
 *
 * Return: 0, or -EINVAL for a packet that cannot be sent (the caller drops it)
 */
int vds_txjob_init(struct vds_txjob *j, unsigned char *pkt, size_t n,
		   const struct virtio_net_hdr *h)
{
	size_t start = h->csum_start;
	struct ethhdr eth;
	struct tcphdr tcp;
	uint16_t proto;
	int ret;

	memset(j, 0, offsetof(struct vds_txjob, hdr));
	j->pkt = pkt;
	j->rem = n;
	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			return csum_complete(pkt, n, h);
		return 0;
	}
	if (!h->gso_size || !(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) ||
	    h->csum_offset != offsetof(struct tcphdr, check) || n < sizeof(eth))
		return -EINVAL;
	memcpy(&eth, pkt, sizeof(eth));
	proto = ntohs(eth.h_proto);
	switch (h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		ret = proto == ETH_P_IP ? check_ip4(j, pkt, n, start) : -EINVAL;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		ret = proto == ETH_P_IPV6 ? check_ip6(pkt, n, start) : -EINVAL;
		j->v6 = 1;
		break;
	default:
		ret = -EINVAL;
	}
	if (ret < 0 || n < start + sizeof(tcp))
		return -EINVAL;
	memcpy(&tcp, pkt + start, sizeof(tcp));
	j->l4 = start;
	j->hl = start + tcp.doff * 4;
	/* a header shorter than its fixed part, or no payload to segment */
	if (tcp.doff * 4 < sizeof(tcp) || j->hl >= n || j->hl > sizeof(j->hdr) ||
	    h->gso_size > TSO_FRAME_MAX - j->hl)
		return -EINVAL;
	memcpy(j->hdr, pkt, j->hl);
	j->mss = h->gso_size;
	j->rem = n - j->hl;
	j->seq = ntohl(tcp.seq);
	j->gso = 1;
	return 0;
}

/* the next segment's headers, in front of its payload; returns its payload */
static size_t segment(struct vds_txjob *j)
{
	size_t len = j->rem < j->mss ? j->rem : j->mss;
	unsigned char *f = j->pkt, *l3 = f + ETH_HLEN, *l4 = f + j->l4;
	size_t tcplen = j->hl - j->l4 + len;
	uint32_t seq = htonl(j->seq);
	uint16_t v, check = 0;
	uint64_t sum;

	memcpy(f, j->hdr, j->hl);
	if (j->v6) {
		struct ip6_hdr ip6;

		memcpy(&ip6, l3, sizeof(ip6));
		ip6.ip6_plen = htons(tcplen);
		memcpy(l3, &ip6, sizeof(ip6));
		sum = vds_csum_add(0, (void *)&ip6.ip6_src, 32);
	} else {
		struct iphdr ip;
		size_t ihl = j->l4 - ETH_HLEN;

		memcpy(&ip, l3, sizeof(ip));
		ip.tot_len = htons(ihl + tcplen);
		ip.id = htons(j->ipid + j->seg);
		ip.check = 0;
		memcpy(l3, &ip, sizeof(ip));
		/* options (if any) are in the copied header already */
		v = ~vds_csum_fold(vds_csum_add(0, l3, ihl));
		memcpy(l3 + offsetof(struct iphdr, check), &v, 2);
		sum = vds_csum_add(0, (void *)&ip.saddr, 8);
	}
	memcpy(l4 + offsetof(struct tcphdr, seq), &seq, 4);
	if (len < j->rem)
		l4[TCP_FLAGS_OFF] &= ~(TCP_FLAG_FIN | TCP_FLAG_PSH);
	if (j->seg)
		l4[TCP_FLAGS_OFF] &= ~TCP_FLAG_CWR;
	memcpy(l4 + offsetof(struct tcphdr, check), &check, 2);
	sum += htons(IPPROTO_TCP) + htons(tcplen);
	check = ~vds_csum_fold(vds_csum_add(sum, l4, tcplen));
	memcpy(l4 + offsetof(struct tcphdr, check), &check, 2);
	return len;
}

static void count(struct vds_ofcount *c, int ret, size_t n)
{
	if (ret < 0) {
		c->dropped++;
	} else {
		c->frames++;
		c->bytes += n;
	}
}

/**
 * vds_txjob_run() - send what is left of a job
 * @j:		the job
 * @emit:	sends one frame (see vds_emit_fn)
 * @opaque:	its first argument
 * @c:		counts of what was sent and dropped, added to
 *
 * Return: 0 when done, -EAGAIN when @emit refused for now (the job stands
 * at the refused frame and may be run again)
 */
int vds_txjob_run(struct vds_txjob *j, vds_emit_fn emit, void *opaque,
		  struct vds_ofcount *c)
{
	int ret;

	if (!j->gso) {
		if (!j->rem)
			return 0;
		ret = emit(opaque, j->pkt, j->rem);
		if (ret == -EAGAIN)
			return ret;
		count(c, ret, j->rem);
		j->rem = 0;
		return 0;
	}
	while (j->rem) {
		size_t len = segment(j);

		ret = emit(opaque, j->pkt, j->hl + len);
		if (ret == -EAGAIN)
			return ret;
		count(c, ret, j->hl + len);
		/* the next headers go over the tail of this payload: sent */
		j->pkt += len;
		j->rem -= len;
		j->seq += len;
		j->seg++;
	}
	return 0;
}

/**
 * vds_txjob_size() - bytes a parked job needs: its next frame onwards
 * @j:		the job
 *
 * Return: bytes from j->pkt to the end of the packet
 */
size_t vds_txjob_size(const struct vds_txjob *j)
{
	return j->gso ? j->hl + j->rem : j->rem;
}
