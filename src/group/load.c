/* Rebuilding groups and offsets from __consumer_offsets at startup: every
 * record of a partition is applied in log order, so the last value of a key
 * wins and a tombstone deletes (exactly what compaction preserves). */
#include <stdlib.h>
#include <unistd.h>

#include "group/coordinator.h"
#include "protocol/errors.h"
#include "protocol/messages.h"
#include "protocol/record_batch.h"
#include "protocol/records.h"
#include "util/arena.h"
#include "util/log.h"

typedef struct load_ctx {
    gr_coordinator_t *co;
    int32_t partition;
    gr_arena_t arena;
    int64_t records, bad;
} load_ctx_t;

static char *dup_str(gr_str_t s)
{
    if (s.len < 0) return NULL;
    char *p = malloc((size_t)s.len + 1);
    if (p) {
        memcpy(p, s.ptr, (size_t)s.len);
        p[s.len] = 0;
    }
    return p;
}

static int apply_group(gr_coordinator_t *co, int32_t partition, gr_str_t id, gr_bytes_t value, gr_arena_t *arena)
{
    gr_group_t *group = gr_coordinator_get_or_create(co, id, partition);
    if (!group) return GR_ENOMEM;
    gr_group_clear_members(group);
    free(group->protocol_type);
    free(group->protocol_name);
    group->protocol_type = group->protocol_name = NULL;
    if (value.len < 0) {
        group->generation = 0;
        return 0;
    }
    gr_reader_t r;
    gr_reader_init(&r, value.ptr, (size_t)value.len);
    int16_t version = gr_read_i16(&r);
    if (version < 0 || version > 3) return GR_ECORRUPT;
    gr_GroupMetadataValue v;
    if (gr_GroupMetadataValue_decode(&r, arena, version, &v) < 0) return GR_ECORRUPT;
    group->generation = v.Generation;
    group->protocol_type = v.ProtocolType.len > 0 ? dup_str(v.ProtocolType) : NULL;
    group->protocol_name = dup_str(v.Protocol);
    group->state_ts = v.CurrentStateTimestamp >= 0 ? v.CurrentStateTimestamp : gr_wall_ms();
    for (int32_t i = 0; i < v.Members_count; i++) {
        gr_GroupMetadataValue_MemberMetadata *m = &v.Members[i];
        if (!gr_group_restore_member(group, m->MemberId, version >= 3 ? m->GroupInstanceId : GR_STR_NULL, m->ClientId,
                                     m->ClientHost, m->SessionTimeout,
                                     version >= 1 ? m->RebalanceTimeout : m->SessionTimeout, v.Protocol,
                                     m->Subscription, m->Assignment))
            return GR_ENOMEM;
    }
    free(group->leader_id);
    group->leader_id = v.Members_count > 0 ? dup_str(v.Leader) : NULL;
    return 0;
}

int gr_coordinator_apply_record(gr_coordinator_t *co, int32_t partition, gr_bytes_t key, gr_bytes_t value)
{
    if (key.len < 2) return GR_ECORRUPT;
    gr_arena_t arena;
    gr_arena_init(&arena);
    gr_reader_t r;
    gr_reader_init(&r, key.ptr, (size_t)key.len);
    int16_t kv = gr_read_i16(&r);
    int rc = 0;
    if (kv == 0 || kv == 1) {
        gr_OffsetCommitKey k;
        if (gr_OffsetCommitKey_decode(&r, &arena, kv, &k) < 0 || k.Topic.len < 0) {
            rc = GR_ECORRUPT;
            goto out;
        }
        if (value.len < 0) {
            gr_group_t *group = gr_coordinator_find(co, k.Group);
            if (group) gr_offsets_delete(&group->offsets, k.Topic.ptr, (size_t)k.Topic.len, k.Partition);
            goto out;
        }
        gr_reader_t vr;
        gr_reader_init(&vr, value.ptr, (size_t)value.len);
        int16_t vv = gr_read_i16(&vr);
        gr_OffsetCommitValue v;
        if (vv < 0 || vv > 3 || gr_OffsetCommitValue_decode(&vr, &arena, vv, &v) < 0) {
            rc = GR_ECORRUPT;
            goto out;
        }
        gr_group_t *group = gr_coordinator_get_or_create(co, k.Group, partition);
        rc = group ? gr_offsets_put(&group->offsets, k.Topic.ptr, (size_t)k.Topic.len, k.Partition, v.Offset,
                                    vv >= 3 ? v.LeaderEpoch : -1, v.Metadata, v.CommitTimestamp,
                                    vv == 1 ? (v.ExpireTimestamp >= 0 ? v.ExpireTimestamp : 0) : -1)
                   : GR_ENOMEM;
    } else if (kv == 2) {
        gr_GroupMetadataKey k;
        if (gr_GroupMetadataKey_decode(&r, &arena, kv, &k) < 0 || k.Group.len < 0) {
            rc = GR_ECORRUPT;
            goto out;
        }
        rc = apply_group(co, partition, k.Group, value, &arena);
    } else {
        rc = GR_ECORRUPT;   /* a future key version: skipped, as Kafka warns and skips */
    }
out:
    gr_arena_destroy(&arena);
    return rc;
}

