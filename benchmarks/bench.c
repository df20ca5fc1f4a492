/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench.c - one benchmark program for any libvdestack implementation.
 *
 * It uses only the five calls of the original API, so the same source is
 * built twice: against the original (Debian libvdestack0) and against ours.
 * When our header is used, vdestack_stats() is declared weak and used only
 * when the library that was linked provides it.
 *
 * usage: bench SCENARIO [options]
 *   tcp_stream  bulk TCP A -> B for -t seconds: MB/s
 *   tcp_rr      1-byte TCP ping-pong for -t seconds: p50/p99/mean us
 *   udp_small   64-byte datagrams A -> B for -t seconds: sent, delivered
 *   msocket     vde_msocket + close, -n times: mean us
 *   stackcmd    vde_stackcmd(s, "/bin/true"), -n times: mean us
 *   addstack    vde_addstack + vde_delstack, -n times: mean us
 *   scale       -n stacks with an interface, address, delete: per stack
 *   config      -n stacks given an address by vdestack_config() and -n by
 *               vde_stackcmd() with busybox, alternately: per stack (ours only)
 *   info        which library is loaded
 * options:
 *   -a VNL -b VNL   the VDE networks of stacks A and B (the same VNL for
 *                   ptp/switch/vxvde links both)
 *   -A NSPATH -B NSPATH  "raw" mode: no stack, plain sockets made in these
 *                   network namespaces (setns), the kernel's own limit
 *   -m MTU          interface MTU (stacks only; raw namespaces are set up
 *                   by the caller)
 *   -t SECONDS      duration of the traffic scenarios
 *   -n COUNT        iterations / number of stacks
 *   -v VNL          the VNL for msocket/stackcmd/addstack/scale (null://)
 *   -x N            N more (idle, addressed, up) stacks on A's network,
 *                   e.g. a bridge of 8 for local:// with -x 6
 *
 * scale on a local:// network (ours only) gives every stack an address in
 * 10.0.0.0/8 and ends with 1 s of tcp_rr between the last and the first.
 *
 * Output: one JSON object on stdout (last line).  Diagnostics on stderr.
 * Exit status 0 when the scenario ran, 1 when it failed (the JSON then has
 * "error").
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <linux/kcmp.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vdestack.h>

#ifdef VDESTACK_EXTENSIONS
/* weak: the original library does not have them; NULL there */
#pragma weak vdestack_stats
#pragma weak vdestack_config
#pragma weak vdestack_addrs
#endif

#define ADDR_A "10.0.0.1"
#define ADDR_B "10.0.0.2"
#define PORT_STREAM 5001
#define PORT_RR 5002
#define PORT_UDP 5003

static const char *opt_vnl_a, *opt_vnl_b, *opt_ns_a, *opt_ns_b;
static const char *opt_vnl = "null://";
static int opt_mtu = 1500;
static double opt_secs = 5.0;
static long opt_count = -1;
static int opt_extra;
static const char *scenario;

/* ------------------------------------------------------------ output --- */

static char json[65536];
static size_t json_len;

static void jadd(const char *fmt, ...)
{
	va_list ap;

	if (json_len >= sizeof(json) - 2)
		return;
	if (json_len > 1)
		json[json_len++] = ',';
	va_start(ap, fmt);
	json_len += vsnprintf(json + json_len, sizeof(json) - json_len - 1, fmt, ap);
	va_end(ap);
	if (json_len > sizeof(json) - 2)
		json_len = sizeof(json) - 2;
}

static void jflush(void)
{
	json[json_len++] = '}';
	json[json_len] = 0;
	printf("%s\n", json);
	fflush(stdout);
}

static void jstr(const char *key, const char *val)
{
	char esc[1024];
	size_t j = 0;

	for (const char *p = val; *p && j < sizeof(esc) - 8; p++) {
		if (*p == '"' || *p == '\\') {
			esc[j++] = '\\';
			esc[j++] = *p;
		} else if ((unsigned char)*p < 0x20) {
			j += sprintf(esc + j, "\\u%04x", *p);
		} else {
			esc[j++] = *p;
		}
	}
	esc[j] = 0;
	jadd("\"%s\":\"%s\"", key, esc);
}

static void __attribute__((noreturn)) fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "bench %s: %s\n", scenario ? scenario : "", msg);
	jstr("error", msg);
	jflush();
	/* _exit: no atexit handlers of the library under test */
	_exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return -1;
	i = (size_t)(p / 100.0 * (n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

/* report the distribution of n samples (seconds) in microseconds */
static void report_us(const char *prefix, double *v, size_t n)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += v[i];
	qsort(v, n, sizeof(*v), cmp_double);
	jadd("\"%s_mean_us\":%.3f", prefix, n ? sum / n * 1e6 : -1);
	jadd("\"%s_p50_us\":%.3f", prefix, pct(v, n, 50) * 1e6);
	jadd("\"%s_p99_us\":%.3f", prefix, pct(v, n, 99) * 1e6);
	jadd("\"%s_min_us\":%.3f", prefix, n ? v[0] * 1e6 : -1);
	jadd("\"%s_max_us\":%.3f", prefix, n ? v[n - 1] * 1e6 : -1);
	jadd("\"%s_n\":%zu", prefix, n);
}

/* --------------------------------------------------------- endpoints --- */

/* One side of a traffic test: a vdestack stack, or a plain namespace. */
struct ep {
	const char *name;
	struct vdestack *st;
	int nsfd;
	const char *addr;
};

static int host_nsfd = -1;

static void ep_open(struct ep *e, const char *name, const char *vnl,
		    const char *nspath, const char *addr)
{
	char cmd[512];
	int rc;

	e->name = name;
	e->addr = addr;
	e->st = NULL;
	e->nsfd = -1;
	if (nspath) {
		e->nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
		if (e->nsfd < 0)
			fail("open %s: %s", nspath, strerror(errno));
		return;
	}
	e->st = vde_addstack((char *)vnl, "vde0");
	if (!e->st)
		fail("vde_addstack(%s) for %s: %s", vnl, name, strerror(errno));
	if (opt_mtu != 1500)
		snprintf(cmd, sizeof(cmd),
			 "/bin/busybox ip addr add %s/24 dev vde0; "
			 "/bin/busybox ip link set vde0 mtu %d; "
			 "/bin/busybox ip link set vde0 up", addr, opt_mtu);
	else
		snprintf(cmd, sizeof(cmd),
			 "/bin/busybox ip addr add %s/24 dev vde0; "
			 "/bin/busybox ip link set vde0 up", addr);
	rc = vde_stackcmd(e->st, cmd);
	if (rc != 0)
		fail("vde_stackcmd(%s) on %s returned %d (%s)", cmd, name, rc,
		     rc < 0 ? strerror(errno) : "exit status");
}

static int ep_socket(struct ep *e, int domain, int type, int proto)
{
	int fd, err;

	if (e->st)
		return vde_msocket(e->st, domain, type, proto);
	if (setns(e->nsfd, CLONE_NEWNET) < 0)
		fail("setns %s: %s", e->name, strerror(errno));
	fd = socket(domain, type, proto);
	err = errno;
	if (setns(host_nsfd, CLONE_NEWNET) < 0)
		fail("setns back: %s", strerror(errno));
	errno = err;
	return fd;
}

#ifdef VDESTACK_EXTENSIONS
static void ep_stats(struct ep *e)
{
	struct vdestack_stats s;

	if (!e->st || !vdestack_stats || vdestack_stats(e->st, &s) < 0)
		return;
	jadd("\"stats_%s\":{\"tx_frames\":%llu,\"rx_frames\":%llu,"
	     "\"tx_dropped\":%llu,\"rx_dropped\":%llu,\"rx_runt\":%llu,"
	     "\"rx_oversize\":%llu,\"hung_up\":%u}", e->name,
	     (unsigned long long)s.tx_frames, (unsigned long long)s.rx_frames,
	     (unsigned long long)s.tx_dropped, (unsigned long long)s.rx_dropped,
	     (unsigned long long)s.rx_runt, (unsigned long long)s.rx_oversize,
	     s.hung_up);
}
#else
static void ep_stats(struct ep *e)
{
	(void)e;
}
#endif

static void ep_close(struct ep *e)
{
	ep_stats(e);
	if (e->st)
		vde_delstack(e->st);
	if (e->nsfd >= 0)
		close(e->nsfd);
	e->st = NULL;
	e->nsfd = -1;
}

/* bystanders on A's network (a bridge of 2 + n): addressed, up, idle */
#define EXTRA_MAX 64
static struct ep extra[EXTRA_MAX];
static char extra_addr[EXTRA_MAX][16];
static int nextra;

static void extras_open(const char *vnl, int n)
{
	for (nextra = 0; nextra < n && nextra < EXTRA_MAX; nextra++) {
		snprintf(extra_addr[nextra], sizeof(extra_addr[nextra]), "10.0.0.%d",
			 10 + (nextra & 63));
		ep_open(&extra[nextra], "x", vnl, NULL, extra_addr[nextra]);
	}
	jadd("\"extra_stacks\":%d", nextra);
}

static void extras_close(void)
{
	while (nextra > 0)
		ep_close(&extra[--nextra]);
}

static struct sockaddr_in sin_of(const char *addr, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, addr, &sa.sin_addr);
	return sa;
}

