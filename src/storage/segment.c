/* Log segments: files, append, lookups and recovery.  See segment.h. */
#include "storage/segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/errors.h"
#include "protocol/prim.h"
#include "util/log.h"

/* How much the recovery scanner reads at a time. */
#define SCAN_CHUNK (1 << 20)

static int file_path(char *buf, size_t cap, const gr_segment_t *seg, const char *ext)
{
    int n = snprintf(buf, cap, "%s%s%s", seg->path, ext, seg->suffix);
    return n < 0 || (size_t)n >= cap ? GR_EINVAL : 0;
}

static gr_segment_t *segment_new(const char *dir, int64_t base_offset)
{
    gr_segment_t *seg = calloc(1, sizeof *seg);
    if (!seg) return NULL;
    int n = snprintf(seg->path, sizeof seg->path, "%s/%020lld", dir, (long long)base_offset);
    if (n < 0 || (size_t)n + 16 >= sizeof seg->path) {
        free(seg);
        return NULL;
    }
    seg->base_offset = base_offset;
    seg->next_offset = base_offset;
    seg->max_timestamp = -1;
    seg->offset_of_max_timestamp = -1;
    seg->oindex.fd = -1;
    seg->tindex.fd = -1;
    atomic_init(&seg->refs, 1);
    return seg;
}

static int open_files(gr_segment_t *seg, bool fresh)
{
    char p[PATH_MAX + 64];
    int flags = O_RDWR | O_CREAT | O_CLOEXEC | (fresh ? O_TRUNC : 0);
    file_path(p, sizeof p, seg, ".log");
    int fd = open(p, flags, 0644);
    if (fd < 0) {
        gr_error("segment: open %s: %s", p, strerror(errno));
        return GR_EIO;
    }
    seg->file = gr_file_wrap(fd);
    if (!seg->file) {
        close(fd);
        return GR_ENOMEM;
    }
    struct stat st;
    if (fstat(fd, &st) == 0) seg->mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    for (int i = 0; i < 2; i++) {
        gr_index_t *idx = i ? &seg->tindex : &seg->oindex;
        file_path(p, sizeof p, seg, i ? ".timeindex" : ".index");
        if (fresh) unlink(p);
        int rc = gr_index_open(idx, p, i ? GR_TIME_INDEX_ENTRY : GR_OFFSET_INDEX_ENTRY, seg->base_offset);
        if (rc < 0) return rc;
    }
    return 0;
}

int gr_segment_create(const char *dir, int64_t base_offset, int32_t index_bytes, int64_t now_ms,
                      gr_segment_t **out)
{
    return gr_segment_create_suffixed(dir, base_offset, "", index_bytes, now_ms, out);
}

int gr_segment_create_suffixed(const char *dir, int64_t base_offset, const char *suffix, int32_t index_bytes,
                               int64_t now_ms, gr_segment_t **out)
{
    int rc;
    if (strlen(suffix) >= sizeof ((gr_segment_t *)0)->suffix) return GR_EINVAL;
    gr_segment_t *seg = segment_new(dir, base_offset);
    if (!seg) return GR_ENOMEM;
    strcpy(seg->suffix, suffix);
    if ((rc = open_files(seg, true)) < 0) goto err;
    if ((rc = gr_segment_make_active(seg, index_bytes)) < 0) goto err;
    seg->created_ms = now_ms;
    seg->mtime_ms = now_ms;
    *out = seg;
    return 0;
err:
    seg->deleted = true;
    gr_segment_release(seg);
    return rc;
}

int gr_segment_open(const char *dir, int64_t base_offset, gr_segment_t **out)
{
    int rc;
    gr_segment_t *seg = segment_new(dir, base_offset);
    if (!seg) return GR_ENOMEM;
    if ((rc = open_files(seg, false)) < 0) goto err;
    *out = seg;
    return 0;
err:
    seg->deleted = true;   /* do not resize index files we failed to open */
    gr_segment_release(seg);
    return rc;
}

gr_segment_t *gr_segment_keep(gr_segment_t *seg)
{
    atomic_fetch_add_explicit(&seg->refs, 1, memory_order_relaxed);
    return seg;
}

