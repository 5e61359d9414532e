/* The log cleaner (storage/cleaner.h): many versions of many keys plus
 * tombstones, uncompressed and with each codec; a model of what compaction
 * must leave is checked against everything read back through gr_log_read;
 * the lag and ratio rules; and a crash at every step of the swap. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/errors.h"
#include "protocol/prim.h"
#include "protocol/record_batch.h"
#include "protocol/records.h"
#include "storage/cleaner.h"
#include "storage/log.h"
#include "storage/segment.h"
#include "test.h"
#include "tmpdir.h"
#include "util/buf.h"

#define T0 1700000000000LL
#define MAXREC 6000

typedef struct rec {
    int64_t offset;
    int key;            /* -1 = null key */
    int val;            /* -1 = tombstone */
} rec_t;

typedef struct model {
    rec_t r[MAXREC];
    int n;
} model_t;

/* Heap copies of tests/unit/tmpdir.h's directories: the crash tests keep
 * several alive across helper calls. */
static char *make_dir(void)
{
    char buf[TEST_TMPDIR_MAX];
    test_tmpdir_create(buf, "cleaner");
    return buf[0] ? strdup(buf) : NULL;
}

static void remove_dir(char *dir)
{
    test_tmpdir_remove(dir);
    free(dir);
}

static void put_str(gr_writer_t *w, const char *s)
{
    gr_write_varint(w, s ? (int32_t)strlen(s) : -1);
    if (s) gr_writer_put(w, s, strlen(s));
}

/* A client-style batch of n records (key k[i], value v[i]; -1 = null). */
static void build_batch(gr_writer_t *out, int codec, int64_t pid, int64_t ts, const int *k, const int *v, int n)
{
    gr_writer_t recs, body, z;
    gr_writer_init(&recs);
    gr_writer_init(&body);
    gr_writer_init(&z);
    for (int i = 0; i < n; i++) {
        char ks[32], vs[64];
        snprintf(ks, sizeof ks, "key-%04d", k[i]);
        snprintf(vs, sizeof vs, "value-%d-of-key-%d-padding-padding", v[i], k[i]);
        gr_writer_reset(&body);
        gr_write_i8(&body, 0);
        gr_write_varlong(&body, i);
        gr_write_varint(&body, i);
        put_str(&body, k[i] >= 0 ? ks : NULL);
        put_str(&body, v[i] >= 0 ? vs : NULL);
        gr_write_varint(&body, 0);
        gr_write_varint(&recs, (int32_t)body.len);
        gr_writer_put(&recs, body.buf, body.len);
    }
    const uint8_t *data = recs.buf;
    size_t dlen = recs.len;
    if (codec) {
        CHECK_EQ(gr_codec_compress(codec, 0, recs.buf, recs.len, &z), 0);
        data = z.buf;
        dlen = z.len;
    }
    gr_writer_reset(out);
    uint8_t *b = gr_writer_reserve(out, GR_BATCH_HEADER_SIZE);
    memset(b, 0, GR_BATCH_HEADER_SIZE);
    gr_put_be32(b + 8, (uint32_t)(GR_BATCH_HEADER_SIZE - 12 + dlen));
    b[16] = 2;
    gr_put_be16(b + 21, (uint16_t)codec);
    gr_put_be32(b + 23, (uint32_t)(n - 1));
    gr_put_be64(b + 27, (uint64_t)ts);
    gr_put_be64(b + 35, (uint64_t)(ts + n - 1));
    gr_put_be64(b + 43, (uint64_t)pid);
    gr_put_be16(b + 51, (uint16_t)(pid >= 0 ? 0 : -1));
    gr_put_be32(b + 53, (uint32_t)(pid >= 0 ? 0 : -1));
    gr_put_be32(b + 57, (uint32_t)n);
    out->len += GR_BATCH_HEADER_SIZE;
    gr_writer_put(out, data, dlen);
    gr_batch_update_crc(out->buf, out->len);
    gr_writer_free(&recs);
    gr_writer_free(&body);
    gr_writer_free(&z);
}

static uint32_t rng_state;
static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) % n;
}

/* Appends `batches` batches of 1..6 records over `keys` keys, about one
 * tombstone in eight, every 7th batch with a producer id.  Times: T0 +
 * t_ms (appends and record timestamps). */
