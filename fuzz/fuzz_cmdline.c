// fuzz-sources: csrc/cmdline.c
// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuzz_cmdline.c - libFuzzer target: the command-line parser of
 * vde_stackcmd and of stream mode (csrc/cmdline.c).  Input: one flag byte
 * (bit 0: commands must be absolute paths), then the line, NUL-terminated
 * in a buffer of exactly its length.
 *
 * Besides not crashing: a success returns n >= 1 commands, each a non-empty
 * argv ending with NULL, an extra NULL after the last; every word is a
 * string within the block; with the flag, every command starts with '/';
 * a failure is -EINVAL or -ENOMEM.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char **cmds, *line;
	int absolute, n, i;
	size_t words = 0, k = 0;

	if (size < 1)
		return 0;
	absolute = data[0] & 1;
	line = malloc(size);
	memcpy(line, data + 1, size - 1);
	line[size - 1] = 0;
	n = vds_parse_cmdline(line, &cmds, absolute);
	if (n < 0) {
		if (n != -EINVAL && n != -ENOMEM)
			abort();
		free(line);
		return 0;
	}
	if (n < 1)
		abort();
	for (i = 0; i < n; i++) {
		if (!cmds[k])
			abort();	/* an empty command */
		if (absolute && cmds[k][0] != '/')
			abort();
		for (; cmds[k]; k++) {
			if (strlen(cmds[k]) > size)
				abort();	/* a word longer than the line */
			words++;
		}
		k++;	/* the NULL ending this command */
	}
	if (cmds[k] != NULL || words > size)
		abort();
	free(cmds);
	free(line);
	return 0;
}
