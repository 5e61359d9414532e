#include "net/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "protocol/errors.h"
#include "util/log.h"

#define GR_RBUF_DEFAULT (256 * 1024)
#define GR_RBUF_MAX (64 * 1024 * 1024)      /* larger frames get just their own size and a half */
/* A connection stops reading once this many requests wait for their turn to
 * be answered: backpressure on a client that pipelines faster than we answer. */
#define GR_CONN_MAX_INFLIGHT 256
#define GR_IOV_MAX 64

struct gr_server {
    gr_io_t io;
    gr_loop_t *loop;
    struct gr_server_config cfg;
    int port;
    gr_conn_t *conns;               /* all open connections */
};

struct gr_conn {
    gr_io_t io;
    gr_server_t *srv;
    gr_conn_t *prev, *next;         /* server's list */
    int refs;                       /* 1 while open + 1 per queued request */
    bool closed;
    bool processing;                /* inside conn_process: send later */
    bool throttled;                 /* frames wait for the in-flight cap to lift */
    gr_rbuf_t *rbuf;
    size_t rpos, wpos;              /* unprocessed bytes are rbuf->data[rpos..wpos) */
    gr_request_t *head, *tail;      /* response queue */
    int inflight;
    char peer[64];
};

static void conn_release(gr_conn_t *conn);
static void conn_close(gr_conn_t *conn, const char *why);
static void conn_send(gr_conn_t *conn);
static void conn_process(gr_conn_t *conn);

/* --- receive chunks --- */

static gr_rbuf_t *rbuf_new(size_t cap)
{
    gr_rbuf_t *rb = malloc(sizeof *rb + cap);
    if (!rb) return NULL;
    rb->refs = 1;
    rb->cap = cap;
    return rb;
}

static void rbuf_release(gr_rbuf_t *rb)
{
    if (rb && --rb->refs == 0) free(rb);
}

/* Makes room for at least `need` bytes of unprocessed data in one chunk. */
static int conn_make_room(gr_conn_t *conn, size_t need)
{
    gr_rbuf_t *rb = conn->rbuf;
    size_t pending = conn->wpos - conn->rpos;
    if (rb && rb->cap - conn->rpos >= need && rb->cap > conn->wpos) return 0;
    if (rb && rb->refs == 1 && rb->cap >= need) {
        memmove(rb->data, rb->data + conn->rpos, pending);
    } else {
        /* Room for several frames of this size: producers send similar-sized
         * requests, a new chunk is fresh memory the kernel has to fault in,
         * and when the chunk fills up the partial frame at its end has to be
         * moved to the front — with room for 8 frames that copy touches about
         * 1/16 of the bytes instead of half of them. */
        size_t cap = GR_RBUF_DEFAULT;
        if (need > GR_RBUF_DEFAULT) cap = need <= GR_RBUF_MAX / 8 ? need * 8 : need + need / 2;
        gr_rbuf_t *nb = rbuf_new(cap);
        if (!nb) return GR_ENOMEM;
        if (pending) memcpy(nb->data, rb->data + conn->rpos, pending);
        rbuf_release(rb);
        conn->rbuf = nb;
    }
    conn->rpos = 0;
    conn->wpos = pending;
    return 0;
}

/* --- requests --- */

static void request_free(gr_request_t *req)
{
    rbuf_release(req->rbuf);
    gr_arena_destroy(&req->arena);
    gr_writer_free(&req->out);
    free(req);
}

bool gr_request_conn_alive(const gr_request_t *req) { return !req->conn->closed; }
const char *gr_conn_peer(const gr_conn_t *conn) { return conn->peer; }

void gr_response_begin(gr_request_t *req)
{
    gr_writer_reset(&req->out);
    gr_write_i32(&req->out, 0);  /* frame size, patched by finish */
    gr_write_i32(&req->out, req->correlation_id);
    /* ApiVersions (key 18) always answers with response header v0 (KIP-511),
     * so a client that sent a version we do not know can still parse it. */
    if (req->flexible && req->api_key != 18) gr_write_empty_tags(&req->out);
}

