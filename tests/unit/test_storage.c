/* Storage: log append/read, segment rolls, indexes, recovery of torn
 * tails, retention, checkpoints and the flusher. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/errors.h"
#include "protocol/prim.h"
#include "protocol/record_batch.h"
#include "storage/checkpoint.h"
#include "storage/flusher.h"
#include "storage/log.h"
#include "storage/segment.h"
#include "test.h"
#include "tmpdir.h"
#include "util/log.h"

/* Builds a client-style batch (baseOffset 0) of `count` records into buf;
 * the record bytes are filler since storage never parses them. */
static size_t make_batch(uint8_t *buf, int count, int64_t ts, size_t payload)
{
    size_t len = GR_BATCH_HEADER_SIZE + payload;
    memset(buf, 0, len);
    gr_put_be64(buf, 0);
    gr_put_be32(buf + 8, (uint32_t)(len - 12));
    gr_put_be32(buf + 12, 0);
    buf[16] = 2;
    gr_put_be16(buf + 21, 0);
    gr_put_be32(buf + 23, (uint32_t)(count - 1));
    gr_put_be64(buf + 27, (uint64_t)ts);
    gr_put_be64(buf + 35, (uint64_t)ts);
    gr_put_be64(buf + 43, (uint64_t)-1);
    gr_put_be16(buf + 51, (uint16_t)-1);
    gr_put_be32(buf + 53, (uint32_t)-1);
    gr_put_be32(buf + 57, (uint32_t)count);
    for (size_t i = 0; i < payload; i++) buf[GR_BATCH_HEADER_SIZE + i] = (uint8_t)(i * 7 + count);
    gr_batch_update_crc(buf, len);
    return len;
}

static void small_config(gr_log_config_t *cfg)
{
    gr_log_config_default(cfg);
    cfg->segment_bytes = 16 * 1024;
    cfg->index_interval_bytes = 512;
    cfg->segment_index_bytes = 4096;
}

/* Reads the batch whose range starts at slice.pos and checks it. */
static int read_batch_at(const gr_log_slice_t *s, int64_t rel, uint8_t *buf, size_t cap, gr_batch_header_t *h)
{
    if (pread(s->file->fd, buf, GR_BATCH_HEADER_SIZE, s->pos + rel) != GR_BATCH_HEADER_SIZE) return -1;
    int64_t size = gr_batch_parse_header(buf, GR_BATCH_HEADER_SIZE, h);
    if (size < 0 || (size_t)size > cap) return -1;
    if (pread(s->file->fd, buf, (size_t)size, s->pos + rel) != size) return -1;
    return gr_batch_crc_ok(buf, (size_t)size) ? (int)size : -1;
}

/* Appends n batches of varying sizes; batch i has (i % 5) + 1 records,
 * timestamp 1000 + i.  Returns the end offset. */
static int64_t fill(gr_log_t *log, int n, int epoch)
{
    uint8_t buf[4096];
    int64_t end = 0;
    for (int i = 0; i < n; i++) {
        size_t len = make_batch(buf, i % 5 + 1, 1000 + i, 50 + (size_t)(i * 37) % 700);
        gr_append_info_t info;
        int rc = gr_log_append(log, buf, len, epoch, -1, 1000 + i, &info);
        CHECK_EQ(rc, 0);
        CHECK_EQ(info.last_offset - info.base_offset, i % 5);
        end = info.last_offset + 1;
    }
    return end;
}

/* Every offset below end maps to the batch that contains it. */
static void check_all_offsets(gr_log_t *log, int64_t start, int64_t end)
{
    uint8_t buf[4096];
    int bad = 0;
    for (int64_t o = start; o < end; o++) {
        gr_log_slice_t s;
        gr_batch_header_t h;
        int rc = gr_log_read(log, o, INT64_MAX, 1, true, &s);
        if (rc != 0 || s.len <= 0 || read_batch_at(&s, 0, buf, sizeof buf, &h) != s.len ||
            h.base_offset > o || h.base_offset + h.last_offset_delta < o) {
            if (bad++ < 5) fprintf(stderr, "  offset %lld: rc %d len %lld\n", (long long)o, rc, (long long)s.len);
        }
        gr_file_release(s.file);
    }
    CHECK_EQ(bad, 0);
}

