/* CRC-32C: known vectors, chaining, and the SSE4.2 path against the table
 * on every length and alignment that exercises its branches. */
#include <stdlib.h>

#include "test.h"
#include "util/crc32c.h"

GR_TEST(crc32c_vectors)
{
    CHECK_EQ(gr_crc32c(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ(gr_crc32c(0, "", 0), 0);
    CHECK_EQ(gr_crc32c(0, "a", 1), 0xC1D04330u);
    /* RFC 3720 (iSCSI) B.4 test patterns. */
    uint8_t buf[48];
    memset(buf, 0, 32);
    CHECK_EQ(gr_crc32c(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, 32);
    CHECK_EQ(gr_crc32c(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)i;
    CHECK_EQ(gr_crc32c(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)(31 - i);
    CHECK_EQ(gr_crc32c(0, buf, 32), 0x113FDB5Cu);
    static const uint8_t iscsi_read[48] = {
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
        0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    CHECK_EQ(gr_crc32c(0, iscsi_read, 48), 0xD9963A56u);
    CHECK_EQ(gr_crc32c_sw(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ(gr_crc32c_hw(0, "123456789", 9), 0xE3069283u);
}

GR_TEST(crc32c_hw_matches_sw)
{
    /* Big enough for the 3 x 8 KiB interleaved loop plus every tail. */
    size_t cap = 3 * 8192 * 3 + 4096;
    uint8_t *buf = malloc(cap + 16);
    uint32_t seed = 12345;
    for (size_t i = 0; i < cap + 16; i++) {
        seed = seed * 1103515245 + 12345;
        buf[i] = (uint8_t)(seed >> 16);
    }
    if (!gr_crc32c_hw_available()) fprintf(stderr, "  (no SSE4.2: comparing table with itself)\n");
    int bad = 0;
    static const size_t lens[] = {0, 1, 7, 8, 9, 63, 64, 255, 256, 767, 768, 769, 1000, 4096,
                                  24575, 24576, 24577, 3 * 8192 * 2 + 100, 3 * 8192 * 3 + 4096};
    for (size_t a = 0; a < 8; a++)
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
            if (gr_crc32c_hw(0, buf + a, lens[i]) != gr_crc32c_sw(0, buf + a, lens[i])) bad++;
    for (size_t len = 0; len < 2000; len += 13)
        if (gr_crc32c_hw(0x12345678, buf + 3, len) != gr_crc32c_sw(0x12345678, buf + 3, len)) bad++;
    CHECK_EQ(bad, 0);
    /* Chaining: the CRC of a||b from the CRC of a. */
    uint32_t whole = gr_crc32c(0, buf, 30000);
    CHECK_EQ(gr_crc32c(gr_crc32c(0, buf, 12345), buf + 12345, 30000 - 12345), whole);
    CHECK_EQ(gr_crc32c_sw(gr_crc32c_hw(0, buf, 777), buf + 777, 30000 - 777), whole);
    free(buf);
}
