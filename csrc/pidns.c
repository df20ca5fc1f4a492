// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pidns.c - a PID namespace per stack, so that nothing started in a stack
 * outlives it.  Used by the helper (helper.c).
 *
 * The helper is the init of a PID namespace of its own (ctx.c clones it
 * with CLONE_NEWUSER | CLONE_NEWPID).  On a stack's first command it makes
 * the stack's PID namespace below its own, with a small init that only
 * reaps orphans.  Commands are vforked by the helper after
 * setns(CLONE_NEWPID) into the stack's namespace, so they land in it while
 * staying the helper's children (their exit statuses come to the helper);
 * whatever they fork or daemonize is orphaned to the stack's init.
 * Deleting the stack kills that init, and the kernel then kills every
 * process of its namespace.
 *
 * The init lives only while something runs in its namespace: once the
 * namespace is empty (kill(-1, 0) from its init fails with ESRCH) and stays
 * so for a moment (LINGER_FIRST_MS for a stack's first init, LINGER_MS for
 * later ones, which serve stacks that run commands back to back), it
 * exits; the helper reaps it and the next command makes a new one (a thousand stacks that each ran one command keep no thousand
 * processes).  The commands are the helper's children, not the init's: the
 * helper pokes the init (vds_pidns_poke(), SIGUSR1) when it reaped one; a
 * one-second tick catches what nobody pokes about (a vdestack_spawn()
 * program reaped by its caller).  Orphans (daemons) are the init's
 * children and keep the namespace non-empty: they still die with the stack.
 *
 * The init's decision to exit and the helper's fork into the namespace
 * race: a process forked into the namespace after the init saw it empty
 * would be killed by the init's exit.  A shared page (struct vds_pidns_ctl)
 * settles it, Dekker-style with sequentially consistent atomics: the helper
 * sets ->busy, then reads ->closing; the init sets ->closing, then reads
 * ->busy and ->hold and counts the processes.  Either the helper sees
 * ->closing (and makes a new namespace: vds_pidns_claim() says -ESRCH) or
 * the init sees ->busy, or the helper's fork (done before it clears ->busy)
 * is in the namespace when the init counts.
 *
 * vds_nsfds() hands the namespace out to a caller that forks into it
 * later; the helper cannot know when.  So handing it out sets ->hold to
 * HOLD_MS from now, during which the init does not exit even when empty.
 * That window (nsfds reply, setns, fork: microseconds to milliseconds)
 * is far shorter than HOLD_MS; once the program runs it keeps the
 * namespace non-empty itself.  Chosen over a long linger for everyone:
 * only stacks that had something spawned pay for an init for five seconds.  The helper dies with its host (pidfd), and
 * when the init of a namespace dies, the kernel kills every process of it
 * and of the namespaces below: a SIGKILLed host takes all of it along.
 *
 * This runs in the helper, a process cloned from a possibly threaded host:
 * system calls only, as in helper.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "pidns.h"

/*
 * An empty namespace's init waits this long for the next command, if its
 * stack had an init before (commands come more than once there: the next
 * one may follow at once); the first init of a stack waits only 1 ms (most
 * stacks run one command, to be configured: no init stays behind them).
 */
#define LINGER_MS	100
#define LINGER_FIRST_MS	1
/* after vds_nsfds() handed the namespace out */
#define HOLD_MS		5000

/* shared by the helper and one init (MAP_SHARED, one page) */
struct vds_pidns_ctl {
	int busy;		/* helper: forking into it / handing it out */
	int closing;		/* init: about to exit if empty */
	int linger;		/* ms, LINGER_MS or LINGER_FIRST_MS */
	long long hold;		/* CLOCK_MONOTONIC ms before which it stays */
};

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* nothing but the init itself in its namespace (zombies count as some) */
static int ns_empty(void)
{
	return kill(-1, 0) < 0 && errno == ESRCH;
}

/* the empty namespace's init may go: nobody forks into it, none holds it */
static int may_exit(struct vds_pidns_ctl *c)
{
	__atomic_store_n(&c->closing, 1, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&c->busy, __ATOMIC_SEQ_CST) &&
	    now_ms() >= __atomic_load_n(&c->hold, __ATOMIC_SEQ_CST) &&
	    ns_empty())
		return 1;
	__atomic_store_n(&c->closing, 0, __ATOMIC_SEQ_CST);
	return 0;
}

/*
 * The init: reap orphans; exit once its namespace stayed empty for
 * LINGER_MS (and is not held); never returns.  Signals from inside its
 * namespace cannot reach it (it has no handler), SIGKILL from outside
 * does, and it dies with the helper, its parent.
 */