GR_TEST(storage_append_read_roll)
{
    char dir[TEST_TMPDIR_MAX];
    test_tmpdir_create(dir, "storage");
    gr_log_config_t cfg;
    small_config(&cfg);
    gr_log_t *log;
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    CHECK_EQ(gr_log_end_offset(log), 0);
    int64_t end = fill(log, 300, 3);
    CHECK_EQ(gr_log_end_offset(log), end);
    CHECK(gr_log_segment_count(log) > 5);
    check_all_offsets(log, 0, end);

    /* Reading at the end gives nothing; past it is out of range. */
    gr_log_slice_t s;
    CHECK_EQ(gr_log_read(log, end, INT64_MAX, 1 << 20, true, &s), 0);
    CHECK_EQ(s.len, 0);
    CHECK(s.file == NULL);
    CHECK_EQ(gr_log_read(log, end + 1, INT64_MAX, 1 << 20, true, &s), GR_ERANGE);

    /* A whole read walks whole batches with contiguous offsets within one segment. */
    CHECK_EQ(gr_log_read(log, 0, INT64_MAX, 1 << 20, false, &s), 0);
    CHECK(s.len > 0 && s.len <= cfg.segment_bytes);
    uint8_t buf[4096];
    int64_t rel = 0, next = 0;
    while (rel < s.len) {
        gr_batch_header_t h;
        int size = read_batch_at(&s, rel, buf, sizeof buf, &h);
        CHECK(size > 0);
        if (size <= 0) break;
        CHECK_EQ(h.base_offset, next);
        CHECK_EQ(h.leader_epoch, 3);
        next = h.base_offset + h.last_offset_delta + 1;
        rel += size;
    }
    CHECK_EQ(rel, s.len);
    gr_file_release(s.file);

    /* The file names are Kafka's. */
    char p[512];
    snprintf(p, sizeof p, "%s/00000000000000000000.log", dir);
    CHECK(access(p, F_OK) == 0);
    snprintf(p, sizeof p, "%s/00000000000000000000.timeindex", dir);
    CHECK(access(p, F_OK) == 0);
    snprintf(p, sizeof p, "%s/leader-epoch-checkpoint", dir);
    CHECK(access(p, F_OK) == 0);

    /* Reopen cleanly (recovery point at the end): same offsets. */
    int64_t rp = gr_log_flush(log);
    CHECK_EQ(rp, end);
    int nsegs = gr_log_segment_count(log);
    gr_log_release(log);
    CHECK_EQ(gr_log_open(dir, &cfg, rp, 0, &log), 0);
    CHECK_EQ(gr_log_end_offset(log), end);
    CHECK_EQ(gr_log_segment_count(log), nsegs);
    check_all_offsets(log, 0, end);
    int64_t end2 = fill(log, 20, 4);
    CHECK(end2 > end);
    check_all_offsets(log, 0, end2);
    gr_log_release(log);
    test_tmpdir_remove(dir);
}

static void seg_path(char *buf, size_t cap, const char *dir, int64_t base, const char *ext)
{
    snprintf(buf, cap, "%s/%020lld%s", dir, (long long)base, ext);
}

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* The base offset of the active (last) segment, from the directory. */
static int64_t last_base(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    long long best = -1, v;
    while (d && (de = readdir(d))) {
        char ext[16];
        if (sscanf(de->d_name, "%20lld%15s", &v, ext) == 2 && strcmp(ext, ".log") == 0 && v > best) best = v;
    }
    if (d) closedir(d);
    return best;
}

/* Appends batches, damages the active segment with `damage`, reopens with
 * recovery point 0 and checks the log ends at the last good batch and keeps
 * working. */
static void torn_tail_case(void (*damage)(const char *path, int64_t last_batch_pos))
{
    char dir[TEST_TMPDIR_MAX];
    test_tmpdir_create(dir, "storage");
    gr_log_config_t cfg;
    small_config(&cfg);
    gr_log_t *log;
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    int64_t end = fill(log, 60, 1);
    int nsegs = gr_log_segment_count(log);
    /* Where the last batch starts and what offsets it covers. */
    gr_log_slice_t s;
    gr_batch_header_t h;
    uint8_t buf[4096];
    CHECK_EQ(gr_log_read(log, end - 1, INT64_MAX, 1, true, &s), 0);
    CHECK(read_batch_at(&s, 0, buf, sizeof buf, &h) > 0);
    int64_t last_pos = s.pos, last_base_off = h.base_offset;
    gr_file_release(s.file);
    gr_log_release(log);

    char p[512];
    seg_path(p, sizeof p, dir, last_base(dir), ".log");
    damage(p, last_pos);

    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    CHECK_EQ(gr_log_end_offset(log), last_base_off);
    CHECK_EQ(gr_log_segment_count(log), nsegs);
    CHECK_EQ(file_size(p), last_pos);
    check_all_offsets(log, 0, last_base_off);
    int64_t end2 = fill(log, 10, 2);
    CHECK(end2 > last_base_off);
    check_all_offsets(log, 0, end2);
    gr_log_release(log);
    /* And once more, now cleanly. */
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    CHECK_EQ(gr_log_end_offset(log), end2);
    check_all_offsets(log, 0, end2);
    gr_log_release(log);
    test_tmpdir_remove(dir);
}

