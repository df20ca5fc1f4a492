// fuzz-sources: csrc/tso.c
// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuzz_tso.c - libFuzzer target: TSO (csrc/tso.c) on whatever the tap
 * might hand over.  Input: a struct virtio_net_hdr, then the packet, copied
 * to a buffer of exactly its length (ASan sees any access past it).
 *
 * Besides not crashing, every frame TSO emits must lie within the packet
 * buffer, and a segment of a TSO packet must carry a valid TCP checksum.
 * Every third frame is refused once with -EAGAIN; the job then moves to a
 * new exact-size buffer, as the pump parks it, and is resumed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "offload.h"

struct sink {
	const unsigned char *lo, *hi;	/* the buffer the job works in */
	unsigned calls;
	int gso, v6;
	size_t l4;
	uint64_t sum;
};

static int emit(void *opaque, const void *frame, size_t len)
{
	struct sink *s = opaque;
	const unsigned char *f = frame;
	size_t i;

	if (++s->calls % 3 == 0)
		return -EAGAIN;
	if (f < s->lo || len > (size_t)(s->hi - f))
		abort();	/* a frame outside the packet */
	for (i = 0; i < len; i++)
		s->sum += f[i];	/* touch every byte */
	if (s->gso) {
		size_t tcplen = len - s->l4;
		uint64_t sum;

		if (s->v6)
			sum = vds_csum_add(0, f + 14 + 8, 32);
		else
			sum = vds_csum_add(0, f + 14 + 12, 8);
		sum += htons(IPPROTO_TCP) + htons(tcplen);
		if (vds_csum_fold(vds_csum_add(sum, f + s->l4, tcplen)) != 0xffff)
			abort();	/* a segment with a wrong checksum */
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_net_hdr h;
	struct vds_ofcount c = { 0 };
	struct vds_txjob j;
	struct sink s = { 0 };
	unsigned char *pkt;
	size_t n;
	int tries;

	if (size < sizeof(h) || size - sizeof(h) > VDS_TX_MAX)
		return 0;
	memcpy(&h, data, sizeof(h));
	n = size - sizeof(h);
	pkt = malloc(n ? n : 1);
	memcpy(pkt, data + sizeof(h), n);
	if (vds_txjob_init(&j, pkt, n, &h) == 0) {
		s.lo = pkt;
		s.hi = pkt + n;
		s.gso = j.gso;
		s.v6 = j.v6;
		s.l4 = j.l4;
		for (tries = 0; tries < 100000; tries++) {
			unsigned char *moved;
			size_t left;

			if (vds_txjob_run(&j, emit, &s, &c) != -EAGAIN)
				break;
			/* parked: what is left moves to a buffer of its own */
			left = vds_txjob_size(&j);
			moved = malloc(left ? left : 1);
			memcpy(moved, j.pkt, left);
			free(pkt);
			pkt = moved;
			j.pkt = pkt;
			s.lo = pkt;
			s.hi = pkt + left;
		}
	}
	free(pkt);
	return 0;
}
