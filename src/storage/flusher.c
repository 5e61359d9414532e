/* The flusher thread.  Requests go into a set (a log is queued at most
 * once), so while one fdatasync runs every request for that log piles onto
 * a single pending entry: N durable produces during a sync cost one more
 * sync, not N (group commit). */
#include "storage/flusher.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util/log.h"

struct gr_flusher {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    gr_log_t **queue;       /* distinct logs waiting, each with one reference */
    int n, cap;
    bool stopping;
    gr_flush_done_fn done;
    void *arg;
};

static void *flusher_main(void *p)
{
    gr_flusher_t *f = p;
    pthread_mutex_lock(&f->lock);
    for (;;) {
        while (f->n == 0 && !f->stopping) pthread_cond_wait(&f->cond, &f->lock);
        if (f->n == 0) break;   /* stopping and drained */
        /* Take the whole batch so new requests start a fresh set. */
        gr_log_t **batch = f->queue;
        int n = f->n;
        f->queue = NULL;
        f->n = f->cap = 0;
        pthread_mutex_unlock(&f->lock);
        for (int i = 0; i < n; i++) {
            int64_t flushed = gr_log_flush(batch[i]);
            if (f->done) f->done(f->arg, batch[i], flushed);
            gr_log_release(batch[i]);
        }
        free(batch);
        pthread_mutex_lock(&f->lock);
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

gr_flusher_t *gr_flusher_start(gr_flush_done_fn done, void *arg)
{
    gr_flusher_t *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->done = done;
    f->arg = arg;
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    if (pthread_create(&f->thread, NULL, flusher_main, f) != 0) {
        gr_error("flusher: cannot start thread");
        pthread_mutex_destroy(&f->lock);
        pthread_cond_destroy(&f->cond);
        free(f);
        return NULL;
    }
    return f;
}

void gr_flusher_request(gr_flusher_t *f, gr_log_t *log)
{
    pthread_mutex_lock(&f->lock);
    /* Linear: the set holds the logs with a flush outstanding, a handful. */
    for (int i = 0; i < f->n; i++)
        if (f->queue[i] == log) goto out;
    if (f->n == f->cap) {
        int cap = f->cap ? f->cap * 2 : 16;
        gr_log_t **q = realloc(f->queue, (size_t)cap * sizeof *q);
        if (!q) {
            /* Without memory we flush inline rather than lose the ack. */
            pthread_mutex_unlock(&f->lock);
            int64_t flushed = gr_log_flush(log);
            if (f->done) f->done(f->arg, log, flushed);
            return;
        }
        f->queue = q;
        f->cap = cap;
    }
    f->queue[f->n++] = gr_log_keep(log);
    pthread_cond_signal(&f->cond);
out:
    pthread_mutex_unlock(&f->lock);
}

void gr_flusher_stop(gr_flusher_t *f)
{
    if (!f) return;
    pthread_mutex_lock(&f->lock);
    f->stopping = true;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->lock);
    pthread_join(f->thread, NULL);
    free(f->queue);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->cond);
    free(f);
}