static void request_complete(gr_request_t *req)
{
    req->done = true;
    gr_conn_t *conn = req->conn;
    if (!conn->closed) {
        if (!conn->processing) conn_send(conn);
        return;
    }
    /* A parked request finishing after its connection went away. */
    gr_request_t **pp = &conn->head;
    while (*pp && *pp != req) pp = &(*pp)->next;
    if (*pp) *pp = req->next;
    conn->tail = NULL;
    for (gr_request_t *r = conn->head; r; r = r->next) conn->tail = r;
    conn->inflight--;
    request_free(req);
    conn_release(conn);
}

void gr_request_finish(gr_request_t *req)
{
    if (req->out.oom) {
        gr_request_close_connection(req, "out of memory building a response");
        return;
    }
    gr_patch_i32(&req->out, 0, (int32_t)(gr_writer_size(&req->out) - 4));
    request_complete(req);
}

void gr_request_finish_silently(gr_request_t *req)
{
    req->no_response = true;
    gr_writer_reset(&req->out);
    request_complete(req);
}

void gr_request_close_connection(gr_request_t *req, const char *why)
{
    req->no_response = true;
    req->done = true;
    conn_close(req->conn, why);
}

/* Pops finished requests off the head that have nothing (more) to send. */
static void conn_pop_done(gr_conn_t *conn)
{
    while (conn->head && conn->head->done &&
           (conn->head->no_response || (int64_t)conn->head->sent == gr_writer_size(&conn->head->out))) {
        gr_request_t *req = conn->head;
        conn->head = req->next;
        if (!conn->head) conn->tail = NULL;
        conn->inflight--;
        request_free(req);
        conn_release(conn);
    }
}

static void conn_advance(gr_conn_t *conn, size_t n)
{
    for (gr_request_t *req = conn->head; n && req; req = req->next) {
        if (req->no_response) continue;
        size_t left = (size_t)gr_writer_size(&req->out) - req->sent;
        size_t take = n < left ? n : left;
        req->sent += take;
        n -= take;
    }
    conn_pop_done(conn);
}

/* One piece of a response: bytes of the buffer, or a file range. */
typedef struct piece {
    const uint8_t *mem;
    gr_splice_t *splice;
    size_t len;
} piece_t;

/* The first unsent piece of req, at or after its `sent` position. */
static piece_t next_piece(gr_request_t *req, size_t from)
{
    gr_writer_t *w = &req->out;
    size_t logical = 0, bufpos = 0;
    for (int i = 0; i <= w->nsplices; i++) {
        size_t mem_end = i < w->nsplices ? w->splices[i].at : w->len;
        size_t mem_len = mem_end - bufpos;
        if (from < logical + mem_len)
            return (piece_t){w->buf + bufpos + (from - logical), NULL, mem_len - (from - logical)};
        logical += mem_len;
        bufpos = mem_end;
        if (i == w->nsplices) break;
        size_t flen = (size_t)w->splices[i].len;
        if (from < logical + flen) {
            gr_splice_t *s = &w->splices[i];
            return (piece_t){NULL, s, flen - (from - logical)};
        }
        logical += flen;
    }
    return (piece_t){NULL, NULL, 0};
}

static void conn_want_write(gr_conn_t *conn, bool want)
{
    uint32_t ev = EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0);
    if (conn->inflight >= GR_CONN_MAX_INFLIGHT) ev &= ~(uint32_t)EPOLLIN;
    gr_loop_modify(conn->srv->loop, &conn->io, ev);
}

