/* Table-driven configuration: parse, hold, describe; Java .properties. */
#include "util/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/errors.h"

const gr_config_def_t *gr_config_def_find(const gr_config_def_t *defs, int ndefs, const char *name)
{
    /* Linear: tables have ~100 entries and lookups happen at startup and in
     * admin requests, never per record. */
    for (int i = 0; i < ndefs; i++)
        if (strcmp(defs[i].name, name) == 0) return &defs[i];
    return NULL;
}

/* Is `item` (len n) one of the comma-separated `choices`?  Case-sensitive,
 * except that Kafka compares enum-like values case-insensitively in a few
 * places; we keep it exact like ConfigDef.ValidString. */
static bool in_choices(const char *choices, const char *item, size_t n)
{
    const char *c = choices;
    while (*c) {
        const char *e = strchr(c, ',');
        size_t len = e ? (size_t)(e - c) : strlen(c);
        if (len == n && memcmp(c, item, n) == 0) return true;
        if (!e) break;
        c = e + 1;
    }
    return false;
}

static int parse_long(const char *text, int64_t *out)
{
    char *end;
    if (!*text || isspace((unsigned char)*text)) return -1;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno == ERANGE || *end) return -1;
    *out = v;
    return 0;
}

int8_t gr_config_type_kafka(gr_config_type_t t)
{
    /* DescribeConfigs v3 ConfigType: BOOLEAN 1, STRING 2, INT 3, SHORT 4,
     * LONG 5, DOUBLE 6, LIST 7, CLASS 8, PASSWORD 9. */
    switch (t) {
    case GR_CFG_BOOL: return 1;
    case GR_CFG_INT: return 3;
    case GR_CFG_SHORT: return 4;
    case GR_CFG_LONG: return 5;
    case GR_CFG_DOUBLE: return 6;
    case GR_CFG_LIST: return 7;
    case GR_CFG_PASSWORD: return 9;
    case GR_CFG_STRING:
    case GR_CFG_ENUM: return 2;
    }
    return 0;
}

int gr_config_parse(const gr_config_def_t *def, const char *text, gr_config_value_t *out,
                    char *err, size_t errlen)
{
    int rc = 0;
    memset(out, 0, sizeof *out);
    out->type = def->type;
    if (!text) {
        if (def->flags & GR_CFG_F_NULLABLE || def->type == GR_CFG_STRING || def->type == GR_CFG_PASSWORD)
            goto done;
        snprintf(err, errlen, "%s: a value is required", def->name);
        rc = GR_ECONFIG;
        goto done;
    }
    switch (def->type) {
    case GR_CFG_BOOL:
        /* Java's ConfigDef accepts true/false in any case, nothing else. */
        if (strcasecmp(text, "true") == 0) out->i = 1;
        else if (strcasecmp(text, "false") == 0) out->i = 0;
        else {
            snprintf(err, errlen, "%s: '%s' is not a boolean (true or false)", def->name, text);
            rc = GR_ECONFIG;
        }
        break;
    case GR_CFG_SHORT:
    case GR_CFG_INT:
    case GR_CFG_LONG: {
        int64_t v, lo = def->min, hi = def->max;
        if (parse_long(text, &v) < 0) {
            snprintf(err, errlen, "%s: '%s' is not a number", def->name, text);
            rc = GR_ECONFIG;
            break;
        }
        /* The type's own range applies even when the table gives none. */
        int64_t tlo = def->type == GR_CFG_SHORT ? INT16_MIN : def->type == GR_CFG_INT ? INT32_MIN : INT64_MIN;
        int64_t thi = def->type == GR_CFG_SHORT ? INT16_MAX : def->type == GR_CFG_INT ? INT32_MAX : INT64_MAX;
        if (lo == 0 && hi == 0) { lo = tlo; hi = thi; }
        if (v < tlo || v > thi) {
            snprintf(err, errlen, "%s: %s is out of range for %s", def->name, text,
                     def->type == GR_CFG_LONG ? "a long" : def->type == GR_CFG_INT ? "an int" : "a short");
            rc = GR_ECONFIG;
        } else if (v < lo) {
            snprintf(err, errlen, "%s: %s must be >= %" PRId64, def->name, text, lo);
            rc = GR_ECONFIG;
        } else if (v > hi) {
            snprintf(err, errlen, "%s: %s must be <= %" PRId64, def->name, text, hi);
            rc = GR_ECONFIG;
        }
        out->i = v;
        break;
    }
    case GR_CFG_DOUBLE: {
        char *end;
        errno = 0;
        double d = *text ? strtod(text, &end) : 0;
        if (!*text || *end || errno == ERANGE || !isfinite(d)) {
            snprintf(err, errlen, "%s: '%s' is not a number", def->name, text);
            rc = GR_ECONFIG;
            break;
        }
        if (!(def->dmin == 0 && def->dmax == 0)) {
            if (d < def->dmin) {
                snprintf(err, errlen, "%s: %s must be >= %g", def->name, text, def->dmin);
                rc = GR_ECONFIG;
            } else if (d > def->dmax) {
                snprintf(err, errlen, "%s: %s must be <= %g", def->name, text, def->dmax);
                rc = GR_ECONFIG;
            }
        }
        out->d = d;
        break;
    }
    case GR_CFG_ENUM:
        if (def->choices && !in_choices(def->choices, text, strlen(text))) {
            snprintf(err, errlen, "%s: '%s' is not one of [%s]", def->name, text, def->choices);
            rc = GR_ECONFIG;
        }
        out->s = text;
        break;
    case GR_CFG_LIST:
        if (def->choices) {
            /* Each comma-separated item (trimmed) must be a choice. */
            const char *c = text;
            while (*c) {
                while (*c == ' ' || *c == '\t') c++;
                const char *e = c;
                while (*e && *e != ',') e++;
                const char *t = e;
                while (t > c && (t[-1] == ' ' || t[-1] == '\t')) t--;
                if (t > c && !in_choices(def->choices, c, (size_t)(t - c))) {
                    snprintf(err, errlen, "%s: '%.*s' is not one of [%s]", def->name, (int)(t - c), c,
                             def->choices);
                    rc = GR_ECONFIG;
                    break;
                }
                c = *e ? e + 1 : e;
            }
        }
        out->s = text;
        break;
    case GR_CFG_STRING:
    case GR_CFG_PASSWORD:
        out->s = text;
        break;
    }
done:
    return rc;
}

