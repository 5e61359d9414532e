#include "protocol/prim.h"

static inline const uint8_t *take(gr_reader_t *r, size_t n)
{
    if (r->err || (size_t)(r->end - r->p) < n) {
        r->err = 1;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

int8_t gr_read_i8(gr_reader_t *r) { const uint8_t *p = take(r, 1); return p ? (int8_t)p[0] : 0; }
int16_t gr_read_i16(gr_reader_t *r) { const uint8_t *p = take(r, 2); return p ? (int16_t)gr_be16(p) : 0; }
int32_t gr_read_i32(gr_reader_t *r) { const uint8_t *p = take(r, 4); return p ? (int32_t)gr_be32(p) : 0; }
int64_t gr_read_i64(gr_reader_t *r) { const uint8_t *p = take(r, 8); return p ? (int64_t)gr_be64(p) : 0; }
uint16_t gr_read_u16(gr_reader_t *r) { const uint8_t *p = take(r, 2); return p ? gr_be16(p) : 0; }
uint32_t gr_read_u32(gr_reader_t *r) { const uint8_t *p = take(r, 4); return p ? gr_be32(p) : 0; }

double gr_read_f64(gr_reader_t *r)
{
    uint64_t bits = (uint64_t)gr_read_i64(r);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

bool gr_read_bool(gr_reader_t *r) { return gr_read_i8(r) != 0; }

uint64_t gr_read_uvarlong(gr_reader_t *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        const uint8_t *p = take(r, 1);
        if (!p) return 0;
        v |= (uint64_t)(*p & 0x7f) << shift;
        if (!(*p & 0x80)) return v;
    }
    r->err = 1;  /* more than 10 groups: malformed */
    return 0;
}

uint32_t gr_read_uvarint(gr_reader_t *r)
{
    uint32_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        const uint8_t *p = take(r, 1);
        if (!p) return 0;
        v |= (uint32_t)(*p & 0x7f) << shift;
        if (!(*p & 0x80)) return v;
    }
    r->err = 1;
    return 0;
}

int32_t gr_read_varint(gr_reader_t *r)
{
    uint32_t u = gr_read_uvarint(r);
    return (int32_t)((u >> 1) ^ (~(u & 1) + 1));
}

int64_t gr_read_varlong(gr_reader_t *r)
{
    uint64_t u = gr_read_uvarlong(r);
    return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
}

gr_uuid_t gr_read_uuid(gr_reader_t *r)
{
    gr_uuid_t u = {{0}};
    const uint8_t *p = take(r, 16);
    if (p) memcpy(u.b, p, 16);
    return u;
}

/* Reads a length: i16/i32 for classic, uvarint N+1 for compact. -1 = null. */
static int64_t read_len(gr_reader_t *r, bool flexible, bool wide)
{
    if (flexible) return (int64_t)gr_read_uvarint(r) - 1;
    return wide ? gr_read_i32(r) : gr_read_i16(r);
}

gr_str_t gr_read_string(gr_reader_t *r, bool flexible)
{
    int64_t n = read_len(r, flexible, false);
    if (r->err || n < 0) {
        if (n < -1) r->err = 1;
        return GR_STR_NULL;
    }
    const uint8_t *p = take(r, (size_t)n);
    return p ? (gr_str_t){(const char *)p, (int32_t)n} : GR_STR_NULL;
}

gr_bytes_t gr_read_bytes(gr_reader_t *r, bool flexible)
{
    int64_t n = read_len(r, flexible, true);
    if (r->err || n < 0) {
        if (n < -1) r->err = 1;
        return (gr_bytes_t){NULL, -1};
    }
    const uint8_t *p = take(r, (size_t)n);
    return p ? (gr_bytes_t){p, (int32_t)n} : (gr_bytes_t){NULL, -1};
}

int32_t gr_read_array_len(gr_reader_t *r, bool flexible, size_t min_elem_size)
{
    int64_t n = read_len(r, flexible, true);
    if (r->err) return 0;
    if (n < -1) {
        r->err = 1;
        return 0;
    }
    if (n > 0 && (uint64_t)n * (min_elem_size ? min_elem_size : 1) > gr_reader_left(r)) {
        r->err = 1;
        return 0;
    }
    return (int32_t)n;
}

void gr_read_skip(gr_reader_t *r, size_t n) { take(r, n); }

void gr_skip_tags(gr_reader_t *r)
{
    uint32_t n = gr_read_uvarint(r);
    for (uint32_t i = 0; i < n && !r->err; i++) {
        gr_read_uvarint(r);
        take(r, gr_read_uvarint(r));
    }
}

/* --- writing --- */

void gr_write_i8(gr_writer_t *w, int8_t v) { gr_writer_put(w, &v, 1); }

void gr_write_i16(gr_writer_t *w, int16_t v)
{
    uint8_t *p = gr_writer_reserve(w, 2);
    if (p) { gr_put_be16(p, (uint16_t)v); w->len += 2; }
}

void gr_write_i32(gr_writer_t *w, int32_t v)
{
    uint8_t *p = gr_writer_reserve(w, 4);
    if (p) { gr_put_be32(p, (uint32_t)v); w->len += 4; }
}

void gr_write_i64(gr_writer_t *w, int64_t v)
{
    uint8_t *p = gr_writer_reserve(w, 8);
    if (p) { gr_put_be64(p, (uint64_t)v); w->len += 8; }
}

void gr_write_u16(gr_writer_t *w, uint16_t v) { gr_write_i16(w, (int16_t)v); }
void gr_write_u32(gr_writer_t *w, uint32_t v) { gr_write_i32(w, (int32_t)v); }

void gr_write_f64(gr_writer_t *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    gr_write_i64(w, (int64_t)bits);
}

void gr_write_bool(gr_writer_t *w, bool v) { gr_write_i8(w, v ? 1 : 0); }

void gr_write_uvarlong(gr_writer_t *w, uint64_t v)
{
    uint8_t *p = gr_writer_reserve(w, 10);
    if (!p) return;
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    w->len += n;
}

void gr_write_uvarint(gr_writer_t *w, uint32_t v) { gr_write_uvarlong(w, v); }
void gr_write_varint(gr_writer_t *w, int32_t v) { gr_write_uvarint(w, ((uint32_t)v << 1) ^ (uint32_t)(v >> 31)); }
void gr_write_varlong(gr_writer_t *w, int64_t v) { gr_write_uvarlong(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63)); }
void gr_write_uuid(gr_writer_t *w, const gr_uuid_t *u) { gr_writer_put(w, u->b, 16); }

