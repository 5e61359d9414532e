/* A partition's log: the segment list, offsets, append/read, recovery,
 * retention and the leader-epoch checkpoint.  See log.h for the contract and
 * README.md in this directory for the tour.
 *
 * Locking: `lock` guards everything below it in the struct and all segment
 * fields.  Every public function takes it for its whole duration except
 * gr_log_flush, which only snapshots under it and fsyncs outside it so that
 * appends continue during the (slow) fdatasync.
 */
#include "storage/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "storage/segment.h"
#include "util/log.h"

typedef struct epoch_entry {
    int32_t epoch;
    int64_t start_offset;
} epoch_entry_t;

struct gr_log {
    atomic_int refs;
    char *dir;
    pthread_mutex_t flush_lock;     /* one flush at a time */
    pthread_mutex_t lock;
    gr_log_config_t cfg;
    gr_segment_t **segs;            /* sorted by base offset; last is active */
    int nsegs, segs_cap;
    int64_t log_start_offset;
    int64_t recovery_point;
    int64_t size_bytes;
    int64_t first_unflushed_ms;     /* now_ms of the first append after a flush; -1 none */
    bool dir_dirty;                 /* files created since the last flush */
    bool deleted;
    epoch_entry_t *epochs;          /* leader-epoch cache, ascending */
    int nepochs, epochs_cap;
};

void gr_log_config_default(gr_log_config_t *cfg)
{
    cfg->segment_bytes = 1073741824;
    cfg->segment_ms = 604800000;
    cfg->retention_ms = 604800000;
    cfg->retention_bytes = -1;
    cfg->flush_messages = INT64_MAX;
    cfg->flush_ms = INT64_MAX;
    cfg->index_interval_bytes = 4096;
    cfg->segment_index_bytes = 10485760;
    cfg->file_delete_delay_ms = 60000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline gr_segment_t *active(gr_log_t *log) { return log->segs[log->nsegs - 1]; }
static inline int64_t end_offset(gr_log_t *log) { return active(log)->next_offset; }

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return GR_EIO;
    int rc = fsync(fd) < 0 ? GR_EIO : 0;
    close(fd);
    return rc;
}

static int push_segment(gr_log_t *log, gr_segment_t *seg)
{
    if (log->nsegs == log->segs_cap) {
        int cap = log->segs_cap ? log->segs_cap * 2 : 8;
        gr_segment_t **n = realloc(log->segs, (size_t)cap * sizeof *n);
        if (!n) return GR_ENOMEM;
        log->segs = n;
        log->segs_cap = cap;
    }
    log->segs[log->nsegs++] = seg;
    return 0;
}

/* Index of the segment holding `offset`: the last with base <= offset. */
static int find_segment(gr_log_t *log, int64_t offset)
{
    int lo = 0, hi = log->nsegs;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (log->segs[mid]->base_offset <= offset) lo = mid + 1;
        else hi = mid;
    }
    return lo > 0 ? lo - 1 : 0;
}

/* Removes segs[0..n) from the list and deletes their files.  Deleting at once
 * (not Kafka's rename to .deleted and wait file.delete.delay.ms) is safe
 * because a fetch in flight holds a gr_file_t reference to the .log. */
static void drop_front(gr_log_t *log, int n)
{
    for (int i = 0; i < n; i++) {
        gr_segment_t *seg = log->segs[i];
        gr_info("log %s: deleting segment %lld (%lld bytes)", log->dir, (long long)seg->base_offset,
                (long long)seg->size);
        log->size_bytes -= seg->size;
        gr_segment_delete_files(seg);
        gr_segment_release(seg);
    }
    memmove(log->segs, log->segs + n, (size_t)(log->nsegs - n) * sizeof *log->segs);
    log->nsegs -= n;
    if (log->log_start_offset < log->segs[0]->base_offset) log->log_start_offset = log->segs[0]->base_offset;
}

/* --- leader-epoch-checkpoint ---
 *
 *   0                 version
 *   2                 entry count
 *   0 0               epoch startOffset
 *   3 1234
 *
 * Same shape as the offset checkpoints; rewritten whole (temp file, fsync,
 * rename) when an append brings a new epoch, which is rare. */

static int epochs_write(gr_log_t *log)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/leader-epoch-checkpoint", log->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    if (!f) goto err;
    fprintf(f, "0\n%d\n", log->nepochs);
    for (int i = 0; i < log->nepochs; i++)
        fprintf(f, "%d %lld\n", log->epochs[i].epoch, (long long)log->epochs[i].start_offset);
    if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
        fclose(f);
        goto err;
    }
    if (fclose(f) != 0 || rename(tmp, path) < 0) goto err;
    return 0;
err:
    gr_error("log %s: writing leader-epoch-checkpoint: %s", log->dir, strerror(errno));
    return GR_EIO;
}

