/* Record iteration and the batch codecs.  Layouts and framings are in
 * records.h.  Everything here reads untrusted bytes (client batches, disk),
 * so every length is checked against what is left before it is used, and
 * decompression output is bounded before it is allocated. */
#include "protocol/records.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "protocol/errors.h"

/* --- output bounds --- */

/* The largest output a valid input of each format can expand to per input
 * byte: deflate's longest match (258) costs at least two bits, so 1032:1;
 * an LZ4 sequence gains at most 255 bytes per extra length byte; a snappy
 * copy emits at most 64 bytes for a 3-byte tag.  Anything claiming more is
 * corrupt, and saying so early avoids inflating a bomb up to max_out.
 * zstd has no useful bound (an RLE block is 128 KiB from 4 bytes); its
 * memory is bounded by max_out and the window limit instead. */
#define GZIP_MAX_RATIO 1040
#define LZ4_MAX_RATIO 256
#define SNAPPY_MAX_RATIO 24
#define RATIO_SLACK 4096            /* fixed headers and tiny inputs */

/* The bound for `inlen` bytes at `ratio` (0: none), never above max_out. */
static size_t ratio_cap(size_t inlen, size_t ratio, size_t max_out)
{
    if (ratio == 0 || inlen > (SIZE_MAX - RATIO_SLACK) / ratio) return max_out;
    size_t cap = inlen * ratio + RATIO_SLACK;
    return cap < max_out ? cap : max_out;
}

/* Streaming decoders write into a growing output.  Each step reserves the
 * next chunk: doubling what came out so far, but never past limit + 1 — the
 * extra byte is how we notice output beyond the limit without producing it
 * all.  *room is the chunk size (>= 1), capped for the codecs' 32-bit
 * counters. */
static uint8_t *next_chunk(gr_writer_t *out, size_t start, size_t limit, size_t *room)
{
    size_t produced = out->len - start;
    size_t want = produced < 65536 ? 65536 : produced, left = limit - produced;
    if (left < SIZE_MAX) left++;    /* the probe byte (limit may be SIZE_MAX) */
    if (want > left) want = left;
    if (want > UINT_MAX) want = UINT_MAX;
    *room = want;
    return gr_writer_reserve(out, want);
}

/* After a step: too much output is corrupt if only the ratio bound was
 * crossed (no valid input does that), too large if max_out was. */
static int over_limit(const gr_writer_t *out, size_t start, size_t limit, size_t max_out)
{
    size_t produced = out->len - start;
    if (produced <= limit) return 0;
    return limit < max_out ? GR_ECORRUPT : GR_ETOOLARGE;
}

/* --- gzip --- */

static int gzip_decompress(const uint8_t *in, size_t inlen, size_t max_out, gr_writer_t *out)
{
    size_t start = out->len, limit = ratio_cap(inlen, GZIP_MAX_RATIO, max_out);
    if (inlen > UINT_MAX) return GR_ETOOLARGE;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* 15 + 32: a 32 KiB window, gzip or zlib header detected. */
    if (inflateInit2(&zs, 15 + 32) != Z_OK) return GR_ENOMEM;
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)inlen;
    int rc;
    for (;;) {
        size_t room;
        uint8_t *dst = next_chunk(out, start, limit, &room);
        if (!dst) { rc = GR_ENOMEM; break; }
        zs.next_out = dst;
        zs.avail_out = (uInt)room;
        int zr = inflate(&zs, Z_NO_FLUSH);
        out->len += room - zs.avail_out;
        if ((rc = over_limit(out, start, limit, max_out)) < 0) break;
        if (zr == Z_STREAM_END) {
            if (zs.avail_in == 0) { rc = 0; break; }
            /* Another gzip member follows (Java's GZIPInputStream reads
             * concatenated members too). */
            if (inflateReset(&zs) != Z_OK) { rc = GR_ECORRUPT; break; }
            continue;
        }
        if (zr == Z_MEM_ERROR) { rc = GR_ENOMEM; break; }
        /* Z_BUF_ERROR with room left means the input ended mid-stream. */
        if (zr != Z_OK) { rc = GR_ECORRUPT; break; }
    }
    inflateEnd(&zs);
    if (rc < 0) out->len = start;
    return rc;
}

