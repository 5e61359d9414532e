/* One log segment: NNNNNNNNNNNNNNNNNNNN.log (record batches back to back,
 * exactly as produced, see protocol/record_batch.h) with its .index and
 * .timeindex (storage/index.h), the 20-digit name being the base offset.
 *
 * Segments are reference counted: the log holds one, the flusher takes one
 * while it fsyncs outside the log's lock.  Everything else in the struct is
 * guarded by the owning log's mutex.
 */
#ifndef GR_SEGMENT_H
#define GR_SEGMENT_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "protocol/record_batch.h"
#include "storage/index.h"
#include "util/file.h"

typedef struct gr_segment {
    int64_t base_offset;
    int64_t next_offset;            /* last offset + 1; base_offset when empty */
    int64_t size;                   /* bytes of whole, valid batches in the .log */
    gr_file_t *file;                /* the .log; readers take references */
    gr_index_t oindex;              /* .index */
    gr_index_t tindex;              /* .timeindex */
    int64_t bytes_since_index;      /* appended since the last index entry */
    int64_t max_timestamp;          /* largest batch maxTimestamp, -1 if none */
    int64_t offset_of_max_timestamp;
    int64_t created_ms;             /* for segment.ms */
    int64_t mtime_ms;               /* for retention.ms when no timestamps */
    bool deleted;                   /* files unlinked; do not trim on close */
    atomic_int refs;
    char path[PATH_MAX];            /* "<dir>/<base>" without extension */
    char suffix[48];                /* after the extension: "" for a live
                                     * segment, ".cleaned" while the log
                                     * cleaner writes its replacement */
} gr_segment_t;

/* Creates fresh, empty files (replacing leftovers) with indexes
 * preallocated to index_bytes. */
int gr_segment_create(const char *dir, int64_t base_offset, int32_t index_bytes, int64_t now_ms,
                      gr_segment_t **out);
/* The same with files named <base><ext><suffix> (the cleaner's
 * "<base>.log.cleaned" etc.), which recovery at log open deletes. */
int gr_segment_create_suffixed(const char *dir, int64_t base_offset, const char *suffix, int32_t index_bytes,
                               int64_t now_ms, gr_segment_t **out);
/* Opens existing files without reading them; call gr_segment_recover next. */
int gr_segment_open(const char *dir, int64_t base_offset, gr_segment_t **out);
gr_segment_t *gr_segment_keep(gr_segment_t *seg);
void gr_segment_release(gr_segment_t *seg);

/* Makes the segment consistent with its .log, trusting the indexes only
 * for batches with offsets below `trust_below` (INT64_MAX: trust them all):
 * keeps the valid index prefix, then scans batches from the last trusted
 * index entry to the end of the file, validating each (length, magic, CRC,
 * offsets increasing from `min_offset`), re-adding index entries, and cuts
 * the file at the first invalid byte.  *truncated says whether it did.
 * Offsets of batches must be >= min_offset (the previous segment's end). */
int gr_segment_recover(gr_segment_t *seg, int64_t trust_below, int64_t min_offset,
                       int32_t index_interval, bool *truncated);

/* Appends one batch whose offsets are already stamped: one pwrite at the
 * end of the file, then (Kafka's LogSegment.append) an index entry if more
 * than index_interval bytes went in since the last one. */
int gr_segment_append(gr_segment_t *seg, const uint8_t *batch, size_t len, int64_t last_offset,
                      int64_t max_timestamp, int32_t index_interval);

/* Position of the first batch whose last offset is >= offset (seg->size if
 * none), by index lookup and a short header scan.  0 or GR_E*. */
int gr_segment_find(gr_segment_t *seg, int64_t offset, int64_t *pos);
/* End of the byte range to serve from `pos` (a batch start): whole batches
 * whose last offset < max_offset, at most max_bytes of them, or the first
 * one alone if larger and min_one.  0 or GR_E*. */
int gr_segment_read_end(gr_segment_t *seg, int64_t pos, int64_t max_offset, int64_t max_bytes,
                        bool min_one, int64_t *end);
/* The first batch with maxTimestamp >= ts: its base offset and maxTimestamp.
 * GR_ENOTFOUND if none in this segment. */
int gr_segment_find_timestamp(gr_segment_t *seg, int64_t ts, int64_t *offset, int64_t *timestamp);
/* Reads the 61-byte header of the batch at pos. */
int gr_segment_read_header(gr_segment_t *seg, int64_t pos, gr_batch_header_t *h);

/* Roll: writes the closing time-index entry and trims both indexes. */
int gr_segment_make_inactive(gr_segment_t *seg);
/* Preallocates the indexes so appends can store into them. */
int gr_segment_make_active(gr_segment_t *seg, int32_t index_bytes);
/* Full indexes or a relative offset/position past u32 force a roll. */
bool gr_segment_needs_roll(const gr_segment_t *seg, int64_t last_offset, size_t len);
/* fdatasync of the .log and both indexes. */
int gr_segment_sync(gr_segment_t *seg);
/* Unlinks the files <base><ext><suffix> (readers holding the gr_file_t
 * keep reading). */
int gr_segment_delete_files(gr_segment_t *seg);
/* Newest timestamp for retention.ms: max_timestamp, or the file mtime. */
int64_t gr_segment_retention_ts(const gr_segment_t *seg);

#endif
