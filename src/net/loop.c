#include "net/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "protocol/errors.h"
#include "util/log.h"

typedef struct gr_task {
    struct gr_task *next;
    void (*fn)(void *arg);
    void *arg;
} gr_task_t;

struct gr_loop {
    int epfd;
    gr_io_t wake;                 /* eventfd: posted tasks and stop */
    volatile int stopping;
    pthread_mutex_t post_lock;
    gr_task_t *posted_head, *posted_tail;
    gr_task_t *deferred_head, *deferred_tail;
    gr_timer_t **heap;
    int nheap, heap_cap;
};

int64_t gr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t gr_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- timer heap (min-heap on due_ms) --- */

static void heap_swap(gr_loop_t *loop, int a, int b)
{
    gr_timer_t *t = loop->heap[a];
    loop->heap[a] = loop->heap[b];
    loop->heap[b] = t;
    loop->heap[a]->heap_index = a;
    loop->heap[b]->heap_index = b;
}

static void heap_up(gr_loop_t *loop, int i)
{
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (loop->heap[parent]->due_ms <= loop->heap[i]->due_ms) break;
        heap_swap(loop, i, parent);
        i = parent;
    }
}

static void heap_down(gr_loop_t *loop, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < loop->nheap && loop->heap[l]->due_ms < loop->heap[m]->due_ms) m = l;
        if (r < loop->nheap && loop->heap[r]->due_ms < loop->heap[m]->due_ms) m = r;
        if (m == i) return;
        heap_swap(loop, i, m);
        i = m;
    }
}

void gr_timer_init(gr_timer_t *t, void (*fn)(gr_timer_t *t))
{
    t->due_ms = 0;
    t->heap_index = -1;
    t->fn = fn;
}

void gr_loop_timer_cancel(gr_loop_t *loop, gr_timer_t *t)
{
    int i = t->heap_index;
    if (i < 0) return;
    int last = --loop->nheap;
    if (i != last) {
        loop->heap[i] = loop->heap[last];
        loop->heap[i]->heap_index = i;
        heap_down(loop, i);
        heap_up(loop, i);
    }
    t->heap_index = -1;
}

void gr_loop_timer_arm(gr_loop_t *loop, gr_timer_t *t, int64_t due_ms)
{
    gr_loop_timer_cancel(loop, t);
    if (loop->nheap == loop->heap_cap) {
        int cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
        gr_timer_t **nh = realloc(loop->heap, (size_t)cap * sizeof *nh);
        if (!nh) {
            /* Cannot happen short of OOM; firing now is safer than never. */
            gr_error("loop: out of memory arming a timer; firing it immediately");
            t->fn(t);
            return;
        }
        loop->heap = nh;
        loop->heap_cap = cap;
    }
    t->due_ms = due_ms;
    t->heap_index = loop->nheap;
    loop->heap[loop->nheap++] = t;
    heap_up(loop, t->heap_index);
}

/* --- posting across threads --- */

static void drain_wake(gr_io_t *io, uint32_t events)
{
    uint64_t n;
    while (read(io->fd, &n, sizeof n) > 0) {}
}

gr_loop_t *gr_loop_new(void)
{
    gr_loop_t *loop = calloc(1, sizeof *loop);
    if (!loop) return NULL;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    loop->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    loop->wake.fn = drain_wake;
    pthread_mutex_init(&loop->post_lock, NULL);
    if (loop->epfd < 0 || loop->wake.fd < 0 || gr_loop_add(loop, &loop->wake, EPOLLIN) < 0) {
        gr_loop_free(loop);
        return NULL;
    }
    return loop;
}

void gr_loop_free(gr_loop_t *loop)
{
    if (!loop) return;
    if (loop->epfd >= 0) close(loop->epfd);
    if (loop->wake.fd >= 0) close(loop->wake.fd);
    for (gr_task_t *t = loop->posted_head, *n; t; t = n) { n = t->next; free(t); }
    for (gr_task_t *t = loop->deferred_head, *n; t; t = n) { n = t->next; free(t); }
    pthread_mutex_destroy(&loop->post_lock);
    free(loop->heap);
    free(loop);
}