void gr_segment_release(gr_segment_t *seg)
{
    if (!seg || atomic_fetch_sub_explicit(&seg->refs, 1, memory_order_acq_rel) != 1) return;
    /* Kafka trims index files to their used size on close, so the next open
     * sees exactly the live entries. */
    gr_index_close(&seg->oindex, !seg->deleted);
    gr_index_close(&seg->tindex, !seg->deleted);
    if (seg->file) gr_file_release(seg->file);
    free(seg);
}

static int pread_full(int fd, void *buf, size_t n, int64_t pos, size_t *got)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (uint8_t *)buf + done, n - done, pos + (int64_t)done);
        if (r < 0) {
            if (errno == EINTR) continue;
            return GR_EIO;
        }
        if (r == 0) break;
        done += (size_t)r;
    }
    *got = done;
    return 0;
}

int gr_segment_read_header(gr_segment_t *seg, int64_t pos, gr_batch_header_t *h)
{
    uint8_t buf[GR_BATCH_HEADER_SIZE];
    size_t got;
    if (pread_full(seg->file->fd, buf, sizeof buf, pos, &got) < 0) {
        gr_error("segment %s.log: read at %lld: %s", seg->path, (long long)pos, strerror(errno));
        return GR_EIO;
    }
    int64_t size = gr_batch_parse_header(buf, got, h);
    /* Everything below seg->size was validated on append or by recovery,
     * so a bad header here means the file changed under us. */
    if (size < 0 || pos + size > seg->size) {
        gr_error("segment %s.log: bad batch header at %lld (line %d)", seg->path, (long long)pos, __LINE__);
        return GR_ECORRUPT;
    }
    return 0;
}

static inline int64_t batch_size(const gr_batch_header_t *h) { return GR_BATCH_LOG_OVERHEAD + (int64_t)h->batch_length; }
static inline int64_t batch_last(const gr_batch_header_t *h) { return h->base_offset + h->last_offset_delta; }

static void note_timestamp(gr_segment_t *seg, int64_t max_ts, int64_t last_offset)
{
    if (max_ts > seg->max_timestamp) {
        seg->max_timestamp = max_ts;
        seg->offset_of_max_timestamp = last_offset;
    }
}

/* Kafka's LogSegment.append index rule: the entry goes in for the batch that
 * arrives once more than index_interval bytes precede it unindexed. */
static void maybe_index(gr_segment_t *seg, int64_t pos, int64_t size, int64_t last_offset,
                        int32_t index_interval)
{
    if (seg->bytes_since_index > index_interval) {
        gr_offset_index_append(&seg->oindex, last_offset, pos);
        int64_t t = -1, o;
        if (seg->tindex.entries) gr_time_index_entry(&seg->tindex, seg->tindex.entries - 1, &t, &o);
        if (seg->max_timestamp > t && (seg->tindex.entries || seg->max_timestamp >= 0))
            gr_time_index_append(&seg->tindex, seg->max_timestamp, seg->offset_of_max_timestamp);
        seg->bytes_since_index = 0;
    }
    seg->bytes_since_index += size;
}

int gr_segment_append(gr_segment_t *seg, const uint8_t *batch, size_t len, int64_t last_offset,
                      int64_t max_timestamp, int32_t index_interval)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(seg->file->fd, batch + done, len - done, seg->size + (int64_t)done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) goto err;
        done += (size_t)n;
    }
    int64_t pos = seg->size;
    seg->size += (int64_t)len;
    seg->next_offset = last_offset + 1;
    note_timestamp(seg, max_timestamp, last_offset);
    maybe_index(seg, pos, (int64_t)len, last_offset, index_interval);
    return 0;
err:
    gr_error("segment %s.log: write of %zu bytes at %lld failed: %s", seg->path, len,
             (long long)seg->size, strerror(errno));
    /* Cut off a partial write so the file never holds half a batch. */
    if (done && ftruncate(seg->file->fd, seg->size) < 0)
        gr_error("segment %s.log: truncate after failed write: %s", seg->path, strerror(errno));
    return GR_EIO;
}

