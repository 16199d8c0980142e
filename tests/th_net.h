/*
 * th_net.h: a 127.0.0.1 port that nobody listens on, for the tests of a
 * refused connection (test_http, test_engine). Header only.
 */
#ifndef SDQ_TH_NET_H
#define SDQ_TH_NET_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A port the kernel just gave out and that was closed again at once: a
 * connection to it is refused (unless something takes it in between). */
static inline int th_dead_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	int s = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(s, (struct sockaddr *)&sa, sizeof sa);
	getsockname(s, (struct sockaddr *)&sa, &sl);
	close(s);
	return ntohs(sa.sin_port);
}

#endif
