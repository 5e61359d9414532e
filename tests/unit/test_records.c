/* Tests of record iteration and the batch codecs (protocol/records.h).
 *
 * Batches are built here by hand (records encoded field by field, then
 * compressed with gr_codec_compress), and the FIX_KP_* fixtures are batches
 * built by an independent encoder — kafka-python 2.0.2's
 * DefaultRecordBatchBuilder, one per codec — so a mistake made the same way
 * by our encoder and decoder cannot hide.  The fixtures hold three records:
 *   0: key "k0",  value "v0" x 20,            ts 1700000000000, no headers
 *   1: key null,  value "hello world " x 10,  ts 1700000001000,
 *      headers h1="x", h2=null
 *   2: key "k2",  value null,                 ts 1700000000500, no headers
 */
#include <stdlib.h>

#include "protocol/errors.h"
#include "protocol/prim.h"
#include "protocol/record_batch.h"
#include "protocol/records.h"
#include "test.h"
#include "util/buf.h"
#include <zstd.h>

static const uint8_t FIX_KP_NONE[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf7, 0x00, 0x00, 0x00,
    0x00, 0x02, 0x54, 0x4d, 0x0e, 0xf6, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01,
    0x8b, 0xcf, 0xe5, 0x68, 0x00, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x6b, 0xe8, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00,
    0x03, 0x60, 0x00, 0x00, 0x00, 0x04, 0x6b, 0x30, 0x50, 0x76, 0x30, 0x76, 0x30, 0x76, 0x30,
    0x76, 0x30, 0x76, 0x30, 0x76, 0x30, 0x76, 0x30, 0x76, 0x30, 0x76, 0x30, 0x76, 0x30, 0x76,
    0x30, 0x76, 0x30, 0x76, 0x30, 0x76, 0x30, 0x76, 0x30, 0x76, 0x30, 0x76, 0x30, 0x76, 0x30,
    0x76, 0x30, 0x76, 0x30, 0x00, 0x92, 0x02, 0x00, 0xd0, 0x0f, 0x02, 0x01, 0xf0, 0x01, 0x68,
    0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x20, 0x68, 0x65, 0x6c, 0x6c,
    0x6f, 0x20, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x20, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x77,
    0x6f, 0x72, 0x6c, 0x64, 0x20, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x77, 0x6f, 0x72, 0x6c,
    0x64, 0x20, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x20, 0x68,
    0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x20, 0x68, 0x65, 0x6c, 0x6c,
    0x6f, 0x20, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x20, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x77,
    0x6f, 0x72, 0x6c, 0x64, 0x20, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x77, 0x6f, 0x72, 0x6c,
    0x64, 0x20, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x20, 0x04,
    0x04, 0x68, 0x31, 0x02, 0x78, 0x04, 0x68, 0x32, 0x01, 0x12, 0x00, 0xe8, 0x07, 0x04, 0x04,
    0x6b, 0x32, 0x01, 0x00
};
static const uint8_t FIX_KP_GZIP[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7d, 0x00, 0x00, 0x00,
    0x00, 0x02, 0x6a, 0xcc, 0x25, 0x3a, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01,
    0x8b, 0xcf, 0xe5, 0x68, 0x00, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x6b, 0xe8, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00,
    0x03, 0x1f, 0x8b, 0x08, 0x00, 0x87, 0x36, 0x01, 0x6b, 0x02, 0xff, 0x4b, 0x60, 0x60, 0x60,
    0x60, 0xc9, 0x36, 0x08, 0x28, 0x33, 0x20, 0x0e, 0x32, 0x4c, 0x62, 0x62, 0xb8, 0xc0, 0xcf,
    0xc4, 0xf8, 0x81, 0x31, 0x23, 0x35, 0x27, 0x27, 0x5f, 0xa1, 0x3c, 0xbf, 0x28, 0x27, 0x45,
    0x81, 0x9e, 0x6c, 0x16, 0x96, 0x0c, 0x43, 0xa6, 0x0a, 0x96, 0x0c, 0x23, 0x46, 0x21, 0x86,
    0x17, 0xec, 0x2c, 0x2c, 0xd9, 0x46, 0x8c, 0x0c, 0x00, 0xc3, 0x41, 0x57, 0x85, 0xc6, 0x00,
    0x00, 0x00
};
static const uint8_t FIX_KP_SNAPPY[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x87, 0x00, 0x00, 0x00,
    0x00, 0x02, 0xc7, 0x27, 0x13, 0x36, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01,
    0x8b, 0xcf, 0xe5, 0x68, 0x00, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x6b, 0xe8, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00,
    0x03, 0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x01, 0x00, 0x00, 0x00, 0x42, 0xc6, 0x01, 0x24, 0x60, 0x00, 0x00, 0x00, 0x04, 0x6b,
    0x30, 0x50, 0x76, 0x30, 0x96, 0x02, 0x00, 0x54, 0x00, 0x92, 0x02, 0x00, 0xd0, 0x0f, 0x02,
    0x01, 0xf0, 0x01, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x20,
    0xfe, 0x0c, 0x00, 0xae, 0x0c, 0x00, 0x4c, 0x04, 0x04, 0x68, 0x31, 0x02, 0x78, 0x04, 0x68,
    0x32, 0x01, 0x12, 0x00, 0xe8, 0x07, 0x04, 0x04, 0x6b, 0x32, 0x01, 0x00
};
static const uint8_t FIX_KP_LZ4[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x87, 0x00, 0x00, 0x00,
    0x00, 0x02, 0xc5, 0x84, 0x21, 0x45, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01,
    0x8b, 0xcf, 0xe5, 0x68, 0x00, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x6b, 0xe8, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00,
    0x03, 0x04, 0x22, 0x4d, 0x18, 0x68, 0x40, 0xc6, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xac, 0x3f, 0x00, 0x00, 0x00, 0xaf, 0x60, 0x00, 0x00, 0x00, 0x04, 0x6b, 0x30, 0x50, 0x76,
    0x30, 0x02, 0x00, 0x13, 0xff, 0x07, 0x00, 0x92, 0x02, 0x00, 0xd0, 0x0f, 0x02, 0x01, 0xf0,
    0x01, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x20, 0x0c, 0x00,
    0x59, 0xf0, 0x05, 0x04, 0x04, 0x68, 0x31, 0x02, 0x78, 0x04, 0x68, 0x32, 0x01, 0x12, 0x00,
    0xe8, 0x07, 0x04, 0x04, 0x6b, 0x32, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00
};
static const uint8_t FIX_KP_ZSTD[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x78, 0x00, 0x00, 0x00,
    0x00, 0x02, 0xc9, 0x7f, 0xca, 0x6d, 0x00, 0x04, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01,
    0x8b, 0xcf, 0xe5, 0x68, 0x00, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x6b, 0xe8, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00,
    0x03, 0x28, 0xb5, 0x2f, 0xfd, 0x20, 0xc6, 0xf5, 0x01, 0x00, 0x44, 0x03, 0x60, 0x00, 0x00,
    0x00, 0x04, 0x6b, 0x30, 0x50, 0x76, 0x30, 0x00, 0x92, 0x02, 0x00, 0xd0, 0x0f, 0x02, 0x01,
    0xf0, 0x01, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x20, 0x04,
    0x04, 0x68, 0x31, 0x02, 0x78, 0x04, 0x68, 0x32, 0x01, 0x12, 0x00, 0xe8, 0x07, 0x04, 0x04,
    0x6b, 0x32, 0x01, 0x00, 0x02, 0x00, 0xd2, 0x4b, 0xda, 0xf6, 0x38, 0x24
};
static const uint8_t FIX_SNAPPY_RAW[] = {
    0x5f, 0x48, 0x72, 0x61, 0x77, 0x20, 0x73, 0x6e, 0x61, 0x70, 0x70, 0x79, 0x20, 0x70, 0x61,
    0x79, 0x6c, 0x6f, 0x61, 0x64, 0x20, 0xfe, 0x13, 0x00, 0x2e, 0x13, 0x00
};