static int gzip_compress(int level, const uint8_t *in, size_t inlen, gr_writer_t *out)
{
    if (inlen > UINT_MAX / 2) return GR_ETOOLARGE;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* 15 + 16: a gzip wrapper, as java.util.zip.GZIPOutputStream writes. */
    if (deflateInit2(&zs, level ? level : Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return GR_ENOMEM;
    size_t bound = deflateBound(&zs, (uLong)inlen);
    uint8_t *dst = gr_writer_reserve(out, bound);
    if (!dst) {
        deflateEnd(&zs);
        return GR_ENOMEM;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)inlen;
    zs.next_out = dst;
    zs.avail_out = (uInt)bound;
    int zr = deflate(&zs, Z_FINISH);
    size_t n = bound - zs.avail_out;
    deflateEnd(&zs);
    if (zr != Z_STREAM_END) return GR_ENOMEM;   /* cannot happen with deflateBound room */
    out->len += n;
    return 0;
}

/* --- snappy --- */

static const uint8_t XERIAL_MAGIC[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
#define XERIAL_HEADER_SIZE 16       /* magic, i32 version, i32 min compatible version */
#define XERIAL_BLOCK_SIZE 32768     /* snappy-java's default block size */

static int snappy_block(const uint8_t *in, size_t inlen, size_t start, size_t max_out, gr_writer_t *out)
{
    size_t ulen;
    if (snappy_uncompressed_length((const char *)in, inlen, &ulen) != SNAPPY_OK) return GR_ECORRUPT;
    /* The block states its size up front: check it before allocating. */
    if (ulen > ratio_cap(inlen, SNAPPY_MAX_RATIO, SIZE_MAX)) return GR_ECORRUPT;
    if (ulen > max_out - (out->len - start)) return GR_ETOOLARGE;
    uint8_t *dst = gr_writer_reserve(out, ulen ? ulen : 1);
    if (!dst) return GR_ENOMEM;
    size_t n = ulen;
    if (snappy_uncompress((const char *)in, inlen, (char *)dst, &n) != SNAPPY_OK || n != ulen)
        return GR_ECORRUPT;
    out->len += n;
    return 0;
}

static int snappy_decompress(const uint8_t *in, size_t inlen, size_t max_out, gr_writer_t *out)
{
    size_t start = out->len;
    int rc;
    if (inlen >= sizeof XERIAL_MAGIC && memcmp(in, XERIAL_MAGIC, sizeof XERIAL_MAGIC) == 0) {
        /* The version fields are not checked: snappy-java itself accepts
         * any, and the blocks are the same in every version. */
        if (inlen < XERIAL_HEADER_SIZE) return GR_ECORRUPT;
        size_t p = XERIAL_HEADER_SIZE;
        rc = 0;
        while (p < inlen && rc == 0) {
            if (inlen - p < 4) { rc = GR_ECORRUPT; break; }
            uint32_t blen = gr_be32(in + p);
            p += 4;
            if (blen > inlen - p) { rc = GR_ECORRUPT; break; }
            rc = snappy_block(in + p, blen, start, max_out, out);
            p += blen;
        }
    } else {
        rc = snappy_block(in, inlen, start, max_out, out);
    }
    if (rc < 0) out->len = start;
    return rc;
}

static int snappy_compress_xerial(const uint8_t *in, size_t inlen, gr_writer_t *out)
{
    size_t start = out->len;
    uint8_t hdr[XERIAL_HEADER_SIZE];
    memcpy(hdr, XERIAL_MAGIC, sizeof XERIAL_MAGIC);
    gr_put_be32(hdr + 8, 1);
    gr_put_be32(hdr + 12, 1);
    gr_writer_put(out, hdr, sizeof hdr);
    if (out->oom) goto oom;
    for (size_t p = 0; p < inlen; p += XERIAL_BLOCK_SIZE) {
        size_t n = inlen - p < XERIAL_BLOCK_SIZE ? inlen - p : XERIAL_BLOCK_SIZE;
        size_t bound = snappy_max_compressed_length(n);
        uint8_t *dst = gr_writer_reserve(out, 4 + bound);
        if (!dst) goto oom;
        size_t clen = bound;
        if (snappy_compress((const char *)in + p, n, (char *)dst + 4, &clen) != SNAPPY_OK) goto oom;
        gr_put_be32(dst, (uint32_t)clen);
        out->len += 4 + clen;
    }
    return 0;
oom:
    out->len = start;
    return GR_ENOMEM;
}

/* --- lz4 --- */

static int lz4_decompress(const uint8_t *in, size_t inlen, size_t max_out, gr_writer_t *out)
{
    size_t start = out->len, limit = ratio_cap(inlen, LZ4_MAX_RATIO, max_out), pos = 0;
    LZ4F_dctx *d;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION))) return GR_ENOMEM;
    int rc;
    for (;;) {
        size_t room;
        uint8_t *dst = next_chunk(out, start, limit, &room);
        if (!dst) { rc = GR_ENOMEM; break; }
        size_t dn = room, sn = inlen - pos;
        size_t r = LZ4F_decompress(d, dst, &dn, in + pos, &sn, NULL);
        pos += sn;
        out->len += dn;
        if (LZ4F_isError(r)) { rc = GR_ECORRUPT; break; }
        if ((rc = over_limit(out, start, limit, max_out)) < 0) break;
        /* Defensive: a step that neither read nor wrote would loop forever. */
        if (sn == 0 && dn == 0 && r != 0) { rc = GR_ECORRUPT; break; }
        if (r == 0) {
            /* A frame ended (the context is ready for another). */
            if (pos == inlen) { rc = 0; break; }
            continue;
        }
        /* Wants more input, there is none, and it had room to write: the
         * frame is truncated. */
        if (pos == inlen && dn < room) { rc = GR_ECORRUPT; break; }
    }
    LZ4F_freeDecompressionContext(d);
    if (rc < 0) out->len = start;
    return rc;
}

