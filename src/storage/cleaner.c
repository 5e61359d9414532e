/* The log cleaner (compaction).  Contract in cleaner.h; the tour, the
 * crash-safe swap and the tombstone rule are in README.md, "Compaction".
 *
 * One pass over a log (Kafka's Cleaner.clean, our own code):
 *   1. snapshot the non-active segments (gr_log_cleanable);
 *   2. the dirty section runs from the checkpoint to the first segment that
 *      is uncleanable: the active one, or the first whose largest timestamp
 *      is within min.compaction.lag.ms;
 *   3. clean only if dirty bytes / (clean + dirty) bytes exceeds
 *      min.cleanable.dirty.ratio, or the oldest dirty batch is older than
 *      max.compaction.lag.ms;
 *   4. build key -> latest offset over the dirty section;
 *   5. rewrite every non-active segment below the end of the dirty section,
 *      in groups of consecutive segments that fit one segment, keeping a
 *      record when its key is not in the map or its offset is >= the map's
 *      (and dropping tombstones past delete.retention.ms), and swap each
 *      group in with gr_log_replace_segments.
 *   (3') when step 3 says no but a tombstone kept by an earlier pass is due,
 *      tombstone_pass instead rewrites only the clean segments holding
 *      expired tombstones.
 * No lock is held while reading and writing: the segments read are
 * non-active, so nothing appends to them, and a segment deleted meanwhile
 * (retention) stays readable through our reference; the swap then notices
 * and the group is dropped.
 */
#include "storage/cleaner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "protocol/errors.h"
#include "protocol/prim.h"
#include "protocol/record_batch.h"
#include "protocol/records.h"
#include "storage/checkpoint.h"
#include "storage/segment.h"
#include "util/buf.h"
#include "util/log.h"

#define CHECKPOINT_FILE "cleaner-offset-checkpoint"
#define READ_CHUNK ((size_t)1 << 20)

void gr_cleaner_log_config_default(gr_cleaner_log_config_t *cc)
{
    cc->delete_retention_ms = 86400000;
    cc->min_cleanable_dirty_ratio = 0.5;
    cc->min_compaction_lag_ms = 0;
    cc->max_compaction_lag_ms = INT64_MAX;
}

void gr_cleaner_config_default(gr_cleaner_config_t *cfg)
{
    cfg->backoff_ms = 15000;
    cfg->io_max_bytes_per_second = 1.7976931348623157e308;   /* Kafka: Double.MAX_VALUE */
    cfg->dedupe_buffer_size = 134217728;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --- the key -> latest offset map ---
 *
 * Open addressing over full keys (Kafka's SkimpyOffsetMap keeps only an MD5
 * of each key and accepts collisions; keeping the key bytes costs more
 * memory but can never drop a record whose key merely hashes alike). */

typedef struct omap_slot {
    uint64_t hash;          /* 0 = empty */
    int64_t offset;
    size_t key_off;         /* into keys */
    uint32_t key_len;
} omap_slot_t;

typedef struct omap {
    omap_slot_t *slots;
    size_t cap, count;      /* cap a power of two */
    uint8_t *keys;
    size_t keys_len, keys_cap;
} omap_t;

static uint64_t key_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h ? h : 1;
}

static size_t omap_bytes(const omap_t *m) { return m->cap * sizeof(omap_slot_t) + m->keys_cap; }

static omap_slot_t *omap_find(omap_t *m, uint64_t h, const uint8_t *key, size_t n)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        omap_slot_t *s = &m->slots[i];
        if (!s->hash || (s->hash == h && s->key_len == n && memcmp(m->keys + s->key_off, key, n) == 0)) return s;
    }
}

static int omap_grow(omap_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    omap_slot_t *old = m->slots;
    size_t old_cap = m->cap;
    m->slots = calloc(cap, sizeof *m->slots);
    if (!m->slots) {
        m->slots = old;
        return GR_ENOMEM;
    }
    m->cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].hash) continue;
        size_t mask = cap - 1, j = old[i].hash & mask;
        while (m->slots[j].hash) j = (j + 1) & mask;
        m->slots[j] = old[i];
    }
    free(old);
    return 0;
}

/* Records key -> offset, keeping the larger offset. */
static int omap_put(omap_t *m, const uint8_t *key, size_t n, int64_t offset)
{
    if ((m->count + 1) * 2 > m->cap && omap_grow(m) < 0) return GR_ENOMEM;
    uint64_t h = key_hash(key, n);
    omap_slot_t *s = omap_find(m, h, key, n);
    if (s->hash) {
        if (offset > s->offset) s->offset = offset;
        return 0;
    }
    if (m->keys_len + n > m->keys_cap) {
        size_t cap = m->keys_cap ? m->keys_cap * 2 : 65536;
        while (cap < m->keys_len + n) cap *= 2;
        uint8_t *k = realloc(m->keys, cap);
        if (!k) return GR_ENOMEM;
        m->keys = k;
        m->keys_cap = cap;
    }
    if (n) memcpy(m->keys + m->keys_len, key, n);
    *s = (omap_slot_t){h, offset, m->keys_len, (uint32_t)n};
    m->keys_len += n;
    m->count++;
    return 0;
}

/* The latest offset of key, or -1. */
static int64_t omap_get(omap_t *m, const uint8_t *key, size_t n)
{
    if (!m->cap) return -1;
    omap_slot_t *s = omap_find(m, key_hash(key, n), key, n);
    return s->hash ? s->offset : -1;
}

static void omap_free(omap_t *m)
{
    free(m->slots);
    free(m->keys);
    memset(m, 0, sizeof *m);
}