/* --- building batches --- */

typedef struct rec_spec {
    int64_t ts_delta;
    int32_t off_delta;
    const char *key;                /* NULL = null */
    const uint8_t *value;           /* with value_len; value_len -1 = null */
    int32_t value_len;
    int nheaders;
    const char *hkeys[2];
    const char *hvals[2];           /* NULL = null */
} rec_spec_t;

static void put_varbytes(gr_writer_t *w, const void *p, int32_t n)
{
    gr_write_varint(w, p ? n : -1);
    if (p && n > 0) gr_writer_put(w, p, (size_t)n);
}

/* The records section: each record as laid out in records.h. */
static void encode_records(gr_writer_t *w, const rec_spec_t *r, int n)
{
    gr_writer_t body;
    gr_writer_init(&body);
    for (int i = 0; i < n; i++) {
        gr_writer_reset(&body);
        gr_write_i8(&body, 0);
        gr_write_varlong(&body, r[i].ts_delta);
        gr_write_varint(&body, r[i].off_delta);
        put_varbytes(&body, r[i].key, r[i].key ? (int32_t)strlen(r[i].key) : -1);
        put_varbytes(&body, r[i].value_len >= 0 ? r[i].value : NULL, r[i].value_len);
        gr_write_varint(&body, r[i].nheaders);
        for (int h = 0; h < r[i].nheaders; h++) {
            put_varbytes(&body, r[i].hkeys[h], (int32_t)strlen(r[i].hkeys[h]));
            put_varbytes(&body, r[i].hvals[h], r[i].hvals[h] ? (int32_t)strlen(r[i].hvals[h]) : -1);
        }
        gr_write_varint(w, (int32_t)body.len);
        gr_writer_put(w, body.buf, body.len);
    }
    gr_writer_free(&body);
}

