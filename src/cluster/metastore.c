/* The store-independent half of the metadata store: dispatch through the
 * ops table, and helpers built only on the ops (so every store gets them). */
#include "cluster/metastore.h"

#include <stdlib.h>
#include <string.h>

#include "protocol/errors.h"

int gr_metastore_create(gr_metastore_t *ms, const char *path, const void *data, size_t len,
                        int flags, char *created_path, size_t cap)
{
    return ms->ops->create(ms, path, data, len, flags, created_path, cap);
}

int gr_metastore_get(gr_metastore_t *ms, const char *path, void **data, size_t *len,
                     gr_ms_stat_t *stat, gr_ms_watch_fn watch, void *arg)
{
    return ms->ops->get(ms, path, data, len, stat, watch, arg);
}

int gr_metastore_set(gr_metastore_t *ms, const char *path, const void *data, size_t len,
                     int32_t version, gr_ms_stat_t *stat)
{
    return ms->ops->set(ms, path, data, len, version, stat);
}

int gr_metastore_delete(gr_metastore_t *ms, const char *path, int32_t version)
{
    return ms->ops->del(ms, path, version);
}

int gr_metastore_exists(gr_metastore_t *ms, const char *path, gr_ms_stat_t *stat,
                        gr_ms_watch_fn watch, void *arg)
{
    return ms->ops->exists(ms, path, stat, watch, arg);
}

int gr_metastore_children(gr_metastore_t *ms, const char *path, char ***names, int *n,
                          gr_ms_watch_fn watch, void *arg)
{
    return ms->ops->children(ms, path, names, n, watch, arg);
}

int gr_metastore_multi(gr_metastore_t *ms, gr_ms_op_t *ops, int n)
{
    return ms->ops->multi(ms, ops, n);
}

void gr_metastore_close(gr_metastore_t *ms)
{
    if (ms) ms->ops->close(ms);
}

void gr_metastore_free_children(char **names, int n)
{
    if (!names) return;
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

int gr_metastore_create_parents(gr_metastore_t *ms, const char *path, const void *data, size_t len,
                                int flags)
{
    int rc = 0;
    char *p = strdup(path);
    if (!p) return GR_ENOMEM;
    /* Create each ancestor in turn; GR_EEXISTS for an ancestor is fine
     * (another writer may race us, as with ZooKeeper's makeSurePersistentPathExists). */
    for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = 0;
        rc = gr_metastore_create(ms, p, NULL, 0, GR_MS_PERSISTENT, NULL, 0);
        *s = '/';
        if (rc && rc != GR_EEXISTS) goto done;
    }
    rc = gr_metastore_create(ms, path, data, len, flags, NULL, 0);
done:
    free(p);
    return rc;
}

int gr_metastore_delete_recursive(gr_metastore_t *ms, const char *path)
{
    char **kids = NULL;
    int n = 0, rc;
    size_t plen = strlen(path);
    rc = gr_metastore_children(ms, path, &kids, &n, NULL, NULL);
    if (rc) goto done;
    for (int i = 0; i < n; i++) {
        char *child = malloc(plen + strlen(kids[i]) + 2);
        if (!child) { rc = GR_ENOMEM; goto done; }
        /* The root's children are "/x", not "//x". */
        strcpy(child, path);
        if (plen > 1) strcat(child, "/");
        strcat(child, kids[i]);
        rc = gr_metastore_delete_recursive(ms, child);
        free(child);
        if (rc && rc != GR_ENOTFOUND) goto done;
    }
    rc = gr_metastore_delete(ms, path, -1);
done:
    gr_metastore_free_children(kids, n);
    return rc;
}
