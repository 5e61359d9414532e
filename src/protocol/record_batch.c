/* Record batch header decoding and validation.  The byte layout is in
 * record_batch.h; offsets below refer to it. */
#include "protocol/record_batch.h"

#include "protocol/errors.h"
#include "protocol/prim.h"
#include "util/crc32c.h"

/* The CRC covers attributes (offset 21) to the end of the batch. */
#define CRC_FROM 21
/* batchLength counts everything after itself, so a header-only batch is 49. */
#define MIN_BATCH_LENGTH (GR_BATCH_HEADER_SIZE - GR_BATCH_LOG_OVERHEAD)

int64_t gr_batch_parse_header(const uint8_t *p, size_t avail, gr_batch_header_t *h)
{
    if (avail < GR_BATCH_HEADER_SIZE) return GR_EPARSE;
    h->base_offset = (int64_t)gr_be64(p);
    h->batch_length = (int32_t)gr_be32(p + 8);
    h->leader_epoch = (int32_t)gr_be32(p + 12);
    h->magic = (int8_t)p[16];
    h->crc = gr_be32(p + 17);
    h->attributes = (int16_t)gr_be16(p + 21);
    h->last_offset_delta = (int32_t)gr_be32(p + 23);
    h->base_timestamp = (int64_t)gr_be64(p + 27);
    h->max_timestamp = (int64_t)gr_be64(p + 35);
    h->producer_id = (int64_t)gr_be64(p + 43);
    h->producer_epoch = (int16_t)gr_be16(p + 51);
    h->base_sequence = (int32_t)gr_be32(p + 53);
    h->records_count = (int32_t)gr_be32(p + 57);
    if (h->batch_length < MIN_BATCH_LENGTH) return GR_EPARSE;
    if (h->magic != 2) return GR_ECORRUPT;
    return (int64_t)GR_BATCH_LOG_OVERHEAD + h->batch_length;
}

bool gr_batch_crc_ok(const uint8_t *p, size_t len)
{
    if (len < GR_BATCH_HEADER_SIZE) return false;
    return gr_crc32c(0, p + CRC_FROM, len - CRC_FROM) == gr_be32(p + 17);
}

void gr_batch_update_crc(uint8_t *p, size_t len)
{
    gr_put_be32(p + 17, gr_crc32c(0, p + CRC_FROM, len - CRC_FROM));
}

int gr_batch_validate(const uint8_t *p, size_t len, gr_batch_header_t *h)
{
    int64_t size = gr_batch_parse_header(p, len, h);
    if (size < 0) return (int)size;
    /* A length that disagrees with the bytes we got is a corrupt batch
     * (Kafka: CorruptRecordException), as is a bad checksum. */
    if ((uint64_t)size != len) return GR_ECORRUPT;
    if (!gr_batch_crc_ok(p, len)) return GR_ECORRUPT;
    /* Kafka's LogValidator: lastOffsetDelta + 1 == count > 0, else INVALID_RECORD. */
    if (h->records_count <= 0 || h->last_offset_delta < 0 ||
        (int64_t)h->last_offset_delta + 1 != h->records_count)
        return GR_EINVALID_RECORD;
    return 0;
}