static int epochs_add(gr_log_t *log, int32_t epoch, int64_t start)
{
    if (epoch < 0 || (log->nepochs && log->epochs[log->nepochs - 1].epoch >= epoch)) return 0;
    if (log->nepochs == log->epochs_cap) {
        int cap = log->epochs_cap ? log->epochs_cap * 2 : 4;
        epoch_entry_t *n = realloc(log->epochs, (size_t)cap * sizeof *n);
        if (!n) return GR_ENOMEM;
        log->epochs = n;
        log->epochs_cap = cap;
    }
    log->epochs[log->nepochs++] = (epoch_entry_t){epoch, start};
    return 1;
}

/* A missing or malformed file leaves the cache empty: the scanned batches
 * and future appends refill it. */
static void epochs_read(gr_log_t *log)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/leader-epoch-checkpoint", log->dir);
    FILE *f = fopen(path, "re");
    if (!f) return;
    int version, n;
    if (fscanf(f, "%d %d", &version, &n) != 2 || version != 0 || n < 0) goto bad;
    for (int i = 0; i < n; i++) {
        int32_t e;
        long long s;
        if (fscanf(f, "%d %lld", &e, &s) != 2 || epochs_add(log, e, s) <= 0) goto bad;
    }
    fclose(f);
    return;
bad:
    gr_warn("log %s: malformed leader-epoch-checkpoint ignored", log->dir);
    log->nepochs = 0;
    fclose(f);
}

/* --- open and recovery --- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* "<20 digits><ext>" -> base offset, or -1. */
static int64_t parse_name(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    if (n != 20 + e || strcmp(name + 20, ext) != 0) return -1;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9') return -1;
        if (v > (INT64_MAX - 9) / 10) return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

/* "<20 digits>" at name -> value, or -1. */
static int64_t parse_digits20(const char *name)
{
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9') return -1;
        if (v > (INT64_MAX - 9) / 10) return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

static bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n > s && strcmp(name + n - s, suffix) == 0;
}

/* --- finishing a cleaner swap interrupted by a crash ---
 *
 * The cleaner's commit point is the rename of <base>.log.cleaned to
 *
 *   <base>.log.<end>.swap      both 20-digit offsets
 *
 * which means: the cleaned segment in this file replaces every segment
 * whose base offset is in [base, end).  So at open a .swap file is finished
 * (those segments' files deleted, the .swap renamed to <base>.log; its
 * indexes, old or new, deleted and rebuilt by the scan), and every
 * *.cleaned file (a replacement that never reached its commit) is deleted.
 * Each step is idempotent, so a crash during this is finished next time. */
static int finish_swaps(gr_log_t *log)
{
    static const char *const exts[] = {".log", ".index", ".timeindex", ".txnindex", ".snapshot"};
    int rc = 0;
    bool changed = false;
    DIR *d = opendir(log->dir);
    if (!d) {
        gr_error("log %s: opendir: %s", log->dir, strerror(errno));
        return GR_EIO;
    }
    int64_t (*swaps)[2] = NULL;
    int nswaps = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", log->dir, name);
        if (has_suffix(name, ".cleaned")) {
            gr_info("log %s: removing unfinished cleaner output %s", log->dir, name);
            unlink(path);
            changed = true;
            continue;
        }
        if (strlen(name) != 50 || strncmp(name + 20, ".log.", 5) != 0 || strcmp(name + 45, ".swap") != 0) continue;
        int64_t base = parse_digits20(name), end = parse_digits20(name + 25);
        if (base < 0 || end < base) continue;
        if (nswaps == cap) {
            cap = cap ? cap * 2 : 4;
            int64_t (*n)[2] = realloc(swaps, (size_t)cap * sizeof *n);
            if (!n) { rc = GR_ENOMEM; goto out; }
            swaps = n;
        }
        swaps[nswaps][0] = base;
        swaps[nswaps][1] = end;
        nswaps++;
    }
    for (int i = 0; i < nswaps; i++) {
        int64_t base = swaps[i][0], end = swaps[i][1];
        gr_warn("log %s: finishing an interrupted cleaner swap of segments %lld..%lld", log->dir,
                (long long)base, (long long)end);
        rewinddir(d);
        while ((de = readdir(d))) {
            int64_t b = parse_name(de->d_name, ".log");
            if (b < base || b >= end) continue;
            for (size_t e = 0; e < sizeof exts / sizeof exts[0]; e++) {
                char path[PATH_MAX];
                snprintf(path, sizeof path, "%s/%020lld%s", log->dir, (long long)b, exts[e]);
                unlink(path);
            }
        }
        /* The index files under <base> may be the old segment's or the new
         * one's: either way the scan at open rebuilds them. */
        for (size_t e = 1; e < sizeof exts / sizeof exts[0]; e++) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%020lld%s", log->dir, (long long)base, exts[e]);
            unlink(path);
        }
        char from[PATH_MAX], to[PATH_MAX];
        snprintf(from, sizeof from, "%s/%020lld.log.%020lld.swap", log->dir, (long long)base, (long long)end);
        snprintf(to, sizeof to, "%s/%020lld.log", log->dir, (long long)base);
        if (rename(from, to) < 0) {
            gr_error("log %s: rename %s: %s", log->dir, from, strerror(errno));
            rc = GR_EIO;
            goto out;
        }
        changed = true;
    }
    if (changed && fsync_dir(log->dir) < 0) rc = GR_EIO;
