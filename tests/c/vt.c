// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vt.c - the harness of the C tests (see vt.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "vt.h"

char vt_dir[VT_MAXPATH];
int vt_failures;

#define VT_MAXTESTS 64
#define VT_MAXTRACK 64

static struct { const char *name; void (*fn)(void); int secs; } vt_tests[VT_MAXTESTS];
static int vt_ntests;
static pid_t vt_tracked[VT_MAXTRACK];
static int vt_ntracked;

void vt_register(const char *name, void (*fn)(void), int secs)
{
	if (vt_ntests == VT_MAXTESTS) {
		fprintf(stderr, "vt: too many tests\n");
		abort();
	}
	vt_tests[vt_ntests].name = name;
	vt_tests[vt_ntests].fn = fn;
	vt_tests[vt_ntests].secs = secs;
	vt_ntests++;
}

static void vt_vline(const char *tag, const char *file, int line, const char *fmt, va_list ap)
{
	char buf[2048];
	int n;

	if (file)
		n = snprintf(buf, sizeof(buf), "%s %s:%d: ", tag, file, line);
	else
		n = snprintf(buf, sizeof(buf), "%s ", tag);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(buf))
		vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	printf("%s\n", buf);
	fflush(stdout);
}

static void vt_cleanup_body(void)
{
	for (int i = 0; i < vt_ntracked; i++)
		if (vt_tracked[i] > 0)
			kill(vt_tracked[i], SIGKILL);
	for (int i = 0; i < vt_ntracked; i++)
		if (vt_tracked[i] > 0)
			waitpid(vt_tracked[i], NULL, 0);
	vt_ntracked = 0;
}

void vt_check_(int ok, int fatal, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	const char *base = strrchr(file, '/');

	va_start(ap, fmt);
	if (ok) {
		vt_vline("  ok  ", NULL, 0, fmt, ap);
	} else {
		vt_failures++;
		vt_vline("  FAIL", base ? base + 1 : file, line, fmt, ap);
	}
	va_end(ap);
	if (!ok && fatal) {
		printf("  (required check failed: test ends here)\n");
		fflush(stdout);
		vt_cleanup_body();
		_exit(1);
	}
}

void vt_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vt_vline("  info", NULL, 0, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ time --- */
double vt_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

void vt_sleep(double secs)
{
	struct timespec t = { (time_t)secs, (long)((secs - (time_t)secs) * 1e9) };

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------- processes --- */
int vt_count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory stream itself */
}

int vt_settle_fds(int n, double secs)
{
	double end = vt_now() + secs;
	int have;

	while ((have = vt_count_fds()) != n && vt_now() < end)
		vt_sleep(0.01);
	return have;
}

/* fields of /proc/pid/stat after the command name: state, ppid, ... */
static int vt_stat(pid_t pid, char *state, pid_t *ppid, double *cpu)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	if (!(p = strrchr(buf, ')')))
		return -1;
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	if (sscanf(p + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			state, ppid, &ut, &st) != 4)
		return -1;
	if (cpu)
		*cpu = (double)(ut + st) / sysconf(_SC_CLK_TCK);
	return 0;
}

int vt_descendants(pid_t root, pid_t *out, int max)
{
	static pid_t pid[32768], ppid[32768];
	int np = 0, nf = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;

	while (d && (e = readdir(d)) && np < 32768) {
		char state;
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		pid[np] = atoi(e->d_name);
		if (vt_stat(pid[np], &state, &ppid[np], NULL) == 0)
			np++;
	}
	if (d)
		closedir(d);
	/* breadth first from root */
	pid_t fam[4096];
	int nfam = 0;
	fam[nfam++] = root;
	for (int h = 0; h < nfam; h++)
		for (int i = 0; i < np; i++)
			if (ppid[i] == fam[h] && nfam < 4096)
				fam[nfam++] = pid[i];
	for (int i = 1; i < nfam && nf < max; i++)
		out[nf++] = fam[i];
	return nf;
}

int vt_alive(pid_t pid)
{
	char state;
	pid_t pp;

	if (vt_stat(pid, &state, &pp, NULL) < 0)
		return 0;
	return state != 'Z' && state != 'X';
}