static void write_len(gr_writer_t *w, int32_t n, bool flexible, bool wide)
{
    if (flexible) gr_write_uvarint(w, (uint32_t)(n < 0 ? 0 : n + 1));
    else if (wide) gr_write_i32(w, n < 0 ? -1 : n);
    else gr_write_i16(w, (int16_t)(n < 0 ? -1 : n));
}

void gr_write_string(gr_writer_t *w, gr_str_t s, bool flexible)
{
    write_len(w, s.len, flexible, false);
    if (s.len > 0) gr_writer_put(w, s.ptr, (size_t)s.len);
}

void gr_write_bytes(gr_writer_t *w, gr_bytes_t b, bool flexible)
{
    write_len(w, b.len, flexible, true);
    if (b.len > 0) gr_writer_put(w, b.ptr, (size_t)b.len);
}

void gr_write_records(gr_writer_t *w, const gr_records_t *rec, bool flexible)
{
    write_len(w, rec->len, flexible, true);
    if (rec->len <= 0) return;
    if (rec->file) gr_writer_splice(w, rec->file, rec->off, rec->len);
    else gr_writer_put(w, rec->ptr, (size_t)rec->len);
}

void gr_write_array_len(gr_writer_t *w, int32_t n, bool flexible) { write_len(w, n, flexible, true); }
void gr_write_empty_tags(gr_writer_t *w) { gr_write_uvarint(w, 0); }

int gr_uvarint_size(uint32_t v)
{
    int n = 1;
    while (v >= 0x80) { v >>= 7; n++; }
    return n;
}

void gr_patch_i32(gr_writer_t *w, size_t at, int32_t v) { gr_put_be32(w->buf + at, (uint32_t)v); }
