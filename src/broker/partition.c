#include "broker/partition.h"

#include <stddef.h>

void gr_waiter_link(gr_waitlist_t *list, gr_waiter_t *w)
{
    w->list = list;
    w->prev = NULL;
    w->next = list->head;
    if (list->head) list->head->prev = w;
    list->head = w;
}

void gr_waiter_unlink(gr_waiter_t *w)
{
    gr_waitlist_t *list = w->list;
    if (!list) return;
    if (w->prev) w->prev->next = w->next;
    else if (list->head == w) list->head = w->next;
    if (w->next) w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->list = NULL;
}

/* Wakes each due waiter.  A wake-up may finish a request and free other
 * waiters of the same list with it (a request naming a partition twice), so
 * never hold a pointer across a wake: start again from the head.  Every wake
 * unlinks its waiter, so this ends. */
static void wake_all(gr_waitlist_t *list, int64_t upto)
{
    for (;;) {
        gr_waiter_t *w = list->head;
        while (w && upto >= 0 && w->offset > upto) w = w->next;
        if (!w) return;
        w->wake(w);
        if (w == list->head && w->list == list) gr_waiter_unlink(w);  /* a wake that forgot */
    }
}

void gr_partition_appended(gr_partition_t *p) { wake_all(&p->fetch_waiters, -1); }

void gr_partition_flushed(gr_partition_t *p, int64_t flushed)
{
    if (flushed > p->flushed) p->flushed = flushed;
    wake_all(&p->flush_waiters, p->flushed);
}
