/* A tiny unit-test harness: GR_TEST(name) registers a test at load time;
 * CHECK* records a failure with file:line and continues.  The runner's last
 * line is "N passed, N failed". */
#ifndef GR_TEST_H
#define GR_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef void (*gr_test_fn)(void);
void gr_test_register(const char *name, gr_test_fn fn);
extern int gr_test_failures;  /* failures within the running test */

#define GR_TEST(name)                                                          \
    static void test_##name(void);                                             \
    __attribute__((constructor)) static void register_##name(void)             \
    {                                                                          \
        gr_test_register(#name, test_##name);                                  \
    }                                                                          \
    static void test_##name(void)

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            gr_test_failures++;                                                \
        }                                                                      \
    } while (0)

#define CHECK_EQ(a, b)                                                         \
    do {                                                                       \
        long long _a = (long long)(a), _b = (long long)(b);                    \
        if (_a != _b) {                                                        \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, _a, #b, _b); \
            gr_test_failures++;                                                \
        }                                                                      \
    } while (0)

#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

static inline void gr_test_print_hex(const char *what, const uint8_t *p, size_t n)
{
    fprintf(stderr, "    %s (%zu bytes):", what, n);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %02x", p[i]);
    fprintf(stderr, "\n");
}

/* The bytes a gr_writer_t holds must be exactly the listed ones; on a
 * mismatch both are dumped in hex, so a wire-layout bug is readable. */
#define CHECK_WIRE(w, ...)                                                     \
    do {                                                                       \
        const uint8_t want_[] = {__VA_ARGS__};                                 \
        CHECK_EQ((w)->len, sizeof want_);                                      \
        if ((w)->len != sizeof want_ || memcmp((w)->buf, want_, sizeof want_) != 0) { \
            gr_test_print_hex("got", (w)->buf, (w)->len);                      \
            gr_test_print_hex("want", want_, sizeof want_);                    \
            gr_test_failures++;                                                \
        }                                                                      \
    } while (0)

#endif