/* Header + the given records section (compressed with `codec` first) into
 * an empty writer, with a correct batchLength and CRC. */
static void wrap_batch(gr_writer_t *out, int codec, int16_t attrs, int32_t count, int64_t base_offset,
                       int64_t base_ts, int64_t max_ts, const uint8_t *recs, size_t rlen)
{
    gr_writer_t z;
    gr_writer_init(&z);
    if (codec) {
        CHECK_EQ(gr_codec_compress(codec, 0, recs, rlen, &z), 0);
        recs = z.buf;
        rlen = z.len;
    }
    uint8_t *b = gr_writer_reserve(out, GR_BATCH_HEADER_SIZE);
    memset(b, 0, GR_BATCH_HEADER_SIZE);
    gr_put_be64(b, (uint64_t)base_offset);
    gr_put_be32(b + 8, (uint32_t)(GR_BATCH_HEADER_SIZE - 12 + rlen));
    b[16] = 2;
    gr_put_be16(b + 21, (uint16_t)(attrs | codec));
    gr_put_be32(b + 23, (uint32_t)(count - 1));
    gr_put_be64(b + 27, (uint64_t)base_ts);
    gr_put_be64(b + 35, (uint64_t)max_ts);
    gr_put_be64(b + 43, (uint64_t)-1);
    gr_put_be16(b + 51, (uint16_t)-1);
    gr_put_be32(b + 53, (uint32_t)-1);
    gr_put_be32(b + 57, (uint32_t)count);
    out->len += GR_BATCH_HEADER_SIZE;
    gr_writer_put(out, recs, rlen);
    gr_batch_update_crc(out->buf, out->len);
    gr_writer_free(&z);
}

static void build_batch(gr_writer_t *out, int codec, int16_t attrs, int64_t base_offset, int64_t base_ts,
                        int64_t max_ts, const rec_spec_t *r, int n)
{
    gr_writer_t recs;
    gr_writer_init(&recs);
    encode_records(&recs, r, n);
    wrap_batch(out, codec, attrs, n, base_offset, base_ts, max_ts, recs.buf, recs.len);
    gr_writer_free(&recs);
}

/* --- checking what the decoder reports --- */

typedef struct expect {
    const rec_spec_t *r;
    int n;
    int64_t base_offset, base_ts;
    int64_t append_time;            /* LogAppendTime batches: every timestamp; else -1 */
    int seen;
} expect_t;

static void check_bytes(gr_bytes_t got, const void *want, int32_t want_len)
{
    if (!want) {
        CHECK_EQ(got.len, -1);
        return;
    }
    CHECK_EQ(got.len, want_len);
    if (got.len == want_len && want_len > 0) CHECK_MEM(got.ptr, want, (size_t)want_len);
}

static int check_record(const gr_record_t *rec, void *arg)
{
    expect_t *e = arg;
    CHECK(e->seen < e->n);
    if (e->seen >= e->n) return GR_EINVAL;
    const rec_spec_t *s = &e->r[e->seen++];
    CHECK(rec->batch != NULL);
    CHECK_EQ(rec->offset, e->base_offset + s->off_delta);
    CHECK_EQ(rec->timestamp, e->append_time >= 0 ? e->append_time : e->base_ts + s->ts_delta);
    CHECK_EQ(rec->attributes, 0);
    check_bytes(rec->key, s->key, s->key ? (int32_t)strlen(s->key) : -1);
    check_bytes(rec->value, s->value_len >= 0 ? s->value : NULL, s->value_len);
    CHECK_EQ(rec->header_count, s->nheaders);
    gr_header_iter_t it;
    gr_record_header_t h;
    int nh = 0;
    for (gr_records_headers_init(rec, &it); gr_records_header_next(&it, &h); nh++) {
        if (nh >= s->nheaders) break;
        CHECK(gr_str_eq(h.key, s->hkeys[nh]));
        check_bytes(h.value, s->hvals[nh], s->hvals[nh] ? (int32_t)strlen(s->hvals[nh]) : -1);
    }
    CHECK_EQ(nh, s->nheaders);
    return 0;
}

