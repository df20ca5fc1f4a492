/*
 * echo_server - the multiclient TCP echo server of the libvdestack README:
 * a private network stack of its own, one forked child per connection.
 *
 * usage: echo_server [VNL [ADDRESS]]
 *   VNL      the VDE network (default "vde://", the default switch)
 *   ADDRESS  the server's IPv4 address on vde0, /24 (default 192.168.250.100)
 * The server listens on port 5000.  Try it with a switch made by the server
 * itself and the client of examples/c:
 *   echo_server switch:///tmp/mysw 10.0.0.1 &
 *   echo_client vde:///tmp/mysw 10.0.0.1 10.0.0.2/24 hello world
 *
 * build: cc -o echo_server echo_server.c $(pkg-config --cflags --libs vdestack)
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <vdestack.h>

struct vdestack *mystack;

static void getstatus(int signo)
{
	(void)signo;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(int argc, char *argv[])
{
	char *vnl = argc > 1 ? argv[1] : "vde://";
	char *addr = argc > 2 ? argv[2] : "192.168.250.100";
	struct sockaddr_in servaddr, cliaddr;
	int fd, connfd, rc;
	char buf[BUFSIZ];
	char cmd[512];

	/* one line per event, even when stdout is a pipe or a file */
	setvbuf(stdout, NULL, _IOLBF, 0);

	mystack = vde_addstack(vnl, NULL);
	if (mystack == NULL) {
		perror("vde_addstack");
		return 1;
	}
#ifdef VDESTACK_EXTENSIONS
	/* in-process: the address, and the interface up (an address implies it) */
	snprintf(cmd, sizeof(cmd), "ip=%s/24", addr);
	rc = vdestack_config(mystack, cmd);
	if (rc != 0) {
		perror("vdestack_config");
		vde_delstack(mystack);
		return 1;
	}
#else
	/* the original library: configure it with commands run in the stack */
	snprintf(cmd, sizeof(cmd), "/bin/busybox ip addr add %s/24 dev vde0;"
			"/bin/busybox ip link set vde0 up", addr);
	rc = vde_stackcmd(mystack, cmd);
	if (rc != 0) {
		fprintf(stderr, "configuring vde0 failed (status %d)\n", rc);
		vde_delstack(mystack);
		return 1;
	}
#endif
	signal(SIGCHLD, getstatus);

	fd = vde_msocket(mystack, AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("vde_msocket");
		vde_delstack(mystack);
		return 1;
	}

	memset(&servaddr, 0, sizeof(servaddr));
	servaddr.sin_family = AF_INET;
	servaddr.sin_port = htons(5000);
	servaddr.sin_addr.s_addr = htonl(INADDR_ANY);

	if (bind(fd, (struct sockaddr *)&servaddr, sizeof(servaddr)) < 0 || listen(fd, 5) < 0) {
		perror("bind/listen");
		vde_delstack(mystack);
		return 1;
	}
	printf("echo server: %s port 5000 on %s\n", addr, vnl);

	for (;;) {
		int n;
		socklen_t clilen = sizeof(cliaddr);

		connfd = accept(fd, (struct sockaddr *)&cliaddr, &clilen);
		if (connfd < 0)
			continue;

		switch (fork()) {
		case 0:
			close(fd);
			printf("new conn %d pid %d\n", connfd, getpid());
			while ((n = recv(connfd, buf, BUFSIZ, 0)) > 0) {
				printf("pid %d GOT: %*.*s", getpid(), n, n, buf);
				if (buf[n - 1] != '\n')
					printf("\n");
				send(connfd, buf, n, 0);
			}
			printf("close conn %d pid %d\n", connfd, getpid());
			close(connfd);
			exit(0);
		default:
			close(connfd);
			break;
		case -1:
			perror("fork");
			close(connfd);
			break;
		}
	}
	close(fd);
	vde_delstack(mystack);
	return 0;
}
