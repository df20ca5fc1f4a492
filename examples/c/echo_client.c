/*
 * echo_client - a client for echo_server, in a network stack of its own.
 *
 * usage: echo_client VNL SERVER_IP CLIENT_CIDR [LINE...]
 *   VNL          the VDE network the server is on (e.g. vde:///tmp/mysw)
 *   SERVER_IP    the server's address (port 5000)
 *   CLIENT_CIDR  this client's address on vde0, e.g. 10.0.0.2/24
 *   LINE...      lines to send; without any, lines are read from stdin
 * Every line is sent and what comes back is printed.  Exit status 0 when
 * every line came back unchanged.
 *
 * build: cc -o echo_client echo_client.c $(pkg-config --cflags --libs vdestack)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <vdestack.h>

/* connect, retrying for a few seconds while the server's stack comes up */
static int connect_server(struct vdestack *stack, struct sockaddr_in *srv)
{
	for (int tries = 0; tries < 100; tries++) {
		struct timeval tv = { 5, 0 };
		int fd = vde_msocket(stack, AF_INET, SOCK_STREAM, 0);

		if (fd < 0)
			return -1;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fd, (struct sockaddr *)srv, sizeof(*srv)) == 0)
			return fd;
		close(fd);
		usleep(100000);
	}
	return -1;
}

/* send one line, read the same number of bytes back, print them */
static int echo_line(int fd, const char *line)
{
	size_t len = strlen(line), got = 0;
	char back[4096];

	if (len > sizeof(back))
		len = sizeof(back);
	if (send(fd, line, len, 0) != (ssize_t)len) {
		perror("send");
		return 0;
	}
	while (got < len) {
		ssize_t n = recv(fd, back + got, len - got, 0);
		if (n <= 0) {
			fprintf(stderr, "recv: %s\n", n == 0 ? "connection closed" : strerror(errno));
			return 0;
		}
		got += n;
	}
	printf("sent: %.*s", (int)len, line);
	printf("back: %.*s", (int)got, back);
	return memcmp(back, line, len) == 0;
}

int main(int argc, char *argv[])
{
	struct sockaddr_in srv = { .sin_family = AF_INET, .sin_port = htons(5000) };
	struct vdestack *stack;
	char cmd[512], line[4096];
	int fd, ok = 1, rc;

	if (argc < 4) {
		fprintf(stderr, "usage: %s VNL SERVER_IP CLIENT_CIDR [LINE...]\n", argv[0]);
		return 2;
	}
	if (inet_pton(AF_INET, argv[2], &srv.sin_addr) != 1) {
		fprintf(stderr, "%s: not an IPv4 address\n", argv[2]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	stack = vde_addstack(argv[1], NULL);
	if (!stack) {
		perror("vde_addstack");
		return 1;
	}
#ifdef VDESTACK_EXTENSIONS
	snprintf(cmd, sizeof(cmd), "ip=%s", argv[3]);	/* brings vde0 up too */
	rc = vdestack_config(stack, cmd);
	if (rc != 0) {
		fprintf(stderr, "vdestack_config(\"%s\"): %s\n", cmd, strerror(errno));
		vde_delstack(stack);
		return 1;
	}
#else
	snprintf(cmd, sizeof(cmd), "/bin/busybox ip addr add %s dev vde0;"
			"/bin/busybox ip link set vde0 up", argv[3]);
	rc = vde_stackcmd(stack, cmd);
	if (rc != 0) {
		fprintf(stderr, "configuring vde0 failed (status %d)\n", rc);
		vde_delstack(stack);
		return 1;
	}
#endif
	fd = connect_server(stack, &srv);
	if (fd < 0) {
		fprintf(stderr, "cannot connect to %s:5000: %s\n", argv[2], strerror(errno));
		vde_delstack(stack);
		return 1;
	}
	if (argc > 4) {
		for (int i = 4; i < argc && ok; i++) {
			snprintf(line, sizeof(line), "%s\n", argv[i]);
			ok = echo_line(fd, line);
		}
	} else {
		while (ok && fgets(line, sizeof(line), stdin))
			ok = echo_line(fd, line);
	}
	close(fd);
	vde_delstack(stack);
	return ok ? 0 : 1;
}