static int decode_expect(const uint8_t *batch, size_t len, const rec_spec_t *r, int n, int64_t base_offset,
                         int64_t base_ts, int64_t append_time)
{
    expect_t e = {r, n, base_offset, base_ts, append_time, 0};
    int rc = gr_records_decode(batch, len, check_record, &e);
    if (rc == 0) CHECK_EQ(e.seen, n);
    return rc;
}

static int count_record(const gr_record_t *rec, void *arg)
{
    (*(int *)arg)++;
    return 0;
}

#define V(s) (const uint8_t *)(s), (int32_t)(sizeof(s) - 1)

static const rec_spec_t SMALL[] = {
    {0, 0, "key-0", V("value-0"), 0, {0}, {0}},
    {-5, 1, NULL, V("no key"), 2, {"h1", "h2"}, {"one", NULL}},
    {1234567, 2, "tomb", NULL, -1, 1, {""}, {""}},
    {7, 3, "", V(""), 0, {0}, {0}},
};
#define NSMALL ((int)(sizeof SMALL / sizeof SMALL[0]))

/* Deterministic filler: text-like runs with some noise, so every codec
 * has real work to do and multi-block framings get exercised. */
static uint8_t *filler(size_t n, unsigned seed)
{
    uint8_t *p = malloc(n ? n : 1);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (x >> 16) % 7 == 0 ? (uint8_t)(x >> 8) : (uint8_t)("abcdefgh"[(i / 13) % 8]);
    }
    return p;
}

/* --- tests --- */

GR_TEST(records_uncompressed_fields)
{
    gr_writer_t b;
    gr_writer_init(&b);
    build_batch(&b, GR_CODEC_NONE, 0, 1000, 1700000000000LL, 1700001234567LL, SMALL, NSMALL);
    gr_batch_header_t h;
    CHECK_EQ(gr_batch_validate(b.buf, b.len, &h), 0);
    CHECK_EQ(decode_expect(b.buf, b.len, SMALL, NSMALL, 1000, 1700000000000LL, -1), 0);
    /* LogAppendTime: every record carries the batch maxTimestamp. */
    gr_writer_reset(&b);
    build_batch(&b, GR_CODEC_NONE, GR_BATCH_ATTR_LOG_APPEND_TIME, 5, 100, 999, SMALL, NSMALL);
    CHECK_EQ(decode_expect(b.buf, b.len, SMALL, NSMALL, 5, 100, 999), 0);
    gr_writer_free(&b);
}

GR_TEST(records_each_codec)
{
    size_t big = 300 * 1024;
    uint8_t *v1 = filler(big, 1), *v2 = filler(100, 2);
    rec_spec_t large[] = {
        {0, 0, "big", v1, (int32_t)big, 0, {0}, {0}},
        {10, 1, "small", v2, 100, 1, {"h"}, {"v"}},
        {20, 2, NULL, v1 + 7, (int32_t)(big - 7), 0, {0}, {0}},
    };
    for (int codec = GR_CODEC_NONE; codec <= GR_CODEC_ZSTD; codec++) {
        gr_writer_t b;
        gr_writer_init(&b);
        build_batch(&b, codec, 0, 42, 5000, 6000, SMALL, NSMALL);
        if (decode_expect(b.buf, b.len, SMALL, NSMALL, 42, 5000, -1) != 0) {
            fprintf(stderr, "  codec %d: small batch\n", codec);
            gr_test_failures++;
        }
        gr_writer_reset(&b);
        build_batch(&b, codec, 0, 7, 1, 21, large, 3);
        if (decode_expect(b.buf, b.len, large, 3, 7, 1, -1) != 0) {
            fprintf(stderr, "  codec %d: large batch\n", codec);
            gr_test_failures++;
        }
        if (codec) CHECK(b.len < 2 * big);    /* it really was compressed */
        /* A limit below the records' size refuses the batch. */
        CHECK_EQ(gr_records_decode_limit(b.buf, b.len, big, count_record, &(int){0}),
                 codec ? GR_ETOOLARGE : 0);
        gr_writer_free(&b);
    }
    free(v1);
    free(v2);
}

static int stop_after_two(const gr_record_t *rec, void *arg)
{
    int *n = arg;
    return ++*n == 2 ? 7 : 0;
}

static int fail_first(const gr_record_t *rec, void *arg) { return GR_EINVAL; }

GR_TEST(records_callback_controls)
{
    gr_writer_t b;
    gr_writer_init(&b);
    build_batch(&b, GR_CODEC_LZ4, 0, 0, 0, 0, SMALL, NSMALL);
    int n = 0;
    CHECK_EQ(gr_records_decode(b.buf, b.len, stop_after_two, &n), 7);
    CHECK_EQ(n, 2);
    CHECK_EQ(gr_records_decode(b.buf, b.len, fail_first, NULL), GR_EINVAL);
    gr_writer_free(&b);
}

