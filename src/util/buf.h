/* Byte buffers for the wire.
 *
 * gr_reader_t walks a received frame.  Reads past the end set `err` and
 * return zeroes, so a decoder can read a whole struct and check once
 * (librdkafka's err_parse idea without the goto per field).
 *
 * gr_writer_t builds a response.  Besides bytes it can hold file ranges
 * ("splices"): a fetch response is the header bytes, then a range of a
 * segment file to sendfile(), then more bytes, and so on.  The frame size is
 * the bytes plus the spliced lengths, so it is known before anything is sent.
 */
#ifndef GR_BUF_H
#define GR_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "util/file.h"

typedef struct gr_reader {
    const uint8_t *p;
    const uint8_t *end;
    int err;            /* set on underflow or a malformed field; sticky */
} gr_reader_t;

static inline void gr_reader_init(gr_reader_t *r, const void *p, size_t len)
{
    static const uint8_t empty[1];
    r->p = p ? p : empty;   /* NULL + 0 is undefined behaviour in C */
    r->end = r->p + (p ? len : 0);
    r->err = 0;
}

static inline size_t gr_reader_left(const gr_reader_t *r) { return (size_t)(r->end - r->p); }

/* A file range that goes out after `at` bytes of the writer's buffer. */
typedef struct gr_splice {
    size_t at;
    gr_file_t *file;    /* one reference held by the writer */
    int64_t off;
    int64_t len;
} gr_splice_t;

typedef struct gr_writer {
    uint8_t *buf;
    size_t len, cap;
    gr_splice_t *splices;
    int nsplices, splice_cap;
    int64_t spliced_bytes;
    int oom;            /* an allocation failed; the content is incomplete */
} gr_writer_t;

void gr_writer_init(gr_writer_t *w);
/* Drops content and splices (releasing their files) but keeps the memory. */
void gr_writer_reset(gr_writer_t *w);
void gr_writer_free(gr_writer_t *w);
/* Makes room for n more bytes and returns where they go (NULL on OOM). */
uint8_t *gr_writer_reserve(gr_writer_t *w, size_t n);
void gr_writer_put(gr_writer_t *w, const void *p, size_t n);
/* Appends a file range; takes a new reference on `file`. */
void gr_writer_splice(gr_writer_t *w, gr_file_t *file, int64_t off, int64_t len);
static inline int64_t gr_writer_size(const gr_writer_t *w) { return (int64_t)w->len + w->spliced_bytes; }

#endif
