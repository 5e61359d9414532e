/* Memory-mapped sparse indexes; layouts in index.h. */
#include "storage/index.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/errors.h"
#include "protocol/prim.h"
#include "util/log.h"

static int map_file(gr_index_t *idx, size_t size)
{
    idx->map = NULL;
    idx->map_size = size;
    idx->max_entries = (int64_t)(size / (size_t)idx->entry_size);
    if (size == 0) return 0;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, idx->fd, 0);
    if (p == MAP_FAILED) {
        gr_error("index: mmap of %zu bytes failed: %s", size, strerror(errno));
        idx->map_size = 0;
        idx->max_entries = 0;
        return GR_EIO;
    }
    idx->map = p;
    return 0;
}

int gr_index_open(gr_index_t *idx, const char *path, int entry_size, int64_t base_offset)
{
    struct stat st;
    memset(idx, 0, sizeof *idx);
    idx->entry_size = entry_size;
    idx->base_offset = base_offset;
    idx->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (idx->fd < 0) {
        gr_error("index: open %s: %s", path, strerror(errno));
        return GR_EIO;
    }
    if (fstat(idx->fd, &st) < 0) goto err;
    /* A torn trailing partial entry is ignored (and cut off on the next resize). */
    if (map_file(idx, (size_t)st.st_size - (size_t)st.st_size % (size_t)entry_size) < 0) goto err;
    idx->entries = idx->max_entries;
    return 0;
err:
    gr_error("index: open %s failed: %s", path, strerror(errno));
    close(idx->fd);
    idx->fd = -1;
    return GR_EIO;
}

int gr_index_resize(gr_index_t *idx, int64_t bytes)
{
    bytes -= bytes % idx->entry_size;
    if (bytes < idx->entries * idx->entry_size) bytes = idx->entries * idx->entry_size;
    if ((size_t)bytes == idx->map_size) return 0;
    if (idx->map) munmap(idx->map, idx->map_size);
    idx->map = NULL;
    if (ftruncate(idx->fd, bytes) < 0) {
        gr_error("index: resize to %lld bytes failed: %s", (long long)bytes, strerror(errno));
        /* Remap what is there so lookups keep working. */
        struct stat st;
        if (fstat(idx->fd, &st) == 0) map_file(idx, (size_t)st.st_size - (size_t)st.st_size % (size_t)idx->entry_size);
        if (idx->entries > idx->max_entries) idx->entries = idx->max_entries;
        return GR_EIO;
    }
    return map_file(idx, (size_t)bytes);
}

void gr_index_close(gr_index_t *idx, bool trim)
{
    if (idx->fd < 0) return;
    if (trim) gr_index_resize(idx, idx->entries * idx->entry_size);
    if (idx->map) munmap(idx->map, idx->map_size);
    close(idx->fd);
    idx->fd = -1;
    idx->map = NULL;
}

void gr_index_truncate(gr_index_t *idx, int64_t n)
{
    if (n >= idx->entries) return;
    memset(idx->map + n * idx->entry_size, 0, (size_t)((idx->entries - n) * idx->entry_size));
    idx->entries = n;
}

int gr_index_sync(gr_index_t *idx)
{
    /* On Linux fdatasync also writes back pages dirtied through the shared
     * mapping, so no msync is needed (and the mapping may be replaced by a
     * concurrent roll while we sync: the fd is what stays valid). */
    if (idx->fd >= 0 && fdatasync(idx->fd) < 0) {
        gr_error("index: fdatasync failed: %s", strerror(errno));
        return GR_EIO;
    }
    return 0;
}

/* --- offset index --- */

void gr_offset_index_entry(const gr_index_t *idx, int64_t i, int64_t *offset, int64_t *pos)
{
    const uint8_t *e = idx->map + i * GR_OFFSET_INDEX_ENTRY;
    *offset = idx->base_offset + gr_be32(e);
    *pos = gr_be32(e + 4);
}

void gr_offset_index_append(gr_index_t *idx, int64_t offset, int64_t pos)
{
    if (idx->entries >= idx->max_entries) return;   /* callers roll before this */
    uint8_t *e = idx->map + idx->entries * GR_OFFSET_INDEX_ENTRY;
    gr_put_be32(e, (uint32_t)(offset - idx->base_offset));
    gr_put_be32(e + 4, (uint32_t)pos);
    idx->entries++;
}

void gr_offset_index_lookup(const gr_index_t *idx, int64_t target, int64_t *offset, int64_t *pos)
{
    int64_t lo = 0, hi = idx->entries;     /* find the first entry > target */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2, o, p;
        gr_offset_index_entry(idx, mid, &o, &p);
        if (o <= target) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) {
        *offset = idx->base_offset;
        *pos = 0;
    } else {
        gr_offset_index_entry(idx, lo - 1, offset, pos);
    }
}

int64_t gr_offset_index_lookup_position(const gr_index_t *idx, int64_t limit)
{
    int64_t lo = 0, hi = idx->entries;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2, o, p;
        gr_offset_index_entry(idx, mid, &o, &p);
        if (p <= limit) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return 0;
    int64_t o, p;
    gr_offset_index_entry(idx, lo - 1, &o, &p);
    return p;
}

int64_t gr_offset_index_valid_prefix(const gr_index_t *idx, int64_t below, int64_t file_size)
{
    int64_t prev_off = -1, prev_pos = -1, i;
    for (i = 0; i < idx->entries; i++) {
        int64_t o, p;
        gr_offset_index_entry(idx, i, &o, &p);
        if (o <= prev_off || p <= prev_pos || o >= below || p >= file_size) break;
        prev_off = o;
        prev_pos = p;
    }
    return i;
}

/* --- time index --- */

void gr_time_index_entry(const gr_index_t *idx, int64_t i, int64_t *timestamp, int64_t *offset)
{
    const uint8_t *e = idx->map + i * GR_TIME_INDEX_ENTRY;
    *timestamp = (int64_t)gr_be64(e);
    *offset = idx->base_offset + gr_be32(e + 8);
}

void gr_time_index_append(gr_index_t *idx, int64_t timestamp, int64_t offset)
{
    if (idx->entries >= idx->max_entries) return;
    uint8_t *e = idx->map + idx->entries * GR_TIME_INDEX_ENTRY;
    gr_put_be64(e, (uint64_t)timestamp);
    gr_put_be32(e + 8, (uint32_t)(offset - idx->base_offset));
    idx->entries++;
}

int64_t gr_time_index_lookup_below(const gr_index_t *idx, int64_t target)
{
    int64_t lo = 0, hi = idx->entries;     /* first entry with ts >= target */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2, t, o;
        gr_time_index_entry(idx, mid, &t, &o);
        if (t < target) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return -1;
    int64_t t, o;
    gr_time_index_entry(idx, lo - 1, &t, &o);
    return o;
}

int64_t gr_time_index_valid_prefix(const gr_index_t *idx, int64_t below)
{
    int64_t prev_ts = INT64_MIN, prev_off = -1, i;
    for (i = 0; i < idx->entries; i++) {
        int64_t t, o;
        gr_time_index_entry(idx, i, &t, &o);
        if ((i > 0 && t <= prev_ts) || o < prev_off || o >= below) break;
        prev_ts = t;
        prev_off = o;
    }
    return i;
}