static void damage_truncate(const char *path, int64_t pos) { CHECK_EQ(truncate(path, pos + 30), 0); }
static void damage_flip(const char *path, int64_t pos)
{
    int fd = open(path, O_RDWR);
    uint8_t b;
    CHECK_EQ(pread(fd, &b, 1, pos + 70), 1);
    b ^= 0x40;
    CHECK_EQ(pwrite(fd, &b, 1, pos + 70), 1);
    close(fd);
}
static void damage_garbage(const char *path, int64_t pos)
{
    /* Drop the last batch and put random bytes where it was. */
    CHECK_EQ(truncate(path, pos), 0);
    int fd = open(path, O_WRONLY | O_APPEND);
    uint8_t junk[1000];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 131 + 17);
    CHECK_EQ(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    close(fd);
}
static void damage_zeros(const char *path, int64_t pos)
{
    /* What a crash after a size update but before the data write leaves. */
    CHECK_EQ(truncate(path, pos), 0);
    CHECK_EQ(truncate(path, pos + 8192), 0);
}

GR_TEST(storage_recovery_truncated_tail) { torn_tail_case(damage_truncate); }
GR_TEST(storage_recovery_bad_crc) { torn_tail_case(damage_flip); }
GR_TEST(storage_recovery_garbage_tail) { torn_tail_case(damage_garbage); }
GR_TEST(storage_recovery_zero_tail) { torn_tail_case(damage_zeros); }

static int read_file_bytes(const char *path, uint8_t *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    int n = (int)read(fd, buf, cap);
    close(fd);
    return n;
}

GR_TEST(storage_recovery_from_recovery_point)
{
    char dir[TEST_TMPDIR_MAX];
    test_tmpdir_create(dir, "storage");
    gr_log_config_t cfg;
    small_config(&cfg);
    gr_log_t *log;
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    int64_t end = fill(log, 200, 1);
    int nsegs = gr_log_segment_count(log);
    CHECK(nsegs >= 4);
    int64_t rp = gr_log_flush(log);
    CHECK_EQ(rp, end);
    gr_log_release(log);

    /* Damage a batch in the middle of the first (flushed) segment.  Opening
     * at the recovery point must not even look at it: that is what keeps
     * restart time independent of the data size. */
    char p[512], ip[512];
    seg_path(p, sizeof p, dir, 0, ".log");
    seg_path(ip, sizeof ip, dir, 0, ".index");
    static uint8_t before[65536], after[65536];
    int nb = read_file_bytes(ip, before, sizeof before);
    CHECK(nb > 0);
    damage_flip(p, 2000);
    CHECK_EQ(gr_log_open(dir, &cfg, rp, -1, &log), 0);
    CHECK_EQ(gr_log_end_offset(log), end);
    CHECK_EQ(gr_log_segment_count(log), nsegs);
    gr_log_release(log);
    /* The earlier segment's index was used as it was. */
    CHECK_EQ(read_file_bytes(ip, after, sizeof after), nb);
    CHECK_MEM(before, after, (size_t)nb);

    /* With recovery point 0 the damage is found: the log is cut inside the
     * first segment and every later segment is deleted. */
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    CHECK(gr_log_end_offset(log) < end);
    CHECK(gr_log_end_offset(log) > 0);
    CHECK_EQ(gr_log_segment_count(log), 1);
    CHECK(file_size(p) < 2000 + 1);
    check_all_offsets(log, 0, gr_log_end_offset(log));
    int64_t end2 = fill(log, 5, 1);
    check_all_offsets(log, 0, end2);
    gr_log_release(log);
    test_tmpdir_remove(dir);
}

GR_TEST(storage_recovery_missing_index)
{
    char dir[TEST_TMPDIR_MAX];
    test_tmpdir_create(dir, "storage");
    gr_log_config_t cfg;
    small_config(&cfg);
    gr_log_t *log;
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    int64_t end = fill(log, 100, 1);
    int64_t rp = gr_log_flush(log);
    gr_log_release(log);
    char ip[512];
    seg_path(ip, sizeof ip, dir, 0, ".index");
    int64_t isize = file_size(ip);
    CHECK(isize > 0);
    CHECK_EQ(unlink(ip), 0);
    seg_path(ip, sizeof ip, dir, 0, ".timeindex");
    CHECK_EQ(truncate(ip, 5), 0);   /* a torn entry */
    CHECK_EQ(gr_log_open(dir, &cfg, rp, -1, &log), 0);
    CHECK_EQ(gr_log_end_offset(log), end);
    check_all_offsets(log, 0, end);
    gr_log_release(log);
    seg_path(ip, sizeof ip, dir, 0, ".index");
    CHECK_EQ(file_size(ip), isize);     /* rebuilt the same, trimmed */
    test_tmpdir_remove(dir);
}