/* --- I/O throttle (log.cleaner.io.max.bytes.per.second) ---
 *
 * Counts bytes read and written and sleeps whenever the pass is ahead of
 * the allowed rate, measured over windows of about a second (Kafka's
 * Throttler checks every 300 ms), so producers keep the disk. */

typedef struct throttle {
    double rate;            /* bytes per second; 0 = unthrottled */
    int64_t start_ns;
    int64_t bytes;
} throttle_t;

static void throttle_init(throttle_t *t, double rate)
{
    t->rate = rate > 0 && rate < 1e18 ? rate : 0;
    t->start_ns = mono_ns();
    t->bytes = 0;
}

static void throttle(throttle_t *t, int64_t bytes)
{
    if (!t->rate) return;
    t->bytes += bytes;
    int64_t elapsed = mono_ns() - t->start_ns;
    double due_ns = (double)t->bytes / t->rate * 1e9;
    if (due_ns > (double)elapsed) {
        int64_t ns = (int64_t)(due_ns - (double)elapsed);
        struct timespec ts = {ns / 1000000000, ns % 1000000000};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
    }
    if (mono_ns() - t->start_ns > 1000000000) {
        t->start_ns = mono_ns();
        t->bytes = 0;
    }
}

/* --- reading a segment's batches --- */

typedef struct seg_reader {
    int fd;
    int64_t size;           /* bytes of whole batches (from the snapshot) */
    int64_t pos;            /* next batch */
    uint8_t *buf;
    size_t cap, len;
    int64_t at;             /* file position of buf[0] */
    throttle_t *th;
    int64_t *bytes_read;
    const char *path;
} seg_reader_t;

static int reader_fill(seg_reader_t *r, int64_t pos, size_t need)
{
    size_t want = need > READ_CHUNK ? need : READ_CHUNK;
    if ((int64_t)want > r->size - pos) want = (size_t)(r->size - pos);
    if (want > r->cap) {
        uint8_t *b = realloc(r->buf, want);
        if (!b) return GR_ENOMEM;
        r->buf = b;
        r->cap = want;
    }
    size_t done = 0;
    while (done < want) {
        ssize_t n = pread(r->fd, r->buf + done, want - done, pos + (int64_t)done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            gr_error("cleaner: read of %s.log at %lld failed: %s", r->path, (long long)(pos + (int64_t)done),
                     n < 0 ? strerror(errno) : "end of file");
            return GR_EIO;
        }
        done += (size_t)n;
    }
    r->at = pos;
    r->len = want;
    *r->bytes_read += (int64_t)want;
    throttle(r->th, (int64_t)want);
    return 0;
}

/* The next whole batch: 1 with *p, *len and *h set, 0 at the end, GR_E*. */
static int reader_next(seg_reader_t *r, const uint8_t **p, size_t *len, gr_batch_header_t *h)
{
    int rc;
    if (r->pos >= r->size) return 0;
    if (r->pos < r->at || r->pos + GR_BATCH_HEADER_SIZE > r->at + (int64_t)r->len) {
        if (r->size - r->pos < GR_BATCH_HEADER_SIZE) goto corrupt;
        if ((rc = reader_fill(r, r->pos, GR_BATCH_HEADER_SIZE)) < 0) return rc;
    }
    int64_t size = gr_batch_parse_header(r->buf + (r->pos - r->at), GR_BATCH_HEADER_SIZE, h);
    if (size < 0 || size > r->size - r->pos) goto corrupt;
    if (r->pos + size > r->at + (int64_t)r->len && (rc = reader_fill(r, r->pos, (size_t)size)) < 0) return rc;
    *p = r->buf + (r->pos - r->at);
    *len = (size_t)size;
    r->pos += size;
    return 1;
corrupt:
    /* Appends and recovery validated everything below the segment's size. */
    gr_error("cleaner: %s.log: bad batch at position %lld", r->path, (long long)r->pos);
    return GR_ECORRUPT;
}

/* --- records, keeping their encoded bytes ---
 *
 * One record (records.h has the whole layout):
 *
 *   length VARINT | attributes i8 | timestampDelta VARLONG |
 *   offsetDelta VARINT | keyLength VARINT | key | valueLength VARINT |
 *   value | headerCount VARINT | headers
 *
 * `length` counts the bytes after itself, so a record is self-delimiting:
 * the cleaner keeps the bytes from its length varint to its end unchanged,
 * and with them its timestampDelta and offsetDelta, which is why a
 * filtered batch keeps its baseOffset and baseTimestamp. */

typedef struct raw_record {
    const uint8_t *p;       /* the whole encoded record */
    size_t len;
    int64_t offset;
    const uint8_t *key;     /* NULL = null key */
    int32_t key_len;
    bool tombstone;         /* null value */
} raw_record_t;

static int next_record(gr_reader_t *r, int64_t base_offset, raw_record_t *out)
{
    const uint8_t *start = r->p;
    int32_t length = gr_read_varint(r);
    if (r->err || length < 0 || (size_t)length > gr_reader_left(r)) return GR_ECORRUPT;
    gr_reader_t b;
    gr_reader_init(&b, r->p, (size_t)length);
    r->p += length;
    gr_read_i8(&b);
    gr_read_varlong(&b);
    int32_t offset_delta = gr_read_varint(&b);
    int32_t klen = gr_read_varint(&b);
    if (b.err || klen < -1 || (klen > 0 && (size_t)klen > gr_reader_left(&b))) return GR_ECORRUPT;
    out->key = klen >= 0 ? b.p : NULL;
    out->key_len = klen;
    if (klen > 0) b.p += klen;
    int32_t vlen = gr_read_varint(&b);
    if (b.err || vlen < -1 || (vlen > 0 && (size_t)vlen > gr_reader_left(&b))) return GR_ECORRUPT;
    out->tombstone = vlen < 0;
    out->p = start;
    out->len = (size_t)(r->p - start);
    out->offset = base_offset + offset_delta;
    return 0;
}

