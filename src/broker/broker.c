#include "broker/broker.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "protocol/errors.h"
#include "storage/checkpoint.h"
#include "util/hash.h"
#include "util/log.h"

#define RECOVERY_POINT_FILE "recovery-point-offset-checkpoint"
#define LOG_START_FILE "log-start-offset-checkpoint"
#define HIGH_WATERMARK_FILE "replication-offset-checkpoint"

/* --- name -> topic map (open addressing) --- */

static gr_broker_topic_t **map_slot(gr_broker_t *b, const char *name, size_t len)
{
    uint32_t mask = b->map_cap - 1;
    for (uint32_t i = gr_fnv1a32(name, len) & mask;; i = (i + 1) & mask) {
        gr_broker_topic_t *t = b->map[i];
        if (!t || (strlen(t->name) == len && memcmp(t->name, name, len) == 0)) return &b->map[i];
    }
}

static int map_grow(gr_broker_t *b)
{
    uint32_t old_cap = b->map_cap;
    gr_broker_topic_t **old = b->map;
    uint32_t cap = old_cap ? old_cap * 2 : 64;
    b->map = calloc(cap, sizeof *b->map);
    if (!b->map) {
        b->map = old;
        return GR_ENOMEM;
    }
    b->map_cap = cap;
    for (uint32_t i = 0; i < old_cap; i++)
        if (old[i]) *map_slot(b, old[i]->name, strlen(old[i]->name)) = old[i];
    free(old);
    return 0;
}

static void map_remove(gr_broker_t *b, gr_broker_topic_t *t)
{
    gr_broker_topic_t **slot = map_slot(b, t->name, strlen(t->name));
    if (!*slot) return;
    *slot = NULL;
    b->map_count--;
    /* Re-insert the rest of the probe run so lookups still find them. */
    uint32_t mask = b->map_cap - 1;
    for (uint32_t i = ((uint32_t)(slot - b->map) + 1) & mask; b->map[i]; i = (i + 1) & mask) {
        gr_broker_topic_t *moved = b->map[i];
        b->map[i] = NULL;
        *map_slot(b, moved->name, strlen(moved->name)) = moved;
    }
}

gr_broker_topic_t *gr_broker_topic(gr_broker_t *b, const char *name, size_t len)
{
    if (!b->map_cap) return NULL;
    return *map_slot(b, name, len);
}

gr_broker_topic_t *gr_broker_topic_by_id(gr_broker_t *b, const gr_uuid_t *id)
{
    const gr_topic_t *t = gr_topics_find_by_id(b->topics, id);
    return t ? gr_broker_topic(b, t->name, strlen(t->name)) : NULL;
}

gr_partition_t *gr_broker_partition(gr_broker_t *b, const char *name, size_t len, int32_t index)
{
    gr_broker_topic_t *t = gr_broker_topic(b, name, len);
    if (!t || index < 0 || index >= t->npartitions) return NULL;
    return t->partitions[index];
}

/* --- checkpoints read at startup --- */

typedef struct checkpoints {
    gr_checkpoint_entry_t *recovery, *start;
    int nrecovery, nstart;
} checkpoints_t;

static int checkpoint_cmp(const void *a, const void *b)
{
    const gr_checkpoint_entry_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* Entries are sorted once at startup, so thousands of partitions do not
 * cost a quadratic scan. */
static int64_t checkpoint_lookup(gr_checkpoint_entry_t *e, int n, const char *topic, int32_t p, int64_t dflt)
{
    gr_checkpoint_entry_t key = {(char *)topic, p, 0};
    gr_checkpoint_entry_t *hit = n ? bsearch(&key, e, (size_t)n, sizeof *e, checkpoint_cmp) : NULL;
    return hit ? hit->offset : dflt;
}

/* --- partitions --- */

static int partition_open(gr_broker_t *b, gr_broker_topic_t *t, int32_t index, const checkpoints_t *cp,
                          gr_partition_t **out)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s-%d", b->cfg->log_dir, t->name, index);
    gr_partition_t *p = calloc(1, sizeof *p);
    if (!p) return GR_ENOMEM;
    p->topic = t->name;
    p->index = index;
    int64_t recovery = cp ? checkpoint_lookup(cp->recovery, cp->nrecovery, t->name, index, 0) : 0;
    int64_t start = cp ? checkpoint_lookup(cp->start, cp->nstart, t->name, index, -1) : -1;
    int rc = gr_log_open(dir, &t->settings.log, recovery, start, &p->log);
    if (rc < 0) {
        gr_error("partition %s-%d: cannot open log in %s: %s", t->name, index, dir, gr_strerror(rc));
        free(p);
        return rc;
    }
    p->flushed = gr_log_recovery_point(p->log);
    *out = p;
    return 0;
}

