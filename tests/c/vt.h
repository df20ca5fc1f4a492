/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vt.h - a small harness for the CTest programs of libvdestack.
 *
 * A test program holds named tests declared with VT_TEST(name, seconds).
 * `prog NAME` runs one of them, `prog` runs all, `prog --list` lists them
 * (tests/c/CMakeLists.txt reads the VT_TEST lines to register one CTest
 * entry per test).  Each test body runs in a forked process with a private
 * scratch directory (vt_dir); the supervising parent is a child subreaper,
 * enforces the time limit, and after the body ends checks that it left no
 * process behind (helpers and commands die with their host), kills by pid
 * whatever is left and removes the scratch directory.
 *
 * CHECK() records a failure and goes on; REQUIRE() ends the test.  Every
 * check prints one line ("ok" or "FAIL file:line"), so a CTest log tells
 * what was observed.
 */
#ifndef VT_H
#define VT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <vdestack.h>

#define VT_MAXPATH 256

/* scratch directory of the running test, e.g. /tmp/vdst-ptp_echo.Ab12Cd */
extern char vt_dir[VT_MAXPATH];
/* failures recorded so far by the running test */
extern int vt_failures;

void vt_register(const char *name, void (*fn)(void), int secs);

/* VT_TEST(name, secs) { body }: a test with a time limit of secs seconds */
#define VT_TEST(name, secs)						\
	static void vt_body_##name(void);				\
	__attribute__((constructor)) static void vt_reg_##name(void)	\
	{								\
		vt_register(#name, vt_body_##name, secs);		\
	}								\
	static void vt_body_##name(void)

void vt_check_(int ok, int fatal, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void vt_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* CHECK(cond, "what was checked: observed %d", value) */
#define CHECK(cond, ...) vt_check_(!!(cond), 0, __FILE__, __LINE__, __VA_ARGS__)
/* like CHECK, but a failure ends the test */
#define REQUIRE(cond, ...) vt_check_(!!(cond), 1, __FILE__, __LINE__, __VA_ARGS__)

/* ---------------------------------------------------------------- time --- */
double vt_now(void);
void vt_sleep(double secs);

/* ------------------------------------------------------------ processes --- */
/* number of open fds of this process */
int vt_count_fds(void);
/*
 * wait (up to secs) until this process has n open fds: after the last
 * vde_delstack the library keeps its context a moment (VDESTACK_LINGER_MS);
 * returns the count at the end
 */
int vt_settle_fds(int n, double secs);
/* descendants of pid (not pid itself), at most max; returns the count */
int vt_descendants(pid_t pid, pid_t *out, int max);
/* live (not zombie) children of pid, not their descendants; the count */
int vt_children(pid_t pid, pid_t *out, int max);
/* 1 if pid exists and is not a zombie */
int vt_alive(pid_t pid);
/* pid's number in its own (innermost) PID namespace, -1 if gone */
pid_t vt_nspid(pid_t pid);
/* the command name of pid (static buffer) */
const char *vt_comm(pid_t pid);
/* CPU seconds (user + system, all threads) of pid so far, -1 if gone */
double vt_cpu(pid_t pid);
/* CPU seconds of this process and of all its live descendants */
double vt_cpu_tree(void);
/* reap exited children (we are a subreaper: orphans come to us) */
void vt_reap(void);
/* remember pid: the harness kills it when the test ends */
void vt_track(pid_t pid);
/* kill a tracked (or any own) process by pid and wait for it */
void vt_kill(pid_t pid, int sig);

/* ----------------------------------------------------------------- files --- */
/* "vt_dir/<formatted>" in a new buffer (never freed: tests are short) */
char *vt_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* wait until path exists; 1 if it does within secs */
int vt_wait_path(const char *path, double secs);
/* read a whole (small) file into buf, NUL terminated; length or -1 */
ssize_t vt_read_file(const char *path, char *buf, size_t len);
/* absolute path of an executable found on PATH (static buffer) or NULL */
const char *vt_which(const char *name);

/* -------------------------------------------------------------- network --- */
/* start `vde_plug null:// switch://path` (tracked); pid or -1 */
pid_t vt_switch_start(const char *path);
/*
 * vde_addstack(vnl, ifname); when cidr is not NULL, the interface gets that
 * address and goes up.  NULL (with a FAIL line) on failure.
 */
struct vdestack *vt_stack(const char *vnl, const char *ifname, const char *cidr);
/* vde_stackcmd with a printf-style command line */
int vt_cmd(struct vdestack *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Addresses below are IPv4 ("10.77.0.1") or IPv6 ("fd00::1", any with a ':').
 */
/* bind fd to ip:port (SO_REUSEADDR); 0 or errno */
int vt_bind(int fd, const char *ip, int port);
/* receive and send timeouts on a socket */
void vt_timeouts(int fd, double secs);
/* a listening TCP socket of stack s on ip:port, or -1 */
int vt_listen(struct vdestack *s, const char *ip, int port);
/* connect a new TCP socket of stack s to ip:port, retrying for secs; fd or -1 */
int vt_connect(struct vdestack *s, const char *ip, int port, double secs);
/*
 * Echo server: a thread accepts up to nconn connections on lfd and echoes
 * each (one thread per connection) until EOF.  Closes lfd at the end.
 */
void vt_echo_server(int lfd, int nconn);
/*
 * Send total bytes of a pattern on fd in chunks and expect the same bytes
 * back; 1 if every byte came back in order, else 0 with why filled in.
 */
int vt_echo_roundtrip(int fd, size_t total, char *why, size_t whylen);
/*
 * TCP echo between two stacks: an echo server in a on ip:port, a client in
 * b sends total bytes.  1 on success, else 0 with why filled in.
 */
int vt_tcp_echo(struct vdestack *a, struct vdestack *b, const char *ip, int port,
		size_t total, char *why, size_t whylen);

#endif /* VT_H */
