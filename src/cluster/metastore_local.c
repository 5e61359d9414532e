/* The local metadata store: the ZooKeeper model in process memory, persisted
 * to DATA_DIR/__gregor_metadata after every mutation.
 *
 * Every mutation (single op or multi) runs as a small transaction under the
 * store mutex: primitives apply changes to the tree and push undo records to
 * a journal and events to a list; then the tree is written to a temp file,
 * fsynced, renamed over the old file and the directory fsynced.  If an op
 * fails or the write fails, the journal is replayed backwards, so memory
 * never holds what the disk does not.  Watches matching the events are
 * detached under the lock and called after it is released.
 *
 * File format (little endian):
 *   "GRMETA01" u64 zxid u32 count
 *   count x { u16 path_len, path, u32 data_len, data, i32 version,
 *             i32 cversion, i64 czxid, i64 mzxid, i64 ctime, i64 mtime }
 *   u32 crc32c of everything before it
 * Nodes are written parents first; ephemeral nodes are not written.
 */
#include "cluster/metastore.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "protocol/errors.h"
#include "util/crc32c.h"
#include "util/hash.h"
#include "util/log.h"

#define FILE_NAME "__gregor_metadata"
#define MAGIC "GRMETA01"

typedef struct node node_t;
struct node {
    char *path;
    const char *name;               /* last segment, inside path */
    uint8_t *data;
    size_t len;
    int32_t version, cversion;
    int64_t czxid, mzxid, ctime, mtime;
    bool ephemeral;
    node_t *parent;
    node_t **kids;
    int nkids, capkids;
    node_t *hnext;                  /* hash chain */
};

enum { UNDO_CREATE, UNDO_SET, UNDO_DELETE };
typedef struct undo {
    int type;
    node_t *node;
    int32_t parent_cversion;        /* CREATE, DELETE */
    uint8_t *old_data;              /* SET */
    size_t old_len;
    int32_t old_version;
    int64_t old_mzxid, old_mtime;
} undo_t;

enum { WATCH_DATA, WATCH_CHILD };
typedef struct watch watch_t;
struct watch {
    char *path;
    int kind;
    gr_ms_watch_fn fn;
    void *arg;
    watch_t *next;
};

typedef struct event {
    int type;
    char *path;
} event_t;

typedef struct local {
    gr_metastore_t base;
    pthread_mutex_t mu;
    char *dir, *file, *tmp;
    node_t *root;
    node_t **buckets;
    size_t nbuckets, nnodes;
    int64_t zxid;
    undo_t *journal;
    int njournal, capjournal;
    event_t *events;
    int nevents, capevents;
    watch_t *watches;
} local_t;