/* The records section of a batch: the batch's own bytes, or decompressed
 * into `scratch`. */
static int records_section(const uint8_t *batch, size_t len, const gr_batch_header_t *h, gr_writer_t *scratch,
                           const uint8_t **sec, size_t *seclen)
{
    int codec = h->attributes & GR_BATCH_ATTR_CODEC_MASK;
    if (codec == GR_CODEC_NONE) {
        *sec = batch + GR_BATCH_HEADER_SIZE;
        *seclen = len - GR_BATCH_HEADER_SIZE;
        return 0;
    }
    gr_writer_reset(scratch);
    int rc = gr_codec_decompress(codec, batch + GR_BATCH_HEADER_SIZE, len - GR_BATCH_HEADER_SIZE,
                                 GR_CODEC_MAX_OUT_DEFAULT, scratch);
    if (rc < 0) return rc;
    *sec = scratch->buf;
    *seclen = scratch->len;
    return 0;
}

/* --- one pass --- */

typedef struct gr_cleaner gr_cleaner_t;
struct entry;

typedef struct pass {
    gr_log_t *log;
    const gr_cleaner_log_config_t *cc;
    int64_t now;
    int64_t first_dirty, end;
    gr_log_cleanable_t snap;
    omap_t map;
    throttle_t th;
    gr_writer_t scratch, kept, out;
    gr_cleaner_stats_t *st;
    const bool *stop;
    gr_cleaner_t *c;            /* for the create-file lock; NULL when called directly */
    struct entry *e;
    int64_t map_limit;          /* log.cleaner.dedupe.buffer.size */
    int64_t retained;           /* tombstones kept so far */
    int64_t due;                /* earliest time a kept tombstone can go */
} pass_t;

static bool stopped(const pass_t *ps);
static int create_cleaned(pass_t *ps, int64_t base, gr_segment_t **out);

static bool is_dirty(const pass_t *ps, const gr_log_seg_info_t *si) { return si->next_offset > ps->first_dirty; }

/* A segment's time for the tombstone rule (README): now when it is dirty
 * (cleaned for the first time by this pass), else its last-modified time. */
static int64_t seg_time(const pass_t *ps, const gr_log_seg_info_t *si)
{
    return is_dirty(ps, si) ? ps->now : si->mtime_ms;
}

/* Whether a pass keeps the segment's tombstones: dirty, or cleaned less
 * than delete.retention.ms ago. */
static bool keeps_tombstones(const pass_t *ps, const gr_log_seg_info_t *si)
{
    return is_dirty(ps, si) || ps->now - si->mtime_ms <= ps->cc->delete_retention_ms;
}

/* When tombstones kept in a segment of time t can go (saturating). */
static int64_t tombstone_due(const pass_t *ps, int64_t t)
{
    int64_t r = ps->cc->delete_retention_ms;
    return r > INT64_MAX - t ? INT64_MAX : t + r;
}

/* Adds the keys of one dirty segment to the map. */
static int map_segment(pass_t *ps, const gr_log_seg_info_t *si)
{
    seg_reader_t r = {si->seg->file->fd, si->size, 0, NULL, 0, 0, 0, &ps->th, &ps->st->bytes_read, si->seg->path};
    const uint8_t *b;
    size_t len;
    gr_batch_header_t h;
    int rc;
    while ((rc = reader_next(&r, &b, &len, &h)) == 1) {
        if (h.attributes & GR_BATCH_ATTR_CONTROL) continue;
        if (h.base_offset + h.last_offset_delta < ps->first_dirty) continue;
        const uint8_t *sec;
        size_t seclen;
        if ((rc = records_section(b, len, &h, &ps->scratch, &sec, &seclen)) < 0) break;
        gr_reader_t rr;
        gr_reader_init(&rr, sec, seclen);
        for (int32_t i = 0; i < h.records_count && rc == 0; i++) {
            raw_record_t rec;
            if ((rc = next_record(&rr, h.base_offset, &rec)) < 0) break;
            if (rec.key && rec.offset >= ps->first_dirty && rec.offset < ps->end)
                rc = omap_put(&ps->map, rec.key, (size_t)rec.key_len, rec.offset);
        }
        if (rc < 0) break;
        if (stopped(ps)) {
            rc = GR_ENOTFOUND;
            break;
        }
    }
    if (rc < 0 && rc != GR_ENOTFOUND)
        gr_error("cleaner: %s.log: cannot read records at offset %lld: %s", si->seg->path,
                 (long long)h.base_offset, gr_strerror(rc));
    free(r.buf);
    return rc < 0 ? rc : 0;
}

/* Filters one non-control batch into ps->out.  Returns the number of
 * records kept (== recordsCount: keep the batch as it is), with ps->out
 * holding the rebuilt batch, an empty header (no record kept but the batch
 * has a producer id, whose state Kafka keeps), or nothing (dropped). */
