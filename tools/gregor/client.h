/* What the gregor subcommands share: the common options (-b, --json,
 * --timeout, -X, -v), one-line error reporting, librdkafka clients whose
 * logs are kept quiet (the last error is remembered to explain a failure),
 * a bounded first contact with the cluster, admin-call plumbing, and tables
 * that print either aligned text or JSON.
 *
 * Every failure is reported as one line "gregor CMD: what went wrong" on
 * stderr; the functions below that can fail print that line themselves and
 * return NULL / false / -1, so callers only clean up and return
 * GR_EXIT_FAIL. */
#ifndef GREGOR_CLIENT_H
#define GREGOR_CLIENT_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <librdkafka/rdkafka.h>

#include "util/json.h"

#define GR_DEFAULT_TIMEOUT_MS 10000

struct gr_common {
    const char *brokers;
    bool json;
    bool verbose;
    int timeout_ms;        /* bound on reaching the cluster and on each request */
    const char **xprops;   /* "key=value" from -X, applied last */
    int n_xprops;
    /* Producers: the delivery report callback, if any. */
    void (*dr_cb)(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
    /* Consumers: the rebalance callback, if any. */
    void (*rebalance_cb)(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque);
};

/* Long options every command takes; put GR_COMMON_LONG_OPTS first in the
 * command's table and GR_COMMON_SHORT in its short-option string. */
enum { GR_OPT_JSON = 1000, GR_OPT_TIMEOUT, GR_OPT_CMD_BASE = 1100 };
#define GR_COMMON_SHORT "b:X:vh"
#define GR_COMMON_LONG_OPTS                                   \
    {"brokers", required_argument, NULL, 'b'},                \
    {"json", no_argument, NULL, GR_OPT_JSON},                 \
    {"timeout", required_argument, NULL, GR_OPT_TIMEOUT},     \
    {"verbose", no_argument, NULL, 'v'},                      \
    {"help", no_argument, NULL, 'h'}
/* The help text for them, for each command's usage. */
#define GR_COMMON_HELP                                                                       \
    "  -b, --brokers LIST   bootstrap servers (default: $GREGOR_BROKERS, else localhost:9092)\n" \
    "      --timeout MS     give up on the cluster after MS ms (default 10000)\n"              \
    "  -X KEY=VALUE         any librdkafka property (repeatable)\n"                          \
    "  -v, --verbose        show librdkafka's log lines\n"                                   \
    "  -h, --help           this help\n"

/* Sets the error prefix ("gregor topic") and the defaults; argc bounds -X. */
bool gr_common_init(struct gr_common *co, const char *prog, int argc);
void gr_common_free(struct gr_common *co);
/* Handles a common option: 1 handled, 0 not a common option (including
 * 'h': the command prints its own help), -1 bad value (error printed). */
int gr_common_opt(struct gr_common *co, int c, const char *arg);
/* The next option the command handles itself. Common options are applied
 * here; -h prints `usage` on stdout; an unknown option or a bad value is
 * reported. Returns -1 after the last option, or GR_OPT_EXIT when the
 * command must return *rc at once (0 after --help, 2 after an error).
 * `shortopts` includes GR_COMMON_SHORT. */
#define GR_OPT_EXIT (-2)
int gr_next_opt(struct gr_common *co, int argc, char **argv, const char *shortopts, const struct option *longopts,
                void (*usage)(FILE *), int *rc);
/* Resets getopt for a fresh parse (commands may parse more than once). */
void gr_getopt_reset(void);

void gr_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void gr_warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Routes librdkafka's logs and errors of a conf to the quiet handlers:
 * the last error-level line is kept for gr_last_error_suffix, and lines
 * are printed only when `verbose`. (gr_client_new does this itself.) */
void gr_conf_quiet_logs(rd_kafka_conf_t *conf, bool verbose);
/* " (last error: ...)" from librdkafka's logs, or "". */
const char *gr_last_error_suffix(char *buf, size_t len);

/* Number parsing: the whole string, in [min, max]. On failure prints
 * "OPTION VALUE: expected ..." and returns false. */
bool gr_parse_i64(const char *opt, const char *s, int64_t min, int64_t max, int64_t *out);
/* Splits "key=value" (modifies s); false when there is no '=' or no key. */
bool gr_split_kv(char *s, char **key, char **value);

/* ---- clients -------------------------------------------------------------- */

/* A producer or consumer with quiet logs; `defaults` is key, value, ...,
 * NULL, applied before -X. NULL on error (printed). */
rd_kafka_t *gr_client_new(const struct gr_common *co, rd_kafka_type_t type, const char *const *defaults);
/* First contact, bounded by co->timeout_ms: metadata for all topics (or for
 * `topic` only, which lets a broker auto-create it). NULL when the cluster
 * cannot be reached (printed: "cannot reach the broker(s) at ..."). */
const struct rd_kafka_metadata *gr_connect(rd_kafka_t *rk, const struct gr_common *co, const char *topic);
/* The topic in md, or NULL when absent or unknown to the broker. */
const struct rd_kafka_metadata_topic *gr_md_topic(const struct rd_kafka_metadata *md, const char *topic);
/* Like gr_md_topic but prints "topic X does not exist" when absent. */
const struct rd_kafka_metadata_topic *gr_md_need_topic(const struct rd_kafka_metadata *md, const char *topic);
/* Partition `p` of t, or NULL. */
const struct rd_kafka_metadata_partition *gr_md_partition(const struct rd_kafka_metadata_topic *t, int32_t p);
/* Every partition of the topics (only `partition` when >= 0), sorted, with
 * offset set to `offset`; NULL when a topic or the partition does not exist
 * (printed). */
rd_kafka_topic_partition_list_t *gr_topic_partitions(const struct rd_kafka_metadata *md, char **topics, int n,
                                                     int32_t partition, int64_t offset);
/* Low/high watermark of one partition; false on error (printed). */
bool gr_watermarks(rd_kafka_t *rk, const struct gr_common *co, const char *topic, int32_t p, int64_t *lo,
                   int64_t *hi);
/* Resolves each element's offset (a timestamp on input) to the first
 * offset with a timestamp >= it (the log end when none); false on error. */
bool gr_offsets_for_times(rd_kafka_t *rk, const struct gr_common *co, rd_kafka_topic_partition_list_t *parts);

/* ---- admin ------------------------------------------------------------------ */

struct gr_admin {
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    rd_kafka_AdminOptions_t *ao;
    const struct gr_common *co;
};
/* A client (producer handle) that reached the cluster; false on error. */
bool gr_admin_open(struct gr_admin *a, const struct gr_common *co);
void gr_admin_close(struct gr_admin *a);
/* Options for the next call of `op` (timeouts from co); replaces earlier ones. */
rd_kafka_AdminOptions_t *gr_admin_options(struct gr_admin *a, rd_kafka_admin_op_t op);
/* Waits for the result of the call just made; NULL on timeout or request
 * error (printed as "WHAT: ..."). The caller destroys the event. */
rd_kafka_event_t *gr_admin_wait(struct gr_admin *a, const char *what);
/* Reports per-topic results of create/delete/create-partitions: one line
 * `done_fmt` (with %s = topic) on stdout per success, an error line per
 * failure. `ok_err` counts as success too (e.g. TOPIC_ALREADY_EXISTS for
 * --if-not-exists). True when all succeeded. */
bool gr_topic_results(const rd_kafka_topic_result_t **tr, size_t n, const char *what, const char *done_fmt,
                      rd_kafka_resp_err_t ok_err);

/* Describes one config resource; NULL on error (printed). On success the
 * caller destroys *ev_out; *res_out points into it. */
const rd_kafka_ConfigResource_t *gr_describe_config(struct gr_admin *a, rd_kafka_ResourceType_t type,
                                                    const char *name, rd_kafka_event_t **ev_out);
/* Sets and deletes configs of one resource (config.c). librdkafka 2.0.2 has
 * no IncrementalAlterConfigs, so this reads the resource's dynamic configs
 * and writes the whole set back with AlterConfigs. sets are "k=v". */
bool gr_alter_config(struct gr_admin *a, rd_kafka_ResourceType_t type, const char *name, char **sets,
                     int n_sets, char **deletes, int n_deletes);

/* ---- output ----------------------------------------------------------------- */

/* A table filled cell by cell, row after row; printed as aligned columns
 * or, as JSON, an array of objects keyed by the lower-cased headers ("-"
 * becomes "_"). Columns whose bit is set in `numeric` become JSON numbers;
 * a NULL cell prints "-" (JSON null). */
typedef struct gr_table {
    int ncols;
    const char *const *headers;
    unsigned numeric;
    char **cells;
    size_t n, cap;
} gr_table_t;

void gr_table_init(gr_table_t *t, int ncols, const char *const *headers, unsigned numeric);
void gr_table_cell(gr_table_t *t, const char *s);
void gr_table_cellf(gr_table_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gr_table_cell_i64(gr_table_t *t, int64_t v);
size_t gr_table_rows(const gr_table_t *t);
void gr_table_print(const gr_table_t *t, FILE *out);
/* Appends the rows as a JSON array to b. */
void gr_table_json(const gr_table_t *t, gr_jsonb_t *b);
void gr_table_free(gr_table_t *t);
/* Prints a table in the mode the user asked for (--json: one array). */
void gr_table_output(const gr_table_t *t, const struct gr_common *co);
/* Prints a finished JSON document on stdout with a newline; frees b. */
void gr_json_output(gr_jsonb_t *b);
/* Writes a JSON array of ints for a broker id list. */
void gr_jsonb_i32s(gr_jsonb_t *b, const int32_t *v, int n);
/* "1,2,3" into buf. */
const char *gr_join_i32(char *buf, size_t len, const int32_t *v, int n);

#endif
