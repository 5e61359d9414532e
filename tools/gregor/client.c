/* Shared plumbing of the gregor subcommands; see client.h. */
#include "client.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *g_prog = "gregor";
static bool g_verbose;

/* ---- errors --------------------------------------------------------------- */

static void vreport(const char *kind, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: %s", g_prog, kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void gr_errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport("", fmt, ap);
    va_end(ap);
}

void gr_warnf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport("warning: ", fmt, ap);
    va_end(ap);
}

/* librdkafka logs every failed connection attempt; keep the last error-level
 * line to explain a failure and print logs only with -v. Called from
 * librdkafka's threads. */
static pthread_mutex_t last_error_mu = PTHREAD_MUTEX_INITIALIZER;
static char last_error[512];

static void note_error(const char *msg)
{
    pthread_mutex_lock(&last_error_mu);
    snprintf(last_error, sizeof(last_error), "%s", msg);
    pthread_mutex_unlock(&last_error_mu);
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    if (g_verbose)
        fprintf(stderr, "rdkafka %d %s: %s\n", level, fac, buf);
    if (level <= 3)
        note_error(buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    if (g_verbose)
        fprintf(stderr, "rdkafka error %s: %s\n", rd_kafka_err2name(err), reason);
    note_error(reason);
}

void gr_conf_quiet_logs(rd_kafka_conf_t *conf, bool verbose)
{
    g_verbose = verbose;
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
}

const char *gr_last_error_suffix(char *buf, size_t len)
{
    pthread_mutex_lock(&last_error_mu);
    if (last_error[0])
        snprintf(buf, len, " (last error: %s)", last_error);
    else
        buf[0] = 0;
    pthread_mutex_unlock(&last_error_mu);
    return buf;
}

/* ---- options ---------------------------------------------------------------- */

bool gr_common_init(struct gr_common *co, const char *prog, int argc)
{
    const char *env = getenv("GREGOR_BROKERS");
    memset(co, 0, sizeof(*co));
    co->brokers = env && *env ? env : "localhost:9092";
    co->timeout_ms = GR_DEFAULT_TIMEOUT_MS;
    co->xprops = calloc((size_t)argc + 1, sizeof(*co->xprops));
    g_prog = prog;
    gr_getopt_reset();
    return co->xprops != NULL;
}

void gr_common_free(struct gr_common *co)
{
    free(co->xprops);
    co->xprops = NULL;
}

void gr_getopt_reset(void)
{
    optind = 0; /* glibc: full re-initialisation */
    opterr = 0; /* our messages are clearer and prefixed */
}

bool gr_parse_i64(const char *opt, const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        gr_errorf("%s %s: expected a number in %" PRId64 "..%" PRId64, opt, s, min, max);
        return false;
    }
    *out = v;
    return true;
}

bool gr_split_kv(char *s, char **key, char **value)
{
    char *eq = strchr(s, '=');
    if (!eq || eq == s)
        return false;
    *eq = 0;
    *key = s;
    *value = eq + 1;
    return true;
}

int gr_common_opt(struct gr_common *co, int c, const char *arg)
{
    int64_t v;
    switch (c) {
    case 'b': co->brokers = arg; return 1;
    case 'v': co->verbose = true; return 1;
    case GR_OPT_JSON: co->json = true; return 1;
    case 'X':
        if (!strchr(arg, '=') || arg[0] == '=') {
            gr_errorf("-X %s: expected key=value", arg);
            return -1;
        }
        co->xprops[co->n_xprops++] = arg;
        return 1;
    case GR_OPT_TIMEOUT:
        if (!gr_parse_i64("--timeout", arg, 1, 3600000, &v))
            return -1;
        co->timeout_ms = (int)v;
        return 1;
    default:
        return 0;
    }
}

static void bad_option(char **argv)
{
    if (optopt && optopt < 256)
        gr_errorf("unknown option or missing value: -%c (see %s --help)", optopt, g_prog);
    else
        gr_errorf("unknown option or missing value: %s (see %s --help)", argv[optind - 1], g_prog);
}

int gr_next_opt(struct gr_common *co, int argc, char **argv, const char *shortopts, const struct option *longopts,
                void (*usage)(FILE *), int *rc)
{
    for (;;) {
        int c = getopt_long(argc, argv, shortopts, longopts, NULL);
        if (c == -1)
            return -1;
        int r = gr_common_opt(co, c, optarg);
        if (r > 0)
            continue;
        if (r < 0) {
            *rc = GR_EXIT_USAGE;
            return GR_OPT_EXIT;
        }
        if (c == 'h') {
            usage(stdout);
            *rc = GR_EXIT_OK;
            return GR_OPT_EXIT;
        }
        if (c == '?' || c == ':') {
            bad_option(argv);
            *rc = GR_EXIT_USAGE;
            return GR_OPT_EXIT;
        }
        return c;
    }
}