int gr_config_set_init(gr_config_set_t *set, const gr_config_def_t *defs, int ndefs)
{
    memset(set, 0, sizeof *set);
    set->defs = defs;
    set->ndefs = ndefs;
    set->values = calloc((size_t)ndefs + 1, sizeof *set->values);
    set->sources = calloc((size_t)ndefs + 1, sizeof *set->sources);
    if (!set->values || !set->sources) {
        gr_config_set_free(set);
        return GR_ENOMEM;
    }
    return 0;
}

void gr_config_set_free(gr_config_set_t *set)
{
    if (set->values)
        for (int i = 0; i < set->ndefs; i++) free(set->values[i]);
    free(set->values);
    free(set->sources);
    memset(set, 0, sizeof *set);
}

static int def_index(const gr_config_set_t *set, const char *key)
{
    const gr_config_def_t *d = gr_config_def_find(set->defs, set->ndefs, key);
    return d ? (int)(d - set->defs) : -1;
}

int gr_config_set_put(gr_config_set_t *set, const char *key, const char *value, int8_t source,
                      char *err, size_t errlen)
{
    int rc = 0;
    char *copy = NULL;
    gr_config_value_t v;
    int i = def_index(set, key);
    if (i < 0) {
        snprintf(err, errlen, "unknown configuration '%s'", key);
        rc = GR_ECONFIG;
        goto done;
    }
    if (value) {
        /* Java's Properties keeps trailing whitespace in values, but
         * ConfigDef trims them before parsing; do the same. */
        while (isspace((unsigned char)*value)) value++;
        size_t n = strlen(value);
        while (n && isspace((unsigned char)value[n - 1])) n--;
        copy = strndup(value, n);
        if (!copy) { rc = GR_ENOMEM; goto done; }
        rc = gr_config_parse(&set->defs[i], copy, &v, err, errlen);
        if (rc) goto done;
    }
    free(set->values[i]);
    set->values[i] = copy;
    set->sources[i] = copy ? source : 0;
    copy = NULL;
done:
    free(copy);
    return rc;
}

const char *gr_config_set_get(const gr_config_set_t *set, const char *key)
{
    int i = def_index(set, key);
    if (i < 0) return NULL;
    return set->values[i] ? set->values[i] : set->defs[i].default_value;
}

