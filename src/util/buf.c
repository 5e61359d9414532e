#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

void gr_writer_init(gr_writer_t *w) { memset(w, 0, sizeof *w); }

void gr_writer_reset(gr_writer_t *w)
{
    for (int i = 0; i < w->nsplices; i++) gr_file_release(w->splices[i].file);
    w->nsplices = 0;
    w->spliced_bytes = 0;
    w->len = 0;
    w->oom = 0;
}

void gr_writer_free(gr_writer_t *w)
{
    gr_writer_reset(w);
    free(w->buf);
    free(w->splices);
    memset(w, 0, sizeof *w);
}

uint8_t *gr_writer_reserve(gr_writer_t *w, size_t n)
{
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len < n) cap *= 2;
        uint8_t *nb = realloc(w->buf, cap);
        if (!nb) {
            w->oom = 1;
            return NULL;
        }
        w->buf = nb;
        w->cap = cap;
    }
    return w->buf + w->len;
}

void gr_writer_put(gr_writer_t *w, const void *p, size_t n)
{
    uint8_t *dst = gr_writer_reserve(w, n);
    if (!dst) return;
    if (n) memcpy(dst, p, n);
    w->len += n;
}

void gr_writer_splice(gr_writer_t *w, gr_file_t *file, int64_t off, int64_t len)
{
    if (len <= 0) return;
    if (w->nsplices == w->splice_cap) {
        int cap = w->splice_cap ? w->splice_cap * 2 : 8;
        gr_splice_t *ns = realloc(w->splices, (size_t)cap * sizeof *ns);
        if (!ns) {
            w->oom = 1;
            return;
        }
        w->splices = ns;
        w->splice_cap = cap;
    }
    w->splices[w->nsplices++] = (gr_splice_t){w->len, gr_file_keep(file), off, len};
    w->spliced_bytes += len;
}
