/*
 * quickstart.c - the README's C quick start: two stacks on one VDE link
 * (ptp://), a TCP connection from a socket of one to a socket of the other.
 * Prints "hello over VDE" and exits 0 when the bytes arrived.
 *
 *   cc quickstart.c $(pkg-config --cflags --libs vdestack) && ./a.out
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <vdestack.h>

int main(void)
{
	char dir[] = "/tmp/quickstart.XXXXXX", vnl[64], buf[32] = "";
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(5000) };
	struct vdestack *a, *b;
	int srv, cli, conn;

	if (!mkdtemp(dir))
		return 1;
	snprintf(vnl, sizeof(vnl), "ptp://%s/link", dir);
	a = vde_addstack(vnl, NULL);			/* two stacks, one link */
	b = vde_addstack(vnl, NULL);
	if (!a || !b) {
		perror("vde_addstack");
		return 1;
	}
	/* an address each, vde0 up: in-process, no command runs */
	if (vdestack_config(a, "ip=10.0.0.1/24") < 0 ||
	    vdestack_config(b, "ip=10.0.0.2/24") < 0)
		return perror("vdestack_config"), 1;

	srv = vde_msocket(a, AF_INET, SOCK_STREAM, 0);	/* a socket in stack a */
	inet_pton(AF_INET, "10.0.0.1", &sa.sin_addr);
	if (bind(srv, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(srv, 1) < 0)
		return perror("bind"), 1;
	cli = vde_msocket(b, AF_INET, SOCK_STREAM, 0);	/* a socket in stack b */
	if (connect(cli, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return perror("connect"), 1;
	conn = accept(srv, NULL, NULL);
	if (write(cli, "hello over VDE", 14) != 14 || read(conn, buf, sizeof(buf) - 1) <= 0)
		return perror("write/read"), 1;
	printf("%s\n", buf);

	close(conn);
	close(cli);
	close(srv);
	vde_delstack(b);
	vde_delstack(a);
	rmdir(dir);
	return strcmp(buf, "hello over VDE") != 0;
}
