/* The log cleaner: compaction of logs whose cleanup.policy includes
 * "compact" (Kafka's LogCleaner), on a thread of its own.
 *
 * A pass over one log keeps, for every key, only the record with the
 * largest offset; offsets, order, batch baseOffset and lastOffsetDelta never
 * change (gaps appear).  It never touches the active segment.  Tombstones
 * (null values) go once they have been in the cleaned part of the log for
 * delete.retention.ms, by a later pass, or by a tombstone-only pass when no
 * new data makes the log cleanable.  The cleaned copy of a run of segments is written
 * beside them and swapped in under the log lock (see
 * gr_log_replace_segments), so producers and fetches go on meanwhile, and a
 * crash leaves either the old or the new segments.  The first offset not
 * yet cleaned of each log is kept in "<log.dir>/cleaner-offset-checkpoint"
 * (Kafka's offset checkpoint format).
 *
 * Thread safety: gr_cleaner_* may be called from any thread;
 * gr_cleaner_clean_log works on one log and must not run twice at once
 * for the same log.
 */
#ifndef GR_CLEANER_H
#define GR_CLEANER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/log.h"

/* Per-log compaction settings (topic configs). */
typedef struct gr_cleaner_log_config {
    int64_t delete_retention_ms;        /* delete.retention.ms (86400000) */
    double min_cleanable_dirty_ratio;   /* min.cleanable.dirty.ratio (0.5) */
    int64_t min_compaction_lag_ms;      /* min.compaction.lag.ms (0) */
    int64_t max_compaction_lag_ms;      /* max.compaction.lag.ms (INT64_MAX) */
} gr_cleaner_log_config_t;

void gr_cleaner_log_config_default(gr_cleaner_log_config_t *cc);

/* Broker-wide settings (log.cleaner.*). */
typedef struct gr_cleaner_config {
    int64_t backoff_ms;                 /* log.cleaner.backoff.ms (15000) */
    double io_max_bytes_per_second;     /* log.cleaner.io.max.bytes.per.second;
                                         * <= 0 or huge = unthrottled */
    int64_t dedupe_buffer_size;         /* log.cleaner.dedupe.buffer.size (128 MiB):
                                         * soft bound on the key -> offset map */
} gr_cleaner_config_t;

void gr_cleaner_config_default(gr_cleaner_config_t *cfg);

typedef struct gr_cleaner_stats {
    int64_t first_dirty, end;           /* the dirty section [first_dirty, end) */
    int64_t dirty_bytes, total_bytes;   /* dirty / cleanable range, bytes */
    int64_t bytes_read, bytes_written;
    int64_t records_read, records_kept;
    int64_t tombstones_removed;
    int segments_in, segments_out;
    bool tombstones_only;               /* the pass only removed expired
                                         * tombstones (no dirty section) */
} gr_cleaner_stats_t;

/* *tombstones_due (see gr_cleaner_clean_log): no tombstone is kept in the
 * clean section; or not known yet (the first pass that may looks). */
#define GR_CLEANER_NO_TOMBSTONES INT64_MAX
#define GR_CLEANER_TOMBSTONES_UNKNOWN INT64_MIN

/* One cleaning pass over `log` at time now_ms.  *checkpoint is the first
 * dirty offset from the last pass (-1: none, start at the log start); on a
 * pass it becomes the end of the dirty section.
 *
 * *tombstones_due (may be NULL: not tracked) is the log's other piece of
 * state: the time after which a tombstone kept in the clean section can be
 * removed (the earliest over them of their segment's time +
 * delete.retention.ms), GR_CLEANER_NO_TOMBSTONES, or
 * GR_CLEANER_TOMBSTONES_UNKNOWN (start with it).  Every pass that runs sets
 * it.  When the dirty section does not qualify but now_ms is past it, a
 * tombstone-only pass runs instead: it reads the clean section and rewrites
 * only the segments that hold expired tombstones (stats->tombstones_only;
 * *checkpoint unchanged).
 *
 * Returns 1 when a pass ran, 0 when the log was not cleanable (nothing
 * dirty, below the dirty ratio, or within min.compaction.lag.ms, and no
 * tombstone due), or GR_E*.  `stop` (may be NULL) aborts the pass when it
 * becomes true (GR_ENOTFOUND, nothing changed). */
int gr_cleaner_clean_log(gr_log_t *log, const gr_cleaner_log_config_t *cc, const gr_cleaner_config_t *cfg,
                         int64_t now_ms, int64_t *checkpoint, int64_t *tombstones_due, const volatile bool *stop,
                         gr_cleaner_stats_t *stats);

typedef struct gr_cleaner gr_cleaner_t;

/* Starts the cleaner thread; checkpoints live in log_dir.  NULL on
 * failure (logged). */
gr_cleaner_t *gr_cleaner_start(const char *log_dir, const gr_cleaner_config_t *cfg);
/* Aborts a pass in progress (nothing changes on disk beyond a finished
 * swap), writes the checkpoint file and joins the thread. */
void gr_cleaner_stop(gr_cleaner_t *c);

/* Starts (or updates the settings of) compaction of `log`, the partition
 * topic-partition.  The cleaner keeps its own reference. */
int gr_cleaner_add(gr_cleaner_t *c, const char *topic, int32_t partition, gr_log_t *log,
                   const gr_cleaner_log_config_t *cc);
/* Stops compacting `log` (policy changed, or the topic is being deleted).
 * After it returns the cleaner creates no new file in the log's directory;
 * a pass in progress is abandoned. */
void gr_cleaner_remove(gr_cleaner_t *c, gr_log_t *log);
/* Makes the thread check its logs now instead of after the backoff. */
void gr_cleaner_wakeup(gr_cleaner_t *c);
/* Passes completed since start (for tests and logs). */
int64_t gr_cleaner_passes(gr_cleaner_t *c);

#endif
