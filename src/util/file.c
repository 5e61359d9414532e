#include "util/file.h"

#include <stdlib.h>
#include <unistd.h>

gr_file_t *gr_file_wrap(int fd)
{
    gr_file_t *f = malloc(sizeof *f);
    if (!f) return NULL;
    f->fd = fd;
    atomic_init(&f->refs, 1);
    return f;
}

gr_file_t *gr_file_keep(gr_file_t *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void gr_file_release(gr_file_t *f)
{
    if (f && atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1) {
        close(f->fd);
        free(f);
    }
}
