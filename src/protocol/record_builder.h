/* Building magic-2 record batches record by record, for the broker's own
 * writers: the group coordinator's __consumer_offsets records now, the log
 * cleaner's rewritten batches later.
 *
 *   gr_record_builder_t rb;
 *   gr_record_builder_begin(&rb, &w, base_offset);
 *   gr_record_builder_add(&rb, -1, ts, key, value, NULL, 0);   (repeat)
 *   gr_record_builder_finish(&rb);      header, counts, timestamps, CRC
 *
 * The batch goes into the caller's gr_writer_t after whatever it already
 * holds, uncompressed, with producerId -1 unless the caller sets the
 * producer fields before finishing (the cleaner keeps a batch's producer
 * state).  Offsets need not be contiguous (a compacted batch keeps its
 * records' original offsets): lastOffsetDelta is the last record's delta and
 * recordsCount the number of records.  The header layout is in
 * record_batch.h, the record layout in records.h. */
#ifndef GR_RECORD_BUILDER_H
#define GR_RECORD_BUILDER_H

#include <stdint.h>

#include "protocol/prim.h"
#include "protocol/records.h"
#include "util/buf.h"

typedef struct gr_record_builder {
    gr_writer_t *w;
    size_t start;               /* where the batch begins in w */
    int64_t base_offset;
    int64_t next_offset;        /* offset of the next record when added with -1 */
    int64_t base_timestamp;     /* the first record's timestamp */
    int64_t max_timestamp;      /* may be changed before finish (LogAppendTime) */
    int32_t last_offset_delta;
    int32_t count;
    int16_t attributes;         /* codec bits must stay 0; timestamp type and
                                 * transactional/control bits may be set */
    int32_t partition_leader_epoch;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
} gr_record_builder_t;

/* Reserves the batch header in w and starts an empty batch whose first
 * record will have `base_offset` (the broker restamps it on append). */
void gr_record_builder_begin(gr_record_builder_t *rb, gr_writer_t *w, int64_t base_offset);

/* Appends one record.  offset -1 means "the next one" (base_offset, then
 * previous + 1); otherwise it must be above the previous record's offset
 * and at most base_offset + INT32_MAX.  key/value len -1 is null.  headers
 * may be NULL when nheaders is 0.  0, GR_EINVAL (offset out of order) or
 * GR_ENOMEM. */
int gr_record_builder_add(gr_record_builder_t *rb, int64_t offset, int64_t timestamp, gr_bytes_t key,
                          gr_bytes_t value, const gr_record_header_t *headers, int nheaders);

/* The same with headers already encoded as records.h describes (what
 * gr_record_t.headers holds), so a decoded record can be copied as is. */
int gr_record_builder_add_raw(gr_record_builder_t *rb, int64_t offset, int64_t timestamp, gr_bytes_t key,
                              gr_bytes_t value, int32_t header_count, gr_bytes_t headers);

/* Writes the header (lengths, counts, timestamps, producer fields) and the
 * CRC.  GR_EINVAL for a batch with no records (not a valid batch), GR_ENOMEM
 * if the writer ran out of memory.  The batch is w->buf[rb->start ..
 * w->len). */
int gr_record_builder_finish(gr_record_builder_t *rb);

#endif