out:
    free(swaps);
    closedir(d);
    return rc;
}

/* Lists segment base offsets and removes leftovers: *.deleted files from an
 * interrupted retention, *.tmp, and index files without a .log. */
static int list_segments(gr_log_t *log, int64_t **bases, int *n)
{
    int rc = 0, cap = 0;
    *bases = NULL;
    *n = 0;
    DIR *d = opendir(log->dir);
    if (!d) {
        gr_error("log %s: opendir: %s", log->dir, strerror(errno));
        return GR_EIO;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        size_t len = strlen(name);
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", log->dir, name);
        if ((len > 8 && strcmp(name + len - 8, ".deleted") == 0) || (len > 4 && strcmp(name + len - 4, ".tmp") == 0)) {
            unlink(path);
            continue;
        }
        int64_t base = parse_name(name, ".log");
        if (base < 0) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *nb = realloc(*bases, (size_t)cap * sizeof *nb);
            if (!nb) { rc = GR_ENOMEM; goto out; }
            *bases = nb;
        }
        (*bases)[(*n)++] = base;
    }
    if (*n > 1) qsort(*bases, (size_t)*n, sizeof **bases, cmp_i64);
    rewinddir(d);
    while ((de = readdir(d))) {
        int64_t base = parse_name(de->d_name, ".index");
        if (base < 0) base = parse_name(de->d_name, ".timeindex");
        if (base < 0 || (*n && bsearch(&base, *bases, (size_t)*n, sizeof **bases, cmp_i64))) continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", log->dir, de->d_name);
        gr_info("log %s: removing orphan index %s", log->dir, de->d_name);
        unlink(path);
    }
out:
    closedir(d);
    return rc;
}

static int load_segments(gr_log_t *log, int64_t recovery_point)
{
    int64_t *bases = NULL;
    int n = 0, rc;
    if ((rc = finish_swaps(log)) < 0) goto out;
    if ((rc = list_segments(log, &bases, &n)) < 0) goto out;
    int64_t min_offset = 0;
    int drop_from = n;      /* segments from here on are deleted */
    for (int i = 0; i < n; i++) {
        gr_segment_t *seg;
        bool truncated = false;
        if (bases[i] < min_offset) {
            /* Overlaps the segment before it: cannot be consistent. */
            gr_warn("log %s: segment %lld overlaps the previous one (ends at %lld)", log->dir,
                    (long long)bases[i], (long long)min_offset);
            drop_from = i;
            break;
        }
        if ((rc = gr_segment_open(log->dir, bases[i], &seg)) < 0) goto out;
        /* A segment whose successor starts at or below the recovery point
         * was fsynced whole, indexes included: only the tail after its last
         * index entry is scanned (to learn where it ends).  The others are
         * scanned from their last index entry below the recovery point. */
        bool flushed = i + 1 < n && bases[i + 1] <= recovery_point;
        rc = gr_segment_recover(seg, flushed ? INT64_MAX : recovery_point, min_offset,
                                log->cfg.index_interval_bytes, &truncated);
        if (rc == 0) rc = push_segment(log, seg);
        if (rc < 0) {
            seg->deleted = true;
            gr_segment_release(seg);
            goto out;
        }
        log->size_bytes += seg->size;
        if (seg->next_offset > min_offset) min_offset = seg->next_offset;
        if (truncated) {
            /* Later segments would leave a hole after the cut: Kafka deletes them too. */
            drop_from = i + 1;
            break;
        }
    }
    for (int j = drop_from; j < n; j++) {
        gr_segment_t *seg;
        gr_warn("log %s: deleting segment %lld that follows invalid data", log->dir, (long long)bases[j]);
        if (gr_segment_open(log->dir, bases[j], &seg) == 0) {
            gr_segment_delete_files(seg);
            gr_segment_release(seg);
        }
    }
out:
    free(bases);
    return rc;
}

static int scan_epochs(gr_log_t *log, int64_t recovery_point)
{
    /* Drop epochs whose start was truncated away, then learn epochs from the
     * batches recovery scanned (the file may be older than the data). */
    int64_t end = end_offset(log);
    bool changed = false;
    while (log->nepochs && log->epochs[log->nepochs - 1].start_offset >= end) {
        log->nepochs--;
        changed = true;
    }
    for (int i = find_segment(log, recovery_point); i < log->nsegs; i++) {
        gr_segment_t *seg = log->segs[i];
        int64_t pos;
        if (gr_segment_find(seg, recovery_point, &pos) < 0) break;
        while (pos < seg->size) {
            gr_batch_header_t h;
            if (gr_segment_read_header(seg, pos, &h) < 0) break;
            if (epochs_add(log, h.leader_epoch, h.base_offset) > 0) changed = true;
            pos += GR_BATCH_LOG_OVERHEAD + h.batch_length;
        }
    }
    return changed ? epochs_write(log) : 0;
}