const char *vt_comm(pid_t pid)
{
	static char buf[64];
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	n = vt_read_file(path, buf, sizeof(buf));
	if (n <= 0)
		return "?";
	if (buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return buf;
}

pid_t vt_nspid(pid_t pid)
{
	char path[64], buf[2048], *line, *p;
	pid_t last = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (vt_read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	line = strstr(buf, "\nNSpid:");
	if (!line)
		return -1;
	for (p = line + 7; *p && *p != '\n'; ) {
		char *end;
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		last = v;
		p = end;
	}
	return last;
}

double vt_cpu(pid_t pid)
{
	char state;
	pid_t pp;
	double cpu;

	if (vt_stat(pid, &state, &pp, &cpu) < 0)
		return -1;
	return cpu;
}

double vt_cpu_tree(void)
{
	pid_t d[256];
	int n = vt_descendants(getpid(), d, 256);
	double sum = vt_cpu(getpid());

	for (int i = 0; i < n; i++) {
		double c = vt_cpu(d[i]);
		if (c > 0)
			sum += c;
	}
	return sum;
}

void vt_reap(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

void vt_track(pid_t pid)
{
	if (vt_ntracked < VT_MAXTRACK)
		vt_tracked[vt_ntracked++] = pid;
}

void vt_kill(pid_t pid, int sig)
{
	if (pid <= 0)
		return;
	kill(pid, sig);
	waitpid(pid, NULL, 0);
	for (int i = 0; i < vt_ntracked; i++)
		if (vt_tracked[i] == pid)
			vt_tracked[i] = -1;
}

/* ----------------------------------------------------------------- files --- */
char *vt_path(const char *fmt, ...)
{
	char rel[VT_MAXPATH], *out;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	if (asprintf(&out, "%s/%s", vt_dir, rel) < 0)
		abort();
	return out;
}

int vt_wait_path(const char *path, double secs)
{
	double end = vt_now() + secs;

	while (access(path, F_OK) != 0) {
		if (vt_now() > end)
			return 0;
		vt_sleep(0.01);
	}
	return 1;
}

ssize_t vt_read_file(const char *path, char *buf, size_t len)
{
	ssize_t n, got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((size_t)got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += n;
	close(fd);
	buf[got] = 0;
	return got;
}

const char *vt_which(const char *name)
{
	static char buf[VT_MAXPATH];
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL;

	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	copy = strdup(path);
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(buf, sizeof(buf), "%s/%s", dir, name);
		if (dir[0] == '/' && access(buf, X_OK) == 0) {
			free(copy);
			return buf;
		}
	}
	free(copy);
	return NULL;
}

/* --------------------------------------------------------------- network --- */
pid_t vt_switch_start(const char *path)
{
	char url[2 * VT_MAXPATH], ctl[2 * VT_MAXPATH];
	pid_t pid;

	snprintf(url, sizeof(url), "switch://%s", path);
	snprintf(ctl, sizeof(ctl), "%s/ctl", path);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
		}
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execlp("vde_plug", "vde_plug", "null://", url, (char *)NULL);
		_exit(127);
	}
	vt_track(pid);
	/* the ctl socket exists (bind) a moment before it listens: connect */
	double end = vt_now() + 5;
	for (;;) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

		if (strlen(ctl) >= sizeof(sa.sun_path)) {
			vt_kill(pid, SIGKILL);
			return -1;
		}
		memcpy(sa.sun_path, ctl, strlen(ctl) + 1);
		ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return pid;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			/* it died (reaped here: do not kill the number again) */
			for (int i = 0; i < vt_ntracked; i++)
				if (vt_tracked[i] == pid)
					vt_tracked[i] = -1;
			return -1;
		}
		if (vt_now() > end) {
			vt_kill(pid, SIGKILL);
			return -1;
		}
		vt_sleep(0.01);
	}
}

int vt_cmd(struct vdestack *s, const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return vde_stackcmd(s, cmd);
}

struct vdestack *vt_stack(const char *vnl, const char *ifname, const char *cidr)
{
	const char *ifn = ifname ? ifname : "vde0";
	struct vdestack *s;
	int rc;

	s = vde_addstack((char *)vnl, (char *)ifname);
	if (!s) {
		int e = errno;
		CHECK(0, "vde_addstack(\"%s\", %s%s%s) returned NULL: %s", vnl ? vnl : "(null)",
				ifname ? "\"" : "", ifname ? ifname : "NULL", ifname ? "\"" : "",
				strerror(e));
		errno = e;
		return NULL;
	}
	if (!cidr)
		return s;
	rc = vt_cmd(s, "/bin/busybox ip addr add %s dev %s;/bin/busybox ip link set %s up",
			cidr, ifn, ifn);
	if (rc != 0) {
		CHECK(0, "configuring %s on %s: vde_stackcmd returned %d (%s)", cidr, ifn, rc,
				rc < 0 ? strerror(errno) : "exit status");
		vde_delstack(s);
		return NULL;
	}
	return s;
}

/* ip:port as a socket address: IPv6 when ip has a ':'; returns its length */
static socklen_t vt_addr(const char *ip, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *sa = (struct sockaddr_in6 *)ss;

		sa->sin6_family = AF_INET6;
		sa->sin6_port = htons(port);
		inet_pton(AF_INET6, ip, &sa->sin6_addr);
		return sizeof(*sa);
	} else {
		struct sockaddr_in *sa = (struct sockaddr_in *)ss;

		sa->sin_family = AF_INET;
		sa->sin_port = htons(port);
		inet_pton(AF_INET, ip, &sa->sin_addr);
		return sizeof(*sa);
	}
}

