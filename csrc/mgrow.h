/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mgrow.h - arrays that grow in mmap()ed pages, for code that must not use
 * malloc: the helper (helper.c) and the local:// networks it keeps
 * (local.c).  Static inline, so each user builds it with its own flags.
 */
#ifndef VDS_MGROW_H
#define VDS_MGROW_H

#include <stddef.h>
#include <sys/mman.h>

/* n bytes rounded up to whole pages */
static inline size_t vds_mpage(size_t n)
{
	return (n + 4095) & ~(size_t)4095;
}

/*
 * Grow an mmap()ed array of oldsz bytes (NULL, 0: a new one) to newsz; the
 * old contents move along.  Return: the array, or NULL (old unchanged).
 */
static inline void *vds_mgrow(void *old, size_t oldsz, size_t newsz)
{
	void *p;

	if (!old)
		p = mmap(NULL, vds_mpage(newsz), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else
		p = mremap(old, vds_mpage(oldsz), vds_mpage(newsz), MREMAP_MAYMOVE);
	return p == MAP_FAILED ? NULL : p;
}

#endif /* VDS_MGROW_H */
