/* Record batch header parsing and validation on hand-built batches. */
#include "protocol/errors.h"
#include "protocol/prim.h"
#include "protocol/record_batch.h"
#include "test.h"

/* A two-record uncompressed batch as a producer sends it. */
static size_t build(uint8_t *b)
{
    /* Record: length, attributes, timestampDelta, offsetDelta, key(-1),
     * value "hi", no headers -- zigzag varints. */
    static const uint8_t rec0[] = {0x10, 0x00, 0x00, 0x00, 0x01, 0x04, 'h', 'i', 0x00};
    static const uint8_t rec1[] = {0x10, 0x00, 0x02, 0x02, 0x01, 0x04, 'y', 'o', 0x00};
    size_t len = GR_BATCH_HEADER_SIZE + sizeof rec0 + sizeof rec1;
    memset(b, 0, GR_BATCH_HEADER_SIZE);
    gr_put_be32(b + 8, (uint32_t)(len - 12));
    gr_put_be32(b + 12, (uint32_t)-1);
    b[16] = 2;
    gr_put_be32(b + 23, 1);
    gr_put_be64(b + 27, 1700000000000ULL);
    gr_put_be64(b + 35, 1700000000001ULL);
    gr_put_be64(b + 43, (uint64_t)-1);
    gr_put_be16(b + 51, (uint16_t)-1);
    gr_put_be32(b + 53, (uint32_t)-1);
    gr_put_be32(b + 57, 2);
    memcpy(b + 61, rec0, sizeof rec0);
    memcpy(b + 61 + sizeof rec0, rec1, sizeof rec1);
    gr_batch_update_crc(b, len);
    return len;
}

GR_TEST(record_batch_good)
{
    uint8_t b[128];
    size_t len = build(b);
    gr_batch_header_t h;
    CHECK_EQ(gr_batch_parse_header(b, len, &h), (int64_t)len);
    CHECK_EQ(gr_batch_validate(b, len, &h), 0);
    CHECK_EQ(h.magic, 2);
    CHECK_EQ(h.batch_length, (int)len - 12);
    CHECK_EQ(h.leader_epoch, -1);
    CHECK_EQ(h.last_offset_delta, 1);
    CHECK_EQ(h.records_count, 2);
    CHECK_EQ(h.base_timestamp, 1700000000000LL);
    CHECK_EQ(h.max_timestamp, 1700000000001LL);
    CHECK_EQ(h.producer_id, -1);
    CHECK_EQ(h.producer_epoch, -1);
    CHECK_EQ(h.base_sequence, -1);
    CHECK(gr_batch_crc_ok(b, len));
    /* baseOffset and leader epoch are outside the CRC: stamping keeps it valid. */
    gr_put_be64(b, 42);
    gr_put_be32(b + 12, 7);
    CHECK_EQ(gr_batch_validate(b, len, &h), 0);
    CHECK_EQ(h.base_offset, 42);
    CHECK_EQ(h.leader_epoch, 7);
}

GR_TEST(record_batch_bad)
{
    uint8_t b[128];
    gr_batch_header_t h;
    size_t len = build(b);

    b[70] ^= 1;                                    /* a record byte */
    CHECK_EQ(gr_batch_validate(b, len, &h), GR_ECORRUPT);
    CHECK(!gr_batch_crc_ok(b, len));
    gr_batch_update_crc(b, len);
    CHECK_EQ(gr_batch_validate(b, len, &h), 0);

    len = build(b);
    b[16] = 1;                                     /* magic */
    CHECK_EQ(gr_batch_parse_header(b, len, &h), GR_ECORRUPT);
    CHECK_EQ(gr_batch_validate(b, len, &h), GR_ECORRUPT);

    len = build(b);
    gr_put_be32(b + 8, 48);                        /* below the header size */
    CHECK_EQ(gr_batch_parse_header(b, len, &h), GR_EPARSE);
    gr_put_be32(b + 8, (uint32_t)-5);
    CHECK_EQ(gr_batch_validate(b, len, &h), GR_EPARSE);
    gr_put_be32(b + 8, (uint32_t)(len - 12 + 1));   /* claims one byte more */
    CHECK_EQ(gr_batch_validate(b, len, &h), GR_ECORRUPT);
    gr_put_be32(b + 8, (uint32_t)(len - 12 - 1));   /* one byte less */
    CHECK_EQ(gr_batch_validate(b, len, &h), GR_ECORRUPT);

    len = build(b);
    gr_put_be32(b + 57, 3);                        /* count != lastOffsetDelta + 1 */
    gr_batch_update_crc(b, len);
    CHECK_EQ(gr_batch_validate(b, len, &h), GR_EINVALID_RECORD);
    gr_put_be32(b + 57, 0);
    gr_put_be32(b + 23, (uint32_t)-1);
    gr_batch_update_crc(b, len);
    CHECK_EQ(gr_batch_validate(b, len, &h), GR_EINVALID_RECORD);

    len = build(b);                                /* truncated */
    CHECK_EQ(gr_batch_parse_header(b, 60, &h), GR_EPARSE);
    CHECK_EQ(gr_batch_validate(b, 60, &h), GR_EPARSE);
    CHECK_EQ(gr_batch_validate(b, len - 1, &h), GR_ECORRUPT);
    CHECK_EQ(gr_batch_parse_header(b, 0, &h), GR_EPARSE);
    CHECK(!gr_batch_crc_ok(b, 10));
}
