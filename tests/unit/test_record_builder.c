/* The record batch builder: batches it builds validate and decode back to
 * what went in. */
#include "protocol/errors.h"
#include "protocol/record_batch.h"
#include "protocol/record_builder.h"
#include "protocol/records.h"
#include "test.h"

typedef struct seen {
    int n;
    int64_t offsets[8], ts[8];
    char keys[8][16], values[8][16];
    int key_null[8], value_null[8], nheaders[8];
    char hkey[16], hval[16];
} seen_t;

static int collect(const gr_record_t *rec, void *arg)
{
    seen_t *s = arg;
    int i = s->n++;
    s->offsets[i] = rec->offset;
    s->ts[i] = rec->timestamp;
    s->key_null[i] = rec->key.len < 0;
    s->value_null[i] = rec->value.len < 0;
    if (rec->key.len > 0) snprintf(s->keys[i], 16, "%.*s", (int)rec->key.len, (const char *)rec->key.ptr);
    if (rec->value.len > 0) snprintf(s->values[i], 16, "%.*s", (int)rec->value.len, (const char *)rec->value.ptr);
    s->nheaders[i] = rec->header_count;
    gr_header_iter_t it;
    gr_record_header_t h;
    for (gr_records_headers_init(rec, &it); gr_records_header_next(&it, &h);) {
        snprintf(s->hkey, 16, "%.*s", (int)h.key.len, h.key.ptr);
        snprintf(s->hval, 16, "%.*s", (int)h.value.len, (const char *)h.value.ptr);
    }
    return 0;
}

static gr_bytes_t B(const char *s) { return (gr_bytes_t){(const uint8_t *)s, (int32_t)strlen(s)}; }

GR_TEST(record_builder_roundtrip)
{
    gr_writer_t w;
    gr_writer_init(&w);
    gr_writer_put(&w, "xyz", 3);  /* the batch goes after what the writer holds */
    gr_record_builder_t rb;
    gr_record_builder_begin(&rb, &w, 100);
    gr_record_header_t h = {gr_str("hk"), B("hv")};
    CHECK_EQ(gr_record_builder_add(&rb, -1, 5000, B("k1"), B("v1"), &h, 1), 0);
    CHECK_EQ(gr_record_builder_add(&rb, -1, 4000, (gr_bytes_t){NULL, -1}, B("v2"), NULL, 0), 0);
    CHECK_EQ(gr_record_builder_add(&rb, 105, 7000, B("k3"), (gr_bytes_t){NULL, -1}, NULL, 0), 0);
    CHECK_EQ(gr_record_builder_add(&rb, 104, 7000, B("k4"), B("x"), NULL, 0), GR_EINVAL);  /* backwards */
    CHECK_EQ(gr_record_builder_finish(&rb), 0);
    const uint8_t *batch = w.buf + 3;
    size_t len = w.len - 3;
    gr_batch_header_t hd;
    CHECK_EQ(gr_batch_parse_header(batch, len, &hd), (int64_t)len);
    CHECK(gr_batch_crc_ok(batch, len));
    CHECK_EQ(hd.base_offset, 100);
    CHECK_EQ(hd.records_count, 3);
    CHECK_EQ(hd.last_offset_delta, 5);
    CHECK_EQ(hd.base_timestamp, 5000);
    CHECK_EQ(hd.max_timestamp, 7000);
    CHECK_EQ(hd.producer_id, -1);
    CHECK_EQ(hd.producer_epoch, -1);
    CHECK_EQ(hd.base_sequence, -1);
    CHECK_EQ(hd.attributes, 0);
    seen_t s = {0};
    CHECK_EQ(gr_records_decode(batch, len, collect, &s), 0);
    CHECK_EQ(s.n, 3);
    CHECK_EQ(s.offsets[0], 100);
    CHECK_EQ(s.offsets[1], 101);
    CHECK_EQ(s.offsets[2], 105);
    CHECK_EQ(s.ts[1], 4000);
    CHECK(!strcmp(s.keys[0], "k1") && !strcmp(s.values[0], "v1"));
    CHECK(s.key_null[1] && !s.value_null[1]);
    CHECK(s.value_null[2]);
    CHECK_EQ(s.nheaders[0], 1);
    CHECK(!strcmp(s.hkey, "hk") && !strcmp(s.hval, "hv"));
    gr_writer_free(&w);
}

GR_TEST(record_builder_contiguous_batch_validates)
{
    gr_writer_t w;
    gr_writer_init(&w);
    gr_record_builder_t rb;
    gr_record_builder_begin(&rb, &w, 0);
    for (int i = 0; i < 50; i++) CHECK_EQ(gr_record_builder_add(&rb, -1, 1000 + i, B("key"), B("value"), NULL, 0), 0);
    CHECK_EQ(gr_record_builder_finish(&rb), 0);
    gr_batch_header_t hd;
    CHECK_EQ(gr_batch_validate(w.buf, w.len, &hd), 0);
    CHECK_EQ(hd.records_count, 50);
    CHECK_EQ(hd.last_offset_delta, 49);
    gr_writer_free(&w);
}

GR_TEST(record_builder_empty_batch_refused)
{
    gr_writer_t w;
    gr_writer_init(&w);
    gr_record_builder_t rb;
    gr_record_builder_begin(&rb, &w, 0);
    CHECK_EQ(gr_record_builder_finish(&rb), GR_EINVAL);
    gr_writer_free(&w);
}
