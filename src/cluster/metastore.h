/* The metadata store: ZooKeeper's data model, behind an ops table so the
 * local store (in-process, persisted in the data dir) and a ZooKeeper store
 * are interchangeable.
 *
 *   - a tree of nodes addressed by absolute paths ("/brokers/ids/0");
 *   - each node has data (bytes), a version incremented by every set, and a
 *     child version incremented by every child create/delete;
 *   - create flags: persistent or ephemeral (gone when the session/store
 *     closes), optionally sequential (a 10-digit counter is appended);
 *   - set and delete are version-checked when version >= 0 (CAS):
 *     GR_EBADVERSION on mismatch;
 *   - one-shot watches on a node's data (get/exists) and on its children
 *     (children): fired once with the path and event type, then forgotten.
 *     The local store fires them synchronously, after the mutation is
 *     applied and its lock released, before the mutating call returns; a
 *     callback may call back into the store (e.g. to re-arm its watch).
 *
 * Errors: GR_ENOTFOUND (no node, or no parent on create), GR_EEXISTS,
 * GR_EBADVERSION, GR_ENOTEMPTY (delete of a node with children), GR_EINVAL
 * (bad path, child of an ephemeral), GR_EIO (persistence failed; the
 * in-memory change is rolled back), GR_ENOMEM.
 *
 * Paths: start with '/', no trailing '/', no empty segments, no "." or ".."
 * segments, at most GR_MS_PATH_MAX - 1 bytes.  Data: at most GR_MS_DATA_MAX.
 */
#ifndef GR_METASTORE_H
#define GR_METASTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GR_MS_PATH_MAX 1024
#define GR_MS_DATA_MAX (1024 * 1024)   /* ZooKeeper's jute.maxbuffer default */

/* create flags (ZooKeeper's values) */
enum {
    GR_MS_PERSISTENT = 0,
    GR_MS_EPHEMERAL = 1,
    GR_MS_SEQUENTIAL = 2,
};

/* watch events (ZooKeeper's values) */
enum {
    GR_MS_EVENT_CREATED = 1,
    GR_MS_EVENT_DELETED = 2,
    GR_MS_EVENT_CHANGED = 3,
    GR_MS_EVENT_CHILD = 4,
    GR_MS_EVENT_SESSION = -1,       /* ZooKeeper store only: session state changed */
};

typedef struct gr_ms_stat {
    int64_t czxid;                  /* creation transaction id (Kafka's broker epoch) */
    int64_t mzxid;                  /* last modification transaction id */
    int64_t ctime, mtime;           /* ms since the epoch */
    int32_t version;                /* data version, 0 at create */
    int32_t cversion;               /* child version */
    int32_t num_children;
    int32_t data_len;
    bool ephemeral;
} gr_ms_stat_t;

typedef struct gr_metastore gr_metastore_t;

typedef void (*gr_ms_watch_fn)(void *arg, gr_metastore_t *ms, int event, const char *path);

/* One operation of an atomic multi (ZooKeeper's multi): all or nothing. */
enum { GR_MS_OP_CHECK, GR_MS_OP_CREATE, GR_MS_OP_SET, GR_MS_OP_DELETE };
typedef struct gr_ms_op {
    int type;                       /* GR_MS_OP_* */
    const char *path;
    const void *data;               /* CREATE, SET */
    size_t len;
    int flags;                      /* CREATE */
    int32_t version;                /* CHECK, SET, DELETE: -1 = any */
    int result;                     /* out: 0 or GR_E* for this op */
} gr_ms_op_t;

typedef struct gr_metastore_ops {
    int (*create)(gr_metastore_t *ms, const char *path, const void *data, size_t len, int flags,
                  char *created_path, size_t cap);
    int (*get)(gr_metastore_t *ms, const char *path, void **data, size_t *len, gr_ms_stat_t *stat,
               gr_ms_watch_fn watch, void *arg);
    int (*set)(gr_metastore_t *ms, const char *path, const void *data, size_t len, int32_t version,
               gr_ms_stat_t *stat);
    int (*del)(gr_metastore_t *ms, const char *path, int32_t version);
    int (*exists)(gr_metastore_t *ms, const char *path, gr_ms_stat_t *stat, gr_ms_watch_fn watch,
                  void *arg);
    int (*children)(gr_metastore_t *ms, const char *path, char ***names, int *n,
                    gr_ms_watch_fn watch, void *arg);
    int (*multi)(gr_metastore_t *ms, gr_ms_op_t *ops, int n);
    void (*close)(gr_metastore_t *ms);
} gr_metastore_ops_t;

/* Every store begins with this. */
struct gr_metastore {
    const gr_metastore_ops_t *ops;
    const char *kind;               /* "local", "zookeeper" */
};

/* Opens the local store persisted in DATA_DIR/__gregor_metadata (creating
 * data_dir and an empty tree with "/" if missing).  A file that fails its
 * checksum or does not parse is GR_ECORRUPT: never silently dropped. */
int gr_metastore_local_open(const char *data_dir, gr_metastore_t **out);

/* Creates `path`.  With GR_MS_SEQUENTIAL the name gets a 10-digit,
 * zero-padded suffix from the parent's child counter; the actual path is
 * written to created_path (if not NULL; truncated to cap). */
int gr_metastore_create(gr_metastore_t *ms, const char *path, const void *data, size_t len,
                        int flags, char *created_path, size_t cap);
/* Gets data (malloc'd with a NUL byte after `len` bytes, so JSON text can be
 * used as a C string; caller frees) and stat.  data/len/stat may be NULL.
 * `watch` (may be NULL) is armed only when the node exists: fires on CHANGED
 * or DELETED. */
int gr_metastore_get(gr_metastore_t *ms, const char *path, void **data, size_t *len,
                     gr_ms_stat_t *stat, gr_ms_watch_fn watch, void *arg);
/* version -1 = unconditional.  stat (may be NULL) receives the new stat. */
int gr_metastore_set(gr_metastore_t *ms, const char *path, const void *data, size_t len,
                     int32_t version, gr_ms_stat_t *stat);
int gr_metastore_delete(gr_metastore_t *ms, const char *path, int32_t version);
/* 0 if it exists, GR_ENOTFOUND if not.  As in ZooKeeper, the watch is armed
 * either way: CREATED, CHANGED or DELETED. */
int gr_metastore_exists(gr_metastore_t *ms, const char *path, gr_ms_stat_t *stat,
                        gr_ms_watch_fn watch, void *arg);
/* Child names (not paths), sorted, malloc'd; free with
 * gr_metastore_free_children.  watch fires CHILD on a child create/delete,
 * or DELETED when the node itself goes. */
int gr_metastore_children(gr_metastore_t *ms, const char *path, char ***names, int *n,
                          gr_ms_watch_fn watch, void *arg);
void gr_metastore_free_children(char **names, int n);
/* Atomic: either every op applies or none does.  Returns 0 or the first
 * failing op's error (each op's `result` says which). */
int gr_metastore_multi(gr_metastore_t *ms, gr_ms_op_t *ops, int n);
/* Closes; ephemeral nodes go away (the local store fires no watches). */
void gr_metastore_close(gr_metastore_t *ms);

/* Helpers built on the ops. */
/* Creates every missing ancestor of path and path itself (persistent,
 * empty data for the ancestors).  GR_EEXISTS only if `path` itself exists. */
int gr_metastore_create_parents(gr_metastore_t *ms, const char *path, const void *data, size_t len,
                                int flags);
/* Deletes path and everything below it (unconditionally). */
int gr_metastore_delete_recursive(gr_metastore_t *ms, const char *path);

#endif