GR_TEST(storage_read_limits)
{
    char dir[TEST_TMPDIR_MAX];
    test_tmpdir_create(dir, "storage");
    gr_log_config_t cfg;
    small_config(&cfg);
    cfg.segment_bytes = 1 << 20;
    gr_log_t *log;
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    uint8_t buf[4096];
    /* 40 batches of 3 records, 561 bytes each: offsets 3i..3i+2. */
    for (int i = 0; i < 40; i++) {
        size_t len = make_batch(buf, 3, 1000 + i, 500);
        CHECK_EQ(gr_log_append(log, buf, len, 0, -1, 0, NULL), 0);
    }
    const int64_t bs = GR_BATCH_HEADER_SIZE + 500;
    gr_log_slice_t s;
    /* max_bytes cuts at a batch boundary. */
    CHECK_EQ(gr_log_read(log, 0, INT64_MAX, 5 * bs + 10, false, &s), 0);
    CHECK_EQ(s.pos, 0);
    CHECK_EQ(s.len, 5 * bs);
    gr_file_release(s.file);
    /* A fetch from the middle of a batch starts at that batch. */
    CHECK_EQ(gr_log_read(log, 31, INT64_MAX, 2 * bs, false, &s), 0);
    CHECK_EQ(s.pos, 10 * bs);
    CHECK_EQ(s.len, 2 * bs);
    gr_file_release(s.file);
    /* KIP-74: too small for one batch gives nothing, unless min_one. */
    CHECK_EQ(gr_log_read(log, 30, INT64_MAX, 100, false, &s), 0);
    CHECK_EQ(s.len, 0);
    CHECK_EQ(gr_log_read(log, 30, INT64_MAX, 100, true, &s), 0);
    CHECK_EQ(s.pos, 10 * bs);
    CHECK_EQ(s.len, bs);
    gr_file_release(s.file);
    /* The high watermark: only batches wholly below it. */
    CHECK_EQ(gr_log_read(log, 0, 9, 1 << 20, true, &s), 0);
    CHECK_EQ(s.len, 3 * bs);
    gr_file_release(s.file);
    CHECK_EQ(gr_log_read(log, 0, 10, 1 << 20, true, &s), 0);
    CHECK_EQ(s.len, 3 * bs);        /* offset 10 is inside batch 3: not yet */
    gr_file_release(s.file);
    CHECK_EQ(gr_log_read(log, 9, 9, 1 << 20, true, &s), 0);
    CHECK_EQ(s.len, 0);
    CHECK_EQ(gr_log_read(log, 60, 120, 1 << 20, false, &s), 0);
    CHECK_EQ(s.pos, 20 * bs);
    CHECK_EQ(s.len, 20 * bs);
    gr_file_release(s.file);
    gr_log_release(log);
    test_tmpdir_remove(dir);
}

GR_TEST(storage_offset_for_timestamp)
{
    char dir[TEST_TMPDIR_MAX];
    test_tmpdir_create(dir, "storage");
    gr_log_config_t cfg;
    small_config(&cfg);
    gr_log_t *log;
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    uint8_t buf[4096];
    int64_t bases[200];
    /* Timestamps rise by 10 per batch, with an occasional late one. */
    for (int i = 0; i < 200; i++) {
        int64_t ts = i % 17 == 5 ? 5 : 10000 + 10 * i;
        size_t len = make_batch(buf, 2, ts, 300);
        gr_append_info_t info;
        CHECK_EQ(gr_log_append(log, buf, len, 0, -1, 0, &info), 0);
        bases[i] = info.base_offset;
    }
    CHECK(gr_log_segment_count(log) > 2);
    int64_t off, ts;
    for (int i = 0; i < 200; i++) {
        if (i % 17 == 5) continue;
        CHECK_EQ(gr_log_offset_for_timestamp(log, 10000 + 10 * i, &off, &ts), 0);
        CHECK_EQ(off, bases[i]);
        CHECK_EQ(ts, 10000 + 10 * i);
        CHECK_EQ(gr_log_offset_for_timestamp(log, 10000 + 10 * i - 3, &off, &ts), 0);
        CHECK_EQ(off, bases[i]);
    }
    CHECK_EQ(gr_log_offset_for_timestamp(log, 0, &off, &ts), 0);
    CHECK_EQ(off, 0);
    CHECK_EQ(gr_log_offset_for_timestamp(log, 10000 + 10 * 200, &off, &ts), GR_ENOTFOUND);
    /* LogAppendTime stamps maxTimestamp and keeps the CRC valid. */
    size_t len = make_batch(buf, 1, 1, 100);
    gr_append_info_t info;
    CHECK_EQ(gr_log_append(log, buf, len, 0, 99999, 0, &info), 0);
    CHECK_EQ(info.log_append_time, 99999);
    CHECK(gr_batch_crc_ok(buf, len));
    CHECK_EQ(gr_log_offset_for_timestamp(log, 99999, &off, &ts), 0);
    CHECK_EQ(off, info.base_offset);
    /* The time index survives a reopen. */
    int64_t rp = gr_log_flush(log);
    gr_log_release(log);
    CHECK_EQ(gr_log_open(dir, &cfg, rp, -1, &log), 0);
    CHECK_EQ(gr_log_offset_for_timestamp(log, 10000 + 10 * 100, &off, &ts), 0);
    CHECK_EQ(off, bases[100]);
    gr_log_release(log);
    test_tmpdir_remove(dir);
}

