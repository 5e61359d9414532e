/* Arena: bump allocation for everything a request decodes into.
 * A request's arena is reset after its response is queued, so handlers never
 * free individual objects.  Chunks are kept between requests (reset, not freed)
 * so a steady stream of requests allocates nothing. */
#ifndef GR_ARENA_H
#define GR_ARENA_H

#include <stddef.h>

typedef struct gr_arena_chunk gr_arena_chunk_t;

typedef struct gr_arena {
    gr_arena_chunk_t *head;    /* chunk being filled */
    gr_arena_chunk_t *spare;   /* chunks freed by reset, reused first */
} gr_arena_t;

void gr_arena_init(gr_arena_t *a);
/* Returns zeroed, 16-byte aligned memory, or NULL when out of memory. */
void *gr_arena_alloc(gr_arena_t *a, size_t size);
void *gr_arena_calloc(gr_arena_t *a, size_t n, size_t size);
char *gr_arena_strndup(gr_arena_t *a, const char *s, size_t n);
char *gr_arena_printf(gr_arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gr_arena_reset(gr_arena_t *a);
void gr_arena_destroy(gr_arena_t *a);

#endif