/* Forces a roll: segment.ms measured from a clock that jumps ahead. */
static void force_roll(gr_log_t *log)
{
    static int64_t clock = INT64_MAX / 4;
    clock += 1000000000000LL;
    gr_log_roll_if_due(log, clock);
}

static void fill_keys(gr_log_t *log, model_t *m, int codec, int batches, int key_base, int keys, int64_t t_ms,
                      int64_t roll_every)
{
    gr_writer_t w;
    gr_writer_init(&w);
    for (int b = 0; b < batches; b++) {
        int n = 1 + (int)rnd(6), k[6], v[6];
        for (int i = 0; i < n; i++) {
            k[i] = key_base + (int)rnd((uint32_t)keys);
            v[i] = rnd(8) == 0 ? -1 : (int)rnd(100000);
        }
        build_batch(&w, codec, b % 7 == 3 ? 42 : -1, T0 + t_ms, k, v, n);
        gr_append_info_t info;
        CHECK_EQ(gr_log_append(log, w.buf, w.len, 0, -1, T0 + t_ms, &info), 0);
        for (int i = 0; i < n && m->n < MAXREC; i++) m->r[m->n++] = (rec_t){info.base_offset + i, k[i], v[i]};
        if (roll_every && b % roll_every == roll_every - 1) force_roll(log);
    }
    gr_writer_free(&w);
}

static void fill(gr_log_t *log, model_t *m, int codec, int batches, int keys, int64_t t_ms, int64_t roll_every)
{
    fill_keys(log, m, codec, batches, 0, keys, t_ms, roll_every);
}

typedef struct reader_ctx {
    model_t *m;
    int bad;
} reader_ctx_t;

static int parse_int_after(gr_bytes_t b, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (b.len < (int32_t)pl || memcmp(b.ptr, prefix, pl) != 0) return -2;
    int v = 0;
    for (int32_t i = (int32_t)pl; i < b.len && b.ptr[i] >= '0' && b.ptr[i] <= '9'; i++) v = v * 10 + (b.ptr[i] - '0');
    return v;
}

static int collect(const gr_record_t *rec, void *arg)
{
    reader_ctx_t *c = arg;
    if (c->m->n >= MAXREC) return GR_EINVAL;
    int k = rec->key.len < 0 ? -1 : parse_int_after(rec->key, "key-");
    int v = rec->value.len < 0 ? -1 : parse_int_after(rec->value, "value-");
    c->m->r[c->m->n++] = (rec_t){rec->offset, k, v};
    return 0;
}

/* Everything from the log start through gr_log_read, checking every batch:
 * CRC, empty batches only with a producer id (and uncompressed). */
static void read_all(gr_log_t *log, model_t *m)
{
    m->n = 0;
    int64_t off = gr_log_start_offset(log), end = gr_log_end_offset(log);
    uint8_t *buf = malloc(1 << 20);
    reader_ctx_t c = {m, 0};
    while (off < end) {
        gr_log_slice_t s;
        int rc = gr_log_read(log, off, INT64_MAX, 1 << 20, true, &s);
        CHECK_EQ(rc, 0);
        if (rc < 0 || s.len <= 0 || s.len > (1 << 20)) {
            gr_file_release(s.file);
            break;
        }
        CHECK_EQ(pread(s.file->fd, buf, (size_t)s.len, s.pos), s.len);
        gr_file_release(s.file);
        for (int64_t p = 0; p < s.len;) {
            gr_batch_header_t h;
            int64_t size = gr_batch_parse_header(buf + p, (size_t)(s.len - p), &h);
            CHECK(size > 0 && p + size <= s.len);
            if (size <= 0 || p + size > s.len) goto out;
            CHECK(gr_batch_crc_ok(buf + p, (size_t)size));
            if (h.records_count == 0) {
                CHECK(h.producer_id >= 0);
                CHECK_EQ(h.attributes & GR_BATCH_ATTR_CODEC_MASK, 0);
            }
            CHECK_EQ(gr_records_decode(buf + p, (size_t)size, collect, &c), 0);
            off = h.base_offset + h.last_offset_delta + 1;
            p += size;
        }
    }
out:
    free(buf);
}

static bool same(const model_t *a, const model_t *b)
{
    if (a->n != b->n) return false;
    for (int i = 0; i < a->n; i++)
        if (a->r[i].offset != b->r[i].offset || a->r[i].key != b->r[i].key || a->r[i].val != b->r[i].val) return false;
    return true;
}

