/* The event loop: timer order, cancel and re-arm, posting from another
 * thread, deferred tasks, and running a loop again after a stop. */
#include <pthread.h>
#include <stddef.h>
#include <unistd.h>

#include "net/loop.h"
#include "test.h"

typedef struct tt {
    gr_timer_t t;
    gr_loop_t *loop;
    int id;
    int fired;
    int64_t fired_at;
    int rearm;              /* re-arm itself this many more times */
} tt_t;

static int order[16], norder;

static void tt_fire(gr_timer_t *t)
{
    tt_t *x = (tt_t *)((char *)t - offsetof(tt_t, t));
    x->fired++;
    x->fired_at = gr_now_ms();
    if (norder < 16) order[norder++] = x->id;
    if (x->rearm > 0) {
        x->rearm--;
        gr_loop_timer_arm(x->loop, &x->t, gr_now_ms() + 2);
    }
}

static void stop_fire(gr_timer_t *t)
{
    tt_t *x = (tt_t *)((char *)t - offsetof(tt_t, t));
    x->fired++;
    gr_loop_stop(x->loop);
}

static void tt_init(tt_t *x, gr_loop_t *loop, int id, void (*fn)(gr_timer_t *))
{
    memset(x, 0, sizeof *x);
    x->loop = loop;
    x->id = id;
    gr_timer_init(&x->t, fn);
}

GR_TEST(loop_timers_fire_in_due_order)
{
    gr_loop_t *loop = gr_loop_new();
    int64_t now = gr_now_ms();
    tt_t a, b, c, d, stop;
    tt_init(&a, loop, 1, tt_fire);
    tt_init(&b, loop, 2, tt_fire);
    tt_init(&c, loop, 3, tt_fire);
    tt_init(&d, loop, 4, tt_fire);
    tt_init(&stop, loop, 0, stop_fire);
    norder = 0;
    gr_loop_timer_arm(loop, &c.t, now + 30);
    gr_loop_timer_arm(loop, &a.t, now + 10);
    gr_loop_timer_arm(loop, &d.t, now + 40);
    gr_loop_timer_arm(loop, &b.t, now + 20);
    gr_loop_timer_arm(loop, &stop.t, now + 60);
    CHECK(gr_timer_armed(&a.t));
    CHECK_EQ(gr_loop_run(loop), 0);
    CHECK_EQ(norder, 4);
    CHECK_EQ(order[0], 1);
    CHECK_EQ(order[1], 2);
    CHECK_EQ(order[2], 3);
    CHECK_EQ(order[3], 4);
    CHECK(a.fired_at >= now + 10);
    CHECK(d.fired_at >= now + 40);
    CHECK(!gr_timer_armed(&a.t));
    gr_loop_free(loop);
}

GR_TEST(loop_timer_cancel_and_rearm)
{
    gr_loop_t *loop = gr_loop_new();
    int64_t now = gr_now_ms();
    tt_t a, b, c, p, stop;
    tt_init(&a, loop, 1, tt_fire);
    tt_init(&b, loop, 2, tt_fire);
    tt_init(&c, loop, 3, tt_fire);
    tt_init(&p, loop, 4, tt_fire);
    tt_init(&stop, loop, 0, stop_fire);
    norder = 0;
    /* Cancelled: never fires; cancelling twice is harmless. */
    gr_loop_timer_arm(loop, &a.t, now + 5);
    gr_loop_timer_cancel(loop, &a.t);
    gr_loop_timer_cancel(loop, &a.t);
    CHECK(!gr_timer_armed(&a.t));
    /* Re-armed later: fires once, at the later time. */
    gr_loop_timer_arm(loop, &b.t, now + 5);
    gr_loop_timer_arm(loop, &b.t, now + 40);
    /* Re-armed earlier (ahead of a timer that was due first). */
    gr_loop_timer_arm(loop, &c.t, now + 100);
    gr_loop_timer_arm(loop, &c.t, now + 10);
    /* A timer that re-arms itself from its callback: fires 1 + 3 times. */
    p.rearm = 3;
    gr_loop_timer_arm(loop, &p.t, now + 1);
    gr_loop_timer_arm(loop, &stop.t, now + 70);
    CHECK_EQ(gr_loop_run(loop), 0);
    CHECK_EQ(a.fired, 0);
    CHECK_EQ(b.fired, 1);
    CHECK(b.fired_at >= now + 40);
    CHECK_EQ(c.fired, 1);
    CHECK(c.fired_at < b.fired_at);
    CHECK_EQ(p.fired, 4);
    CHECK(!gr_timer_armed(&p.t));
    gr_loop_free(loop);
}

/* --- posting from another thread --- */

typedef struct post_ctx {
    gr_loop_t *loop;
    int ran;
    pthread_t ran_on;
} post_ctx_t;

