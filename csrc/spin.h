/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spin.h - polling a moment before sleeping, for answers due within
 * microseconds: the pump threads (pump.c), the helper (helper.c) and a
 * caller waiting for the helper's reply (ctx.c).
 */
#ifndef VDS_SPIN_H
#define VDS_SPIN_H

#include <stdint.h>
#include <sched.h>
#include <time.h>
#include <sys/epoll.h>

#define VDS_SPIN_US	100	/* default of VDESTACK_BUSY_POLL_US */

int vds_spin_us(void);

/* monotonic nanoseconds (vDSO, no system call) */
static inline int64_t vds_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/**
 * vds_epoll_spin() - epoll_wait() that polls while work was recent
 * @ep, @evs, @max:	as for epoll_wait()
 * @spin_ns:	how long after the last work to poll instead of sleeping
 * @busy:	time of the last work (vds_now_ns()), updated on events
 *
 * Right after work it polls without sleeping (sched_yield() in between, so
 * a thread waiting for this CPU runs): an answer due within microseconds
 * then costs no wake-up.  Otherwise it blocks at once, as epoll_wait(-1).
 *
 * Return: as epoll_wait()
 */
static inline int vds_epoll_spin(int ep, struct epoll_event *evs, int max,
				 int64_t spin_ns, int64_t *busy)
{
	int n;

	while (spin_ns > 0 && vds_now_ns() - *busy < spin_ns) {
		n = epoll_wait(ep, evs, max, 0);
		if (n != 0)
			goto got;
		sched_yield();
	}
	n = epoll_wait(ep, evs, max, -1);
got:
	if (n > 0 && spin_ns > 0)
		*busy = vds_now_ns();
	return n;
}

#endif /* VDS_SPIN_H */