static int lz4_compress(int level, const uint8_t *in, size_t inlen, gr_writer_t *out)
{
    /* KafkaLZ4BlockOutputStream: 64 KiB independent blocks, no block or
     * content checksum, no content size.  Kafka's reader rejects dependent
     * blocks. */
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
    prefs.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
    prefs.compressionLevel = level;
    size_t bound = LZ4F_compressFrameBound(inlen, &prefs);
    uint8_t *dst = gr_writer_reserve(out, bound);
    if (!dst) return GR_ENOMEM;
    size_t n = LZ4F_compressFrame(dst, bound, in, inlen, &prefs);
    if (LZ4F_isError(n)) return GR_ENOMEM;
    out->len += n;
    return 0;
}

/* --- zstd --- */

static int zstd_decompress(const uint8_t *in, size_t inlen, size_t max_out, gr_writer_t *out)
{
    size_t start = out->len;
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d) return GR_ENOMEM;
    /* The decoder allocates the window a frame asks for (without a
     * content size, up to 2^27 bytes for ten bytes of input).  A window
     * beyond the output limit is of no use, so refuse it rather than
     * allocate it — but allow 8 MiB whatever the limit, as ordinary
     * frames (level 3: 2 MiB; 19: 8 MiB) declare windows larger than their
     * content.  27 is zstd's own default cap. */
    int wlog = 23;
    while (wlog < 27 && ((size_t)1 << wlog) < max_out) wlog++;
    ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, wlog);
    ZSTD_inBuffer ib = {in, inlen, 0};
    int rc;
    for (;;) {
        size_t room;
        uint8_t *dst = next_chunk(out, start, max_out, &room);
        if (!dst) { rc = GR_ENOMEM; break; }
        ZSTD_outBuffer ob = {dst, room, 0};
        size_t in_before = ib.pos;
        size_t r = ZSTD_decompressStream(d, &ob, &ib);
        out->len += ob.pos;
        if (ZSTD_isError(r)) {
            ZSTD_ErrorCode e = ZSTD_getErrorCode(r);
            rc = e == ZSTD_error_memory_allocation ? GR_ENOMEM
               : e == ZSTD_error_frameParameter_windowTooLarge ? GR_ETOOLARGE : GR_ECORRUPT;
            break;
        }
        if ((rc = over_limit(out, start, max_out, max_out)) < 0) break;
        if (r == 0) {
            /* A frame is done and flushed; another may follow. */
            if (ib.pos == ib.size) { rc = 0; break; }
            continue;
        }
        if (ib.pos == ib.size && ob.pos < ob.size) { rc = GR_ECORRUPT; break; }
        /* Defensive: a step that neither read nor wrote would loop forever. */
        if (ib.pos == in_before && ob.pos == 0) { rc = GR_ECORRUPT; break; }
    }
    ZSTD_freeDCtx(d);
    if (rc < 0) out->len = start;
    return rc;
}