static void report(const char *what, const model_t *got, const model_t *want)
{
    if (same(got, want)) return;
    fprintf(stderr, "  %s: %d records, expected %d\n", what, got->n, want->n);
    for (int i = 0; i < got->n && i < want->n; i++)
        if (got->r[i].offset != want->r[i].offset || got->r[i].key != want->r[i].key || got->r[i].val != want->r[i].val) {
            fprintf(stderr, "  first difference at %d: got offset %lld key %d val %d, expected %lld %d %d\n", i,
                    (long long)got->r[i].offset, got->r[i].key, got->r[i].val, (long long)want->r[i].offset,
                    want->r[i].key, want->r[i].val);
            break;
        }
    gr_test_failures++;
}

/* What a pass over [first_dirty, end) must leave: below end a record goes
 * if a later record of its key lies in the dirty section, or it has no key,
 * or it is a tombstone in the clean section when drop_clean_tombstones. */
static void expect_pass(const model_t *in, model_t *out, int64_t first_dirty, int64_t end, bool drop_clean_tombstones)
{
    out->n = 0;
    for (int i = 0; i < in->n; i++) {
        const rec_t *r = &in->r[i];
        bool keep = true;
        if (r->offset < end) {
            if (r->key < 0) keep = false;
            for (int j = i + 1; keep && j < in->n; j++)
                if (in->r[j].key == r->key && in->r[j].offset >= first_dirty && in->r[j].offset < end) keep = false;
            if (keep && r->val < 0 && r->offset < first_dirty && drop_clean_tombstones) keep = false;
        }
        if (keep) out->r[out->n++] = *r;
    }
}

static void small_config(gr_log_config_t *cfg)
{
    gr_log_config_default(cfg);
    cfg->segment_bytes = 4096;
    cfg->index_interval_bytes = 256;
    cfg->segment_index_bytes = 4096;
}

static void compaction_case(int codec)
{
    static model_t written, want, got;
    char *dir = make_dir();
    gr_log_config_t cfg;
    small_config(&cfg);
    gr_log_t *log;
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    rng_state = 7u + (uint32_t)codec;
    written.n = 0;
    {
        /* A tombstone that nothing supersedes: only delete.retention.ms
         * can remove it. */
        gr_writer_t w;
        gr_writer_init(&w);
        int k = 777, v = -1;
        build_batch(&w, codec, -1, T0, &k, &v, 1);
        CHECK_EQ(gr_log_append(log, w.buf, w.len, 0, -1, T0, NULL), 0);
        written.r[written.n++] = (rec_t){0, 777, -1};
        gr_writer_free(&w);
    }
    fill(log, &written, codec, 300, 40, 0, 0);
    CHECK(gr_log_segment_count(log) > 4);

    gr_log_cleanable_t before;
    CHECK_EQ(gr_log_cleanable(log, &before), 0);
    int64_t active_base = before.active_base;
    gr_log_cleanable_free(&before);

    gr_cleaner_log_config_t cc;
    gr_cleaner_log_config_default(&cc);
    cc.min_cleanable_dirty_ratio = 0;
    cc.delete_retention_ms = 60000;
    gr_cleaner_stats_t st;
    int64_t cp = -1, now1 = T0 + 1000, due = GR_CLEANER_TOMBSTONES_UNKNOWN;
    int64_t size_before = gr_log_size_bytes(log);
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, now1, &cp, &due, NULL, &st), 1);
    CHECK_EQ(cp, active_base);
    CHECK_EQ(st.end, active_base);
    CHECK(st.tombstones_removed == 0);
    CHECK(!st.tombstones_only);
    CHECK_EQ(due, now1 + cc.delete_retention_ms);      /* tombstone 777 was kept */
    CHECK(gr_log_size_bytes(log) < size_before);
    expect_pass(&written, &want, 0, active_base, false);
    read_all(log, &got);
    report("after the first pass", &got, &want);
    CHECK(want.n < written.n);
    /* The active segment was not touched. */
    gr_log_cleanable_t after;
    CHECK_EQ(gr_log_cleanable(log, &after), 0);
    CHECK_EQ(after.active_base, active_base);
    gr_log_cleanable_free(&after);

    /* Nothing new is dirty: no pass. */
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, now1 + 10, &cp, &due, NULL, &st), 0);

    /* Reopen: the cleaned segments recover as they are. */
    gr_log_release(log);
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    read_all(log, &got);
    report("after reopening", &got, &want);

    /* More versions; a pass after delete.retention.ms drops the
     * tombstones that were cleaned by the first pass. */
    model_t *cur = malloc(sizeof *cur);
    *cur = want;
    fill_keys(log, cur, codec, 200, 1000, 40, 2000, 0);
    CHECK_EQ(gr_log_cleanable(log, &after), 0);
    int64_t end2 = after.active_base;
    gr_log_cleanable_free(&after);
    int64_t now2 = now1 + cc.delete_retention_ms + 1;
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, now2, &cp, &due, NULL, &st), 1);
    CHECK_EQ(cp, end2);
    CHECK(st.tombstones_removed > 0);
    expect_pass(cur, &want, active_base, end2, true);
    read_all(log, &got);
    report("after the second pass", &got, &want);
    bool any_tomb = false;
    for (int i = 0; i < got.n; i++)
        if (got.r[i].val < 0 && got.r[i].offset < active_base) any_tomb = true;
    CHECK(!any_tomb);

    /* The same pass again finds nothing dirty; a later one with new data
     * but within delete.retention.ms keeps the newer tombstones. */
    *cur = want;
    fill(log, cur, codec, 100, 40, 3000, 0);
    CHECK_EQ(gr_log_cleanable(log, &after), 0);
    int64_t end3 = after.active_base;
    gr_log_cleanable_free(&after);
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, now2 + 10, &cp, &due, NULL, &st), 1);
    expect_pass(cur, &want, end2, end3, false);
    read_all(log, &got);
    report("after the third pass", &got, &want);
    free(cur);
    gr_log_release(log);
    remove_dir(dir);
}