static int filter_batch(pass_t *ps, const uint8_t *b, size_t len, const gr_batch_header_t *h, bool retain_deletes)
{
    const uint8_t *sec;
    size_t seclen;
    int rc = records_section(b, len, h, &ps->scratch, &sec, &seclen);
    if (rc < 0) return rc;
    gr_reader_t rr;
    gr_reader_init(&rr, sec, seclen);
    gr_writer_reset(&ps->kept);
    gr_writer_reset(&ps->out);
    int32_t kept = 0;
    for (int32_t i = 0; i < h->records_count; i++) {
        raw_record_t rec;
        if ((rc = next_record(&rr, h->base_offset, &rec)) < 0) return rc;
        ps->st->records_read++;
        /* A record without a key cannot be compacted; Kafka's cleaner drops
         * it too (produce refuses them on compacted topics). */
        if (!rec.key) continue;
        int64_t latest = omap_get(&ps->map, rec.key, (size_t)rec.key_len);
        if (latest >= 0 && rec.offset < latest) continue;
        if (rec.tombstone) {
            if (!retain_deletes) {
                ps->st->tombstones_removed++;
                continue;
            }
            ps->retained++;
        }
        gr_writer_put(&ps->kept, rec.p, rec.len);
        kept++;
    }
    if (gr_reader_left(&rr) != 0) return GR_ECORRUPT;
    if (ps->kept.oom) return GR_ENOMEM;
    ps->st->records_kept += kept;
    if (kept == h->records_count) return kept;

    /* Rebuilt batch: the same 61-byte header (baseOffset, lastOffsetDelta,
     * baseTimestamp, maxTimestamp, producer fields: offsets and timestamps
     * of the kept records read the same), the kept records, recompressed
     * with the batch's codec; then recordsCount, batchLength and CRC. */
    int codec = h->attributes & GR_BATCH_ATTR_CODEC_MASK;
    if (kept == 0) {
        if (h->producer_id < 0) return 0;
        codec = GR_CODEC_NONE;
    }
    uint8_t *hdr = gr_writer_reserve(&ps->out, GR_BATCH_HEADER_SIZE);
    if (!hdr) return GR_ENOMEM;
    memcpy(hdr, b, GR_BATCH_HEADER_SIZE);
    ps->out.len += GR_BATCH_HEADER_SIZE;
    if (kept == 0) {
        /* Kafka's empty header keeps the batch uncompressed. */
        gr_put_be16(ps->out.buf + 21, (uint16_t)(h->attributes & ~GR_BATCH_ATTR_CODEC_MASK));
    } else if (codec != GR_CODEC_NONE) {
        if ((rc = gr_codec_compress(codec, 0, ps->kept.buf, ps->kept.len, &ps->out)) < 0) return rc;
    } else {
        gr_writer_put(&ps->out, ps->kept.buf, ps->kept.len);
    }
    if (ps->out.oom) return GR_ENOMEM;
    uint8_t *o = ps->out.buf;
    gr_put_be32(o + 8, (uint32_t)(ps->out.len - GR_BATCH_LOG_OVERHEAD));
    gr_put_be32(o + 57, (uint32_t)kept);
    gr_batch_update_crc(o, ps->out.len);
    return kept;
}

static int append_batch(pass_t *ps, gr_segment_t *seg, const uint8_t *b, size_t len, const gr_batch_header_t *h)
{
    int64_t last = h->base_offset + h->last_offset_delta;
    /* Groups are sized so this cannot happen; refuse rather than overflow. */
    if (gr_segment_needs_roll(seg, last, len)) {
        gr_error("cleaner: %s: cleaned segment would overflow its index", seg->path);
        return GR_EINVAL;
    }
    int rc = gr_segment_append(seg, b, len, last, h->max_timestamp, ps->snap.cfg.index_interval_bytes);
    if (rc < 0) return rc;
    ps->st->bytes_written += (int64_t)len;
    throttle(&ps->th, (int64_t)len);
    return 0;
}

/* Cleans segments [i, j) of the snapshot into one and swaps it in. */
static int clean_group(pass_t *ps, int i, int j)
{
    gr_log_seg_info_t *segs = ps->snap.segs;
    gr_segment_t *out = NULL;
    int rc = create_cleaned(ps, segs[i].base_offset, &out);
    if (rc < 0) return rc;
    bool changed = false;
    /* The cleaned segment's last-modified time drives tombstone expiry
     * (README): a segment cleaned for the first time (dirty) counts from
     * now, an already clean one keeps its time.  The groups are formed so
     * that every segment whose tombstones stay has the same time, which is
     * the max: no kept tombstone's time moves. */
    int64_t mtime = 0, retained = ps->retained;
    for (int k = i; k < j && rc == 0; k++) {
        gr_log_seg_info_t *si = &segs[k];
        int64_t t = seg_time(ps, si);
        if (t > mtime) mtime = t;
        bool retain_deletes = keeps_tombstones(ps, si);
        seg_reader_t r = {si->seg->file->fd, si->size, 0, NULL, 0, 0, 0, &ps->th, &ps->st->bytes_read, si->seg->path};
        const uint8_t *b;
        size_t len;
        gr_batch_header_t h;
        while ((rc = reader_next(&r, &b, &len, &h)) == 1) {
            if (h.attributes & GR_BATCH_ATTR_CONTROL) {
                /* No transactions yet: control batches pass through as they are. */
                rc = append_batch(ps, out, b, len, &h);
            } else {
                int kept = filter_batch(ps, b, len, &h, retain_deletes);
                if (kept < 0) {
                    gr_error("cleaner: %s.log: cannot filter the batch at offset %lld: %s", si->seg->path,
                             (long long)h.base_offset, gr_strerror(kept));
                    rc = kept;
                } else if (kept == h.records_count) {
                    rc = append_batch(ps, out, b, len, &h);
                } else {
                    changed = true;
                    rc = ps->out.len ? append_batch(ps, out, ps->out.buf, ps->out.len, &h) : 0;
                }
            }
            if (rc < 0) break;
            if (stopped(ps)) {
                rc = GR_ENOTFOUND;
                break;
            }
        }
        free(r.buf);
    }
    if (rc < 0) goto drop;
    if (ps->retained > retained && tombstone_due(ps, mtime) < ps->due) ps->due = tombstone_due(ps, mtime);
    /* Nothing to gain from swapping one clean segment for its copy. */
    if (!changed && j - i == 1 && !is_dirty(ps, &segs[i])) goto drop;
    if ((rc = gr_segment_make_inactive(out)) < 0 || (rc = gr_segment_sync(out)) < 0) goto drop;
    struct timespec ts[2] = {{mtime / 1000, (mtime % 1000) * 1000000}, {mtime / 1000, (mtime % 1000) * 1000000}};
    if (futimens(out->file->fd, ts) < 0) gr_warn("cleaner: futimens %s.log.cleaned: %s", out->path, strerror(errno));
    out->mtime_ms = mtime;
    out->created_ms = mtime;
    if (stopped(ps)) {
        rc = GR_ENOTFOUND;
        goto drop;
    }
    gr_segment_t **old = malloc((size_t)(j - i) * sizeof *old);
    if (!old) {
        rc = GR_ENOMEM;
        goto drop;
    }
    for (int k = i; k < j; k++) old[k - i] = segs[k].seg;
    rc = gr_log_replace_segments(ps->log, old, j - i, out);
    free(old);
    if (rc < 0) {
        /* A simulated crash leaves the disk as the "crash" found it. */
        if (gr_log_test_crashed) {
            gr_segment_release(out);
            return rc;
        }
        goto drop;
    }
    ps->st->segments_in += j - i;
    ps->st->segments_out++;
    gr_segment_release(out);
    return 0;
drop:
    gr_segment_delete_files(out);
    gr_segment_release(out);
    return rc;
}

