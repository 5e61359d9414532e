/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * Two implementations behind one function:
 *
 *  - hardware: the SSE4.2 `crc32` instruction, 8 bytes per instruction.  The
 *    instruction has a 3-cycle latency but a throughput of one per cycle, so
 *    for large buffers three independent streams are run side by side and
 *    their CRCs combined afterwards with a "shift by N zero bytes" operator
 *    (a 4x256 table built once, see zeros_op below).  This is the classic
 *    technique from Intel's white paper and Mark Adler's public-domain notes;
 *    the code here is our own.
 *  - software: slicing-by-8 tables, for CPUs without SSE4.2 and as the
 *    reference the tests compare the hardware path against.
 *
 * Internally the CRC register is kept inverted (pre/post xor 0xFFFFFFFF) so
 * that chaining calls works: gr_crc32c(gr_crc32c(0, a), b) == crc of a||b.
 */
#include "util/crc32c.h"

#include <pthread.h>
#include <string.h>

#define POLY 0x82F63B78u

/* Stream lengths for the interleaved hardware loop: LONG for big buffers,
 * SHORT for the tail.  Each needs its own shift table. */
#define LONG_BLOCK 8192
#define SHORT_BLOCK 256

static uint32_t sw_table[8][256];
static uint32_t long_shift[4][256];
static uint32_t short_shift[4][256];
static int have_sse42;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* --- GF(2) matrix helpers used to build the zero-shift operators --- */

static uint32_t gf2_times(const uint32_t *mat, uint32_t vec)
{
    uint32_t sum = 0;
    while (vec) {
        if (vec & 1) sum ^= *mat;
        vec >>= 1;
        mat++;
    }
    return sum;
}

static void gf2_square(uint32_t *square, const uint32_t *mat)
{
    for (int n = 0; n < 32; n++) square[n] = gf2_times(mat, mat[n]);
}

/* Builds in `even` the operator that feeds `len` zero bytes through the CRC
 * register.  len must be a power of two. */
static void zeros_op(uint32_t *even, size_t len)
{
    uint32_t odd[32];
    odd[0] = POLY;              /* operator for one zero bit */
    uint32_t row = 1;
    for (int n = 1; n < 32; n++) {
        odd[n] = row;
        row <<= 1;
    }
    gf2_square(even, odd);      /* two zero bits */
    gf2_square(odd, even);      /* four zero bits */
    /* Each square doubles the count: the first one below gives one byte. */
    for (;;) {
        gf2_square(even, odd);
        len >>= 1;
        if (len == 0) return;
        gf2_square(odd, even);
        len >>= 1;
        if (len == 0) break;
    }
    memcpy(even, odd, sizeof odd);
}

/* Tabulates the operator a byte at a time so applying it is 4 lookups. */
static void zeros_table(uint32_t table[4][256], size_t len)
{
    uint32_t op[32];
    zeros_op(op, len);
    for (uint32_t n = 0; n < 256; n++) {
        table[0][n] = gf2_times(op, n);
        table[1][n] = gf2_times(op, n << 8);
        table[2][n] = gf2_times(op, n << 16);
        table[3][n] = gf2_times(op, n << 24);
    }
}

static inline uint32_t shift_crc(uint32_t table[4][256], uint32_t crc)
{
    return table[0][crc & 0xff] ^ table[1][(crc >> 8) & 0xff] ^ table[2][(crc >> 16) & 0xff] ^
           table[3][crc >> 24];
}

static void init_tables(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t crc = n;
        for (int k = 0; k < 8; k++) crc = crc & 1 ? (crc >> 1) ^ POLY : crc >> 1;
        sw_table[0][n] = crc;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t crc = sw_table[0][n];
        for (int k = 1; k < 8; k++) {
            crc = sw_table[0][crc & 0xff] ^ (crc >> 8);
            sw_table[k][n] = crc;
        }
    }
    zeros_table(long_shift, LONG_BLOCK);
    zeros_table(short_shift, SHORT_BLOCK);
#if defined(__x86_64__)
    __builtin_cpu_init();
    have_sse42 = __builtin_cpu_supports("sse4.2");
#endif
}

/* --- software: slicing-by-8 --- */

uint32_t gr_crc32c_sw(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&init_once, init_tables);
    const uint8_t *p = data;
    crc = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        crc = sw_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        len--;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);   /* little-endian load; this file assumes x86/LE */
        w ^= crc;
        crc = sw_table[7][w & 0xff] ^ sw_table[6][(w >> 8) & 0xff] ^
              sw_table[5][(w >> 16) & 0xff] ^ sw_table[4][(w >> 24) & 0xff] ^
              sw_table[3][(w >> 32) & 0xff] ^ sw_table[2][(w >> 40) & 0xff] ^
              sw_table[1][(w >> 48) & 0xff] ^ sw_table[0][w >> 56];
        p += 8;
        len -= 8;
    }
    while (len--) crc = sw_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* --- hardware: SSE4.2 --- */

#if defined(__x86_64__)
#include <nmmintrin.h>

/* Three interleaved streams of `block` bytes at a time, while at least
 * 3 * block bytes remain: c1 and c2 start from zero, and are folded in by
 * shifting the running CRC over the length of the stream that follows it
 * (`shift` is the table for `block` zero bytes).  Advances *p and *len.
 * Always inlined so that each call site keeps `block` a constant. */
__attribute__((target("sse4.2"), always_inline))
static inline uint64_t crc32c_hw_3way(uint64_t c0, const uint8_t **pp, size_t *lenp, size_t block,
                                      uint32_t shift[4][256])
{
    const uint8_t *p = *pp;
    size_t len = *lenp;
    while (len >= 3 * block) {
        uint64_t c1 = 0, c2 = 0;
        const uint8_t *end = p + block;
        do {
            uint64_t a, b, c;
            memcpy(&a, p, 8);
            memcpy(&b, p + block, 8);
            memcpy(&c, p + 2 * block, 8);
            c0 = _mm_crc32_u64(c0, a);
            c1 = _mm_crc32_u64(c1, b);
            c2 = _mm_crc32_u64(c2, c);
            p += 8;
        } while (p < end);
        c0 = shift_crc(shift, (uint32_t)c0) ^ c1;
        c0 = shift_crc(shift, (uint32_t)c0) ^ c2;
        p += 2 * block;
        len -= 3 * block;
    }
    *pp = p;
    *lenp = len;
    return c0;
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c0 = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        c0 = _mm_crc32_u8((uint32_t)c0, *p++);
        len--;
    }
    /* Long streams for the bulk, then short ones for what is left. */
    c0 = crc32c_hw_3way(c0, &p, &len, LONG_BLOCK, long_shift);
    c0 = crc32c_hw_3way(c0, &p, &len, SHORT_BLOCK, short_shift);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c0 = _mm_crc32_u64(c0, w);
        p += 8;
        len -= 8;
    }
    while (len--) c0 = _mm_crc32_u8((uint32_t)c0, *p++);
    return ~(uint32_t)c0;
}

#endif

int gr_crc32c_hw_available(void)
{
    pthread_once(&init_once, init_tables);
    return have_sse42;
}

uint32_t gr_crc32c_hw(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&init_once, init_tables);
#if defined(__x86_64__)
    if (have_sse42) return crc32c_hw(crc, data, len);
#endif
    return gr_crc32c_sw(crc, data, len);
}

/* The hardware path already picks the fastest implementation available. */
uint32_t gr_crc32c(uint32_t crc, const void *data, size_t len)
{
    return gr_crc32c_hw(crc, data, len);
}
