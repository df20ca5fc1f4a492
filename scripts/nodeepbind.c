// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * nodeepbind.c - an LD_PRELOAD shim for the sanitizer builds
 * (scripts/sanitize.sh), for what ASan and TSan cannot take:
 *
 *  - libvdeplug loads its plugins with dlopen(..., RTLD_DEEPBIND), which
 *    they refuse (a library bound deeply would bypass their interceptors):
 *    this dlopen drops the flag and calls the next one (the sanitizer's
 *    interceptor, then libc's);
 *  - the helper (csrc/helper.c) runs on a clone() stack of its own and
 *    vforks its commands; ASan's vfork interceptor then unpoisons "the
 *    thread's stack" from bounds that are not this stack's and faults.
 *    This vfork is a plain fork system call, which no interceptor sees:
 *    the helper's child only enters the stack and execs, so fork serves.
 *
 * In a sanitized program the shim removes itself from the environment at
 * load, so that what it starts (vde_plug, busybox, the commands), which is
 * not sanitized, keeps its own vfork; ctest, not sanitized, passes it on
 * to the test programs.
 *
 *   cc -shared -fPIC -o nodeepbind.so nodeepbind.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>

__attribute__((constructor)) static void forget(void)
{
	if (dlsym(RTLD_DEFAULT, "__asan_init") || dlsym(RTLD_DEFAULT, "__tsan_init"))
		unsetenv("LD_PRELOAD");
}

void *dlopen(const char *file, int mode)
{
	void *(*next)(const char *, int) =
		(void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");

	return next(file, mode & ~RTLD_DEEPBIND);
}

pid_t vfork(void)
{
	return syscall(SYS_fork);
}