int gr_segment_find(gr_segment_t *seg, int64_t offset, int64_t *pos)
{
    int64_t o, p;
    gr_offset_index_lookup(&seg->oindex, offset, &o, &p);
    /* The entry is a batch's last offset -> its start, so scanning from p
     * reaches the batch holding `offset` within about index.interval.bytes. */
    while (p < seg->size) {
        gr_batch_header_t h;
        int rc = gr_segment_read_header(seg, p, &h);
        if (rc < 0) return rc;
        if (batch_last(&h) >= offset) break;
        p += batch_size(&h);
    }
    *pos = p < seg->size ? p : seg->size;
    return 0;
}

int gr_segment_read_end(gr_segment_t *seg, int64_t pos, int64_t max_offset, int64_t max_bytes,
                        bool min_one, int64_t *end)
{
    int rc;
    int64_t hw_end = seg->size, p;
    gr_batch_header_t h;
    /* Kafka excludes the batch holding the high watermark: consumers never
     * see an offset at or past it. */
    if (max_offset < seg->next_offset && (rc = gr_segment_find(seg, max_offset, &hw_end)) < 0) return rc;
    *end = pos;
    if (hw_end <= pos) return 0;
    int64_t limit = max_bytes > hw_end - pos ? hw_end : pos + (max_bytes > 0 ? max_bytes : 0);
    if (limit == hw_end) {
        *end = hw_end;
        return 0;
    }
    /* Find the last batch boundary <= limit: jump to the index entry at or
     * before it, then walk headers. */
    p = gr_offset_index_lookup_position(&seg->oindex, limit);
    if (p < pos) p = pos;
    for (;;) {
        if ((rc = gr_segment_read_header(seg, p, &h)) < 0) return rc;
        if (p + batch_size(&h) > limit) break;
        p += batch_size(&h);
    }
    if (p == pos && min_one) p = pos + batch_size(&h);   /* KIP-74: one batch even if too big */
    *end = p;
    return 0;
}

int gr_segment_find_timestamp(gr_segment_t *seg, int64_t ts, int64_t *offset, int64_t *timestamp)
{
    int rc;
    int64_t o = gr_time_index_lookup_below(&seg->tindex, ts), p = 0;
    /* Entry (T, o) with T < ts: nothing up to o qualifies, so start at the
     * batch holding o.  The next entry (if any) bounds the scan. */
    if (o >= 0 && (rc = gr_segment_find(seg, o, &p)) < 0) return rc;
    while (p < seg->size) {
        gr_batch_header_t h;
        if ((rc = gr_segment_read_header(seg, p, &h)) < 0) return rc;
        if (h.max_timestamp >= ts) {
            *offset = h.base_offset;
            *timestamp = h.max_timestamp;
            return 0;
        }
        p += batch_size(&h);
    }
    return GR_ENOTFOUND;
}

/* --- recovery --- */

typedef struct scan_buf {
    uint8_t *p;
    size_t cap;
    int64_t at;         /* file position of p[0] */
    size_t len;
} scan_buf_t;

/* Makes [pos, pos+n) available in sb if the file has it; returns how many of
 * those bytes are there (< n at end of file) or GR_E*. */
static int64_t scan_need(scan_buf_t *sb, int fd, int64_t pos, size_t n)
{
    if (pos >= sb->at && pos + (int64_t)n <= sb->at + (int64_t)sb->len) return (int64_t)n;
    if (n > sb->cap) {
        uint8_t *np = realloc(sb->p, n);
        if (!np) return GR_ENOMEM;
        sb->p = np;
        sb->cap = n;
    }
    size_t got;
    if (pread_full(fd, sb->p, sb->cap, pos, &got) < 0) return GR_EIO;
    sb->at = pos;
    sb->len = got;
    return (int64_t)(got < n ? got : n);
}