int gr_log_open(const char *dir, const gr_log_config_t *cfg, int64_t recovery_point,
                int64_t log_start_offset, gr_log_t **out)
{
    int rc;
    gr_log_t *log = calloc(1, sizeof *log);
    if (!log) return GR_ENOMEM;
    atomic_init(&log->refs, 1);
    pthread_mutex_init(&log->lock, NULL);
    pthread_mutex_init(&log->flush_lock, NULL);
    log->cfg = *cfg;
    log->first_unflushed_ms = -1;
    if (recovery_point < 0) recovery_point = 0;
    if (!(log->dir = strdup(dir))) { rc = GR_ENOMEM; goto err; }
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        gr_error("log %s: mkdir: %s", dir, strerror(errno));
        rc = GR_EIO;
        goto err;
    }
    epochs_read(log);
    if ((rc = load_segments(log, recovery_point)) < 0) goto err;
    int64_t now = wall_ms();
    if (log->nsegs == 0) {
        gr_segment_t *seg;
        if ((rc = gr_segment_create(dir, log_start_offset > 0 ? log_start_offset : 0,
                                    cfg->segment_index_bytes, now, &seg)) < 0) goto err;
        if ((rc = push_segment(log, seg)) < 0) {
            gr_segment_release(seg);
            goto err;
        }
        log->dir_dirty = true;
    }
    for (int i = 0; i < log->nsegs - 1; i++)
        if ((rc = gr_segment_make_inactive(log->segs[i])) < 0) goto err;
    if ((rc = gr_segment_make_active(active(log), cfg->segment_index_bytes)) < 0) goto err;
    int64_t end = end_offset(log);
    log->log_start_offset = log_start_offset < end ? log_start_offset : end;
    if (log->log_start_offset < log->segs[0]->base_offset) log->log_start_offset = log->segs[0]->base_offset;
    /* As Kafka: the point only moves back (to the end) if data was lost. */
    log->recovery_point = recovery_point < end ? recovery_point : end;
    if ((rc = scan_epochs(log, log->recovery_point)) < 0) goto err;
    gr_info("log %s: opened, offsets %lld..%lld, %d segments, recovery point %lld", dir,
            (long long)log->log_start_offset, (long long)end, log->nsegs, (long long)log->recovery_point);
    *out = log;
    return 0;
err:
    gr_log_release(log);
    return rc;
}

gr_log_t *gr_log_keep(gr_log_t *log)
{
    atomic_fetch_add_explicit(&log->refs, 1, memory_order_relaxed);
    return log;
}

void gr_log_release(gr_log_t *log)
{
    if (!log || atomic_fetch_sub_explicit(&log->refs, 1, memory_order_acq_rel) != 1) return;
    for (int i = 0; i < log->nsegs; i++) gr_segment_release(log->segs[i]);
    free(log->segs);
    free(log->epochs);
    free(log->dir);
    pthread_mutex_destroy(&log->lock);
    pthread_mutex_destroy(&log->flush_lock);
    free(log);
}

int gr_log_destroy_files(gr_log_t *log)
{
    int rc = 0;
    pthread_mutex_lock(&log->lock);
    log->deleted = true;
    for (int i = 0; i < log->nsegs; i++)
        if (gr_segment_delete_files(log->segs[i]) < 0) rc = GR_EIO;
    /* Whatever else is in the directory (checkpoint, snapshots) goes too. */
    DIR *d = opendir(log->dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", log->dir, de->d_name);
            if (unlink(path) < 0) rc = GR_EIO;
        }
        closedir(d);
    }
    if (rmdir(log->dir) < 0 && errno != ENOENT) {
        gr_error("log %s: rmdir: %s", log->dir, strerror(errno));
        rc = GR_EIO;
    }
    pthread_mutex_unlock(&log->lock);
    return rc;
}

void gr_log_set_config(gr_log_t *log, const gr_log_config_t *cfg)
{
    pthread_mutex_lock(&log->lock);
    log->cfg = *cfg;
    pthread_mutex_unlock(&log->lock);
}

const char *gr_log_dir(const gr_log_t *log) { return log->dir; }

/* --- append --- */

static int roll(gr_log_t *log, int64_t now_ms)
{
    gr_segment_t *old = active(log), *seg;
    int rc = gr_segment_create(log->dir, old->next_offset, log->cfg.segment_index_bytes, now_ms, &seg);
    if (rc < 0) return rc;
    if ((rc = push_segment(log, seg)) < 0) {
        seg->deleted = true;
        gr_segment_delete_files(seg);
        gr_segment_release(seg);
        return rc;
    }
    gr_segment_make_inactive(old);
    log->dir_dirty = true;
    gr_debug("log %s: rolled segment %lld", log->dir, (long long)seg->base_offset);
    return 0;
}

static bool roll_due(gr_log_t *log, gr_segment_t *seg, int64_t last_offset, size_t len, int64_t now_ms)
{
    if (seg->size == 0) return false;
    return seg->size + (int64_t)len > log->cfg.segment_bytes ||
           now_ms - seg->created_ms > log->cfg.segment_ms ||
           gr_segment_needs_roll(seg, last_offset, len);
}

