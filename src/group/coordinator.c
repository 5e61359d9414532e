/* The group coordinator: the group map, routing by __consumer_offsets
 * partition, and the writes to that topic; see coordinator.h. */
#include "group/coordinator.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#include "protocol/errors.h"
#include "protocol/messages.h"
#include "protocol/record_builder.h"
#include "util/log.h"
#include "util/hash.h"

void gr_coordinator_config_from_broker(gr_coordinator_config_t *cfg, const gr_broker_config_t *bc)
{
    *cfg = (gr_coordinator_config_t){
        .num_partitions = bc->offsets_topic_num_partitions,
        .replication_factor = bc->offsets_topic_replication_factor,
        .segment_bytes = bc->offsets_topic_segment_bytes,
        .retention_ms = bc->offsets_retention_minutes * 60000,
        .retention_check_ms = bc->offsets_retention_check_interval_ms,
        .initial_rebalance_delay_ms = bc->group_initial_rebalance_delay_ms,
        .min_session_timeout_ms = bc->group_min_session_timeout_ms,
        .max_session_timeout_ms = bc->group_max_session_timeout_ms,
        .max_size = bc->group_max_size,
        .new_member_join_timeout_ms = 300000,
    };
}

/* --- which coordinator serves which broker (handlers get only the broker) --- */

static struct {
    gr_broker_t *b;
    gr_coordinator_t *co;
} registry[8];

gr_coordinator_t *gr_coordinator_of(gr_broker_t *b)
{
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (registry[i].co && registry[i].b == b) return registry[i].co;
    return NULL;
}

static void expire_tick(gr_timer_t *t);

int gr_coordinator_new(gr_broker_t *b, gr_loop_t *loop, const gr_coordinator_config_t *cfg, gr_coordinator_t **out)
{
    gr_coordinator_t *co = calloc(1, sizeof *co);
    if (!co) return GR_ENOMEM;
    co->b = b;
    co->loop = loop;
    co->cfg = *cfg;
    co->nbuckets = 64;
    co->buckets = calloc(co->nbuckets, sizeof *co->buckets);
    if (!co->buckets) {
        free(co);
        return GR_ENOMEM;
    }
    gr_writer_init(&co->batch);
    gr_writer_init(&co->key);
    gr_writer_init(&co->value);
    gr_timer_init(&co->expire_timer, expire_tick);
    if (!b) {
        /* Unit tests: every partition is ours at once. */
        co->npartitions = cfg->num_partitions;
        co->pstate = malloc((size_t)co->npartitions);
        if (co->pstate) memset(co->pstate, GR_COORD_PART_OURS, (size_t)co->npartitions);
    } else {
        for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
            if (!registry[i].co) {
                registry[i].b = b;
                registry[i].co = co;
                break;
            }
        }
    }
    *out = co;
    return 0;
}

void gr_coordinator_close(gr_coordinator_t *co)
{
    if (!co) return;
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (registry[i].co == co) registry[i].co = NULL, registry[i].b = NULL;
    gr_loop_timer_cancel(co->loop, &co->expire_timer);
    for (uint32_t i = 0; i < co->nbuckets; i++) {
        while (co->buckets[i]) {
            gr_group_t *group = co->buckets[i];
            co->buckets[i] = group->hnext;
            gr_group_free(group, GR_KERR_COORDINATOR_NOT_AVAILABLE);
        }
    }
    free(co->buckets);
    free(co->pstate);
    gr_writer_free(&co->batch);
    gr_writer_free(&co->key);
    gr_writer_free(&co->value);
    free(co);
}

/* --- the group map --- */

gr_group_t *gr_coordinator_find(gr_coordinator_t *co, gr_str_t id)
{
    if (id.len < 0) return NULL;
    gr_group_t *group = co->buckets[gr_fnv1a32(id.ptr, (size_t)id.len) & (co->nbuckets - 1)];
    for (; group; group = group->hnext)
        if (strlen(group->id) == (size_t)id.len && !memcmp(group->id, id.ptr, (size_t)id.len)) return group;
    return NULL;
}

static void grow_map(gr_coordinator_t *co)
{
    uint32_t n = co->nbuckets * 2;
    gr_group_t **b = calloc(n, sizeof *b);
    if (!b) return;  /* longer chains, still correct */
    for (uint32_t i = 0; i < co->nbuckets; i++) {
        gr_group_t *group = co->buckets[i];
        while (group) {
            gr_group_t *next = group->hnext;
            uint32_t h = gr_fnv1a32(group->id, strlen(group->id)) & (n - 1);
            group->hnext = b[h];
            b[h] = group;
            group = next;
        }
    }
    free(co->buckets);
    co->buckets = b;
    co->nbuckets = n;
}

