// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cmdline.c - the string of vde_stackcmd, split into argument vectors.
 *
 * The string is split like a shell would split a simple command line, and
 * no further: ';' separates commands, blanks separate words, '...' and "..."
 * quote, a backslash escapes.  No variables, globs or redirections: the
 * commands run directly, not through a shell.  Every command is checked
 * (absolute path, balanced quotes) before the first one runs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/**
 * vds_parse_cmdline() - split a command line into argument vectors
 * @line:	"cmd args; cmd args ..."
 * @cmdsp:	set to one malloc()ed block: each command's argv ends with
 *		NULL, an extra NULL ends the list
 * @absolute:	every command must be an absolute path
 *
 * Return: the number of commands (>= 1), or -EINVAL (nothing to run,
 * unbalanced quote, a command that is not an absolute path), -ENOMEM
 */
int vds_parse_cmdline(const char *line, char ***cmdsp, int absolute)
{
	size_t len = line ? strlen(line) : 0;
	char **av, *out;
	const char *p = line;
	int n = 0, argc = 0, ncmds = 0, inword = 0, first = 0;

	if (!line)
		return -EINVAL;
	av = malloc((len + 2) * sizeof(char *) + len + 1);
	if (!av)
		return -ENOMEM;
	out = (char *)(av + len + 2);
	for (;;) {
		char c = *p;

		if (c == 0 || c == ';' || is_blank(c)) {
			if (inword) {
				*out++ = 0;
				inword = 0;
				argc++;
			}
			if (c == 0 || c == ';') {
				if (argc) {
					if (absolute && av[first][0] != '/')
						goto bad;
					av[n++] = NULL;
					ncmds++;
					argc = 0;
				}
				if (c == 0)
					break;
			}
			p++;
			continue;
		}
		if (!inword) {
			if (!argc)
				first = n;
			av[n++] = out;
			inword = 1;
		}
		if (c == '\'') {
			for (p++; *p && *p != '\''; )
				*out++ = *p++;
			if (!*p)
				goto bad;
			p++;
		} else if (c == '"') {
			for (p++; *p && *p != '"'; ) {
				if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
					p++;
				*out++ = *p++;
			}
			if (!*p)
				goto bad;
			p++;
		} else if (c == '\\' && p[1]) {
			p++;
			*out++ = *p++;
		} else {
			*out++ = *p++;
		}
	}
	if (!ncmds)
		goto bad;
	av[n] = NULL;
	*cmdsp = av;
	return ncmds;
bad:
	free(av);
	return -EINVAL;
}