static void wake_everyone(gr_partition_t *p)
{
    /* Waiters look the partition up again by name and find it gone. */
    gr_partition_appended(p);
    gr_partition_flushed(p, INT64_MAX);
}

static void partition_close(gr_partition_t *p, bool delete_files)
{
    wake_everyone(p);
    if (delete_files) gr_log_destroy_files(p->log);
    gr_log_release(p->log);
    free(p);
}

static int topic_add_partitions(gr_broker_t *b, gr_broker_topic_t *t, int32_t total, const checkpoints_t *cp)
{
    gr_partition_t **np = realloc(t->partitions, (size_t)total * sizeof *np);
    if (!np) return GR_ENOMEM;
    t->partitions = np;
    for (int32_t i = t->npartitions; i < total; i++) {
        int rc = partition_open(b, t, i, cp, &t->partitions[i]);
        if (rc < 0) return rc;
        t->npartitions = i + 1;
    }
    return 0;
}

static void topic_free(gr_broker_topic_t *t, bool delete_files)
{
    for (int32_t i = 0; i < t->npartitions; i++) partition_close(t->partitions[i], delete_files);
    free(t->partitions);
    free(t->name);
    free(t);
}

static int topic_add(gr_broker_t *b, const gr_topic_t *topic, const checkpoints_t *cp)
{
    if ((b->map_count + 1) * 2 > b->map_cap && map_grow(b) < 0) return GR_ENOMEM;
    gr_broker_topic_t *t = calloc(1, sizeof *t);
    if (!t || !(t->name = strdup(topic->name))) {
        free(t);
        return GR_ENOMEM;
    }
    t->id = topic->id;
    t->internal = topic->internal;
    gr_topics_settings(b->topics, topic, &t->settings);
    int rc = topic_add_partitions(b, t, topic->partition_count, cp);
    if (rc < 0) {
        topic_free(t, false);
        return rc;
    }
    *map_slot(b, t->name, strlen(t->name)) = t;
    b->map_count++;
    return 0;
}

/* Hands the cleaner the logs of a topic whose cleanup.policy has
 * "compact" (with its settings), or takes them back when it has not. */
static void cleaner_sync_topic(gr_broker_t *b, gr_broker_topic_t *t)
{
    if (!b->cleaner) return;
    gr_cleaner_log_config_t cc = {
        .delete_retention_ms = t->settings.delete_retention_ms,
        .min_cleanable_dirty_ratio = t->settings.min_cleanable_dirty_ratio,
        .min_compaction_lag_ms = t->settings.min_compaction_lag_ms,
        .max_compaction_lag_ms = t->settings.max_compaction_lag_ms,
    };
    for (int32_t i = 0; i < t->npartitions; i++) {
        if (t->settings.compact) gr_cleaner_add(b->cleaner, t->name, i, t->partitions[i]->log, &cc);
        else gr_cleaner_remove(b->cleaner, t->partitions[i]->log);
    }
}

static void cleaner_drop_topic(gr_broker_t *b, gr_broker_topic_t *t)
{
    if (!b->cleaner) return;
    for (int32_t i = 0; i < t->npartitions; i++) gr_cleaner_remove(b->cleaner, t->partitions[i]->log);
}

