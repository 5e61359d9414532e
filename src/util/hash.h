/* FNV-1a hashes for the in-memory hash tables (group map, offsets, metastore
 * nodes, protocol counts).  One definition so that the tables cannot drift
 * apart in constants; nothing hashed here is persisted or sent on the wire,
 * so the choice only affects how evenly the buckets fill. */
#ifndef GR_UTIL_HASH_H
#define GR_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define GR_FNV1A32_OFFSET_BASIS 2166136261u
#define GR_FNV1A32_PRIME 16777619u
#define GR_FNV1A64_OFFSET_BASIS 1469598103934665603ULL
#define GR_FNV1A64_PRIME 1099511628211ULL

/* One FNV-1a round: lets a caller fold a value other than bytes (a
 * partition number) into a hash of bytes. */
static inline uint32_t gr_fnv1a32_mix(uint32_t h, uint32_t v) { return (h ^ v) * GR_FNV1A32_PRIME; }

static inline uint32_t gr_fnv1a32(const char *s, size_t len)
{
    uint32_t h = GR_FNV1A32_OFFSET_BASIS;
    for (size_t i = 0; i < len; i++) h = gr_fnv1a32_mix(h, (uint8_t)s[i]);
    return h;
}

/* Of a NUL-terminated string, without a strlen() pass first. */
static inline uint32_t gr_fnv1a32_str(const char *s)
{
    uint32_t h = GR_FNV1A32_OFFSET_BASIS;
    for (; *s; s++) h = gr_fnv1a32_mix(h, (uint8_t)*s);
    return h;
}

static inline uint64_t gr_fnv1a64_str(const char *s)
{
    uint64_t h = GR_FNV1A64_OFFSET_BASIS;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * GR_FNV1A64_PRIME;
    return h;
}

#endif