/* Batches from kafka-python's encoder (see the top of the file). */
GR_TEST(records_independent_encoder_fixtures)
{
    static const uint8_t v0[] = "v0v0v0v0v0v0v0v0v0v0v0v0v0v0v0v0v0v0v0v0";
    static const uint8_t v1[] = "hello world hello world hello world hello world hello world "
                                "hello world hello world hello world hello world hello world ";
    const rec_spec_t want[] = {
        {0, 0, "k0", v0, 40, 0, {0}, {0}},
        {1000, 1, NULL, v1, 120, 2, {"h1", "h2"}, {"x", NULL}},
        {500, 2, "k2", NULL, -1, 0, {0}, {0}},
    };
    struct { const uint8_t *p; size_t len; int codec; } fx[] = {
        {FIX_KP_NONE, sizeof FIX_KP_NONE, GR_CODEC_NONE},
        {FIX_KP_GZIP, sizeof FIX_KP_GZIP, GR_CODEC_GZIP},
        {FIX_KP_SNAPPY, sizeof FIX_KP_SNAPPY, GR_CODEC_SNAPPY},
        {FIX_KP_LZ4, sizeof FIX_KP_LZ4, GR_CODEC_LZ4},
        {FIX_KP_ZSTD, sizeof FIX_KP_ZSTD, GR_CODEC_ZSTD},
    };
    for (size_t i = 0; i < sizeof fx / sizeof fx[0]; i++) {
        gr_batch_header_t h;
        CHECK_EQ(gr_batch_validate(fx[i].p, fx[i].len, &h), 0);
        CHECK_EQ(h.attributes & GR_BATCH_ATTR_CODEC_MASK, fx[i].codec);
        CHECK_EQ(h.max_timestamp, 1700000001000LL);
        if (decode_expect(fx[i].p, fx[i].len, want, 3, 0, 1700000000000LL, -1) != 0) {
            fprintf(stderr, "  fixture %zu (codec %d)\n", i, fx[i].codec);
            gr_test_failures++;
        }
    }
    /* A raw snappy block without the xerial framing. */
    gr_writer_t out;
    gr_writer_init(&out);
    CHECK_EQ(gr_codec_decompress(GR_CODEC_SNAPPY, FIX_SNAPPY_RAW, sizeof FIX_SNAPPY_RAW, 1 << 20, &out), 0);
    static const char raw[] = "raw snappy payload raw snappy payload raw snappy payload "
                              "raw snappy payload raw snappy payload ";
    CHECK_EQ(out.len, sizeof raw - 1);
    if (out.len == sizeof raw - 1) CHECK_MEM(out.buf, raw, out.len);
    gr_writer_free(&out);
}

GR_TEST(records_codec_round_trip)
{
    static const size_t sizes[] = {0, 1, 17, 65536, 65537, 200000, 1 << 20};
    static const int levels[] = {0, 1, 9};
    for (int codec = GR_CODEC_GZIP; codec <= GR_CODEC_ZSTD; codec++) {
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            for (int pattern = 0; pattern < 2; pattern++) {
                for (size_t li = 0; li < sizeof levels / sizeof levels[0]; li++) {
                    size_t n = sizes[si];
                    uint8_t *in = pattern ? filler(n, (unsigned)n) : calloc(1, n ? n : 1);
                    gr_writer_t z, out;
                    gr_writer_init(&z);
                    gr_writer_init(&out);
                    gr_writer_put(&out, "pre", 3);      /* decompress appends */
                    CHECK_EQ(gr_codec_compress(codec, levels[li], in, n, &z), 0);
                    int rc = gr_codec_decompress(codec, z.buf, z.len, n, &out);
                    if (rc != 0 || out.len != n + 3 || memcmp(out.buf + 3, in, n) != 0) {
                        fprintf(stderr, "  codec %d size %zu pattern %d level %d: rc %d len %zu\n", codec, n,
                                pattern, levels[li], rc, out.len);
                        gr_test_failures++;
                    }
                    /* One byte under the output size is refused, and the
                     * output is left as it was. */
                    if (n > 0) {
                        CHECK_EQ(gr_codec_decompress(codec, z.buf, z.len, n - 1, &out), GR_ETOOLARGE);
                        CHECK_EQ(out.len, n + 3);
                    }
                    gr_writer_free(&z);
                    gr_writer_free(&out);
                    free(in);
                }
            }
        }
    }
    uint8_t x = 0;
    gr_writer_t w;
    gr_writer_init(&w);
    CHECK_EQ(gr_codec_compress(GR_CODEC_NONE, 0, &x, 1, &w), GR_ECOMPRESSION);
    CHECK_EQ(gr_codec_compress(5, 0, &x, 1, &w), GR_ECOMPRESSION);
    CHECK_EQ(gr_codec_decompress(7, &x, 1, 100, &w), GR_ECOMPRESSION);
    gr_writer_free(&w);
}