/* The registry tells us about every topic change, including our own. */
static void on_topic_event(void *arg, int event, const gr_topic_t *topic, int32_t old_partitions)
{
    gr_broker_t *b = arg;
    gr_broker_topic_t *t = gr_broker_topic(b, topic->name, strlen(topic->name));
    switch (event) {
    case GR_TOPIC_EVENT_CREATED:
        if (!t && topic_add(b, topic, NULL) == 0) {
            gr_info("topic %s created with %d partitions", topic->name, topic->partition_count);
            t = gr_broker_topic(b, topic->name, strlen(topic->name));
            if (t) cleaner_sync_topic(b, t);
        }
        break;
    case GR_TOPIC_EVENT_DELETED:
        if (t) {
            /* Before the files go: the cleaner creates none after this. */
            cleaner_drop_topic(b, t);
            map_remove(b, t);
            topic_free(t, true);
            gr_info("topic %s deleted and its data removed", topic->name);
        }
        break;
    case GR_TOPIC_EVENT_PARTITIONS_ADDED:
        if (t && topic_add_partitions(b, t, topic->partition_count, NULL) == 0) {
            gr_info("topic %s: partitions %d -> %d", topic->name, old_partitions, topic->partition_count);
            cleaner_sync_topic(b, t);
        }
        break;
    case GR_TOPIC_EVENT_CONFIG_CHANGED:
        if (t) {
            gr_topics_settings(b->topics, topic, &t->settings);
            for (int32_t i = 0; i < t->npartitions; i++) gr_log_set_config(t->partitions[i]->log, &t->settings.log);
            cleaner_sync_topic(b, t);
            gr_info("topic %s: configuration changed", topic->name);
        }
        break;
    }
}

typedef struct open_ctx {
    gr_broker_t *b;
    checkpoints_t *cp;
    int rc;
} open_ctx_t;

static void open_one(void *arg, const gr_topic_t *topic)
{
    open_ctx_t *ctx = arg;
    if (ctx->rc == 0) ctx->rc = topic_add(ctx->b, topic, ctx->cp);
}