/* ---- clients ----------------------------------------------------------------- */

static bool conf_set(rd_kafka_conf_t *conf, const char *key, const char *val)
{
    char err[512];
    if (rd_kafka_conf_set(conf, key, val, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        gr_errorf("%s=%s: %s", key, val, err);
        return false;
    }
    return true;
}

rd_kafka_t *gr_client_new(const struct gr_common *co, rd_kafka_type_t type, const char *const *defaults)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    gr_conf_quiet_logs(conf, co->verbose);
    if (co->dr_cb)
        rd_kafka_conf_set_dr_msg_cb(conf, co->dr_cb);
    if (co->rebalance_cb)
        rd_kafka_conf_set_rebalance_cb(conf, co->rebalance_cb);
    if (!conf_set(conf, "bootstrap.servers", co->brokers) || !conf_set(conf, "client.id", "gregor"))
        goto fail;
    for (const char *const *d = defaults; d && d[0]; d += 2)
        if (!conf_set(conf, d[0], d[1]))
            goto fail;
    for (int i = 0; i < co->n_xprops; i++) {
        char kv[1024], *k, *v;
        snprintf(kv, sizeof(kv), "%s", co->xprops[i]);
        if (!gr_split_kv(kv, &k, &v) || !conf_set(conf, k, v))
            goto fail;
    }
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
    if (!rk) {
        gr_errorf("cannot create the client: %s", errstr);
        goto fail;
    }
    return rk;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

const struct rd_kafka_metadata *gr_connect(rd_kafka_t *rk, const struct gr_common *co, const char *topic)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = topic ? rd_kafka_topic_new(rk, topic, NULL) : NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, rkt == NULL, rkt, &md, co->timeout_ms);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    if (err) {
        char sfx[600];
        gr_errorf("cannot reach the broker(s) at %s within %.1f s: %s%s", co->brokers, co->timeout_ms / 1000.0,
                  rd_kafka_err2str(err), gr_last_error_suffix(sfx, sizeof(sfx)));
        return NULL;
    }
    return md;
}

const struct rd_kafka_metadata_topic *gr_md_topic(const struct rd_kafka_metadata *md, const char *topic)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, topic) == 0)
            return md->topics[i].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ? NULL : &md->topics[i];
    return NULL;
}

const struct rd_kafka_metadata_topic *gr_md_need_topic(const struct rd_kafka_metadata *md, const char *topic)
{
    const struct rd_kafka_metadata_topic *t = gr_md_topic(md, topic);
    if (!t)
        gr_errorf("topic %s does not exist", topic);
    else if (t->err)
        gr_errorf("topic %s: %s", topic, rd_kafka_err2str(t->err));
    return t && !t->err ? t : NULL;
}

const struct rd_kafka_metadata_partition *gr_md_partition(const struct rd_kafka_metadata_topic *t, int32_t p)
{
    for (int i = 0; i < t->partition_cnt; i++)
        if (t->partitions[i].id == p)
            return &t->partitions[i];
    return NULL;
}

rd_kafka_topic_partition_list_t *gr_topic_partitions(const struct rd_kafka_metadata *md, char **topics, int n,
                                                     int32_t partition, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    for (int i = 0; i < n; i++) {
        const struct rd_kafka_metadata_topic *t = gr_md_need_topic(md, topics[i]);
        if (!t)
            goto fail;
        if (partition >= 0 && !gr_md_partition(t, partition)) {
            gr_errorf("topic %s has no partition %d (it has %d)", topics[i], partition, t->partition_cnt);
            goto fail;
        }
        for (int p = 0; p < t->partition_cnt; p++)
            if (partition < 0 || t->partitions[p].id == partition)
                rd_kafka_topic_partition_list_add(l, t->topic, t->partitions[p].id)->offset = offset;
    }
    rd_kafka_topic_partition_list_sort(l, NULL, NULL);
    return l;
fail:
    rd_kafka_topic_partition_list_destroy(l);
    return NULL;
}

bool gr_watermarks(rd_kafka_t *rk, const struct gr_common *co, const char *topic, int32_t p, int64_t *lo,
                   int64_t *hi)
{
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, p, lo, hi, co->timeout_ms);
    if (e) {
        gr_errorf("reading the offsets of %s[%d]: %s", topic, p, rd_kafka_err2str(e));
        return false;
    }
    return true;
}