GR_TEST(cleaner_compacts_uncompressed) { compaction_case(GR_CODEC_NONE); }
GR_TEST(cleaner_compacts_gzip) { compaction_case(GR_CODEC_GZIP); }
GR_TEST(cleaner_compacts_snappy) { compaction_case(GR_CODEC_SNAPPY); }
GR_TEST(cleaner_compacts_lz4) { compaction_case(GR_CODEC_LZ4); }
GR_TEST(cleaner_compacts_zstd) { compaction_case(GR_CODEC_ZSTD); }

/* Segments with a record newer than min.compaction.lag.ms end the dirty
 * section; nothing at or after them changes. */
GR_TEST(cleaner_min_compaction_lag)
{
    static model_t written, want, got;
    char *dir = make_dir();
    gr_log_config_t cfg;
    small_config(&cfg);
    gr_log_t *log;
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    rng_state = 99;
    written.n = 0;
    fill(log, &written, GR_CODEC_NONE, 150, 20, 0, 0);          /* old: T0 */
    int64_t boundary = gr_log_end_offset(log);
    force_roll(log);
    fill(log, &written, GR_CODEC_NONE, 150, 20, 100000, 0);     /* recent: T0 + 100 s */
    gr_cleaner_log_config_t cc;
    gr_cleaner_log_config_default(&cc);
    cc.min_cleanable_dirty_ratio = 0;
    cc.min_compaction_lag_ms = 50000;
    gr_cleaner_stats_t st;
    int64_t cp = -1;
    /* At T0 + 120 s the first half is 120 s old, the second 20 s. */
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, T0 + 120000, &cp, NULL, NULL, &st), 1);
    CHECK_EQ(cp, boundary);
    expect_pass(&written, &want, 0, boundary, false);
    read_all(log, &got);
    report("with the lag", &got, &want);
    /* Everything old enough: only the dirty part after the boundary... */
    gr_log_cleanable_t s;
    CHECK_EQ(gr_log_cleanable(log, &s), 0);
    int64_t end = s.active_base;
    gr_log_cleanable_free(&s);
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, T0 + 1000000, &cp, NULL, NULL, &st), 1);
    CHECK_EQ(cp, end);
    model_t *cur = malloc(sizeof *cur);
    *cur = want;
    expect_pass(cur, &want, boundary, end, false);
    read_all(log, &got);
    report("after the lag", &got, &want);
    free(cur);
    gr_log_release(log);
    remove_dir(dir);
}

/* min.cleanable.dirty.ratio holds a pass back; max.compaction.lag.ms
 * forces it. */
