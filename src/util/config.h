/* Table-driven configuration: a definition per key (name, type, default,
 * valid range or choices, doc), a parser that turns text into a typed value
 * with an error naming the key, and a set of key -> value overrides on top
 * of a definition table.  Generic: the broker config (server.properties) and
 * the per-topic configs (stored in the metadata store) both use it.
 *
 * Values are kept as text, exactly as the operator wrote them, because that
 * is what DescribeConfigs returns and what is stored in /config/topics/<t>;
 * typed getters parse on demand (the text was validated when it was put). */
#ifndef GR_CONFIG_UTIL_H
#define GR_CONFIG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gr_config_kv {
    char *key;
    char *value;            /* NULL = null value (e.g. IncrementalAlterConfigs DELETE) */
} gr_config_kv_t;

typedef enum gr_config_type {
    GR_CFG_BOOL,
    GR_CFG_INT,             /* int32 */
    GR_CFG_SHORT,           /* int16 */
    GR_CFG_LONG,            /* int64; sizes and durations are longs */
    GR_CFG_DOUBLE,
    GR_CFG_STRING,
    GR_CFG_LIST,            /* comma-separated; items checked against choices if set */
    GR_CFG_ENUM,            /* one of choices */
    GR_CFG_PASSWORD,        /* a string that DescribeConfigs never shows */
} gr_config_type_t;

/* Kafka's DescribeConfigs ConfigSource values, so the numbers go straight
 * onto the wire. */
enum {
    GR_CFG_SRC_UNKNOWN = 0,
    GR_CFG_SRC_TOPIC = 1,           /* DYNAMIC_TOPIC_CONFIG */
    GR_CFG_SRC_DYNAMIC_BROKER = 2,
    GR_CFG_SRC_DYNAMIC_DEFAULT = 3,
    GR_CFG_SRC_STATIC_BROKER = 4,   /* server.properties or --override */
    GR_CFG_SRC_DEFAULT = 5,         /* DEFAULT_CONFIG */
};

/* Definition flags. */
enum {
    GR_CFG_F_READ_ONLY = 1 << 0,    /* cannot be changed at run time */
    GR_CFG_F_NULLABLE = 1 << 1,     /* default may be null (default_value NULL) */
    GR_CFG_F_IGNORED = 1 << 2,      /* accepted and held, not acted on yet */
    GR_CFG_F_INTERNAL = 1 << 3,     /* not listed by describe */
};

typedef struct gr_config_def {
    const char *name;
    gr_config_type_t type;
    const char *default_value;      /* text; NULL = null */
    int64_t min, max;               /* integer types: inclusive range (min == max == 0: none) */
    double dmin, dmax;              /* doubles: inclusive range (both 0: none) */
    const char *choices;            /* enum / list items: "a,b,c" (NULL: any) */
    unsigned flags;
    const char *doc;
} gr_config_def_t;

typedef struct gr_config_value {
    gr_config_type_t type;
    int64_t i;                      /* BOOL (0/1), SHORT, INT, LONG */
    double d;                       /* DOUBLE */
    const char *s;                  /* STRING, LIST, ENUM, PASSWORD: the trimmed text (points into
                                     * a caller buffer for parse, into the set for getters) */
} gr_config_value_t;

/* Finds a definition by name; NULL if unknown. */
const gr_config_def_t *gr_config_def_find(const gr_config_def_t *defs, int ndefs, const char *name);

/* Parses `text` (NUL-terminated; surrounding whitespace is not trimmed —
 * callers trim) as `def` says.  On error returns GR_ECONFIG and writes e.g.
 * "log.segment.bytes: 'abc' is not a number" or
 * "log.segment.bytes: 10 must be >= 14" into err.  text NULL is allowed only
 * for NULLABLE keys. */
int gr_config_parse(const gr_config_def_t *def, const char *text, gr_config_value_t *out,
                    char *err, size_t errlen);

/* The DescribeConfigs ConfigType (v3+) for a definition type. */
int8_t gr_config_type_kafka(gr_config_type_t t);

/* A set of values over a definition table. */
typedef struct gr_config_set {
    const gr_config_def_t *defs;
    int ndefs;
    char **values;                  /* per def: override text or NULL (= default) */
    int8_t *sources;                /* per def: GR_CFG_SRC_* of the override */
} gr_config_set_t;

int gr_config_set_init(gr_config_set_t *set, const gr_config_def_t *defs, int ndefs);
void gr_config_set_free(gr_config_set_t *set);
/* Validates and stores an override (replacing an earlier one).  Unknown key:
 * GR_ECONFIG with "unknown configuration 'key'".  Whitespace around value is
 * trimmed.  value NULL removes the override. */
int gr_config_set_put(gr_config_set_t *set, const char *key, const char *value, int8_t source,
                      char *err, size_t errlen);
/* The effective text (override or default; NULL if null), or NULL for an
 * unknown key. */
const char *gr_config_set_get(const gr_config_set_t *set, const char *key);
bool gr_config_set_is_set(const gr_config_set_t *set, const char *key);
/* Typed getters of the effective value; they abort on an unknown key or a
 * type mismatch, because that is a programming error, not input. */
int64_t gr_config_set_long(const gr_config_set_t *set, const char *key);
double gr_config_set_double(const gr_config_set_t *set, const char *key);
bool gr_config_set_bool(const gr_config_set_t *set, const char *key);
const char *gr_config_set_string(const gr_config_set_t *set, const char *key);

/* One row of DescribeConfigs. */
typedef struct gr_config_entry {
    const char *name;
    const char *value;              /* NULL = null (and always NULL for sensitive keys) */
    int8_t source;                  /* GR_CFG_SRC_* */
    bool is_default;                /* source == GR_CFG_SRC_DEFAULT */
    bool read_only;
    bool sensitive;
    int8_t config_type;             /* Kafka ConfigType */
    const char *doc;
} gr_config_entry_t;

typedef void (*gr_config_describe_fn)(void *arg, const gr_config_entry_t *e);

/* Calls fn for every non-internal definition, in table order. */
void gr_config_set_describe(const gr_config_set_t *set, gr_config_describe_fn fn, void *arg);

/* Java .properties text -> key/value pairs (malloc'd; free with
 * gr_config_kv_free).  Comments (# or ! first non-blank), blank lines,
 * `key=value`, `key: value`, `key value`, backslash line continuation,
 * and \t \n \r \f \\ \uXXXX escapes.  A later duplicate key replaces the
 * earlier one (as Java's Properties does). */
int gr_properties_parse(const char *text, size_t len, gr_config_kv_t **out, int *n,
                        char *err, size_t errlen);
void gr_config_kv_free(gr_config_kv_t *kv, int n);
/* Deep copy of n pairs; NULL on ENOMEM (or n == 0). */
gr_config_kv_t *gr_config_kv_dup(const gr_config_kv_t *kv, int n);

#endif