bool gr_config_set_is_set(const gr_config_set_t *set, const char *key)
{
    int i = def_index(set, key);
    return i >= 0 && set->values[i];
}

/* The effective value parsed; a failure here is a bug (unknown key in code,
 * or a bad default in a table), so it aborts loudly rather than guessing. */
static gr_config_value_t typed(const gr_config_set_t *set, const char *key)
{
    gr_config_value_t v;
    char err[256];
    int i = def_index(set, key);
    if (i < 0) {
        fprintf(stderr, "gregor: config key '%s' not defined\n", key);
        abort();
    }
    const char *text = set->values[i] ? set->values[i] : set->defs[i].default_value;
    if (gr_config_parse(&set->defs[i], text, &v, err, sizeof err) != 0) {
        fprintf(stderr, "gregor: bad config default: %s\n", err);
        abort();
    }
    return v;
}

int64_t gr_config_set_long(const gr_config_set_t *set, const char *key)
{
    return typed(set, key).i;
}

double gr_config_set_double(const gr_config_set_t *set, const char *key)
{
    return typed(set, key).d;
}

bool gr_config_set_bool(const gr_config_set_t *set, const char *key)
{
    return typed(set, key).i != 0;
}

const char *gr_config_set_string(const gr_config_set_t *set, const char *key)
{
    return typed(set, key).s;
}

void gr_config_set_describe(const gr_config_set_t *set, gr_config_describe_fn fn, void *arg)
{
    for (int i = 0; i < set->ndefs; i++) {
        const gr_config_def_t *d = &set->defs[i];
        if (d->flags & GR_CFG_F_INTERNAL) continue;
        bool sensitive = d->type == GR_CFG_PASSWORD;
        gr_config_entry_t e = {
            .name = d->name,
            .value = sensitive ? NULL : set->values[i] ? set->values[i] : d->default_value,
            .source = set->values[i] ? set->sources[i] : GR_CFG_SRC_DEFAULT,
            .read_only = (d->flags & GR_CFG_F_READ_ONLY) != 0,
            .sensitive = sensitive,
            .config_type = gr_config_type_kafka(d->type),
            .doc = d->doc,
        };
        e.is_default = e.source == GR_CFG_SRC_DEFAULT;
        fn(arg, &e);
    }
}

/* --- Java .properties --- */

void gr_config_kv_free(gr_config_kv_t *kv, int n)
{
    if (!kv) return;
    for (int i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

gr_config_kv_t *gr_config_kv_dup(const gr_config_kv_t *kv, int n)
{
    if (n <= 0) return NULL;
    gr_config_kv_t *o = calloc((size_t)n, sizeof *o);
    if (!o) return NULL;
    for (int i = 0; i < n; i++) {
        o[i].key = strdup(kv[i].key);
        o[i].value = kv[i].value ? strdup(kv[i].value) : NULL;
        if (!o[i].key || (kv[i].value && !o[i].value)) {
            gr_config_kv_free(o, n);
            return NULL;
        }
    }
    return o;
}

/* A growable string for building keys and values. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf_t;

static int sb_put(sbuf_t *s, const char *c, size_t n)
{
    if (s->n + n + 1 > s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        while (nc < s->n + n + 1) nc *= 2;
        char *np = realloc(s->p, nc);
        if (!np) return GR_ENOMEM;
        s->p = np;
        s->cap = nc;
    }
    memcpy(s->p + s->n, c, n);
    s->n += n;
    s->p[s->n] = 0;
    return 0;
}

static int kv_add(gr_config_kv_t **kv, int *n, int *cap, char *key, char *value)
{
    for (int i = 0; i < *n; i++) {
        if (strcmp((*kv)[i].key, key) == 0) {
            /* Properties.load: a later occurrence replaces the value. */
            free((*kv)[i].value);
            (*kv)[i].value = value;
            free(key);
            return 0;
        }
    }
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        gr_config_kv_t *nk = realloc(*kv, (size_t)nc * sizeof *nk);
        if (!nk) return GR_ENOMEM;
        *kv = nk;
        *cap = nc;
    }
    (*kv)[*n].key = key;
    (*kv)[*n].value = value;
    (*n)++;
    return 0;
}

/* Splits the text into logical lines (joining backslash continuations, whose
 * next line's leading whitespace is dropped), then each into key and value,
 * with Properties.load's rules: the key ends at the first unescaped '=', ':'
 * or whitespace; then whitespace, at most one '=' or ':', and whitespace are
 * skipped. */