static void posted(void *arg)
{
    post_ctx_t *x = arg;
    x->ran++;
    x->ran_on = pthread_self();
    gr_loop_stop(x->loop);
}

static void *poster(void *arg)
{
    post_ctx_t *x = arg;
    usleep(20000);  /* the loop is asleep with no timer: only the post wakes it */
    gr_loop_post(x->loop, posted, x);
    return NULL;
}

GR_TEST(loop_post_from_another_thread_wakes_the_loop)
{
    gr_loop_t *loop = gr_loop_new();
    post_ctx_t x = {.loop = loop};
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, poster, &x), 0);
    int64_t t0 = gr_now_ms();
    CHECK_EQ(gr_loop_run(loop), 0);
    pthread_join(th, NULL);
    CHECK_EQ(x.ran, 1);
    CHECK(pthread_equal(x.ran_on, pthread_self()));
    CHECK(gr_now_ms() - t0 < 5000);
    gr_loop_free(loop);
}

/* --- defer --- */

typedef struct defer_ctx {
    gr_loop_t *loop;
    char trace[16];
    int n;
    int again;
} defer_ctx_t;

static void deferred(void *arg)
{
    defer_ctx_t *x = arg;
    if (x->n < 15) x->trace[x->n++] = 'd';
    /* Deferring from a deferred task runs in the same round. */
    if (x->again-- > 0) gr_loop_defer(x->loop, deferred, x);
}

typedef struct dtimer {
    gr_timer_t t;
    defer_ctx_t *x;
    char mark;
} dtimer_t;

static void dtimer_fire(gr_timer_t *t)
{
    dtimer_t *d = (dtimer_t *)((char *)t - offsetof(dtimer_t, t));
    if (d->x->n < 15) d->x->trace[d->x->n++] = d->mark;
    if (d->mark == 'a') gr_loop_defer(d->x->loop, deferred, d->x);
    if (d->mark == 'z') gr_loop_stop(d->x->loop);
}

GR_TEST(loop_defer_runs_before_sleeping)
{
    gr_loop_t *loop = gr_loop_new();
    defer_ctx_t x = {.loop = loop, .again = 2};
    dtimer_t a = {.x = &x, .mark = 'a'}, b = {.x = &x, .mark = 'b'}, z = {.x = &x, .mark = 'z'};
    gr_timer_init(&a.t, dtimer_fire);
    gr_timer_init(&b.t, dtimer_fire);
    gr_timer_init(&z.t, dtimer_fire);
    int64_t now = gr_now_ms();
    gr_loop_timer_arm(loop, &a.t, now + 5);
    gr_loop_timer_arm(loop, &b.t, now + 30);
    gr_loop_timer_arm(loop, &z.t, now + 40);
    CHECK_EQ(gr_loop_run(loop), 0);
    /* a's deferred task (and the two it deferred) ran before b. */
    CHECK(!strcmp(x.trace, "adddbz"));
    gr_loop_free(loop);
}

/* --- stop, then run again --- */

GR_TEST(loop_runs_again_after_stop)
{
    gr_loop_t *loop = gr_loop_new();
    tt_t stop1, stop2, a;
    tt_init(&stop1, loop, 0, stop_fire);
    tt_init(&stop2, loop, 0, stop_fire);
    tt_init(&a, loop, 1, tt_fire);
    norder = 0;
    gr_loop_timer_arm(loop, &stop1.t, gr_now_ms() + 5);
    CHECK_EQ(gr_loop_run(loop), 0);
    CHECK_EQ(stop1.fired, 1);
    /* The second run is a real run: it waits for its timers. */
    int64_t now = gr_now_ms();
    gr_loop_timer_arm(loop, &a.t, now + 20);
    gr_loop_timer_arm(loop, &stop2.t, now + 30);
    CHECK_EQ(gr_loop_run(loop), 0);
    CHECK_EQ(a.fired, 1);
    CHECK_EQ(stop2.fired, 1);
    CHECK(gr_now_ms() >= now + 30);
    /* A stop requested before a run ends that run at once (a signal during
     * startup), and only that run. */
    gr_loop_stop(loop);
    tt_t late;
    tt_init(&late, loop, 2, tt_fire);
    gr_loop_timer_arm(loop, &late.t, gr_now_ms() + 10000);
    int64_t t0 = gr_now_ms();
    CHECK_EQ(gr_loop_run(loop), 0);
    CHECK(gr_now_ms() - t0 < 1000);
    CHECK_EQ(late.fired, 0);
    gr_loop_timer_cancel(loop, &late.t);
    tt_t stop3;
    tt_init(&stop3, loop, 0, stop_fire);
    gr_loop_timer_arm(loop, &stop3.t, gr_now_ms() + 5);
    CHECK_EQ(gr_loop_run(loop), 0);
    CHECK_EQ(stop3.fired, 1);
    gr_loop_free(loop);
}