/* --- helpers --- */

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static bool path_valid(const char *p)
{
    size_t n = p ? strlen(p) : 0;
    if (n == 0 || n >= GR_MS_PATH_MAX || p[0] != '/') return false;
    if (n == 1) return true;
    if (p[n - 1] == '/') return false;
    for (const char *s = p; *s; ) {
        /* s points at a '/': check the segment after it */
        const char *e = strchr(s + 1, '/');
        size_t len = e ? (size_t)(e - s - 1) : strlen(s + 1);
        if (len == 0) return false;
        if ((len == 1 && s[1] == '.') || (len == 2 && s[1] == '.' && s[2] == '.')) return false;
        if (!e) break;
        s = e;
    }
    for (const char *s = p; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return false;
    return true;
}

static node_t *lookup(local_t *l, const char *path)
{
    node_t *n = l->buckets[gr_fnv1a64_str(path) & (l->nbuckets - 1)];
    while (n && strcmp(n->path, path) != 0) n = n->hnext;
    return n;
}

static int hash_grow(local_t *l)
{
    size_t nb = l->nbuckets * 2;
    node_t **b = calloc(nb, sizeof *b);
    if (!b) return GR_ENOMEM;
    for (size_t i = 0; i < l->nbuckets; i++) {
        node_t *n = l->buckets[i];
        while (n) {
            node_t *next = n->hnext;
            size_t h = gr_fnv1a64_str(n->path) & (nb - 1);
            n->hnext = b[h];
            b[h] = n;
            n = next;
        }
    }
    free(l->buckets);
    l->buckets = b;
    l->nbuckets = nb;
    return 0;
}

static void hash_insert(local_t *l, node_t *n)
{
    size_t h = gr_fnv1a64_str(n->path) & (l->nbuckets - 1);
    n->hnext = l->buckets[h];
    l->buckets[h] = n;
    l->nnodes++;
}

static void hash_remove(local_t *l, node_t *n)
{
    node_t **pp = &l->buckets[gr_fnv1a64_str(n->path) & (l->nbuckets - 1)];
    while (*pp && *pp != n) pp = &(*pp)->hnext;
    if (*pp) { *pp = n->hnext; l->nnodes--; }
    n->hnext = NULL;
}

static int kid_add(node_t *parent, node_t *n)
{
    if (parent->nkids == parent->capkids) {
        int nc = parent->capkids ? parent->capkids * 2 : 4;
        node_t **k = realloc(parent->kids, (size_t)nc * sizeof *k);
        if (!k) return GR_ENOMEM;
        parent->kids = k;
        parent->capkids = nc;
    }
    parent->kids[parent->nkids++] = n;
    return 0;
}

static void kid_remove(node_t *parent, node_t *n)
{
    for (int i = 0; i < parent->nkids; i++) {
        if (parent->kids[i] == n) {
            parent->kids[i] = parent->kids[--parent->nkids];
            return;
        }
    }
}

static void node_free(node_t *n)
{
    if (!n) return;
    free(n->path);
    free(n->data);
    free(n->kids);
    free(n);
}

static node_t *node_new(const char *path, const void *data, size_t len)
{
    node_t *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->path = strdup(path);
    n->data = malloc(len ? len : 1);
    if (!n->path || !n->data) { node_free(n); return NULL; }
    if (len) memcpy(n->data, data, len);
    n->len = len;
    n->name = strrchr(n->path, '/') + 1;
    return n;
}

/* The parent path of p (p != "/"), into buf. */
static void parent_path(const char *p, char *buf)
{
    const char *s = strrchr(p, '/');
    size_t n = s == p ? 1 : (size_t)(s - p);
    memcpy(buf, p, n);
    buf[n] = 0;
}

static void fill_stat(const node_t *n, gr_ms_stat_t *st)
{
    if (!st) return;
    st->czxid = n->czxid;
    st->mzxid = n->mzxid;
    st->ctime = n->ctime;
    st->mtime = n->mtime;
    st->version = n->version;
    st->cversion = n->cversion;
    st->num_children = n->nkids;
    st->data_len = (int32_t)n->len;
    st->ephemeral = n->ephemeral;
}

/* --- journal and events --- */

static int journal_push(local_t *l, undo_t u)
{
    if (l->njournal == l->capjournal) {
        int nc = l->capjournal ? l->capjournal * 2 : 8;
        undo_t *j = realloc(l->journal, (size_t)nc * sizeof *j);
        if (!j) return GR_ENOMEM;
        l->journal = j;
        l->capjournal = nc;
    }
    l->journal[l->njournal++] = u;
    return 0;
}

static int event_push(local_t *l, int type, const char *path)
{
    if (l->nevents == l->capevents) {
        int nc = l->capevents ? l->capevents * 2 : 8;
        event_t *e = realloc(l->events, (size_t)nc * sizeof *e);
        if (!e) return GR_ENOMEM;
        l->events = e;
        l->capevents = nc;
    }
    char *p = strdup(path);
    if (!p) return GR_ENOMEM;
    l->events[l->nevents++] = (event_t){type, p};
    return 0;
}

static void events_clear(local_t *l)
{
    for (int i = 0; i < l->nevents; i++) free(l->events[i].path);
    l->nevents = 0;
}

/* Undoes the journal, newest first. */
static void rollback(local_t *l, int64_t zxid)
{
    for (int i = l->njournal; i-- > 0;) {
        undo_t *u = &l->journal[i];
        node_t *n = u->node;
        switch (u->type) {
        case UNDO_CREATE:
            kid_remove(n->parent, n);
            n->parent->cversion = u->parent_cversion;
            hash_remove(l, n);
            node_free(n);
            break;
        case UNDO_SET:
            free(n->data);
            n->data = u->old_data;
            n->len = u->old_len;
            n->version = u->old_version;
            n->mzxid = u->old_mzxid;
            n->mtime = u->old_mtime;
            break;
        case UNDO_DELETE:
            /* Kid arrays never shrink, so the slot the delete freed is still there. */
            n->parent->kids[n->parent->nkids++] = n;
            n->parent->cversion = u->parent_cversion;
            hash_insert(l, n);
            break;
        }
    }
    l->njournal = 0;
    l->zxid = zxid;
    events_clear(l);
}

/* Frees what the journal kept for undo; the changes stand. */
static void journal_commit(local_t *l)
{
    for (int i = 0; i < l->njournal; i++) {
        undo_t *u = &l->journal[i];
        if (u->type == UNDO_SET) free(u->old_data);
        else if (u->type == UNDO_DELETE) node_free(u->node);
    }
    l->njournal = 0;
}

/* --- persistence --- */

typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} wbuf_t;

