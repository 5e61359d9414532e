/* Committed offsets of one group and the record encoders; see offsets.h. */
#include "group/offsets.h"

#include <stdlib.h>
#include <string.h>

#include "protocol/errors.h"
#include "protocol/messages.h"
#include "util/hash.h"

static uint32_t hash_tp(const char *topic, size_t len, int32_t partition)
{
    return gr_fnv1a32_mix(gr_fnv1a32(topic, len), (uint32_t)partition);
}

void gr_offsets_init(gr_offsets_t *o) { memset(o, 0, sizeof *o); }

static void offset_free(gr_offset_t *off)
{
    free(off->topic);
    free(off->metadata);
    free(off);
}

void gr_offsets_free(gr_offsets_t *o)
{
    for (uint32_t i = 0; i < o->nbuckets; i++) {
        gr_offset_t *off = o->buckets[i];
        while (off) {
            gr_offset_t *next = off->next;
            offset_free(off);
            off = next;
        }
    }
    free(o->buckets);
    memset(o, 0, sizeof *o);
}

static bool same(const gr_offset_t *off, const char *topic, size_t len, int32_t partition)
{
    return off->partition == partition && strlen(off->topic) == len && memcmp(off->topic, topic, len) == 0;
}

gr_offset_t *gr_offsets_get(const gr_offsets_t *o, const char *topic, size_t len, int32_t partition)
{
    if (!o->nbuckets) return NULL;
    gr_offset_t *off = o->buckets[hash_tp(topic, len, partition) & (o->nbuckets - 1)];
    for (; off; off = off->next)
        if (same(off, topic, len, partition)) return off;
    return NULL;
}

static int grow(gr_offsets_t *o)
{
    uint32_t n = o->nbuckets ? o->nbuckets * 2 : 16;
    gr_offset_t **b = calloc(n, sizeof *b);
    if (!b) return GR_ENOMEM;
    for (uint32_t i = 0; i < o->nbuckets; i++) {
        gr_offset_t *off = o->buckets[i];
        while (off) {
            gr_offset_t *next = off->next;
            uint32_t h = hash_tp(off->topic, strlen(off->topic), off->partition) & (n - 1);
            off->next = b[h];
            b[h] = off;
            off = next;
        }
    }
    free(o->buckets);
    o->buckets = b;
    o->nbuckets = n;
    return 0;
}

int gr_offsets_put(gr_offsets_t *o, const char *topic, size_t len, int32_t partition, int64_t offset,
                   int32_t leader_epoch, gr_str_t metadata, int64_t commit_ts, int64_t expire_ts)
{
    gr_offset_t *off = gr_offsets_get(o, topic, len, partition);
    if (!off) {
        if (o->count + 1 > o->nbuckets && grow(o) < 0) return GR_ENOMEM;
        off = calloc(1, sizeof *off);
        if (!off || !(off->topic = malloc(len + 1))) {
            free(off);
            return GR_ENOMEM;
        }
        memcpy(off->topic, topic, len);
        off->topic[len] = 0;
        off->partition = partition;
        uint32_t h = hash_tp(topic, len, partition) & (o->nbuckets - 1);
        off->next = o->buckets[h];
        o->buckets[h] = off;
        o->count++;
    }
    int32_t mlen = metadata.len > 0 ? metadata.len : 0;
    if (mlen != off->metadata_len || (mlen && memcmp(off->metadata, metadata.ptr, (size_t)mlen))) {
        char *m = NULL;
        if (mlen) {
            if (!(m = malloc((size_t)mlen))) return GR_ENOMEM;
            memcpy(m, metadata.ptr, (size_t)mlen);
        }
        free(off->metadata);
        off->metadata = m;
        off->metadata_len = mlen;
    }
    off->offset = offset;
    off->leader_epoch = leader_epoch;
    off->commit_ts = commit_ts;
    off->expire_ts = expire_ts;
    return 0;
}