int gr_segment_recover(gr_segment_t *seg, int64_t trust_below, int64_t min_offset,
                       int32_t index_interval, bool *truncated)
{
    int rc = 0;
    const char *why = NULL;
    int where = 0;
    scan_buf_t sb = {0};
    struct stat st;
    *truncated = false;
    if (fstat(seg->file->fd, &st) < 0) {
        rc = GR_EIO;
        goto out;
    }
    int64_t file_size = st.st_size;

    /* Keep the index entries that describe data known to be durable. */
    gr_index_truncate(&seg->oindex, gr_offset_index_valid_prefix(&seg->oindex, trust_below, file_size));
    gr_index_truncate(&seg->tindex, gr_time_index_valid_prefix(&seg->tindex, trust_below));
    /* Room for every entry the scan can add: one per more than
     * index_interval bytes (and at least a header) of data. */
    int64_t step = index_interval > GR_BATCH_HEADER_SIZE ? index_interval : GR_BATCH_HEADER_SIZE;
    int64_t room = file_size / step + 2;
    if ((rc = gr_index_resize(&seg->oindex, (seg->oindex.entries + room) * GR_OFFSET_INDEX_ENTRY)) < 0 ||
        (rc = gr_index_resize(&seg->tindex, (seg->tindex.entries + room) * GR_TIME_INDEX_ENTRY)) < 0)
        goto out;
    int64_t pos = 0, expect = min_offset > seg->base_offset ? min_offset : seg->base_offset;
    seg->bytes_since_index = 0;
    bool skip_index = false;
    if (seg->oindex.entries) {
        int64_t o;
        gr_offset_index_entry(&seg->oindex, seg->oindex.entries - 1, &o, &pos);
        skip_index = true;      /* the batch at pos already has its entry */
    }
    if (seg->tindex.entries) {
        int64_t t, o;
        gr_time_index_entry(&seg->tindex, seg->tindex.entries - 1, &t, &o);
        seg->max_timestamp = t;
        seg->offset_of_max_timestamp = o;
    }
    seg->next_offset = seg->base_offset;

    bool first = true;
    while (pos < file_size) {
        gr_batch_header_t h;
        int64_t avail = scan_need(&sb, seg->file->fd, pos, GR_BATCH_HEADER_SIZE);
        if (avail < 0) { rc = (int)avail; goto out; }
        if (avail < GR_BATCH_HEADER_SIZE) { why = "truncated header"; where = __LINE__; break; }
        int64_t size = gr_batch_parse_header(sb.p + (pos - sb.at), (size_t)avail, &h);
        if (size < 0) { why = size == GR_ECORRUPT ? "bad magic" : "bad batch length"; where = __LINE__; break; }
        if (pos + size > file_size) { why = "truncated batch"; where = __LINE__; break; }
        if (pos + size > UINT32_MAX) { why = "segment past 4 GiB"; where = __LINE__; break; }
        if (h.base_offset < expect) { why = "offset goes backwards"; where = __LINE__; break; }
        if (h.last_offset_delta < 0) { why = "negative lastOffsetDelta"; where = __LINE__; break; }
        if (batch_last(&h) - seg->base_offset > INT32_MAX) { why = "relative offset overflow"; where = __LINE__; break; }
        avail = scan_need(&sb, seg->file->fd, pos, (size_t)size);
        if (avail < 0) { rc = (int)avail; goto out; }
        if (avail < size) { why = "short read"; where = __LINE__; break; }
        if (!gr_batch_crc_ok(sb.p + (pos - sb.at), (size_t)size)) { why = "bad CRC"; where = __LINE__; break; }
        if (first && seg->oindex.entries) {
            /* The batch at the last trusted index entry must be the one the
             * entry names, or the index lies. */
            int64_t o, p;
            gr_offset_index_entry(&seg->oindex, seg->oindex.entries - 1, &o, &p);
            if (batch_last(&h) != o) {
                gr_warn("segment %s: index entry %lld -> %lld does not match the log; rebuilding",
                        seg->path, (long long)o, (long long)p);
                gr_index_truncate(&seg->oindex, 0);
                gr_index_truncate(&seg->tindex, 0);
                seg->max_timestamp = seg->offset_of_max_timestamp = -1;
                pos = 0;
                skip_index = false;
                expect = min_offset > seg->base_offset ? min_offset : seg->base_offset;
                first = false;
                continue;
            }
        }
        if (pos == 0) seg->created_ms = h.max_timestamp;
        first = false;
        note_timestamp(seg, h.max_timestamp, batch_last(&h));
        if (skip_index) {
            seg->bytes_since_index = size;
            skip_index = false;
        } else {
            maybe_index(seg, pos, size, batch_last(&h), index_interval);
        }
        expect = batch_last(&h) + 1;
        seg->next_offset = expect;
        pos += size;
    }
    seg->size = pos;
    if (seg->created_ms <= 0) {
        /* segment.ms counts from the first batch's timestamp, as Kafka's
         * rollingBasedTimestamp does; the mtime stands in when it has none. */
        gr_batch_header_t h0;
        seg->created_ms = seg->mtime_ms;
        if (seg->size > 0 && gr_segment_read_header(seg, 0, &h0) == 0 && h0.max_timestamp >= 0)
            seg->created_ms = h0.max_timestamp;
    }
    if (why) {
        gr_warn("segment %s.log: %s at position %lld of %lld (segment.c:%d); truncating",
                seg->path, why, (long long)pos, (long long)file_size, where);
        *truncated = true;
    }
    if (pos < file_size && ftruncate(seg->file->fd, pos) < 0) {
        gr_error("segment %s.log: truncate to %lld: %s", seg->path, (long long)pos, strerror(errno));
        rc = GR_EIO;
    }
out:
    free(sb.p);
    return rc;
}