/* Whether a clean segment holds a tombstone (read only). */
static int has_tombstone(pass_t *ps, const gr_log_seg_info_t *si, bool *found)
{
    seg_reader_t r = {si->seg->file->fd, si->size, 0, NULL, 0, 0, 0, &ps->th, &ps->st->bytes_read, si->seg->path};
    const uint8_t *b;
    size_t len;
    gr_batch_header_t h;
    int rc;
    *found = false;
    while (!*found && (rc = reader_next(&r, &b, &len, &h)) == 1) {
        if (h.attributes & GR_BATCH_ATTR_CONTROL) continue;
        const uint8_t *sec;
        size_t seclen;
        if ((rc = records_section(b, len, &h, &ps->scratch, &sec, &seclen)) < 0) break;
        gr_reader_t rr;
        gr_reader_init(&rr, sec, seclen);
        for (int32_t i = 0; i < h.records_count && !*found; i++) {
            raw_record_t rec;
            if ((rc = next_record(&rr, h.base_offset, &rec)) < 0) break;
            *found = rec.key && rec.tombstone;
        }
        if (rc < 0) break;
        if (stopped(ps)) {
            rc = GR_ENOTFOUND;
            break;
        }
    }
    if (rc < 0 && rc != GR_ENOTFOUND)
        gr_error("cleaner: %s.log: cannot read records at offset %lld: %s", si->seg->path,
                 (long long)h.base_offset, gr_strerror(rc));
    free(r.buf);
    return rc < 0 ? rc : 0;
}

/* The pass for a log whose dirty section does not qualify but whose
 * clean section holds a tombstone past delete.retention.ms: clean
 * segments [0, d) are read; one holding a tombstone is rewritten (alone,
 * keeping its time, with an empty map: only expired tombstones go) when
 * its time is past delete.retention.ms, and otherwise sets the next due
 * time.  Nothing else is written. */
static int tombstone_pass(pass_t *ps, int d)
{
    gr_log_seg_info_t *segs = ps->snap.segs;
    ps->st->tombstones_only = true;
    ps->end = ps->first_dirty;
    for (int k = 0; k < d; k++) {
        bool found;
        int rc = has_tombstone(ps, &segs[k], &found);
        if (rc < 0) return rc;
        if (!found) continue;
        if (keeps_tombstones(ps, &segs[k])) {
            if (tombstone_due(ps, segs[k].mtime_ms) < ps->due) ps->due = tombstone_due(ps, segs[k].mtime_ms);
        } else if ((rc = clean_group(ps, k, k + 1)) < 0) {
            return rc;
        }
    }
    return 1;
}

/* Dirty section, ratio and lag rules; then map and groups.  Returns 1, 0 or
 * GR_E* as gr_cleaner_clean_log. */
