/* Record batch building; see record_builder.h. */
#include "protocol/record_builder.h"

#include <limits.h>

#include "protocol/errors.h"
#include "protocol/record_batch.h"

static int varint_size(int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    int n = 1;
    while (z >= 0x80) {
        z >>= 7;
        n++;
    }
    return n;
}

void gr_record_builder_begin(gr_record_builder_t *rb, gr_writer_t *w, int64_t base_offset)
{
    *rb = (gr_record_builder_t){
        .w = w,
        .start = w->len,
        .base_offset = base_offset,
        .next_offset = base_offset,
        .base_timestamp = -1,
        .max_timestamp = -1,
        .last_offset_delta = -1,
        .partition_leader_epoch = -1,
        .producer_id = -1,
        .producer_epoch = -1,
        .base_sequence = -1,
    };
    uint8_t *h = gr_writer_reserve(w, GR_BATCH_HEADER_SIZE);
    if (h) {
        memset(h, 0, GR_BATCH_HEADER_SIZE);
        w->len += GR_BATCH_HEADER_SIZE;
    }
}

int gr_record_builder_add_raw(gr_record_builder_t *rb, int64_t offset, int64_t timestamp, gr_bytes_t key,
                              gr_bytes_t value, int32_t header_count, gr_bytes_t headers)
{
    if (offset < 0) offset = rb->next_offset;
    if (offset < rb->next_offset || offset - rb->base_offset > INT32_MAX || rb->count == INT32_MAX) return GR_EINVAL;
    /* Deltas are relative to the first record's timestamp, as the Java
     * producer writes them. */
    if (rb->count == 0) rb->base_timestamp = timestamp;
    int64_t ts_delta = timestamp - rb->base_timestamp;
    int32_t off_delta = (int32_t)(offset - rb->base_offset);
    int32_t klen = key.ptr || key.len == 0 ? key.len : -1, vlen = value.ptr || value.len == 0 ? value.len : -1;
    if (klen < -1) klen = -1;
    if (vlen < -1) vlen = -1;
    if (headers.len < 0) headers.len = 0;
    int64_t body = 1 + varint_size(ts_delta) + varint_size(off_delta) + varint_size(klen) + (klen > 0 ? klen : 0) +
                   varint_size(vlen) + (vlen > 0 ? vlen : 0) + varint_size(header_count) + headers.len;
    if (body > INT32_MAX) return GR_ETOOLARGE;
    gr_writer_t *w = rb->w;
    gr_write_varint(w, (int32_t)body);
    gr_write_i8(w, 0);
    gr_write_varlong(w, ts_delta);
    gr_write_varint(w, off_delta);
    gr_write_varint(w, klen);
    if (klen > 0) gr_writer_put(w, key.ptr, (size_t)klen);
    gr_write_varint(w, vlen);
    if (vlen > 0) gr_writer_put(w, value.ptr, (size_t)vlen);
    gr_write_varint(w, header_count);
    if (headers.len > 0) gr_writer_put(w, headers.ptr, (size_t)headers.len);
    if (w->oom) return GR_ENOMEM;
    rb->count++;
    rb->last_offset_delta = off_delta;
    rb->next_offset = offset + 1;
    if (timestamp > rb->max_timestamp || rb->count == 1) rb->max_timestamp = timestamp;
    return 0;
}

int gr_record_builder_add(gr_record_builder_t *rb, int64_t offset, int64_t timestamp, gr_bytes_t key,
                          gr_bytes_t value, const gr_record_header_t *headers, int nheaders)
{
    if (nheaders <= 0) return gr_record_builder_add_raw(rb, offset, timestamp, key, value, 0, (gr_bytes_t){NULL, 0});
    /* Encode the headers once into a small scratch writer, then copy. */
    gr_writer_t hw;
    gr_writer_init(&hw);
    for (int i = 0; i < nheaders; i++) {
        int32_t kl = headers[i].key.len > 0 ? headers[i].key.len : 0;
        gr_write_varint(&hw, kl);
        if (kl) gr_writer_put(&hw, headers[i].key.ptr, (size_t)kl);
        int32_t vl = headers[i].value.ptr || headers[i].value.len == 0 ? headers[i].value.len : -1;
        gr_write_varint(&hw, vl);
        if (vl > 0) gr_writer_put(&hw, headers[i].value.ptr, (size_t)vl);
    }
    int rc = hw.oom ? GR_ENOMEM
                    : gr_record_builder_add_raw(rb, offset, timestamp, key, value, nheaders,
                                                (gr_bytes_t){hw.buf, (int32_t)hw.len});
    gr_writer_free(&hw);
    return rc;
}

int gr_record_builder_finish(gr_record_builder_t *rb)
{
    gr_writer_t *w = rb->w;
    if (w->oom) return GR_ENOMEM;
    if (rb->count == 0) return GR_EINVAL;
    uint8_t *h = w->buf + rb->start;
    size_t len = w->len - rb->start;
    gr_put_be64(h + 0, (uint64_t)rb->base_offset);
    gr_put_be32(h + 8, (uint32_t)(len - GR_BATCH_LOG_OVERHEAD));
    gr_put_be32(h + 12, (uint32_t)rb->partition_leader_epoch);
    h[16] = 2;
    gr_put_be16(h + 21, (uint16_t)(rb->attributes & ~GR_BATCH_ATTR_CODEC_MASK));
    gr_put_be32(h + 23, (uint32_t)rb->last_offset_delta);
    gr_put_be64(h + 27, (uint64_t)rb->base_timestamp);
    gr_put_be64(h + 35, (uint64_t)rb->max_timestamp);
    gr_put_be64(h + 43, (uint64_t)rb->producer_id);
    gr_put_be16(h + 51, (uint16_t)rb->producer_epoch);
    gr_put_be32(h + 53, (uint32_t)rb->base_sequence);
    gr_put_be32(h + 57, (uint32_t)rb->count);
    gr_batch_update_crc(h, len);
    return 0;
}
