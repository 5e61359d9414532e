/* The Kafka API layer: one file per request family, each handler decoding
 * its request with the generated codec, acting through the broker
 * (src/broker/), and encoding the response.
 *
 * A handler either finishes the request before returning, or parks it (its
 * state in req->arena, req->parked) and finishes it later on the loop
 * thread: a long-poll fetch when data arrives, a durable produce when its
 * fsync is done.  Responses still go out in request order (src/net/conn.h).
 */
#ifndef GR_API_H
#define GR_API_H

#include "broker/broker.h"
#include "net/conn.h"
#include "protocol/errors.h"
#include "protocol/messages.h"
#include "util/log.h"

typedef void (*gr_api_handler_fn)(gr_broker_t *b, gr_request_t *req);

/* The connection layer's callback for each frame: parses the request header,
 * checks the API and version, and calls the handler.  `app` is the broker. */
void gr_api_dispatch(void *app, gr_request_t *req);

/* The handler for an API key, or NULL if Gregor does not serve it.
 * ApiVersions advertises exactly the keys that have one. */
gr_api_handler_fn gr_api_handler(int16_t key);

/* A body that does not decode: Kafka closes the connection. */
void gr_api_malformed(gr_request_t *req, const char *api);

/* Encodes `msg` as the response body and finishes the request. */
#define GR_API_RESPOND(req, Type, msg)                                  \
    do {                                                                \
        gr_response_begin(req);                                         \
        gr_##Type##_encode(&(req)->out, (req)->api_version, (msg));     \
        gr_request_finish(req);                                         \
    } while (0)

/* Decodes the body into `msg`, or answers malformed input and returns. */
#define GR_API_DECODE(req, Type, msg)                                                     \
    do {                                                                                  \
        if (gr_##Type##_decode(&(req)->body, &(req)->arena, (req)->api_version, (msg)) < 0) { \
            gr_api_malformed(req, #Type);                                                 \
            return;                                                                       \
        }                                                                                 \
    } while (0)

/* Allocates `n` zeroed elements from the request's arena (n may be 0). */
#define GR_API_ALLOC(req, ptr, n) ((ptr) = gr_arena_calloc(&(req)->arena, (size_t)(n) ? (size_t)(n) : 1, sizeof *(ptr)))

/* A NUL-terminated copy of a wire string in the request's arena. */
char *gr_api_cstr(gr_request_t *req, gr_str_t s);

/* Handlers, one per API (src/api/<family>.c). */
void gr_api_api_versions(gr_broker_t *b, gr_request_t *req);
void gr_api_metadata(gr_broker_t *b, gr_request_t *req);
void gr_api_produce(gr_broker_t *b, gr_request_t *req);
void gr_api_fetch(gr_broker_t *b, gr_request_t *req);
void gr_api_list_offsets(gr_broker_t *b, gr_request_t *req);
void gr_api_create_topics(gr_broker_t *b, gr_request_t *req);
void gr_api_delete_topics(gr_broker_t *b, gr_request_t *req);
void gr_api_create_partitions(gr_broker_t *b, gr_request_t *req);
void gr_api_describe_configs(gr_broker_t *b, gr_request_t *req);
void gr_api_alter_configs(gr_broker_t *b, gr_request_t *req);
void gr_api_incremental_alter_configs(gr_broker_t *b, gr_request_t *req);
void gr_api_delete_records(gr_broker_t *b, gr_request_t *req);
void gr_api_describe_cluster(gr_broker_t *b, gr_request_t *req);
void gr_api_describe_log_dirs(gr_broker_t *b, gr_request_t *req);
void gr_api_find_coordinator(gr_broker_t *b, gr_request_t *req);
void gr_api_join_group(gr_broker_t *b, gr_request_t *req);
void gr_api_sync_group(gr_broker_t *b, gr_request_t *req);
void gr_api_heartbeat(gr_broker_t *b, gr_request_t *req);
void gr_api_leave_group(gr_broker_t *b, gr_request_t *req);
void gr_api_offset_commit(gr_broker_t *b, gr_request_t *req);
void gr_api_offset_fetch(gr_broker_t *b, gr_request_t *req);
void gr_api_list_groups(gr_broker_t *b, gr_request_t *req);
void gr_api_describe_groups(gr_broker_t *b, gr_request_t *req);
void gr_api_delete_groups(gr_broker_t *b, gr_request_t *req);
void gr_api_offset_delete(gr_broker_t *b, gr_request_t *req);

#endif
