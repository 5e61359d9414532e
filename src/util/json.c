/* JSON parser (recursive descent, bounded depth) and builder. */
#include "util/json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/errors.h"

typedef struct parser {
    const char *p, *end, *start;
    char *err;
    size_t errlen;
    int rc;                         /* first error */
} parser_t;

static void fail(parser_t *ps, int rc, const char *what)
{
    if (ps->rc) return;
    ps->rc = rc;
    if (ps->err && ps->errlen) snprintf(ps->err, ps->errlen, "offset %zu: %s", (size_t)(ps->p - ps->start), what);
}

static void skip_ws(parser_t *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

void gr_json_free(gr_json_t *v)
{
    if (!v) return;
    if (v->type == GR_JSON_ARRAY || v->type == GR_JSON_OBJECT) {
        for (size_t i = 0; i < v->len; i++) {
            gr_json_free(v->items[i]);
            if (v->keys) free(v->keys[i]);
        }
        free(v->items);
        free(v->keys);
    }
    free(v->s);
    free(v);
}

static gr_json_t *new_value(parser_t *ps, gr_json_type_t t)
{
    gr_json_t *v = calloc(1, sizeof *v);
    if (!v) fail(ps, GR_ENOMEM, "out of memory");
    else v->type = t;
    return v;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool read_hex4(parser_t *ps, uint32_t *out)
{
    if (ps->end - ps->p < 4) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(ps->p[i]);
        if (h < 0) return false;
        v = v << 4 | (uint32_t)h;
    }
    ps->p += 4;
    *out = v;
    return true;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parses a string at ps->p (the opening quote); the decoded text is never
 * longer than the source, so one allocation of the source length suffices. */
static char *parse_string(parser_t *ps, size_t *outlen)
{
    ps->p++;                                    /* opening quote */
    const char *q = ps->p;
    while (q < ps->end && *q != '"') q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
    if (q >= ps->end) { fail(ps, GR_EPARSE, "unterminated string"); return NULL; }
    char *o = malloc((size_t)(q - ps->p) + 1);
    if (!o) { fail(ps, GR_ENOMEM, "out of memory"); return NULL; }
    size_t n = 0;
    while (ps->p < ps->end && *ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20) { fail(ps, GR_EPARSE, "control character in string"); goto bad; }
        if (c != '\\') { o[n++] = (char)c; ps->p++; continue; }
        ps->p++;
        if (ps->p >= ps->end) { fail(ps, GR_EPARSE, "bad escape"); goto bad; }
        char e = *ps->p++;
        switch (e) {
        case '"': o[n++] = '"'; break;
        case '\\': o[n++] = '\\'; break;
        case '/': o[n++] = '/'; break;
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'n': o[n++] = '\n'; break;
        case 'r': o[n++] = '\r'; break;
        case 't': o[n++] = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (!read_hex4(ps, &cp)) { fail(ps, GR_EPARSE, "bad \\u escape"); goto bad; }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                /* A high surrogate must be followed by a low one. */
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u') {
                    fail(ps, GR_EPARSE, "lone surrogate"); goto bad;
                }
                ps->p += 2;
                if (!read_hex4(ps, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    fail(ps, GR_EPARSE, "lone surrogate"); goto bad;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                fail(ps, GR_EPARSE, "lone surrogate"); goto bad;
            }
            /* \uXXXX is 6 source bytes, UTF-8 at most 3 (4 for a 12-byte pair). */
            n += put_utf8(o + n, cp);
            break;
        }
        default: fail(ps, GR_EPARSE, "bad escape"); goto bad;
        }
    }
    ps->p++;                                    /* closing quote */
    o[n] = 0;
    *outlen = n;
    return o;
bad:
    free(o);
    return NULL;
}

static gr_json_t *parse_value(parser_t *ps, int depth);

static gr_json_t *parse_number(parser_t *ps)
{
    const char *s = ps->p;
    bool is_int = true;
    if (ps->p < ps->end && *ps->p == '-') ps->p++;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') { fail(ps, GR_EPARSE, "bad number"); return NULL; }
    if (*ps->p == '0') ps->p++;
    else while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    if (ps->p < ps->end && *ps->p == '.') {
        is_int = false;
        ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') { fail(ps, GR_EPARSE, "bad number"); return NULL; }
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        is_int = false;
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') { fail(ps, GR_EPARSE, "bad number"); return NULL; }
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    }
    /* strtoll/strtod need a NUL-terminated copy: the input is not. */
    size_t n = (size_t)(ps->p - s);
    char tmp[64];
    if (n >= sizeof tmp) { is_int = false; }
    gr_json_t *v = new_value(ps, GR_JSON_INT);
    if (!v) return NULL;
    if (n < sizeof tmp) {
        memcpy(tmp, s, n);
        tmp[n] = 0;
        if (is_int) {
            errno = 0;
            long long x = strtoll(tmp, NULL, 10);
            if (errno == ERANGE) is_int = false;
            else { v->i = x; v->d = (double)x; return v; }
        }
        v->type = GR_JSON_DOUBLE;
        v->d = strtod(tmp, NULL);
        return v;
    }
    /* A very long literal: copy to the heap for strtod. */
    char *h = malloc(n + 1);
    if (!h) { free(v); fail(ps, GR_ENOMEM, "out of memory"); return NULL; }
    memcpy(h, s, n);
    h[n] = 0;
    v->type = GR_JSON_DOUBLE;
    v->d = strtod(h, NULL);
    free(h);
    return v;
}

