#define _GNU_SOURCE
/* The floor of an epoll server: answers every RESP command with +PONG and does
 * nothing else (no parsing beyond counting '*', no keyspace). Its CPU time per
 * request is what the kernel charges any readiness-based server (Redis's ae,
 * tokio/mio) for one recv + one send + its share of epoll_wait on loopback.
 * Build: cc -O2 -o epoll_pong epoll_pong.c    Run: ./epoll_pong PORT */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static char out[1 << 20];

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 7099;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (void *)&a, sizeof a) || listen(ls, 511)) { perror("listen"); return 1; }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls}, evs[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    char buf[65536];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                int c = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
                if (c < 0) continue;
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                continue;
            }
            ssize_t r = read(fd, buf, sizeof buf);
            if (r <= 0) { close(fd); continue; }
            size_t len = 0;
            for (ssize_t j = 0; j < r; j++)
                if (buf[j] == '*' && len + 7 <= sizeof out) { memcpy(out + len, "+PONG\r\n", 7); len += 7; }
            if (len && write(fd, out, len) < 0) close(fd);
        }
    }
}
