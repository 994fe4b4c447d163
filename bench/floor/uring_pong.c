/* The floor of an io_uring server: same replies as epoll_pong.c, but every
 * connection always has one recv in flight, and the sends and recvs produced by
 * one batch of completions go to the kernel in a single io_uring_enter. Its CPU
 * time per request is the least a completion-based I/O layer could cost.
 * Build: cc -O2 -o uring_pong uring_pong.c -luring    Run: ./uring_pong PORT */
#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXC 4096
enum { ACCEPT, RECV, SEND };
struct conn { int fd; char in[16384]; char out[16384 * 4]; };
static struct conn *conns[MAXC];

static void *tag(int kind, int fd) { return (void *)(((long)fd << 2) | kind); }

static struct io_uring_sqe *sqe(struct io_uring *r) {
    struct io_uring_sqe *s = io_uring_get_sqe(r);
    if (!s) { io_uring_submit(r); s = io_uring_get_sqe(r); }
    return s;
}

static void arm_recv(struct io_uring *r, struct conn *c) {
    struct io_uring_sqe *s = sqe(r);
    io_uring_prep_recv(s, c->fd, c->in, sizeof c->in, 0);
    io_uring_sqe_set_data(s, tag(RECV, c->fd));
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 7098;
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (void *)&a, sizeof a) || listen(ls, 511)) { perror("listen"); return 1; }
    struct io_uring ring;
    struct io_uring_params p = {0};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN;
    if (io_uring_queue_init_params(1024, &ring, &p) < 0) {
        memset(&p, 0, sizeof p);
        if (io_uring_queue_init_params(1024, &ring, &p) < 0) { perror("io_uring"); return 1; }
    }
    struct io_uring_sqe *s = sqe(&ring);
    io_uring_prep_accept(s, ls, NULL, NULL, 0);
    io_uring_sqe_set_data(s, tag(ACCEPT, ls));
    for (;;) {
        io_uring_submit_and_wait(&ring, 1);
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            long t = (long)io_uring_cqe_get_data(cqe);
            int kind = t & 3, fd = t >> 2, res = cqe->res;
            if (kind == ACCEPT) {
                if (res >= 0 && res < MAXC) {
                    setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *c = calloc(1, sizeof *c);
                    c->fd = res; conns[res] = c;
                    arm_recv(&ring, c);
                }
                s = sqe(&ring);
                io_uring_prep_accept(s, ls, NULL, NULL, 0);
                io_uring_sqe_set_data(s, tag(ACCEPT, ls));
            } else if (kind == RECV) {
                struct conn *c = conns[fd];
                if (res <= 0) { close(fd); free(c); conns[fd] = NULL; continue; }
                size_t len = 0;
                for (int j = 0; j < res; j++)
                    if (c->in[j] == '*' && len + 7 <= sizeof c->out) { memcpy(c->out + len, "+PONG\r\n", 7); len += 7; }
                if (len) {
                    s = sqe(&ring);
                    io_uring_prep_send(s, fd, c->out, len, 0);
                    io_uring_sqe_set_data(s, tag(SEND, fd));
                }
                arm_recv(&ring, c);
            }
        }
        io_uring_cq_advance(&ring, seen);
    }
}
