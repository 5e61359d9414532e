/* Kafka wire primitives (KIP-482 for the compact forms).
 *
 *   INT8..INT64, UINT16/32   big-endian
 *   UNSIGNED_VARINT          base-128, low group first (protobuf)
 *   VARINT / VARLONG         zigzag, used inside records
 *   STRING / BYTES           i16 / i32 length then data, -1 = null
 *   COMPACT_*                uvarint N+1 then data, 0 = null
 *   ARRAY                    i32 count (-1 = null) / compact: uvarint N+1
 *   TAG_BUFFER               uvarint count, then {uvarint tag, uvarint size, data}
 *
 * Readers never fail loudly: past the end or on a malformed length they set
 * r->err and return a zero value.  Strings and bytes are views into the
 * reader's buffer (no copy, no NUL terminator).
 */
#ifndef GR_PRIM_H
#define GR_PRIM_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "util/buf.h"

typedef struct gr_str {
    const char *ptr;
    int32_t len;        /* -1 = null */
} gr_str_t;

typedef struct gr_bytes {
    const uint8_t *ptr;
    int32_t len;        /* -1 = null */
} gr_bytes_t;

/* A record set: either bytes in memory, or (when file is set, for fetch
 * responses) `len` bytes at `off` of a segment file, sent with sendfile(). */
typedef struct gr_records {
    const uint8_t *ptr;
    int32_t len;        /* -1 = null */
    gr_file_t *file;
    int64_t off;
} gr_records_t;

typedef struct gr_uuid {
    uint8_t b[16];
} gr_uuid_t;

#define GR_STR_NULL ((gr_str_t){NULL, -1})
static inline gr_str_t gr_str(const char *s) { return (gr_str_t){s, s ? (int32_t)strlen(s) : -1}; }
static inline bool gr_str_eq(gr_str_t a, const char *s)
{
    return a.len >= 0 && s && (size_t)a.len == strlen(s) && memcmp(a.ptr, s, (size_t)a.len) == 0;
}
static inline bool gr_uuid_is_zero(const gr_uuid_t *u)
{
    for (int i = 0; i < 16; i++) if (u->b[i]) return false;
    return true;
}

/* --- reading --- */
int8_t gr_read_i8(gr_reader_t *r);
int16_t gr_read_i16(gr_reader_t *r);
int32_t gr_read_i32(gr_reader_t *r);
int64_t gr_read_i64(gr_reader_t *r);
uint16_t gr_read_u16(gr_reader_t *r);
uint32_t gr_read_u32(gr_reader_t *r);
double gr_read_f64(gr_reader_t *r);
bool gr_read_bool(gr_reader_t *r);
uint32_t gr_read_uvarint(gr_reader_t *r);
uint64_t gr_read_uvarlong(gr_reader_t *r);
int32_t gr_read_varint(gr_reader_t *r);
int64_t gr_read_varlong(gr_reader_t *r);
gr_uuid_t gr_read_uuid(gr_reader_t *r);
gr_str_t gr_read_string(gr_reader_t *r, bool flexible);
gr_bytes_t gr_read_bytes(gr_reader_t *r, bool flexible);
/* An array count; -1 = null.  A count that cannot fit in the bytes left
 * (each element takes at least `min_elem_size` bytes) sets r->err, so a
 * hostile count never drives a huge allocation. */
int32_t gr_read_array_len(gr_reader_t *r, bool flexible, size_t min_elem_size);
/* Skips a whole tag buffer (unknown tags are ignored, as Kafka does). */
void gr_skip_tags(gr_reader_t *r);
void gr_read_skip(gr_reader_t *r, size_t n);

/* --- writing --- */
void gr_write_i8(gr_writer_t *w, int8_t v);
void gr_write_i16(gr_writer_t *w, int16_t v);
void gr_write_i32(gr_writer_t *w, int32_t v);
void gr_write_i64(gr_writer_t *w, int64_t v);
void gr_write_u16(gr_writer_t *w, uint16_t v);
void gr_write_u32(gr_writer_t *w, uint32_t v);
void gr_write_f64(gr_writer_t *w, double v);
void gr_write_bool(gr_writer_t *w, bool v);
void gr_write_uvarint(gr_writer_t *w, uint32_t v);
void gr_write_uvarlong(gr_writer_t *w, uint64_t v);
void gr_write_varint(gr_writer_t *w, int32_t v);
void gr_write_varlong(gr_writer_t *w, int64_t v);
void gr_write_uuid(gr_writer_t *w, const gr_uuid_t *u);
void gr_write_string(gr_writer_t *w, gr_str_t s, bool flexible);
void gr_write_bytes(gr_writer_t *w, gr_bytes_t b, bool flexible);
/* Writes the length and then the bytes, or splices the file range. */
void gr_write_records(gr_writer_t *w, const gr_records_t *rec, bool flexible);
void gr_write_array_len(gr_writer_t *w, int32_t n, bool flexible);
void gr_write_empty_tags(gr_writer_t *w);

/* Size in bytes of v as an unsigned varint (for tagged-field sizes). */
int gr_uvarint_size(uint32_t v);
/* Overwrites 4 bytes at `at` with a big-endian i32 (frame sizes). */
void gr_patch_i32(gr_writer_t *w, size_t at, int32_t v);

static inline uint16_t gr_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t gr_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t gr_be64(const uint8_t *p) { return (uint64_t)gr_be32(p) << 32 | gr_be32(p + 4); }
static inline void gr_put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void gr_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void gr_put_be64(uint8_t *p, uint64_t v) { gr_put_be32(p, (uint32_t)(v >> 32)); gr_put_be32(p + 4, (uint32_t)v); }

#endif