/* Appends to a container, growing by doubling. */
static bool push(parser_t *ps, gr_json_t *c, size_t *cap, gr_json_t *item, char *key)
{
    if (c->len == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        gr_json_t **ni = realloc(c->items, nc * sizeof *ni);
        if (!ni) goto oom;
        c->items = ni;
        if (c->type == GR_JSON_OBJECT) {
            char **nk = realloc(c->keys, nc * sizeof *nk);
            if (!nk) goto oom;
            c->keys = nk;
        }
        *cap = nc;
    }
    c->items[c->len] = item;
    if (c->keys) c->keys[c->len] = key;
    c->len++;
    return true;
oom:
    fail(ps, GR_ENOMEM, "out of memory");
    return false;
}

static gr_json_t *parse_container(parser_t *ps, int depth, bool object)
{
    gr_json_t *c = new_value(ps, object ? GR_JSON_OBJECT : GR_JSON_ARRAY);
    size_t cap = 0;
    char close = object ? '}' : ']';
    if (!c) return NULL;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) { ps->p++; return c; }
    for (;;) {
        char *key = NULL;
        size_t klen;
        skip_ws(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"') { fail(ps, GR_EPARSE, "expected a key"); goto bad; }
            key = parse_string(ps, &klen);
            if (!key) goto bad;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') { free(key); fail(ps, GR_EPARSE, "expected ':'"); goto bad; }
            ps->p++;
        }
        gr_json_t *item = parse_value(ps, depth + 1);
        if (!item) { free(key); goto bad; }
        if (!push(ps, c, &cap, item, key)) { free(key); gr_json_free(item); goto bad; }
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') { ps->p++; continue; }
        if (ps->p < ps->end && *ps->p == close) { ps->p++; return c; }
        fail(ps, GR_EPARSE, object ? "expected ',' or '}'" : "expected ',' or ']'");
        goto bad;
    }
bad:
    gr_json_free(c);
    return NULL;
}

static bool match_word(parser_t *ps, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0) return false;
    ps->p += n;
    return true;
}

static gr_json_t *parse_value(parser_t *ps, int depth)
{
    gr_json_t *v = NULL;
    if (depth > GR_JSON_MAX_DEPTH) { fail(ps, GR_EPARSE, "nested too deeply"); return NULL; }
    skip_ws(ps);
    if (ps->p >= ps->end) { fail(ps, GR_EPARSE, "unexpected end"); return NULL; }
    switch (*ps->p) {
    case '{': return parse_container(ps, depth, true);
    case '[': return parse_container(ps, depth, false);
    case '"': {
        size_t n;
        char *s = parse_string(ps, &n);
        if (!s) return NULL;
        v = new_value(ps, GR_JSON_STRING);
        if (!v) { free(s); return NULL; }
        v->s = s;
        v->len = n;
        return v;
    }
    case 't':
    case 'f':
        if (match_word(ps, "true") || match_word(ps, "false")) {
            v = new_value(ps, GR_JSON_BOOL);
            if (v) v->b = ps->p[-1] == 'e' && ps->p[-2] == 'u';
            return v;
        }
        break;
    case 'n':
        if (match_word(ps, "null")) return new_value(ps, GR_JSON_NULL);
        break;
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) return parse_number(ps);
        break;
    }
    fail(ps, GR_EPARSE, "unexpected character");
    return NULL;
}

int gr_json_parse(const char *text, size_t len, gr_json_t **out, char *err, size_t errlen)
{
    parser_t ps = {text, text + len, text, err, errlen, 0};
    gr_json_t *v = NULL;
    *out = NULL;
    if (len > GR_JSON_MAX_INPUT) { fail(&ps, GR_EPARSE, "input too large"); goto done; }
    v = parse_value(&ps, 0);
    if (!v) goto done;
    skip_ws(&ps);
    if (ps.p != ps.end) { fail(&ps, GR_EPARSE, "trailing characters"); goto done; }
    *out = v;
    v = NULL;
done:
    gr_json_free(v);
    return ps.rc;
}

const gr_json_t *gr_json_get(const gr_json_t *obj, const char *key)
{
    if (!obj || obj->type != GR_JSON_OBJECT) return NULL;
    for (size_t i = obj->len; i-- > 0;)
        if (strcmp(obj->keys[i], key) == 0) return obj->items[i];
    return NULL;
}

const gr_json_t *gr_json_at(const gr_json_t *arr, size_t i)
{
    if (!arr || arr->type != GR_JSON_ARRAY || i >= arr->len) return NULL;
    return arr->items[i];
}

const char *gr_json_str(const gr_json_t *v, const char *dflt)
{
    return v && v->type == GR_JSON_STRING ? v->s : dflt;
}

