/* Sparse segment indexes, memory-mapped, in Kafka's byte layout.
 *
 * Offset index (.index), 8-byte entries, big-endian:
 *
 *   0  4  relative offset   (batch last offset - segment base offset)
 *   4  4  position          byte position of that batch in the .log
 *
 * Time index (.timeindex), 12-byte entries, big-endian:
 *
 *   0  8  timestamp         largest batch maxTimestamp seen so far
 *   8  4  relative offset   last offset of the batch that carried it
 *
 * Both are sorted by key, strictly increasing.  The file of the active
 * segment is preallocated to segment.index.bytes and mapped whole, so adding
 * an entry is a store into the mapping; when the segment stops being active
 * (roll, close) the file is cut back to the used size, as Kafka does, so an
 * index file's length tells how many entries it has.
 *
 * The struct is plain data guarded by the owning log's mutex.
 */
#ifndef GR_INDEX_H
#define GR_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GR_OFFSET_INDEX_ENTRY 8
#define GR_TIME_INDEX_ENTRY 12

typedef struct gr_index {
    int fd;
    uint8_t *map;           /* MAP_SHARED over the whole file; NULL if empty */
    size_t map_size;        /* == file size */
    int entry_size;
    int64_t entries;        /* entries in use */
    int64_t max_entries;    /* map_size / entry_size */
    int64_t base_offset;
} gr_index_t;

/* Opens (creating if missing) and maps the file at its current size;
 * `entries` is set to every whole entry in the file, unchecked: the caller
 * validates them (see gr_*_index_valid_prefix) and truncates. */
int gr_index_open(gr_index_t *idx, const char *path, int entry_size, int64_t base_offset);
/* Cuts the file back to the used size (when trim) and closes it. */
void gr_index_close(gr_index_t *idx, bool trim);
/* Resizes the file to `bytes` (rounded down to whole entries, never below
 * the used entries) and remaps it.  Used to preallocate and to trim. */
int gr_index_resize(gr_index_t *idx, int64_t bytes);
/* Forgets entries from `n` on, zeroing them so a later recovery cannot
 * mistake them for live ones. */
void gr_index_truncate(gr_index_t *idx, int64_t n);
/* Full when it cannot take another entry plus the closing time-index entry
 * written on roll. */
static inline bool gr_index_full(const gr_index_t *idx) { return idx->entries + 1 >= idx->max_entries; }
int gr_index_sync(gr_index_t *idx);

/* --- offset index --- */
void gr_offset_index_append(gr_index_t *idx, int64_t offset, int64_t pos);
void gr_offset_index_entry(const gr_index_t *idx, int64_t i, int64_t *offset, int64_t *pos);
/* Greatest entry with offset <= target, or (base offset, 0) if none. */
void gr_offset_index_lookup(const gr_index_t *idx, int64_t target, int64_t *offset, int64_t *pos);
/* Greatest entry with position <= limit; position 0 if none. */
int64_t gr_offset_index_lookup_position(const gr_index_t *idx, int64_t limit);
/* Length of the longest prefix that is strictly increasing in offset and
 * position, with offsets < below and positions < file_size. */
int64_t gr_offset_index_valid_prefix(const gr_index_t *idx, int64_t below, int64_t file_size);

/* --- time index --- */
void gr_time_index_append(gr_index_t *idx, int64_t timestamp, int64_t offset);
void gr_time_index_entry(const gr_index_t *idx, int64_t i, int64_t *timestamp, int64_t *offset);
/* Greatest entry with timestamp < target: its offset, or -1 if none. */
int64_t gr_time_index_lookup_below(const gr_index_t *idx, int64_t target);
/* Longest prefix strictly increasing in timestamp, non-decreasing in
 * offset, with offsets < below. */
int64_t gr_time_index_valid_prefix(const gr_index_t *idx, int64_t below);

#endif