GR_TEST(storage_retention_and_delete_records)
{
    char dir[TEST_TMPDIR_MAX];
    test_tmpdir_create(dir, "storage");
    gr_log_config_t cfg;
    small_config(&cfg);
    gr_log_t *log;
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    uint8_t buf[4096];
    /* 100 batches of 1000 bytes, timestamps = 1000 * i. */
    for (int i = 0; i < 100; i++) {
        size_t len = make_batch(buf, 1, 1000 * i, 1000 - GR_BATCH_HEADER_SIZE);
        CHECK_EQ(gr_log_append(log, buf, len, 0, -1, 1000 * i, NULL), 0);
    }
    int nsegs = gr_log_segment_count(log);
    CHECK(nsegs >= 6);
    CHECK_EQ(gr_log_size_bytes(log), 100 * 1000);
    /* Nothing is old enough yet. */
    cfg.retention_ms = 1000000;
    gr_log_set_config(log, &cfg);
    CHECK_EQ(gr_log_enforce_retention(log, 100000), 0);
    /* At now = 130000 and retention 100000, batches with ts < 30000 are
     * expired; a segment goes only when its newest batch is. */
    cfg.retention_ms = 100000;
    gr_log_set_config(log, &cfg);
    int deleted = gr_log_enforce_retention(log, 130000);
    CHECK(deleted >= 1);
    int64_t start = gr_log_start_offset(log);
    CHECK(start > 0 && start <= 30);
    CHECK_EQ(gr_log_segment_count(log), nsegs - deleted);
    char p[512];
    seg_path(p, sizeof p, dir, 0, ".log");
    CHECK(access(p, F_OK) != 0);
    gr_log_slice_t s;
    CHECK_EQ(gr_log_read(log, start - 1, INT64_MAX, 100, true, &s), GR_ERANGE);
    CHECK_EQ(gr_log_read(log, start, INT64_MAX, 100, true, &s), 0);
    CHECK(s.len > 0);
    gr_file_release(s.file);

    /* Retention by bytes keeps at most retention.bytes (whole segments). */
    cfg.retention_ms = -1;
    cfg.retention_bytes = 40000;
    gr_log_set_config(log, &cfg);
    CHECK(gr_log_enforce_retention(log, 130000) >= 1);
    /* Kafka deletes a segment only if at least retention.bytes remain. */
    CHECK(gr_log_size_bytes(log) >= 40000);
    CHECK(gr_log_size_bytes(log) < 40000 + cfg.segment_bytes);
    CHECK_EQ(gr_log_end_offset(log), 100);
    /* The active segment is never deleted. */
    cfg.retention_bytes = 0;
    gr_log_set_config(log, &cfg);
    gr_log_enforce_retention(log, 130000);
    CHECK_EQ(gr_log_segment_count(log), 1);
    CHECK_EQ(gr_log_end_offset(log), 100);

    /* DeleteRecords moves the start inside the active segment. */
    CHECK_EQ(gr_log_delete_records(log, 101), GR_ERANGE);
    CHECK_EQ(gr_log_delete_records(log, 99), 0);
    CHECK_EQ(gr_log_start_offset(log), 99);
    CHECK_EQ(gr_log_read(log, 98, INT64_MAX, 100, true, &s), GR_ERANGE);
    CHECK_EQ(gr_log_read(log, 99, INT64_MAX, 100, true, &s), 0);
    CHECK(s.len > 0);
    gr_file_release(s.file);
    gr_log_release(log);

    /* The start offset comes back from the caller's checkpoint. */
    CHECK_EQ(gr_log_open(dir, &cfg, 0, 99, &log), 0);
    CHECK_EQ(gr_log_start_offset(log), 99);
    CHECK_EQ(gr_log_end_offset(log), 100);
    gr_log_release(log);
    test_tmpdir_remove(dir);
}