static int run_pass(pass_t *ps, int64_t *checkpoint, int64_t tombstones_due)
{
    int rc = gr_log_cleanable(ps->log, &ps->snap);
    if (rc < 0) return rc;
    gr_log_seg_info_t *segs = ps->snap.segs;
    int n = ps->snap.n;
    int64_t first_dirty = *checkpoint;
    /* A checkpoint outside the log (retention or DeleteRecords moved the
     * start past it, or the log was truncated below it): start over, as
     * Kafka does. */
    if (first_dirty < ps->snap.log_start_offset || first_dirty > ps->snap.active_base)
        first_dirty = ps->snap.log_start_offset;
    ps->first_dirty = first_dirty;
    int d = 0;
    while (d < n && !is_dirty(ps, &segs[d])) d++;
    int e = d;
    /* min.compaction.lag.ms: a segment holding a record that recent, and
     * everything after it, is not cleanable yet. */
    for (; e < n; e++) {
        if (ps->cc->min_compaction_lag_ms <= 0) continue;
        int64_t ts = segs[e].max_timestamp >= 0 ? segs[e].max_timestamp : segs[e].mtime_ms;
        if (ts > ps->now - ps->cc->min_compaction_lag_ms) break;
    }
    int64_t clean_bytes = 0, dirty_bytes = 0;
    for (int k = 0; k < d; k++) clean_bytes += segs[k].size;
    for (int k = d; k < e; k++) dirty_bytes += segs[k].size;
    ps->st->first_dirty = first_dirty;
    ps->st->end = e < n ? segs[e].base_offset : ps->snap.active_base;
    ps->st->dirty_bytes = dirty_bytes;
    ps->st->total_bytes = clean_bytes + dirty_bytes;
    double ratio = dirty_bytes ? (double)dirty_bytes / (double)(clean_bytes + dirty_bytes) : 0;
    bool overdue = false;
    if (dirty_bytes && ps->cc->max_compaction_lag_ms < INT64_MAX) {
        /* Kafka: the first dirty batch's timestamp, else the file's. */
        gr_batch_header_t h;
        int64_t ts = segs[d].mtime_ms;
        uint8_t hb[GR_BATCH_HEADER_SIZE];
        if (segs[d].size >= GR_BATCH_HEADER_SIZE &&
            pread(segs[d].seg->file->fd, hb, sizeof hb, 0) == (ssize_t)sizeof hb &&
            gr_batch_parse_header(hb, sizeof hb, &h) > 0 && h.max_timestamp >= 0)
            ts = h.max_timestamp;
        overdue = ps->now - ts > ps->cc->max_compaction_lag_ms;
    }
    if (dirty_bytes == 0 || (!(ratio > ps->cc->min_cleanable_dirty_ratio) && !overdue)) {
        /* Nothing to compact, but a tombstone in the clean section may be
         * past delete.retention.ms (Kafka 3.x also cleans such logs). */
        if (tombstones_due != GR_CLEANER_NO_TOMBSTONES && ps->now > tombstones_due && d > 0)
            return tombstone_pass(ps, d);
        return 0;
    }

    /* The map, segment by segment; a segment that might not fit in what
     * is left of log.cleaner.dedupe.buffer.size (keys are at most its
     * size) ends the dirty section early (the rest waits for the next
     * pass), but the first one is always taken. */
    ps->end = e < n ? segs[e].base_offset : ps->snap.active_base;
    for (int k = d; k < e; k++) {
        if (k > d && (int64_t)omap_bytes(&ps->map) + 2 * segs[k].size > ps->map_limit) {
            e = k;
            break;
        }
        if ((rc = map_segment(ps, &segs[k])) < 0) return rc;
    }
    ps->end = e < n ? segs[e].base_offset : ps->snap.active_base;
    ps->st->end = ps->end;

    /* Groups of consecutive segments that fit one segment: segment.bytes,
     * both indexes (segment.index.bytes, one time-index entry spare for the
     * roll) and relative offsets within 32 bits. */
    int64_t max_oidx = ps->snap.cfg.segment_index_bytes / GR_OFFSET_INDEX_ENTRY;
    int64_t max_tidx = ps->snap.cfg.segment_index_bytes / GR_TIME_INDEX_ENTRY;
    for (int i = 0; i < e;) {
        int j = i + 1;
        int64_t size = segs[i].size, oidx = segs[i].index_entries, tidx = segs[i].time_index_entries;
        /* The cleaned file gets the max of the segments' times (clean_group),
         * so a group holds segments whose tombstones stay only if they
         * share one time: a clean segment within delete.retention.ms never
         * joins dirty ones (whose time is now) nor another such segment of
         * another time, or its tombstones' clock would restart.  Segments
         * past delete.retention.ms lose their tombstones here and join
         * anything. */
        bool keeper = keeps_tombstones(ps, &segs[i]);
        int64_t keeper_time = seg_time(ps, &segs[i]);
        while (j < e && size + segs[j].size <= ps->snap.cfg.segment_bytes &&
               oidx + segs[j].index_entries + 2 < max_oidx && tidx + segs[j].time_index_entries + 3 < max_tidx &&
               segs[j].next_offset - 1 - segs[i].base_offset <= INT32_MAX) {
            if (keeps_tombstones(ps, &segs[j])) {
                if (keeper && seg_time(ps, &segs[j]) != keeper_time) break;
                keeper = true;
                keeper_time = seg_time(ps, &segs[j]);
            }
            size += segs[j].size;
            oidx += segs[j].index_entries;
            tidx += segs[j].time_index_entries;
            j++;
        }
        if ((rc = clean_group(ps, i, j)) < 0) return rc;
        i = j;
    }
    *checkpoint = ps->end;
    return 1;
}

static int clean_log(gr_cleaner_t *c, struct entry *e, gr_log_t *log, const gr_cleaner_log_config_t *cc,
                     const gr_cleaner_config_t *cfg, int64_t now_ms, int64_t *checkpoint, int64_t *tombstones_due,
                     const bool *stop, gr_cleaner_stats_t *stats)
{
    gr_cleaner_stats_t local;
    if (!stats) stats = &local;
    memset(stats, 0, sizeof *stats);
    pass_t ps = {.log = log, .cc = cc, .now = now_ms, .st = stats, .stop = stop, .c = c, .e = e,
                 .due = GR_CLEANER_NO_TOMBSTONES};
    gr_cleaner_config_t dflt;
    if (!cfg) {
        gr_cleaner_config_default(&dflt);
        cfg = &dflt;
    }
    throttle_init(&ps.th, cfg->io_max_bytes_per_second);
    ps.map_limit = cfg->dedupe_buffer_size > 0 ? cfg->dedupe_buffer_size : INT64_MAX;
    gr_writer_init(&ps.scratch);
    gr_writer_init(&ps.kept);
    gr_writer_init(&ps.out);
    int64_t cp = *checkpoint;
    int rc = run_pass(&ps, &cp, tombstones_due ? *tombstones_due : GR_CLEANER_NO_TOMBSTONES);
    if (rc == 1) {
        *checkpoint = cp;
        if (tombstones_due) *tombstones_due = ps.due;
    }
    gr_writer_free(&ps.scratch);
    gr_writer_free(&ps.kept);
    gr_writer_free(&ps.out);
    omap_free(&ps.map);
    gr_log_cleanable_free(&ps.snap);
    return rc;
}

