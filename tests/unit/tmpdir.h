/* Scratch directories for unit tests that touch the file system: one per
 * test, created empty under /tmp and removed with everything in it. */
#ifndef GR_TEST_TMPDIR_H
#define GR_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

#define TEST_TMPDIR_MAX 64

/* `tag` names the suite in the directory name, so that a leftover in /tmp
 * says which test left it.  On failure buf is "": the test's first open of
 * it then fails with a CHECK instead of writing somewhere unexpected. */
static inline void test_tmpdir_create(char buf[TEST_TMPDIR_MAX], const char *tag)
{
    snprintf(buf, TEST_TMPDIR_MAX, "/tmp/gr-%s-XXXXXX", tag);
    if (!mkdtemp(buf)) buf[0] = 0;
}

/* A directory that cannot be removed is reported, not counted as a test
 * failure: the test's own checks have already run. */
static inline void test_tmpdir_remove(const char *dir)
{
    char cmd[TEST_TMPDIR_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "  could not remove %s\n", dir);
}

#endif