static void path_in_dir(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

int gr_broker_open(gr_broker_config_t *cfg, gr_loop_t *loop, gr_broker_t **out)
{
    int rc;
    checkpoints_t cp = {0};
    char path[PATH_MAX];
    gr_broker_t *b = calloc(1, sizeof *b);
    if (!b) return GR_ENOMEM;
    b->cfg = cfg;
    b->loop = loop;
    if (mkdir(cfg->log_dir, 0755) < 0 && errno != EEXIST) {
        gr_error("cannot create log.dirs %s: %s", cfg->log_dir, strerror(errno));
        rc = GR_EIO;
        goto err;
    }
    if ((rc = gr_metastore_local_open(cfg->log_dir, &b->ms)) < 0) {
        gr_error("cannot open the metadata store in %s: %s", cfg->log_dir, gr_strerror(rc));
        goto err;
    }
    if ((rc = gr_topics_open(b->ms, cfg, &b->topics)) < 0) {
        gr_error("cannot load topics: %s", gr_strerror(rc));
        goto err;
    }
    path_in_dir(path, sizeof path, cfg->log_dir, RECOVERY_POINT_FILE);
    if ((rc = gr_checkpoint_read(path, &cp.recovery, &cp.nrecovery)) < 0) {
        gr_warn("%s is unreadable (%s); recovering every segment", path, gr_strerror(rc));
        cp.recovery = NULL;
        cp.nrecovery = 0;
    }
    path_in_dir(path, sizeof path, cfg->log_dir, LOG_START_FILE);
    if (gr_checkpoint_read(path, &cp.start, &cp.nstart) < 0) {
        cp.start = NULL;
        cp.nstart = 0;
    }
    if (cp.nrecovery) qsort(cp.recovery, (size_t)cp.nrecovery, sizeof *cp.recovery, checkpoint_cmp);
    if (cp.nstart) qsort(cp.start, (size_t)cp.nstart, sizeof *cp.start, checkpoint_cmp);
    open_ctx_t ctx = {b, &cp, 0};
    gr_topics_foreach(b->topics, open_one, &ctx);
    if ((rc = ctx.rc) < 0) goto err;
    gr_topics_set_listener(b->topics, on_topic_event, b);
    b->flusher = NULL;
    gr_checkpoint_free(cp.recovery, cp.nrecovery);
    gr_checkpoint_free(cp.start, cp.nstart);
    *out = b;
    return 0;
err:
    gr_checkpoint_free(cp.recovery, cp.nrecovery);
    gr_checkpoint_free(cp.start, cp.nstart);
    gr_broker_close(b);
    return rc;
}

/* --- flushing --- */

typedef struct flushed_msg {
    gr_broker_t *b;
    gr_log_t *log;
    int64_t flushed;
} flushed_msg_t;

/* Loop thread: find the partition that owns the log (by its directory name,
 * "<topic>-<partition>") and wake the produce requests the fsync covers. */
static void on_flushed_in_loop(void *arg)
{
    flushed_msg_t *m = arg;
    const char *dir = gr_log_dir(m->log);
    const char *base = strrchr(dir, '/');
    base = base ? base + 1 : dir;
    const char *dash = strrchr(base, '-');
    if (dash && m->flushed >= 0) {
        gr_partition_t *p = gr_broker_partition(m->b, base, (size_t)(dash - base), atoi(dash + 1));
        if (p && p->log == m->log) gr_partition_flushed(p, m->flushed);
    } else if (m->flushed < 0) {
        gr_error("log %s: fsync failed: %s", dir, gr_strerror((int)m->flushed));
    }
    gr_log_release(m->log);
    free(m);
}

/* Flusher thread: hand the result to the loop. */
static void on_flushed(void *arg, gr_log_t *log, int64_t flushed)
{
    gr_broker_t *b = arg;
    flushed_msg_t *m = malloc(sizeof *m);
    if (!m) return;  /* the waiters time out with REQUEST_TIMED_OUT */
    *m = (flushed_msg_t){b, gr_log_keep(log), flushed};
    if (gr_loop_post(b->loop, on_flushed_in_loop, m) < 0) {
        gr_log_release(log);
        free(m);
    }
}

void gr_broker_request_flush(gr_broker_t *b, gr_partition_t *p) { gr_flusher_request(b->flusher, p->log); }

int gr_broker_append(gr_broker_t *b, gr_broker_topic_t *t, gr_partition_t *p, uint8_t *batch, size_t len,
                     gr_append_info_t *info)
{
    int64_t now = gr_wall_ms();
    int rc = gr_log_append(p->log, batch, len, p->leader_epoch, t->settings.log_append_time ? now : -1, now, info);
    if (rc < 0) {
        gr_error("partition %s-%d: append failed: %s", t->name, p->index, gr_strerror(rc));
        return rc;
    }
    gr_partition_appended(p);
    if (info->flush_due) gr_broker_request_flush(b, p);
    return 0;
}

/* --- periodic duties --- */

static int topic_name_cmp(const void *a, const void *b)
{
    return strcmp((*(gr_broker_topic_t *const *)a)->name, (*(gr_broker_topic_t *const *)b)->name);
}

void gr_broker_foreach_topic(gr_broker_t *b, void (*fn)(void *arg, gr_broker_topic_t *t), void *arg)
{
    /* The map is unordered; collect and sort for stable output. */
    gr_broker_topic_t **all = malloc((b->map_count + 1) * sizeof *all);
    if (!all) return;
    uint32_t n = 0;
    for (uint32_t i = 0; i < b->map_cap; i++)
        if (b->map[i]) all[n++] = b->map[i];
    qsort(all, n, sizeof *all, topic_name_cmp);
    for (uint32_t i = 0; i < n; i++) fn(arg, all[i]);
    free(all);
}

static void retention_tick(gr_timer_t *timer)
{
    gr_broker_t *b = (gr_broker_t *)((char *)timer - offsetof(gr_broker_t, retention_timer));
    int64_t now = gr_wall_ms();
    for (uint32_t i = 0; i < b->map_cap; i++) {
        gr_broker_topic_t *t = b->map[i];
        if (!t) continue;
        for (int32_t p = 0; p < t->npartitions; p++) {
            gr_log_roll_if_due(t->partitions[p]->log, now);
            if (!t->settings.delete_policy) continue;
            int n = gr_log_enforce_retention(t->partitions[p]->log, now);
            if (n > 0)
                gr_info("partition %s-%d: retention deleted %d segment(s); log start offset now %" PRId64,
                        t->name, p, n, gr_log_start_offset(t->partitions[p]->log));
        }
    }
    gr_loop_timer_arm(b->loop, timer, gr_now_ms() + b->cfg->log_retention_check_interval_ms);
}

static void flush_tick(gr_timer_t *timer)
{
    gr_broker_t *b = (gr_broker_t *)((char *)timer - offsetof(gr_broker_t, flush_timer));
    int64_t now = gr_wall_ms();
    for (uint32_t i = 0; i < b->map_cap; i++) {
        gr_broker_topic_t *t = b->map[i];
        if (!t) continue;
        for (int32_t p = 0; p < t->npartitions; p++)
            if (gr_log_flush_due(t->partitions[p]->log, now)) gr_broker_request_flush(b, t->partitions[p]);
    }
    gr_loop_timer_arm(b->loop, timer, gr_now_ms() + 1000);
}

static void checkpoint_tick(gr_timer_t *timer)
{
    gr_broker_t *b = (gr_broker_t *)((char *)timer - offsetof(gr_broker_t, checkpoint_timer));
    gr_broker_write_checkpoints(b);
    gr_loop_timer_arm(b->loop, timer, gr_now_ms() + b->cfg->replica_high_watermark_checkpoint_interval_ms);
}

typedef struct cp_build {
    gr_checkpoint_entry_t *recovery, *start, *hw;
    int n, cap;
} cp_build_t;

static void cp_collect(void *arg, gr_broker_topic_t *t)
{
    cp_build_t *c = arg;
    for (int32_t p = 0; p < t->npartitions; p++) {
        if (c->n == c->cap) {
            int cap = c->cap ? c->cap * 2 : 64;
            gr_checkpoint_entry_t *r = realloc(c->recovery, (size_t)cap * sizeof *r);
            if (r) c->recovery = r;
            gr_checkpoint_entry_t *s = realloc(c->start, (size_t)cap * sizeof *s);
            if (s) c->start = s;
            gr_checkpoint_entry_t *h = realloc(c->hw, (size_t)cap * sizeof *h);
            if (h) c->hw = h;
            if (!r || !s || !h) return;
            c->cap = cap;
        }
        gr_partition_t *part = t->partitions[p];
        c->recovery[c->n] = (gr_checkpoint_entry_t){t->name, p, gr_log_recovery_point(part->log)};
        c->start[c->n] = (gr_checkpoint_entry_t){t->name, p, gr_log_start_offset(part->log)};
        c->hw[c->n] = (gr_checkpoint_entry_t){t->name, p, gr_partition_high_watermark(part)};
        c->n++;
    }
}

int gr_broker_write_checkpoints(gr_broker_t *b)
{
    cp_build_t c = {0};
    char path[PATH_MAX];
    gr_broker_foreach_topic(b, cp_collect, &c);
    int rc = 0;
    path_in_dir(path, sizeof path, b->cfg->log_dir, RECOVERY_POINT_FILE);
    if (gr_checkpoint_write(path, c.recovery, c.n) < 0) rc = GR_EIO;
    path_in_dir(path, sizeof path, b->cfg->log_dir, LOG_START_FILE);
    if (gr_checkpoint_write(path, c.start, c.n) < 0) rc = GR_EIO;
    path_in_dir(path, sizeof path, b->cfg->log_dir, HIGH_WATERMARK_FILE);
    if (gr_checkpoint_write(path, c.hw, c.n) < 0) rc = GR_EIO;
    if (rc < 0) gr_error("cannot write checkpoint files in %s", b->cfg->log_dir);
    free(c.recovery);
    free(c.start);
    free(c.hw);
    return rc;
}

int gr_broker_start(gr_broker_t *b, int advertised_port)
{
    b->advertised_host = b->cfg->advertised_host;
    b->advertised_port = advertised_port;
    int rc = gr_topics_register_broker(b->topics, b->advertised_host, advertised_port);
    if (rc < 0) {
        gr_error("cannot register broker %d: %s", b->cfg->broker_id, gr_strerror(rc));
        return rc;
    }
    b->flusher = gr_flusher_start(on_flushed, b);
    if (!b->flusher) return GR_ENOMEM;
    if (gr_config_set_bool(&b->cfg->set, "log.cleaner.enable")) {
        gr_cleaner_config_t cc;
        gr_cleaner_config_default(&cc);
        cc.backoff_ms = gr_config_set_long(&b->cfg->set, "log.cleaner.backoff.ms");
        cc.io_max_bytes_per_second = gr_config_set_double(&b->cfg->set, "log.cleaner.io.max.bytes.per.second");
        cc.dedupe_buffer_size = gr_config_set_long(&b->cfg->set, "log.cleaner.dedupe.buffer.size");
        b->cleaner = gr_cleaner_start(b->cfg->log_dir, &cc);
        if (!b->cleaner) return GR_ENOMEM;
        for (uint32_t i = 0; i < b->map_cap; i++)
            if (b->map[i]) cleaner_sync_topic(b, b->map[i]);
    }
    gr_timer_init(&b->retention_timer, retention_tick);
    gr_timer_init(&b->flush_timer, flush_tick);
    gr_timer_init(&b->checkpoint_timer, checkpoint_tick);
    int64_t now = gr_now_ms();
    gr_loop_timer_arm(b->loop, &b->retention_timer, now + b->cfg->log_retention_check_interval_ms);
    gr_loop_timer_arm(b->loop, &b->flush_timer, now + 1000);
    gr_loop_timer_arm(b->loop, &b->checkpoint_timer, now + b->cfg->replica_high_watermark_checkpoint_interval_ms);
    return 0;
}

gr_broker_topic_t *gr_broker_auto_create(gr_broker_t *b, const char *name, size_t len, int16_t *err)
{
    if (!gr_topic_name_valid(name, len)) {
        *err = GR_KERR_INVALID_TOPIC_EXCEPTION;
        return NULL;
    }
    if (!b->cfg->auto_create_topics_enable) {
        *err = GR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return NULL;
    }
    char topic[GR_TOPIC_NAME_MAX + 1], msg[256];
    memcpy(topic, name, len);
    topic[len] = 0;
    int rc = gr_topics_create(b->topics, topic, -1, -1, NULL, 0, false, NULL, msg, sizeof msg);
    if (rc < 0 && rc != GR_EEXISTS) {
        gr_warn("auto-creating topic %s failed: %s", topic, msg);
        *err = gr_error_to_kafka(rc);
        return NULL;
    }
    gr_broker_topic_t *t = gr_broker_topic(b, name, len);
    if (!t) *err = GR_KERR_LEADER_NOT_AVAILABLE;
    return t;
}

void gr_broker_close(gr_broker_t *b)
{
    if (!b) return;
    if (b->loop) {
        gr_loop_timer_cancel(b->loop, &b->retention_timer);
        gr_loop_timer_cancel(b->loop, &b->flush_timer);
        gr_loop_timer_cancel(b->loop, &b->checkpoint_timer);
    }
    /* First the cleaner: it abandons a pass in progress and lets go of the logs. */
    if (b->cleaner) gr_cleaner_stop(b->cleaner);
    if (b->flusher) gr_flusher_stop(b->flusher);
    /* A clean stop flushes everything, so the next start scans nothing. */
    for (uint32_t i = 0; i < b->map_cap; i++)
        if (b->map[i])
            for (int32_t p = 0; p < b->map[i]->npartitions; p++) gr_log_flush(b->map[i]->partitions[p]->log);
    if (b->map_count) gr_broker_write_checkpoints(b);
    for (uint32_t i = 0; i < b->map_cap; i++)
        if (b->map[i]) topic_free(b->map[i], false);
    free(b->map);
    if (b->topics) gr_topics_close(b->topics);
    if (b->ms) gr_metastore_close(b->ms);
    free(b);
}
