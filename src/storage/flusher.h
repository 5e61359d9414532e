/* The flusher: one thread that fsyncs logs on request and reports the new
 * recovery points.  Requests for the same log coalesce, so a burst of
 * durable produce requests costs one fdatasync (group commit). */
#ifndef GR_FLUSHER_H
#define GR_FLUSHER_H

#include <stdint.h>

#include "storage/log.h"

typedef struct gr_flusher gr_flusher_t;

/* Called on the flusher thread after `log` was flushed up to `flushed`
 * (GR_E* if the flush failed).  Must be quick and thread-safe: hand the
 * result to the owning thread (e.g. a queue plus an eventfd). */
typedef void (*gr_flush_done_fn)(void *arg, gr_log_t *log, int64_t flushed);

gr_flusher_t *gr_flusher_start(gr_flush_done_fn done, void *arg);
/* Asks for `log` to be flushed soon; takes its own reference. Thread-safe. */
void gr_flusher_request(gr_flusher_t *f, gr_log_t *log);
/* Finishes queued flushes and joins the thread. */
void gr_flusher_stop(gr_flusher_t *f);

#endif
