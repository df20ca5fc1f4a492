// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * nsjoin.c - what a program gets when it joins a stack: only the four
 * network capabilities, and the stack's DNS servers in /etc/resolv.conf.
 * vde_stackcmd()'s commands (helper.c, in the child of a vfork of the
 * helper) and vdestack_spawn()'s programs (nsexec.c, in a fork of a host
 * that may run many threads) get it from here, so they cannot drift apart.
 *
 * System calls only, through syscall(2): no libc wrapper that could take a
 * lock another thread held at fork time, no allocation, nothing a
 * sanitizer intercepts.  Built without ASan, like helper.c (CMakeLists.txt).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <linux/securebits.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "nsjoin.h"

static long sys_prctl(int op, unsigned long a, unsigned long b)
{
	return syscall(SYS_prctl, op, a, b, 0, 0);
}

/**
 * vds_caps_bound() - what no program in a stack may ever get
 * @lastcap:	highest capability number the kernel knows (63: try all)
 *
 * Every capability but the four network ones leaves the bounding set, and
 * securebits stop uid 0 from gaining any at execve; the ambient set is
 * emptied.  The permitted set of the caller stays as it is (the helper
 * calls this once for all its commands and never execs).
 *
 * Return: 0, or -errno
 */
int vds_caps_bound(int lastcap)
{
	int c;

	if (sys_prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
		      SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED, 0) < 0)
		return -errno;
	for (c = 0; c <= lastcap; c++)
		if (!(VDS_NET_CAPS & (1ULL << c)) &&
		    sys_prctl(PR_CAPBSET_DROP, c, 0) < 0 && errno != EINVAL)
			return -errno;
	sys_prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0);
	return 0;
}

/**
 * vds_caps_net() - keep exactly the four network capabilities across execve
 *
 * They become the effective, permitted and inheritable set, and ambient, so
 * that the program has them as any uid.  After vds_caps_bound().
 *
 * Return: 0, or -errno
 */
int vds_caps_net(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0,
	};
	struct __user_cap_data_struct d[2];
	int c;

	memset(d, 0, sizeof(d));
	d[0].effective = d[0].permitted = d[0].inheritable = (uint32_t)VDS_NET_CAPS;
	d[1].effective = d[1].permitted = d[1].inheritable = VDS_NET_CAPS >> 32;
	if (syscall(SYS_capset, &hdr, d) < 0)
		return -errno;
	for (c = 0; c < 64; c++)
		if ((VDS_NET_CAPS & (1ULL << c)) &&
		    sys_prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c) < 0)
			return -errno;
	return 0;
}

/**
 * vds_resolv_mount() - the stack's resolv.conf for this process
 * @text:	the file's contents
 * @len:	their length
 *
 * As `ip netns exec` gives one: a private mount namespace (every mount made
 * private first, so nothing reaches the host's), a small tmpfs mounted for
 * a moment on /tmp to hold the file, the file bind-mounted read-only over
 * /etc/resolv.conf, the tmpfs detached again.  Nothing touches the disk;
 * the file goes with the process's mount namespace.  (A memfd cannot be
 * bind-mounted: it lives in no mount namespace, EINVAL.)  Needs the user
 * namespace's capabilities: before vds_caps_net().  Best effort: a system
 * without /etc/resolv.conf or /tmp runs the program with the host's file.
 *
 * Return: nothing
 */
void vds_resolv_mount(const char *text, size_t len)
{
	static const char file[] = "/tmp/resolv.conf";
	long w;
	int fd;

	if (syscall(SYS_unshare, CLONE_NEWNS) < 0 ||
	    syscall(SYS_mount, NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    syscall(SYS_mount, "vdestack", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		    "size=64k,mode=0755") < 0)
		return;
	fd = syscall(SYS_openat, AT_FDCWD, file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd >= 0) {
		while (len > 0 && (w = syscall(SYS_write, fd, text, len)) > 0) {
			text += w;
			len -= w;
		}
		syscall(SYS_close, fd);
		if (syscall(SYS_mount, file, "/etc/resolv.conf", NULL, MS_BIND, NULL) == 0)
			syscall(SYS_mount, NULL, "/etc/resolv.conf", NULL,
				MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
	}
	syscall(SYS_umount2, "/tmp", MNT_DETACH);
}
