/* One partition's log: a directory of segments, each a .log file of record
 * batches with a sparse .index (offset -> position) and a .timeindex
 * (timestamp -> offset), laid out exactly as Kafka lays them out.
 *
 * Concurrency: every function may be called from any thread; a per-log mutex
 * guards the segment list and offsets.  Appends come from the network loop,
 * fsync from the flusher thread, retention from the loop's timer.  Readers
 * get a reference-counted file, so a segment can be deleted while a fetch
 * response still sends from it.
 */
#ifndef GR_LOG_H_STORAGE
#define GR_LOG_H_STORAGE

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/file.h"

typedef struct gr_log_config {
    int64_t segment_bytes;          /* segment.bytes, default 1 GiB */
    int64_t segment_ms;             /* segment.ms, default 7 days */
    int64_t retention_ms;           /* retention.ms, -1 = forever */
    int64_t retention_bytes;        /* retention.bytes, -1 = no limit */
    int64_t flush_messages;         /* flush.messages, INT64_MAX = never */
    int64_t flush_ms;               /* flush.ms, INT64_MAX = never */
    int32_t index_interval_bytes;   /* index.interval.bytes, 4096 */
    int32_t segment_index_bytes;    /* segment.index.bytes, 10 MiB */
    int64_t file_delete_delay_ms;   /* file.delete.delay.ms, 60000 */
} gr_log_config_t;

void gr_log_config_default(gr_log_config_t *cfg);

typedef struct gr_log gr_log_t;

/* Opens (creating `dir` if missing) and recovers the log: segments at or
 * after `recovery_point` are scanned batch by batch, the first invalid
 * batch (short, bad magic or length, bad CRC, offsets going backwards)
 * truncates the log there, and their indexes are rebuilt.  Segments wholly
 * below the recovery point are trusted (their indexes are used as they are,
 * or rebuilt if missing or bad).  `log_start_offset` (from the checkpoint;
 * -1 if unknown) is raised to at least the first segment's base offset.
 * The new log holds one reference. */
int gr_log_open(const char *dir, const gr_log_config_t *cfg, int64_t recovery_point,
                int64_t log_start_offset, gr_log_t **out);
gr_log_t *gr_log_keep(gr_log_t *log);
/* Drops a reference; the last one closes the files (no flush). */
void gr_log_release(gr_log_t *log);
/* Marks the log deleted and removes its directory and files; the memory
 * goes with the last reference. */
int gr_log_destroy_files(gr_log_t *log);
void gr_log_set_config(gr_log_t *log, const gr_log_config_t *cfg);
const char *gr_log_dir(const gr_log_t *log);

typedef struct gr_append_info {
    int64_t base_offset;            /* assigned to the first record */
    int64_t last_offset;
    int64_t log_append_time;        /* -1 unless LogAppendTime was stamped */
    int64_t log_start_offset;
    bool flush_due;                 /* flush.messages/flush.ms say fsync now */
} gr_append_info_t;

/* Appends one validated batch (exactly `len` bytes; the caller has run
 * gr_batch_validate).  Stamps baseOffset and partitionLeaderEpoch in place
 * and, if `log_append_time` >= 0, sets the LogAppendTime attribute and
 * maxTimestamp to it and recomputes the CRC.  Rolls a new segment first when
 * segment.bytes / segment.ms / a full index require it; adds an index entry
 * once index.interval.bytes have been written since the last.  0 or GR_E*. */
int gr_log_append(gr_log_t *log, uint8_t *batch, size_t len, int32_t leader_epoch,
                  int64_t log_append_time, int64_t now_ms, gr_append_info_t *info);

int64_t gr_log_start_offset(gr_log_t *log);
int64_t gr_log_end_offset(gr_log_t *log);         /* next offset to assign */
int64_t gr_log_recovery_point(gr_log_t *log);     /* everything below is fsynced */
int64_t gr_log_size_bytes(gr_log_t *log);
int gr_log_segment_count(gr_log_t *log);

/* A byte range of one segment file holding whole batches. */
typedef struct gr_log_slice {
    gr_file_t *file;                /* a reference for the caller; NULL if len == 0 */
    int64_t pos;
    int64_t len;
} gr_log_slice_t;

/* Finds the batch containing `offset` (index lookup, then a forward scan of
 * batch headers) and returns the range from it onwards within that segment:
 * whole batches whose last offset is < `max_offset` (the high watermark:
 * a batch the watermark splits is held back, as in Kafka),
 * at most `max_bytes` — except that the first batch is returned whole even
 * if larger when `min_one` (KIP-74).  offset == end offset (or max_offset)
 * gives len 0.  GR_ERANGE if offset < log start or > end offset. */