int vt_bind(int fd, const char *ip, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = vt_addr(ip, port, &ss);
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	return bind(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : errno;
}

void vt_timeouts(int fd, double secs)
{
	struct timeval tv = { (time_t)secs, (suseconds_t)((secs - (time_t)secs) * 1e6) };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int vt_listen(struct vdestack *s, const char *ip, int port)
{
	int fd = vde_msocket(s, strchr(ip, ':') ? AF_INET6 : AF_INET,
			     SOCK_STREAM | SOCK_CLOEXEC, 0), e;

	if (fd < 0)
		return -1;
	vt_timeouts(fd, 10);
	if ((e = vt_bind(fd, ip, port)) != 0 || listen(fd, 16) < 0) {
		close(fd);
		errno = e ? e : errno;
		return -1;
	}
	return fd;
}

int vt_connect(struct vdestack *s, const char *ip, int port, double secs)
{
	struct sockaddr_storage ss;
	socklen_t len = vt_addr(ip, port, &ss);
	double end = vt_now() + secs;

	for (;;) {
		int fd = vde_msocket(s, ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), e;
		if (fd < 0)
			return -1;
		vt_timeouts(fd, 3);
		if (connect(fd, (struct sockaddr *)&ss, len) == 0)
			return fd;
		e = errno;
		close(fd);
		if (vt_now() > end) {
			errno = e;
			return -1;
		}
		vt_sleep(0.05);
	}
}

struct vt_srv {
	int lfd;
	int nconn;
};

static void *vt_echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[8192];
	ssize_t n;

	vt_timeouts(fd, 10);
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = send(fd, buf + off, n - off, MSG_NOSIGNAL);
			if (w <= 0)
				goto out;
			off += w;
		}
	}
out:
	close(fd);
	return NULL;
}

