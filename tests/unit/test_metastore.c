/* The local metadata store: the ZooKeeper model and persistence. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "cluster/metastore.h"
#include "protocol/errors.h"
#include "test.h"
#include "tmpdir.h"

typedef struct rec {
    int n;
    int events[16];
    char paths[16][64];
} rec_t;

static void on_watch(void *arg, gr_metastore_t *ms, int event, const char *path)
{
    rec_t *r = arg;
    if (r->n < 16) {
        r->events[r->n] = event;
        snprintf(r->paths[r->n], 64, "%s", path);
    }
    r->n++;
}

GR_TEST(metastore_basic_cas)
{
    char dir[TEST_TMPDIR_MAX];
    gr_metastore_t *ms;
    test_tmpdir_create(dir, "ms");
    CHECK_EQ(gr_metastore_local_open(dir, &ms), 0);
    CHECK_EQ(gr_metastore_create(ms, "/a", "x", 1, GR_MS_PERSISTENT, NULL, 0), 0);
    CHECK_EQ(gr_metastore_create(ms, "/a", "y", 1, GR_MS_PERSISTENT, NULL, 0), GR_EEXISTS);
    CHECK_EQ(gr_metastore_create(ms, "/b/c", "", 0, GR_MS_PERSISTENT, NULL, 0), GR_ENOTFOUND);
    CHECK_EQ(gr_metastore_create(ms, "a", "", 0, GR_MS_PERSISTENT, NULL, 0), GR_EINVAL);
    CHECK_EQ(gr_metastore_create(ms, "/a/", "", 0, GR_MS_PERSISTENT, NULL, 0), GR_EINVAL);
    CHECK_EQ(gr_metastore_create(ms, "/a//b", "", 0, GR_MS_PERSISTENT, NULL, 0), GR_EINVAL);
    gr_ms_stat_t st;
    void *data;
    size_t len;
    CHECK_EQ(gr_metastore_get(ms, "/a", &data, &len, &st, NULL, NULL), 0);
    CHECK_EQ(len, 1);
    CHECK(memcmp(data, "x\0", 2) == 0);
    CHECK_EQ(st.version, 0);
    free(data);
    CHECK_EQ(gr_metastore_set(ms, "/a", "yy", 2, 0, &st), 0);
    CHECK_EQ(st.version, 1);
    CHECK_EQ(gr_metastore_set(ms, "/a", "zz", 2, 0, NULL), GR_EBADVERSION);
    CHECK_EQ(gr_metastore_set(ms, "/a", "zz", 2, -1, &st), 0);
    CHECK_EQ(st.version, 2);
    CHECK_EQ(gr_metastore_delete(ms, "/a", 1), GR_EBADVERSION);
    CHECK_EQ(gr_metastore_create(ms, "/a/k", NULL, 0, GR_MS_PERSISTENT, NULL, 0), 0);
    CHECK_EQ(gr_metastore_delete(ms, "/a", 2), GR_ENOTEMPTY);
    CHECK_EQ(gr_metastore_exists(ms, "/a/k", &st, NULL, NULL), 0);
    CHECK_EQ(gr_metastore_exists(ms, "/nope", NULL, NULL, NULL), GR_ENOTFOUND);
    CHECK_EQ(gr_metastore_delete_recursive(ms, "/a"), 0);
    CHECK_EQ(gr_metastore_exists(ms, "/a", NULL, NULL, NULL), GR_ENOTFOUND);
    CHECK_EQ(gr_metastore_delete(ms, "/a", -1), GR_ENOTFOUND);
    CHECK_EQ(gr_metastore_create_parents(ms, "/x/y/z", "d", 1, GR_MS_PERSISTENT), 0);
    CHECK_EQ(gr_metastore_create_parents(ms, "/x/y/z", "d", 1, GR_MS_PERSISTENT), GR_EEXISTS);
    char **kids;
    int n;
    CHECK_EQ(gr_metastore_create(ms, "/x/b", NULL, 0, 0, NULL, 0), 0);
    CHECK_EQ(gr_metastore_create(ms, "/x/a", NULL, 0, 0, NULL, 0), 0);
    CHECK_EQ(gr_metastore_children(ms, "/x", &kids, &n, NULL, NULL), 0);
    CHECK_EQ(n, 3);
    if (n == 3) CHECK(!strcmp(kids[0], "a") && !strcmp(kids[1], "b") && !strcmp(kids[2], "y"));
    gr_metastore_free_children(kids, n);
    gr_metastore_close(ms);
    test_tmpdir_remove(dir);
}

GR_TEST(metastore_ephemeral_sequential_persist)
{
    char dir[TEST_TMPDIR_MAX], created[GR_MS_PATH_MAX];
    gr_metastore_t *ms;
    test_tmpdir_create(dir, "ms");
    CHECK_EQ(gr_metastore_local_open(dir, &ms), 0);
    CHECK_EQ(gr_metastore_create_parents(ms, "/brokers/ids", NULL, 0, 0), 0);
    CHECK_EQ(gr_metastore_create(ms, "/brokers/ids/0", "{}", 2, GR_MS_EPHEMERAL, NULL, 0), 0);
    CHECK_EQ(gr_metastore_create(ms, "/brokers/ids/0/x", "", 0, 0, NULL, 0), GR_EINVAL);
    gr_ms_stat_t st;
    CHECK_EQ(gr_metastore_exists(ms, "/brokers/ids/0", &st, NULL, NULL), 0);
    CHECK(st.ephemeral);
    CHECK_EQ(gr_metastore_create(ms, "/n", NULL, 0, 0, NULL, 0), 0);
    CHECK_EQ(gr_metastore_create(ms, "/n/c_", "1", 1, GR_MS_SEQUENTIAL, created, sizeof created), 0);
    CHECK(strcmp(created, "/n/c_0000000000") == 0);
    CHECK_EQ(gr_metastore_create(ms, "/n/c_", "2", 1, GR_MS_SEQUENTIAL, created, sizeof created), 0);
    CHECK(strcmp(created, "/n/c_0000000001") == 0);
    CHECK_EQ(gr_metastore_set(ms, "/n", "data", 4, -1, NULL), 0);
    /* Atomic multi: the failing check undoes the create before it. */
    gr_ms_op_t ops[] = {
        {.type = GR_MS_OP_CREATE, .path = "/m", .data = "1", .len = 1},
        {.type = GR_MS_OP_CHECK, .path = "/n", .version = 7},
    };
    CHECK_EQ(gr_metastore_multi(ms, ops, 2), GR_EBADVERSION);
    CHECK_EQ(ops[0].result, 0);
    CHECK_EQ(ops[1].result, GR_EBADVERSION);
    CHECK_EQ(gr_metastore_exists(ms, "/m", NULL, NULL, NULL), GR_ENOTFOUND);
    ops[1].version = 1;
    CHECK_EQ(gr_metastore_multi(ms, ops, 2), 0);
    CHECK_EQ(gr_metastore_exists(ms, "/m", NULL, NULL, NULL), 0);
    gr_metastore_close(ms);

    /* Reopen: persistent nodes, data, versions and the sequence survive;
     * the ephemeral node does not. */
    CHECK_EQ(gr_metastore_local_open(dir, &ms), 0);
    void *data;
    size_t len;
    CHECK_EQ(gr_metastore_get(ms, "/n", &data, &len, &st, NULL, NULL), 0);
    CHECK(len == 4 && memcmp(data, "data", 4) == 0);
    CHECK_EQ(st.version, 1);
    free(data);
    CHECK_EQ(gr_metastore_exists(ms, "/brokers/ids/0", NULL, NULL, NULL), GR_ENOTFOUND);
    CHECK_EQ(gr_metastore_exists(ms, "/brokers/ids", NULL, NULL, NULL), 0);
    CHECK_EQ(gr_metastore_exists(ms, "/m", NULL, NULL, NULL), 0);
    CHECK_EQ(gr_metastore_create(ms, "/n/c_", "3", 1, GR_MS_SEQUENTIAL, created, sizeof created), 0);
    CHECK(strcmp(created, "/n/c_0000000002") == 0);
    gr_metastore_close(ms);
    test_tmpdir_remove(dir);
}

