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
 * A segment the VDE side refuses (EAGAIN) leaves the job where it stands;
 * the pump parks it and resumes it on EPOLLOUT.
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/virtio_net.h>

#include "vds.h"

#define TCP_FIN		0x01
#define TCP_PSH		0x08
#define TCP_CWR		0x80

/**
 * vds_txjob_init() - a packet read from the tap, ready to be sent
 * @j:		the job
 * @pkt, @n:	the packet, after its virtio-net header
 * @h:		that header
 *
 * Completes a checksum left to the device; checks what segmentation needs.
 *
 * Return: 0, or -EINVAL for a packet we cannot send (dropped by the caller)
 */
int vds_txjob_init(struct vds_txjob *j, unsigned char *pkt, size_t n,
		   const struct virtio_net_hdr *h)
{
	size_t start = h->csum_start, off = h->csum_offset;

	memset(j, 0, sizeof(*j));
	j->pkt = pkt;
	j->rem = n;
	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
			uint16_t v;

			if (start + off + 2 > n)
				return -EINVAL;
			v = ~vds_csum_fold(vds_csum_add(0, pkt + start, n - start));
			if (!v)
				v = 0xffff;
			memcpy(pkt + start + off, &v, 2);
		}
		return 0;
	}
	/* TCP over IPv4 (no options needed) or IPv6 (no extension headers) */
	if (n < VDS_ETH_HLEN + 40 || !h->gso_size || !(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return -EINVAL;
	j->v6 = pkt[12] == (ETH_P_IPV6 >> 8) && pkt[13] == (ETH_P_IPV6 & 0xff);
	if (h->gso_type == VIRTIO_NET_HDR_GSO_TCPV4) {
		if (pkt[12] != (ETH_P_IP >> 8) || pkt[13] != (ETH_P_IP & 0xff) ||
		    start != VDS_ETH_HLEN + (size_t)(pkt[VDS_ETH_HLEN] & 0xf) * 4)
			return -EINVAL;
	} else if (h->gso_type == VIRTIO_NET_HDR_GSO_TCPV6) {
		if (!j->v6 || start != VDS_ETH_HLEN + 40)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (start + 20 > n)
		return -EINVAL;
	j->l4 = start;
	j->hl = start + (pkt[start + 12] >> 4) * 4;
	if (j->hl > n || j->hl > sizeof(j->hdr))
		return -EINVAL;
	memcpy(j->hdr, pkt, j->hl);
	j->mss = h->gso_size;
	j->rem = n - j->hl;
	j->gso = 1;
	memcpy(&j->seq, pkt + start + 4, 4);
	j->seq = ntohl(j->seq);
	if (!j->v6) {
		uint16_t id;

		memcpy(&id, pkt + VDS_ETH_HLEN + 4, 2);
		j->ipid = ntohs(id);
	}
	return 0;
}

/* the next segment's headers, in front of its payload */
static size_t segment(struct vds_txjob *j)
{
	size_t len = j->rem < j->mss ? j->rem : j->mss, l3 = VDS_ETH_HLEN;
	unsigned char *f = j->pkt, *ip = f + l3, *tcp = f + j->l4;
	size_t tcplen = j->hl - j->l4 + len;
	uint32_t seq = htonl(j->seq);
	uint16_t v;
	uint64_t sum;

	memcpy(f, j->hdr, j->hl);
	if (j->v6) {
		v = htons(j->hl - l3 - 40 + len);
		memcpy(ip + 4, &v, 2);
		sum = vds_csum_add(0, ip + 8, 32);
	} else {
		size_t ihl = (ip[0] & 0xf) * 4;

		v = htons(j->hl - l3 + len);
		memcpy(ip + 2, &v, 2);
		v = htons(j->ipid + j->seg);
		memcpy(ip + 4, &v, 2);
		memset(ip + 10, 0, 2);
		v = ~vds_csum_fold(vds_csum_add(0, ip, ihl));
		memcpy(ip + 10, &v, 2);
		sum = vds_csum_add(0, ip + 12, 8);
	}
	memcpy(tcp + 4, &seq, 4);
	if (len < j->rem)
		tcp[13] &= ~(TCP_FIN | TCP_PSH);
	if (j->seg)
		tcp[13] &= ~TCP_CWR;
	memset(tcp + 16, 0, 2);
	sum += htons(6) + htons(tcplen);
	v = ~vds_csum_fold(vds_csum_add(sum, tcp, tcplen));
	memcpy(tcp + 16, &v, 2);
	return len;
}

static void count(struct vds_stack *st, int ret, size_t n)
{
	if (ret < 0) {
		st->stats.tx_dropped++;
	} else {
		st->stats.tx_frames++;
		st->stats.tx_bytes += n;
	}
}

/**
 * vds_txjob_run() - send what is left of a job
 * @j:		the job
 * @emit:	sends one frame: 0, -EAGAIN (try later), or another -errno
 * @st:		the stack, for @emit and the counters
 *
 * Return: 0 when done, -EAGAIN when the VDE side is full (the job stands
 * at the refused frame)
 */
int vds_txjob_run(struct vds_txjob *j, int (*emit)(struct vds_stack *, const void *, size_t),
		  struct vds_stack *st)
{
	int ret;

	if (!j->gso) {
		if (!j->rem)
			return 0;
		ret = emit(st, j->pkt, j->rem);
		if (ret == -EAGAIN)
			return ret;
		count(st, ret, j->rem);
		j->rem = 0;
		return 0;
	}
	while (j->rem) {
		size_t len = segment(j);

		ret = emit(st, j->pkt, j->hl + len);
		if (ret == -EAGAIN)
			return ret;
		count(st, ret, j->hl + len);
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
