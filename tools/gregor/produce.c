/* gregor produce TOPIC: one record per input line, from stdin or files. */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"

struct produce_opts {
    struct gr_common co;
    const char *topic;
    char **files;            /* NULL-terminated; none = stdin */
    int n_files;
    const char *key_sep;     /* NULL: no keys */
    char **headers;          /* "k=v" */
    int n_headers;
    int32_t partition;       /* -1: the partitioner decides */
    const char *acks;
    const char *compression;
    int64_t rate;            /* records/s, 0 = unlimited */
};

static void produce_usage(FILE *out)
{
    fprintf(out,
        "usage: gregor produce TOPIC [options]\n"
        "\n"
        "Sends one record per input line (the newline is not part of it), from stdin or from\n"
        "files. Every record that fails is reported on stderr with its file and line; the exit\n"
        "status is 1 if any failed.\n"
        "\n"
        "options:\n"
        "  -f, --file FILE          read FILE instead of stdin (repeatable; - is stdin)\n"
        "  -K, --key-separator SEP  the line is KEY SEP VALUE (at the first SEP); lines without\n"
        "                           SEP have no key\n"
        "  -H, --header K=V         add this header to every record (repeatable)\n"
        "  -p, --partition P        send every record to partition P (default: by key, else sticky)\n"
        "      --acks all|-1|0|1    (default all)\n"
        "  -z, --compression C      none|gzip|snappy|lz4|zstd (default none)\n"
        "      --rate N             at most N records/s\n"
        GR_COMMON_HELP
        "\n"
        "Exit status: 0 all delivered, 1 failure (unreachable broker, unknown topic, failed records),\n"
        "2 usage.\n"
        "\n"
        "examples:\n"
        "  echo hello | gregor produce demo\n"
        "  printf 'k1:v1\\nk2:v2\\n' | gregor produce demo -K: -H source=cli -H version=2\n"
        "  gregor produce demo -f records.txt -p 0 --acks 1 -z zstd --rate 1000\n");
}

/* Which input a record came from, for its failure message: the file index
 * in the high bits of the message opaque, the line number in the low 40. */
static char **g_files;
static atomic_llong g_failed, g_delivered;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    if (!m->err) {
        atomic_fetch_add(&g_delivered, 1);
        return;
    }
    atomic_fetch_add(&g_failed, 1);
    uint64_t id = (uint64_t)(uintptr_t)m->_private;
    const char *file = g_files[id >> 40];
    gr_errorf("record at %s line %" PRIu64 " failed: %s", file, (uint64_t)(id & ((1ull << 40) - 1)),
              rd_kafka_message_errstr(m));
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Waits until the record numbered `n` may go out at o->rate, serving
 * delivery reports meanwhile. */
static void pace(rd_kafka_t *rk, const struct produce_opts *o, uint64_t t0, long long n)
{
    if (!o->rate)
        return;
    uint64_t due = t0 + (uint64_t)((double)n * 1e9 / (double)o->rate);
    for (uint64_t now = now_ns(); now < due; now = now_ns()) {
        uint64_t left_ms = (due - now) / 1000000u;
        if (left_ms)
            rd_kafka_poll(rk, (int)(left_ms > 100 ? 100 : left_ms));
        else
            nanosleep(&(struct timespec){0, (long)(due - now)}, NULL);
    }
}

/* Sends one line; false only when the client refuses outright (printed). */
static bool send_line(rd_kafka_t *rk, const struct produce_opts *o, rd_kafka_headers_t *hdrs, char *line,
                      size_t len, uint64_t id)
{
    char *key = NULL, *val = line;
    size_t klen = 0, vlen = len;
    if (o->key_sep) {
        char *sep = memmem(line, len, o->key_sep, strlen(o->key_sep));
        if (sep) {
            key = line;
            klen = (size_t)(sep - line);
            val = sep + strlen(o->key_sep);
            vlen = len - klen - strlen(o->key_sep);
        }
    }
    for (;;) {
        rd_kafka_headers_t *h = hdrs ? rd_kafka_headers_copy(hdrs) : NULL;
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(o->topic), RD_KAFKA_V_PARTITION(o->partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE(val, vlen),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE((void *)(uintptr_t)id), RD_KAFKA_V_END);
        if (!e)
            return true;
        if (h)
            rd_kafka_headers_destroy(h);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            atomic_fetch_add(&g_failed, 1);
            gr_errorf("record at %s line %" PRIu64 " failed: %s", g_files[id >> 40], (uint64_t)(id & ((1ull << 40) - 1)),
                      rd_kafka_err2str(e));
            return e != RD_KAFKA_RESP_ERR__FATAL;
        }
        rd_kafka_poll(rk, 100);
    }
}