int gr_properties_parse(const char *text, size_t len, gr_config_kv_t **out, int *n,
                        char *err, size_t errlen)
{
    int rc = 0, cap = 0, line_no = 1;
    gr_config_kv_t *kv = NULL;
    sbuf_t key = {0}, val = {0};
    const char *p = text, *end = text + len;
    *out = NULL;
    *n = 0;
    while (p < end) {
        int start_line = line_no;
        /* Skip leading whitespace (including form feed) of a natural line. */
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\f')) p++;
        if (p >= end) break;
        if (*p == '\n' || *p == '\r') {
            if (*p == '\r' && p + 1 < end && p[1] == '\n') p++;
            p++;
            line_no++;
            continue;
        }
        if (*p == '#' || *p == '!') {
            /* Comment lines do not continue, even when ending in '\'. */
            while (p < end && *p != '\n' && *p != '\r') p++;
            continue;
        }
        key.n = val.n = 0;
        if (sb_put(&key, "", 0) || sb_put(&val, "", 0)) { rc = GR_ENOMEM; goto done; }
        sbuf_t *cur = &key;
        bool in_key = true, seen_sep = false, skipping_ws = false;
        while (p < end) {
            char c = *p;
            if (c == '\n' || c == '\r') break;
            if (c == '\\') {
                p++;
                if (p >= end) break;                    /* trailing lone backslash: dropped */
                c = *p;
                if (c == '\n' || c == '\r') {
                    /* Continuation: skip the line break and the next line's
                     * leading whitespace. */
                    if (c == '\r' && p + 1 < end && p[1] == '\n') p++;
                    p++;
                    line_no++;
                    while (p < end && (*p == ' ' || *p == '\t' || *p == '\f')) p++;
                    continue;
                }
                char o[4];
                size_t on = 1;
                switch (c) {
                case 't': o[0] = '\t'; break;
                case 'n': o[0] = '\n'; break;
                case 'r': o[0] = '\r'; break;
                case 'f': o[0] = '\f'; break;
                case 'u': {
                    unsigned cp = 0;
                    if (end - p < 5) {
                        snprintf(err, errlen, "line %d: malformed \\uxxxx encoding", line_no);
                        rc = GR_ECONFIG;
                        goto done;
                    }
                    for (int i = 1; i <= 4; i++) {
                        char h = p[i];
                        int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                              : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                        if (v < 0) {
                            snprintf(err, errlen, "line %d: malformed \\uxxxx encoding", line_no);
                            rc = GR_ECONFIG;
                            goto done;
                        }
                        cp = cp << 4 | (unsigned)v;
                    }
                    p += 4;
                    /* To UTF-8 (surrogates are passed through as-is: rare in configs). */
                    if (cp < 0x80) o[0] = (char)cp;
                    else if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3F)); on = 2; }
                    else {
                        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                        o[2] = (char)(0x80 | (cp & 0x3F)); on = 3;
                    }
                    break;
                }
                default: o[0] = c; break;               /* \= \: \# \\ \x -> x */
                }
                p++;
                if (in_key || !skipping_ws) {
                    skipping_ws = false;
                    if (!in_key) seen_sep = true;
                }
                if (sb_put(cur, o, on)) { rc = GR_ENOMEM; goto done; }
                continue;
            }
            if (in_key) {
                if (c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f') {
                    in_key = false;
                    cur = &val;
                    skipping_ws = true;
                    seen_sep = (c == '=' || c == ':');
                    p++;
                    continue;
                }
            } else if (skipping_ws) {
                if (c == ' ' || c == '\t' || c == '\f') { p++; continue; }
                if (!seen_sep && (c == '=' || c == ':')) { seen_sep = true; p++; continue; }
                skipping_ws = false;
            }
            if (sb_put(cur, &c, 1)) { rc = GR_ENOMEM; goto done; }
            p++;
        }
        (void)start_line;
        char *k = strdup(key.p), *v = strdup(val.p);
        if (!k || !v) { free(k); free(v); rc = GR_ENOMEM; goto done; }
        if (kv_add(&kv, n, &cap, k, v)) { free(k); free(v); rc = GR_ENOMEM; goto done; }
    }
    *out = kv;
    kv = NULL;
done:
    if (rc) { gr_config_kv_free(kv, *n); *n = 0; }
    free(key.p);
    free(val.p);
    return rc;
}
