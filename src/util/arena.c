#include "util/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gr_arena_chunk {
    gr_arena_chunk_t *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

#define GR_ARENA_CHUNK 16384

void gr_arena_init(gr_arena_t *a) { a->head = a->spare = NULL; }

void *gr_arena_alloc(gr_arena_t *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    gr_arena_chunk_t *c = a->head;
    if (!c || c->cap - c->used < size) {
        if (a->spare && a->spare->cap >= size) {
            c = a->spare;
            a->spare = c->next;
        } else {
            size_t cap = size > GR_ARENA_CHUNK ? size : GR_ARENA_CHUNK;
            c = malloc(sizeof *c + cap);
            if (!c) return NULL;
            c->cap = cap;
        }
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

void *gr_arena_calloc(gr_arena_t *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return NULL;
    return gr_arena_alloc(a, n * size);
}

char *gr_arena_strndup(gr_arena_t *a, const char *s, size_t n)
{
    char *p = gr_arena_alloc(a, n + 1);
    if (p) memcpy(p, s, n);
    return p;
}

char *gr_arena_printf(gr_arena_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = gr_arena_alloc(a, (size_t)n + 1);
    if (!p) return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void gr_arena_reset(gr_arena_t *a)
{
    /* Keep at most a few standard chunks for reuse; give oversized ones back. */
    int kept = 0;
    while (a->head) {
        gr_arena_chunk_t *c = a->head;
        a->head = c->next;
        if (c->cap == GR_ARENA_CHUNK && kept < 8) {
            c->next = a->spare;
            a->spare = c;
            kept++;
        } else {
            free(c);
        }
    }
}

void gr_arena_destroy(gr_arena_t *a)
{
    gr_arena_reset(a);
    while (a->spare) {
        gr_arena_chunk_t *c = a->spare;
        a->spare = c->next;
        free(c);
    }
}
