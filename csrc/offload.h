/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * offload.h - TCP segmentation (tso.c) and receive coalescing (gro.c),
 * as a NIC and the kernel's GRO would do them, over plain buffers.
 *
 * Neither file knows about stacks, taps or VDE connections: frames leave
 * through a callback the caller gives with an opaque pointer, and the
 * caller keeps the counters: TSO returns what it sent and dropped (struct
 * vds_ofcount), GRO tells its callback how many frames, of how many bytes,
 * each packet carries.  So both can be tested on synthetic frames
 * (tests/c/test_offload.c) and fuzzed (fuzz/).
 *
 * Every header length the packet states is checked against the bytes
 * present before it is used; a packet that does not qualify is refused
 * (TSO) or passed on unchanged for the kernel to judge (GRO).
 */
#ifndef VDS_OFFLOAD_H
#define VDS_OFFLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_net.h>

/* largest packet the tap hands us with TSO: 64 KiB of IP + Ethernet */
#define VDS_TX_MAX	(65536 + 256)

/* largest packet GRO builds (Ethernet header included): fits IP's 16 bits */
#define VDS_GRO_MAX	65000

/**
 * struct vds_ofcount - what TSO did with a packet's frames
 * @frames:	frames (segments) handed on successfully
 * @bytes:	their bytes, as they were on the wire
 * @dropped:	frames refused by the callback (and, counted by the caller,
 *		packets refused as malformed)
 */
struct vds_ofcount {
	uint64_t frames;
	uint64_t bytes;
	uint64_t dropped;
};

/* ------------------------------------------------------------------ TSO --- */

/*
 * Sends one Ethernet frame: 0, -EAGAIN (no room now: the job stops at this
 * frame and may be resumed), or another -errno (the frame is dropped).
 */
typedef int (*vds_emit_fn)(void *opaque, const void *frame, size_t len);

/**
 * struct vds_txjob - a packet from the tap on its way out as frames (tso.c)
 * @pkt:	where the next frame starts (headers of the next segment)
 * @rem:	payload bytes left (GSO), or bytes of the one frame
 * @hl:		Ethernet + IP + TCP header bytes (GSO)
 * @l4:		offset of the TCP header (GSO)
 * @mss:	payload bytes per segment (GSO)
 * @seq:	sequence number of the next segment (GSO)
 * @ipid:	IPv4 identification of the first segment (GSO)
 * @seg:	segments sent so far (GSO)
 * @gso:	1 if the packet is cut into segments
 * @v6:		1 for TCP over IPv6
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
int vds_txjob_run(struct vds_txjob *j, vds_emit_fn emit, void *opaque,
		  struct vds_ofcount *c);
size_t vds_txjob_size(const struct vds_txjob *j);

/* ------------------------------------------------------------------ GRO --- */

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5	/* Linux 6.2's header; older ones lack it */
#endif

/*
 * Writes one packet, with the virtio-net header that describes it, to the
 * interface, and counts it as @frames frames of @bytes bytes in all (as
 * they came from the network) written, or dropped if the write fails.
 * Returns 0 or -errno; -EINVAL for a UDP GSO packet is not counted: the
 * kernel does not take those (before Linux 6.2) and gro.c sends the
 * datagrams one by one instead.
 */
typedef int (*vds_tapwrite_fn)(void *opaque, const struct virtio_net_hdr *h,
			       const void *pkt, size_t len,
			       unsigned int frames, size_t bytes);

/**
 * struct vds_gro - TCP segments or UDP datagrams being merged for one interface
 * @write:	how packets leave (set by the caller)
 * @opaque:	its argument: the destination.  Set before pushing a batch;
 *		flush before changing it.
 * @buf:	VDS_GRO_MAX bytes for the packet being built (set by the caller;
 *		NULL: nothing is merged, every frame goes out as it came)
 *
 * The other fields are gro.c's: @len bytes of packet in @buf, @bytes of
 * the frames merged into it, @nseg of them, @hdrlen bytes of Ethernet + IP
 * + TCP/UDP header, @l4 offset of the TCP/UDP header, @proto which,
 * @mss payload of each segment (the last may be shorter), @next_seq the
 * sequence number that may follow (TCP), @psh the last one was pushed,
 * @closed nothing may follow, @no_udp the kernel refused a UDP GSO packet
 * (UDP is not merged any more).
 */
struct vds_gro {
	vds_tapwrite_fn write;
	void *opaque;
	unsigned char *buf;
	size_t len, bytes, hdrlen, l4, mss;
	uint32_t next_seq;
	int nseg, psh, closed, v6, proto, no_udp;
};

void vds_gro_push(struct vds_gro *g, const unsigned char *f, size_t n);
void vds_gro_flush(struct vds_gro *g);

/* ------------------------------------------------------------ checksums --- */

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

#endif /* VDS_OFFLOAD_H */