static void wput(wbuf_t *w, const void *d, size_t n)
{
    if (w->oom) return;
    if (w->n + n > w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 4096;
        while (nc < w->n + n) nc *= 2;
        uint8_t *np = realloc(w->p, nc);
        if (!np) { w->oom = true; return; }
        w->p = np;
        w->cap = nc;
    }
    memcpy(w->p + w->n, d, n);
    w->n += n;
}

static void wu16(wbuf_t *w, uint16_t v) { uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)}; wput(w, b, 2); }
static void wu32(wbuf_t *w, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
    wput(w, b, 4);
}
static void wu64(wbuf_t *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
    wput(w, b, 8);
}

static void serialize_node(wbuf_t *w, const node_t *n, uint32_t *count)
{
    if (n->ephemeral) return;
    size_t pl = strlen(n->path);
    wu16(w, (uint16_t)pl);
    wput(w, n->path, pl);
    wu32(w, (uint32_t)n->len);
    wput(w, n->data, n->len);
    wu32(w, (uint32_t)n->version);
    wu32(w, (uint32_t)n->cversion);
    wu64(w, (uint64_t)n->czxid);
    wu64(w, (uint64_t)n->mzxid);
    wu64(w, (uint64_t)n->ctime);
    wu64(w, (uint64_t)n->mtime);
    (*count)++;
    for (int i = 0; i < n->nkids; i++) serialize_node(w, n->kids[i], count);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Writes the whole tree: temp file, fsync, rename, directory fsync — so a
 * crash leaves either the old or the new file, never a torn one. */
static int persist(local_t *l)
{
    int rc = 0, fd = -1, dfd = -1;
    wbuf_t w = {0};
    uint32_t count = 0;
    wput(&w, MAGIC, 8);
    wu64(&w, (uint64_t)l->zxid);
    wu32(&w, 0);                                /* count, patched below */
    serialize_node(&w, l->root, &count);
    if (w.oom) { rc = GR_ENOMEM; goto done; }
    for (int i = 0; i < 4; i++) w.p[16 + i] = (uint8_t)(count >> (8 * i));
    wu32(&w, gr_crc32c(0, w.p, w.n));
    if (w.oom) { rc = GR_ENOMEM; goto done; }
    fd = open(l->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write_all(fd, w.p, w.n) < 0 || fsync(fd) < 0) {
        gr_error("metastore: writing %s: %s", l->tmp, strerror(errno));
        rc = GR_EIO;
        goto done;
    }
    close(fd);
    fd = -1;
    if (rename(l->tmp, l->file) < 0) {
        gr_error("metastore: renaming %s: %s", l->tmp, strerror(errno));
        rc = GR_EIO;
        goto done;
    }
    dfd = open(l->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) < 0) {
        gr_error("metastore: fsync of %s: %s", l->dir, strerror(errno));
        rc = GR_EIO;
        goto done;
    }
done:
    if (fd >= 0) close(fd);
    if (dfd >= 0) close(dfd);
    free(w.p);
    return rc;
}

typedef struct rbuf {
    const uint8_t *p;
    size_t n, off;
    bool bad;
} rbuf_t;

static const uint8_t *rget(rbuf_t *r, size_t n)
{
    if (r->bad || r->n - r->off < n) { r->bad = true; return NULL; }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}
static uint64_t rle(rbuf_t *r, int bytes)
{
    const uint8_t *p = rget(r, (size_t)bytes);
    uint64_t v = 0;
    if (!p) return 0;
    for (int i = bytes; i-- > 0;) v = v << 8 | p[i];
    return v;
}

/* --- transaction primitives (lock held) --- */