gr_group_t *gr_coordinator_get_or_create(gr_coordinator_t *co, gr_str_t id, int32_t partition)
{
    gr_group_t *group = gr_coordinator_find(co, id);
    if (group || id.len < 0) return group;
    if (co->ngroups + 1 > co->nbuckets) grow_map(co);
    group = gr_group_new(co, id.ptr, (size_t)id.len, partition);
    if (!group) return NULL;
    uint32_t h = gr_fnv1a32(id.ptr, (size_t)id.len) & (co->nbuckets - 1);
    group->hnext = co->buckets[h];
    co->buckets[h] = group;
    co->ngroups++;
    return group;
}

void gr_coordinator_remove(gr_coordinator_t *co, gr_group_t *group)
{
    gr_group_t **pp = &co->buckets[gr_fnv1a32(group->id, strlen(group->id)) & (co->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->hnext) {
        if (*pp == group) {
            *pp = group->hnext;
            co->ngroups--;
            break;
        }
    }
    gr_group_free(group, GR_KERR_COORDINATOR_NOT_AVAILABLE);
}

void gr_coordinator_foreach(gr_coordinator_t *co, void (*fn)(void *arg, gr_group_t *group), void *arg)
{
    for (uint32_t i = 0; i < co->nbuckets; i++) {
        gr_group_t *group = co->buckets[i];
        while (group) {
            gr_group_t *next = group->hnext;
            fn(arg, group);
            group = next;
        }
    }
}

char *gr_coordinator_member_id(gr_coordinator_t *co, gr_str_t client_id)
{
    uint8_t u[16];
    if (getrandom(u, sizeof u, GRND_NONBLOCK) != (ssize_t)sizeof u) {
        /* Uniqueness is what matters; fall back to a sequence. */
        uint64_t s = ++co->member_seq, t = (uint64_t)gr_now_ms();
        memcpy(u, &s, 8);
        memcpy(u + 8, &t, 8);
    }
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    int clen = client_id.len > 0 ? (client_id.len > 255 ? 255 : client_id.len) : 0;
    char *id = malloc((size_t)clen + 38);
    if (!id) return NULL;
    snprintf(id, (size_t)clen + 38,
             "%.*s-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", clen,
             clen ? client_id.ptr : "", u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
             u[12], u[13], u[14], u[15]);
    return id;
}

/* --- the topic and routing --- */

static gr_broker_topic_t *offsets_topic(gr_coordinator_t *co)
{
    return co->b ? gr_broker_topic(co->b, GR_OFFSETS_TOPIC, strlen(GR_OFFSETS_TOPIC)) : NULL;
}

static int take_partitions(gr_coordinator_t *co, int32_t n, uint8_t state)
{
    uint8_t *ps = malloc((size_t)(n > 0 ? n : 1));
    if (!ps) return GR_ENOMEM;
    memset(ps, state, (size_t)(n > 0 ? n : 1));
    free(co->pstate);
    co->pstate = ps;
    co->npartitions = n;
    return 0;
}

int gr_coordinator_ensure_topic(gr_coordinator_t *co)
{
    if (!co->b) return 0;
    if (co->pstate && offsets_topic(co)) return 0;
    gr_broker_topic_t *t = offsets_topic(co);
    if (!t) {
        char segbytes[32], err[256];
        snprintf(segbytes, sizeof segbytes, "%d", co->cfg.segment_bytes);
        gr_config_kv_t configs[] = {{"cleanup.policy", "compact"}, {"segment.bytes", segbytes}};
        int rc = gr_topics_create(co->b->topics, GR_OFFSETS_TOPIC, co->cfg.num_partitions, co->cfg.replication_factor,
                                  configs, 2, false, NULL, err, sizeof err);
        if (rc < 0 && rc != GR_EEXISTS) {
            gr_error("coordinator: cannot create %s: %s", GR_OFFSETS_TOPIC, err);
            return rc;
        }
        if (!(t = offsets_topic(co))) return GR_ENOTFOUND;
        gr_info("coordinator: created %s with %d partitions", GR_OFFSETS_TOPIC, t->npartitions);
    }
    /* A new topic is empty: nothing to load. */
    return take_partitions(co, t->npartitions, GR_COORD_PART_OURS);
}

int16_t gr_coordinator_route(gr_coordinator_t *co, gr_str_t group_id, int32_t *partition)
{
    if (gr_coordinator_ensure_topic(co) < 0 || co->npartitions <= 0) return GR_KERR_COORDINATOR_NOT_AVAILABLE;
    int32_t p = gr_offsets_partition_for(group_id.ptr ? group_id.ptr : "", group_id.len > 0 ? (size_t)group_id.len : 0,
                                         co->npartitions);
    if (partition) *partition = p;
    switch (co->pstate[p]) {
    case GR_COORD_PART_OURS: return GR_KERR_NONE;
    case GR_COORD_PART_LOADING: return GR_KERR_COORDINATOR_LOAD_IN_PROGRESS;
    default: return GR_KERR_NOT_COORDINATOR;
    }
}

/* --- writes --- */

static int append_batch(gr_coordinator_t *co, int32_t partition, gr_partition_t **flush_p, int64_t *flush_offset)
{
    if (flush_p) *flush_p = NULL;
    if (!co->b) return 0;
    gr_broker_topic_t *t = offsets_topic(co);
    if (!t || partition < 0 || partition >= t->npartitions) return GR_ENOTFOUND;
    gr_partition_t *p = t->partitions[partition];
    gr_append_info_t info;
    int rc = gr_broker_append(co->b, t, p, co->batch.buf, co->batch.len, &info);
    if (rc < 0) return rc;
    if (info.flush_due && flush_p) {
        *flush_p = p;
        *flush_offset = info.last_offset + 1;
    }
    return 0;
}

static int add_record(gr_coordinator_t *co, gr_record_builder_t *rb, int64_t now, bool tombstone)
{
    gr_bytes_t key = {co->key.buf, (int32_t)co->key.len};
    gr_bytes_t value = tombstone ? (gr_bytes_t){NULL, -1} : (gr_bytes_t){co->value.buf, (int32_t)co->value.len};
    return gr_record_builder_add(rb, -1, now, key, value, NULL, 0);
}

int gr_coordinator_store_group(gr_coordinator_t *co, gr_group_t *group, bool tombstone)
{
    if (!co->b) return 0;
    int64_t now = gr_wall_ms();
    gr_writer_reset(&co->batch);
    gr_writer_reset(&co->key);
    gr_writer_reset(&co->value);
    gr_offsets_encode_group_key(&co->key, gr_str(group->id));
    if (!tombstone) {
        gr_GroupMetadataValue v;
        gr_GroupMetadataValue_init(&v);
        v.ProtocolType = gr_str(group->protocol_type ? group->protocol_type : "");
        v.Generation = group->generation;
        v.Protocol = group->protocol_name ? gr_str(group->protocol_name) : GR_STR_NULL;
        v.Leader = group->leader_id ? gr_str(group->leader_id) : GR_STR_NULL;
        v.CurrentStateTimestamp = group->state_ts;
        gr_GroupMetadataValue_MemberMetadata ms[group->nmembers ? group->nmembers : 1];
        v.Members_count = group->nmembers;
        v.Members = ms;
        for (int i = 0; i < group->nmembers; i++) {
            gr_group_member_t *m = group->members[i];
            const gr_group_protocol_t *sub = NULL;
            for (int j = 0; group->protocol_name && j < m->nprotocols; j++)
                if (!strcmp(m->protocols[j].name, group->protocol_name)) sub = &m->protocols[j];
            ms[i] = (gr_GroupMetadataValue_MemberMetadata){
                .MemberId = gr_str(m->member_id),
                .GroupInstanceId = m->instance_id ? gr_str(m->instance_id) : GR_STR_NULL,
                .ClientId = gr_str(m->client_id),
                .ClientHost = gr_str(m->client_host),
                .RebalanceTimeout = m->rebalance_timeout_ms,
                .SessionTimeout = m->session_timeout_ms,
                .Subscription = sub ? (gr_bytes_t){sub->metadata, sub->len} : (gr_bytes_t){(const uint8_t *)"", 0},
                .Assignment = {m->assignment ? m->assignment : (const uint8_t *)"", m->assignment_len},
            };
        }
        gr_write_i16(&co->value, 3);
        gr_GroupMetadataValue_encode(&co->value, 3, &v);
    }
    gr_record_builder_t rb;
    gr_record_builder_begin(&rb, &co->batch, 0);
    int rc = add_record(co, &rb, now, tombstone);
    if (rc == 0) rc = gr_record_builder_finish(&rb);
    if (rc == 0) rc = append_batch(co, group->partition, NULL, NULL);
    return rc;
}

/* Kafka: currentTimestamp + retentionTime for any retention but -1 (a
 * negative one means already expired; clamped so -1 stays "none"). */
static int64_t entry_expire_ts(const gr_commit_entry_t *e, int64_t now)
{
    if (!e->has_retention) return -1;
    if (e->retention_ms > 0 && now > INT64_MAX - e->retention_ms) return INT64_MAX;
    int64_t t = now + e->retention_ms;
    return t < 0 ? 0 : t;
}

int gr_coordinator_store_offsets(gr_coordinator_t *co, gr_group_t *group, const gr_commit_entry_t *e, int n,
                                 gr_partition_t **flush_p, int64_t *flush_offset)
{
    if (flush_p) *flush_p = NULL;
    if (n <= 0) return 0;
    int64_t now = gr_wall_ms();
    int rc = 0;
    if (co->b) {
        gr_writer_reset(&co->batch);
        gr_record_builder_t rb;
        gr_record_builder_begin(&rb, &co->batch, 0);
        for (int i = 0; i < n && rc == 0; i++) {
            gr_writer_reset(&co->key);
            gr_writer_reset(&co->value);
            gr_offsets_encode_commit_key(&co->key, gr_str(group->id), e[i].topic, e[i].partition);
            if (!e[i].tombstone)
                gr_offsets_encode_commit_value(&co->value, e[i].offset, e[i].leader_epoch, e[i].metadata, now,
                                               entry_expire_ts(&e[i], now));
            rc = add_record(co, &rb, now, e[i].tombstone);
        }
        if (rc == 0) rc = gr_record_builder_finish(&rb);
        if (rc == 0) rc = append_batch(co, group->partition, flush_p, flush_offset);
        if (rc < 0) return rc;
    }
    /* Written: the cache follows the log. */
    for (int i = 0; i < n; i++) {
        if (e[i].tombstone) {
            gr_offsets_delete(&group->offsets, e[i].topic.ptr, (size_t)e[i].topic.len, e[i].partition);
        } else {
            rc = gr_offsets_put(&group->offsets, e[i].topic.ptr, (size_t)e[i].topic.len, e[i].partition, e[i].offset,
                                e[i].leader_epoch, e[i].metadata, now, entry_expire_ts(&e[i], now));
            if (rc < 0) return rc;
        }
    }
    return 0;
}

/* --- expiry and deletion --- */

typedef struct expire_ctx {
    gr_coordinator_t *co;
    gr_group_t *group;
    int64_t now;
    bool all;                   /* the whole group's offsets expire (deletion) */
    int64_t base_ts;            /* >= 0: retention counts from this (Empty group's state time), else from the commit */
    bool unsubscribed_only;     /* Stable consumer group: topics no member subscribes to */
    gr_commit_entry_t *e;
    int n, cap;
    int expired;
} expire_ctx_t;

static void collect_offset(void *arg, gr_offset_t *off)
{
    expire_ctx_t *x = arg;
    if (!x->all) {
        /* Kafka's getExpiredOffsets: an explicit expire timestamp (commit
         * with RetentionTimeMs) wins over offsets.retention.minutes. */
        if (off->expire_ts >= 0) {
            if (x->now < off->expire_ts) return;
        } else if ((x->base_ts >= 0 ? x->base_ts : off->commit_ts) + x->co->cfg.retention_ms > x->now) {
            return;
        }
    }
    if (x->unsubscribed_only && gr_group_subscribed_to(x->group, off->topic, strlen(off->topic))) return;
    if (x->n == x->cap) {
        int nc = x->cap ? x->cap * 2 : 16;
        gr_commit_entry_t *e = realloc(x->e, (size_t)nc * sizeof *e);
        if (!e) return;
        x->e = e;
        x->cap = nc;
    }
    x->e[x->n++] = (gr_commit_entry_t){.topic = gr_str(off->topic), .partition = off->partition, .tombstone = true};
}

/* Tombstones for the collected offsets, in batches.  The entries point at
 * the offsets' own names, so the cache is updated only after the write. */
static int write_tombstones(expire_ctx_t *x)
{
    const int chunk = 1000;
    for (int i = 0; i < x->n; i += chunk) {
        int n = x->n - i < chunk ? x->n - i : chunk;
        int rc = 0;
        if (x->co->b) {
            gr_writer_reset(&x->co->batch);
            gr_record_builder_t rb;
            gr_record_builder_begin(&rb, &x->co->batch, 0);
            for (int j = i; j < i + n && rc == 0; j++) {
                gr_writer_reset(&x->co->key);
                gr_offsets_encode_commit_key(&x->co->key, gr_str(x->group->id), x->e[j].topic, x->e[j].partition);
                rc = add_record(x->co, &rb, x->now, true);
            }
            if (rc == 0) rc = gr_record_builder_finish(&rb);
            if (rc == 0) rc = append_batch(x->co, x->group->partition, NULL, NULL);
        }
        if (rc < 0) return rc;
        for (int j = i; j < i + n; j++) {
            /* Copy the name first: deleting frees it. */
            char topic[GR_TOPIC_NAME_MAX + 1];
            snprintf(topic, sizeof topic, "%.*s", (int)x->e[j].topic.len, x->e[j].topic.ptr);
            gr_offsets_delete(&x->group->offsets, topic, strlen(topic), x->e[j].partition);
            x->expired++;
        }
    }
    return 0;
}

static void expire_group(void *arg, gr_group_t *group)
{
    expire_ctx_t *x = arg;
    x->group = group;
    x->n = 0;
    x->unsubscribed_only = false;
    x->all = false;
    x->base_ts = -1;
    if (group->state == GR_GROUP_STABLE) {
        /* Kafka (GroupMetadata.removeExpiredOffsets): a Stable consumer
         * group whose members' subscriptions are known loses the offsets of
         * topics none of them subscribes to, retention after their commit. */
        if (!gr_group_subscriptions_known(group)) return;
        x->all = false;
        x->unsubscribed_only = true;
        gr_offsets_foreach(&group->offsets, collect_offset, x);
        write_tombstones(x);
        return;
    }
    if (group->state != GR_GROUP_EMPTY) return;
    /* KIP-211: a group that had members keeps its offsets until it has
     * been empty for the retention period; a standalone consumer's offsets
     * expire one by one from their commit time.  Offsets with their own
     * expire timestamp expire at it in either case. */
    if (group->protocol_type) x->base_ts = group->state_ts;
    gr_offsets_foreach(&group->offsets, collect_offset, x);
    if (write_tombstones(x) < 0) return;
    if (group->offsets.count == 0) {
        gr_info("group %s: empty with no offsets left; removing it", group->id);
        if (group->generation > 0 || group->protocol_type) gr_coordinator_store_group(x->co, group, true);
        gr_coordinator_remove(x->co, group);
    }
}

int gr_coordinator_expire(gr_coordinator_t *co, int64_t now_wall_ms)
{
    expire_ctx_t x = {.co = co, .now = now_wall_ms};
    gr_coordinator_foreach(co, expire_group, &x);
    free(x.e);
    if (x.expired) gr_info("coordinator: expired %d offsets", x.expired);
    return x.expired;
}

static void expire_tick(gr_timer_t *t)
{
    gr_coordinator_t *co = (gr_coordinator_t *)((char *)t - offsetof(gr_coordinator_t, expire_timer));
    gr_coordinator_expire(co, gr_wall_ms());
    gr_loop_timer_arm(co->loop, &co->expire_timer, gr_now_ms() + co->cfg.retention_check_ms);
}

int16_t gr_coordinator_delete_group(gr_coordinator_t *co, gr_group_t *group)
{
    if (!group || group->state == GR_GROUP_DEAD) return GR_KERR_GROUP_ID_NOT_FOUND;
    if (group->state != GR_GROUP_EMPTY) return GR_KERR_NON_EMPTY_GROUP;
    expire_ctx_t x = {.co = co, .group = group, .now = gr_wall_ms(), .all = true, .base_ts = -1};
    gr_offsets_foreach(&group->offsets, collect_offset, &x);
    int rc = write_tombstones(&x);
    free(x.e);
    if (rc == 0) rc = gr_coordinator_store_group(co, group, true);
    if (rc < 0) return gr_error_to_kafka(rc);
    gr_info("group %s: deleted", group->id);
    gr_coordinator_remove(co, group);
    return GR_KERR_NONE;
}

/* --- loading --- */

int gr_coordinator_load(gr_coordinator_t *co)
{
    if (co->b) {
        gr_broker_topic_t *t = offsets_topic(co);
        if (t) {
            int rc = take_partitions(co, t->npartitions, GR_COORD_PART_LOADING);
            if (rc < 0) return rc;
            int64_t start = gr_now_ms();
            for (int32_t p = 0; p < t->npartitions; p++) {
                rc = gr_coordinator_load_partition(co, p, t->partitions[p]->log);
                if (rc < 0) {
                    gr_error("coordinator: loading %s-%d failed: %s", GR_OFFSETS_TOPIC, p, gr_strerror(rc));
                    return rc;
                }
                co->pstate[p] = GR_COORD_PART_OURS;
            }
            gr_info("coordinator: loaded %u groups from %d partitions in %" PRId64 " ms", co->ngroups,
                    t->npartitions, gr_now_ms() - start);
        }
    }
    gr_loop_timer_arm(co->loop, &co->expire_timer, gr_now_ms() + co->cfg.retention_check_ms);
    return 0;
}
