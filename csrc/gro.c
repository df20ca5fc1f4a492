// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * gro.c - receive coalescing: consecutive TCP segments of one flow, taken
 * from the VDE side in one drain, enter the stack as one large packet.
 *
 * The tap carries a virtio-net header, so a single write() can hand the
 * kernel a 64 KiB TCP packet marked for segmentation (what GRO builds from
 * a NIC's frames): the stack's TCP then does its per-packet work once
 * instead of forty times.  The rules are GRO's: same flow, no IP options or
 * fragments, only ACK/PSH flags, contiguous sequence numbers, same ack,
 * window and options, full-sized segments but the last.  Each segment's IP
 * and TCP checksums are verified here before it is merged, so a corrupt
 * frame is never accepted on our word; anything that does not qualify goes
 * to the interface unchanged, and the kernel judges it.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/virtio_net.h>
#include <sys/uio.h>

#include "vds.h"

#define IP4_HLEN	20
#define TCP_HLEN	20
#define TCP_ACK		0x10
#define TCP_PSH		0x08
#define GRO_MAX		65000	/* bytes of one merged packet */

static const struct virtio_net_hdr zero_hdr;

static uint64_t pseudo4(const unsigned char *ip, size_t tcplen)
{
	uint64_t sum = vds_csum_add(0, ip + 12, 8);

	return sum + htons(6) + htons(tcplen);
}

/**
 * vds_tap_write() - one frame to the interface
 * @st:		the stack
 * @hdr:	virtio-net header (NULL: none needed)
 * @buf, @n:	the frame
 *
 * Return: 0 or -errno
 */
int vds_tap_write(struct vds_stack *st, const struct virtio_net_hdr *hdr,
		  const void *buf, size_t n)
{
	struct iovec iov[2] = {
		{ (void *)(hdr ? hdr : &zero_hdr), sizeof(zero_hdr) },
		{ (void *)buf, n },
	};

	return writev(st->tap, iov, 2) == (ssize_t)(n + sizeof(zero_hdr)) ? 0 : -errno;
}

static void gro_write(struct vds_gro *g)
{
	struct vds_stack *st = g->st;
	unsigned char *f = g->buf + sizeof(struct virtio_net_hdr);
	struct virtio_net_hdr *h = (void *)g->buf;
	int ret;

	if (g->nseg == 1) {
		ret = vds_tap_write(st, NULL, f, g->len);
	} else {
		unsigned char *ip = f + VDS_ETH_HLEN, *tcp = ip + IP4_HLEN;
		size_t tot = g->len - VDS_ETH_HLEN;
		uint16_t v;

		v = htons(tot);
		memcpy(ip + 2, &v, 2);
		memset(ip + 10, 0, 2);
		v = ~vds_csum_fold(vds_csum_add(0, ip, IP4_HLEN));
		memcpy(ip + 10, &v, 2);
		if (g->psh)
			tcp[13] |= TCP_PSH;
		/* CHECKSUM_PARTIAL, as GRO leaves it: the segments were verified */
		v = vds_csum_fold(pseudo4(ip, tot - IP4_HLEN));
		memcpy(tcp + 16, &v, 2);
		memset(h, 0, sizeof(*h));
		h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		h->hdr_len = g->hdrlen;
		h->gso_size = g->mss;
		h->csum_start = VDS_ETH_HLEN + IP4_HLEN;
		h->csum_offset = 16;
		ret = writev(st->tap, &(struct iovec){ g->buf, sizeof(*h) + g->len }, 1) ==
		      (ssize_t)(sizeof(*h) + g->len) ? 0 : -errno;
	}
	if (ret < 0) {
		st->stats.rx_dropped += g->nseg;
	} else {
		st->stats.rx_frames += g->nseg;
		st->stats.rx_bytes += g->bytes;
	}
}

/**
 * vds_gro_flush() - hand what was merged to the interface
 * @g:		the pump's coalescing state
 */
void vds_gro_flush(struct vds_gro *g)
{
	if (g->nseg)
		gro_write(g);
	g->nseg = 0;
	g->st = NULL;
}

/*
 * A TCP/IPv4 data segment we may merge: returns its TCP header length and
 * payload length, or 0.  Checks both checksums.
 */
static size_t tcp4_segment(const unsigned char *f, size_t n, size_t *tcphl,
			   uint16_t *totp)
{
	const unsigned char *ip = f + VDS_ETH_HLEN, *tcp = ip + IP4_HLEN;
	uint16_t tot, frag;
	size_t thl, pay;

	if (n < VDS_ETH_HLEN + IP4_HLEN + TCP_HLEN ||
	    f[12] != (ETH_P_IP >> 8) || f[13] != (ETH_P_IP & 0xff) ||
	    ip[0] != 0x45 || ip[9] != 6)
		return 0;
	memcpy(&tot, ip + 2, 2);
	tot = ntohs(tot);
	memcpy(&frag, ip + 6, 2);
	if ((ntohs(frag) & 0x3fff) || tot > n - VDS_ETH_HLEN)
		return 0;
	thl = (tcp[12] >> 4) * 4;
	if (thl < TCP_HLEN || IP4_HLEN + thl >= tot ||
	    (tcp[13] & ~TCP_PSH) != TCP_ACK)
		return 0;
	pay = tot - IP4_HLEN - thl;
	if (vds_csum_fold(vds_csum_add(0, ip, IP4_HLEN)) != 0xffff ||
	    vds_csum_fold(vds_csum_add(pseudo4(ip, tot - IP4_HLEN), tcp, tot - IP4_HLEN)) != 0xffff)
		return 0;
	*tcphl = thl;
	*totp = tot;
	return pay;
}

static uint32_t seq_of(const unsigned char *tcp)
{
	uint32_t v;

	memcpy(&v, tcp + 4, 4);
	return ntohl(v);
}

/* same flow, next in sequence, same everything GRO wants the same */
static int gro_follows(struct vds_gro *g, const unsigned char *f, size_t thl,
		       size_t pay)
{
	const unsigned char *m = g->buf + sizeof(struct virtio_net_hdr);
	const unsigned char *ip = f + VDS_ETH_HLEN, *tcp = ip + IP4_HLEN;
	const unsigned char *mip = m + VDS_ETH_HLEN, *mtcp = mip + IP4_HLEN;

	return g->hdrlen == VDS_ETH_HLEN + IP4_HLEN + thl &&
	       !g->closed && pay <= g->mss &&
	       g->len + pay <= GRO_MAX &&
	       seq_of(tcp) == g->next_seq &&
	       !memcmp(f, m, VDS_ETH_HLEN) &&
	       ip[1] == mip[1] && ip[6] == mip[6] && ip[8] == mip[8] &&
	       !memcmp(ip + 12, mip + 12, 8) &&
	       !memcmp(tcp, mtcp, 4) &&			/* ports */
	       !memcmp(tcp + 8, mtcp + 8, 5) &&		/* ack, data offset */
	       !((tcp[13] ^ mtcp[13]) & ~TCP_PSH) &&	/* flags */
	       !memcmp(tcp + 14, mtcp + 14, 2) &&	/* window */
	       !memcmp(tcp + TCP_HLEN, mtcp + TCP_HLEN, thl - TCP_HLEN);
}

/**
 * vds_gro_push() - one frame from the VDE side towards a stack's interface
 * @g:		the pump's coalescing state
 * @st:		the stack
 * @f, @n:	the frame (already checked to be Ethernet-sized)
 *
 * It is merged with what came before, or that is flushed and the frame
 * starts a new packet, or (not TCP data) goes out at once.
 */
void vds_gro_push(struct vds_gro *g, struct vds_stack *st,
		  const unsigned char *f, size_t n)
{
	unsigned char *m = g->buf + sizeof(struct virtio_net_hdr);
	size_t thl = 0, pay;
	uint16_t tot = 0;

	pay = g->buf ? tcp4_segment(f, n, &thl, &tot) : 0;
	if (pay && g->nseg && g->st == st && gro_follows(g, f, thl, pay)) {
		memcpy(m + g->len, f + VDS_ETH_HLEN + IP4_HLEN + thl, pay);
		g->len += pay;
		g->bytes += n;
		g->nseg++;
		g->next_seq += pay;
		if (pay < g->mss || (f[VDS_ETH_HLEN + IP4_HLEN + 13] & TCP_PSH)) {
			g->psh = !!(f[VDS_ETH_HLEN + IP4_HLEN + 13] & TCP_PSH);
			g->closed = 1;
		}
		return;
	}
	vds_gro_flush(g);
	if (!pay) {
		if (vds_tap_write(st, NULL, f, n) < 0) {
			st->stats.rx_dropped++;
		} else {
			st->stats.rx_frames++;
			st->stats.rx_bytes += n;
		}
		return;
	}
	/* the frame up to the end of its IP packet: Ethernet padding goes */
	g->st = st;
	g->len = VDS_ETH_HLEN + tot;
	memcpy(m, f, g->len);
	g->bytes = n;
	g->nseg = 1;
	g->hdrlen = VDS_ETH_HLEN + IP4_HLEN + thl;
	g->mss = pay;
	g->next_seq = seq_of(f + VDS_ETH_HLEN + IP4_HLEN) + pay;
	g->psh = 0;
	g->closed = !!(f[VDS_ETH_HLEN + IP4_HLEN + 13] & TCP_PSH);
}