GR_TEST(cleaner_dirty_ratio_and_max_lag)
{
    static model_t written;
    char *dir = make_dir();
    gr_log_config_t cfg;
    small_config(&cfg);
    gr_log_t *log;
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    rng_state = 5;
    written.n = 0;
    fill(log, &written, GR_CODEC_NONE, 300, 600, 0, 0);
    gr_cleaner_log_config_t cc;
    gr_cleaner_log_config_default(&cc);
    gr_cleaner_stats_t st;
    int64_t cp = -1;
    /* All dirty: ratio 1 > 0.5. */
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, T0 + 1000, &cp, NULL, NULL, &st), 1);
    /* A little more: dirty well under half of the cleanable bytes. */
    fill(log, &written, GR_CODEC_NONE, 30, 30, 2000, 0);
    force_roll(log);
    int64_t cp_before = cp;
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, T0 + 3000, &cp, NULL, NULL, &st), 0);
    CHECK(st.dirty_bytes > 0 && st.dirty_bytes * 2 < st.total_bytes);
    CHECK_EQ(cp, cp_before);
    cc.min_cleanable_dirty_ratio = 0.99;
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, T0 + 3000, &cp, NULL, NULL, &st), 0);
    /* Overdue: the first dirty batch (T0 + 2 s) is older than 500 ms. */
    cc.max_compaction_lag_ms = 500;
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, T0 + 3000, &cp, NULL, NULL, &st), 1);
    CHECK(cp > cp_before);
    gr_log_release(log);
    remove_dir(dir);
}

/* A pass stopped from outside changes nothing and leaves no files. */
GR_TEST(cleaner_stop_leaves_nothing)
{
    static model_t written, got;
    char *dir = make_dir();
    gr_log_config_t cfg;
    small_config(&cfg);
    gr_log_t *log;
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    rng_state = 11;
    written.n = 0;
    fill(log, &written, GR_CODEC_NONE, 200, 30, 0, 0);
    gr_cleaner_log_config_t cc;
    gr_cleaner_log_config_default(&cc);
    bool stop = true;
    int64_t cp = -1;
    CHECK(gr_cleaner_clean_log(log, &cc, NULL, T0 + 1000, &cp, NULL, &stop, NULL) < 0);
    CHECK_EQ(cp, -1);
    read_all(log, &got);
    report("after a stopped pass", &got, &written);
    DIR *d = opendir(dir);
    struct dirent *de;
    int leftovers = 0;
    while (d && (de = readdir(d)))
        if (strstr(de->d_name, ".cleaned") || strstr(de->d_name, ".swap")) leftovers++;
    if (d) closedir(d);
    CHECK_EQ(leftovers, 0);
    gr_log_release(log);
    remove_dir(dir);
}

/* Builds the crash fixture: small segments that merge into one group. */
static gr_log_t *crash_fixture(const char *dir, gr_log_config_t *cfg, model_t *m)
{
    gr_log_t *log;
    cfg->segment_bytes = 64 * 1024;
    CHECK_EQ(gr_log_open(dir, cfg, 0, -1, &log), 0);
    rng_state = 1234;
    m->n = 0;
    fill(log, m, GR_CODEC_LZ4, 120, 15, 0, 20);
    force_roll(log);
    fill(log, m, GR_CODEC_NONE, 5, 15, 10, 0);
    return log;
}

static int count_files(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    while (d && (de = readdir(d)))
        if (strstr(de->d_name, needle)) n++;
    if (d) closedir(d);
    return n;
}

/* kill -9 at every step of the swap: reopening finds the old or the new
 * segments, never a mix, and a later pass finishes the job. */