bool gr_offsets_for_times(rd_kafka_t *rk, const struct gr_common *co, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, parts, co->timeout_ms);
    for (int i = 0; !e && i < parts->cnt; i++)
        if (parts->elems[i].err) {
            gr_errorf("looking up a timestamp in %s[%d]: %s", parts->elems[i].topic, parts->elems[i].partition,
                      rd_kafka_err2str(parts->elems[i].err));
            return false;
        }
    if (e) {
        gr_errorf("looking up offsets by timestamp: %s", rd_kafka_err2str(e));
        return false;
    }
    /* No record at or after the timestamp: librdkafka answers -1 (end). */
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        if (tp->offset < 0) {
            int64_t lo, hi;
            if (!gr_watermarks(rk, co, tp->topic, tp->partition, &lo, &hi))
                return false;
            tp->offset = hi;
        }
    }
    return true;
}

/* ---- admin ------------------------------------------------------------------- */

bool gr_admin_open(struct gr_admin *a, const struct gr_common *co)
{
    memset(a, 0, sizeof(*a));
    a->co = co;
    a->rk = gr_client_new(co, RD_KAFKA_PRODUCER, NULL);
    if (!a->rk)
        return false;
    const struct rd_kafka_metadata *md = gr_connect(a->rk, co, NULL);
    if (!md) {
        gr_admin_close(a);
        return false;
    }
    rd_kafka_metadata_destroy(md);
    a->q = rd_kafka_queue_new(a->rk);
    return true;
}

void gr_admin_close(struct gr_admin *a)
{
    if (a->ao)
        rd_kafka_AdminOptions_destroy(a->ao);
    if (a->q)
        rd_kafka_queue_destroy(a->q);
    if (a->rk)
        rd_kafka_destroy(a->rk);
    memset(a, 0, sizeof(*a));
}

rd_kafka_AdminOptions_t *gr_admin_options(struct gr_admin *a, rd_kafka_admin_op_t op)
{
    if (a->ao)
        rd_kafka_AdminOptions_destroy(a->ao);
    a->ao = rd_kafka_AdminOptions_new(a->rk, op);
    rd_kafka_AdminOptions_set_request_timeout(a->ao, a->co->timeout_ms, NULL, 0);
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS ||
        op == RD_KAFKA_ADMIN_OP_CREATEPARTITIONS || op == RD_KAFKA_ADMIN_OP_DELETERECORDS)
        rd_kafka_AdminOptions_set_operation_timeout(a->ao, a->co->timeout_ms, NULL, 0);
    return a->ao;
}

