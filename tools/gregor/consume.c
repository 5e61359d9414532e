/* gregor consume TOPIC...: print records with a format string, from chosen
 * offsets (assigned partitions) or as a member of a consumer group. */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"

enum start_kind { START_END, START_BEGINNING, START_OFFSET, START_TAIL, START_TIMESTAMP };

struct consume_opts {
    struct gr_common co;
    char **topics;
    int n_topics;
    enum start_kind start;
    bool start_given;
    int64_t start_value;      /* offset, N from the end, or timestamp */
    int32_t partition;        /* -1: all */
    const char *group;
    const char *format;
    int64_t count;            /* 0: unlimited */
    bool exit_at_end;
};

static void consume_usage(FILE *out)
{
    fprintf(out,
        "usage: gregor consume TOPIC... [options]\n"
        "\n"
        "Prints records. Alone (the default) it reads the partitions itself from the chosen\n"
        "offsets and commits nothing; with --group it joins that consumer group, starts from the\n"
        "group's committed offsets (else -o start|end) and commits what it printed.\n"
        "\n"
        "options:\n"
        "  -o, --offset WHERE       start|beginning, end (default), OFFSET, or -N (N before the end)\n"
        "      --from-beginning     the same as -o start\n"
        "      --timestamp MS       start at the first record at or after MS (ms since the epoch)\n"
        "  -p, --partition P        only partition P (not with --group)\n"
        "  -g, --group GROUP        consume as a member of GROUP\n"
        "  -F, --format FMT         output format (default '%%v\\n'):\n"
        "                             %%k key  %%v value  %%h headers (k=v,k=v)  %%p partition\n"
        "                             %%o offset  %%t timestamp (ms)  %%T topic  %%%% a %%\n"
        "                             \\n newline  \\t tab  \\\\ backslash\n"
        "  -c, --count N            stop after N records\n"
        "  -e, --exit               stop at the end of the log (of every assigned partition)\n"
        GR_COMMON_HELP
        "\n"
        "Exit status: 0 ok, 1 failure (unreachable broker, unknown topic, offset out of range),\n"
        "2 usage. Without -c or -e it runs until interrupted (SIGINT/SIGTERM end it cleanly).\n"
        "\n"
        "examples:\n"
        "  gregor consume demo --from-beginning -e\n"
        "  gregor consume demo -o -10 -e -F '%%p:%%o %%k=%%v %%h\\n'\n"
        "  gregor consume demo -p 0 -o 1234 -c 1 -F '%%t\\t%%v\\n'\n"
        "  gregor consume orders payments -g billing -o start\n"
        "  gregor consume demo --timestamp 1700000000000 -e -F '{\"offset\":%%o,\"value\":\"%%v\"}\\n'\n");
}

/* ---- output -------------------------------------------------------------------- */

static void put_bytes(const void *p, size_t n)
{
    if (p && n)
        fwrite(p, 1, n, stdout);
}

static void put_headers(const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) || !h)
        return;
    const char *name;
    const void *val;
    size_t size;
    for (size_t i = 0; !rd_kafka_header_get_all(h, i, &name, &val, &size); i++) {
        if (i)
            putchar(',');
        fputs(name, stdout);
        putchar('=');
        put_bytes(val, size);
    }
}

static void print_record(const char *fmt, const rd_kafka_message_t *m)
{
    for (const char *f = fmt; *f; f++) {
        if (*f == '\\' && f[1]) {
            f++;
            putchar(*f == 'n' ? '\n' : *f == 't' ? '\t' : *f == 'r' ? '\r' : *f == '0' ? '\0' : *f);
        } else if (*f == '%' && f[1]) {
            f++;
            switch (*f) {
            case 'k': put_bytes(m->key, m->key_len); break;
            case 'v':
            case 's': put_bytes(m->payload, m->len); break;
            case 'h': put_headers(m); break;
            case 'p': printf("%" PRId32, m->partition); break;
            case 'o': printf("%" PRId64, m->offset); break;
            case 't': printf("%" PRId64, rd_kafka_message_timestamp(m, NULL)); break;
            case 'T': fputs(rd_kafka_topic_name(m->rkt), stdout); break;
            case '%': putchar('%'); break;
            default: putchar('%'); putchar(*f); break;
            }
        } else {
            putchar(*f);
        }
    }
}