static int do_create(local_t *l, const char *path, const void *data, size_t len, int flags,
                     char *out, size_t cap)
{
    char ppath[GR_MS_PATH_MAX], full[GR_MS_PATH_MAX + 16];
    node_t *parent, *n = NULL;
    int rc;
    if (!path_valid(path) || strcmp(path, "/") == 0 || (!data && len)) return GR_EINVAL;
    if (len > GR_MS_DATA_MAX) return GR_ETOOLARGE;
    parent_path(path, ppath);
    parent = lookup(l, ppath);
    if (!parent) return GR_ENOTFOUND;
    if (parent->ephemeral) return GR_EINVAL;        /* ZooKeeper: NOCHILDRENFOREPHEMERALS */
    if (flags & GR_MS_SEQUENTIAL) {
        /* ZooKeeper numbers sequential children with the parent's cversion. */
        snprintf(full, sizeof full, "%s%010d", path, parent->cversion);
        if (strlen(full) >= GR_MS_PATH_MAX) return GR_EINVAL;
    } else {
        snprintf(full, sizeof full, "%s", path);
    }
    if (lookup(l, full)) return GR_EEXISTS;
    if (l->nnodes + 1 > l->nbuckets && (rc = hash_grow(l))) return rc;
    n = node_new(full, data, len);
    if (!n) return GR_ENOMEM;
    if ((rc = kid_add(parent, n))) { node_free(n); return rc; }
    rc = journal_push(l, (undo_t){.type = UNDO_CREATE, .node = n, .parent_cversion = parent->cversion});
    if (rc) { parent->nkids--; node_free(n); return rc; }
    n->parent = parent;
    n->ephemeral = (flags & GR_MS_EPHEMERAL) != 0;
    n->czxid = n->mzxid = ++l->zxid;
    n->ctime = n->mtime = now_ms();
    parent->cversion++;
    hash_insert(l, n);
    if ((rc = event_push(l, GR_MS_EVENT_CREATED, full)) || (rc = event_push(l, GR_MS_EVENT_CHILD, ppath)))
        return rc;
    if (out && cap) snprintf(out, cap, "%s", full);
    return 0;
}

static int do_set(local_t *l, const char *path, const void *data, size_t len, int32_t version,
                  gr_ms_stat_t *st)
{
    node_t *n;
    uint8_t *copy;
    int rc;
    if (!path_valid(path) || (!data && len)) return GR_EINVAL;
    if (len > GR_MS_DATA_MAX) return GR_ETOOLARGE;
    if (!(n = lookup(l, path))) return GR_ENOTFOUND;
    if (version >= 0 && version != n->version) return GR_EBADVERSION;
    if (!(copy = malloc(len ? len : 1))) return GR_ENOMEM;
    if (len) memcpy(copy, data, len);
    rc = journal_push(l, (undo_t){.type = UNDO_SET, .node = n, .old_data = n->data, .old_len = n->len,
                                  .old_version = n->version, .old_mzxid = n->mzxid, .old_mtime = n->mtime});
    if (rc) { free(copy); return rc; }
    n->data = copy;
    n->len = len;
    n->version++;
    n->mzxid = ++l->zxid;
    n->mtime = now_ms();
    fill_stat(n, st);
    return event_push(l, GR_MS_EVENT_CHANGED, path);
}

static int do_delete(local_t *l, const char *path, int32_t version)
{
    node_t *n;
    int rc;
    if (!path_valid(path) || strcmp(path, "/") == 0) return GR_EINVAL;
    if (!(n = lookup(l, path))) return GR_ENOTFOUND;
    if (version >= 0 && version != n->version) return GR_EBADVERSION;
    if (n->nkids) return GR_ENOTEMPTY;
    rc = journal_push(l, (undo_t){.type = UNDO_DELETE, .node = n, .parent_cversion = n->parent->cversion});
    if (rc) return rc;
    kid_remove(n->parent, n);
    n->parent->cversion++;
    hash_remove(l, n);
    l->zxid++;
    if ((rc = event_push(l, GR_MS_EVENT_DELETED, path)) || (rc = event_push(l, GR_MS_EVENT_CHILD, n->parent->path)))
        return rc;
    return 0;
}

static int do_check(local_t *l, const char *path, int32_t version)
{
    node_t *n = path_valid(path) ? lookup(l, path) : NULL;
    if (!n) return path_valid(path) ? GR_ENOTFOUND : GR_EINVAL;
    if (version >= 0 && version != n->version) return GR_EBADVERSION;
    return 0;
}