/* The framings clients expect (records.h): checked on the bytes. */
GR_TEST(records_codec_framing)
{
    size_t n = 100000;
    uint8_t *in = filler(n, 9);
    gr_writer_t z;
    gr_writer_init(&z);

    CHECK_EQ(gr_codec_compress(GR_CODEC_GZIP, 0, in, n, &z), 0);
    CHECK(z.len > 10 && z.buf[0] == 0x1f && z.buf[1] == 0x8b && z.buf[2] == 8);

    gr_writer_reset(&z);
    CHECK_EQ(gr_codec_compress(GR_CODEC_SNAPPY, 0, in, n, &z), 0);
    static const uint8_t xerial[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
    CHECK(z.len > 16 && memcmp(z.buf, xerial, 16) == 0);
    /* 32 KiB blocks, each {i32 length, raw block}, filling the stream. */
    size_t p = 16, blocks = 0;
    while (p + 4 <= z.len) {
        p += 4 + gr_be32(z.buf + p);
        blocks++;
    }
    CHECK_EQ(p, z.len);
    CHECK_EQ(blocks, (n + 32767) / 32768);

    gr_writer_reset(&z);
    CHECK_EQ(gr_codec_compress(GR_CODEC_LZ4, 0, in, n, &z), 0);
    static const uint8_t lz4magic[4] = {0x04, 0x22, 0x4d, 0x18};
    CHECK(z.len > 7 && memcmp(z.buf, lz4magic, 4) == 0);
    /* FLG: version 01, independent blocks, no checksums, no content size;
     * BD: 64 KiB blocks. */
    CHECK_EQ(z.buf[4], 0x60);
    CHECK_EQ(z.buf[5], 0x40);

    gr_writer_reset(&z);
    CHECK_EQ(gr_codec_compress(GR_CODEC_ZSTD, 0, in, n, &z), 0);
    static const uint8_t zmagic[4] = {0x28, 0xb5, 0x2f, 0xfd};
    CHECK(z.len > 4 && memcmp(z.buf, zmagic, 4) == 0);
    gr_writer_free(&z);
    free(in);
}

/* Several gzip members / lz4 frames / zstd frames / xerial blocks in a row
 * decode as their concatenation. */
GR_TEST(records_codec_concatenated)
{
    uint8_t *a = filler(5000, 3), *b = filler(70000, 4);
    for (int codec = GR_CODEC_GZIP; codec <= GR_CODEC_ZSTD; codec++) {
        gr_writer_t z, out;
        gr_writer_init(&z);
        gr_writer_init(&out);
        CHECK_EQ(gr_codec_compress(codec, 0, a, 5000, &z), 0);
        size_t first = z.len;
        CHECK_EQ(gr_codec_compress(codec, 0, b, 70000, &z), 0);
        if (codec == GR_CODEC_SNAPPY) {
            /* One xerial stream: drop the second header. */
            memmove(z.buf + first, z.buf + first + 16, z.len - first - 16);
            z.len -= 16;
        }
        /* (SIZE_MAX: no limit but the codecs' own ratio bounds.) */
        CHECK_EQ(gr_codec_decompress(codec, z.buf, z.len, SIZE_MAX, &out), 0);
        CHECK_EQ(out.len, 75000);
        if (out.len == 75000) {
            CHECK_MEM(out.buf, a, 5000);
            CHECK_MEM(out.buf + 5000, b, 70000);
        }
        gr_writer_free(&z);
        gr_writer_free(&out);
    }
    free(a);
    free(b);
}

GR_TEST(records_codec_truncated)
{
    uint8_t *in = filler(5000, 5);
    for (int codec = GR_CODEC_GZIP; codec <= GR_CODEC_ZSTD; codec++) {
        gr_writer_t z, out;
        gr_writer_init(&z);
        gr_writer_init(&out);
        gr_writer_put(&out, "xy", 2);
        CHECK_EQ(gr_codec_compress(codec, 0, in, 5000, &z), 0);
        int bad = 0;
        for (size_t cut = 0; cut < z.len; cut++) {
            int rc = gr_codec_decompress(codec, z.buf, cut, 1 << 20, &out);
            /* A xerial stream cut right after its header is a valid, empty
             * stream; every other prefix is truncated. */
            int want = codec == GR_CODEC_SNAPPY && cut == 16 ? 0 : GR_ECORRUPT;
            if (rc != want || out.len != 2) {
                if (bad++ < 3) fprintf(stderr, "  codec %d cut %zu: rc %d len %zu\n", codec, cut, rc, out.len);
            }
        }
        CHECK_EQ(bad, 0);
        gr_writer_free(&z);
        gr_writer_free(&out);
    }
    free(in);
}

GR_TEST(records_codec_garbage)
{
    /* Flipped bytes and noise: any result but a crash (ASan runs this in
     * the fuzzer too); gzip's CRC-32 catches every flip in the body. */
    uint8_t *in = filler(20000, 6);
    for (int codec = GR_CODEC_GZIP; codec <= GR_CODEC_ZSTD; codec++) {
        gr_writer_t z, out;
        gr_writer_init(&z);
        gr_writer_init(&out);
        CHECK_EQ(gr_codec_compress(codec, 0, in, 20000, &z), 0);
        for (size_t i = 0; i < z.len; i += 1 + z.len / 97) {
            z.buf[i] ^= 0x5a;
            int rc = gr_codec_decompress(codec, z.buf, z.len, 1 << 20, &out);
            CHECK(rc == 0 || rc == GR_ECORRUPT || rc == GR_ETOOLARGE);
            /* Past gzip's 10-byte header (whose mtime/flags bytes no one
             * checks) every flip hits the deflate data or the CRC-32. */
            if (codec == GR_CODEC_GZIP && i >= 10) CHECK(rc != 0);
            out.len = 0;
            z.buf[i] ^= 0x5a;
        }
        uint8_t *noise = filler(3000, (unsigned)codec + 77);
        CHECK(gr_codec_decompress(codec, noise, 3000, 1 << 20, &out) < 0);
        free(noise);
        gr_writer_free(&z);
        gr_writer_free(&out);
    }
    free(in);
}

GR_TEST(records_codec_limits)
{
    gr_writer_t out;
    gr_writer_init(&out);
    /* A raw snappy block that claims 1 GiB from 8 bytes: refused before any
     * allocation as impossible for that input. */
    static const uint8_t snappy_bomb[] = {0x80, 0x80, 0x80, 0x80, 0x04, 0x00, 0x61, 0x62};
    CHECK_EQ(gr_codec_decompress(GR_CODEC_SNAPPY, snappy_bomb, sizeof snappy_bomb, (size_t)1 << 31, &out),
             GR_ECORRUPT);
    /* The same in a xerial frame with a block length past the end. */
    static const uint8_t xerial_short[] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1,
                                           0,    0,   0,   1,   0,   0,   0,   9, 0x01, 0x00};
    CHECK_EQ(gr_codec_decompress(GR_CODEC_SNAPPY, xerial_short, sizeof xerial_short, 1 << 20, &out),
             GR_ECORRUPT);
    /* A zstd frame (one raw block, "x") asking for a 2^27-byte window
     * without a content size: the decoder would allocate 128 MiB for ten
     * bytes, more than the 64 MiB default output limit, so it is refused;
     * with a 1 MiB window it decodes. */
    uint8_t zframe[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00, 17 << 3, 0x09, 0x00, 0x00, 'x'};
    CHECK_EQ(gr_codec_decompress(GR_CODEC_ZSTD, zframe, sizeof zframe, GR_CODEC_MAX_OUT_DEFAULT, &out),
             GR_ETOOLARGE);
    CHECK_EQ(out.len, 0);
    zframe[5] = 10 << 3;
    CHECK_EQ(gr_codec_decompress(GR_CODEC_ZSTD, zframe, sizeof zframe, GR_CODEC_MAX_OUT_DEFAULT, &out), 0);
    CHECK(out.len == 1 && out.buf[0] == 'x');
    /* 16 MiB of zeros compress to a few KiB; a 1 MiB limit stops each codec
     * without producing (much) more than the limit. */
    size_t n = 16 << 20;
    uint8_t *zeros = calloc(1, n);
    for (int codec = GR_CODEC_GZIP; codec <= GR_CODEC_ZSTD; codec++) {
        gr_writer_t z;
        gr_writer_init(&z);
        CHECK_EQ(gr_codec_compress(codec, 0, zeros, n, &z), 0);
        out.len = 0;
        CHECK_EQ(gr_codec_decompress(codec, z.buf, z.len, 1 << 20, &out), GR_ETOOLARGE);
        CHECK(out.cap <= (4u << 20));
        gr_writer_free(&z);
    }
    free(zeros);
    gr_writer_free(&out);
}

