// fuzz-sources: csrc/gro.c
// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuzz_gro.c - libFuzzer target: GRO (csrc/gro.c) on a stream of frames
 * from the VDE side.  Input: one flag byte, then frames, each a 2-byte
 * length (big-endian) and its bytes; each frame is pushed from a buffer of
 * exactly its length (ASan sees any access past it).  With flag bit 0, the
 * IPv4 and TCP checksums of each frame are made right first (as far as its
 * headers allow), so that mutations reach the merging rules instead of
 * stopping at checksum verification.
 *
 * Besides not crashing: every packet written must fit VDS_GRO_MAX, a
 * merged one must have a consistent virtio-net header and lengths and
 * stand for two frames or more, and no packet is longer than the frames
 * it stands for.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "offload.h"

static unsigned char gro_buf[VDS_GRO_MAX];
static int no_uso;	/* refuse UDP GSO packets, as Linux before 6.2 */

static int tapwrite(void *opaque, const struct virtio_net_hdr *h, const void *pkt, size_t len,
		    unsigned int frames, size_t bytes)
{
	const unsigned char *p = pkt;
	uint64_t *sum = opaque;
	size_t i;

	for (i = 0; i < len; i++)
		*sum += p[i];	/* touch every byte */
	if (h->gso_type == VIRTIO_NET_HDR_GSO_UDP_L4) {
		unsigned ipl = p[12] == 0x86 ? (unsigned)(p[18] << 8 | p[19]) + 54 :
			(unsigned)(p[16] << 8 | p[17]) + 14;

		if (len > VDS_GRO_MAX || h->hdr_len >= len || h->csum_start + 8 != h->hdr_len ||
		    h->csum_offset != 6 || !h->gso_size || ipl != len || frames < 2 || frames > 64 ||
		    (unsigned)(p[h->csum_start + 4] << 8 | p[h->csum_start + 5]) != len - h->csum_start)
			abort();
		if (no_uso)
			return -22;	/* EINVAL: gro.c sends the datagrams one by one */
	} else if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		unsigned ipl = h->gso_type == VIRTIO_NET_HDR_GSO_TCPV4 ?
			(unsigned)(p[16] << 8 | p[17]) + 14 :
			(unsigned)(p[18] << 8 | p[19]) + 54;

		if (len > VDS_GRO_MAX || h->hdr_len >= len || h->csum_start + 20 > h->hdr_len ||
		    h->csum_offset != 16 || !h->gso_size || ipl != len || frames < 2)
			abort();
	}
	/* a packet stands for its frames, which were at least as long */
	if (!frames || bytes < len)
		abort();
	return 0;
}

static uint16_t get16(const unsigned char *p)
{
	return p[0] << 8 | p[1];
}

static void put_csum(unsigned char *at, uint64_t sum)
{
	uint16_t v = ~vds_csum_fold(sum);

	memcpy(at, &v, 2);
}

/* make the IPv4 header and TCP or UDP checksums right where the headers allow */
static void fix(unsigned char *f, size_t n)
{
	size_t l4, end;
	uint64_t sum;
	int proto = IPPROTO_TCP, off = 16;

	if (n < 34)
		return;
	if (get16(f + 12) == 0x86dd) {
		if (n < 54)
			return;
		l4 = 54;
		end = l4 + get16(f + 18);
		sum = vds_csum_add(0, f + 22, 32);
		if (f[20] == IPPROTO_UDP)
			proto = IPPROTO_UDP, off = 6;
	} else if (get16(f + 12) == 0x0800) {
		l4 = 14 + (f[14] & 15) * 4;
		if (l4 < 34 || l4 > n)
			return;
		memset(f + 24, 0, 2);
		put_csum(f + 24, vds_csum_add(0, f + 14, l4 - 14));
		end = 14 + get16(f + 16);
		sum = vds_csum_add(0, f + 26, 8);
		if (f[23] == IPPROTO_UDP)
			proto = IPPROTO_UDP, off = 6;
	} else {
		return;
	}
	if (end > n || end < l4 + off + 2)
		return;
	if (proto == IPPROTO_UDP) {	/* its length field too */
		uint16_t v = htons(end - l4);

		memcpy(f + l4 + 4, &v, 2);
	}
	memset(f + l4 + off, 0, 2);
	sum += htons(proto) + htons(end - l4);
	put_csum(f + l4 + off, vds_csum_add(sum, f + l4, end - l4));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vds_gro g = { 0 };
	uint64_t sum = 0;
	int fixup;

	if (size < 1)
		return 0;
	fixup = data[0] & 1;
	no_uso = !!(data[0] & 4);
	g.write = tapwrite;
	g.opaque = &sum;
	g.buf = data[0] & 2 ? NULL : gro_buf;
	data++, size--;
	while (size >= 2) {
		size_t n = get16(data);
		unsigned char *f;

		data += 2, size -= 2;
		if (n > size)
			n = size;
		f = malloc(n ? n : 1);
		memcpy(f, data, n);
		if (fixup)
			fix(f, n);
		vds_gro_push(&g, f, n);
		free(f);
		data += n, size -= n;
	}
	vds_gro_flush(&g);
	if (g.nseg)
		abort();	/* a flush leaves nothing behind */
	return 0;
}
