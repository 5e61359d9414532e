/* The event loop: epoll over non-blocking sockets, a timer heap, and an
 * eventfd through which other threads (the flusher) post work to the loop.
 * Everything a loop owns (connections, parked requests, timers) is touched
 * only by the loop's thread; other threads go through gr_loop_post(). */
#ifndef GR_LOOP_H
#define GR_LOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef struct gr_loop gr_loop_t;

/* A registered file descriptor.  `fn` runs on the loop thread with the epoll
 * event mask (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP). */
typedef struct gr_io {
    int fd;
    void (*fn)(struct gr_io *io, uint32_t events);
    uint32_t events;    /* currently registered mask */
} gr_io_t;

typedef struct gr_timer {
    int64_t due_ms;         /* monotonic milliseconds */
    int heap_index;         /* -1 when not armed */
    void (*fn)(struct gr_timer *t);
} gr_timer_t;

gr_loop_t *gr_loop_new(void);
void gr_loop_free(gr_loop_t *loop);
/* Runs until gr_loop_stop(); returns 0 (GR_EIO if epoll fails).  The stop
 * ends this run only: gr_loop_run may be called again afterwards. */
int gr_loop_run(gr_loop_t *loop);
/* Thread-safe and async-signal-safe. */
void gr_loop_stop(gr_loop_t *loop);

int gr_loop_add(gr_loop_t *loop, gr_io_t *io, uint32_t events);
int gr_loop_modify(gr_loop_t *loop, gr_io_t *io, uint32_t events);
void gr_loop_del(gr_loop_t *loop, gr_io_t *io);

void gr_timer_init(gr_timer_t *t, void (*fn)(gr_timer_t *t));
void gr_loop_timer_arm(gr_loop_t *loop, gr_timer_t *t, int64_t due_ms);
void gr_loop_timer_cancel(gr_loop_t *loop, gr_timer_t *t);
static inline bool gr_timer_armed(const gr_timer_t *t) { return t->heap_index >= 0; }

/* Runs fn(arg) on the loop thread soon.  Thread-safe; 0 or GR_ENOMEM. */
int gr_loop_post(gr_loop_t *loop, void (*fn)(void *arg), void *arg);
/* Runs fn(arg) on the loop thread after the current batch of events, before
 * the loop sleeps again (used to coalesce wake-ups of parked fetches).
 * Loop thread only. */
int gr_loop_defer(gr_loop_t *loop, void (*fn)(void *arg), void *arg);

int64_t gr_now_ms(void);         /* monotonic */
int64_t gr_wall_ms(void);        /* wall clock (record timestamps) */

#endif
