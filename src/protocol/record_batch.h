/* Record batch (magic 2), the unit Gregor stores and serves unchanged.
 *
 *  offset  size  field
 *   0       8    baseOffset            set by the broker on append
 *   8       4    batchLength           bytes after this field
 *  12       4    partitionLeaderEpoch  set by the broker; not under the CRC
 *  16       1    magic                 2
 *  17       4    crc                   CRC-32C of bytes 21..end
 *  21       2    attributes            bits 0-2 codec, 3 LogAppendTime,
 *                                      4 transactional, 5 control
 *  23       4    lastOffsetDelta
 *  27       8    baseTimestamp
 *  35       8    maxTimestamp
 *  43       8    producerId
 *  51       2    producerEpoch
 *  53       4    baseSequence
 *  57       4    recordsCount
 *  61       ...  records (compressed as one blob when a codec is set)
 */
#ifndef GR_RECORD_BATCH_H
#define GR_RECORD_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GR_BATCH_HEADER_SIZE 61
#define GR_BATCH_LOG_OVERHEAD 12          /* baseOffset + batchLength */
#define GR_BATCH_ATTR_CODEC_MASK 0x07
#define GR_BATCH_ATTR_LOG_APPEND_TIME 0x08
#define GR_BATCH_ATTR_TRANSACTIONAL 0x10
#define GR_BATCH_ATTR_CONTROL 0x20

enum { GR_CODEC_NONE, GR_CODEC_GZIP, GR_CODEC_SNAPPY, GR_CODEC_LZ4, GR_CODEC_ZSTD };

typedef struct gr_batch_header {
    int64_t base_offset;
    int32_t batch_length;
    int32_t leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t records_count;
} gr_batch_header_t;

/* Decodes the fixed header at p (avail bytes available).  Returns the whole
 * batch size (12 + batchLength) or a negative GR_E*:
 *   GR_EPARSE   fewer than 61 bytes, or batchLength < 49
 *   GR_ECORRUPT magic != 2
 * It does not check the CRC or that the whole batch is present. */
int64_t gr_batch_parse_header(const uint8_t *p, size_t avail, gr_batch_header_t *h);

/* Full validation of one complete batch of exactly `len` bytes as a client
 * sent it: header, magic 2, length == len, CRC-32C, and record count ==
 * lastOffsetDelta + 1 > 0 (INVALID_RECORD otherwise).  0 or GR_E*. */
int gr_batch_validate(const uint8_t *p, size_t len, gr_batch_header_t *h);

/* The CRC check alone (used by recovery, which trusts nothing on disk). */
bool gr_batch_crc_ok(const uint8_t *p, size_t len);

/* Recomputes and stores the CRC (after attributes/maxTimestamp changed). */
void gr_batch_update_crc(uint8_t *p, size_t len);

#endif