rd_kafka_event_t *gr_admin_wait(struct gr_admin *a, const char *what)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(a->q, a->co->timeout_ms + 5000);
    if (!ev) {
        char sfx[600];
        gr_errorf("%s: no answer within %.1f s%s", what, a->co->timeout_ms / 1000.0 + 5,
                  gr_last_error_suffix(sfx, sizeof(sfx)));
        return NULL;
    }
    if (rd_kafka_event_error(ev)) {
        gr_errorf("%s: %s", what, rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

bool gr_topic_results(const rd_kafka_topic_result_t **tr, size_t n, const char *what, const char *done_fmt,
                      rd_kafka_resp_err_t ok_err)
{
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        const char *name = rd_kafka_topic_result_name(tr[i]);
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
        if (e && e != ok_err) {
            const char *msg = rd_kafka_topic_result_error_string(tr[i]);
            if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                gr_errorf("%s %s: topic does not exist", what, name);
            else
                gr_errorf("%s %s: %s", what, name, msg && *msg ? msg : rd_kafka_err2str(e));
            ok = false;
        } else {
            printf(done_fmt, name);
            putchar('\n');
        }
    }
    fflush(stdout);
    return ok;
}

const rd_kafka_ConfigResource_t *gr_describe_config(struct gr_admin *a, rd_kafka_ResourceType_t type,
                                                    const char *name, rd_kafka_event_t **ev_out)
{
    char what[300];
    snprintf(what, sizeof(what), "describing the configs of %s %s", rd_kafka_ResourceType_name(type), name);
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(type, name);
    rd_kafka_DescribeConfigs(a->rk, &res, 1, gr_admin_options(a, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS), a->q);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_event_t *ev = gr_admin_wait(a, what);
    if (!ev)
        return NULL;
    size_t n = 0;
    const rd_kafka_ConfigResource_t **rs =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
    rd_kafka_resp_err_t e = n ? rd_kafka_ConfigResource_error(rs[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
    if (e) {
        const char *msg = n ? rd_kafka_ConfigResource_error_string(rs[0]) : NULL;
        if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            gr_errorf("topic %s does not exist", name);
        else
            gr_errorf("%s: %s", what, msg && *msg ? msg : rd_kafka_err2str(e));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    *ev_out = ev;
    return rs[0];
}

/* ---- output ------------------------------------------------------------------- */

void gr_table_init(gr_table_t *t, int ncols, const char *const *headers, unsigned numeric)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols;
    t->headers = headers;
    t->numeric = numeric;
}

void gr_table_cell(gr_table_t *t, const char *s)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->cells = realloc(t->cells, t->cap * sizeof(*t->cells));
        if (!t->cells) {
            fprintf(stderr, "%s: out of memory\n", g_prog);
            exit(GR_EXIT_FAIL);
        }
    }
    t->cells[t->n++] = s ? strdup(s) : NULL;
}

void gr_table_cellf(gr_table_t *t, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    gr_table_cell(t, buf);
}

void gr_table_cell_i64(gr_table_t *t, int64_t v)
{
    gr_table_cellf(t, "%" PRId64, v);
}

size_t gr_table_rows(const gr_table_t *t)
{
    return t->n / (size_t)t->ncols;
}

static void print_cell(FILE *out, const char *s, size_t width, bool last)
{
    if (last)
        fprintf(out, "%s\n", s);
    else
        fprintf(out, "%-*s  ", (int)width, s);
}

void gr_table_print(const gr_table_t *t, FILE *out)
{
    size_t w[64] = {0};
    int nc = t->ncols < 64 ? t->ncols : 64;
    for (int c = 0; c < nc; c++)
        w[c] = strlen(t->headers[c]);
    for (size_t i = 0; i < t->n; i++) {
        size_t l = t->cells[i] ? strlen(t->cells[i]) : 1;
        if (l > w[i % (size_t)t->ncols])
            w[i % (size_t)t->ncols] = l;
    }
    for (int c = 0; c < nc; c++)
        print_cell(out, t->headers[c], w[c], c + 1 == nc);
    for (size_t i = 0; i < t->n; i++) {
        int c = (int)(i % (size_t)t->ncols);
        print_cell(out, t->cells[i] ? t->cells[i] : "-", w[c], c + 1 == nc);
    }
}

static bool integer_text(const char *s, int64_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return false;
    *v = x;
    return true;
}

void gr_table_json(const gr_table_t *t, gr_jsonb_t *b)
{
    gr_jsonb_arr_begin(b);
    for (size_t r = 0; r < gr_table_rows(t); r++) {
        gr_jsonb_obj_begin(b);
        for (int c = 0; c < t->ncols; c++) {
            char key[64];
            size_t k = 0;
            for (const char *h = t->headers[c]; *h && k + 1 < sizeof(key); h++)
                key[k++] = *h == '-' ? '_' : (char)tolower((unsigned char)*h);
            key[k] = 0;
            gr_jsonb_key(b, key);
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
            int64_t v;
            if (!s)
                gr_jsonb_null(b);
            else if ((t->numeric & (1u << c)) && integer_text(s, &v))
                gr_jsonb_int(b, v);
            else
                gr_jsonb_str(b, s);
        }
        gr_jsonb_obj_end(b);
    }
    gr_jsonb_arr_end(b);
}

void gr_table_free(gr_table_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

void gr_json_output(gr_jsonb_t *b)
{
    size_t len = 0;
    char *s = gr_jsonb_take(b, &len);
    if (s) {
        fwrite(s, 1, len, stdout);
        fputc('\n', stdout);
    }
    free(s);
    gr_jsonb_free(b);
}

void gr_table_output(const gr_table_t *t, const struct gr_common *co)
{
    if (co->json) {
        gr_jsonb_t b;
        gr_jsonb_init(&b);
        gr_table_json(t, &b);
        gr_json_output(&b);
    } else {
        gr_table_print(t, stdout);
    }
}

void gr_jsonb_i32s(gr_jsonb_t *b, const int32_t *v, int n)
{
    gr_jsonb_arr_begin(b);
    for (int i = 0; i < n; i++)
        gr_jsonb_int(b, v[i]);
    gr_jsonb_arr_end(b);
}

const char *gr_join_i32(char *buf, size_t len, const int32_t *v, int n)
{
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, i ? ",%d" : "%d", v[i]);
    return buf;
}