int gr_log_read(gr_log_t *log, int64_t offset, int64_t max_offset, int64_t max_bytes,
                bool min_one, gr_log_slice_t *out);

/* ListOffsets by timestamp: the offset and timestamp of the first record
 * whose timestamp >= ts at or after the log start offset (Kafka's answer).
 * The time index finds the first candidate batch, whose records are then
 * decoded (decompressing if needed).  GR_ENOTFOUND if no record qualifies. */
int gr_log_offset_for_timestamp(gr_log_t *log, int64_t ts, int64_t *offset, int64_t *timestamp);

/* ListOffsets MAX_TIMESTAMP (-3): the offset and timestamp of the batch
 * with the largest maxTimestamp (the earliest such batch on ties).
 * GR_ENOTFOUND if the log is empty. */
int gr_log_max_timestamp(gr_log_t *log, int64_t *offset, int64_t *timestamp);

/* DeleteRecords: raises the log start offset to `offset` (<= end offset) and
 * deletes segments that end below it.  GR_ERANGE if offset > end offset. */
int gr_log_delete_records(gr_log_t *log, int64_t offset);

/* Deletes whole segments (never the active one) older than retention.ms or
 * beyond retention.bytes, advancing the log start offset.  Returns the number
 * of segments deleted or GR_E*. */
int gr_log_enforce_retention(gr_log_t *log, int64_t now_ms);

/* Rolls the active segment if it is non-empty and older than segment.ms. */
int gr_log_roll_if_due(gr_log_t *log, int64_t now_ms);

/* fsyncs everything appended so far and advances the recovery point.
 * Returns the new recovery point (>= 0) or GR_E*.  Safe to call
 * concurrently with appends (fdatasync of the segment and index files). */
int64_t gr_log_flush(gr_log_t *log);

/* True when flush.ms has passed since the last flush with data unflushed. */
bool gr_log_flush_due(gr_log_t *log, int64_t now_ms);

/* --- for the log cleaner (storage/cleaner.c) ---
 *
 * The cleaner reads non-active segments without the log lock (their files
 * and fields no longer change), writes the cleaned replacement of a run of
 * them as "<base>.log.cleaned" (+ ".index.cleaned", ".timeindex.cleaned"),
 * and takes the lock only for gr_log_replace_segments.  See README.md,
 * "Compaction", for the crash-safe swap. */

struct gr_segment;

typedef struct gr_log_seg_info {
    struct gr_segment *seg;         /* a reference (dropped by gr_log_cleanable_free) */
    int64_t base_offset;
    int64_t next_offset;            /* last offset + 1; base_offset when empty */
    int64_t size;
    int64_t max_timestamp;          /* -1 if none */
    int64_t mtime_ms;               /* file last-modified */
    int64_t index_entries, time_index_entries;
} gr_log_seg_info_t;

typedef struct gr_log_cleanable {
    gr_log_seg_info_t *segs;        /* every non-active segment, by offset */
    int n;
    int64_t active_base;            /* the active segment's base offset */
    int64_t log_start_offset;
    gr_log_config_t cfg;
} gr_log_cleanable_t;

/* A snapshot of the non-active segments.  0 or GR_E* (GR_ENOTFOUND once
 * the log is deleted). */
int gr_log_cleanable(gr_log_t *log, gr_log_cleanable_t *out);
void gr_log_cleanable_free(gr_log_cleanable_t *c);

/* Replaces old[0..n) — consecutive non-active segments of this log — with
 * `cleaned`, a complete and fsynced segment whose files carry the suffix
 * ".cleaned" and whose base offset is old[0]'s.  Under the log lock:
 *   1. <base>.log.cleaned -> <base>.log.<end>.swap, directory fsynced: the
 *      commit point (<end> = the base offset of the segment after old[n-1])
 *   2. the old segments' files are deleted
 *   3. <base>.index.cleaned -> .index, <base>.timeindex.cleaned -> .timeindex
 *   4. the .swap -> <base>.log, directory fsynced
 * and the segment list is updated.  GR_ENOTFOUND (nothing done, `cleaned`
 * still named .cleaned) if the log was deleted or the segments changed
 * meanwhile (retention, DeleteRecords).  On success the log holds its own
 * reference to `cleaned`. */
int gr_log_replace_segments(gr_log_t *log, struct gr_segment *const *old, int n, struct gr_segment *cleaned);

/* Tests only: >= 0 makes gr_log_replace_segments stop (return GR_EIO)
 * after that many of its file operations, as if the process died there;
 * gr_log_test_crashed then says it did.  -1 (default) = off. */
extern int gr_log_test_swap_crash_after;
extern bool gr_log_test_crashed;

#endif
