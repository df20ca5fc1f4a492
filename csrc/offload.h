/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * offload.h - segmentation on the way out (tso.c), coalescing on the way in
 * (gro.c), and the checksum helpers they share; used by pump.c and stream.c.
 */
#ifndef VDS_OFFLOAD_H
#define VDS_OFFLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct vds_stack;
struct virtio_net_hdr;

/* largest packet the tap hands us with TSO: 64 KiB of IP + Ethernet */
#define VDS_TX_MAX	(65536 + 256)

/**
 * struct vds_txjob - a packet from the tap on its way out as frames (tso.c)
 * @pkt:	where the next frame starts (headers of the next segment)
 * @rem:	payload bytes left (GSO), or bytes of the one frame
 * @hl, @l4:	header length, offset of the TCP header
 * @hdr:	the packet's original headers, copied in front of each segment
 */
struct vds_txjob {
	unsigned char *pkt;
	size_t rem, hl, l4, mss;
	uint32_t seq;
	uint16_t ipid;
	unsigned int seg;
	int gso, v6;
	unsigned char hdr[192];
};

int vds_txjob_init(struct vds_txjob *j, unsigned char *pkt, size_t n,
		   const struct virtio_net_hdr *h);
int vds_txjob_run(struct vds_txjob *j, int (*emit)(struct vds_stack *, const void *, size_t),
		  struct vds_stack *st);
size_t vds_txjob_size(const struct vds_txjob *j);

/* ones' complement sum of memory, as 16-bit words in memory order */
static inline uint64_t vds_csum_add(uint64_t sum, const unsigned char *p, size_t len)
{
	while (len >= 4) {
		uint32_t w;

		__builtin_memcpy(&w, p, 4);
		sum += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;

		__builtin_memcpy(&w, p, 2);
		sum += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint16_t w = 0;

		__builtin_memcpy(&w, p, 1);
		sum += w;
	}
	return sum;
}

static inline uint16_t vds_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* ------------------------------------------------------------- receive --- */

/**
 * struct vds_gro - TCP segments being merged for one stack's interface
 * @buf:	virtio-net header + the packet being built
 * @len:	bytes of packet in @buf (after the header)
 * @bytes:	bytes of the frames merged (for the counters)
 * @hdrlen:	Ethernet + IP + TCP header bytes
 * @mss:	payload of each segment (the last may be shorter)
 * @closed:	the last segment was short or pushed: nothing may follow
 */
struct vds_gro {
	struct vds_stack *st;
	unsigned char *buf;
	size_t len, bytes, hdrlen, mss;
	uint32_t next_seq;
	int nseg, psh, closed;
};

#define VDS_GRO_BUF	(16 + 65536 + VDS_BUF_SIZE)

void vds_gro_push(struct vds_gro *g, struct vds_stack *st,
		  const unsigned char *f, size_t n);
void vds_gro_flush(struct vds_gro *g);
int vds_tap_write(struct vds_stack *st, const struct virtio_net_hdr *hdr,
		  const void *buf, size_t n);

#endif /* VDS_OFFLOAD_H */