/* Records sections written byte by byte (records.h layout). */
static int decode_raw_records(const void *recs, size_t rlen, int32_t count, int codec)
{
    gr_writer_t b;
    gr_writer_init(&b);
    wrap_batch(&b, codec, 0, count, 0, 0, 0, recs, rlen);
    int n = 0;
    int rc = gr_records_decode(b.buf, b.len, count_record, &n);
    gr_writer_free(&b);
    return rc;
}

GR_TEST(records_malformed)
{
    /* A minimal record: length 6, attributes 0, ts 0, offset 0, key null,
     * value null, no headers. */
    static const uint8_t ok1[] = {0x0c, 0, 0, 0, 0x01, 0x01, 0};
    CHECK_EQ(decode_raw_records(ok1, sizeof ok1, 1, 0), 0);
    CHECK_EQ(decode_raw_records(ok1, sizeof ok1, 1, GR_CODEC_ZSTD), 0);
    /* A header with an empty key and a null value is fine. */
    static const uint8_t hdr_ok[] = {0x10, 0, 0, 0, 0x01, 0x01, 0x02, 0x00, 0x01};
    CHECK_EQ(decode_raw_records(hdr_ok, sizeof hdr_ok, 1, 0), 0);

    struct { const char *what; uint8_t b[12]; size_t n; int32_t count; } bad[] = {
        {"record longer than its fields", {0x0e, 0, 0, 0, 0x01, 0x01, 0, 0}, 8, 1},
        {"record shorter than its fields", {0x0a, 0, 0, 0, 0x01, 0x01}, 6, 1},
        {"length past the end", {0x10, 0, 0, 0, 0x01, 0x01, 0}, 7, 1},
        {"zero length", {0x00}, 1, 1},
        {"negative length", {0x01, 0, 0, 0, 0x01, 0x01, 0}, 7, 1},
        {"key length -2", {0x0c, 0, 0, 0, 0x03, 0x01, 0}, 7, 1},
        {"value length -3", {0x0c, 0, 0, 0, 0x01, 0x05, 0}, 7, 1},
        {"negative header count", {0x0c, 0, 0, 0, 0x01, 0x01, 0x01}, 7, 1},
        {"null header key", {0x10, 0, 0, 0, 0x01, 0x01, 0x02, 0x01, 0x01}, 9, 1},
        {"overlong varint", {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 6, 1},
        {"fewer records than counted", {0x0c, 0, 0, 0, 0x01, 0x01, 0}, 7, 2},
        {"more records than counted", {0x0c, 0, 0, 0, 0x01, 0x01, 0, 0x0c, 0, 0, 0, 0x01}, 12, 1},
        {"negative count", {0x0c, 0, 0, 0, 0x01, 0x01, 0}, 7, -1},
        {"no records, count 1", {0}, 0, 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int codec = GR_CODEC_NONE; codec <= GR_CODEC_ZSTD; codec++) {
            int rc = decode_raw_records(bad[i].b, bad[i].n, bad[i].count, codec);
            if (rc != GR_ECORRUPT) {
                fprintf(stderr, "  %s, codec %d: rc %d\n", bad[i].what, codec, rc);
                gr_test_failures++;
            }
        }
    }

    /* Every truncation of a real batch's records (batchLength adjusted so
     * only the records are short), plain and compressed. */
    for (int codec = GR_CODEC_NONE; codec <= GR_CODEC_ZSTD; codec++) {
        gr_writer_t b;
        gr_writer_init(&b);
        build_batch(&b, codec, 0, 0, 0, 0, SMALL, NSMALL);
        int badcuts = 0;
        for (size_t len = GR_BATCH_HEADER_SIZE; len < b.len; len++) {
            uint8_t *t = malloc(len);
            memcpy(t, b.buf, len);
            gr_put_be32(t + 8, (uint32_t)(len - 12));
            int n = 0;
            if (gr_records_decode(t, len, count_record, &n) != GR_ECORRUPT) badcuts++;
            /* A length that disagrees with the buffer is corrupt too. */
            if (gr_records_decode(b.buf, len, count_record, &n) != GR_ECORRUPT) badcuts++;
            free(t);
        }
        CHECK_EQ(badcuts, 0);
        /* Codec bits 5-7 name no codec. */
        b.buf[22] = (uint8_t)((b.buf[22] & ~7) | 5);
        CHECK_EQ(gr_records_decode(b.buf, b.len, count_record, &(int){0}), GR_ECOMPRESSION);
        gr_writer_free(&b);
    }
    /* Not a batch at all. */
    static const uint8_t tiny[10];
    CHECK_EQ(gr_records_decode(tiny, sizeof tiny, count_record, &(int){0}), GR_ECORRUPT);
    CHECK_EQ(gr_records_decode(NULL, 0, count_record, &(int){0}), GR_ECORRUPT);
}
