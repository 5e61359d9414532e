/* CRC-32C (Castagnoli), as record batches use.  Uses the CPU's crc32
 * instruction (SSE4.2) when present, a table otherwise. */
#ifndef GR_CRC32C_H
#define GR_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* crc32c(0, "123456789", 9) == 0xE3069283.  Chain calls by passing the
 * previous result as `crc`. */
uint32_t gr_crc32c(uint32_t crc, const void *data, size_t len);

/* The two implementations behind gr_crc32c, for tests and benchmarks.
 * gr_crc32c_hw falls back to the table when the CPU lacks SSE4.2. */
uint32_t gr_crc32c_sw(uint32_t crc, const void *data, size_t len);
uint32_t gr_crc32c_hw(uint32_t crc, const void *data, size_t len);
int gr_crc32c_hw_available(void);

#endif