/* Ends a transaction: commits (persisting) or rolls back, detaches the
 * watches the events trigger, unlocks and calls them.  Returns rc or the
 * persistence error. */
typedef struct fire {
    gr_ms_watch_fn fn;
    void *arg;
    int event;
    char *path;
} fire_t;

static int finish(local_t *l, int rc, int64_t zxid0)
{
    fire_t *fires = NULL;
    int nfires = 0;
    if (rc == 0 && l->njournal) {
        rc = persist(l);
    }
    if (rc) {
        rollback(l, zxid0);
        pthread_mutex_unlock(&l->mu);
        return rc;
    }
    journal_commit(l);
    /* Each watch fires at most once, so at most (watches) fires. */
    int nw = 0;
    for (watch_t *w = l->watches; w; w = w->next) nw++;
    if (nw && l->nevents) fires = calloc((size_t)nw, sizeof *fires);
    for (int i = 0; fires && i < l->nevents; i++) {
        event_t *e = &l->events[i];
        for (watch_t **pp = &l->watches; *pp;) {
            watch_t *w = *pp;
            bool match = strcmp(w->path, e->path) == 0 &&
                         (e->type == GR_MS_EVENT_CHILD ? w->kind == WATCH_CHILD
                          : e->type == GR_MS_EVENT_DELETED ? true
                          : w->kind == WATCH_DATA);
            if (!match) { pp = &w->next; continue; }
            *pp = w->next;
            fires[nfires++] = (fire_t){w->fn, w->arg, e->type, w->path};
            free(w);
        }
    }
    events_clear(l);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < nfires; i++) {
        fires[i].fn(fires[i].arg, &l->base, fires[i].event, fires[i].path);
        free(fires[i].path);
    }
    free(fires);
    return 0;
}

static int add_watch(local_t *l, const char *path, int kind, gr_ms_watch_fn fn, void *arg)
{
    watch_t *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) { free(w); return GR_ENOMEM; }
    w->kind = kind;
    w->fn = fn;
    w->arg = arg;
    w->next = l->watches;
    l->watches = w;
    return 0;
}

/* --- ops --- */

static int l_create(gr_metastore_t *ms, const char *path, const void *data, size_t len, int flags,
                    char *created, size_t cap)
{
    local_t *l = (local_t *)ms;
    pthread_mutex_lock(&l->mu);
    int64_t z = l->zxid;
    int rc = do_create(l, path, data, len, flags, created, cap);
    return finish(l, rc, z);
}

static int l_set(gr_metastore_t *ms, const char *path, const void *data, size_t len, int32_t version,
                 gr_ms_stat_t *st)
{
    local_t *l = (local_t *)ms;
    pthread_mutex_lock(&l->mu);
    int64_t z = l->zxid;
    int rc = do_set(l, path, data, len, version, st);
    return finish(l, rc, z);
}

static int l_delete(gr_metastore_t *ms, const char *path, int32_t version)
{
    local_t *l = (local_t *)ms;
    pthread_mutex_lock(&l->mu);
    int64_t z = l->zxid;
    int rc = do_delete(l, path, version);
    return finish(l, rc, z);
}

static int l_multi(gr_metastore_t *ms, gr_ms_op_t *ops, int n)
{
    local_t *l = (local_t *)ms;
    int rc = 0;
    pthread_mutex_lock(&l->mu);
    int64_t z = l->zxid;
    for (int i = 0; i < n; i++) ops[i].result = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        gr_ms_op_t *o = &ops[i];
        switch (o->type) {
        case GR_MS_OP_CHECK: rc = do_check(l, o->path, o->version); break;
        case GR_MS_OP_CREATE: rc = do_create(l, o->path, o->data, o->len, o->flags, NULL, 0); break;
        case GR_MS_OP_SET: rc = do_set(l, o->path, o->data, o->len, o->version, NULL); break;
        case GR_MS_OP_DELETE: rc = do_delete(l, o->path, o->version); break;
        default: rc = GR_EINVAL; break;
        }
        o->result = rc;
    }
    return finish(l, rc, z);
}