int gr_cleaner_clean_log(gr_log_t *log, const gr_cleaner_log_config_t *cc, const gr_cleaner_config_t *cfg,
                         int64_t now_ms, int64_t *checkpoint, int64_t *tombstones_due, const volatile bool *stop,
                         gr_cleaner_stats_t *stats)
{
    return clean_log(NULL, NULL, log, cc, cfg, now_ms, checkpoint, tombstones_due, (const bool *)stop, stats);
}

/* --- the cleaner thread --- */

typedef struct entry {
    char *topic;
    int32_t partition;
    gr_log_t *log;                  /* our reference */
    gr_cleaner_log_config_t cc;
    int64_t checkpoint;             /* first dirty offset; -1 unknown */
    int64_t tombstones_due;         /* see gr_cleaner_clean_log */
    uint64_t cc_gen;                /* bumped when cc changes */
    bool removed;                   /* set under c->mu; read by the pass */
    int refs;                       /* the list's + the thread's, under c->mu */
} entry_t;

struct gr_cleaner {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    gr_cleaner_config_t cfg;
    char *checkpoint_path;
    entry_t **entries;
    int n, cap;
    gr_checkpoint_entry_t *initial;  /* the file as read at start */
    int ninitial;
    bool stopping, wake;
    int64_t passes;
};

static bool stopped(const pass_t *ps)
{
    if (ps->stop && __atomic_load_n(ps->stop, __ATOMIC_RELAXED)) return true;
    if (ps->c && __atomic_load_n(&ps->c->stopping, __ATOMIC_RELAXED)) return true;
    return ps->e && __atomic_load_n(&ps->e->removed, __ATOMIC_RELAXED);
}

/* Under the cleaner's mutex, so that once gr_cleaner_remove returns no new
 * file appears in a directory that is about to be deleted. */
static int create_cleaned(pass_t *ps, int64_t base, gr_segment_t **out)
{
    int rc;
    if (ps->c) pthread_mutex_lock(&ps->c->mu);
    if (stopped(ps)) rc = GR_ENOTFOUND;
    else
        rc = gr_segment_create_suffixed(gr_log_dir(ps->log), base, ".cleaned", ps->snap.cfg.segment_index_bytes,
                                        ps->now, out);
    if (ps->c) pthread_mutex_unlock(&ps->c->mu);
    return rc;
}