static int run_produce(struct produce_opts *o)
{
    const char *defaults[] = {
        "acks", o->acks,
        "compression.codec", o->compression,
        "linger.ms", "5",
        /* A record that cannot be delivered in this time is reported failed. */
        "message.timeout.ms", "30000",
        NULL,
    };
    rd_kafka_t *rk = NULL;
    rd_kafka_headers_t *hdrs = NULL;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    int rc = GR_EXIT_FAIL;
    char *line = NULL;
    size_t cap = 0;

    o->co.dr_cb = dr_cb;
    rk = gr_client_new(&o->co, RD_KAFKA_PRODUCER, defaults);
    if (!rk)
        return GR_EXIT_USAGE;
    md = gr_connect(rk, &o->co, o->topic);
    if (!md)
        goto out;
    parts = gr_topic_partitions(md, (char **)&o->topic, 1, o->partition, 0);
    if (!parts)
        goto out;
    if (o->n_headers) {
        hdrs = rd_kafka_headers_new((size_t)o->n_headers);
        for (int i = 0; i < o->n_headers; i++) {
            char *eq = strchr(o->headers[i], '=');
            rd_kafka_header_add(hdrs, o->headers[i], eq - o->headers[i], eq + 1, -1);
        }
    }
    static char stdin_name[] = "stdin";
    char *stdin_files[] = {stdin_name, NULL};
    g_files = o->n_files ? o->files : stdin_files;
    int n_files = o->n_files ? o->n_files : 1;
    uint64_t t0 = now_ns();
    long long n = 0;
    bool ok = true;
    for (int fi = 0; ok && fi < n_files; fi++) {
        bool is_stdin = strcmp(g_files[fi], "-") == 0 || g_files == stdin_files;
        FILE *f = is_stdin ? stdin : fopen(g_files[fi], "r");
        if (!f) {
            gr_errorf("cannot open %s: %s", g_files[fi], strerror(errno));
            ok = false;
            break;
        }
        ssize_t len;
        for (uint64_t lineno = 1; ok && (len = getline(&line, &cap, f)) >= 0; lineno++) {
            if (len && line[len - 1] == '\n')
                line[--len] = 0;
            pace(rk, o, t0, n++);
            ok = send_line(rk, o, hdrs, line, (size_t)len, ((uint64_t)fi << 40) | lineno);
            rd_kafka_poll(rk, 0);
        }
        if (ferror(f)) {
            gr_errorf("reading %s: %s", g_files[fi], strerror(errno));
            ok = false;
        }
        if (!is_stdin)
            fclose(f);
    }
    while (rd_kafka_outq_len(rk) > 0)
        rd_kafka_flush(rk, 1000);
    if (o->co.verbose)
        fprintf(stderr, "gregor produce: %lld delivered, %lld failed\n", (long long)atomic_load(&g_delivered),
                (long long)atomic_load(&g_failed));
    if (atomic_load(&g_failed))
        gr_errorf("%lld of %lld records failed", (long long)atomic_load(&g_failed), n);
    else if (ok)
        rc = GR_EXIT_OK;
out:
    free(line);
    if (hdrs)
        rd_kafka_headers_destroy(hdrs);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}

enum { OPT_ACKS = GR_OPT_CMD_BASE, OPT_RATE };

static const struct option long_opts[] = {
    GR_COMMON_LONG_OPTS,
    {"file", required_argument, NULL, 'f'},
    {"key-separator", required_argument, NULL, 'K'},
    {"header", required_argument, NULL, 'H'},
    {"partition", required_argument, NULL, 'p'},
    {"acks", required_argument, NULL, OPT_ACKS},
    {"compression", required_argument, NULL, 'z'},
    {"rate", required_argument, NULL, OPT_RATE},
    {NULL, 0, NULL, 0},
};

static bool one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return true;
    return false;
}

int gr_cmd_produce(int argc, char **argv)
{
    struct produce_opts o = {.partition = RD_KAFKA_PARTITION_UA, .acks = "all", .compression = "none"};
    if (!gr_common_init(&o.co, "gregor produce", argc))
        return GR_EXIT_FAIL;
    char **lists = calloc((size_t)argc * 2 + 2, sizeof(char *));
    o.files = lists;
    o.headers = lists + argc + 1;
    int rc = GR_EXIT_USAGE, c;
    int64_t v;
    static const char *const acks[] = {"all", "-1", "0", "1", NULL};
    static const char *const codecs[] = {"none", "gzip", "snappy", "lz4", "zstd", NULL};
    while ((c = gr_next_opt(&o.co, argc, argv, GR_COMMON_SHORT "f:K:H:p:z:", long_opts, produce_usage, &rc)) != -1) {
        if (c == GR_OPT_EXIT)
            goto done;
        switch (c) {
        case 'f': o.files[o.n_files++] = optarg; break;
        case 'K':
            if (!*optarg) {
                gr_errorf("-K: the key separator is empty");
                goto done;
            }
            o.key_sep = optarg;
            break;
        case 'H':
            if (!strchr(optarg, '=') || optarg[0] == '=') {
                gr_errorf("-H %s: expected key=value", optarg);
                goto done;
            }
            o.headers[o.n_headers++] = optarg;
            break;
        case 'p':
            if (!gr_parse_i64("--partition", optarg, 0, INT32_MAX, &v))
                goto done;
            o.partition = (int32_t)v;
            break;
        case OPT_ACKS:
            if (!one_of(optarg, acks)) {
                gr_errorf("--acks %s: expected all, -1, 0 or 1", optarg);
                goto done;
            }
            o.acks = optarg;
            break;
        case 'z':
            if (!one_of(optarg, codecs)) {
                gr_errorf("--compression %s: expected none, gzip, snappy, lz4 or zstd", optarg);
                goto done;
            }
            o.compression = optarg;
            break;
        case OPT_RATE:
            if (!gr_parse_i64("--rate", optarg, 1, 1000000000, &o.rate))
                goto done;
            break;
        default:
            goto done;
        }
    }
    if (optind >= argc) {
        gr_errorf("missing TOPIC (see gregor produce --help)");
        goto done;
    }
    if (argc - optind > 1) {
        gr_errorf("unexpected argument '%s': one TOPIC only (see gregor produce --help)", argv[optind + 1]);
        goto done;
    }
    o.topic = argv[optind];
    rc = run_produce(&o);
done:
    free(lists);
    gr_common_free(&o.co);
    return rc;
}
