// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * origpeer.c - a TCP peer on a stack of the ORIGINAL libvdestack (Debian
 * libvdestack0), for test_interop.c.  Built with our vdestack.h (the five
 * original calls) and linked by full path to the original library, with an
 * rpath so that the dynamic linker cannot pick ours instead; the first line
 * of output names the library really loaded.
 *
 *   origpeer VNL CIDR serve PORT           echo one connection, then exit
 *   origpeer VNL CIDR connect IP PORT N    send N bytes, expect them back
 *
 * Exit status 0 on success; prints "ready" once serving.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <vdestack.h>

static void print_lib(void)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	while (f && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "/libvdestack.so");

		if (p) {
			while (p > line && p[-1] != ' ')
				p--;
			printf("lib %s", p);
			break;
		}
	}
	if (f)
		fclose(f);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct vdestack *s;
	char cmd[512];
	int fd, one = 1, rc, i;

	if (argc < 5)
		return 2;
	s = vde_addstack(argv[1], NULL);
	if (!s) {
		perror("vde_addstack");
		return 3;
	}
	print_lib();
	snprintf(cmd, sizeof(cmd), "/bin/busybox ip addr add %s dev vde0; "
		 "/bin/busybox ip link set vde0 up", argv[2]);
	rc = vde_stackcmd(s, cmd);
	if (rc != 0) {
		fprintf(stderr, "vde_stackcmd: %d\n", rc);
		return 4;
	}
	fd = vde_msocket(s, AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("vde_msocket");
		return 5;
	}
	if (strcmp(argv[3], "serve") == 0) {
		char buf[65536];
		ssize_t n;
		int c;

		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		sa.sin_port = htons(atoi(argv[4]));
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
			perror("bind/listen");
			return 6;
		}
		printf("ready\n");
		fflush(stdout);
		c = accept(fd, NULL, NULL);
		if (c < 0) {
			perror("accept");
			return 7;
		}
		while ((n = read(c, buf, sizeof(buf))) > 0)
			if (write(c, buf, n) != n)
				return 8;
		close(c);
	} else if (strcmp(argv[3], "connect") == 0 && argc >= 7) {
		size_t total = strtoul(argv[6], NULL, 0), sent = 0, got = 0;
		unsigned char *out = malloc(total), *in = malloc(total);

		for (i = 0; i < (int)total; i++)
			out[i] = (unsigned char)(i * 7 + 3);
		sa.sin_port = htons(atoi(argv[5]));
		inet_pton(AF_INET, argv[4], &sa.sin_addr);
		for (i = 0; connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0; i++) {
			if (i > 100) {
				perror("connect");
				return 9;
			}
			close(fd);
			usleep(100000);
			fd = vde_msocket(s, AF_INET, SOCK_STREAM, 0);
		}
		while (got < total) {
			ssize_t n;

			if (sent < total) {
				n = write(fd, out + sent, total - sent > 16384 ? 16384 : total - sent);
				if (n < 0)
					return 10;
				sent += n;
			}
			n = read(fd, in + got, total - got);
			if (n <= 0)
				return 11;
			got += n;
		}
		if (memcmp(in, out, total) != 0)
			return 12;
		printf("echoed %zu\n", got);
	} else {
		return 2;
	}
	close(fd);
	vde_delstack(s);
	return 0;
}