static void init_main(int helper_pidfd, struct vds_pidns_ctl *c)
{
	struct pollfd pfd = { .fd = helper_pidfd, .events = POLLIN };
	struct timespec tick = { 1, 0 }, wait;
	sigset_t all, set;
	long long left;

	/* (and checks that the helper did not die already) */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || poll(&pfd, 1, 0) != 0)
		_exit(0);
	/* nothing of the helper stays open here: channels, namespaces */
	syscall(SYS_close_range, 0, ~0U, 0);
	/*
	 * Everything blocked: a blocked signal is still queued for an init
	 * whose handler is SIG_DFL (SIGCHLD: an orphan ended; SIGUSR1: the
	 * helper reaped a command), and the one-second tick looks anyway.
	 */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGUSR1);
	setsid();
	for (;;) {
		while (waitpid(-1, NULL, WNOHANG | __WALL) > 0)
			;
		if (!ns_empty()) {
			sigtimedwait(&set, NULL, &tick);
			continue;
		}
		/* empty: linger (longer while held); a signal starts over */
		left = __atomic_load_n(&c->hold, __ATOMIC_SEQ_CST) - now_ms();
		if (left < c->linger)
			left = c->linger;
		wait.tv_sec = left / 1000;
		wait.tv_nsec = (left % 1000) * 1000000;
		if (sigtimedwait(&set, NULL, &wait) < 0 && errno == EAGAIN &&
		    may_exit(c))
			_exit(0);
	}
}

/**
 * vds_pidns_new() - a new PID namespace with its init
 * @helper_pidfd:	pidfd of the caller; its death ends the init
 * @again:	the stack had one before: its init lingers LINGER_MS when
 *		idle, else LINGER_FIRST_MS
 * @pidnsp:	set to a close-on-exec fd of the new namespace
 * @ctlp:	set to the page shared with its init (vds_pidns_claim() before
 *		forking into it, vds_pidns_free() once the init is reaped);
 *		it is born claimed: vds_pidns_release() it
 *
 * The caller's children must be born in its own PID namespace (the new one
 * is made below that, and nothing else is allowed).  Afterwards they are
 * born in the new one, whose init (the caller's child, SIGCHLD on exit)
 * is the first of them.  On failure the caller must move its children's
 * namespace back home (vds_pidns_for_children()).
 *
 * Return: pid of the init (in the caller's namespace), or -errno
 */
pid_t vds_pidns_new(int helper_pidfd, int again, int *pidnsp,
		    struct vds_pidns_ctl **ctlp)
{
	struct vds_pidns_ctl *c;
	long pid;
	int fd, e;

	*pidnsp = -1;
	*ctlp = NULL;
	c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED)
		return -ENOMEM;
	/* claimed: the empty new namespace stays until the caller forked */
	c->busy = 1;
	c->linger = again ? LINGER_MS : LINGER_FIRST_MS;
	if (unshare(CLONE_NEWPID) < 0) {
		e = errno;
		munmap(c, sizeof(*c));
		return -e;
	}
	/* raw clone without a stack: fork semantics */
	pid = syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		e = errno;
		munmap(c, sizeof(*c));
		return -e;
	}
	if (pid == 0)
		init_main(helper_pidfd, c);
	/* (an empty namespace has no such link: it needs its init first) */
	fd = open("/proc/thread-self/ns/pid_for_children", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		munmap(c, sizeof(*c));
		return -e;
	}
	*pidnsp = fd;
	*ctlp = c;
	return pid;
}

/**
 * vds_pidns_claim() - before forking into the namespace or handing it out
 * @c:	its shared page (NULL: nothing to do)
 *
 * Pair with vds_pidns_release() once the fork returned (the child is in
 * the namespace then) or the namespace was sent.
 *
 * Return: 0, or -ESRCH: its init is exiting (make a new namespace)
 */
int vds_pidns_claim(struct vds_pidns_ctl *c)
{
	if (!c)
		return 0;
	__atomic_store_n(&c->busy, 1, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&c->closing, __ATOMIC_SEQ_CST))
		return 0;
	__atomic_store_n(&c->busy, 0, __ATOMIC_SEQ_CST);
	return -ESRCH;
}

/**
 * vds_pidns_release() - after vds_pidns_claim()
 * @c:		its shared page (NULL: nothing to do)
 * @handed:	the namespace was handed out (vds_nsfds()): its init stays
 *		HOLD_MS even if empty, for the receiver to fork into it
 */
void vds_pidns_release(struct vds_pidns_ctl *c, int handed)
{
	if (!c)
		return;
	if (handed)
		__atomic_store_n(&c->hold, now_ms() + HOLD_MS, __ATOMIC_SEQ_CST);
	__atomic_store_n(&c->busy, 0, __ATOMIC_SEQ_CST);
}

/**
 * vds_pidns_poke() - tell an init that a process of its namespace ended
 * @init:	its pid (nothing if <= 0)
 *
 * (One that is not its child: it then looks whether its namespace is empty.)
 */
void vds_pidns_poke(pid_t init)
{
	if (init > 0)
		kill(init, SIGUSR1);
}

/**
 * vds_pidns_free() - forget the page shared with an init (reaped or killed)
 * @c:	the page (NULL: nothing to do)
 */
void vds_pidns_free(struct vds_pidns_ctl *c)
{
	if (c)
		munmap(c, sizeof(*c));
}

/**
 * vds_pidns_for_children() - where the caller's next children are born
 * @pidns:	fd of a PID namespace (the caller's own or one below it)
 *
 * Return: 0 or -errno (setns(2))
 */
int vds_pidns_for_children(int pidns)
{
	return setns(pidns, CLONE_NEWPID) < 0 ? -errno : 0;
}
