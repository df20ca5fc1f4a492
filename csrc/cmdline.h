/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cmdline.h - the command-line parser of vde_stackcmd (cmdline.c), also
 * used for stream mode's "=cmd args" (stream.c).
 */
#ifndef VDS_CMDLINE_H
#define VDS_CMDLINE_H

int vds_parse_cmdline(const char *line, char ***cmdsp, int absolute);

#endif /* VDS_CMDLINE_H */