GR_TEST(cleaner_crash_at_every_step)
{
    static model_t old, want, got;
    gr_log_config_t cfg;
    small_config(&cfg);
    gr_cleaner_log_config_t cc;
    gr_cleaner_log_config_default(&cc);
    cc.min_cleanable_dirty_ratio = 0;

    char *ref_dir = make_dir();
    gr_log_t *log = crash_fixture(ref_dir, &cfg, &old);
    int segs_before = gr_log_segment_count(log);
    CHECK(segs_before >= 5);
    int64_t cp = -1;
    gr_cleaner_stats_t st;
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, T0 + 1000, &cp, NULL, NULL, &st), 1);
    CHECK_EQ(st.segments_out, 1);           /* one group: one swap */
    CHECK_EQ(gr_log_segment_count(log), 2);
    read_all(log, &want);
    model_t *expect = malloc(sizeof *expect);
    expect_pass(&old, expect, 0, cp, false);
    report("reference pass", &want, expect);
    free(expect);
    gr_log_release(log);
    remove_dir(ref_dir);

    int step, olds = 0, news = 0;
    for (step = 0; step < 50; step++) {
        char *dir = make_dir();
        log = crash_fixture(dir, &cfg, &old);
        int64_t recovery = gr_log_flush(log);
        gr_log_test_swap_crash_after = step;
        gr_log_test_crashed = false;
        cp = -1;
        int rc = gr_cleaner_clean_log(log, &cc, NULL, T0 + 1000, &cp, NULL, NULL, &st);
        bool crashed = gr_log_test_crashed;
        gr_log_test_swap_crash_after = -1;
        gr_log_test_crashed = false;
        if (!crashed) {
            CHECK_EQ(rc, 1);
            gr_log_release(log);
            remove_dir(dir);
            break;
        }
        CHECK(rc < 0);
        /* The process "died": nothing more happens to the files. */
        gr_log_release(log);
        CHECK_EQ(gr_log_open(dir, &cfg, step % 2 ? recovery : 0, -1, &log), 0);
        CHECK_EQ(count_files(dir, ".cleaned"), 0);
        CHECK_EQ(count_files(dir, ".swap"), 0);
        read_all(log, &got);
        if (same(&got, &old)) {
            olds++;
            CHECK_EQ(gr_log_segment_count(log), segs_before);
        } else if (same(&got, &want)) {
            news++;
            CHECK_EQ(gr_log_segment_count(log), 2);
        } else {
            fprintf(stderr, "  crash after step %d: neither the old nor the new set\n", step);
            report("vs new", &got, &want);
        }
        /* The cleaner's checkpoint was not written: the next pass cleans
         * again and ends in the new set. */
        cp = -1;
        CHECK(gr_cleaner_clean_log(log, &cc, NULL, T0 + 2000, &cp, NULL, NULL, &st) >= 0);
        read_all(log, &got);
        report("after the pass that follows the crash", &got, &want);
        gr_log_release(log);
        remove_dir(dir);
    }
    CHECK(step > 4 && step < 50);
    CHECK(olds >= 1);
    CHECK(news >= 3);
}

/* --- tombstones and time --- */

static void append_recs(gr_log_t *log, model_t *m, int64_t t_ms, const int *k, const int *v, int n)
{
    gr_writer_t w;
    gr_writer_init(&w);
    build_batch(&w, GR_CODEC_NONE, -1, T0 + t_ms, k, v, n);
    gr_append_info_t info;
    CHECK_EQ(gr_log_append(log, w.buf, w.len, 0, -1, T0 + t_ms, &info), 0);
    for (int i = 0; i < n && m->n < MAXREC; i++) m->r[m->n++] = (rec_t){info.base_offset + i, k[i], v[i]};
    gr_writer_free(&w);
}

/* Keys key_base.. key_base+9 with values, then tombstones for the first
 * five of them, then a roll: one non-active segment. */
static void tombstone_segment(gr_log_t *log, model_t *m, int key_base, int64_t t_ms)
{
    int k[10], v[10];
    for (int i = 0; i < 10; i++) k[i] = key_base + i, v[i] = 1000 + i;
    append_recs(log, m, t_ms, k, v, 10);
    for (int i = 0; i < 5; i++) v[i] = -1;
    append_recs(log, m, t_ms, k, v, 5);
    force_roll(log);
}

static int tombstones_of(const model_t *m, int key_lo, int key_hi)
{
    int n = 0;
    for (int i = 0; i < m->n; i++)
        if (m->r[i].val < 0 && m->r[i].key >= key_lo && m->r[i].key < key_hi) n++;
    return n;
}

/* Tombstones cleaned at t1 stay delete.retention.ms from t1, however many
 * passes bring new dirty data meanwhile (the cleaned segment holding them
 * must not take the time of the dirty segments, nor of a later clean one,
 * it is merged with), and then go. */
