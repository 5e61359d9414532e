/* A client connection: size-prefixed Kafka frames in, responses out in
 * request order.
 *
 * Receiving.  Bytes are read into a reference-counted chunk (gr_rbuf_t).  A
 * request is decoded in place: its strings and record batches are views into
 * the chunk, and a request that has to wait (long-poll fetch, durable
 * produce) keeps the chunk alive by holding a reference.  The connection
 * starts a new chunk when it needs room and the old one is still referenced,
 * copying only the partial frame at its end — produced batches are never
 * copied after the socket read.
 *
 * Sending.  Each request gets a slot in the connection's response queue when
 * it arrives; handlers complete slots in any order, and the queue sends
 * completed slots from the head, so clients see responses in request order
 * (as Kafka guarantees) while many requests are in flight.  A response is
 * bytes interleaved with file ranges, sent with writev() and sendfile(),
 * resuming on EPOLLOUT after a partial write.
 */
#ifndef GR_CONN_H
#define GR_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "net/loop.h"
#include "protocol/prim.h"
#include "util/arena.h"
#include "util/buf.h"

typedef struct gr_conn gr_conn_t;
typedef struct gr_server gr_server_t;

typedef struct gr_rbuf {
    int refs;
    size_t cap;
    uint8_t data[];
} gr_rbuf_t;

typedef struct gr_request {
    gr_conn_t *conn;
    struct gr_request *next;        /* response queue order */
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    gr_str_t client_id;
    bool flexible;                  /* request header v2 / response header v1 */
    gr_reader_t body;               /* the request body after the header */
    gr_rbuf_t *rbuf;                /* keeps the frame's bytes alive */
    gr_arena_t arena;
    gr_writer_t out;                /* the whole response frame */
    bool done;                      /* out is complete (or no response) */
    bool no_response;               /* acks=0 produce: nothing is sent */
    size_t sent;                    /* bytes of out already sent */
    void *parked;                   /* handler state while waiting */
} gr_request_t;

/* Called for each complete request frame whose header parsed.  The handler
 * must eventually call gr_request_finish() (or _close_connection). */
typedef void (*gr_request_fn)(void *app, gr_request_t *req);
/* Called when a request frame's header cannot be parsed or names an API the
 * app does not serve; the app decides to answer or close. */

struct gr_server_config {
    const char *host;
    int port;
    int32_t max_request_bytes;      /* socket.request.max.bytes */
    gr_request_fn on_request;
    void *app;
};

gr_server_t *gr_server_start(gr_loop_t *loop, const struct gr_server_config *cfg);
int gr_server_port(const gr_server_t *srv);    /* the bound port */
void gr_server_stop(gr_server_t *srv);         /* closes the listener and all connections */

/* Starts the response: size placeholder, correlation id, and the header tag
 * buffer for flexible responses (except ApiVersions, KIP-511). */
void gr_response_begin(gr_request_t *req);
/* Completes the request (patching the frame size) and sends what is ready. */
void gr_request_finish(gr_request_t *req);
/* Completes the request without a response (acks=0). */
void gr_request_finish_silently(gr_request_t *req);
/* Kafka closes the connection on some errors; the request is dropped. */
void gr_request_close_connection(gr_request_t *req, const char *why);
/* Whether the connection is still open (a parked request checks before
 * finishing; finishing on a closed connection just frees the request). */
bool gr_request_conn_alive(const gr_request_t *req);
/* "1.2.3.4:5678" of the peer, for logs. */
const char *gr_conn_peer(const gr_conn_t *conn);

#endif