/* Checked before consuming: an unknown directive is a usage error. */
static bool format_ok(const char *fmt)
{
    for (const char *f = fmt; *f; f++)
        if (*f == '%' && (!f[1] || !strchr("kvshpotT%", *++f))) {
            gr_errorf("-F '%s': unknown directive %%%c (known: %%k %%v %%h %%p %%o %%t %%T %%%%)", fmt,
                      *f ? *f : ' ');
            return false;
        } else if (*f == '\\' && f[1]) {
            f++;
        }
    return true;
}

/* ---- consuming ------------------------------------------------------------------- */

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { g_stop = 1; }

/* Partitions assigned (group mode: changes on rebalance) and at their end. */
static int g_assigned;
static rd_kafka_topic_partition_list_t *g_at_end;

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque)
{
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_assign(rk, parts);
        g_assigned = parts->cnt;
    } else {
        rd_kafka_assign(rk, NULL);
        g_assigned = 0;
    }
    rd_kafka_topic_partition_list_destroy(g_at_end);
    g_at_end = rd_kafka_topic_partition_list_new(8);
}

static bool mark_end(const rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    if (!rd_kafka_topic_partition_list_find(g_at_end, topic, m->partition))
        rd_kafka_topic_partition_list_add(g_at_end, topic, m->partition);
    return g_assigned > 0 && g_at_end->cnt >= g_assigned;
}

static void unmark_end(const rd_kafka_message_t *m)
{
    rd_kafka_topic_partition_list_del(g_at_end, rd_kafka_topic_name(m->rkt), m->partition);
}

/* Consumer errors that mean the command cannot do what was asked. */
static bool fatal_error(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || e == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE ||
           e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || e == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
           e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION || e == RD_KAFKA_RESP_ERR__FATAL ||
           e == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED || e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
           e == RD_KAFKA_RESP_ERR_INVALID_GROUP_ID;
}

static int64_t start_offset(const struct consume_opts *o)
{
    switch (o->start) {
    case START_BEGINNING: return RD_KAFKA_OFFSET_BEGINNING;
    case START_OFFSET: return o->start_value;
    case START_TAIL: return RD_KAFKA_OFFSET_TAIL(o->start_value);
    case START_TIMESTAMP: return o->start_value;
    default: return RD_KAFKA_OFFSET_END;
    }
}

static int run_consume(struct consume_opts *o)
{
    const char *defaults[] = {
        "group.id", o->group ? o->group : "gregor-consume",
        "enable.partition.eof", o->exit_at_end ? "true" : "false",
        "enable.auto.commit", o->group ? "true" : "false",
        /* Alone: an offset outside the log is an error, not a silent jump. */
        "auto.offset.reset", o->group ? (o->start == START_BEGINNING ? "earliest" : "latest") : "error",
        NULL,
    };
    if (o->group)
        o->co.rebalance_cb = rebalance_cb;
    rd_kafka_t *rk = gr_client_new(&o->co, RD_KAFKA_CONSUMER, defaults);
    if (!rk)
        return GR_EXIT_USAGE;
    rd_kafka_poll_set_consumer(rk);
    g_at_end = rd_kafka_topic_partition_list_new(8);
    int rc = GR_EXIT_FAIL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    const struct rd_kafka_metadata *md = gr_connect(rk, &o->co, NULL);
    if (!md)
        goto out;
    parts = gr_topic_partitions(md, o->topics, o->n_topics, o->partition, start_offset(o));
    if (!parts)
        goto out;
    rd_kafka_resp_err_t e;
    if (o->group) {
        /* Subscriptions name topics only (the unknown ones were refused above). */
        rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(o->n_topics);
        for (int i = 0; i < o->n_topics; i++)
            rd_kafka_topic_partition_list_add(topics, o->topics[i], RD_KAFKA_PARTITION_UA);
        e = rd_kafka_subscribe(rk, topics);
        rd_kafka_topic_partition_list_destroy(topics);
    } else {
        if (o->start == START_TIMESTAMP && !gr_offsets_for_times(rk, &o->co, parts))
            goto out;
        e = rd_kafka_assign(rk, parts);
        g_assigned = parts->cnt;
    }
    if (e) {
        gr_errorf("%s: %s", o->group ? "subscribe" : "assign", rd_kafka_err2str(e));
        goto out;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    int64_t printed = 0;
    bool done = g_assigned == 0 && !o->group;
    while (!g_stop && !done) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) {
            fflush(stdout);
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            done = o->exit_at_end && mark_end(m);
        } else if (m->err) {
            if (fatal_error(m->err)) {
                if (m->rkt)
                    gr_errorf("%s[%d]: %s", rd_kafka_topic_name(m->rkt), m->partition, rd_kafka_message_errstr(m));
                else
                    gr_errorf("%s", rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                goto out;
            }
            if (o->co.verbose)
                gr_warnf("%s", rd_kafka_message_errstr(m));
        } else {
            unmark_end(m);
            print_record(o->format, m);
            done = o->count && ++printed >= o->count;
        }
        rd_kafka_message_destroy(m);
    }
    fflush(stdout);
    rc = GR_EXIT_OK;
out:
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (md)
        rd_kafka_metadata_destroy(md);
    if (o->group) {
        rd_kafka_consumer_close(rk); /* leaves the group, commits what was printed */
        rd_kafka_destroy(rk);
    } else {
        rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    }
    rd_kafka_topic_partition_list_destroy(g_at_end);
    return rc;
}