static void signal_wake(gr_loop_t *loop)
{
    uint64_t one = 1;
    ssize_t n = write(loop->wake.fd, &one, sizeof one);
    (void)n;  /* EAGAIN means a wake-up is already pending */
}

void gr_loop_stop(gr_loop_t *loop)
{
    loop->stopping = 1;
    signal_wake(loop);
}

int gr_loop_post(gr_loop_t *loop, void (*fn)(void *arg), void *arg)
{
    gr_task_t *t = malloc(sizeof *t);
    if (!t) return GR_ENOMEM;
    *t = (gr_task_t){NULL, fn, arg};
    pthread_mutex_lock(&loop->post_lock);
    if (loop->posted_tail) loop->posted_tail->next = t;
    else loop->posted_head = t;
    loop->posted_tail = t;
    pthread_mutex_unlock(&loop->post_lock);
    signal_wake(loop);
    return 0;
}

int gr_loop_defer(gr_loop_t *loop, void (*fn)(void *arg), void *arg)
{
    gr_task_t *t = malloc(sizeof *t);
    if (!t) return GR_ENOMEM;
    *t = (gr_task_t){NULL, fn, arg};
    if (loop->deferred_tail) loop->deferred_tail->next = t;
    else loop->deferred_head = t;
    loop->deferred_tail = t;
    return 0;
}

static void run_tasks(gr_task_t *t)
{
    while (t) {
        gr_task_t *next = t->next;
        t->fn(t->arg);
        free(t);
        t = next;
    }
}

int gr_loop_add(gr_loop_t *loop, gr_io_t *io, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = io};
    io->events = events;
    return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0 ? GR_EIO : 0;
}

int gr_loop_modify(gr_loop_t *loop, gr_io_t *io, uint32_t events)
{
    if (io->events == events) return 0;
    struct epoll_event ev = {.events = events, .data.ptr = io};
    io->events = events;
    return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0 ? GR_EIO : 0;
}

void gr_loop_del(gr_loop_t *loop, gr_io_t *io)
{
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

int gr_loop_run(gr_loop_t *loop)
{
    struct epoll_event events[256];
    int rc = 0;
    while (!loop->stopping) {
        int timeout = -1;
        if (loop->deferred_head) {
            timeout = 0;
        } else if (loop->nheap) {
            int64_t wait = loop->heap[0]->due_ms - gr_now_ms();
            timeout = wait < 0 ? 0 : wait > 60000 ? 60000 : (int)wait;
        }
        int n = epoll_wait(loop->epfd, events, 256, timeout);
        if (n < 0 && errno != EINTR) {
            gr_error("loop: epoll_wait failed: errno %d", errno);
            rc = GR_EIO;
            break;
        }
        for (int i = 0; i < n; i++) {
            gr_io_t *io = events[i].data.ptr;
            io->fn(io, events[i].events);
        }
        pthread_mutex_lock(&loop->post_lock);
        gr_task_t *posted = loop->posted_head;
        loop->posted_head = loop->posted_tail = NULL;
        pthread_mutex_unlock(&loop->post_lock);
        run_tasks(posted);
        int64_t now = gr_now_ms();
        while (loop->nheap && loop->heap[0]->due_ms <= now) {
            gr_timer_t *t = loop->heap[0];
            gr_loop_timer_cancel(loop, t);
            t->fn(t);
        }
        /* Deferred tasks may defer more; run until quiet. */
        while (loop->deferred_head) {
            gr_task_t *d = loop->deferred_head;
            loop->deferred_head = loop->deferred_tail = NULL;
            run_tasks(d);
        }
    }
    /* A stop ends this run only, so the loop can be run again.  Cleared on
     * the way out, not on the way in: a stop requested before a run starts
     * (a signal during startup) must still end that run. */
    loop->stopping = 0;
    return rc;
}