static void conn_send(gr_conn_t *conn)
{
    conn_pop_done(conn);
    while (conn->head && conn->head->done && !conn->closed) {
        struct iovec iov[GR_IOV_MAX];
        int n = 0;
        piece_t file = {0};
        /* Gather byte pieces across consecutive finished responses until a
         * file range: many small responses go out in one writev(). */
        for (gr_request_t *req = conn->head; req && req->done && n < GR_IOV_MAX; req = req->next) {
            if (req->no_response) continue;
            size_t pos = req->sent;
            size_t total = (size_t)gr_writer_size(&req->out);
            while (pos < total && n < GR_IOV_MAX) {
                piece_t p = next_piece(req, pos);
                if (p.splice) {
                    file = p;
                    break;
                }
                iov[n++] = (struct iovec){(void *)p.mem, p.len};
                pos += p.len;
            }
            if (file.splice) break;
        }
        ssize_t wrote;
        size_t wanted;
        if (n > 0) {
            wanted = 0;
            for (int i = 0; i < n; i++) wanted += iov[i].iov_len;
            wrote = writev(conn->io.fd, iov, n);
        } else if (file.splice) {
            gr_splice_t *s = file.splice;
            off_t off = (off_t)(s->off + (s->len - (int64_t)file.len));
            wanted = file.len;
            wrote = sendfile(conn->io.fd, s->file->fd, &off, file.len);
            if (wrote == 0) {
                /* The file is shorter than the range we promised: the frame
                 * can no longer be completed, so the connection must go. */
                gr_error("conn %s: segment file shorter than the fetched range; closing", conn->peer);
                conn_close(conn, "short sendfile");
                return;
            }
        } else {
            break;
        }
        if (wrote < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                conn_want_write(conn, true);
                return;
            }
            if (errno == EINTR) continue;
            conn_close(conn, errno == EPIPE || errno == ECONNRESET ? NULL : "send failed");
            return;
        }
        conn_advance(conn, (size_t)wrote);
        if ((size_t)wrote < wanted) {
            conn_want_write(conn, true);
            return;
        }
    }
    conn_want_write(conn, false);
    /* Draining may have lifted the in-flight cap: frames may be waiting. */
    if (conn->throttled && conn->inflight < GR_CONN_MAX_INFLIGHT && !conn->processing) conn_process(conn);
}

/* --- receiving frames --- */

static void conn_process(gr_conn_t *conn)
{
    conn->processing = true;
    conn->throttled = false;
    conn->refs++;  /* the handler may close the connection under us */
    while (!conn->closed) {
        if (conn->inflight >= GR_CONN_MAX_INFLIGHT) {
            conn->throttled = true;
            break;
        }
        size_t avail = conn->wpos - conn->rpos;
        if (avail < 4) break;
        const uint8_t *p = conn->rbuf->data + conn->rpos;
        int32_t size = (int32_t)gr_be32(p);
        if (size < 0 || size > conn->srv->cfg.max_request_bytes) {
            gr_warn("conn %s: frame size %d outside [0, socket.request.max.bytes=%d]; closing",
                    conn->peer, size, conn->srv->cfg.max_request_bytes);
            conn_close(conn, NULL);
            break;
        }
        if (avail < 4 + (size_t)size) {
            if (conn->rbuf->cap - conn->rpos < 4 + (size_t)size) {
                if (conn_make_room(conn, 4 + (size_t)size) < 0) conn_close(conn, "out of memory");
            }
            break;
        }
        gr_request_t *req = calloc(1, sizeof *req);
        if (!req) {
            conn_close(conn, "out of memory");
            break;
        }
        req->conn = conn;
        req->rbuf = conn->rbuf;
        conn->rbuf->refs++;
        gr_reader_init(&req->body, p + 4, (size_t)size);
        gr_arena_init(&req->arena);
        gr_writer_init(&req->out);
        conn->rpos += 4 + (size_t)size;
        if (conn->tail) conn->tail->next = req;
        else conn->head = req;
        conn->tail = req;
        conn->inflight++;
        conn->refs++;
        conn->srv->cfg.on_request(conn->srv->cfg.app, req);
    }
    conn->processing = false;
    if (!conn->closed) conn_send(conn);
    conn_release(conn);
}

static void conn_read(gr_conn_t *conn)
{
    for (;;) {
        if (conn->inflight >= GR_CONN_MAX_INFLIGHT) {
            conn_want_write(conn, conn->head && conn->head->done);
            return;
        }
        if (!conn->rbuf || conn->wpos == conn->rbuf->cap) {
            /* Full: keep the unprocessed tail and read more after it. */
            size_t pending = conn->wpos - conn->rpos;
            if (conn_make_room(conn, pending + 4096 > GR_RBUF_DEFAULT ? pending + 4096 : GR_RBUF_DEFAULT) < 0) {
                conn_close(conn, "out of memory");
                return;
            }
        }
        ssize_t n = read(conn->io.fd, conn->rbuf->data + conn->wpos, conn->rbuf->cap - conn->wpos);
        if (n > 0) {
            conn->wpos += (size_t)n;
            conn_process(conn);
            if (conn->closed) return;
            continue;
        }
        if (n == 0) {
            if (conn->wpos > conn->rpos)
                gr_warn("conn %s: closed by peer with %zu bytes of an incomplete frame", conn->peer,
                        conn->wpos - conn->rpos);
            conn_close(conn, NULL);
            return;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) conn_close(conn, NULL);
        return;
    }
}

