/* The topic registry: Kafka's znodes in the metadata store, mirrored in two
 * hash maps.  Writers are serialized by write_mu (store first, then maps);
 * readers take the rwlock briefly and get immutable topic objects. */
#include "cluster/topics.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>

#include "protocol/errors.h"
#include "util/json.h"
#include "util/log.h"

typedef struct ent ent_t;
struct ent {
    gr_topic_t *t;
    ent_t *next_name, *next_id;
};

typedef struct retired retired_t;
struct retired {
    gr_topic_t *t;
    retired_t *next;
};

struct gr_topics {
    gr_metastore_t *ms;
    const gr_broker_config_t *bc;
    int32_t broker_id;
    pthread_mutex_t write_mu;       /* one mutation at a time */
    pthread_rwlock_t lock;          /* the maps */
    ent_t **by_name, **by_id;
    size_t nbuckets, count;
    retired_t *retired;
    char cluster_id[64];
    gr_topics_listener_fn listener;
    void *listener_arg;
};

/* --- small helpers --- */

static uint64_t hash_bytes(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ULL;    /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

static void topic_free(gr_topic_t *t)
{
    if (!t) return;
    if (t->replicas)
        for (int32_t p = 0; p < t->partition_count; p++) free(t->replicas[p]);
    free(t->replicas);
    gr_config_kv_free(t->configs, t->nconfigs);
    free(t->name);
    free(t);
}

static int cmp_kv(const void *a, const void *b)
{
    return strcmp(((const gr_config_kv_t *)a)->key, ((const gr_config_kv_t *)b)->key);
}

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void gr_topic_id_format(const gr_uuid_t *id, char out[23])
{
    int o = 0;
    for (int i = 0; i < 15; i += 3) {
        uint32_t v = (uint32_t)id->b[i] << 16 | (uint32_t)id->b[i + 1] << 8 | id->b[i + 2];
        out[o++] = B64URL[v >> 18 & 63];
        out[o++] = B64URL[v >> 12 & 63];
        out[o++] = B64URL[v >> 6 & 63];
        out[o++] = B64URL[v & 63];
    }
    out[o++] = B64URL[id->b[15] >> 2];
    out[o++] = B64URL[(id->b[15] & 3) << 4];
    out[o] = 0;
}

int gr_topic_id_parse(const char *s, size_t len, gr_uuid_t *out)
{
    uint8_t v[22];
    if (len != 22) return GR_EINVAL;
    for (int i = 0; i < 22; i++) {
        const char *p = s[i] ? strchr(B64URL, s[i]) : NULL;
        if (!p) return GR_EINVAL;
        v[i] = (uint8_t)(p - B64URL);
    }
    if (v[21] & 15) return GR_EINVAL;               /* not canonical: stray low bits */
    for (int i = 0, o = 0; i < 20; i += 4, o += 3) {
        uint32_t x = (uint32_t)v[i] << 18 | (uint32_t)v[i + 1] << 12 | (uint32_t)v[i + 2] << 6 | v[i + 3];
        out->b[o] = (uint8_t)(x >> 16);
        out->b[o + 1] = (uint8_t)(x >> 8);
        out->b[o + 2] = (uint8_t)x;
    }
    out->b[15] = (uint8_t)(v[20] << 2 | v[21] >> 4);
    return 0;
}

void gr_topic_id_random(gr_uuid_t *out)
{
    char text[23];
    for (;;) {
        if (getrandom(out->b, sizeof out->b, 0) != (ssize_t)sizeof out->b) {
            /* getrandom cannot fail for 16 bytes once the pool is ready;
             * fall back to the clock and address so we never spin. */
            struct timeval tv;
            gettimeofday(&tv, NULL);
            uint64_t a = (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec, b = (uint64_t)(uintptr_t)out;
            a ^= hash_bytes(&b, sizeof b);
            memcpy(out->b, &a, 8);
            b = hash_bytes(&a, 8);
            memcpy(out->b + 8, &b, 8);
        }
        /* Kafka's UUID is a v4 UUID: version and variant bits. */
        out->b[6] = (uint8_t)((out->b[6] & 0x0f) | 0x40);
        out->b[8] = (uint8_t)((out->b[8] & 0x3f) | 0x80);
        gr_topic_id_format(out, text);
        if (!gr_uuid_is_zero(out) && text[0] != '-') return;
    }
}

bool gr_topic_name_valid(const char *name, size_t len)
{
    if (!name || len == 0 || len > GR_TOPIC_NAME_MAX) return false;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.')) return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool gr_topic_name_internal(const char *name, size_t len)
{
    return (len == 18 && memcmp(name, "__consumer_offsets", 18) == 0) ||
           (len == 19 && memcmp(name, "__transaction_state", 19) == 0);
}

/* --- maps (write lock held by callers that modify) --- */

static int maps_grow(gr_topics_t *t)
{
    size_t nb = t->nbuckets * 2;
    ent_t **bn = calloc(nb, sizeof *bn), **bi = calloc(nb, sizeof *bi);
    if (!bn || !bi) { free(bn); free(bi); return GR_ENOMEM; }
    for (size_t i = 0; i < t->nbuckets; i++) {
        for (ent_t *e = t->by_name[i], *next; e; e = next) {
            next = e->next_name;
            size_t h = hash_bytes(e->t->name, strlen(e->t->name)) & (nb - 1);
            e->next_name = bn[h];
            bn[h] = e;
        }
        for (ent_t *e = t->by_id[i], *next; e; e = next) {
            next = e->next_id;
            size_t h = hash_bytes(e->t->id.b, 16) & (nb - 1);
            e->next_id = bi[h];
            bi[h] = e;
        }
    }
    free(t->by_name);
    free(t->by_id);
    t->by_name = bn;
    t->by_id = bi;
    t->nbuckets = nb;
    return 0;
}

static ent_t *find_ent(gr_topics_t *t, const char *name, size_t len)
{
    ent_t *e = t->by_name[hash_bytes(name, len) & (t->nbuckets - 1)];
    while (e && !(strlen(e->t->name) == len && memcmp(e->t->name, name, len) == 0)) e = e->next_name;
    return e;
}

static void retire(gr_topics_t *t, gr_topic_t *old)
{
    retired_t *r = malloc(sizeof *r);
    if (!r) {
        /* Freeing could break a reader still using it; leaking one object on
         * OOM is the lesser harm. */
        gr_warn("topics: out of memory retiring topic %s (leaked)", old->name);
        return;
    }
    r->t = old;
    r->next = t->retired;
    t->retired = r;
}

static void unlink_id(gr_topics_t *t, ent_t *e)
{
    ent_t **pp = &t->by_id[hash_bytes(e->t->id.b, 16) & (t->nbuckets - 1)];
    while (*pp && *pp != e) pp = &(*pp)->next_id;
    if (*pp) *pp = e->next_id;
}

/* Publishes `nt` (replacing a topic of the same name, retired) or, with nt
 * NULL, removes `name`.  Returns the replaced/removed object (retired). */
static const gr_topic_t *publish(gr_topics_t *t, const char *name, gr_topic_t *nt)
{
    gr_topic_t *old = NULL;
    pthread_rwlock_wrlock(&t->lock);
    ent_t *e = find_ent(t, name, strlen(name));
    if (e) {
        old = e->t;
        unlink_id(t, e);
        if (nt) {
            e->t = nt;
            size_t h = hash_bytes(nt->id.b, 16) & (t->nbuckets - 1);
            e->next_id = t->by_id[h];
            t->by_id[h] = e;
        } else {
            ent_t **pp = &t->by_name[hash_bytes(name, strlen(name)) & (t->nbuckets - 1)];
            while (*pp != e) pp = &(*pp)->next_name;
            *pp = e->next_name;
            free(e);
            t->count--;
        }
        retire(t, old);
    } else if (nt) {
        if (t->count + 1 > t->nbuckets) maps_grow(t);    /* on failure the chains just get longer */
        e = calloc(1, sizeof *e);
        if (!e) {
            gr_error("topics: out of memory publishing %s", nt->name);
            retire(t, nt);
        } else {
            e->t = nt;
            size_t h = hash_bytes(nt->name, strlen(nt->name)) & (t->nbuckets - 1);
            e->next_name = t->by_name[h];
            t->by_name[h] = e;
            h = hash_bytes(nt->id.b, 16) & (t->nbuckets - 1);
            e->next_id = t->by_id[h];
            t->by_id[h] = e;
            t->count++;
        }
    }
    pthread_rwlock_unlock(&t->lock);
    return old;
}

/* --- JSON <-> topic --- */

static char *topic_json(const gr_topic_t *tp, size_t *len)
{
    gr_jsonb_t b;
    char id[23], key[16];
    gr_topic_id_format(&tp->id, id);
    gr_jsonb_init(&b);
    gr_jsonb_obj_begin(&b);
    gr_jsonb_key(&b, "version");
    gr_jsonb_int(&b, 3);
    gr_jsonb_key(&b, "partitions");
    gr_jsonb_obj_begin(&b);
    for (int32_t p = 0; p < tp->partition_count; p++) {
        snprintf(key, sizeof key, "%" PRId32, p);
        gr_jsonb_key(&b, key);
        gr_jsonb_arr_begin(&b);
        for (int r = 0; r < tp->replication_factor; r++) gr_jsonb_int(&b, tp->replicas[p][r]);
        gr_jsonb_arr_end(&b);
    }
    gr_jsonb_obj_end(&b);
    gr_jsonb_key(&b, "adding_replicas");
    gr_jsonb_obj_begin(&b);
    gr_jsonb_obj_end(&b);
    gr_jsonb_key(&b, "removing_replicas");
    gr_jsonb_obj_begin(&b);
    gr_jsonb_obj_end(&b);
    gr_jsonb_key(&b, "topic_id");
    gr_jsonb_str(&b, id);
    gr_jsonb_obj_end(&b);
    return gr_jsonb_take(&b, len);
}

static char *config_json(const gr_config_kv_t *kv, int n, size_t *len)
{
    gr_jsonb_t b;
    gr_jsonb_init(&b);
    gr_jsonb_obj_begin(&b);
    gr_jsonb_key(&b, "version");
    gr_jsonb_int(&b, 1);
    gr_jsonb_key(&b, "config");
    gr_jsonb_obj_begin(&b);
    for (int i = 0; i < n; i++) {
        gr_jsonb_key(&b, kv[i].key);
        gr_jsonb_str(&b, kv[i].value);
    }
    gr_jsonb_obj_end(&b);
    gr_jsonb_obj_end(&b);
    return gr_jsonb_take(&b, len);
}

/* Parses /brokers/topics/<name> into a new topic (configs not set). */
static int parse_topic(const char *name, const char *text, size_t len, gr_topic_t **out, bool *had_id)
{
    int rc = GR_ECORRUPT;
    char err[128];
    gr_json_t *j = NULL;
    gr_topic_t *tp = calloc(1, sizeof *tp);
    *out = NULL;
    *had_id = false;
    if (!tp || !(tp->name = strdup(name))) { rc = GR_ENOMEM; goto done; }
    tp->internal = gr_topic_name_internal(name, strlen(name));
    if (gr_json_parse(text, len, &j, err, sizeof err) != 0) {
        gr_error("topics: /brokers/topics/%s: %s", name, err);
        goto done;
    }
    const gr_json_t *parts = gr_json_get(j, "partitions");
    if (!gr_json_is(parts, GR_JSON_OBJECT) || parts->len == 0 || parts->len > INT32_MAX / 2) {
        gr_error("topics: /brokers/topics/%s: no partitions", name);
        goto done;
    }
    tp->partition_count = (int32_t)parts->len;
    if (!(tp->replicas = calloc(parts->len, sizeof *tp->replicas))) { rc = GR_ENOMEM; goto done; }
    for (int32_t p = 0; p < tp->partition_count; p++) {
        char key[16];
        snprintf(key, sizeof key, "%" PRId32, p);
        const gr_json_t *arr = gr_json_get(parts, key);
        if (!gr_json_is(arr, GR_JSON_ARRAY) || arr->len == 0 || arr->len > INT16_MAX ||
            (p > 0 && arr->len != (size_t)tp->replication_factor)) {
            gr_error("topics: /brokers/topics/%s: partition %" PRId32 " missing or malformed", name, p);
            goto done;
        }
        tp->replication_factor = (int16_t)arr->len;
        if (!(tp->replicas[p] = calloc(arr->len, sizeof **tp->replicas))) { rc = GR_ENOMEM; goto done; }
        for (size_t r = 0; r < arr->len; r++) {
            const gr_json_t *id = arr->items[r];
            if (!gr_json_is(id, GR_JSON_INT) || id->i < 0 || id->i > INT32_MAX) {
                gr_error("topics: /brokers/topics/%s: bad replica in partition %" PRId32, name, p);
                goto done;
            }
            tp->replicas[p][r] = (int32_t)id->i;
        }
    }
    const char *id = gr_json_str(gr_json_get(j, "topic_id"), NULL);
    if (id) {
        if (gr_topic_id_parse(id, strlen(id), &tp->id) != 0) {
            gr_error("topics: /brokers/topics/%s: bad topic_id '%s'", name, id);
            goto done;
        }
        *had_id = true;
    }
    *out = tp;
    tp = NULL;
    rc = 0;
done:
    gr_json_free(j);
    topic_free(tp);
    return rc;
}

static int parse_configs(const char *name, const char *text, size_t len, gr_config_kv_t **out, int *n)
{
    int rc = GR_ECORRUPT;
    char err[128];
    gr_json_t *j = NULL;
    gr_config_kv_t *kv = NULL;
    int k = 0;
    *out = NULL;
    *n = 0;
    if (gr_json_parse(text, len, &j, err, sizeof err) != 0) {
        gr_error("topics: /config/topics/%s: %s", name, err);
        goto done;
    }
    const gr_json_t *c = gr_json_get(j, "config");
    if (!c) { rc = 0; goto done; }                  /* no overrides */
    if (!gr_json_is(c, GR_JSON_OBJECT)) {
        gr_error("topics: /config/topics/%s: config is not an object", name);
        goto done;
    }
    if (c->len && !(kv = calloc(c->len, sizeof *kv))) { rc = GR_ENOMEM; goto done; }
    for (size_t i = 0; i < c->len; i++) {
        const char *v = gr_json_str(c->items[i], NULL);
        if (!v) {
            gr_error("topics: /config/topics/%s: %s is not a string", name, c->keys[i]);
            goto done;
        }
        /* Keep keys unique (last wins, as the JSON lookup does). */
        int dup = -1;
        for (int x = 0; x < k; x++) if (strcmp(kv[x].key, c->keys[i]) == 0) dup = x;
        char *vv = strdup(v);
        if (!vv) { rc = GR_ENOMEM; goto done; }
        if (dup >= 0) { free(kv[dup].value); kv[dup].value = vv; continue; }
        if (!(kv[k].key = strdup(c->keys[i]))) { free(vv); rc = GR_ENOMEM; goto done; }
        kv[k++].value = vv;
    }
    if (k) qsort(kv, (size_t)k, sizeof *kv, cmp_kv);
    *out = kv;
    *n = k;
    kv = NULL;
    k = 0;
    rc = 0;
done:
    gr_config_kv_free(kv, k);
    gr_json_free(j);
    return rc;
}

static char *path_of(const char *prefix, const char *name)
{
    char *p;
    return asprintf(&p, "%s/%s", prefix, name) < 0 ? NULL : p;
}

/* Reads one topic (and its configs) from the store.  A topic written without
 * a topic_id (pre-2.8 Kafka) gets one, written back with a CAS, as Kafka's
 * controller does. */
static int load_topic(gr_topics_t *t, const char *name, gr_topic_t **out)
{
    int rc;
    void *data = NULL, *cdata = NULL;
    size_t len = 0, clen = 0;
    gr_ms_stat_t st;
    bool had_id;
    gr_topic_t *tp = NULL;
    char *tpath = path_of("/brokers/topics", name), *cpath = path_of("/config/topics", name);
    *out = NULL;
    if (!tpath || !cpath) { rc = GR_ENOMEM; goto done; }
    if ((rc = gr_metastore_get(t->ms, tpath, &data, &len, &st, NULL, NULL))) goto done;
    if ((rc = parse_topic(name, data, len, &tp, &had_id))) goto done;
    rc = gr_metastore_get(t->ms, cpath, &cdata, &clen, NULL, NULL, NULL);
    if (rc == 0) rc = parse_configs(name, cdata, clen, &tp->configs, &tp->nconfigs);
    else if (rc == GR_ENOTFOUND) rc = 0;
    if (rc) goto done;
    if (!had_id) {
        size_t jl;
        gr_topic_id_random(&tp->id);
        char *j = topic_json(tp, &jl);
        if (!j) { rc = GR_ENOMEM; goto done; }
        rc = gr_metastore_set(t->ms, tpath, j, jl, st.version, NULL);
        free(j);
        if (rc) goto done;
    }
    *out = tp;
    tp = NULL;
done:
    topic_free(tp);
    free(data);
    free(cdata);
    free(tpath);
    free(cpath);
    return rc;
}

static int ensure_path(gr_metastore_t *ms, const char *path)
{
    int rc = gr_metastore_create_parents(ms, path, NULL, 0, GR_MS_PERSISTENT);
    return rc == GR_EEXISTS ? 0 : rc;
}

static int load_cluster_id(gr_topics_t *t)
{
    int rc;
    void *data = NULL;
    size_t len;
    gr_json_t *j = NULL;
    char err[128], *text = NULL;
    rc = gr_metastore_get(t->ms, "/cluster/id", &data, &len, NULL, NULL, NULL);
    if (rc == GR_ENOTFOUND) {
        /* First start of this cluster: a new id, Kafka's JSON (version is a
         * string here). */
        gr_uuid_t id;
        char s[23];
        gr_jsonb_t b;
        gr_topic_id_random(&id);
        gr_topic_id_format(&id, s);
        gr_jsonb_init(&b);
        gr_jsonb_obj_begin(&b);
        gr_jsonb_key(&b, "version");
        gr_jsonb_str(&b, "1");
        gr_jsonb_key(&b, "id");
        gr_jsonb_str(&b, s);
        gr_jsonb_obj_end(&b);
        if (!(text = gr_jsonb_take(&b, &len))) { rc = GR_ENOMEM; goto done; }
        rc = gr_metastore_create(t->ms, "/cluster/id", text, len, GR_MS_PERSISTENT, NULL, 0);
        if (rc == GR_EEXISTS) {                     /* another broker won the race */
            rc = load_cluster_id(t);
            goto done;
        }
        if (rc) goto done;
        snprintf(t->cluster_id, sizeof t->cluster_id, "%s", s);
        goto done;
    }
    if (rc) goto done;
    const char *id = NULL;
    if (gr_json_parse(data, len, &j, err, sizeof err) == 0) id = gr_json_str(gr_json_get(j, "id"), NULL);
    if (!id || !*id || strlen(id) >= sizeof t->cluster_id) {
        gr_error("topics: /cluster/id is malformed");
        rc = GR_ECORRUPT;
        goto done;
    }
    snprintf(t->cluster_id, sizeof t->cluster_id, "%s", id);
done:
    gr_json_free(j);
    free(data);
    free(text);
    return rc;
}

int gr_topics_open(gr_metastore_t *ms, const gr_broker_config_t *bc, gr_topics_t **out)
{
    int rc = 0, n = 0;
    char **names = NULL;
    gr_topics_t *t = calloc(1, sizeof *t);
    *out = NULL;
    if (!t) return GR_ENOMEM;
    t->ms = ms;
    t->bc = bc;
    t->broker_id = bc->broker_id;
    pthread_mutex_init(&t->write_mu, NULL);
    pthread_rwlock_init(&t->lock, NULL);
    t->nbuckets = 64;
    t->by_name = calloc(t->nbuckets, sizeof *t->by_name);
    t->by_id = calloc(t->nbuckets, sizeof *t->by_id);
    if (!t->by_name || !t->by_id) { rc = GR_ENOMEM; goto done; }
    if ((rc = ensure_path(ms, "/brokers/topics")) || (rc = ensure_path(ms, "/brokers/ids")) ||
        (rc = ensure_path(ms, "/config/topics")) || (rc = ensure_path(ms, "/cluster")))
        goto done;
    if ((rc = load_cluster_id(t))) goto done;
    if ((rc = gr_metastore_children(ms, "/brokers/topics", &names, &n, NULL, NULL))) goto done;
    for (int i = 0; i < n; i++) {
        gr_topic_t *tp;
        if (!gr_topic_name_valid(names[i], strlen(names[i]))) {
            gr_warn("topics: skipping /brokers/topics/%s: not a valid topic name", names[i]);
            continue;
        }
        if ((rc = load_topic(t, names[i], &tp))) goto done;
        publish(t, tp->name, tp);
    }
done:
    gr_metastore_free_children(names, n);
    if (rc) gr_topics_close(t);
    else *out = t;
    return rc;
}

void gr_topics_close(gr_topics_t *t)
{
    if (!t) return;
    if (t->by_name)
        for (size_t i = 0; i < t->nbuckets; i++)
            for (ent_t *e = t->by_name[i], *next; e; e = next) {
                next = e->next_name;
                topic_free(e->t);
                free(e);
            }
    for (retired_t *r = t->retired, *next; r; r = next) {
        next = r->next;
        topic_free(r->t);
        free(r);
    }
    free(t->by_name);
    free(t->by_id);
    pthread_rwlock_destroy(&t->lock);
    pthread_mutex_destroy(&t->write_mu);
    free(t);
}

void gr_topics_set_listener(gr_topics_t *t, gr_topics_listener_fn fn, void *arg)
{
    t->listener = fn;
    t->listener_arg = arg;
}

static void notify(gr_topics_t *t, int event, const gr_topic_t *tp, int32_t old)
{
    if (t->listener && tp) t->listener(t->listener_arg, event, tp, old);
}

const char *gr_topics_cluster_id(gr_topics_t *t)
{
    return t->cluster_id;
}

const gr_topic_t *gr_topics_find(gr_topics_t *t, const char *name, size_t len)
{
    pthread_rwlock_rdlock(&t->lock);
    ent_t *e = find_ent(t, name, len);
    const gr_topic_t *tp = e ? e->t : NULL;
    pthread_rwlock_unlock(&t->lock);
    return tp;
}

const gr_topic_t *gr_topics_find_by_id(gr_topics_t *t, const gr_uuid_t *id)
{
    pthread_rwlock_rdlock(&t->lock);
    ent_t *e = t->by_id[hash_bytes(id->b, 16) & (t->nbuckets - 1)];
    while (e && memcmp(e->t->id.b, id->b, 16) != 0) e = e->next_id;
    const gr_topic_t *tp = e ? e->t : NULL;
    pthread_rwlock_unlock(&t->lock);
    return tp;
}

int gr_topics_count(gr_topics_t *t)
{
    pthread_rwlock_rdlock(&t->lock);
    int n = (int)t->count;
    pthread_rwlock_unlock(&t->lock);
    return n;
}

static int cmp_topic(const void *a, const void *b)
{
    return strcmp((*(gr_topic_t *const *)a)->name, (*(gr_topic_t *const *)b)->name);
}

/* A sorted snapshot of the topic pointers (valid until close). */
static gr_topic_t **snapshot(gr_topics_t *t, size_t *n)
{
    pthread_rwlock_rdlock(&t->lock);
    gr_topic_t **all = malloc((t->count + 1) * sizeof *all);
    size_t k = 0;
    if (all)
        for (size_t i = 0; i < t->nbuckets; i++)
            for (ent_t *e = t->by_name[i]; e; e = e->next_name) all[k++] = e->t;
    pthread_rwlock_unlock(&t->lock);
    if (all) qsort(all, k, sizeof *all, cmp_topic);
    *n = k;
    return all;
}

void gr_topics_foreach(gr_topics_t *t, void (*fn)(void *arg, const gr_topic_t *topic), void *arg)
{
    size_t n;
    gr_topic_t **all = snapshot(t, &n);
    if (!all) {
        gr_error("topics: out of memory listing topics");
        return;
    }
    for (size_t i = 0; i < n; i++) fn(arg, all[i]);
    free(all);
}

/* --- brokers --- */

int gr_topics_register_broker(gr_topics_t *t, const char *host, int port)
{
    int rc;
    char path[64], ep[512], ts[32];
    struct timeval tv;
    gr_jsonb_t b;
    size_t len;
    char *text;
    gettimeofday(&tv, NULL);
    snprintf(path, sizeof path, "/brokers/ids/%" PRId32, t->broker_id);
    snprintf(ep, sizeof ep, "PLAINTEXT://%s:%d", host, port);
    snprintf(ts, sizeof ts, "%" PRId64, (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000);
    gr_jsonb_init(&b);
    gr_jsonb_obj_begin(&b);
    gr_jsonb_key(&b, "version"); gr_jsonb_int(&b, 5);
    gr_jsonb_key(&b, "host"); gr_jsonb_str(&b, host);
    gr_jsonb_key(&b, "port"); gr_jsonb_int(&b, port);
    gr_jsonb_key(&b, "jmx_port"); gr_jsonb_int(&b, -1);
    gr_jsonb_key(&b, "timestamp"); gr_jsonb_str(&b, ts);
    gr_jsonb_key(&b, "endpoints");
    gr_jsonb_arr_begin(&b); gr_jsonb_str(&b, ep); gr_jsonb_arr_end(&b);
    gr_jsonb_key(&b, "listener_security_protocol_map");
    gr_jsonb_obj_begin(&b); gr_jsonb_key(&b, "PLAINTEXT"); gr_jsonb_str(&b, "PLAINTEXT"); gr_jsonb_obj_end(&b);
    gr_jsonb_key(&b, "features");
    gr_jsonb_obj_begin(&b); gr_jsonb_obj_end(&b);
    gr_jsonb_obj_end(&b);
    if (!(text = gr_jsonb_take(&b, &len))) return GR_ENOMEM;
    rc = gr_metastore_create(t->ms, path, text, len, GR_MS_EPHEMERAL, NULL, 0);
    if (rc == GR_EEXISTS) gr_error("topics: broker id %" PRId32 " is already registered (%s)", t->broker_id, path);
    free(text);
    return rc;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

int gr_topics_live_brokers(gr_topics_t *t, int32_t **ids, int *n)
{
    char **names = NULL;
    int k = 0, rc;
    int32_t *out = NULL;
    *ids = NULL;
    *n = 0;
    rc = gr_metastore_children(t->ms, "/brokers/ids", &names, &k, NULL, NULL);
    if (rc && rc != GR_ENOTFOUND) goto done;
    rc = 0;
    if (!(out = calloc((size_t)k + 1, sizeof *out))) { rc = GR_ENOMEM; goto done; }
    int m = 0;
    for (int i = 0; i < k; i++) {
        char *end;
        long v = strtol(names[i], &end, 10);
        if (*end || v < 0 || v > INT32_MAX) continue;
        out[m++] = (int32_t)v;
    }
    if (m == 0) out[m++] = t->broker_id;           /* not registered yet: just us */
    qsort(out, (size_t)m, sizeof *out, cmp_i32);
    *ids = out;
    *n = m;
    out = NULL;
done:
    free(out);
    gr_metastore_free_children(names, k);
    return rc;
}

/* Kafka's rack-unaware assignment (AdminUtils.assignReplicasToBrokers):
 * leaders round-robin from a random start; followers shifted so replicas of
 * a partition are distinct and spread. */
static int assign(const int32_t *brokers, int nb, int32_t first_partition, int32_t count, int16_t rf,
                  int32_t **rows)
{
    uint32_t r[2] = {0, 0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) r[0] = r[1] = 0;
    int start = (int)(r[0] % (uint32_t)nb);
    int shift = (int)(r[1] % (uint32_t)nb);
    for (int32_t i = 0; i < count; i++) {
        int32_t p = first_partition + i;
        if (p > 0 && p % nb == 0) shift++;
        int firsti = (int)((p + start) % nb);
        int32_t *row = calloc((size_t)rf, sizeof *row);
        if (!row) return GR_ENOMEM;
        row[0] = brokers[firsti];
        for (int j = 0; j < rf - 1; j++)
            row[j + 1] = brokers[(firsti + 1 + (shift + j) % (nb - 1)) % nb];
        rows[i] = row;
    }
    return 0;
}

/* --- create --- */

static bool collides(gr_topics_t *t, const char *name, char *other, size_t cap)
{
    size_t n;
    bool hit = false;
    gr_topic_t **all = snapshot(t, &n);
    size_t len = strlen(name);
    for (size_t i = 0; all && i < n && !hit; i++) {
        const char *o = all[i]->name;
        if (strlen(o) != len || strcmp(o, name) == 0) continue;
        hit = true;
        for (size_t k = 0; k < len && hit; k++) {
            char a = name[k] == '.' ? '_' : name[k], b = o[k] == '.' ? '_' : o[k];
            if (a != b) hit = false;
        }
        if (hit) snprintf(other, cap, "%s", o);
    }
    free(all);
    return hit;
}

static int validate_configs(const gr_config_kv_t *configs, int n, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        if (!configs[i].value) continue;            /* null = not set */
        int rc = gr_topic_config_validate(configs[i].key, configs[i].value, err, errlen);
        if (rc) return rc;
    }
    return 0;
}

/* The non-null pairs, deduplicated (last wins) and sorted. */
static int normalize_configs(const gr_config_kv_t *in, int n, gr_config_kv_t **out, int *nout)
{
    gr_config_kv_t *kv = n > 0 ? calloc((size_t)n, sizeof *kv) : NULL;
    int k = 0;
    *out = NULL;
    *nout = 0;
    if (n > 0 && !kv) return GR_ENOMEM;
    for (int i = 0; i < n; i++) {
        if (!in[i].value || !in[i].key) continue;
        int dup = -1;
        for (int x = 0; x < k; x++) if (strcmp(kv[x].key, in[i].key) == 0) dup = x;
        char *v = strdup(in[i].value);
        if (!v) { gr_config_kv_free(kv, k); return GR_ENOMEM; }
        if (dup >= 0) { free(kv[dup].value); kv[dup].value = v; continue; }
        if (!(kv[k].key = strdup(in[i].key))) { free(v); gr_config_kv_free(kv, k); return GR_ENOMEM; }
        kv[k++].value = v;
    }
    if (k) qsort(kv, (size_t)k, sizeof *kv, cmp_kv);
    else { free(kv); kv = NULL; }
    *out = kv;
    *nout = k;
    return 0;
}

static int create_common(gr_topics_t *t, const char *name, int32_t partitions, int16_t rf,
                         const int32_t *const *assignment, const gr_config_kv_t *configs, int n,
                         bool validate_only, const gr_topic_t **out, char *err, size_t errlen)
{
    int rc = 0, nb = 0;
    int32_t *brokers = NULL;
    gr_topic_t *tp = NULL;
    char *tjson = NULL, *cjson = NULL, *tpath = NULL, *cpath = NULL, other[GR_TOPIC_NAME_MAX + 1];
    size_t tlen, clen;
    bool locked = false;
    if (out) *out = NULL;
    size_t nlen = name ? strlen(name) : 0;
    if (!gr_topic_name_valid(name, nlen)) {
        if (nlen > GR_TOPIC_NAME_MAX)
            snprintf(err, errlen, "Topic name is illegal, it can't be longer than %d characters", GR_TOPIC_NAME_MAX);
        else if (nlen == 0)
            snprintf(err, errlen, "Topic name is illegal, it can't be empty");
        else if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            snprintf(err, errlen, "Topic name cannot be \".\" or \"..\"");
        else
            snprintf(err, errlen, "Topic name \"%s\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'", name);
        rc = GR_ETOPIC;
        goto done;
    }
    if (partitions == -1) partitions = t->bc->num_partitions;
    if (rf == -1) rf = t->bc->default_replication_factor;
    if (partitions <= 0) {
        snprintf(err, errlen, "Number of partitions must be larger than 0.");
        rc = GR_EPARTITIONS;
        goto done;
    }
    if (rf <= 0) {
        snprintf(err, errlen, "Replication factor must be larger than 0.");
        rc = GR_EREPLICATION;
        goto done;
    }
    if ((rc = validate_configs(configs, n, err, errlen))) goto done;
    if ((rc = gr_topics_live_brokers(t, &brokers, &nb))) goto done;
    if (assignment) {
        for (int32_t p = 0; p < partitions; p++) {
            for (int r = 0; r < rf; r++) {
                int32_t id = assignment[p][r];
                bool live = bsearch(&id, brokers, (size_t)nb, sizeof *brokers, cmp_i32) != NULL;
                bool dup = false;
                for (int q = 0; q < r; q++) dup |= assignment[p][q] == id;
                if (!live || dup) {
                    snprintf(err, errlen, dup ? "Duplicate replica assignment for partition %" PRId32
                                              : "Replica assignment for partition %" PRId32 " names an unknown broker", p);
                    rc = GR_EASSIGNMENT;
                    goto done;
                }
            }
        }
    } else if (rf > nb) {
        snprintf(err, errlen, "Replication factor: %d larger than available brokers: %d.", rf, nb);
        rc = GR_EREPLICATION;
        goto done;
    }

    pthread_mutex_lock(&t->write_mu);
    locked = true;
    if (gr_topics_find(t, name, nlen)) {
        snprintf(err, errlen, "Topic '%s' already exists.", name);
        rc = GR_EEXISTS;
        goto done;
    }
    if (collides(t, name, other, sizeof other)) {
        snprintf(err, errlen, "Topic '%s' collides with existing topic: %s", name, other);
        rc = GR_ETOPIC;
        goto done;
    }
    if (validate_only) goto done;

    if (!(tp = calloc(1, sizeof *tp)) || !(tp->name = strdup(name)) ||
        !(tp->replicas = calloc((size_t)partitions, sizeof *tp->replicas))) { rc = GR_ENOMEM; goto done; }
    tp->partition_count = partitions;
    tp->replication_factor = rf;
    tp->internal = gr_topic_name_internal(name, nlen);
    gr_topic_id_random(&tp->id);
    if (assignment) {
        for (int32_t p = 0; p < partitions; p++) {
            if (!(tp->replicas[p] = malloc((size_t)rf * sizeof **tp->replicas))) { rc = GR_ENOMEM; goto done; }
            memcpy(tp->replicas[p], assignment[p], (size_t)rf * sizeof **tp->replicas);
        }
    } else if ((rc = assign(brokers, nb, 0, partitions, rf, tp->replicas))) {
        goto done;
    }
    if ((rc = normalize_configs(configs, n, &tp->configs, &tp->nconfigs))) goto done;
    tjson = topic_json(tp, &tlen);
    cjson = config_json(tp->configs, tp->nconfigs, &clen);
    tpath = path_of("/brokers/topics", name);
    cpath = path_of("/config/topics", name);
    if (!tjson || !cjson || !tpath || !cpath) { rc = GR_ENOMEM; goto done; }
    /* Config first, then the topic, atomically: a watcher that sees the
     * topic always finds its config (Kafka writes them in this order). */
    gr_ms_op_t ops[2] = {
        {.type = GR_MS_OP_CREATE, .path = cpath, .data = cjson, .len = clen},
        {.type = GR_MS_OP_CREATE, .path = tpath, .data = tjson, .len = tlen},
    };
    rc = gr_metastore_multi(t->ms, ops, 2);
    if (rc == GR_EEXISTS && ops[0].result == GR_EEXISTS) {
        /* A config node left by an interrupted delete: replace it. */
        gr_warn("topics: replacing stale %s", cpath);
        ops[0].type = GR_MS_OP_SET;
        ops[0].version = -1;
        rc = gr_metastore_multi(t->ms, ops, 2);
    }
    if (rc == GR_EEXISTS) {
        snprintf(err, errlen, "Topic '%s' already exists.", name);
        goto done;
    }
    if (rc) {
        snprintf(err, errlen, "Could not write topic '%s' to the metadata store: %s", name, gr_strerror(rc));
        goto done;
    }
    publish(t, tp->name, tp);
    if (out) *out = tp;
    pthread_mutex_unlock(&t->write_mu);
    locked = false;
    gr_info("topics: created %s (%" PRId32 " partitions, replication factor %d)", name, partitions, rf);
    notify(t, GR_TOPIC_EVENT_CREATED, tp, 0);
    tp = NULL;
done:
    if (locked) pthread_mutex_unlock(&t->write_mu);
    topic_free(tp);
    free(brokers);
    free(tjson);
    free(cjson);
    free(tpath);
    free(cpath);
    return rc;
}

int gr_topics_create(gr_topics_t *t, const char *name, int32_t partitions, int16_t rf,
                     const gr_config_kv_t *configs, int n, bool validate_only,
                     const gr_topic_t **out, char *err, size_t errlen)
{
    return create_common(t, name, partitions, rf, NULL, configs, n, validate_only, out, err, errlen);
}

int gr_topics_create_assigned(gr_topics_t *t, const char *name, int32_t partitions, int16_t rf,
                              const int32_t *const *assignment, const gr_config_kv_t *configs,
                              int n, bool validate_only, const gr_topic_t **out, char *err,
                              size_t errlen)
{
    if (!assignment || partitions <= 0 || rf <= 0) {
        snprintf(err, errlen, "A replica assignment needs at least one partition and one replica");
        return GR_EASSIGNMENT;
    }
    return create_common(t, name, partitions, rf, assignment, configs, n, validate_only, out, err, errlen);
}

/* --- delete --- */

int gr_topics_delete(gr_topics_t *t, const char *name)
{
    int rc;
    char *tpath = path_of("/brokers/topics", name), *cpath = path_of("/config/topics", name);
    const gr_topic_t *old = NULL;
    pthread_mutex_lock(&t->write_mu);
    if (!tpath || !cpath) { rc = GR_ENOMEM; goto done; }
    if (!gr_topics_find(t, name, strlen(name))) { rc = GR_ENOTFOUND; goto done; }
    /* The topic node first: once it is gone the topic is gone, and a config
     * node left behind by a crash here is replaced on re-create. */
    rc = gr_metastore_delete_recursive(t->ms, tpath);
    if (rc && rc != GR_ENOTFOUND) goto done;
    rc = gr_metastore_delete(t->ms, cpath, -1);
    if (rc == GR_ENOTFOUND) rc = 0;
    if (rc) gr_warn("topics: deleting %s: %s", cpath, gr_strerror(rc));
    rc = 0;
    old = publish(t, name, NULL);
done:
    pthread_mutex_unlock(&t->write_mu);
    if (old) {
        gr_info("topics: deleted %s", name);
        notify(t, GR_TOPIC_EVENT_DELETED, old, old->partition_count);
    }
    free(tpath);
    free(cpath);
    return rc;
}

/* A copy of `src` sharing nothing with it, with room for `partitions`. */
static gr_topic_t *topic_clone(const gr_topic_t *src, int32_t partitions)
{
    gr_topic_t *tp = calloc(1, sizeof *tp);
    if (!tp) return NULL;
    *tp = *src;
    tp->name = strdup(src->name);
    tp->replicas = calloc((size_t)partitions, sizeof *tp->replicas);
    tp->configs = gr_config_kv_dup(src->configs, src->nconfigs);
    tp->partition_count = 0;
    if (!tp->name || !tp->replicas || (src->nconfigs && !tp->configs)) goto bad;
    for (int32_t p = 0; p < src->partition_count; p++) {
        if (!(tp->replicas[p] = malloc((size_t)src->replication_factor * sizeof **tp->replicas))) goto bad;
        tp->partition_count = p + 1;
        memcpy(tp->replicas[p], src->replicas[p], (size_t)src->replication_factor * sizeof **tp->replicas);
    }
    return tp;
bad:
    if (!tp->configs) tp->nconfigs = 0;
    topic_free(tp);
    return NULL;
}

/* The topic a change is about, with Kafka's message when there is none.
 * Call under write_mu. */
static int find_existing(gr_topics_t *t, const char *name, const gr_topic_t **out, char *err, size_t errlen)
{
    *out = gr_topics_find(t, name, strlen(name));
    if (*out) return 0;
    snprintf(err, errlen, "Topic '%s' does not exist.", name);
    return GR_ENOTFOUND;
}

int gr_topics_add_partitions(gr_topics_t *t, const char *name, int32_t new_total, bool validate_only,
                             char *err, size_t errlen)
{
    int rc = 0, nb = 0;
    int32_t *brokers = NULL, old_count = 0;
    gr_topic_t *tp = NULL;
    char *tpath = path_of("/brokers/topics", name), *json = NULL;
    void *cur = NULL;
    size_t len;
    gr_ms_stat_t st;
    bool notify_it = false;
    pthread_mutex_lock(&t->write_mu);
    if (!tpath) { rc = GR_ENOMEM; goto done; }
    const gr_topic_t *old;
    if ((rc = find_existing(t, name, &old, err, errlen))) goto done;
    old_count = old->partition_count;
    if (new_total == old->partition_count) {
        snprintf(err, errlen, "Topic already has %" PRId32 " partitions.", old->partition_count);
        rc = GR_EPARTITIONS;
        goto done;
    }
    if (new_total < old->partition_count) {
        snprintf(err, errlen, "Topic currently has %" PRId32 " partitions, which is higher than the requested %" PRId32 ".",
                 old->partition_count, new_total);
        rc = GR_EPARTITIONS;
        goto done;
    }
    if ((rc = gr_topics_live_brokers(t, &brokers, &nb))) goto done;
    if (old->replication_factor > nb) {
        snprintf(err, errlen, "Replication factor: %d larger than available brokers: %d.", old->replication_factor, nb);
        rc = GR_EREPLICATION;
        goto done;
    }
    if (validate_only) goto done;
    if (!(tp = topic_clone(old, new_total))) { rc = GR_ENOMEM; goto done; }
    if ((rc = assign(brokers, nb, old->partition_count, new_total - old->partition_count,
                     old->replication_factor, tp->replicas + old->partition_count)))
        goto done;
    tp->partition_count = new_total;
    /* CAS on the version we read, so a concurrent writer elsewhere (another
     * broker's controller) is never overwritten blindly. */
    if ((rc = gr_metastore_get(t->ms, tpath, &cur, &len, &st, NULL, NULL))) goto done;
    if (!(json = topic_json(tp, &len))) { rc = GR_ENOMEM; goto done; }
    if ((rc = gr_metastore_set(t->ms, tpath, json, len, st.version, NULL))) {
        snprintf(err, errlen, "Could not update topic '%s': %s", name, gr_strerror(rc));
        goto done;
    }
    publish(t, name, tp);
    notify_it = true;
done:
    pthread_mutex_unlock(&t->write_mu);
    if (notify_it) {
        gr_info("topics: %s now has %" PRId32 " partitions", name, new_total);
        notify(t, GR_TOPIC_EVENT_PARTITIONS_ADDED, tp, old_count);
    } else {
        topic_free(tp);
    }
    free(brokers);
    free(tpath);
    free(json);
    free(cur);
    return rc;
}

/* --- configs --- */

/* Writes `kv` (normalized) as the topic's overrides and publishes. */
static int write_configs(gr_topics_t *t, const gr_topic_t *old, gr_config_kv_t *kv, int n,
                         char *err, size_t errlen, gr_topic_t **published)
{
    int rc;
    size_t len;
    char *json = config_json(kv, n, &len), *cpath = path_of("/config/topics", old->name);
    gr_topic_t *tp = NULL;
    *published = NULL;
    if (!json || !cpath) { rc = GR_ENOMEM; goto done; }
    if (!(tp = topic_clone(old, old->partition_count))) { rc = GR_ENOMEM; goto done; }
    rc = gr_metastore_set(t->ms, cpath, json, len, -1, NULL);
    if (rc == GR_ENOTFOUND) rc = gr_metastore_create(t->ms, cpath, json, len, GR_MS_PERSISTENT, NULL, 0);
    if (rc) {
        snprintf(err, errlen, "Could not write configs of '%s': %s", old->name, gr_strerror(rc));
        goto done;
    }
    gr_config_kv_free(tp->configs, tp->nconfigs);
    tp->configs = kv;
    tp->nconfigs = n;
    publish(t, tp->name, tp);
    *published = tp;
    tp = NULL;
done:
    topic_free(tp);
    free(json);
    free(cpath);
    return rc;
}

/* Builds a topic's new overrides from its current ones (`old`) and the
 * request's `n` changes, normalized: sorted by key, NULL when none are left.
 * 0, or GR_E* with err set and nothing left allocated. */
typedef int (*configs_edit_fn)(gr_topics_t *t, const gr_topic_t *old, const void *changes, int n,
                               gr_config_kv_t **kv, int *nkv, char *err, size_t errlen);

/* What AlterConfigs and IncrementalAlterConfigs share: under write_mu, find
 * the topic, let `edit` compute its new overrides (which validates them),
 * and unless validate_only write and publish them; listeners hear of the
 * change after the lock is released. */
static int change_configs(gr_topics_t *t, const char *name, configs_edit_fn edit, const void *changes, int n,
                          bool validate_only, char *err, size_t errlen)
{
    gr_config_kv_t *kv = NULL;
    int nkv = 0;
    gr_topic_t *pub = NULL;
    const gr_topic_t *old;
    pthread_mutex_lock(&t->write_mu);
    int rc = find_existing(t, name, &old, err, errlen);
    if (rc == 0) rc = edit(t, old, changes, n, &kv, &nkv, err, errlen);
    if (rc == 0 && !validate_only && (rc = write_configs(t, old, kv, nkv, err, errlen, &pub)) == 0) {
        kv = NULL;                                   /* owned by the new topic */
        nkv = 0;
    }
    pthread_mutex_unlock(&t->write_mu);
    gr_config_kv_free(kv, nkv);
    if (pub) notify(t, GR_TOPIC_EVENT_CONFIG_CHANGED, pub, pub->partition_count);
    return rc;
}

/* AlterConfigs: the request's pairs replace the overrides outright. */
static int replace_configs(gr_topics_t *t, const gr_topic_t *old, const void *changes, int n, gr_config_kv_t **kv,
                           int *nkv, char *err, size_t errlen)
{
    int rc = validate_configs(changes, n, err, errlen);
    return rc ? rc : normalize_configs(changes, n, kv, nkv);
}

int gr_topics_alter_configs(gr_topics_t *t, const char *name, const gr_config_kv_t *configs, int n,
                            bool validate_only, char *err, size_t errlen)
{
    return change_configs(t, name, replace_configs, configs, n, validate_only, err, errlen);
}

typedef struct find_value {
    const char *key;
    char *value;
} find_value_t;

static void find_value_cb(void *arg, const gr_config_entry_t *e)
{
    find_value_t *f = arg;
    if (strcmp(e->name, f->key) == 0 && e->value && !f->value) f->value = strdup(e->value);
}

/* Steps through a comma-list: the next item, spaces trimmed (it may be
 * empty), in *item / *len, and *pos past it (NULL after the last).  False
 * at the end. */
static bool list_next(const char **pos, const char **item, size_t *len)
{
    const char *c = *pos;
    if (!c || !*c) return false;
    while (*c == ' ') c++;
    const char *e = strchr(c, ',');
    const char *t = e ? e : c + strlen(c);
    while (t > c && t[-1] == ' ') t--;
    *item = c;
    *len = (size_t)(t - c);
    *pos = e ? e + 1 : NULL;
    return true;
}

/* Does comma-list `list` contain item (trimmed compare)? */
static bool list_has(const char *list, const char *item, size_t n)
{
    const char *pos = list, *c;
    size_t len;
    while (list_next(&pos, &c, &len))
        if (len == n && memcmp(c, item, n) == 0) return true;
    return false;
}

/* APPEND / SUBTRACT on a list value: returns a new malloc'd list. */
static char *list_edit(const char *cur, const char *items, bool append)
{
    size_t cap = strlen(cur) + strlen(items) + 2, n = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    out[0] = 0;
    /* Walk the current list, keeping items unless subtracted. */
    for (int pass = 0; pass < 2; pass++) {
        const char *src = pass ? items : cur;
        if (pass && !append) break;
        const char *pos = src, *c;
        size_t len;
        while (list_next(&pos, &c, &len)) {
            bool keep = len > 0;
            if (keep && pass == 0 && !append && list_has(items, c, len)) keep = false;
            if (keep && (pass == 1 || !append) && n && list_has(out, c, len)) keep = false;
            if (keep && pass == 1 && list_has(out, c, len)) keep = false;
            if (keep) {
                if (n) out[n++] = ',';
                memcpy(out + n, c, len);
                n += len;
                out[n] = 0;
            }
        }
    }
    return out;
}

/* IncrementalAlterConfigs: the ops apply in order to a copy of the current
 * overrides; any failing op fails them all. */
static int apply_config_ops(gr_topics_t *t, const gr_topic_t *old, const void *changes, int n,
                            gr_config_kv_t **out, int *nout, char *err, size_t errlen)
{
    const gr_config_op_t *ops = changes;
    int rc = 0, nkv = 0, cap = old->nconfigs + n + 1;
    gr_config_kv_t *kv = calloc((size_t)cap, sizeof *kv);
    if (!kv) return GR_ENOMEM;
    for (int i = 0; i < old->nconfigs; i++) {
        kv[i].key = strdup(old->configs[i].key);
        kv[i].value = strdup(old->configs[i].value);
        nkv = i + 1;
        if (!kv[i].key || !kv[i].value) { rc = GR_ENOMEM; goto done; }
    }
    for (int i = 0; i < n; i++) {
        const gr_config_op_t *op = &ops[i];
        int at = -1;
        char *nv = NULL;
        if (!gr_topic_config_known(op->key)) {
            snprintf(err, errlen, "unknown topic config '%s'", op->key ? op->key : "(null)");
            rc = GR_ECONFIG;
            goto done;
        }
        for (int x = 0; x < nkv; x++) if (strcmp(kv[x].key, op->key) == 0) at = x;
        switch (op->op) {
        case GR_CONFIG_OP_SET:
            if ((rc = gr_topic_config_validate(op->key, op->value, err, errlen))) goto done;
            if (!(nv = strdup(op->value))) { rc = GR_ENOMEM; goto done; }
            break;
        case GR_CONFIG_OP_DELETE:
            if (at >= 0) {
                free(kv[at].key);
                free(kv[at].value);
                kv[at] = kv[--nkv];
            }
            continue;
        case GR_CONFIG_OP_APPEND:
        case GR_CONFIG_OP_SUBTRACT: {
            if (!gr_topic_config_is_list(op->key)) {
                snprintf(err, errlen, "%s: APPEND and SUBTRACT apply only to list configs", op->key);
                rc = GR_ECONFIG;
                goto done;
            }
            find_value_t f = {op->key, NULL};
            const char *curv;
            if (at >= 0) curv = kv[at].value;
            else {
                gr_topic_config_describe(t->bc, NULL, 0, find_value_cb, &f);
                curv = f.value ? f.value : "";
            }
            nv = list_edit(curv, op->value ? op->value : "", op->op == GR_CONFIG_OP_APPEND);
            free(f.value);
            if (!nv) { rc = GR_ENOMEM; goto done; }
            if ((rc = gr_topic_config_validate(op->key, nv, err, errlen))) { free(nv); goto done; }
            break;
        }
        default:
            snprintf(err, errlen, "%s: unknown operation %d", op->key, op->op);
            rc = GR_EINVAL;
            goto done;
        }
        if (at >= 0) {
            free(kv[at].value);
            kv[at].value = nv;
        } else {
            if (!(kv[nkv].key = strdup(op->key))) { free(nv); rc = GR_ENOMEM; goto done; }
            kv[nkv++].value = nv;
        }
    }
    if (nkv) qsort(kv, (size_t)nkv, sizeof *kv, cmp_kv);
    else { free(kv); kv = NULL; }
    *out = kv;
    *nout = nkv;
    return 0;
done:
    gr_config_kv_free(kv, nkv);
    return rc;
}

int gr_topics_incremental_alter_configs(gr_topics_t *t, const char *name, const gr_config_op_t *ops,
                                        int n, bool validate_only, char *err, size_t errlen)
{
    return change_configs(t, name, apply_config_ops, ops, n, validate_only, err, errlen);
}

void gr_topics_settings(gr_topics_t *t, const gr_topic_t *topic, gr_topic_settings_t *out)
{
    gr_topic_config_resolve(t->bc, topic->configs, topic->nconfigs, out);
}

void gr_topics_describe_configs(gr_topics_t *t, const gr_topic_t *topic, gr_config_describe_fn fn, void *arg)
{
    gr_topic_config_describe(t->bc, topic->configs, topic->nconfigs, fn, arg);
}

/* --- reload (for stores other brokers write to) --- */

static bool same_configs(const gr_topic_t *a, const gr_topic_t *b)
{
    if (a->nconfigs != b->nconfigs) return false;
    for (int i = 0; i < a->nconfigs; i++)
        if (strcmp(a->configs[i].key, b->configs[i].key) || strcmp(a->configs[i].value, b->configs[i].value))
            return false;
    return true;
}

static int cmp_pstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct change {
    int event;
    const gr_topic_t *topic;
    int32_t old_partitions;
} change_t;

int gr_topics_reload(gr_topics_t *t)
{
    int rc = 0, n = 0, nch = 0;
    char **names = NULL;
    size_t nold = 0;
    gr_topic_t **old = NULL;
    change_t *ch = NULL;
    pthread_mutex_lock(&t->write_mu);
    if ((rc = gr_metastore_children(t->ms, "/brokers/topics", &names, &n, NULL, NULL))) goto done;
    old = snapshot(t, &nold);
    /* At most: one delete per old topic, a delete + create per name. */
    if (!old || !(ch = calloc(nold + 2 * (size_t)n + 1, sizeof *ch))) { rc = GR_ENOMEM; goto done; }
    for (int i = 0; i < n; i++) {
        gr_topic_t *tp;
        if (!gr_topic_name_valid(names[i], strlen(names[i]))) continue;
        rc = load_topic(t, names[i], &tp);
        if (rc == GR_ENOTFOUND) { rc = 0; continue; }   /* deleted meanwhile */
        if (rc) goto done;
        const gr_topic_t *cur = gr_topics_find(t, names[i], strlen(names[i]));
        if (cur && cur->partition_count == tp->partition_count && !memcmp(&cur->id, &tp->id, sizeof tp->id) &&
            same_configs(cur, tp)) {
            topic_free(tp);
            continue;
        }
        int ev = !cur || memcmp(&cur->id, &tp->id, sizeof tp->id) ? GR_TOPIC_EVENT_CREATED
               : cur->partition_count != tp->partition_count ? GR_TOPIC_EVENT_PARTITIONS_ADDED
               : GR_TOPIC_EVENT_CONFIG_CHANGED;
        int32_t oldp = cur ? cur->partition_count : 0;
        if (cur && ev == GR_TOPIC_EVENT_CREATED)      /* deleted and re-created elsewhere */
            ch[nch++] = (change_t){GR_TOPIC_EVENT_DELETED, cur, oldp};
        publish(t, tp->name, tp);
        ch[nch++] = (change_t){ev, tp, ev == GR_TOPIC_EVENT_CREATED ? 0 : oldp};
    }
    /* Topics no longer in the store (names is sorted). */
    for (size_t i = 0; i < nold; i++) {
        if (bsearch(&old[i]->name, names, (size_t)n, sizeof *names, cmp_pstr)) continue;
        const gr_topic_t *gone = publish(t, old[i]->name, NULL);
        if (gone) ch[nch++] = (change_t){GR_TOPIC_EVENT_DELETED, gone, gone->partition_count};
    }
done:
    pthread_mutex_unlock(&t->write_mu);
    for (int i = 0; i < nch; i++) notify(t, ch[i].event, ch[i].topic, ch[i].old_partitions);
    free(ch);
    free(old);
    gr_metastore_free_children(names, n);
    return rc;
}
