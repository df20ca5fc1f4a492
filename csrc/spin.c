// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * spin.c - how long to poll for an answer that is due soon (spin.h).
 */
#include <stdlib.h>

#include "spin.h"

/**
 * vds_spin_us() - how long to poll for an answer that is due soon
 *
 * A pump polls that long after work before it sleeps, a caller for the
 * helper's reply, the helper for the next request.  VDESTACK_BUSY_POLL_US,
 * else VDS_SPIN_US when the process may run on more than one CPU (on one,
 * polling only delays the thread the answer must come from).
 *
 * Return: microseconds, 0 for none.
 */
int vds_spin_us(void)
{
	const char *env = getenv("VDESTACK_BUSY_POLL_US");
	int us = VDS_SPIN_US;
	cpu_set_t cpus;

	if (env && *env)
		us = atoi(env);
	else if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && CPU_COUNT(&cpus) < 2)
		us = 0;

	return us < 0 ? 0 : us > 10000 ? 10000 : us;
}