static int zstd_compress(int level, const uint8_t *in, size_t inlen, gr_writer_t *out)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    if (!c) return GR_ENOMEM;
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level ? level : ZSTD_CLEVEL_DEFAULT);
    size_t bound = ZSTD_compressBound(inlen);
    uint8_t *dst = gr_writer_reserve(out, bound);
    size_t n = dst ? ZSTD_compress2(c, dst, bound, in, inlen) : 0;
    ZSTD_freeCCtx(c);
    if (!dst || ZSTD_isError(n)) return GR_ENOMEM;
    out->len += n;
    return 0;
}

/* --- codec entry points --- */

int gr_codec_decompress(int codec, const uint8_t *in, size_t inlen, size_t max_out, gr_writer_t *out)
{
    static const uint8_t empty[1];
    if (!in) in = empty;    /* the libraries want a pointer even for 0 bytes */
    switch (codec) {
    case GR_CODEC_GZIP: return gzip_decompress(in, inlen, max_out, out);
    case GR_CODEC_SNAPPY: return snappy_decompress(in, inlen, max_out, out);
    case GR_CODEC_LZ4: return lz4_decompress(in, inlen, max_out, out);
    case GR_CODEC_ZSTD: return zstd_decompress(in, inlen, max_out, out);
    default: return GR_ECOMPRESSION;
    }
}

int gr_codec_compress(int codec, int level, const uint8_t *in, size_t inlen, gr_writer_t *out)
{
    static const uint8_t empty[1];
    if (!in) in = empty;
    /* A batch is at most 2 GiB (batchLength is an i32). */
    if (inlen > INT32_MAX) return GR_ETOOLARGE;
    switch (codec) {
    case GR_CODEC_GZIP: return gzip_compress(level, in, inlen, out);
    case GR_CODEC_SNAPPY: return snappy_compress_xerial(in, inlen, out);
    case GR_CODEC_LZ4: return lz4_compress(level, in, inlen, out);
    case GR_CODEC_ZSTD: return zstd_compress(level, in, inlen, out);
    default: return GR_ECOMPRESSION;
    }
}

/* --- records --- */

