/* Runs every registered unit test, or those whose names contain argv[1]. */
#include <stdlib.h>
#include <string.h>

#include "test.h"

int gr_test_failures;

static struct { const char *name; gr_test_fn fn; } tests[1024];
static int ntests;

void gr_test_register(const char *name, gr_test_fn fn)
{
    if (ntests < (int)(sizeof tests / sizeof tests[0])) tests[ntests++] = (typeof(tests[0])){name, fn};
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const typeof(tests[0]) *)a)->name, ((const typeof(tests[0]) *)b)->name);
}

int main(int argc, char **argv)
{
    qsort(tests, (size_t)ntests, sizeof tests[0], by_name);
    int passed = 0, failed = 0;
    for (int i = 0; i < ntests; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1])) continue;
        gr_test_failures = 0;
        tests[i].fn();
        if (gr_test_failures) {
            printf("FAIL %s\n", tests[i].name);
            failed++;
        } else {
            printf("ok   %s\n", tests[i].name);
            passed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
