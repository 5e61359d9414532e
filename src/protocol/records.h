/* The records inside one magic-2 record batch, and the batch codecs.
 *
 * The batch header is in record_batch.h.  From offset 61 on the batch holds
 * recordsCount records back to back — or, when attributes bits 0-2 name a
 * codec, one compressed blob that decompresses to them.  One record
 * (DefaultRecord.java; VARINT/VARLONG are zigzag):
 *
 *   length          VARINT   bytes after this field
 *   attributes      i8       unused
 *   timestampDelta  VARLONG  timestamp = baseTimestamp + delta
 *                            (LogAppendTime batches: maxTimestamp instead)
 *   offsetDelta     VARINT   offset = baseOffset + delta
 *   keyLength       VARINT   -1 = null
 *   key             bytes
 *   valueLength     VARINT   -1 = null (a tombstone)
 *   value           bytes
 *   headerCount     VARINT
 *   headers         headerCount x { keyLength VARINT (>= 0), key (UTF-8),
 *                                   valueLength VARINT (-1 = null), value }
 *
 * Codec framings, as Kafka's Java client writes them (and librdkafka):
 *   1 gzip    a gzip stream (RFC 1952); several members are read in turn
 *   2 snappy  xerial/snappy-java framing: "\x82SNAPPY\0", i32 version 1,
 *             i32 min-compatible version 1, then blocks of {i32 length,
 *             raw snappy block}.  Input without the magic is read as one raw
 *             snappy block (some clients send that).
 *   3 lz4     the LZ4 frame format (not Kafka 0.8's broken-checksum one):
 *             64 KiB independent blocks, no checksums
 *   4 zstd    zstd frames; the content size may be absent
 * All integers in the framings are big-endian.
 */
#ifndef GR_RECORDS_H
#define GR_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/prim.h"
#include "protocol/record_batch.h"
#include "util/buf.h"

/* Default bound on one batch's decompressed records: a hostile 1 KiB blob
 * must not make the broker allocate gigabytes. */
#define GR_CODEC_MAX_OUT_DEFAULT ((size_t)64 << 20)

typedef struct gr_record {
    const gr_batch_header_t *batch;   /* the batch holding the record */
    int64_t offset;
    int64_t timestamp;
    int8_t attributes;
    gr_bytes_t key;                   /* len -1 = null */
    gr_bytes_t value;                 /* len -1 = null */
    int32_t header_count;
    gr_bytes_t headers;               /* the encoded headers; walk them with
                                       * gr_records_headers_init/next */
} gr_record_t;

typedef struct gr_record_header {
    gr_str_t key;
    gr_bytes_t value;                 /* len -1 = null */
} gr_record_header_t;

typedef struct gr_header_iter {
    gr_reader_t r;
    int32_t left;
} gr_header_iter_t;

/* Called once per record, in order.  Return 0 to go on, > 0 to stop
 * (gr_records_decode then returns that value), < 0 to abort with that
 * error.  Pointers in *rec are valid only during the call. */
typedef int (*gr_record_fn)(const gr_record_t *rec, void *arg);

/* Decodes the records of one whole batch of exactly `len` bytes (the CRC is
 * not checked: callers that received the batch validate it first) and
 * calls fn for each.  Compressed records are decompressed into a temporary
 * buffer of at most GR_CODEC_MAX_OUT_DEFAULT bytes.  Returns 0 when all
 * recordsCount records were read and nothing follows them, fn's positive
 * stop value, or a negative GR_E*:
 *   GR_ECORRUPT      malformed header, records or compressed data
 *   GR_ECOMPRESSION  codec 5-7 (no such codec)
 *   GR_ETOOLARGE     the records decompress to more than the limit
 *   GR_ENOMEM, or whatever fn returned. */
int gr_records_decode(const uint8_t *batch, size_t len, gr_record_fn fn, void *arg);
/* The same with an explicit bound on the decompressed size. */
int gr_records_decode_limit(const uint8_t *batch, size_t len, size_t max_out, gr_record_fn fn,
                            void *arg);

/* Walks rec->headers (already validated by the decoder):
 *   gr_header_iter_t it;  gr_record_header_t h;
 *   for (gr_records_headers_init(rec, &it); gr_records_header_next(&it, &h);) ... */
void gr_records_headers_init(const gr_record_t *rec, gr_header_iter_t *it);
bool gr_records_header_next(gr_header_iter_t *it, gr_record_header_t *h);

/* Appends the decompressed form of in[0..inlen) (the records section of a
 * batch with codec `codec`) to out.  At most max_out bytes are produced.
 * 0, GR_ECORRUPT (malformed or truncated input, or a size no valid input
 * of that length could produce), GR_ETOOLARGE (more than max_out),
 * GR_ECOMPRESSION (unknown codec) or GR_ENOMEM.  On error out->len is
 * left where it was. */
int gr_codec_decompress(int codec, const uint8_t *in, size_t inlen, size_t max_out, gr_writer_t *out);

/* Appends the compressed form of in[0..inlen) to out, framed as Kafka's
 * Java client frames it (see the top of this file).  level 0 means the
 * codec's default (gzip 6, lz4 fast, zstd 3; snappy has no levels).
 * GR_ECOMPRESSION for codec NONE or 5-7, GR_ENOMEM, GR_ETOOLARGE (input
 * over 2 GiB). */
int gr_codec_compress(int codec, int level, const uint8_t *in, size_t inlen, gr_writer_t *out);

#endif