GR_TEST(metastore_corrupt_rejected)
{
    char dir[TEST_TMPDIR_MAX], file[128];
    gr_metastore_t *ms;
    test_tmpdir_create(dir, "ms");
    CHECK_EQ(gr_metastore_local_open(dir, &ms), 0);
    CHECK_EQ(gr_metastore_create(ms, "/a", "hello", 5, 0, NULL, 0), 0);
    gr_metastore_close(ms);
    snprintf(file, sizeof file, "%s/__gregor_metadata", dir);
    int fd = open(file, O_RDWR);
    CHECK(fd >= 0);
    char c;
    CHECK_EQ(pread(fd, &c, 1, 30), 1);
    c ^= 0x40;
    CHECK_EQ(pwrite(fd, &c, 1, 30), 1);
    close(fd);
    ms = (gr_metastore_t *)1;
    CHECK_EQ(gr_metastore_local_open(dir, &ms), GR_ECORRUPT);
    CHECK(ms == NULL);
    /* Truncated, and garbage. */
    CHECK_EQ(truncate(file, 10), 0);
    CHECK_EQ(gr_metastore_local_open(dir, &ms), GR_ECORRUPT);
    test_tmpdir_remove(dir);
}

GR_TEST(metastore_watches)
{
    char dir[TEST_TMPDIR_MAX];
    gr_metastore_t *ms;
    rec_t r = {0}, rc = {0}, rx = {0};
    test_tmpdir_create(dir, "ms");
    CHECK_EQ(gr_metastore_local_open(dir, &ms), 0);
    /* exists() on a missing node arms a watch that fires on create. */
    CHECK_EQ(gr_metastore_exists(ms, "/w", NULL, on_watch, &rx), GR_ENOTFOUND);
    char **kids;
    int n;
    CHECK_EQ(gr_metastore_children(ms, "/", &kids, &n, on_watch, &rc), 0);
    gr_metastore_free_children(kids, n);
    CHECK_EQ(gr_metastore_create(ms, "/w", "1", 1, 0, NULL, 0), 0);
    CHECK_EQ(rx.n, 1);
    CHECK_EQ(rx.events[0], GR_MS_EVENT_CREATED);
    CHECK(strcmp(rx.paths[0], "/w") == 0);
    CHECK_EQ(rc.n, 1);
    CHECK_EQ(rc.events[0], GR_MS_EVENT_CHILD);
    CHECK(strcmp(rc.paths[0], "/") == 0);
    /* One-shot: a second create does not fire again. */
    CHECK_EQ(gr_metastore_create(ms, "/w2", "1", 1, 0, NULL, 0), 0);
    CHECK_EQ(rc.n, 1);
    CHECK_EQ(gr_metastore_get(ms, "/w", NULL, NULL, NULL, on_watch, &r), 0);
    CHECK_EQ(gr_metastore_set(ms, "/w", "2", 1, -1, NULL), 0);
    CHECK_EQ(r.n, 1);
    CHECK_EQ(r.events[0], GR_MS_EVENT_CHANGED);
    CHECK_EQ(gr_metastore_set(ms, "/w", "3", 1, -1, NULL), 0);
    CHECK_EQ(r.n, 1);
    /* A failed CAS fires nothing. */
    CHECK_EQ(gr_metastore_get(ms, "/w", NULL, NULL, NULL, on_watch, &r), 0);
    CHECK_EQ(gr_metastore_set(ms, "/w", "4", 1, 0, NULL), GR_EBADVERSION);
    CHECK_EQ(r.n, 1);
    CHECK_EQ(gr_metastore_delete(ms, "/w", -1), 0);
    CHECK_EQ(r.n, 2);
    CHECK_EQ(r.events[1], GR_MS_EVENT_DELETED);
    /* get on a missing node arms nothing. */
    CHECK_EQ(gr_metastore_get(ms, "/w", NULL, NULL, NULL, on_watch, &r), GR_ENOTFOUND);
    CHECK_EQ(gr_metastore_create(ms, "/w", "1", 1, 0, NULL, 0), 0);
    CHECK_EQ(r.n, 2);
    gr_metastore_close(ms);
    test_tmpdir_remove(dir);
}
