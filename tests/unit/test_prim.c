#include "protocol/prim.h"
#include "test.h"

GR_TEST(prim_varint_round_trip)
{
    int64_t values[] = {0, 1, -1, 63, -64, 64, 300, -300, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
    gr_writer_t w;
    gr_writer_init(&w);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) gr_write_varlong(&w, values[i]);
    gr_reader_t r;
    gr_reader_init(&r, w.buf, w.len);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) CHECK_EQ(gr_read_varlong(&r), values[i]);
    CHECK_EQ(r.err, 0);
    CHECK_EQ(gr_reader_left(&r), 0);
    gr_writer_free(&w);
}

GR_TEST(prim_zigzag_matches_protobuf)
{
    /* zigzag(-1) = 1, zigzag(1) = 2, zigzag(-64) = 127 (one byte), 64 -> 128 (two bytes) */
    gr_writer_t w;
    gr_writer_init(&w);
    gr_write_varint(&w, -1);
    gr_write_varint(&w, 1);
    gr_write_varint(&w, -64);
    gr_write_varint(&w, 64);
    const uint8_t want[] = {0x01, 0x02, 0x7f, 0x80, 0x01};
    CHECK_EQ(w.len, sizeof want);
    CHECK_MEM(w.buf, want, sizeof want);
    gr_writer_free(&w);
}

GR_TEST(prim_overlong_uvarint_is_an_error)
{
    const uint8_t bad[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80};
    gr_reader_t r;
    gr_reader_init(&r, bad, sizeof bad);
    gr_read_uvarint(&r);
    CHECK(r.err);
}

GR_TEST(prim_compact_string_and_null)
{
    gr_writer_t w;
    gr_writer_init(&w);
    gr_write_string(&w, gr_str("abc"), true);
    gr_write_string(&w, GR_STR_NULL, true);
    gr_write_string(&w, gr_str("xy"), false);
    gr_write_string(&w, GR_STR_NULL, false);
    const uint8_t want[] = {4, 'a', 'b', 'c', 0, 0, 2, 'x', 'y', 0xff, 0xff};
    CHECK_EQ(w.len, sizeof want);
    CHECK_MEM(w.buf, want, sizeof want);
    gr_reader_t r;
    gr_reader_init(&r, w.buf, w.len);
    CHECK(gr_str_eq(gr_read_string(&r, true), "abc"));
    CHECK_EQ(gr_read_string(&r, true).len, -1);
    CHECK(gr_str_eq(gr_read_string(&r, false), "xy"));
    CHECK_EQ(gr_read_string(&r, false).len, -1);
    CHECK_EQ(r.err, 0);
    gr_writer_free(&w);
}

GR_TEST(prim_truncated_and_hostile_lengths)
{
    const uint8_t s[] = {0x00, 0x05, 'a', 'b'};     /* claims 5, has 2 */
    gr_reader_t r;
    gr_reader_init(&r, s, sizeof s);
    gr_read_string(&r, false);
    CHECK(r.err);
    const uint8_t neg[] = {0xff, 0xfe};               /* -2 is not a length */
    gr_reader_init(&r, neg, sizeof neg);
    gr_read_string(&r, false);
    CHECK(r.err);
    const uint8_t arr[] = {0x7f, 0xff, 0xff, 0xff, 0, 0};  /* 2^31-1 elements in 2 bytes */
    gr_reader_init(&r, arr, sizeof arr);
    gr_read_array_len(&r, false, 4);
    CHECK(r.err);
}

GR_TEST(prim_tagged_fields_skipped)
{
    const uint8_t tags[] = {2, 0, 3, 'a', 'b', 'c', 5, 1, 'z', 0x42};
    gr_reader_t r;
    gr_reader_init(&r, tags, sizeof tags);
    gr_skip_tags(&r);
    CHECK_EQ(r.err, 0);
    CHECK_EQ(gr_read_i8(&r), 0x42);
}