bool gr_offsets_delete(gr_offsets_t *o, const char *topic, size_t len, int32_t partition)
{
    if (!o->nbuckets) return false;
    gr_offset_t **pp = &o->buckets[hash_tp(topic, len, partition) & (o->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next) {
        if (same(*pp, topic, len, partition)) {
            gr_offset_t *off = *pp;
            *pp = off->next;
            offset_free(off);
            o->count--;
            return true;
        }
    }
    return false;
}

void gr_offsets_foreach(gr_offsets_t *o, void (*fn)(void *arg, gr_offset_t *off), void *arg)
{
    for (uint32_t i = 0; i < o->nbuckets; i++) {
        gr_offset_t *off = o->buckets[i];
        while (off) {
            gr_offset_t *next = off->next;
            fn(arg, off);
            off = next;
        }
    }
}

void gr_offsets_encode_commit_key(gr_writer_t *w, gr_str_t group, gr_str_t topic, int32_t partition)
{
    gr_OffsetCommitKey k = {.Group = group, .Topic = topic, .Partition = partition};
    gr_write_i16(w, 1);
    gr_OffsetCommitKey_encode(w, 1, &k);
}

void gr_offsets_encode_commit_value(gr_writer_t *w, int64_t offset, int32_t leader_epoch, gr_str_t metadata,
                                    int64_t commit_ts, int64_t expire_ts)
{
    /* Kafka stores a null metadata as "" (OffsetAndMetadata.NoMetadata). */
    gr_OffsetCommitValue v = {.Offset = offset,
                              .LeaderEpoch = leader_epoch,
                              .Metadata = metadata.len >= 0 ? metadata : (gr_str_t){"", 0},
                              .CommitTimestamp = commit_ts,
                              .ExpireTimestamp = expire_ts};
    /* Kafka writes v1 for an offset with an expire timestamp (v1 has no
     * leader epoch; v2 and v3 have no expire timestamp). */
    int16_t version = expire_ts >= 0 ? 1 : 3;
    gr_write_i16(w, version);
    gr_OffsetCommitValue_encode(w, version, &v);
}

void gr_offsets_encode_group_key(gr_writer_t *w, gr_str_t group)
{
    gr_GroupMetadataKey k = {.Group = group};
    gr_write_i16(w, 2);
    gr_GroupMetadataKey_encode(w, 2, &k);
}

/* Java hashes the UTF-16 form of the string, so decode UTF-8 to code points
 * and hash surrogate pairs for those above the BMP.  Malformed bytes count
 * as U+FFFD, as Java's decoder replaces them. */
int32_t gr_offsets_java_hash(const char *s, size_t len)
{
    uint32_t h = 0;
    const uint8_t *p = (const uint8_t *)s, *end = p + len;
    while (p < end) {
        uint32_t c = *p++;
        int more = 0;
        if (c < 0x80) more = 0;
        else if (c < 0xc0) c = 0xfffd;
        else if (c < 0xe0) more = 1, c &= 0x1f;
        else if (c < 0xf0) more = 2, c &= 0x0f;
        else if (c < 0xf8) more = 3, c &= 0x07;
        else c = 0xfffd;
        for (; more > 0; more--) {
            if (p >= end || (*p & 0xc0) != 0x80) {
                c = 0xfffd;
                break;
            }
            c = c << 6 | (*p++ & 0x3f);
        }
        if (c > 0xffff) {
            c -= 0x10000;
            h = 31 * h + (0xd800 + (c >> 10));
            h = 31 * h + (0xdc00 + (c & 0x3ff));
        } else {
            h = 31 * h + c;
        }
    }
    return (int32_t)h;
}

int32_t gr_offsets_partition_for(const char *group, size_t len, int32_t n)
{
    int32_t h = gr_offsets_java_hash(group, len);
    int32_t a = h == INT32_MIN ? 0 : (h < 0 ? -h : h);
    return n > 0 ? a % n : 0;
}
