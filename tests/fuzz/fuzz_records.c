/* libFuzzer: record iteration and decompression (protocol/records.h) on
 * arbitrary bytes.  Nothing may read outside the input or crash; errors
 * must be the documented ones; a batch that decodes reports exactly
 * recordsCount records.
 *
 * Input: byte 0 picks the mode and attribute bits, bytes 1-2 the record
 * count, the rest is the records section.
 *   mode 0  the section goes in as is, under codec bits 0-2 of byte 0
 *           (1-4: fuzzed compressed data; 5-7: unknown codecs)
 *   mode 1  the section is first compressed with that codec, so the record
 *           parser sees fuzzed plaintext through every decompressor
 *   mode 2  the whole input after byte 0 is taken as a batch, header and all
 * A compressed section that decompresses is also recompressed and must
 * decompress to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "protocol/errors.h"
#include "protocol/prim.h"
#include "protocol/record_batch.h"
#include "protocol/records.h"

/* Small, so decompression bombs stay fast. */
#define MAX_OUT ((size_t)1 << 20)

typedef struct seen {
    int32_t n;
    int64_t base_offset;
} seen_t;

static int on_record(const gr_record_t *rec, void *arg)
{
    seen_t *s = arg;
    s->n++;
    /* Touch every byte handed out, so ASan checks the views. */
    volatile uint8_t sink = 0;
    for (int32_t i = 0; i < rec->key.len; i++) sink ^= rec->key.ptr[i];
    for (int32_t i = 0; i < rec->value.len; i++) sink ^= rec->value.ptr[i];
    gr_header_iter_t it;
    gr_record_header_t h;
    int32_t nh = 0;
    for (gr_records_headers_init(rec, &it); gr_records_header_next(&it, &h); nh++) {
        for (int32_t i = 0; i < h.key.len; i++) sink ^= (uint8_t)h.key.ptr[i];
        for (int32_t i = 0; i < h.value.len; i++) sink ^= h.value.ptr[i];
    }
    if (nh != rec->header_count) abort();   /* the decoder validated them all */
    (void)sink;
    return 0;
}

static void check_rc(int rc)
{
    if (rc != 0 && rc != GR_ECORRUPT && rc != GR_ECOMPRESSION && rc != GR_ETOOLARGE) abort();
}

static void decode_batch(const uint8_t *b, size_t len)
{
    seen_t s = {0, 0};
    int rc = gr_records_decode_limit(b, len, MAX_OUT, on_record, &s);
    check_rc(rc);
    if (rc == 0) {
        gr_batch_header_t h;
        if (gr_batch_parse_header(b, len, &h) < 0 || s.n != h.records_count) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    int mode = (data[0] >> 4) % 3, codec = data[0] & 7;
    int16_t attrs = (int16_t)(data[0] & 0x08 ? GR_BATCH_ATTR_LOG_APPEND_TIME : 0);
    if (mode == 2) {
        decode_batch(data + 1, size - 1);
        return 0;
    }
    int32_t count = (int32_t)gr_be16(data + 1) - 2;    /* -2..65533: negatives too */
    const uint8_t *sec = data + 3;
    size_t slen = size - 3;

    gr_writer_t z, out;
    gr_writer_init(&z);
    gr_writer_init(&out);
    if (mode == 1 && codec >= GR_CODEC_GZIP && codec <= GR_CODEC_ZSTD) {
        if (gr_codec_compress(codec, 0, sec, slen, &z) != 0) abort();
        /* What we compress must come back unchanged. */
        if (gr_codec_decompress(codec, z.buf, z.len, slen, &out) != 0 || out.len != slen ||
            (slen && memcmp(out.buf, sec, slen) != 0))
            abort();
        sec = z.buf;
        slen = z.len;
    } else if (codec != GR_CODEC_NONE) {
        int rc = gr_codec_decompress(codec, sec, slen, MAX_OUT, &out);
        check_rc(rc);
        if (rc == 0) {
            gr_writer_t z2, back;
            gr_writer_init(&z2);
            gr_writer_init(&back);
            if (gr_codec_compress(codec, 0, out.buf, out.len, &z2) != 0) abort();
            if (gr_codec_decompress(codec, z2.buf, z2.len, out.len, &back) != 0 || back.len != out.len ||
                (out.len && memcmp(back.buf, out.buf, out.len) != 0))
                abort();
            gr_writer_free(&z2);
            gr_writer_free(&back);
        }
    }

    /* Wrap the section in a batch header (CRC not needed: the decoder
     * does not check it). */
    size_t len = GR_BATCH_HEADER_SIZE + slen;
    uint8_t *b = malloc(len);
    if (!b) abort();
    memset(b, 0, GR_BATCH_HEADER_SIZE);
    gr_put_be64(b, 1000);
    gr_put_be32(b + 8, (uint32_t)(len - GR_BATCH_LOG_OVERHEAD));
    b[16] = 2;
    gr_put_be16(b + 21, (uint16_t)(attrs | codec));
    gr_put_be32(b + 23, (uint32_t)(count - 1));
    gr_put_be64(b + 27, (uint64_t)INT64_MAX - 5);      /* deltas may overflow: must wrap, not trap */
    gr_put_be64(b + 35, (uint64_t)INT64_MAX);
    gr_put_be32(b + 57, (uint32_t)count);
    if (slen) memcpy(b + GR_BATCH_HEADER_SIZE, sec, slen);
    decode_batch(b, len);
    free(b);
    gr_writer_free(&z);
    gr_writer_free(&out);
    return 0;
}