static void set_timeout(int fd, int opt, double secs)
{
	struct timeval tv = { .tv_sec = (time_t)secs,
			      .tv_usec = (suseconds_t)((secs - (time_t)secs) * 1e6) };

	setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

/* A listening TCP socket in b, a connected pair (cli in a, srv in b). */
static void tcp_pair(struct ep *a, struct ep *b, int port, int *cli, int *srv)
{
	struct sockaddr_in sa = sin_of(b->addr, port);
	int one = 1, lfd, fd = -1;
	double t0 = now();
	struct pollfd pfd;

	lfd = ep_socket(b, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		fail("socket in %s: %s", b->name, strerror(errno));
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fail("bind %s:%d: %s", b->addr, port, strerror(errno));
	if (listen(lfd, 4) < 0)
		fail("listen: %s", strerror(errno));
	/* the first SYNs may be lost while ARP resolves: retry for 10 s */
	for (;;) {
		fd = ep_socket(a, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			fail("socket in %s: %s", a->name, strerror(errno));
		set_timeout(fd, SO_SNDTIMEO, 2.0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		if (now() - t0 > 10)
			fail("connect %s:%d: %s", b->addr, port, strerror(errno));
		close(fd);
		usleep(100000);
	}
	set_timeout(fd, SO_SNDTIMEO, 0);
	pfd.fd = lfd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 10000) != 1)
		fail("accept: no connection in 10 s");
	*srv = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (*srv < 0)
		fail("accept: %s", strerror(errno));
	close(lfd);
	*cli = fd;
}

/* -------------------------------------------------------- tcp_stream --- */

#define STREAM_BUF (128 * 1024)

struct sender {
	int fd;
	volatile int stop;
	unsigned long long bytes;
	int err;
};

static void *stream_sender(void *arg)
{
	struct sender *s = arg;
	char *buf = malloc(STREAM_BUF);

	memset(buf, 'x', STREAM_BUF);
	while (!s->stop) {
		ssize_t n = send(s->fd, buf, STREAM_BUF, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			s->err = errno;
			break;
		}
		s->bytes += n;
	}
	free(buf);
	return NULL;
}

static void run_tcp_stream(struct ep *a, struct ep *b)
{
	struct sender snd = { 0 };
	pthread_t th;
	int cli, srv;
	char *buf = malloc(STREAM_BUF * 2);
	double t0, tm = 0, tend, warm = 0.5, last = 0;
	unsigned long long got = 0, measured = 0;
	int stalled = 0;

	tcp_pair(a, b, PORT_STREAM, &cli, &srv);
	set_timeout(srv, SO_RCVTIMEO, 0.2);
	snd.fd = cli;
	pthread_create(&th, NULL, stream_sender, &snd);
	t0 = now();
	tend = t0 + warm + opt_secs;
	last = t0;
	for (;;) {
		double t = now();
		ssize_t n;

		if (t >= tend)
			break;
		n = recv(srv, buf, STREAM_BUF * 2, 0);
		t = now();
		if (n > 0) {
			got += n;
			last = t;
			if (t >= t0 + warm) {
				if (tm == 0)
					tm = t;
				else
					measured += n;
			}
		} else if (n == 0) {
			break;
		} else if (errno != EAGAIN && errno != EINTR) {
			break;
		}
		if (t - last > 5.0) {
			stalled = 1;
			break;
		}
	}
	if (tm == 0)
		tm = now();
	tend = now();
	snd.stop = 1;
	shutdown(cli, SHUT_RDWR);
	shutdown(srv, SHUT_RDWR);
	pthread_join(th, NULL);
	close(cli);
	close(srv);
	free(buf);
	jadd("\"seconds\":%.3f", tend - tm);
	jadd("\"bytes\":%llu", measured);
	jadd("\"total_bytes\":%llu", got);
	jadd("\"stalled\":%d", stalled);
	jadd("\"MBps\":%.3f", tend > tm ? measured / (tend - tm) / 1e6 : 0.0);
	if (stalled)
		jstr("warning", "no data for 5 s: the transport stalled");
}

/* ------------------------------------------------------------ tcp_rr --- */

struct echo {
	int fd;
	volatile int stop;
};

static void *rr_echo(void *arg)
{
	struct echo *e = arg;
	char c;

	while (!e->stop) {
		ssize_t n = recv(e->fd, &c, 1, 0);

		if (n <= 0) {
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			break;
		}
		if (send(e->fd, &c, 1, MSG_NOSIGNAL) != 1)
			break;
	}
	return NULL;
}

static void run_tcp_rr(struct ep *a, struct ep *b)
{
	struct echo ec = { 0 };
	pthread_t th;
	int cli, srv, one = 1;
	size_t cap = 2000000, n = 0, warm = 500;
	double *v = malloc(cap * sizeof(*v));
	double t0, tend;
	int stalled = 0;

	tcp_pair(a, b, PORT_RR, &cli, &srv);
	setsockopt(cli, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(srv, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	set_timeout(srv, SO_RCVTIMEO, 0.2);
	set_timeout(cli, SO_RCVTIMEO, 5.0);
	ec.fd = srv;
	pthread_create(&th, NULL, rr_echo, &ec);
	t0 = now();
	tend = t0 + opt_secs;
	for (size_t i = 0;; i++) {
		char c = 'x';
		double t1 = now(), t2;

		if ((t1 >= tend && i > warm) || n >= cap)
			break;
		if (send(cli, &c, 1, MSG_NOSIGNAL) != 1)
			fail("rr send: %s", strerror(errno));
		if (recv(cli, &c, 1, 0) != 1) {
			stalled = 1;
			break;
		}
		t2 = now();
		if (i >= warm)
			v[n++] = t2 - t1;
	}
	ec.stop = 1;
	shutdown(cli, SHUT_RDWR);
	pthread_join(th, NULL);
	close(cli);
	close(srv);
	jadd("\"stalled\":%d", stalled);
	if (stalled)
		jstr("warning", "no reply for 5 s: the transport stalled");
	report_us("rtt", v, n);
	free(v);
}

/* --------------------------------------------------------- udp_small --- */

#define UDP_SIZE 64

struct udp_rx {
	int fd;
	volatile int stop;
	unsigned long long got;
	double last;
};

static void *udp_receiver(void *arg)
{
	struct udp_rx *r = arg;
	char buf[2048];

	for (;;) {
		ssize_t n = recv(r->fd, buf, sizeof(buf), 0);

		if (n > 0) {
			r->got++;
			r->last = now();
			continue;
		}
		if (r->stop)
			break;
	}
	return NULL;
}

static void run_udp_small(struct ep *a, struct ep *b)
{
	struct sockaddr_in sa = sin_of(b->addr, PORT_UDP);
	struct udp_rx rx = { 0 };
	char buf[UDP_SIZE];
	unsigned long long sent = 0, failed = 0;
	pthread_t th;
	int tx, warmed = 0;
	double t0, tend, ts;

	rx.fd = ep_socket(b, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	tx = ep_socket(a, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (rx.fd < 0 || tx < 0)
		fail("udp socket: %s", strerror(errno));
	if (bind(rx.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fail("bind: %s", strerror(errno));
	if (connect(tx, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fail("connect: %s", strerror(errno));
	memset(buf, 'u', sizeof(buf));
	/* warm up ARP: one datagram through before counting */
	set_timeout(rx.fd, SO_RCVTIMEO, 0.2);
	for (int i = 0; i < 50 && !warmed; i++) {
		char r[2048];

		send(tx, buf, sizeof(buf), 0);
		if (recv(rx.fd, r, sizeof(r), 0) > 0)
			warmed = 1;
	}
	if (!warmed)
		fail("udp: nothing got through in 10 s");
	/* drain what the warm-up left */
	set_timeout(rx.fd, SO_RCVTIMEO, 0.05);
	while (recv(rx.fd, buf, sizeof(buf), 0) > 0)
		;
	set_timeout(rx.fd, SO_RCVTIMEO, 0.1);
	pthread_create(&th, NULL, udp_receiver, &rx);
	t0 = now();
	tend = t0 + opt_secs;
	while (now() < tend) {
		for (int i = 0; i < 64; i++) {
			if (send(tx, buf, sizeof(buf), 0) == sizeof(buf))
				sent++;
			else
				failed++;
		}
	}
	ts = now();
	/* let what is in flight arrive: until 0.5 s without a datagram */
	for (;;) {
		double last = rx.last;

		usleep(100000);
		if (now() - (last > ts ? last : ts) > 0.5)
			break;
		if (now() - ts > 10)
			break;
	}
	rx.stop = 1;
	pthread_join(th, NULL);
	close(tx);
	close(rx.fd);
	jadd("\"seconds\":%.3f", ts - t0);
	jadd("\"sent\":%llu", sent);
	jadd("\"send_failed\":%llu", failed);
	jadd("\"delivered\":%llu", rx.got);
	jadd("\"delivered_pps\":%.1f", rx.got / (ts - t0));
	jadd("\"sent_pps\":%.1f", sent / (ts - t0));
	jadd("\"loss_pct\":%.3f", sent ? 100.0 * (1.0 - (double)rx.got / sent) : 100.0);
}

/* ----------------------------------------------------------- msocket --- */

static struct vdestack *one_stack(void)
{
	struct vdestack *s = vde_addstack((char *)opt_vnl, "vde0");

	if (!s)
		fail("vde_addstack(%s): %s", opt_vnl, strerror(errno));
	return s;
}

static void run_msocket(void)
{
	long n = opt_count > 0 ? opt_count : 5000;
	struct vdestack *s = one_stack();
	double *v = malloc(n * sizeof(*v));

	for (int i = 0; i < 100; i++) {
		int fd = vde_msocket(s, AF_INET, SOCK_STREAM, 0);

		if (fd < 0)
			fail("vde_msocket: %s", strerror(errno));
		close(fd);
	}
	for (long i = 0; i < n; i++) {
		double t = now();
		int fd = vde_msocket(s, AF_INET, SOCK_STREAM, 0);

		if (fd < 0)
			fail("vde_msocket: %s", strerror(errno));
		close(fd);
		v[i] = now() - t;
	}
	vde_delstack(s);
	report_us("msocket", v, n);
	free(v);
}

/* ---------------------------------------------------------- stackcmd --- */

static void run_stackcmd(void)
{
	long n = opt_count > 0 ? opt_count : 200;
	struct vdestack *s = one_stack();
	double *v = malloc(n * sizeof(*v));
	int rc;

	rc = vde_stackcmd(s, "/bin/true");
	if (rc != 0)
		fail("vde_stackcmd(/bin/true) = %d", rc);
	for (long i = 0; i < n; i++) {
		double t = now();

		rc = vde_stackcmd(s, "/bin/true");
		v[i] = now() - t;
		if (rc != 0)
			fail("vde_stackcmd(/bin/true) = %d", rc);
	}
	vde_delstack(s);
	report_us("stackcmd", v, n);
	free(v);
}

/* ---------------------------------------------------------- addstack --- */

static void run_addstack(void)
{
	long n = opt_count > 0 ? opt_count : 100;
	double *v = malloc(3 * n * sizeof(*v)), *va = v + n, *vd = v + 2 * n;

	vde_delstack(one_stack());
	for (long i = 0; i < n; i++) {
		double t = now(), t1;
		struct vdestack *s = vde_addstack((char *)opt_vnl, "vde0");

		if (!s)
			fail("vde_addstack(%s): %s", opt_vnl, strerror(errno));
		t1 = now();
		vde_delstack(s);
		v[i] = now() - t;
		va[i] = t1 - t;
		vd[i] = v[i] - va[i];
	}
	report_us("addstack", v, n);
	/* where it goes: the original returns from vde_addstack before its
	 * helper has set the stack up, so compare the sum */
	report_us("addstack_add", va, n);
	report_us("addstack_del", vd, n);
	free(v);
}

/* ------------------------------------------------------------- scale --- */

/* processes below ours: pid list */
static int descendants(pid_t root, pid_t *out, int max)
{
	static pid_t pids[65536], ppids[65536];
	int np = 0, nout = 0;
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d)
		return -1;
	while ((de = readdir(d)) && np < 65536) {
		char path[300], buf[512], *p;
		int fd;
		ssize_t len;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = 0;
		p = strrchr(buf, ')');
		if (!p)
			continue;
		pids[np] = atoi(de->d_name);
		/* ") S ppid" */
		ppids[np] = atoi(p + 4);
		np++;
	}
	closedir(d);
	/* breadth first: out[] doubles as the queue */
	out[nout] = root;
	for (int q = 0; q <= nout && q < max; q++) {
		for (int i = 0; i < np; i++)
			if (ppids[i] == out[q] && nout + 1 < max)
				out[++nout] = pids[i];
	}
	/* out[0] is root itself: shift */
	memmove(out, out + 1, nout * sizeof(*out));
	return nout;
}

/* the number after "key<sep>" on a line of a file, -1 when absent */
static long file_value(const char *path, const char *key, char sep)
{
	char line[512];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == sep) {
			v = atol(line + kl + 1);
			break;
		}
	fclose(f);
	return v;
}

static long proc_kb(pid_t pid, const char *file, const char *key)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	return file_value(path, key, ':');
}

static long meminfo_kb(const char *key)
{
	return file_value("/proc/meminfo", key, ':');
}

/* active objects of a slab cache (root only), -1 when not readable */
static long slab_active(const char *name)
{
	return file_value("/proc/slabinfo", name, ' ');
}

struct memsum {
	long pss_kb, rss_kb;
	int procs, groups, kcmp_failed;
};

/*
 * Memory of this process and its descendants.  Processes that share one
 * address space (the original clones its helpers with CLONE_VM) are counted
 * once: kcmp(KCMP_VM) tells whether two processes share their mm.
 */
static struct memsum memory_of_tree(void)
{
	static pid_t procs[65537], reps[65537];
	struct memsum m = { 0 };
	int n, nreps = 0;

	procs[0] = getpid();
	n = descendants(getpid(), procs + 1, 65536);
	n = (n < 0 ? 0 : n) + 1;
	m.procs = n;
	for (int i = 0; i < n; i++) {
		int same = 0;

		for (int r = 0; r < nreps && !same; r++) {
			long rc = syscall(SYS_kcmp, procs[i], reps[r], KCMP_VM, 0, 0);

			if (rc == 0)
				same = 1;
			else if (rc < 0)
				m.kcmp_failed++;
		}
		if (same)
			continue;
		long pss = proc_kb(procs[i], "smaps_rollup", "Pss");
		long rss = proc_kb(procs[i], "status", "VmRSS");

		/* zombies and kernel threads have no mm */
		if (pss < 0 && rss < 0)
			continue;
		reps[nreps++] = procs[i];
		m.pss_kb += pss > 0 ? pss : 0;
		m.rss_kb += rss > 0 ? rss : 0;
	}
	m.groups = nreps;
	return m;
}

/* the inode of the network namespace an fd refers to, 0 when none */
static unsigned long fd_netns(int fd, const char *target)
{
	struct stat st;
	int nsfd = -1;

	if (!strncmp(target, "net:[", 5))
		return strtoul(target + 5, NULL, 10);
	if (!strcmp(target, "/dev/net/tun"))
		nsfd = ioctl(fd, TUNGETDEVNETNS);
	else if (!strncmp(target, "socket:[", 8))
		nsfd = ioctl(fd, SIOCGSKNS);
	if (nsfd < 0)
		return 0;
	if (fstat(nsfd, &st) < 0)
		st.st_ino = 0;
	close(nsfd);
	return st.st_ino;
}

/*
 * Count this process's fds, the tap fds among them, and the network
 * namespaces other than the host's that they keep alive (a tap fd, a socket
 * or an nsfs fd each pins its namespace).  The namespaces of live
 * descendants count too.  Exact, unlike the machine-wide slab count.
 */
static int count_fds(int *tun, int *netns)
{
	static unsigned long seen[65536];
	unsigned long host = 0;
	struct stat st;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0, nseen = 0;
	pid_t kids[4096];
	int nk;

	*tun = *netns = 0;
	if (!d)
		return -1;
	if (stat("/proc/self/ns/net", &st) == 0)
		host = st.st_ino;
	while ((de = readdir(d))) {
		char path[300], target[256];
		unsigned long ino;
		ssize_t l;

		if (de->d_name[0] == '.')
			continue;
		n++;
		if (atoi(de->d_name) == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		l = readlink(path, target, sizeof(target) - 1);
		if (l <= 0)
			continue;
		target[l] = 0;
		if (!strcmp(target, "/dev/net/tun"))
			(*tun)++;
		ino = fd_netns(atoi(de->d_name), target);
		if (ino && ino != host && nseen < 65536) {
			int dup = 0;

			for (int i = 0; i < nseen && !dup; i++)
				dup = seen[i] == ino;
			if (!dup)
				seen[nseen++] = ino;
		}
	}
	closedir(d);
	nk = descendants(getpid(), kids, 4096);
	for (int k = 0; k < nk; k++) {
		char path[64];
		int dup = 0;

		snprintf(path, sizeof(path), "/proc/%d/ns/net", kids[k]);
		if (stat(path, &st) < 0 || st.st_ino == host)
			continue;
		for (int i = 0; i < nseen && !dup; i++)
			dup = seen[i] == st.st_ino;
		if (!dup && nseen < 65536)
			seen[nseen++] = st.st_ino;
	}
	*netns = nseen;
	return n - 1; /* the directory's own fd */
}

static int threads_of_self(void)
{
	return (int)proc_kb(getpid(), "status", "Threads");
}

static void run_scale(void)
{
	long n = opt_count > 0 ? opt_count : 1000;
	struct vdestack **st = calloc(n, sizeof(*st));
	static pid_t kids[65536];
	int fds0, fds1, tun0, tun1, ns0, ns1, nkids, helpers_peak;
	long avail0, avail1, avail2, netns0, netns1, netns2, userns0, userns1;
	struct memsum m0, m1;
	double t0, t1, t2, tmax = 0;
	int threads_peak;
	/* one network of all: addresses in one /8, a round trip at the end */
	int local = !strncmp(opt_vnl, "local://", 8);
	double trr = 0;

	/* warm the library and the page cache (busybox), then the baseline */
	{
		struct vdestack *s = one_stack();

		vde_stackcmd(s, "/bin/busybox true");
		vde_delstack(s);
	}
	usleep(200000);
	fds0 = count_fds(&tun0, &ns0);
	m0 = memory_of_tree();
	avail0 = meminfo_kb("MemAvailable");
	netns0 = slab_active("net_namespace");
	userns0 = slab_active("user_namespace");

	t0 = now();
	for (long i = 0; i < n; i++) {
		char cmd[256];
		double ti = now();
		int rc;

		st[i] = vde_addstack((char *)opt_vnl, "vde0");
		if (!st[i])
			fail("vde_addstack #%ld (%s): %s", i, opt_vnl, strerror(errno));
		snprintf(cmd, sizeof(cmd),
			 "/bin/busybox ip addr add 10.%ld.%ld.1/%d dev vde0; "
			 "/bin/busybox ip link set vde0 up",
			 (i >> 8) & 255, i & 255, local ? 8 : 24);
		rc = vde_stackcmd(st[i], cmd);
		if (rc != 0)
			fail("vde_stackcmd #%ld returned %d (%s)", i, rc,
			     rc < 0 ? strerror(errno) : "exit status");
		ti = now() - ti;
		if (ti > tmax)
			tmax = ti;
		if ((i + 1) % 250 == 0)
			fprintf(stderr, "bench scale: %ld stacks, %.1f s\n", i + 1, now() - t0);
	}
	t1 = now();
	nkids = descendants(getpid(), kids, 65536);
	helpers_peak = nkids;
	threads_peak = threads_of_self();
	m1 = memory_of_tree();
	avail1 = meminfo_kb("MemAvailable");
	netns1 = slab_active("net_namespace");
	userns1 = slab_active("user_namespace");
	if (local && n >= 2) {
		struct ep a = { .name = "last", .st = st[n - 1], .nsfd = -1 };
		struct ep b = { .name = "first", .st = st[0], .nsfd = -1,
				.addr = "10.0.0.1" };
		double secs = opt_secs;
		char la[32];

		snprintf(la, sizeof(la), "10.%ld.%ld.1", ((n - 1) >> 8) & 255, (n - 1) & 255);
		a.addr = la;
		opt_secs = 1;
		trr = now();
		run_tcp_rr(&a, &b);
		trr = now() - trr;	/* not part of the deletion */
		opt_secs = secs;
	}

	for (long i = 0; i < n; i++)
		vde_delstack(st[i]);
	t2 = now();

	/* what is left: give asynchronous teardown up to 3 s */
	for (int w = 0; w < 30; w++) {
		nkids = descendants(getpid(), kids, 65536);
		if (nkids == 0)
			break;
		usleep(100000);
	}
	/* a helper that lingered is reaped by a thread that then closes its fds */
	usleep(20000);
	fds1 = count_fds(&tun1, &ns1);
	/* the kernel frees namespaces asynchronously: wait for it to settle */
	netns2 = slab_active("net_namespace");
	for (int w = 0; w < 20 && netns2 > netns0; w++) {
		usleep(100000);
		netns2 = slab_active("net_namespace");
	}
	avail2 = meminfo_kb("MemAvailable");

	jadd("\"stacks\":%ld", n);
	jadd("\"create_addr_total_s\":%.4f", t1 - t0);
	jadd("\"create_addr_per_stack_ms\":%.4f", (t1 - t0) / n * 1e3);
	jadd("\"create_addr_max_ms\":%.4f", tmax * 1e3);
	jadd("\"delete_per_stack_ms\":%.4f", (t2 - t1 - trr) / n * 1e3);
	jadd("\"helpers_peak\":%d", helpers_peak);
	jadd("\"threads_peak\":%d", threads_peak);
	jadd("\"mm_groups_peak\":%d", m1.groups);
	jadd("\"kcmp_failed\":%d", m1.kcmp_failed);
	jadd("\"pss_base_kb\":%ld", m0.pss_kb);
	jadd("\"pss_peak_kb\":%ld", m1.pss_kb);
	jadd("\"rss_peak_kb\":%ld", m1.rss_kb);
	jadd("\"pss_per_stack_kb\":%.3f", (double)(m1.pss_kb - m0.pss_kb) / n);
	jadd("\"rss_per_stack_kb\":%.3f", (double)(m1.rss_kb - m0.rss_kb) / n);
	jadd("\"memavail_per_stack_kb\":%.3f", (double)(avail0 - avail1) / n);
	jadd("\"memavail_after_delete_kb\":%ld", avail0 - avail2);
	jadd("\"netns_base\":%ld", netns0);
	jadd("\"netns_peak\":%ld", netns1);
	jadd("\"netns_slab_left\":%ld", netns0 >= 0 ? netns2 - netns0 : -1);
	jadd("\"userns_peak_delta\":%ld", userns0 >= 0 ? userns1 - userns0 : -1);
	jadd("\"fds_left\":%d", fds1 - fds0);
	jadd("\"tun_fds_left\":%d", tun1 - tun0);
	jadd("\"netns_held_base\":%d", ns0);
	jadd("\"netns_left\":%d", ns1 - ns0);
	jadd("\"procs_left\":%d", nkids);
	free(st);
}

/* ------------------------------------------------------------ config --- */

/* does stack s have 10.x.y.1/24, as its kernel reports? */
static int has_addr(struct vdestack *s, long i)
{
#ifdef VDESTACK_EXTENSIONS
	struct vdestack_addr *a = NULL;
	unsigned char want[4] = { 10, (i >> 8) & 255, i & 255, 1 };
	int n = vdestack_addrs(s, &a), found = 0;

	for (int k = 0; k < n; k++)
		found |= a[k].family == AF_INET && a[k].prefixlen == 24 &&
			 !memcmp(a[k].addr, want, 4);
	free(a);
	return found;
#else
	(void)s, (void)i;
	return 0;
#endif
}

/*
 * Give stacks an address (and bring their interface up) two ways, stack by
 * stack alternately, so that both see the same machine: a configuration
 * string (vdestack_config: netlink from this process) and vde_stackcmd with
 * busybox (two commands run in the stack).  Only the configuration is
 * timed; every stack's address is checked afterwards.
 */
static void run_config(void)
{
	long n = opt_count > 0 ? opt_count : 1000;
	struct vdestack **st = calloc(2 * n, sizeof(*st));
	double *vs = malloc(n * sizeof(*vs)), *vb = malloc(n * sizeof(*vb));
	double ts = 0, tb = 0;
	long missing = 0;

#ifdef VDESTACK_EXTENSIONS
	if (!vdestack_config || !vdestack_addrs)
#endif
		fail("this library has no vdestack_config()");
	if (!st || !vs || !vb)
		fail("out of memory");
	{	/* warm up: the library, busybox in the page cache */
		struct vdestack *s = one_stack();

		vde_stackcmd(s, "/bin/busybox true");
		vdestack_config(s, "ip=10.255.255.1/24");
		vde_delstack(s);
	}
	for (long i = 0; i < 2 * n; i++) {
		char buf[256];
		double t;
		int rc;

		st[i] = vde_addstack((char *)opt_vnl, "vde0");
		if (!st[i])
			fail("vde_addstack #%ld (%s): %s", i, opt_vnl, strerror(errno));
		if (i % 2 == 0) {
			snprintf(buf, sizeof(buf), "ip=10.%ld.%ld.1/24", (i >> 8) & 255, i & 255);
			t = now();
			rc = vdestack_config(st[i], buf);
			vs[i / 2] = now() - t;
			ts += vs[i / 2];
			if (rc != 0)
				fail("vdestack_config #%ld: %s", i, strerror(errno));
		} else {
			snprintf(buf, sizeof(buf),
				 "/bin/busybox ip addr add 10.%ld.%ld.1/24 dev vde0; "
				 "/bin/busybox ip link set vde0 up", (i >> 8) & 255, i & 255);
			t = now();
			rc = vde_stackcmd(st[i], buf);
			vb[i / 2] = now() - t;
			tb += vb[i / 2];
			if (rc != 0)
				fail("vde_stackcmd #%ld returned %d", i, rc);
		}
		if ((i + 1) % 500 == 0)
			fprintf(stderr, "bench config: %ld stacks\n", i + 1);
	}
	for (long i = 0; i < 2 * n; i++) {
		missing += !has_addr(st[i], i);
		vde_delstack(st[i]);
	}
	if (missing)
		fail("%ld of %ld stacks do not have their address", missing, 2 * n);
	jadd("\"stacks_per_method\":%ld", n);
	jadd("\"config_string_per_stack_ms\":%.4f", ts / n * 1e3);
	jadd("\"config_busybox_per_stack_ms\":%.4f", tb / n * 1e3);
	jadd("\"config_speedup\":%.2f", ts > 0 ? tb / ts : -1);
	report_us("config_string", vs, n);
	report_us("config_busybox", vb, n);
	free(st);
	free(vs);
	free(vb);
}

/* -------------------------------------------------------------- main --- */

static void usage(void)
{
	fprintf(stderr,
		"usage: bench tcp_stream|tcp_rr|udp_small|msocket|stackcmd|addstack|scale|config|info\n"
		"             [-a VNL -b VNL | -A NSPATH -B NSPATH] [-m MTU] [-t SECS]\n"
		"             [-n COUNT] [-v VNL] [-x EXTRA]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	Dl_info dli;
	int c;

	if (argc < 2)
		usage();
	scenario = argv[1];
	optind = 2;
	while ((c = getopt(argc, argv, "a:b:A:B:m:t:n:v:x:")) != -1) {
		switch (c) {
		case 'a': opt_vnl_a = optarg; break;
		case 'b': opt_vnl_b = optarg; break;
		case 'A': opt_ns_a = optarg; break;
		case 'B': opt_ns_b = optarg; break;
		case 'm': opt_mtu = atoi(optarg); break;
		case 't': opt_secs = atof(optarg); break;
		case 'n': opt_count = atol(optarg); break;
		case 'v': opt_vnl = optarg; break;
		case 'x': opt_extra = atoi(optarg); break;
		default: usage();
		}
	}
	signal(SIGPIPE, SIG_IGN);
	/* 1000 stacks need many fds (the original keeps several per stack) */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	json[json_len++] = '{';
	jstr("scenario", scenario);
	if (dladdr((void *)vde_addstack, &dli) && dli.dli_fname)
		jstr("lib", dli.dli_fname);
#ifdef VDESTACK_EXTENSIONS
	jadd("\"extensions\":%d", vdestack_stats ? 1 : 0);
#else
	jadd("\"extensions\":0");
#endif
	jadd("\"uid\":%d", (int)getuid());

	if (!strcmp(scenario, "tcp_stream") || !strcmp(scenario, "tcp_rr") ||
	    !strcmp(scenario, "udp_small")) {
		struct ep a, b;
		int raw = opt_ns_a && opt_ns_b;

		if (!raw && !(opt_vnl_a && opt_vnl_b))
			usage();
		if (raw) {
			host_nsfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
			if (host_nsfd < 0)
				fail("open /proc/self/ns/net: %s", strerror(errno));
		}
		jadd("\"mtu\":%d", opt_mtu);
		jadd("\"raw\":%d", raw);
		ep_open(&a, "a", opt_vnl_a, raw ? opt_ns_a : NULL, ADDR_A);
		ep_open(&b, "b", opt_vnl_b, raw ? opt_ns_b : NULL, ADDR_B);
		if (opt_extra > 0 && !raw)
			extras_open(opt_vnl_a, opt_extra);
		if (!strcmp(scenario, "tcp_stream"))
			run_tcp_stream(&a, &b);
		else if (!strcmp(scenario, "tcp_rr"))
			run_tcp_rr(&a, &b);
		else
			run_udp_small(&a, &b);
		ep_close(&a);
		ep_close(&b);
		extras_close();
	} else if (!strcmp(scenario, "msocket")) {
		run_msocket();
	} else if (!strcmp(scenario, "stackcmd")) {
		run_stackcmd();
	} else if (!strcmp(scenario, "addstack")) {
		run_addstack();
	} else if (!strcmp(scenario, "scale")) {
		run_scale();
	} else if (!strcmp(scenario, "config")) {
		run_config();
	} else if (strcmp(scenario, "info")) {
		usage();
	}
	jflush();
	return 0;
}