static void entry_unref(entry_t *e)
{
    if (--e->refs > 0) return;
    gr_log_release(e->log);
    free(e->topic);
    free(e);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Kafka's offset checkpoint format (checkpoint.h): topic partition offset. */
static void write_checkpoints(gr_cleaner_t *c)
{
    pthread_mutex_lock(&c->mu);
    gr_checkpoint_entry_t *cp = malloc(((size_t)c->n + 1) * sizeof *cp);
    int n = 0;
    char **names = malloc(((size_t)c->n + 1) * sizeof *names);
    if (cp && names)
        for (int i = 0; i < c->n; i++) {
            if (c->entries[i]->checkpoint < 0) continue;
            names[n] = strdup(c->entries[i]->topic);
            if (!names[n]) break;
            cp[n] = (gr_checkpoint_entry_t){names[n], c->entries[i]->partition, c->entries[i]->checkpoint};
            n++;
        }
    pthread_mutex_unlock(&c->mu);
    if (cp && names && gr_checkpoint_write(c->checkpoint_path, cp, n) < 0)
        gr_error("cleaner: cannot write %s", c->checkpoint_path);
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
    free(cp);
}

static void *cleaner_main(void *arg)
{
    gr_cleaner_t *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stopping) {
        if (!c->wake) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ns = ts.tv_nsec + (c->cfg.backoff_ms % 1000) * 1000000;
            ts.tv_sec += (time_t)(c->cfg.backoff_ms / 1000 + ns / 1000000000);
            ts.tv_nsec = ns % 1000000000;
            pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        }
        c->wake = false;
        if (c->stopping) break;
        int n = c->n;
        entry_t **todo = malloc(((size_t)n + 1) * sizeof *todo);
        if (!todo) continue;
        for (int i = 0; i < n; i++) {
            todo[i] = c->entries[i];
            todo[i]->refs++;
        }
        pthread_mutex_unlock(&c->mu);

        bool any = false;
        for (int i = 0; i < n; i++) {
            entry_t *e = todo[i];
            pthread_mutex_lock(&c->mu);
            gr_cleaner_log_config_t cc = e->cc;
            int64_t cp = e->checkpoint, cp_before = cp, due = e->tombstones_due;
            uint64_t gen = e->cc_gen;
            bool skip = e->removed || c->stopping;
            pthread_mutex_unlock(&c->mu);
            if (skip) continue;
            gr_cleaner_stats_t st;
            int64_t t0 = mono_ns();
            int rc = clean_log(c, e, e->log, &cc, &c->cfg, wall_ms(), &cp, &due, NULL, &st);
            if (rc == 1) {
                pthread_mutex_lock(&c->mu);
                if (!e->removed) {
                    e->checkpoint = cp;
                    /* Unless the settings changed meanwhile (which made it
                     * unknown again). */
                    if (e->cc_gen == gen) e->tombstones_due = due;
                }
                pthread_mutex_unlock(&c->mu);
                if (cp != cp_before) any = true;
            }
            if (rc == 1 && st.tombstones_only) {
                gr_info("cleaner: %s-%d: %lld expired tombstone(s) removed from the clean section (no new data): "
                        "%d segment(s) rewritten, %lld bytes read, %lld written, %.1f ms", e->topic, e->partition,
                        (long long)st.tombstones_removed, st.segments_out, (long long)st.bytes_read,
                        (long long)st.bytes_written, (double)(mono_ns() - t0) / 1e6);
            } else if (rc == 1) {
                gr_info("cleaner: %s-%d: cleaned up to offset %lld (dirty %lld of %lld bytes): %d segment(s) -> %d, "
                        "%lld of %lld records kept, %lld tombstone(s) removed, %lld bytes read, %lld written, %.1f ms",
                        e->topic, e->partition, (long long)cp, (long long)st.dirty_bytes,
                        (long long)st.total_bytes, st.segments_in, st.segments_out, (long long)st.records_kept,
                        (long long)st.records_read, (long long)st.tombstones_removed, (long long)st.bytes_read,
                        (long long)st.bytes_written, (double)(mono_ns() - t0) / 1e6);
            } else if (rc < 0 && rc != GR_ENOTFOUND) {
                /* GR_ENOTFOUND: stopped, removed, or retention changed the
                 * segments under the pass; the next one starts afresh. */
                gr_error("cleaner: %s-%d: pass failed: %s", e->topic, e->partition, gr_strerror(rc));
            }
        }
        if (any) write_checkpoints(c);

        pthread_mutex_lock(&c->mu);
        for (int i = 0; i < n; i++) entry_unref(todo[i]);
        free(todo);
        c->passes++;
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

gr_cleaner_t *gr_cleaner_start(const char *log_dir, const gr_cleaner_config_t *cfg)
{
    gr_cleaner_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->cfg = *cfg;
    if (c->cfg.backoff_ms < 1) c->cfg.backoff_ms = 1;
    size_t len = strlen(log_dir) + sizeof "/" CHECKPOINT_FILE;
    c->checkpoint_path = malloc(len);
    if (!c->checkpoint_path) {
        free(c);
        return NULL;
    }
    snprintf(c->checkpoint_path, len, "%s/%s", log_dir, CHECKPOINT_FILE);
    int rc = gr_checkpoint_read(c->checkpoint_path, &c->initial, &c->ninitial);
    if (rc < 0) {
        /* Only costs a full pass per log. */
        gr_warn("cleaner: %s unreadable (%s); every compacted log is dirty from its start", c->checkpoint_path,
                gr_strerror(rc));
        c->initial = NULL;
        c->ninitial = 0;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (pthread_create(&c->thread, NULL, cleaner_main, c) != 0) {
        gr_error("cleaner: cannot start its thread");
        gr_checkpoint_free(c->initial, c->ninitial);
        free(c->checkpoint_path);
        free(c);
        return NULL;
    }
    gr_info("cleaner: started (backoff %lld ms)", (long long)c->cfg.backoff_ms);
    return c;
}

void gr_cleaner_stop(gr_cleaner_t *c)
{
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    __atomic_store_n(&c->stopping, true, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    write_checkpoints(c);
    for (int i = 0; i < c->n; i++) entry_unref(c->entries[i]);
    free(c->entries);
    gr_checkpoint_free(c->initial, c->ninitial);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c->checkpoint_path);
    free(c);
}

int gr_cleaner_add(gr_cleaner_t *c, const char *topic, int32_t partition, gr_log_t *log,
                   const gr_cleaner_log_config_t *cc)
{
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->n; i++)
        if (c->entries[i]->log == log) {
            /* delete.retention.ms may have changed: look again. */
            c->entries[i]->cc = *cc;
            c->entries[i]->tombstones_due = GR_CLEANER_TOMBSTONES_UNKNOWN;
            c->entries[i]->cc_gen++;
            goto out;
        }
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 16;
        entry_t **ne = realloc(c->entries, (size_t)cap * sizeof *ne);
        if (!ne) { rc = GR_ENOMEM; goto out; }
        c->entries = ne;
        c->cap = cap;
    }
    entry_t *e = calloc(1, sizeof *e);
    if (!e || !(e->topic = strdup(topic))) {
        free(e);
        rc = GR_ENOMEM;
        goto out;
    }
    e->partition = partition;
    e->log = gr_log_keep(log);
    e->cc = *cc;
    e->checkpoint = -1;
    e->tombstones_due = GR_CLEANER_TOMBSTONES_UNKNOWN;
    e->refs = 1;
    for (int i = 0; i < c->ninitial; i++)
        if (c->initial[i].partition == partition && strcmp(c->initial[i].topic, topic) == 0)
            e->checkpoint = c->initial[i].offset;
    c->entries[c->n++] = e;
out:
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void gr_cleaner_remove(gr_cleaner_t *c, gr_log_t *log)
{
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->n; i++) {
        entry_t *e = c->entries[i];
        if (e->log != log) continue;
        __atomic_store_n(&e->removed, true, __ATOMIC_RELAXED);
        c->entries[i] = c->entries[--c->n];
        entry_unref(e);
        break;
    }
    pthread_mutex_unlock(&c->mu);
}

void gr_cleaner_wakeup(gr_cleaner_t *c)
{
    pthread_mutex_lock(&c->mu);
    c->wake = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

int64_t gr_cleaner_passes(gr_cleaner_t *c)
{
    pthread_mutex_lock(&c->mu);
    int64_t n = c->passes;
    pthread_mutex_unlock(&c->mu);
    return n;
}
