/*
 * consumer.c - a user's program built against an installed vdestack:
 * a stack with loopback only, a command in it, and bytes through a TCP
 * connection between two of its sockets.  Prints "ok VERSION" and exits 0
 * when the bytes came back.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <vdestack.h>

int main(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct vdestack *s = vde_addstack(NULL, NULL);
	char buf[16] = "";
	int srv, cli, conn, rc = 1;

	if (!s) {
		perror("vde_addstack");
		return 1;
	}
	if (vde_stackcmd(s, "/bin/busybox true") != 0) {
		fprintf(stderr, "vde_stackcmd failed\n");
		goto out;
	}
	srv = vde_msocket(s, AF_INET, SOCK_STREAM, 0);
	cli = vde_msocket(s, AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (srv < 0 || cli < 0 || bind(srv, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(srv, 1) < 0 || getsockname(srv, (struct sockaddr *)&sa, &len) < 0 ||
	    connect(cli, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("sockets in the stack");
		goto out;
	}
	conn = accept(srv, NULL, NULL);
	if (conn < 0 || write(cli, "hello", 5) != 5 || read(conn, buf, 5) != 5 ||
	    memcmp(buf, "hello", 5) != 0) {
		fprintf(stderr, "no echo in the stack: '%s'\n", buf);
		goto out;
	}
	printf("ok %s\n", vdestack_version());
	rc = 0;
out:
	vde_delstack(s);
	return rc;
}