GR_TEST(storage_delete_records_drops_segments)
{
    char dir[TEST_TMPDIR_MAX];
    test_tmpdir_create(dir, "storage");
    gr_log_config_t cfg;
    small_config(&cfg);
    gr_log_t *log;
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    int64_t end = fill(log, 200, 0);
    int nsegs = gr_log_segment_count(log);
    CHECK_EQ(gr_log_delete_records(log, end / 2), 0);
    CHECK(gr_log_segment_count(log) < nsegs);
    CHECK_EQ(gr_log_start_offset(log), end / 2);
    check_all_offsets(log, end / 2, end);
    CHECK_EQ(gr_log_destroy_files(log), 0);
    CHECK(access(dir, F_OK) != 0);
    gr_log_release(log);
    test_tmpdir_remove(dir);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

GR_TEST(storage_checkpoint_round_trip)
{
    char dir[TEST_TMPDIR_MAX];
    test_tmpdir_create(dir, "storage");
    char path[512];
    snprintf(path, sizeof path, "%s/recovery-point-offset-checkpoint", dir);
    gr_checkpoint_entry_t *e;
    int n = -1;
    CHECK_EQ(gr_checkpoint_read(path, &e, &n), 0);      /* missing: empty */
    CHECK_EQ(n, 0);
    gr_checkpoint_entry_t in[3] = {{"orders", 0, 1234}, {"__consumer_offsets", 49, 0}, {"a.b-c_d", 7, 9007199254740993LL}};
    CHECK_EQ(gr_checkpoint_write(path, in, 3), 0);
    CHECK_EQ(gr_checkpoint_read(path, &e, &n), 0);
    CHECK_EQ(n, 3);
    for (int i = 0; i < n && i < 3; i++) {
        CHECK(strcmp(e[i].topic, in[i].topic) == 0);
        CHECK_EQ(e[i].partition, in[i].partition);
        CHECK_EQ(e[i].offset, in[i].offset);
    }
    gr_checkpoint_free(e, n);
    /* Byte-for-byte Kafka's format. */
    char buf[256] = {0};
    FILE *f = fopen(path, "r");
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    CHECK(got > 0);
    CHECK(strcmp(buf, "0\n3\norders 0 1234\n__consumer_offsets 49 0\na.b-c_d 7 9007199254740993\n") == 0);
    CHECK_EQ(gr_checkpoint_write(path, NULL, 0), 0);
    CHECK_EQ(gr_checkpoint_read(path, &e, &n), 0);
    CHECK_EQ(n, 0);

    static const char *const bad[] = {
        "", "1\n0\n", "0\n2\nt 0 1\n", "0\n1\nt 0\n", "0\n1\nt x 1\n", "0\n1\nt 0 1 2\n",
        "0\n1\nt 0 1", "0\n-1\n", "0\n1\nt 0 1\nextra\n", "0\n1\n 0 1\n", "0\nabc\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(path, bad[i]);
        e = NULL;
        int rc = gr_checkpoint_read(path, &e, &n);
        if (rc != GR_ECORRUPT) fprintf(stderr, "  case %zu: rc %d\n", i, rc);
        CHECK_EQ(rc, GR_ECORRUPT);
        CHECK(e == NULL);
    }
    test_tmpdir_remove(dir);
}

typedef struct flush_result {
    pthread_mutex_t lock;
    int calls;
    int64_t last;
} flush_result_t;

static void on_flushed(void *arg, gr_log_t *log, int64_t flushed)
{
    flush_result_t *r = arg;
    pthread_mutex_lock(&r->lock);
    r->calls++;
    if (flushed > r->last) r->last = flushed;
    pthread_mutex_unlock(&r->lock);
}

GR_TEST(storage_flusher_group_commit)
{
    char dir[TEST_TMPDIR_MAX];
    test_tmpdir_create(dir, "storage");
    gr_log_config_t cfg;
    small_config(&cfg);
    cfg.flush_messages = 1;
    gr_log_t *log;
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    flush_result_t r = {PTHREAD_MUTEX_INITIALIZER, 0, -1};
    gr_flusher_t *f = gr_flusher_start(on_flushed, &r);
    CHECK(f != NULL);
    uint8_t buf[1024];
    const int N = 500;
    for (int i = 0; i < N; i++) {
        size_t len = make_batch(buf, 2, i, 200);
        gr_append_info_t info;
        CHECK_EQ(gr_log_append(log, buf, len, 0, -1, i, &info), 0);
        CHECK(info.flush_due);      /* flush.messages = 1 */
        gr_flusher_request(f, log);
    }
    gr_flusher_stop(f);
    /* Every request is covered by the time stop returns, with far fewer
     * syncs than requests. */
    CHECK_EQ(r.last, 2 * N);
    CHECK(r.calls >= 1);
    CHECK(r.calls < N);
    CHECK_EQ(gr_log_recovery_point(log), 2 * N);
    fprintf(stderr, "  %d requests -> %d flushes\n", N, r.calls);
    gr_log_release(log);
    test_tmpdir_remove(dir);
}

GR_TEST(storage_flush_due)
{
    char dir[TEST_TMPDIR_MAX];
    test_tmpdir_create(dir, "storage");
    gr_log_config_t cfg;
    small_config(&cfg);
    cfg.flush_ms = 1000;
    cfg.flush_messages = 10;
    gr_log_t *log;
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    uint8_t buf[1024];
    size_t len = make_batch(buf, 3, 0, 100);
    gr_append_info_t info;
    CHECK_EQ(gr_log_append(log, buf, len, 0, -1, 5000, &info), 0);
    CHECK(!info.flush_due);
    CHECK(!gr_log_flush_due(log, 5500));
    CHECK(gr_log_flush_due(log, 6000));
    len = make_batch(buf, 7, 0, 100);
    CHECK_EQ(gr_log_append(log, buf, len, 0, -1, 5001, &info), 0);
    CHECK(info.flush_due);           /* 10 messages unflushed */
    CHECK_EQ(gr_log_flush(log), 10);
    CHECK(!gr_log_flush_due(log, 100000));
    gr_log_release(log);
    test_tmpdir_remove(dir);
}

GR_TEST(storage_leader_epoch_checkpoint)
{
    char dir[TEST_TMPDIR_MAX];
    test_tmpdir_create(dir, "storage");
    gr_log_config_t cfg;
    small_config(&cfg);
    gr_log_t *log;
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    uint8_t buf[1024];
    for (int i = 0; i < 6; i++) {
        size_t len = make_batch(buf, 2, 0, 100);
        CHECK_EQ(gr_log_append(log, buf, len, i < 2 ? 0 : i < 5 ? 3 : 4, -1, 0, NULL), 0);
    }
    gr_log_release(log);
    char path[512], text[256] = {0};
    snprintf(path, sizeof path, "%s/leader-epoch-checkpoint", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (f) {
        CHECK(fread(text, 1, sizeof text - 1, f) > 0);
        fclose(f);
    }
    CHECK(strcmp(text, "0\n3\n0 0\n3 4\n4 10\n") == 0);
    test_tmpdir_remove(dir);
}

/* --- ListOffsets by timestamp down to the record --- */

#include "protocol/records.h"

/* A client-style batch of `n` real records (records.h layout) with the
 * given timestamps, compressed with `codec`.  Returns its length. */
static size_t make_record_batch(uint8_t *buf, size_t cap, const int64_t *ts, int n, int codec)
{
    gr_writer_t recs, body, z;
    gr_writer_init(&recs);
    gr_writer_init(&body);
    gr_writer_init(&z);
    int64_t max = ts[0];
    for (int i = 0; i < n; i++) {
        if (ts[i] > max) max = ts[i];
        gr_writer_reset(&body);
        gr_write_i8(&body, 0);
        gr_write_varlong(&body, ts[i] - ts[0]);
        gr_write_varint(&body, i);
        gr_write_varint(&body, -1);                 /* key null */
        gr_write_varint(&body, 4);
        gr_writer_put(&body, "vvvv", 4);
        gr_write_varint(&body, 0);
        gr_write_varint(&recs, (int32_t)body.len);
        gr_writer_put(&recs, body.buf, body.len);
    }
    const gr_writer_t *sec = &recs;
    if (codec) {
        CHECK_EQ(gr_codec_compress(codec, 0, recs.buf, recs.len, &z), 0);
        sec = &z;
    }
    size_t len = GR_BATCH_HEADER_SIZE + sec->len;
    CHECK(len <= cap);
    make_batch(buf, n, ts[0], 0);
    gr_put_be32(buf + 8, (uint32_t)(len - 12));
    gr_put_be16(buf + 21, (uint16_t)codec);
    gr_put_be64(buf + 35, (uint64_t)max);
    memcpy(buf + GR_BATCH_HEADER_SIZE, sec->buf, sec->len);
    gr_batch_update_crc(buf, len);
    gr_writer_free(&recs);
    gr_writer_free(&body);
    gr_writer_free(&z);
    return len;
}

GR_TEST(storage_offset_for_timestamp_exact_record)
{
    char dir[TEST_TMPDIR_MAX];
    test_tmpdir_create(dir, "storage");
    gr_log_config_t cfg;
    small_config(&cfg);
    cfg.segment_bytes = 3000;   /* several segments of ~100-byte batches */
    gr_log_t *log;
    CHECK_EQ(gr_log_open(dir, &cfg, 0, -1, &log), 0);
    uint8_t buf[8192];
    gr_append_info_t info;
    /* 120 batches of 5 records; record k (offset k) has timestamp
     * 100000 + 10k; batches cycle through the codecs. */
    for (int b = 0; b < 120; b++) {
        int64_t ts[5];
        for (int i = 0; i < 5; i++) ts[i] = 100000 + 10 * (5 * b + i);
        size_t len = make_record_batch(buf, sizeof buf, ts, 5, b % 5);
        CHECK_EQ(gr_log_append(log, buf, len, 0, -1, 0, &info), 0);
        CHECK_EQ(info.base_offset, 5 * b);
    }
    CHECK(gr_log_segment_count(log) > 1);
    int64_t off, ts;
    int bad = 0;
    for (int k = 0; k < 600; k++) {
        int64_t t = 100000 + 10 * k;
        if (gr_log_offset_for_timestamp(log, t, &off, &ts) != 0 || off != k || ts != t) bad++;
        if (gr_log_offset_for_timestamp(log, t - 7, &off, &ts) != 0 || off != k || ts != t) bad++;
        if (bad == 1) fprintf(stderr, "  record %d: got offset %lld ts %lld\n", k, (long long)off, (long long)ts);
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(gr_log_offset_for_timestamp(log, 0, &off, &ts), 0);
    CHECK_EQ(off, 0);
    CHECK_EQ(ts, 100000);
    CHECK_EQ(gr_log_offset_for_timestamp(log, 100000 + 10 * 599 + 1, &off, &ts), GR_ENOTFOUND);

    /* Out-of-order timestamps inside one batch: the first record at or
     * past the target wins, not the largest. */
    int64_t odd[4] = {200000, 200300, 200200, 200400};
    size_t len = make_record_batch(buf, sizeof buf, odd, 4, GR_CODEC_ZSTD);
    CHECK_EQ(gr_log_append(log, buf, len, 0, -1, 0, &info), 0);
    int64_t b0 = info.base_offset;
    CHECK_EQ(gr_log_offset_for_timestamp(log, 200150, &off, &ts), 0);
    CHECK_EQ(off, b0 + 1);
    CHECK_EQ(ts, 200300);
    CHECK_EQ(gr_log_offset_for_timestamp(log, 200301, &off, &ts), 0);
    CHECK_EQ(off, b0 + 3);
    CHECK_EQ(ts, 200400);

    /* LogAppendTime: every record has the batch time, so the batch's
     * first record answers. */
    int64_t late[3] = {1, 2, 3};
    len = make_record_batch(buf, sizeof buf, late, 3, GR_CODEC_GZIP);
    CHECK_EQ(gr_log_append(log, buf, len, 0, 300000, 0, &info), 0);
    CHECK_EQ(gr_log_offset_for_timestamp(log, 250000, &off, &ts), 0);
    CHECK_EQ(off, info.base_offset);
    CHECK_EQ(ts, 300000);

    /* Records below the log start offset do not count (Kafka skips them
     * rather than answering with the start offset and their timestamp). */
    CHECK_EQ(gr_log_delete_records(log, 7), 0);
    CHECK_EQ(gr_log_offset_for_timestamp(log, 0, &off, &ts), 0);
    CHECK_EQ(off, 7);
    CHECK_EQ(ts, 100070);
    CHECK_EQ(gr_log_offset_for_timestamp(log, 100030, &off, &ts), 0);
    CHECK_EQ(off, 7);
    CHECK_EQ(ts, 100070);

    /* The same answers after a reopen (time index rebuilt or reloaded). */
    int64_t rp = gr_log_flush(log);
    gr_log_release(log);
    CHECK_EQ(gr_log_open(dir, &cfg, rp, 7, &log), 0);
    CHECK_EQ(gr_log_offset_for_timestamp(log, 100000 + 10 * 333 - 4, &off, &ts), 0);
    CHECK_EQ(off, 333);
    CHECK_EQ(ts, 100000 + 10 * 333);
    CHECK_EQ(gr_log_offset_for_timestamp(log, 200150, &off, &ts), 0);
    CHECK_EQ(off, b0 + 1);
    gr_log_release(log);
    test_tmpdir_remove(dir);
}