/* ---- command line ------------------------------------------------------------------ */

enum { OPT_FROM_BEGINNING = GR_OPT_CMD_BASE, OPT_TIMESTAMP };

static const struct option long_opts[] = {
    GR_COMMON_LONG_OPTS,
    {"offset", required_argument, NULL, 'o'},
    {"from-beginning", no_argument, NULL, OPT_FROM_BEGINNING},
    {"timestamp", required_argument, NULL, OPT_TIMESTAMP},
    {"partition", required_argument, NULL, 'p'},
    {"group", required_argument, NULL, 'g'},
    {"format", required_argument, NULL, 'F'},
    {"count", required_argument, NULL, 'c'},
    {"exit", no_argument, NULL, 'e'},
    {NULL, 0, NULL, 0},
};

static bool parse_start(struct consume_opts *o, const char *s)
{
    if (strcmp(s, "start") == 0 || strcmp(s, "beginning") == 0) {
        o->start = START_BEGINNING;
    } else if (strcmp(s, "end") == 0) {
        o->start = START_END;
    } else if (s[0] == '-') {
        if (!gr_parse_i64("-o", s + 1, 1, INT64_MAX / 2, &o->start_value))
            return false;
        o->start = START_TAIL;
    } else {
        if (!gr_parse_i64("-o", s, 0, INT64_MAX / 2, &o->start_value))
            return false;
        o->start = START_OFFSET;
    }
    o->start_given = true;
    return true;
}

int gr_cmd_consume(int argc, char **argv)
{
    struct consume_opts o = {.partition = -1, .format = "%v\\n"};
    if (!gr_common_init(&o.co, "gregor consume", argc))
        return GR_EXIT_FAIL;
    int rc = GR_EXIT_USAGE, c;
    int64_t v;
    int starts = 0;
    while ((c = gr_next_opt(&o.co, argc, argv, GR_COMMON_SHORT "o:p:g:F:c:e", long_opts, consume_usage, &rc)) != -1) {
        if (c == GR_OPT_EXIT)
            goto done;
        switch (c) {
        case 'o':
            starts++;
            if (!parse_start(&o, optarg))
                goto done;
            break;
        case OPT_FROM_BEGINNING:
            starts++;
            parse_start(&o, "start");
            break;
        case OPT_TIMESTAMP:
            starts++;
            if (!gr_parse_i64("--timestamp", optarg, 0, INT64_MAX, &o.start_value))
                goto done;
            o.start = START_TIMESTAMP;
            break;
        case 'p':
            if (!gr_parse_i64("--partition", optarg, 0, INT32_MAX, &v))
                goto done;
            o.partition = (int32_t)v;
            break;
        case 'g': o.group = optarg; break;
        case 'F': o.format = optarg; break;
        case 'c':
            if (!gr_parse_i64("--count", optarg, 1, INT64_MAX, &o.count))
                goto done;
            break;
        case 'e': o.exit_at_end = true; break;
        default:
            goto done;
        }
    }
    if (optind >= argc) {
        gr_errorf("missing TOPIC (see gregor consume --help)");
        goto done;
    }
    if (starts > 1) {
        gr_errorf("give one of -o, --from-beginning and --timestamp");
        goto done;
    }
    if (o.group && (o.partition >= 0 || (o.start != START_BEGINNING && o.start != START_END))) {
        gr_errorf("with --group the start is the group's committed offset, else -o start|end; "
                  "-p, -o OFFSET, -o -N and --timestamp need a consumer without a group");
        goto done;
    }
    if (o.co.json) {
        gr_errorf("--json: consume prints records with -F, e.g. -F '{\"offset\":%%o}\\n'");
        goto done;
    }
    if (!format_ok(o.format))
        goto done;
    o.topics = argv + optind;
    o.n_topics = argc - optind;
    rc = run_consume(&o);
done:
    gr_common_free(&o.co);
    return rc;
}
