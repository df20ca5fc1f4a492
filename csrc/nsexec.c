// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * nsexec.c - programs in a stack that are the caller's own children.
 *
 * vdestack_spawn() forks a child of the caller, the forwarder, which joins
 * the stack's user, network and PID namespaces, keeps the four network
 * capabilities exactly as a vde_stackcmd() command gets them, and forks the
 * program into the stack's PID namespace.  The forwarder stays in front of
 * the program as a minimal init (as tini does in a container): it passes on
 * every signal sent to it, reaps what is reparented to it, and ends as the
 * program ended, with the same exit status or by the same signal.  So the
 * caller's waitpid(), kill() and SIGCHLD see the program as if it were the
 * child itself, and what the program forks never becomes the caller's.
 *
 * Why a forwarder at all: a process cannot move itself into a PID
 * namespace, only its children; and the child the caller gets back must be
 * its own (not the helper's), so the forking happens on the caller's side.
 *
 * The forwarder is a fork of a host that may run many threads: from fork
 * to exit (or to the program's execve) only async-signal-safe calls.  The
 * Python binding runs the same code (vds_nsexec_enter) from the preexec_fn
 * of a subprocess.Popen child, so every Popen keyword keeps working.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/nsfs.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "util.h"
#include "nsexec.h"
#include "nsjoin.h"
#include "resolv.h"

extern char **environ;

/*
 * The children below make system calls only, through syscall(2): no libc
 * wrapper that could take a lock another host thread held at fork time, and
 * nothing a sanitizer intercepts (TSan's interceptors lock its own state,
 * which a raw fork copies as the other threads left it).
 */
struct ksigaction {		/* the kernel's struct sigaction (x86-64, arm64...) */
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

#define KSIGSET	8		/* bytes of the kernel's signal set */

static int sys_sigaction(int sig, const struct ksigaction *ka, struct ksigaction *old)
{
	return syscall(SYS_rt_sigaction, sig, ka, old, KSIGSET);
}

static int sys_sigmask(int how, const void *set, void *old)
{
	return syscall(SYS_rt_sigprocmask, how, set, old, KSIGSET);
}

static void __attribute__((noreturn)) sys_exit(int status)
{
	for (;;)
		syscall(SYS_exit_group, status);
}

static int sys_prctl(int op, unsigned long a, unsigned long b)
{
	return syscall(SYS_prctl, op, a, b, 0, 0);
}

/**
 * vds_nsexec_fds() - new fds of a stack's user, network and PID namespaces
 * @stack:	the stack
 * @fds:	filled as vds_nsfds() does (VDS_NS_USER, VDS_NS_NET,
 *		VDS_NS_PID), each close-on-exec and owned by the caller
 *
 * For the Python binding, which cannot include the internal headers.
 *
 * Return: 0, or -errno (-EINVAL/-EBADF for a NULL/deleted stack)
 */
int vds_nsexec_fds(struct vdestack *stack, int fds[VDS_NS_COUNT])
{
	return vds_nsfds(stack, fds);
}

/* the network namespace alone: from a socket made in the stack */
static int netns_fd(struct vdestack *stack)
{
	int s, fd, ret;

	s = vde_msocket(stack, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	fd = ioctl(s, SIOCGSKNS);
	ret = fd < 0 ? -errno : fd;
	close(s);
	return ret;
}

/*
 * fork(2) as the kernel does it, without libc's atfork handlers (the host's,
 * which a forked child of a threaded host must not run) or a sanitizer's
 * interceptor (TSan's starts a thread in the child, and setns(CLONE_NEWUSER)
 * refuses a process with two).  Only for children that make nothing but
 * system calls until execve(), as posix_spawn's do.
 */
static pid_t raw_fork(void)
{
	return syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
}

/* user namespace first: it gives the rights to enter the other two */
static int join(const int fds[VDS_NS_COUNT])
{
	if (syscall(SYS_setns, fds[VDS_NS_USER], CLONE_NEWUSER) < 0 ||
	    syscall(SYS_setns, fds[VDS_NS_NET], CLONE_NEWNET) < 0)
		return -errno;
	/* only the children move: the forwarder stays the caller's child */
	if (fds[VDS_NS_PID] >= 0 &&
	    syscall(SYS_setns, fds[VDS_NS_PID], CLONE_NEWPID) < 0)
		return -errno;
	return 0;
}

/* end as the program ended: its exit status, or killed by its signal */
static void __attribute__((noreturn)) finish(int status)
{
	struct ksigaction dfl = { .handler = SIG_DFL };
	struct rlimit none = { 0, 0 };
	uint64_t one;
	int sig;

	if (WIFEXITED(status))
		sys_exit(WEXITSTATUS(status));
	if (!WIFSIGNALED(status))
		sys_exit(VDESTACK_STATUS_NOEXEC);
	sig = WTERMSIG(status);
	/* the program may have dumped core; the forwarder never does */
	sys_prctl(PR_SET_DUMPABLE, 0, 0);
	syscall(SYS_prlimit64, 0, RLIMIT_CORE, &none, NULL);
	sys_sigaction(sig, &dfl, NULL);
	one = 1ULL << (sig - 1);
	syscall(SYS_kill, syscall(SYS_getpid), sig);
	sys_sigmask(SIG_UNBLOCK, &one, NULL);
	/* a signal whose default is not to terminate: say it as a shell does */
	sys_exit(VDESTACK_STATUS_SIGNAL + sig);
}

/*
 * The forwarder's life: every signal is blocked and taken with
 * sigwaitinfo(), so no handler of the host ever runs here.  Signals the
 * kernel generated (SI_KERNEL: a terminal's ^C, ^Z, hang-up) went to the
 * whole process group, the program included, and are not sent twice.
 */
static void __attribute__((noreturn)) forward(pid_t prog)
{
	uint64_t all = ~0ULL;
	siginfo_t si;
	int sig, status;
	long pid;

	for (;;) {
		sig = syscall(SYS_rt_sigtimedwait, &all, &si, NULL, KSIGSET);
		if (sig < 0)
			continue;
		if (sig == SIGCHLD) {
			/* orphans come here too when there is no PID namespace */
			while ((pid = syscall(SYS_wait4, -1, &status, WNOHANG, NULL)) > 0)
				if (pid == prog)
					finish(status);
			if (pid < 0 && errno == ECHILD)
				finish(VDESTACK_STATUS_NOEXEC << 8);
			continue;
		}
		if (si.si_code == SI_KERNEL)
			continue;
		syscall(SYS_kill, prog, sig);
	}
}

/**
 * vds_nsexec_child() - in a fresh fork of the caller: start the program
 * @fds:	vds_nsfds() of the stack
 * @mask:	signal mask the program starts with
 * @rawfork:	fork the program with raw_fork() (it only makes system calls
 *		until execve); 0: with fork(), for a program process that runs
 *		more code of the host (Python's, from a preexec_fn)
 * @resolv:	vds_resolv_private() text for /etc/resolv.conf, or NULL
 *
 * To be called in a single-threaded child with every signal blocked; only
 * async-signal-safe calls.  Joins the namespaces, limits the capabilities
 * and forks: the new process (the program to be, in the stack's PID
 * namespace) returns 0 and goes on to execve(); this one becomes the
 * forwarder, closes every fd it has (the caller's pipes and sockets must
 * not be held open by it) and never returns.
 *
 * Return: 0 in the program's process; -errno if nothing could be started
 */
int vds_nsexec_child(const int fds[VDS_NS_COUNT], const sigset_t *mask, int rawfork,
		     const char *resolv)
{
	struct ksigaction dfl = { .handler = SIG_DFL }, chld;
	pid_t pid, group = syscall(SYS_getpgid, 0);
	int self, sync[2], ret = join(fds);
	/* a group leader (setsid, process_group=0) keeps its group */
	int leader = group == syscall(SYS_getpid);
	char c;

	/* as the helper does for its commands (h_userns, h_child), for one */
	if (ret == 0 && resolv)
		vds_resolv_mount(resolv, strlen(resolv));
	if (ret == 0)
		ret = vds_caps_bound(63);
	if (ret == 0)
		ret = vds_caps_net();
	if (ret < 0)
		return ret;
	/* to tell, in the program, whether the forwarder died before it */
	self = syscall(SYS_pidfd_open, syscall(SYS_getpid), 0);
	if (self < 0)
		return -errno;
	if (syscall(SYS_pipe2, sync, O_CLOEXEC) < 0) {
		ret = -errno;
		syscall(SYS_close, self);
		return ret;
	}
	/*
	 * Forwarder and program never share a process group: a signal sent
	 * to a group then reaches the program once, directly (the caller's
	 * group, a terminal's ^C) or passed on (the forwarder's group).  The
	 * program stays in the caller's group unless the forwarder leads it.
	 */
	if (!leader)
		syscall(SYS_setpgid, 0, 0);
	/* an ignored SIGCHLD would reap the program before we see its status */
	sys_sigaction(SIGCHLD, &dfl, &chld);
	pid = rawfork ? raw_fork() : fork();
	if (pid < 0) {
		ret = -errno;
		sys_sigaction(SIGCHLD, &chld, NULL);
		syscall(SYS_close, self);
		syscall(SYS_close, sync[0]);
		syscall(SYS_close, sync[1]);
		return ret;
	}
	if (pid == 0) {
		struct pollfd gone = { .fd = self, .events = POLLIN };
		struct timespec now = { 0, 0 };

		/* until the forwarder has put us in our process group */
		syscall(SYS_close, sync[1]);
		while (syscall(SYS_read, sync[0], &c, 1) < 0 && errno == EINTR)
			;
		syscall(SYS_close, sync[0]);
		if (leader)
			syscall(SYS_setpgid, 0, 0);
		/*
		 * SIGKILL is the one signal the forwarder cannot pass on:
		 * its death ends the program (Popen.kill() works).
		 */
		if (sys_prctl(PR_SET_PDEATHSIG, SIGKILL, 0) < 0 ||
		    syscall(SYS_ppoll, &gone, 1, &now, NULL, 0) != 0)
			sys_exit(VDESTACK_STATUS_SIGNAL + SIGKILL);
		syscall(SYS_close, self);
		sys_sigaction(SIGCHLD, &chld, NULL);
		sys_sigmask(SIG_SETMASK, mask, NULL);
		return 0;
	}
	/* the program is in a PID namespace that cannot see the group */
	if (!leader)
		syscall(SYS_setpgid, pid, group);
	syscall(SYS_close_range, 0, ~0U, 0);	/* sync[1] too: go on */
	sys_prctl(PR_SET_CHILD_SUBREAPER, 1, 0);
	forward(pid);
}

/**
 * vds_nsexec_enter() - vds_nsexec_child() for a subprocess.Popen preexec_fn
 * @fds:	vds_nsfds() of the stack
 * @resolv:	vds_resolv_private() text, or NULL
 *
 * Blocks every signal for the forwarder and gives the program the mask it
 * had on entry.
 *
 * Return: 0 in the program's process; -errno if nothing could be started
 */
int vds_nsexec_enter(const int fds[VDS_NS_COUNT], const char *resolv)
{
	sigset_t all, old;
	int ret;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	ret = vds_nsexec_child(fds, &old, 0, resolv);
	if (ret < 0)
		sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}

static void close_fds(int fds[VDS_NS_COUNT])
{
	int i;

	for (i = 0; i < VDS_NS_COUNT; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* the caller's side of vdestack_spawn(); returns pid or -errno */
static pid_t spawn(struct vdestack *stack, char *const argv[], char *const envp[])
{
	sigset_t all, old;
	char *resolv = NULL;
	int fds[VDS_NS_COUNT], rep[2], err = 0, ret;
	ssize_t n;
	pid_t pid;

	if (!argv || !argv[0] || argv[0][0] != '/')
		return -EINVAL;
	ret = vds_resolv_private(stack, &resolv);
	if (ret < 0)
		return ret;
	ret = vds_nsfds(stack, fds);
	if (ret < 0) {
		free(resolv);
		return ret;
	}
	if (pipe2(rep, O_CLOEXEC) < 0) {
		ret = -errno;
		close_fds(fds);
		free(resolv);
		return ret;
	}
	/* no handler of the host may run in the child */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = raw_fork();
	if (pid == 0) {
		ret = vds_nsexec_child(fds, &old, 1, resolv);
		if (ret == 0) {
			syscall(SYS_execve, argv[0], argv, envp ? envp : environ);
			ret = -errno;
		}
		err = -ret;
		while (syscall(SYS_write, rep[1], &err, sizeof(err)) < 0 && errno == EINTR)
			;
		sys_exit(VDESTACK_STATUS_NOEXEC);
	}
	ret = pid < 0 ? -errno : 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	free(resolv);
	close(rep[1]);
	close_fds(fds);
	if (ret == 0) {
		/* EOF: the program's execve() closed the last write end */
		do
			n = read(rep[0], &err, sizeof(err));
		while (n < 0 && errno == EINTR);
		if (n == sizeof(err)) {
			ret = -(err ? err : EIO);
			/* the forwarder ends with the program; nothing stays */
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
	}
	close(rep[0]);
	return ret < 0 ? ret : pid;
}

/**
 * vdestack_spawn() - start a program in a stack, as the caller's child
 * @stack:	the stack
 * @argv:	NULL-terminated; argv[0] the program's full path
 * @envp:	its environment, NULL for the caller's current one
 *
 * Return: the pid of a child of the caller that stands for the program
 * (waitpid(), kill(), SIGCHLD work as for the program itself), or -1 with
 * errno: EINVAL (NULL stack, argv[0] not a full path), EBADF (deleted
 * stack), the errno of execve() (ENOENT, EACCES...) when the program could
 * not be executed (then no child is left), or of the namespace calls.
 */
VDS_EXPORT pid_t vdestack_spawn(struct vdestack *stack, char *const argv[],
				char *const envp[])
{
	pid_t ret = spawn(stack, argv, envp);

	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

/**
 * vdestack_netns() - a file descriptor of a stack's network namespace
 * @stack:	the stack
 *
 * Return: a new close-on-exec fd (for setns(2), nsenter --net=, pyroute2),
 * or -1 with errno (EINVAL, EBADF, or the errno of the ioctl)
 */
VDS_EXPORT int vdestack_netns(struct vdestack *stack)
{
	int ret = netns_fd(stack);

	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}