int gr_log_append(gr_log_t *log, uint8_t *batch, size_t len, int32_t leader_epoch,
                  int64_t log_append_time, int64_t now_ms, gr_append_info_t *info)
{
    int rc;
    if (len < GR_BATCH_HEADER_SIZE) return GR_ECORRUPT;
    int32_t delta = (int32_t)gr_be32(batch + 23);
    if (delta < 0) return GR_EINVALID_RECORD;
    pthread_mutex_lock(&log->lock);
    if (log->deleted) { rc = GR_ENOTFOUND; goto out; }
    int64_t base = end_offset(log), last = base + delta;
    gr_segment_t *seg = active(log);
    if (roll_due(log, seg, last, len, now_ms)) {
        if ((rc = roll(log, now_ms)) < 0) goto out;
        seg = active(log);
    }
    /* Stamp in place: neither field is under the CRC. */
    gr_put_be64(batch, (uint64_t)base);
    gr_put_be32(batch + 12, (uint32_t)leader_epoch);
    if (log_append_time >= 0) {
        gr_put_be16(batch + 21, (uint16_t)(gr_be16(batch + 21) | GR_BATCH_ATTR_LOG_APPEND_TIME));
        gr_put_be64(batch + 35, (uint64_t)log_append_time);
        gr_batch_update_crc(batch, len);
    }
    int64_t max_ts = (int64_t)gr_be64(batch + 35);
    if ((rc = gr_segment_append(seg, batch, len, last, max_ts, log->cfg.index_interval_bytes)) < 0) goto out;
    seg->mtime_ms = now_ms;
    log->size_bytes += (int64_t)len;
    if (log->first_unflushed_ms < 0) log->first_unflushed_ms = now_ms;
    if (leader_epoch >= 0 && epochs_add(log, leader_epoch, base) > 0) epochs_write(log);
    if (info) {
        info->base_offset = base;
        info->last_offset = last;
        info->log_append_time = log_append_time >= 0 ? log_append_time : -1;
        info->log_start_offset = log->log_start_offset;
        info->flush_due = last + 1 - log->recovery_point >= log->cfg.flush_messages ||
                          now_ms - log->first_unflushed_ms >= log->cfg.flush_ms;
    }
out:
    pthread_mutex_unlock(&log->lock);
    return rc;
}

/* --- accessors --- */

#define LOCKED_GET(type, expr) \
    do { pthread_mutex_lock(&log->lock); type v_ = (expr); pthread_mutex_unlock(&log->lock); return v_; } while (0)

int64_t gr_log_start_offset(gr_log_t *log) { LOCKED_GET(int64_t, log->log_start_offset); }
int64_t gr_log_end_offset(gr_log_t *log) { LOCKED_GET(int64_t, end_offset(log)); }
int64_t gr_log_recovery_point(gr_log_t *log) { LOCKED_GET(int64_t, log->recovery_point); }
int64_t gr_log_size_bytes(gr_log_t *log) { LOCKED_GET(int64_t, log->size_bytes); }
int gr_log_segment_count(gr_log_t *log) { LOCKED_GET(int, log->nsegs); }

/* --- read --- */

int gr_log_read(gr_log_t *log, int64_t offset, int64_t max_offset, int64_t max_bytes,
                bool min_one, gr_log_slice_t *out)
{
    int rc = 0;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&log->lock);
    int64_t end = end_offset(log);
    if (offset < log->log_start_offset || offset > end) {
        rc = GR_ERANGE;
        goto out;
    }
    if (max_offset > end) max_offset = end;
    if (offset >= max_offset) goto out;
    /* Normally the first segment tried has the batch; the loop moves on
     * when `offset` falls in a gap after a segment's last batch. */
    for (int i = find_segment(log, offset); i < log->nsegs; i++) {
        gr_segment_t *seg = log->segs[i];
        int64_t pos, stop;
        if (offset >= seg->next_offset) continue;
        if ((rc = gr_segment_find(seg, offset, &pos)) < 0) goto out;
        if (pos >= seg->size) continue;
        if ((rc = gr_segment_read_end(seg, pos, max_offset, max_bytes, min_one, &stop)) < 0) goto out;
        if (stop > pos) {
            out->file = gr_file_keep(seg->file);
            out->pos = pos;
            out->len = stop - pos;
        }
        break;
    }
out:
    pthread_mutex_unlock(&log->lock);
    return rc;
}

/* ListOffsets by timestamp answers with the exact record (Kafka's
 * LogSegment.findOffsetByTimestamp: the first record with timestamp >= ts
 * and offset >= log start), but the time index and batch headers only know
 * batches.  They find the first candidate batch; then its records are read.
 * Not a hot path, so one pread and a full decode per batch is fine. */
typedef struct ts_search {
    int64_t ts, min_offset;
    int64_t offset, timestamp;      /* the first match; offset -1 if none */
} ts_search_t;

static int ts_search_record(const gr_record_t *rec, void *arg)
{
    ts_search_t *s = arg;
    /* Keep going after a match: only a batch that decodes completely is
     * trusted, so bytes that merely start like a record cannot answer. */
    if (s->offset < 0 && rec->timestamp >= s->ts && rec->offset >= s->min_offset) {
        s->offset = rec->offset;
        s->timestamp = rec->timestamp;
    }
    return 0;
}