static void *vt_echo_accept(void *arg)
{
	struct vt_srv *srv = arg;

	for (int i = 0; i < srv->nconn; i++) {
		pthread_t t;
		int fd = accept4(srv->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			break;
		if (pthread_create(&t, NULL, vt_echo_conn, (void *)(intptr_t)fd) != 0) {
			close(fd);
			break;
		}
		pthread_detach(t);
	}
	close(srv->lfd);
	free(srv);
	return NULL;
}

void vt_echo_server(int lfd, int nconn)
{
	struct vt_srv *srv = malloc(sizeof(*srv));
	pthread_t t;

	srv->lfd = lfd;
	srv->nconn = nconn;
	if (pthread_create(&t, NULL, vt_echo_accept, srv) != 0) {
		close(lfd);
		free(srv);
		return;
	}
	pthread_detach(t);
}

int vt_echo_roundtrip(int fd, size_t total, char *why, size_t whylen)
{
	unsigned char out[4096], in[4096];
	size_t done = 0;
	uint32_t x = 0x9e3779b9u ^ (uint32_t)total;

	vt_timeouts(fd, 5);
	while (done < total) {
		size_t len = total - done < sizeof(out) ? total - done : sizeof(out), got = 0;
		for (size_t i = 0; i < len; i++) {
			x = x * 1664525u + 1013904223u;
			out[i] = x >> 24;
		}
		for (size_t off = 0; off < len;) {
			ssize_t w = send(fd, out + off, len - off, MSG_NOSIGNAL);
			if (w <= 0) {
				snprintf(why, whylen, "send at byte %zu: %s", done + off,
						w < 0 ? strerror(errno) : "0");
				return 0;
			}
			off += w;
		}
		while (got < len) {
			ssize_t r = recv(fd, in + got, len - got, 0);
			if (r <= 0) {
				snprintf(why, whylen, "recv at byte %zu/%zu: %s", done + got, total,
						r < 0 ? strerror(errno) : "EOF");
				return 0;
			}
			got += r;
		}
		if (memcmp(in, out, len) != 0) {
			snprintf(why, whylen, "bytes %zu..%zu came back different", done, done + len);
			return 0;
		}
		done += len;
	}
	return 1;
}

int vt_tcp_echo(struct vdestack *a, struct vdestack *b, const char *ip, int port,
		size_t total, char *why, size_t whylen)
{
	int lfd = vt_listen(a, ip, port), c, ok;

	if (lfd < 0) {
		snprintf(why, whylen, "listen on %s:%d in the server stack: %s", ip, port,
				strerror(errno));
		return 0;
	}
	vt_echo_server(lfd, 1);
	c = vt_connect(b, ip, port, 15);
	if (c < 0) {
		snprintf(why, whylen, "connect to %s:%d from the client stack: %s", ip, port,
				strerror(errno));
		return 0;
	}
	ok = vt_echo_roundtrip(c, total, why, whylen);
	close(c);
	return ok;
}

/* ---------------------------------------------------------------- driver --- */
static int vt_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static int vt_run(int i)
{
	const char *name = vt_tests[i].name;
	int secs = vt_tests[i].secs, st = 0, rc = 0;
	pid_t body, r, left[256];
	double t0 = vt_now(), end = t0 + secs;
	int nleft;

	snprintf(vt_dir, sizeof(vt_dir), "/tmp/vdst-%.40s.XXXXXX", name);
	if (!mkdtemp(vt_dir)) {
		printf("FAIL %s: cannot create a scratch directory: %s\n", name, strerror(errno));
		return 1;
	}
	chmod(vt_dir, 0755);
	printf("==== %s (uid %d, limit %d s, scratch %s)\n", name, (int)getuid(), secs, vt_dir);
	fflush(stdout);
	body = fork();
	if (body < 0) {
		printf("FAIL %s: fork: %s\n", name, strerror(errno));
		return 1;
	}
	if (body == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		vt_failures = 0;
		vt_tests[i].fn();
		vt_cleanup_body();
		fflush(stdout);
		_exit(vt_failures ? 1 : 0);
	}
	setpgid(body, body);
	while ((r = waitpid(body, &st, WNOHANG)) == 0 && vt_now() < end)
		vt_sleep(0.01);
	if (r == 0) {
		printf("FAIL %s: did not finish within %d s (killed)\n", name, secs);
		kill(-body, SIGKILL);
		kill(body, SIGKILL);
		waitpid(body, &st, 0);
		rc = 1;
	} else if (WIFSIGNALED(st)) {
		printf("FAIL %s: the test process died with signal %d (%s)\n", name,
				WTERMSIG(st), strsignal(WTERMSIG(st)));
		rc = 1;
	} else if (WEXITSTATUS(st) != 0) {
		rc = 1;
	}
	/*
	 * Whatever the body started (stacks' helpers, their commands) must go
	 * with it.  Orphans come to us (subreaper): give them a second.
	 */
	double lend = vt_now() + 1.5;
	do {
		vt_reap();
		nleft = vt_descendants(getpid(), left, 256);
		int live = 0;
		for (int k = 0; k < nleft; k++)
			live += vt_alive(left[k]);
		if (!live) {
			nleft = 0;
			break;
		}
		vt_sleep(0.02);
	} while (vt_now() < lend);
	if (nleft > 0) {
		printf("FAIL %s: %d process(es) outlived the test process by 1.5 s:", name, nleft);
		for (int k = 0; k < nleft; k++)
			printf(" %d(%s)", (int)left[k], vt_comm(left[k]));
		printf(" -- killing them\n");
		for (int k = 0; k < nleft; k++)
			kill(left[k], SIGKILL);
		vt_sleep(0.1);
		vt_reap();
		rc = 1;
	}
	nftw(vt_dir, vt_rm, 16, FTW_DEPTH | FTW_PHYS);
	printf("%s %s (%.2f s)\n", rc ? "FAIL" : "PASS", name, vt_now() - t0);
	fflush(stdout);
	return rc;
}

int main(int argc, char **argv)
{
	int failed = 0, ran = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && strcmp(argv[1], "--list") == 0) {
		for (int i = 0; i < vt_ntests; i++)
			printf("%s %d\n", vt_tests[i].name, vt_tests[i].secs);
		return 0;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	for (int i = 0; i < vt_ntests; i++) {
		int sel = argc == 1;
		for (int j = 1; j < argc; j++)
			sel |= strcmp(argv[j], vt_tests[i].name) == 0;
		if (!sel)
			continue;
		ran++;
		failed += vt_run(i);
	}
	if (ran == 0) {
		fprintf(stderr, "%s: no such test; --list shows them\n", argv[0]);
		return 2;
	}
	if (argc == 1 || ran > 1)
		printf("%d passed, %d failed\n", ran - failed, failed);
	return failed ? 1 : 0;
}

int vt_children(pid_t pid, pid_t *out, int max)
{
	pid_t d[512];
	int n = vt_descendants(pid, d, 512), k = 0;

	for (int i = 0; i < n && k < max; i++) {
		char path[64], buf[512], *p;

		snprintf(path, sizeof(path), "/proc/%d/stat", (int)d[i]);
		if (vt_read_file(path, buf, sizeof(buf)) <= 0)
			continue;
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] != 'Z' && atoi(p + 4) == pid)
			out[k++] = d[i];
	}
	return k;
}
