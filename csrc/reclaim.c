// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * reclaim.c - a switch:// or hub:// endpoint whose owner died is taken
 * back on the next open, a live one never.
 *
 * libvdeplug's switch and hub plugins make a directory with a control
 * socket "ctl" in it (and the data sockets of their vde:// members), and
 * remove it when the connection is closed.  A
 * SIGKILLed owner leaves them, and the next switch:// open of the same path
 * fails with EEXIST (and vde:// joins fail with ECONNREFUSED) until someone
 * removes them by hand.  Before such an open we look: a control socket that
 * refuses connections twice, a moment apart, has nobody listening: the
 * sockets in its directory (ours only) and the directory go.  One that accepts (a live switch, ours or another
 * program's) is left alone, and the open fails as it always did.
 *
 * ptp:// needs nothing here: its plugin already replaces a socket file
 * nobody listens on.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "reclaim.h"
#include "util.h"

#define RECLAIM_RECHECK_NS	20000000	/* 20 ms: a switch between bind and listen */
#define PATH_MAX_RECLAIM	108	/* sun_path */

/* the directory of "switch:///path" or "hub://path[...]", or -EINVAL */
static int endpoint_dir(const char *vnl, char *dir, size_t len)
{
	static const char *schemes[] = { "switch://", "hub://" };
	size_t i, n;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t sl = strlen(schemes[i]);

		if (strncmp(vnl, schemes[i], sl))
			continue;
		vnl += sl;
		n = strcspn(vnl, "[");
		if (n == 0 || n >= len)
			return -EINVAL;
		memcpy(dir, vnl, n);
		dir[n] = 0;
		return 0;
	}
	return -EINVAL;
}

/* 1: nobody listens on the socket at path; 0: somebody does, or unsure */
static int refused(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return 0;
	strcpy(sa.sun_path, path);
	fd = vds_sys_socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return 0;
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno == ECONNREFUSED;
	close(fd);
	return ret;
}

/* the sockets (ours) in dir, then dir itself, which must then be empty */
static int remove_sockets(const char *path)
{
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 1;
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	struct dirent *e;
	struct stat sb;

	if (!d) {
		ret = -errno;
		if (dfd >= 0)
			close(dfd);
		return ret;
	}
	while ((e = readdir(d))) {
		if (fstatat(dfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISSOCK(sb.st_mode) || sb.st_uid != geteuid())
			continue;
		if (unlinkat(dfd, e->d_name, 0) < 0 && errno != ENOENT)
			ret = -errno;
	}
	closedir(d);
	if (rmdir(path) < 0 && errno != ENOENT)
		ret = -errno;
	return ret;
}

/**
 * vds_reclaim_stale() - remove a dead switch's leftovers before opening it
 * @vnl:	the VNL about to be opened
 *
 * Return: 1 if leftovers were removed, 0 if there was nothing to do (not a
 * switch:// or hub:// VNL, no leftovers, or a live endpoint), -errno if they
 * could not be removed
 */
int vds_reclaim_stale(const char *vnl)
{
	struct timespec pause = { 0, RECLAIM_RECHECK_NS };
	char dir[PATH_MAX_RECLAIM], ctl[PATH_MAX_RECLAIM + 8];
	struct stat sb;

	if (endpoint_dir(vnl, dir, sizeof(dir)) < 0)
		return 0;
	strcpy(ctl, dir);
	strcat(ctl, "/ctl");
	if (lstat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != geteuid())
		return 0;
	if (lstat(ctl, &sb) < 0 || !S_ISSOCK(sb.st_mode))
		return 0;
	if (!refused(ctl))
		return 0;
	nanosleep(&pause, NULL);
	if (!refused(ctl))
		return 0;
	return remove_sockets(dir);
}