/* n bytes from r as a view, or NULL (r->err set) if fewer are left. */
static const uint8_t *take(gr_reader_t *r, size_t n)
{
    if (r->err || gr_reader_left(r) < n) {
        r->err = 1;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

/* A VARINT length then that many bytes; -1 is null when null_ok. */
static gr_bytes_t read_varbytes(gr_reader_t *r, bool null_ok)
{
    int32_t n = gr_read_varint(r);
    if (r->err) return (gr_bytes_t){NULL, -1};
    if (n < 0) {
        if (n != -1 || !null_ok) r->err = 1;
        return (gr_bytes_t){NULL, -1};
    }
    const uint8_t *p = take(r, (size_t)n);
    return p ? (gr_bytes_t){p, n} : (gr_bytes_t){NULL, -1};
}

/* Wrapping sum: hostile deltas must not be signed-overflow UB. */
static inline int64_t add_wrap(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }

/* One record from r (see the layout in records.h).  0 or GR_ECORRUPT. */
static int read_record(gr_reader_t *r, const gr_batch_header_t *h, gr_record_t *rec)
{
    int32_t len = gr_read_varint(r);
    if (r->err || len <= 0 || (size_t)len > gr_reader_left(r)) return GR_ECORRUPT;
    gr_reader_t rr;
    gr_reader_init(&rr, r->p, (size_t)len);
    r->p += len;

    rec->batch = h;
    rec->attributes = gr_read_i8(&rr);
    int64_t ts_delta = gr_read_varlong(&rr);
    int32_t off_delta = gr_read_varint(&rr);
    rec->key = read_varbytes(&rr, true);
    rec->value = read_varbytes(&rr, true);
    rec->header_count = gr_read_varint(&rr);
    if (rr.err || rec->header_count < 0) return GR_ECORRUPT;
    const uint8_t *hstart = rr.p;
    for (int32_t i = 0; i < rec->header_count && !rr.err; i++) {
        read_varbytes(&rr, false);      /* key: never null */
        read_varbytes(&rr, true);
    }
    /* Kafka: a record must use exactly its declared length. */
    if (rr.err || gr_reader_left(&rr) != 0) return GR_ECORRUPT;
    rec->headers = (gr_bytes_t){hstart, (int32_t)(rr.p - hstart)};
    rec->offset = add_wrap(h->base_offset, off_delta);
    rec->timestamp = (h->attributes & GR_BATCH_ATTR_LOG_APPEND_TIME) ? h->max_timestamp
                                                                     : add_wrap(h->base_timestamp, ts_delta);
    return 0;
}

int gr_records_decode_limit(const uint8_t *batch, size_t len, size_t max_out, gr_record_fn fn,
                            void *arg)
{
    gr_batch_header_t h;
    int64_t size = gr_batch_parse_header(batch, len, &h);
    if (size < 0 || (uint64_t)size != len || h.records_count < 0) return GR_ECORRUPT;

    gr_writer_t buf;
    gr_writer_init(&buf);
    int codec = h.attributes & GR_BATCH_ATTR_CODEC_MASK;
    const uint8_t *recs = batch + GR_BATCH_HEADER_SIZE;
    size_t rlen = len - GR_BATCH_HEADER_SIZE;
    int rc = 0;
    if (codec != GR_CODEC_NONE) {
        if ((rc = gr_codec_decompress(codec, recs, rlen, max_out, &buf)) < 0) goto out;
        recs = buf.buf;
        rlen = buf.len;
    }

    gr_reader_t r;
    gr_reader_init(&r, recs, rlen);
    for (int32_t i = 0; i < h.records_count; i++) {
        gr_record_t rec;
        if ((rc = read_record(&r, &h, &rec)) < 0) goto out;
        if ((rc = fn(&rec, arg)) != 0) goto out;
    }
    /* Bytes after the last counted record: the count is wrong. */
    if (gr_reader_left(&r) != 0) rc = GR_ECORRUPT;
out:
    gr_writer_free(&buf);
    return rc;
}

int gr_records_decode(const uint8_t *batch, size_t len, gr_record_fn fn, void *arg)
{
    return gr_records_decode_limit(batch, len, GR_CODEC_MAX_OUT_DEFAULT, fn, arg);
}

void gr_records_headers_init(const gr_record_t *rec, gr_header_iter_t *it)
{
    gr_reader_init(&it->r, rec->headers.ptr, rec->headers.len > 0 ? (size_t)rec->headers.len : 0);
    it->left = rec->header_count;
}

bool gr_records_header_next(gr_header_iter_t *it, gr_record_header_t *h)
{
    if (it->left <= 0) return false;
    gr_bytes_t k = read_varbytes(&it->r, false);
    h->value = read_varbytes(&it->r, true);
    if (it->r.err) {
        it->left = 0;
        return false;
    }
    h->key = (gr_str_t){(const char *)k.ptr, k.len};
    it->left--;
    return true;
}