/* --- lifecycle --- */

int gr_segment_make_inactive(gr_segment_t *seg)
{
    /* Kafka's onBecomeInactiveSegment: a last time-index entry so the
     * segment's largest timestamp survives a restart. */
    int64_t t = -1, o;
    if (seg->tindex.entries) gr_time_index_entry(&seg->tindex, seg->tindex.entries - 1, &t, &o);
    if (seg->max_timestamp > t && seg->max_timestamp >= 0) {
        if (seg->tindex.entries >= seg->tindex.max_entries)
            gr_index_resize(&seg->tindex, (seg->tindex.entries + 1) * GR_TIME_INDEX_ENTRY);
        gr_time_index_append(&seg->tindex, seg->max_timestamp, seg->offset_of_max_timestamp);
    }
    int rc1 = gr_index_resize(&seg->oindex, seg->oindex.entries * GR_OFFSET_INDEX_ENTRY);
    int rc2 = gr_index_resize(&seg->tindex, seg->tindex.entries * GR_TIME_INDEX_ENTRY);
    return rc1 < 0 ? rc1 : rc2;
}

int gr_segment_make_active(gr_segment_t *seg, int32_t index_bytes)
{
    int rc = gr_index_resize(&seg->oindex, index_bytes);
    if (rc == 0) rc = gr_index_resize(&seg->tindex, index_bytes);
    return rc;
}

bool gr_segment_needs_roll(const gr_segment_t *seg, int64_t last_offset, size_t len)
{
    return gr_index_full(&seg->oindex) || gr_index_full(&seg->tindex) ||
           last_offset - seg->base_offset > INT32_MAX ||
           seg->size + (int64_t)len > (int64_t)UINT32_MAX;
}

int gr_segment_sync(gr_segment_t *seg)
{
    int rc = 0;
    if (fdatasync(seg->file->fd) < 0) {
        gr_error("segment %s.log: fdatasync: %s", seg->path, strerror(errno));
        rc = GR_EIO;
    }
    if (gr_index_sync(&seg->oindex) < 0) rc = GR_EIO;
    if (gr_index_sync(&seg->tindex) < 0) rc = GR_EIO;
    return rc;
}

int gr_segment_delete_files(gr_segment_t *seg)
{
    static const char *const exts[] = {".log", ".index", ".timeindex", ".txnindex", ".snapshot"};
    int rc = 0;
    char p[PATH_MAX + 64];
    seg->deleted = true;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        file_path(p, sizeof p, seg, exts[i]);
        if (unlink(p) < 0 && errno != ENOENT) {
            gr_error("segment: unlink %s: %s", p, strerror(errno));
            rc = GR_EIO;
        }
    }
    return rc;
}

int64_t gr_segment_retention_ts(const gr_segment_t *seg)
{
    return seg->max_timestamp >= 0 ? seg->max_timestamp : seg->mtime_ms;
}