static void conn_on_io(gr_io_t *io, uint32_t events)
{
    gr_conn_t *conn = (gr_conn_t *)io;
    conn->refs++;
    if (events & EPOLLOUT) conn_send(conn);
    if (!conn->closed && (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))) conn_read(conn);
    conn_release(conn);
}

static void conn_free_deferred(void *arg)
{
    gr_conn_t *conn = arg;
    rbuf_release(conn->rbuf);
    free(conn);
}

static void conn_release(gr_conn_t *conn)
{
    if (--conn->refs > 0) return;
    /* Events for this connection may still be queued in this epoll batch;
     * free it only after the batch. */
    gr_loop_defer(conn->srv->loop, conn_free_deferred, conn);
}

static void conn_close(gr_conn_t *conn, const char *why)
{
    if (conn->closed) return;
    conn->closed = true;
    if (why) gr_warn("conn %s: closing: %s", conn->peer, why);
    gr_loop_del(conn->srv->loop, &conn->io);
    close(conn->io.fd);
    if (conn->prev) conn->prev->next = conn->next;
    else conn->srv->conns = conn->next;
    if (conn->next) conn->next->prev = conn->prev;
    /* Finished requests can go now; parked ones are freed when their
     * handler finishes them (it sees the connection is gone). */
    gr_request_t **pp = &conn->head;
    while (*pp) {
        gr_request_t *req = *pp;
        if (req->done) {
            *pp = req->next;
            request_free(req);
            conn->inflight--;
            conn->refs--;
        } else {
            pp = &req->next;
        }
    }
    conn->tail = NULL;
    for (gr_request_t *r = conn->head; r; r = r->next) conn->tail = r;
    conn_release(conn);
}

/* --- listener --- */

static void server_accept(gr_io_t *io, uint32_t events)
{
    gr_server_t *srv = (gr_server_t *)io;
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(srv->io.fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                gr_warn("listener: accept failed: errno %d", errno);
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        gr_conn_t *conn = calloc(1, sizeof *conn);
        if (!conn) {
            close(fd);
            continue;
        }
        conn->io.fd = fd;
        conn->io.fn = conn_on_io;
        conn->srv = srv;
        conn->refs = 1;
        char host[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
            port = ntohs(sin->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
            port = ntohs(sin6->sin6_port);
        }
        snprintf(conn->peer, sizeof conn->peer, "%s:%d", host, port);
        if (gr_loop_add(srv->loop, &conn->io, EPOLLIN | EPOLLRDHUP) < 0) {
            close(fd);
            free(conn);
            continue;
        }
        conn->next = srv->conns;
        if (srv->conns) srv->conns->prev = conn;
        srv->conns = conn;
        gr_debug("conn %s: accepted", conn->peer);
    }
}

gr_server_t *gr_server_start(gr_loop_t *loop, const struct gr_server_config *cfg)
{
    gr_server_t *srv = calloc(1, sizeof *srv);
    if (!srv) return NULL;
    srv->loop = loop;
    srv->cfg = *cfg;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    const char *host = cfg->host && cfg->host[0] ? cfg->host : NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        gr_error("listener: cannot resolve %s: %s", host ? host : "*", gai_strerror(rc));
        free(srv);
        return NULL;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0) break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        gr_error("listener: cannot listen on %s:%d: %s", host ? host : "*", cfg->port, strerror(errno));
        free(srv);
        return NULL;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    srv->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    srv->io.fd = fd;
    srv->io.fn = server_accept;
    gr_loop_add(loop, &srv->io, EPOLLIN);
    return srv;
}

int gr_server_port(const gr_server_t *srv) { return srv->port; }

void gr_server_stop(gr_server_t *srv)
{
    gr_loop_del(srv->loop, &srv->io);
    close(srv->io.fd);
    while (srv->conns) conn_close(srv->conns, NULL);
    free(srv);
}