GR_TEST(cleaner_tombstone_clock_not_restarted_by_new_data)
{
    static model_t written, got;
    char *dir = make_dir();
    gr_log_config_t cfg;
    small_config(&cfg);
    cfg.segment_bytes = 64 * 1024;             /* everything fits one group */
    gr_log_t *log;
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    written.n = 0;
    gr_cleaner_log_config_t cc;
    gr_cleaner_log_config_default(&cc);
    cc.min_cleanable_dirty_ratio = 0;
    cc.delete_retention_ms = 60000;
    gr_cleaner_stats_t st;
    int64_t cp = -1, due = GR_CLEANER_TOMBSTONES_UNKNOWN, t1 = T0 + 1000;

    tombstone_segment(log, &written, 0, 0);
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, t1, &cp, &due, NULL, &st), 1);
    CHECK_EQ(due, t1 + 60000);
    read_all(log, &got);
    CHECK_EQ(tombstones_of(&got, 0, 10), 5);

    /* New data at t1 + 30 s, with tombstones of other keys. */
    tombstone_segment(log, &written, 100, 30000);
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, t1 + 30000, &cp, &due, NULL, &st), 1);
    CHECK_EQ(due, t1 + 60000);
    read_all(log, &got);
    CHECK_EQ(tombstones_of(&got, 0, 10), 5);
    CHECK_EQ(tombstones_of(&got, 100, 110), 5);

    /* More new data at t1 + 45 s: the two clean segments (t1 and
     * t1 + 30 s) both keep tombstones, so they stay apart. */
    tombstone_segment(log, &written, 200, 45000);
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, t1 + 45000, &cp, &due, NULL, &st), 1);
    CHECK_EQ(due, t1 + 60000);
    CHECK_EQ(st.tombstones_removed, 0);

    /* Still more at t1 + 60 s + 1: delete.retention.ms since the first
     * cleaning, so its tombstones go; the others stay. */
    tombstone_segment(log, &written, 300, 60001);
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, t1 + 60001, &cp, &due, NULL, &st), 1);
    CHECK(!st.tombstones_only);
    CHECK_EQ(st.tombstones_removed, 5);
    CHECK_EQ(due, t1 + 30000 + 60000);
    read_all(log, &got);
    CHECK_EQ(tombstones_of(&got, 0, 10), 0);
    CHECK_EQ(tombstones_of(&got, 100, 110), 5);
    CHECK_EQ(tombstones_of(&got, 200, 210), 5);
    CHECK_EQ(tombstones_of(&got, 300, 310), 5);
    /* Every live key is still there. */
    for (int base = 0; base <= 300; base += 100)
        for (int i = 5; i < 10; i++) {
            bool found = false;
            for (int r = 0; r < got.n; r++) found |= got.r[r].key == base + i && got.r[r].val == 1000 + i;
            CHECK(found);
        }
    gr_log_release(log);
    remove_dir(dir);
}

/* No new writes: the tombstones go once delete.retention.ms has passed,
 * by tombstone-only passes that rewrite nothing but the segments that lose
 * tombstones, and a pass that has nothing to remove is not due again. */
