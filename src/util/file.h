/* A reference-counted open file.  A fetch response holds a reference to each
 * segment file it will sendfile() from, so retention or topic deletion can
 * unlink and "close" a segment while responses are still queued: the fd is
 * closed when the last reference goes. */
#ifndef GR_FILE_H
#define GR_FILE_H

#include <stdatomic.h>

typedef struct gr_file {
    int fd;
    atomic_int refs;
} gr_file_t;

/* Takes ownership of fd; the new file has one reference. NULL on ENOMEM. */
gr_file_t *gr_file_wrap(int fd);
gr_file_t *gr_file_keep(gr_file_t *f);
void gr_file_release(gr_file_t *f);

#endif