int64_t gr_json_int(const gr_json_t *v, int64_t dflt)
{
    return v && v->type == GR_JSON_INT ? v->i : dflt;
}

bool gr_json_is(const gr_json_t *v, gr_json_type_t t)
{
    return v && v->type == t;
}

/* --- builder --- */

void gr_jsonb_init(gr_jsonb_t *b)
{
    memset(b, 0, sizeof *b);
}

void gr_jsonb_free(gr_jsonb_t *b)
{
    free(b->buf);
    memset(b, 0, sizeof *b);
}

char *gr_jsonb_take(gr_jsonb_t *b, size_t *len)
{
    char *s = b->oom ? NULL : b->buf;
    if (!s && !b->oom) s = calloc(1, 1);        /* nothing written: "" */
    if (len) *len = s ? b->len : 0;
    if (b->oom) free(b->buf);
    memset(b, 0, sizeof *b);
    return s;
}

static void put(gr_jsonb_t *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 64;
        while (nc < b->len + n + 1) nc *= 2;
        char *nb = realloc(b->buf, nc);
        if (!nb) { b->oom = true; return; }
        b->buf = nb;
        b->cap = nc;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = 0;
}

/* Before a value or key: a comma if something precedes it at this level. */
static void sep(gr_jsonb_t *b)
{
    if (b->need_comma) put(b, ",", 1);
    b->need_comma = true;
}

void gr_jsonb_obj_begin(gr_jsonb_t *b) { sep(b); put(b, "{", 1); b->need_comma = false; }
void gr_jsonb_obj_end(gr_jsonb_t *b) { put(b, "}", 1); b->need_comma = true; }
void gr_jsonb_arr_begin(gr_jsonb_t *b) { sep(b); put(b, "[", 1); b->need_comma = false; }
void gr_jsonb_arr_end(gr_jsonb_t *b) { put(b, "]", 1); b->need_comma = true; }

static void put_escaped(gr_jsonb_t *b, const char *s, size_t n)
{
    put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char ubuf[8];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c < 0x20) { snprintf(ubuf, sizeof ubuf, "\\u%04x", c); esc = ubuf; }
        }
        if (!esc) continue;
        put(b, s + run, i - run);
        put(b, esc, strlen(esc));
        run = i + 1;
    }
    put(b, s + run, n - run);
    put(b, "\"", 1);
}

void gr_jsonb_key(gr_jsonb_t *b, const char *key)
{
    sep(b);
    put_escaped(b, key, strlen(key));
    put(b, ":", 1);
    b->need_comma = false;                      /* the value follows without a comma */
}

void gr_jsonb_strn(gr_jsonb_t *b, const char *s, size_t n)
{
    sep(b);
    put_escaped(b, s, n);
}

void gr_jsonb_str(gr_jsonb_t *b, const char *s)
{
    if (!s) { gr_jsonb_null(b); return; }
    gr_jsonb_strn(b, s, strlen(s));
}

void gr_jsonb_int(gr_jsonb_t *b, int64_t v)
{
    char t[32];
    int n = snprintf(t, sizeof t, "%" PRId64, v);
    sep(b);
    put(b, t, (size_t)n);
}

void gr_jsonb_double(gr_jsonb_t *b, double v)
{
    char t[40];
    if (!isfinite(v)) { gr_jsonb_null(b); return; }
    /* %.17g round-trips every double; make sure it still reads as a double. */
    int n = snprintf(t, sizeof t, "%.17g", v);
    if (!strpbrk(t, ".eEn")) { t[n++] = '.'; t[n++] = '0'; t[n] = 0; }
    sep(b);
    put(b, t, (size_t)n);
}

void gr_jsonb_bool(gr_jsonb_t *b, bool v)
{
    sep(b);
    put(b, v ? "true" : "false", v ? 4 : 5);
}

void gr_jsonb_null(gr_jsonb_t *b)
{
    sep(b);
    put(b, "null", 4);
}

void gr_jsonb_value(gr_jsonb_t *b, const gr_json_t *v)
{
    if (!v) { gr_jsonb_null(b); return; }
    switch (v->type) {
    case GR_JSON_NULL: gr_jsonb_null(b); break;
    case GR_JSON_BOOL: gr_jsonb_bool(b, v->b); break;
    case GR_JSON_INT: gr_jsonb_int(b, v->i); break;
    case GR_JSON_DOUBLE: gr_jsonb_double(b, v->d); break;
    case GR_JSON_STRING: gr_jsonb_strn(b, v->s, v->len); break;
    case GR_JSON_ARRAY:
        gr_jsonb_arr_begin(b);
        for (size_t i = 0; i < v->len; i++) gr_jsonb_value(b, v->items[i]);
        gr_jsonb_arr_end(b);
        break;
    case GR_JSON_OBJECT:
        gr_jsonb_obj_begin(b);
        for (size_t i = 0; i < v->len; i++) {
            gr_jsonb_key(b, v->keys[i]);
            gr_jsonb_value(b, v->items[i]);
        }
        gr_jsonb_obj_end(b);
        break;
    }
}