static int pread_all(int fd, uint8_t *buf, size_t n, int64_t pos)
{
    for (size_t done = 0; done < n;) {
        ssize_t r = pread(fd, buf + done, n - done, pos + (int64_t)done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return GR_EIO;
        done += (size_t)r;
    }
    return 0;
}

/* Scans seg's batches from pos (a batch start) for the first record with
 * timestamp >= ts and offset >= min_offset.  0, GR_ENOTFOUND or GR_E*. */
static int segment_find_record(gr_segment_t *seg, int64_t pos, int64_t ts, int64_t min_offset,
                               int64_t *offset, int64_t *timestamp)
{
    uint8_t *buf = NULL;
    size_t cap = 0;
    int rc = GR_ENOTFOUND;
    while (pos < seg->size) {
        gr_batch_header_t h;
        if ((rc = gr_segment_read_header(seg, pos, &h)) < 0) break;
        int64_t size = GR_BATCH_LOG_OVERHEAD + (int64_t)h.batch_length;
        rc = GR_ENOTFOUND;
        /* maxTimestamp bounds every record's timestamp in the batch. */
        if (h.max_timestamp < ts || h.base_offset + h.last_offset_delta < min_offset) {
            pos += size;
            continue;
        }
        if (size > seg->size - pos) {
            rc = GR_EIO;
            break;
        }
        if ((size_t)size > cap) {
            uint8_t *nb = realloc(buf, (size_t)size);
            if (!nb) {
                rc = GR_ENOMEM;
                break;
            }
            buf = nb;
            cap = (size_t)size;
        }
        if ((rc = pread_all(seg->file->fd, buf, (size_t)size, pos)) < 0) break;
        ts_search_t s = {ts, min_offset, -1, -1};
        int drc = gr_records_decode(buf, (size_t)size, ts_search_record, &s);
        if (drc == GR_ENOMEM) {
            rc = drc;
            break;
        }
        if (drc < 0) {
            /* The batch passed its CRC, so its records are what the client
             * sent but we cannot read them (malformed, or beyond the
             * decompression limit).  The batch start is the best answer:
             * a consumer starting there misses nothing.  Debug level: every
             * lookup that lands here would log it again. */
            gr_debug("log %s: records of the batch at offset %lld unreadable (%s); "
                    "timestamp lookup answers with the batch",
                    seg->path, (long long)h.base_offset, gr_strerror(drc));
            *offset = h.base_offset > min_offset ? h.base_offset : min_offset;
            *timestamp = h.max_timestamp;
            rc = 0;
            break;
        }
        if (s.offset >= 0) {
            *offset = s.offset;
            *timestamp = s.timestamp;
            rc = 0;
            break;
        }
        /* No record qualifies (all below the log start, or a maxTimestamp
         * larger than any record's): on to the next batch. */
        pos += size;
    }
    free(buf);
    return rc;
}

int gr_log_offset_for_timestamp(gr_log_t *log, int64_t ts, int64_t *offset, int64_t *timestamp)
{
    int rc = GR_ENOTFOUND;
    pthread_mutex_lock(&log->lock);
    for (int i = 0; i < log->nsegs; i++) {
        gr_segment_t *seg = log->segs[i];
        /* Kafka: the first segment whose largest timestamp reaches ts. */
        if (seg->size == 0 || seg->max_timestamp < ts || seg->next_offset <= log->log_start_offset) continue;
        /* The time index gives the first batch whose maxTimestamp >= ts;
         * no record before it qualifies. */
        int64_t boff, bts, pos;
        rc = gr_segment_find_timestamp(seg, ts, &boff, &bts);
        if (rc == GR_ENOTFOUND) continue;
        if (rc < 0) break;
        if (boff < log->log_start_offset) boff = log->log_start_offset;
        if ((rc = gr_segment_find(seg, boff, &pos)) < 0) break;
        rc = segment_find_record(seg, pos, ts, log->log_start_offset, offset, timestamp);
        if (rc != GR_ENOTFOUND) break;
    }
    pthread_mutex_unlock(&log->lock);
    return rc;
}

int gr_log_max_timestamp(gr_log_t *log, int64_t *offset, int64_t *timestamp)
{
    int rc = GR_ENOTFOUND;
    int64_t best = -1;
    pthread_mutex_lock(&log->lock);
    /* Segments know their largest batch timestamp and where it is; the
     * earliest segment wins a tie, as the earliest batch does in Kafka. */
    for (int i = 0; i < log->nsegs; i++) {
        gr_segment_t *seg = log->segs[i];
        if (seg->size == 0 || seg->max_timestamp <= best) continue;
        best = seg->max_timestamp;
        *offset = seg->offset_of_max_timestamp;
        *timestamp = seg->max_timestamp;
        rc = 0;
    }
    pthread_mutex_unlock(&log->lock);
    return rc;
}

/* --- retention --- */

int gr_log_delete_records(gr_log_t *log, int64_t offset)
{
    int rc = 0;
    pthread_mutex_lock(&log->lock);
    if (offset > end_offset(log)) {
        rc = GR_ERANGE;
        goto out;
    }
    if (offset > log->log_start_offset) log->log_start_offset = offset;
    /* A segment goes once the next one starts at or below the start offset. */
    int n = 0;
    while (n < log->nsegs - 1 && log->segs[n + 1]->base_offset <= log->log_start_offset) n++;
    if (n) drop_front(log, n);
out:
    pthread_mutex_unlock(&log->lock);
    return rc;
}

int gr_log_enforce_retention(gr_log_t *log, int64_t now_ms)
{
    int n = 0;
    pthread_mutex_lock(&log->lock);
    if (log->cfg.retention_ms >= 0)
        while (n < log->nsegs - 1 && now_ms - gr_segment_retention_ts(log->segs[n]) > log->cfg.retention_ms) n++;
    if (log->cfg.retention_bytes >= 0) {
        /* Kafka: drop the oldest while what remains still exceeds the limit. */
        int64_t diff = log->size_bytes - log->cfg.retention_bytes;
        for (int i = 0; i < n; i++) diff -= log->segs[i]->size;
        while (n < log->nsegs - 1 && diff - log->segs[n]->size >= 0) diff -= log->segs[n++]->size;
    }
    /* Segments wholly below the start offset (after DeleteRecords). */
    while (n < log->nsegs - 1 && log->segs[n + 1]->base_offset <= log->log_start_offset) n++;
    if (n) drop_front(log, n);
    pthread_mutex_unlock(&log->lock);
    return n;
}

int gr_log_roll_if_due(gr_log_t *log, int64_t now_ms)
{
    int rc = 0;
    pthread_mutex_lock(&log->lock);
    gr_segment_t *seg = active(log);
    if (seg->size > 0 && now_ms - seg->created_ms > log->cfg.segment_ms) rc = roll(log, now_ms);
    pthread_mutex_unlock(&log->lock);
    return rc;
}

/* --- flush --- */

int64_t gr_log_flush(gr_log_t *log)
{
    int64_t rc;
    gr_segment_t **todo = NULL;
    int n = 0;
    pthread_mutex_lock(&log->flush_lock);
    pthread_mutex_lock(&log->lock);
    int64_t target = end_offset(log), from = log->recovery_point;
    bool dir_dirty = log->dir_dirty;
    log->dir_dirty = false;
    if (target <= from && !dir_dirty) {
        pthread_mutex_unlock(&log->lock);
        rc = from;
        goto out;
    }
    int first = find_segment(log, from);
    todo = malloc((size_t)(log->nsegs - first) * sizeof *todo);
    if (!todo) {
        log->dir_dirty = dir_dirty;
        pthread_mutex_unlock(&log->lock);
        rc = GR_ENOMEM;
        goto out;
    }
    for (int i = first; i < log->nsegs; i++) todo[n++] = gr_segment_keep(log->segs[i]);
    pthread_mutex_unlock(&log->lock);

    rc = 0;
    for (int i = 0; i < n; i++)
        if (gr_segment_sync(todo[i]) < 0) rc = GR_EIO;
    /* New segment files need their directory entries durable too. */
    if (dir_dirty && fsync_dir(log->dir) < 0) rc = GR_EIO;

    pthread_mutex_lock(&log->lock);
    if (rc == 0) {
        if (target > log->recovery_point) log->recovery_point = target;
        if (end_offset(log) == log->recovery_point) log->first_unflushed_ms = -1;
        rc = log->recovery_point;
    } else {
        log->dir_dirty |= dir_dirty;
        gr_error("log %s: flush up to %lld failed", log->dir, (long long)target);
    }
    pthread_mutex_unlock(&log->lock);
out:
    for (int i = 0; i < n; i++) gr_segment_release(todo[i]);
    free(todo);
    pthread_mutex_unlock(&log->flush_lock);
    return rc;
}

bool gr_log_flush_due(gr_log_t *log, int64_t now_ms)
{
    pthread_mutex_lock(&log->lock);
    bool due = log->first_unflushed_ms >= 0 && end_offset(log) > log->recovery_point &&
               now_ms - log->first_unflushed_ms >= log->cfg.flush_ms;
    pthread_mutex_unlock(&log->lock);
    return due;
}

/* --- the log cleaner's view (storage/cleaner.c) --- */

int gr_log_test_swap_crash_after = -1;
bool gr_log_test_crashed;

int gr_log_cleanable(gr_log_t *log, gr_log_cleanable_t *out)
{
    int rc = 0;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&log->lock);
    if (log->deleted) {
        rc = GR_ENOTFOUND;
        goto out;
    }
    out->cfg = log->cfg;
    out->active_base = active(log)->base_offset;
    out->log_start_offset = log->log_start_offset;
    if (log->nsegs > 1) {
        out->segs = calloc((size_t)(log->nsegs - 1), sizeof *out->segs);
        if (!out->segs) {
            rc = GR_ENOMEM;
            goto out;
        }
    }
    for (int i = 0; i < log->nsegs - 1; i++) {
        gr_segment_t *seg = log->segs[i];
        out->segs[i] = (gr_log_seg_info_t){
            .seg = gr_segment_keep(seg),
            .base_offset = seg->base_offset,
            .next_offset = seg->next_offset,
            .size = seg->size,
            .max_timestamp = seg->max_timestamp,
            .mtime_ms = seg->mtime_ms,
            .index_entries = seg->oindex.entries,
            .time_index_entries = seg->tindex.entries,
        };
        out->n++;
    }
out:
    pthread_mutex_unlock(&log->lock);
    return rc;
}

