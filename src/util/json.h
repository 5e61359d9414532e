/* A small JSON parser and builder, enough for Kafka's znode JSON.
 *
 * Parser: the whole text into a tree of gr_json_t values, malloc'd, freed
 * with gr_json_free.  Integers that fit int64 are kept exact (topic ids,
 * timestamps, offsets); other numbers are doubles.  Strings are decoded
 * (escapes, \uXXXX with surrogate pairs -> UTF-8) and NUL-terminated; a
 * string containing \u0000 keeps its length in `len`.  Bounded: nesting
 * depth GR_JSON_MAX_DEPTH, input size GR_JSON_MAX_INPUT.  Bad input returns
 * GR_EPARSE with a message and offset; it never crashes.
 *
 * Builder: appends to a growable NUL-terminated string; commas between
 * members/elements are inserted automatically.
 */
#ifndef GR_JSON_H
#define GR_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GR_JSON_MAX_DEPTH 64
#define GR_JSON_MAX_INPUT (16u * 1024 * 1024)

typedef enum gr_json_type {
    GR_JSON_NULL,
    GR_JSON_BOOL,
    GR_JSON_INT,                    /* integer literal that fits int64 */
    GR_JSON_DOUBLE,                 /* any other number */
    GR_JSON_STRING,
    GR_JSON_ARRAY,
    GR_JSON_OBJECT,
} gr_json_type_t;

typedef struct gr_json gr_json_t;
struct gr_json {
    gr_json_type_t type;
    bool b;
    int64_t i;
    double d;                       /* also set for INT */
    char *s;                        /* STRING */
    size_t len;                     /* STRING: bytes; ARRAY/OBJECT: count */
    gr_json_t **items;              /* ARRAY elements / OBJECT values */
    char **keys;                    /* OBJECT keys (in document order) */
};

/* 0 or GR_EPARSE (err gets "offset N: what"), GR_ENOMEM. */
int gr_json_parse(const char *text, size_t len, gr_json_t **out, char *err, size_t errlen);
void gr_json_free(gr_json_t *v);

/* Lookups: NULL when v is NULL, not an object/array, or no such key. */
const gr_json_t *gr_json_get(const gr_json_t *obj, const char *key);   /* last duplicate wins */
const gr_json_t *gr_json_at(const gr_json_t *arr, size_t i);
/* Typed accessors with a fallback for a missing or mistyped value. */
const char *gr_json_str(const gr_json_t *v, const char *dflt);
int64_t gr_json_int(const gr_json_t *v, int64_t dflt);      /* INT only */
bool gr_json_is(const gr_json_t *v, gr_json_type_t t);

/* --- builder --- */
typedef struct gr_jsonb {
    char *buf;
    size_t len, cap;
    bool need_comma;                /* a value was written at the current level */
    bool oom;                       /* sticky: an allocation failed */
} gr_jsonb_t;

void gr_jsonb_init(gr_jsonb_t *b);
void gr_jsonb_free(gr_jsonb_t *b);
/* Takes the text (NUL-terminated; caller frees), or NULL after OOM; resets b. */
char *gr_jsonb_take(gr_jsonb_t *b, size_t *len);
void gr_jsonb_obj_begin(gr_jsonb_t *b);
void gr_jsonb_obj_end(gr_jsonb_t *b);
void gr_jsonb_arr_begin(gr_jsonb_t *b);
void gr_jsonb_arr_end(gr_jsonb_t *b);
void gr_jsonb_key(gr_jsonb_t *b, const char *key);         /* then exactly one value */
void gr_jsonb_str(gr_jsonb_t *b, const char *s);            /* NULL writes null */
void gr_jsonb_strn(gr_jsonb_t *b, const char *s, size_t n);
void gr_jsonb_int(gr_jsonb_t *b, int64_t v);
void gr_jsonb_double(gr_jsonb_t *b, double v);              /* non-finite writes null */
void gr_jsonb_bool(gr_jsonb_t *b, bool v);
void gr_jsonb_null(gr_jsonb_t *b);
/* Re-serializes a parsed value (compact). */
void gr_jsonb_value(gr_jsonb_t *b, const gr_json_t *v);

#endif