GR_TEST(cleaner_removes_expired_tombstones_without_new_data)
{
    static model_t written, got;
    char *dir = make_dir();
    gr_log_config_t cfg;
    small_config(&cfg);
    cfg.segment_bytes = 64 * 1024;
    gr_log_t *log;
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    written.n = 0;
    gr_cleaner_log_config_t cc;
    gr_cleaner_log_config_default(&cc);
    cc.delete_retention_ms = 60000;
    gr_cleaner_stats_t st;
    int64_t cp = -1, due = GR_CLEANER_TOMBSTONES_UNKNOWN, t1 = T0 + 1000, t2 = t1 + 30000;

    /* Segment A cleaned at t1, segment B at t2: two clean segments. */
    tombstone_segment(log, &written, 0, 0);
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, t1, &cp, &due, NULL, &st), 1);
    int64_t cp_a = cp;
    {
        /* B big enough that the dirty ratio (0.5) qualifies. */
        int k[10], v[10];
        for (int r = 0; r < 4; r++) {
            for (int i = 0; i < 10; i++) k[i] = 100 + i, v[i] = r;
            append_recs(log, &written, 30000, k, v, 10);
        }
        tombstone_segment(log, &written, 100, 30000);
    }
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, t2, &cp, &due, NULL, &st), 1);
    CHECK(cp > cp_a);
    CHECK_EQ(due, t1 + 60000);
    int64_t cp_b = cp;
    CHECK_EQ(gr_log_segment_count(log), 3);    /* A, B, the active one */
    read_all(log, &got);
    CHECK_EQ(tombstones_of(&got, 0, 10), 5);
    CHECK_EQ(tombstones_of(&got, 100, 110), 5);

    /* Nothing dirty, nothing due. */
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, t1 + 60000, &cp, &due, NULL, &st), 0);

    /* A's tombstones are due: only A is rewritten. */
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, t1 + 60001, &cp, &due, NULL, &st), 1);
    CHECK(st.tombstones_only);
    CHECK_EQ(cp, cp_b);
    CHECK_EQ(st.tombstones_removed, 5);
    CHECK_EQ(st.segments_in, 1);
    CHECK_EQ(st.segments_out, 1);
    CHECK_EQ(due, t2 + 60000);
    read_all(log, &got);
    CHECK_EQ(tombstones_of(&got, 0, 10), 0);
    CHECK_EQ(tombstones_of(&got, 100, 110), 5);
    /* The rewritten A keeps its time (t1). */
    gr_log_cleanable_t s;
    CHECK_EQ(gr_log_cleanable(log, &s), 0);
    CHECK_EQ(s.n, 2);
    if (s.n == 2) {
        CHECK_EQ(s.segs[0].mtime_ms, t1);
        CHECK_EQ(s.segs[1].mtime_ms, t2);
    }
    gr_log_cleanable_free(&s);

    /* Not rescheduled until B's are due. */
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, t1 + 60002, &cp, &due, NULL, &st), 0);
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, t2 + 60000, &cp, &due, NULL, &st), 0);
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, t2 + 60001, &cp, &due, NULL, &st), 1);
    CHECK(st.tombstones_only);
    CHECK_EQ(st.tombstones_removed, 5);
    CHECK_EQ(st.segments_in, 1);
    CHECK_EQ(due, GR_CLEANER_NO_TOMBSTONES);
    read_all(log, &got);
    CHECK_EQ(tombstones_of(&got, 0, 1000), 0);
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, t2 + 600000, &cp, &due, NULL, &st), 0);

    /* State unknown (a restart): one pass looks, writes nothing, and finds
     * no tombstone. */
    due = GR_CLEANER_TOMBSTONES_UNKNOWN;
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, t2 + 600000, &cp, &due, NULL, &st), 1);
    CHECK(st.tombstones_only);
    CHECK_EQ(st.bytes_written, 0);
    CHECK_EQ(st.segments_out, 0);
    CHECK_EQ(due, GR_CLEANER_NO_TOMBSTONES);
    CHECK_EQ(gr_cleaner_clean_log(log, &cc, NULL, t2 + 600001, &cp, &due, NULL, &st), 0);
    gr_log_release(log);
    remove_dir(dir);
}

/* The same through the cleaner thread, in real time: after one pass and
 * no new writes, the tombstones go by themselves. */
GR_TEST(cleaner_thread_removes_expired_tombstones)
{
    static model_t written, got;
    char *top = make_dir();
    char dir[600];
    snprintf(dir, sizeof dir, "%s/t-0", top);
    CHECK_EQ(mkdir(dir, 0755), 0);
    gr_log_config_t cfg;
    small_config(&cfg);
    gr_log_t *log;
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    written.n = 0;
    tombstone_segment(log, &written, 0, 0);
    gr_cleaner_config_t ccfg;
    gr_cleaner_config_default(&ccfg);
    ccfg.backoff_ms = 20;
    gr_cleaner_t *c = gr_cleaner_start(top, &ccfg);
    CHECK(c != NULL);
    gr_cleaner_log_config_t cc;
    gr_cleaner_log_config_default(&cc);
    cc.delete_retention_ms = 300;
    CHECK_EQ(gr_cleaner_add(c, "t", 0, log, &cc), 0);
    int left = -1;
    for (int i = 0; i < 300; i++) {        /* up to 6 s */
        read_all(log, &got);
        left = tombstones_of(&got, 0, 10);
        if (left == 0) break;
        usleep(20000);
    }
    CHECK_EQ(left, 0);
    for (int i = 5; i < 10; i++) {
        bool found = false;
        for (int r = 0; r < got.n; r++) found |= got.r[r].key == i && got.r[r].val == 1000 + i;
        CHECK(found);
    }
    gr_cleaner_stop(c);
    gr_log_release(log);
    remove_dir(top);
}
