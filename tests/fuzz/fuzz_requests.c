/* Fuzzes every generated request decoder.
 *
 * Input: byte 0 picks the request (modulo the number of requests), byte 1 the
 * version (modulo the served range), the rest is the request body.  Whatever
 * decodes must re-encode without crashing, and re-encoding what we decoded
 * must be stable: decode(encode(x)) encodes to the same bytes again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/messages_test.h"
#include "util/arena.h"

static const gr_test_message_t *requests[256];
static int nrequests;

static void collect_requests(void)
{
    for (int i = 0; i < gr_test_message_count; i++)
        if (gr_test_messages[i].is_request)
            requests[nrequests++] = &gr_test_messages[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!nrequests)
        collect_requests();
    if (size < 2)
        return 0;
    const gr_test_message_t *m = requests[data[0] % nrequests];
    int16_t version = (int16_t)(m->min_version + data[1] % (m->max_version - m->min_version + 1));

    gr_arena_t arena;
    gr_arena_init(&arena);
    void *msg = gr_arena_alloc(&arena, m->size);
    void *again = gr_arena_alloc(&arena, m->size);
    gr_reader_t r;
    gr_reader_init(&r, data + 2, size - 2);
    if (msg && again && m->decode(&r, &arena, version, msg) == 0) {
        gr_writer_t first, second;
        gr_writer_init(&first);
        gr_writer_init(&second);
        m->encode(&first, version, msg);
        gr_reader_t r2;
        /* An empty body leaves buf NULL; gr_reader_init would offset it. */
        gr_reader_init(&r2, first.len ? first.buf : (const uint8_t *)"", first.len);
        if (m->decode(&r2, &arena, version, again) != 0 || gr_reader_left(&r2) != 0)
            abort();  /* our own encoding must decode, completely */
        m->encode(&second, version, again);
        if (first.len != second.len || (first.len && memcmp(first.buf, second.buf, first.len) != 0))
            abort();
        gr_writer_free(&first);
        gr_writer_free(&second);
    }
    gr_arena_destroy(&arena);
    return 0;
}