static int l_get(gr_metastore_t *ms, const char *path, void **data, size_t *len, gr_ms_stat_t *st,
                 gr_ms_watch_fn watch, void *arg)
{
    local_t *l = (local_t *)ms;
    int rc = 0;
    uint8_t *copy = NULL;
    if (data) *data = NULL;
    if (len) *len = 0;
    if (!path_valid(path)) return GR_EINVAL;
    pthread_mutex_lock(&l->mu);
    node_t *n = lookup(l, path);
    if (!n) { rc = GR_ENOTFOUND; goto done; }
    if (data) {
        /* A trailing NUL so JSON text can be used as a C string. */
        if (!(copy = malloc(n->len + 1))) { rc = GR_ENOMEM; goto done; }
        memcpy(copy, n->data, n->len);
        copy[n->len] = 0;
    }
    if (watch && (rc = add_watch(l, path, WATCH_DATA, watch, arg))) goto done;
    fill_stat(n, st);
    if (len) *len = n->len;
    if (data) { *data = copy; copy = NULL; }
done:
    pthread_mutex_unlock(&l->mu);
    free(copy);
    return rc;
}

static int l_exists(gr_metastore_t *ms, const char *path, gr_ms_stat_t *st, gr_ms_watch_fn watch, void *arg)
{
    local_t *l = (local_t *)ms;
    int rc = 0;
    if (!path_valid(path)) return GR_EINVAL;
    pthread_mutex_lock(&l->mu);
    node_t *n = lookup(l, path);
    /* As ZooKeeper, exists arms the watch whether or not the node exists. */
    if (watch && (rc = add_watch(l, path, WATCH_DATA, watch, arg))) goto done;
    if (!n) { rc = GR_ENOTFOUND; goto done; }
    fill_stat(n, st);
done:
    pthread_mutex_unlock(&l->mu);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int l_children(gr_metastore_t *ms, const char *path, char ***names, int *count,
                      gr_ms_watch_fn watch, void *arg)
{
    local_t *l = (local_t *)ms;
    int rc = 0, k = 0;
    char **out = NULL;
    *names = NULL;
    *count = 0;
    if (!path_valid(path)) return GR_EINVAL;
    pthread_mutex_lock(&l->mu);
    node_t *n = lookup(l, path);
    if (!n) { rc = GR_ENOTFOUND; goto done; }
    out = calloc((size_t)n->nkids + 1, sizeof *out);
    if (!out) { rc = GR_ENOMEM; goto done; }
    for (; k < n->nkids; k++)
        if (!(out[k] = strdup(n->kids[k]->name))) { rc = GR_ENOMEM; goto done; }
    if (watch && (rc = add_watch(l, path, WATCH_CHILD, watch, arg))) goto done;
    qsort(out, (size_t)k, sizeof *out, cmp_str);
    *names = out;
    *count = k;
    out = NULL;
done:
    pthread_mutex_unlock(&l->mu);
    gr_metastore_free_children(out, k);
    return rc;
}

static void free_tree(node_t *n)
{
    for (int i = 0; i < n->nkids; i++) free_tree(n->kids[i]);
    node_free(n);
}

static void l_close(gr_metastore_t *ms)
{
    local_t *l = (local_t *)ms;
    if (l->root) free_tree(l->root);
    for (watch_t *w = l->watches, *next; w; w = next) {
        next = w->next;
        free(w->path);
        free(w);
    }
    events_clear(l);
    free(l->events);
    free(l->journal);
    free(l->buckets);
    free(l->dir);
    free(l->file);
    free(l->tmp);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static const gr_metastore_ops_t local_ops = {
    .create = l_create,
    .get = l_get,
    .set = l_set,
    .del = l_delete,
    .exists = l_exists,
    .children = l_children,
    .multi = l_multi,
    .close = l_close,
};

/* Loads the file into the (root-only) tree.  Anything that does not check
 * out is GR_ECORRUPT: the operator must look, not lose topics silently. */
static int load(local_t *l)
{
    int rc = 0, fd = -1;
    uint8_t *buf = NULL;
    size_t n = 0;
    struct stat st;
    fd = open(l->file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) goto done;             /* a new store */
        gr_error("metastore: opening %s: %s", l->file, strerror(errno));
        rc = GR_EIO;
        goto done;
    }
    if (fstat(fd, &st) < 0) { rc = GR_EIO; goto done; }
    if (!(buf = malloc((size_t)st.st_size + 1))) { rc = GR_ENOMEM; goto done; }
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    rbuf_t r = {buf, n, 0, false};
    if (n < 24 || memcmp(buf, MAGIC, 8) != 0) {
        gr_error("metastore: %s: bad header", l->file);
        rc = GR_ECORRUPT;
        goto done;
    }
    uint32_t want = (uint32_t)buf[n - 4] | (uint32_t)buf[n - 3] << 8 | (uint32_t)buf[n - 2] << 16 |
                    (uint32_t)buf[n - 1] << 24;
    if (gr_crc32c(0, buf, n - 4) != want) {
        gr_error("metastore: %s: checksum mismatch", l->file);
        rc = GR_ECORRUPT;
        goto done;
    }
    r.n = n - 4;
    r.off = 8;
    l->zxid = (int64_t)rle(&r, 8);
    uint32_t count = (uint32_t)rle(&r, 4);
    for (uint32_t i = 0; i < count && !r.bad; i++) {
        char path[GR_MS_PATH_MAX], pp[GR_MS_PATH_MAX];
        size_t pl = (size_t)rle(&r, 2);
        const uint8_t *ps = rget(&r, pl);
        size_t dl = (size_t)rle(&r, 4);
        const uint8_t *ds = rget(&r, dl);
        if (r.bad || pl == 0 || pl >= GR_MS_PATH_MAX || dl > GR_MS_DATA_MAX) { r.bad = true; break; }
        memcpy(path, ps, pl);
        path[pl] = 0;
        if (!path_valid(path) || memchr(path, 0, pl)) { r.bad = true; break; }
        node_t *node;
        if (strcmp(path, "/") == 0) {
            node = l->root;
            free(node->data);
            if (!(node->data = malloc(dl ? dl : 1))) { rc = GR_ENOMEM; goto done; }
            if (dl) memcpy(node->data, ds, dl);
            node->len = dl;
        } else {
            parent_path(path, pp);
            node_t *parent = lookup(l, pp);
            if (!parent || lookup(l, path)) { r.bad = true; break; }
            if (l->nnodes + 1 > l->nbuckets && (rc = hash_grow(l))) goto done;
            if (!(node = node_new(path, ds, dl))) { rc = GR_ENOMEM; goto done; }
            if ((rc = kid_add(parent, node))) { node_free(node); goto done; }
            node->parent = parent;
            hash_insert(l, node);
        }
        node->version = (int32_t)rle(&r, 4);
        node->cversion = (int32_t)rle(&r, 4);
        node->czxid = (int64_t)rle(&r, 8);
        node->mzxid = (int64_t)rle(&r, 8);
        node->ctime = (int64_t)rle(&r, 8);
        node->mtime = (int64_t)rle(&r, 8);
    }
    if (r.bad || r.off != r.n) {
        gr_error("metastore: %s: malformed node records", l->file);
        rc = GR_ECORRUPT;
        goto done;
    }
done:
    if (fd >= 0) close(fd);
    free(buf);
    return rc;
}

static int mkdir_p(const char *dir)
{
    char *p = strdup(dir);
    int rc = 0;
    if (!p) return GR_ENOMEM;
    for (char *s = p + 1; ; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0755) < 0 && errno != EEXIST) {
                gr_error("metastore: mkdir %s: %s", p, strerror(errno));
                rc = GR_EIO;
                break;
            }
            *s = c;
            if (!c) break;
        }
    }
    free(p);
    return rc;
}

int gr_metastore_local_open(const char *data_dir, gr_metastore_t **out)
{
    int rc = 0;
    local_t *l = calloc(1, sizeof *l);
    *out = NULL;
    if (!l) return GR_ENOMEM;
    pthread_mutex_init(&l->mu, NULL);
    l->base.ops = &local_ops;
    l->base.kind = "local";
    l->nbuckets = 64;
    l->buckets = calloc(l->nbuckets, sizeof *l->buckets);
    l->dir = strdup(data_dir);
    if (asprintf(&l->file, "%s/%s", data_dir, FILE_NAME) < 0) l->file = NULL;
    if (asprintf(&l->tmp, "%s/%s.tmp", data_dir, FILE_NAME) < 0) l->tmp = NULL;
    l->root = node_new("/", NULL, 0);
    if (!l->buckets || !l->dir || !l->file || !l->tmp || !l->root) { rc = GR_ENOMEM; goto done; }
    l->root->name = l->root->path + 1;              /* "" */
    hash_insert(l, l->root);
    if ((rc = mkdir_p(data_dir))) goto done;
    unlink(l->tmp);                                 /* a half-written leftover of a crash */
    rc = load(l);
done:
    if (rc) l_close(&l->base);
    else *out = &l->base;
    return rc;
}