void gr_log_cleanable_free(gr_log_cleanable_t *c)
{
    for (int i = 0; i < c->n; i++) gr_segment_release(c->segs[i].seg);
    free(c->segs);
    memset(c, 0, sizeof *c);
}

/* Counts the swap's file operations for the crash tests. */
static bool swap_crash_here(int *step)
{
    if (gr_log_test_swap_crash_after >= 0 && (*step)++ >= gr_log_test_swap_crash_after) {
        gr_log_test_crashed = true;
        return true;
    }
    return false;
}

static int rename_logged(gr_log_t *log, const char *from, const char *to)
{
    if (rename(from, to) == 0) return 0;
    gr_error("log %s: rename %s -> %s: %s", log->dir, from, to, strerror(errno));
    return GR_EIO;
}

int gr_log_replace_segments(gr_log_t *log, gr_segment_t *const *old, int n, gr_segment_t *cleaned)
{
    int rc = 0, step = 0;
    char from[PATH_MAX + 64], to[PATH_MAX + 64];
    if (n <= 0 || cleaned->base_offset != old[0]->base_offset) return GR_EINVAL;
    pthread_mutex_lock(&log->lock);
    int first = -1;
    for (int i = 0; i < log->nsegs - 1; i++)
        if (log->segs[i] == old[0]) first = i;
    /* Retention or DeleteRecords may have removed some meanwhile, and the
     * run must not reach the active segment. */
    if (log->deleted || first < 0 || first + n > log->nsegs - 1) {
        rc = GR_ENOTFOUND;
        goto out;
    }
    for (int k = 1; k < n; k++)
        if (log->segs[first + k] != old[k]) {
            rc = GR_ENOTFOUND;
            goto out;
        }
    int64_t end = log->segs[first + n]->base_offset;

    /* 1. Commit: from here on a restart completes the swap. */
    snprintf(from, sizeof from, "%s.log%s", cleaned->path, cleaned->suffix);
    snprintf(to, sizeof to, "%s.log.%020lld.swap", cleaned->path, (long long)end);
    if (swap_crash_here(&step)) { rc = GR_EIO; goto out; }
    if ((rc = rename_logged(log, from, to)) < 0) goto out;
    if (swap_crash_here(&step)) { rc = GR_EIO; goto out; }
    if ((rc = fsync_dir(log->dir)) < 0) {
        /* The rename may or may not be durable: undo it so that neither a
         * restart nor this process sees a half-made decision. */
        rename(to, from);
        goto out;
    }

    /* 2. The old files go (a fetch holding a gr_file_t still reads them). */
    for (int k = 0; k < n; k++) {
        if (swap_crash_here(&step)) { rc = GR_EIO; goto out; }
        if (gr_segment_delete_files(old[k]) < 0) rc = GR_EIO;
    }

    /* 3. The new indexes take their final names. */
    static const char *const idx[] = {".index", ".timeindex"};
    for (int e = 0; e < 2; e++) {
        if (swap_crash_here(&step)) { rc = GR_EIO; goto out; }
        char f[PATH_MAX + 64], t[PATH_MAX + 64];
        snprintf(f, sizeof f, "%s%s%s", cleaned->path, idx[e], cleaned->suffix);
        snprintf(t, sizeof t, "%s%s", cleaned->path, idx[e]);
        if (rename_logged(log, f, t) < 0) rc = GR_EIO;
    }

    /* 4. The data file too. */
    if (swap_crash_here(&step)) { rc = GR_EIO; goto out; }
    snprintf(from, sizeof from, "%s.log", cleaned->path);
    if (rename_logged(log, to, from) < 0) rc = GR_EIO;
    if (swap_crash_here(&step)) { rc = GR_EIO; goto out; }
    cleaned->suffix[0] = '\0';
    if (fsync_dir(log->dir) < 0) rc = GR_EIO;
    if (rc < 0) gr_error("log %s: cleaner swap at %lld left files misnamed; the next open finishes it",
                         log->dir, (long long)cleaned->base_offset);

    /* Past the commit the new set is the log, whatever the renames did: its
     * files are open, and a restart finishes the names. */
    int64_t old_bytes = 0;
    for (int k = 0; k < n; k++) {
        old_bytes += old[k]->size;
        gr_segment_release(old[k]);
    }
    log->segs[first] = gr_segment_keep(cleaned);
    memmove(log->segs + first + 1, log->segs + first + n, (size_t)(log->nsegs - first - n) * sizeof *log->segs);
    log->nsegs -= n - 1;
    log->size_bytes += cleaned->size - old_bytes;
    if (log->log_start_offset < log->segs[0]->base_offset) log->log_start_offset = log->segs[0]->base_offset;
    rc = 0;
out:
    pthread_mutex_unlock(&log->lock);
    return rc;
}