static int on_record(const gr_record_t *rec, void *arg)
{
    load_ctx_t *x = arg;
    x->records++;
    int rc = gr_coordinator_apply_record(x->co, x->partition, rec->key, rec->value);
    if (rc == GR_ENOMEM) return rc;
    if (rc < 0 && x->bad++ < 10)
        gr_warn("coordinator: %s-%d offset %lld: record skipped: %s", GR_OFFSETS_TOPIC, x->partition,
                (long long)rec->offset, gr_strerror(rc));
    return 0;
}

typedef struct finish_ctx {
    gr_coordinator_t *co;
    int32_t partition;
} finish_ctx_t;

static void finish_group(void *arg, gr_group_t *group)
{
    finish_ctx_t *f = arg;
    if (group->partition != f->partition) return;
    if (!group->nmembers && !group->offsets.count && !group->protocol_type) {
        gr_coordinator_remove(f->co, group);
        return;
    }
    gr_group_loaded(group);
}

int gr_coordinator_load_partition(gr_coordinator_t *co, int32_t partition, gr_log_t *log)
{
    load_ctx_t x = {.co = co, .partition = partition};
    int64_t offset = gr_log_start_offset(log), end = gr_log_end_offset(log);
    uint8_t *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    while (offset < end) {
        gr_log_slice_t s;
        rc = gr_log_read(log, offset, end, 1 << 20, true, &s);
        if (rc < 0) break;
        if (s.len <= 0) {
            if (s.file) gr_file_release(s.file);
            break;
        }
        if ((size_t)s.len > cap) {
            uint8_t *nb = realloc(buf, (size_t)s.len);
            if (!nb) {
                gr_file_release(s.file);
                rc = GR_ENOMEM;
                break;
            }
            buf = nb;
            cap = (size_t)s.len;
        }
        ssize_t got = pread(s.file->fd, buf, (size_t)s.len, s.pos);
        gr_file_release(s.file);
        if (got != s.len) {
            rc = GR_EIO;
            break;
        }
        size_t pos = 0;
        int64_t next = offset;
        while (pos + GR_BATCH_HEADER_SIZE <= (size_t)s.len) {
            gr_batch_header_t h;
            int64_t size = gr_batch_parse_header(buf + pos, (size_t)s.len - pos, &h);
            if (size < 0 || pos + (size_t)size > (size_t)s.len) break;
            next = h.base_offset + h.last_offset_delta + 1;
            /* Control batches (transaction markers) carry no group data. */
            if (!(h.attributes & GR_BATCH_ATTR_CONTROL)) {
                rc = gr_records_decode(buf + pos, (size_t)size, on_record, &x);
                if (rc == GR_ENOMEM) goto done;
                if (rc < 0) gr_warn("coordinator: %s-%d: batch at %lld unreadable: %s", GR_OFFSETS_TOPIC, partition,
                                    (long long)h.base_offset, gr_strerror(rc));
                rc = 0;
            }
            pos += (size_t)size;
        }
        if (next <= offset) {
            rc = GR_ECORRUPT;
            break;
        }
        offset = next;
    }
done:
    free(buf);
    finish_ctx_t f = {co, partition};
    gr_coordinator_foreach(co, finish_group, &f);
    if (x.records) gr_debug("coordinator: %s-%d: %lld records applied", GR_OFFSETS_TOPIC, partition,
                            (long long)x.records);
    return rc;
}
