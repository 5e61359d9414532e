/* gregor bench — throughput, latency and broker cost of produce and consume.
 *
 * Built on librdkafka's public API only, so it measures any Kafka-protocol
 * broker the same way (Gregor, Apache Kafka, Redpanda) and the numbers are
 * comparable. Besides what the client sees (records/s, MB/s, produce latency)
 * it reads the broker's own CPU time and RSS from /proc, because on a 2-core
 * box shared with the load generator the broker's CPU per GB and per record is
 * the fair figure (see docs/bench.md).
 *
 * Units: MB = 10^6 bytes, GB = 10^9 bytes, of record payload (value + key),
 * not of wire bytes. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "cli.h"
#include "client.h"

/* How long to wait for the broker at start (metadata, topic creation) before
 * giving up with a message instead of letting librdkafka retry forever. */
#define CONNECT_TIMEOUT_MS 10000
/* A consumer that sees no record for this long has stalled; stop and say so. */
#define CONSUME_IDLE_TIMEOUT_MS 10000
/* Values are cut from one random buffer larger than any sane batch, so no
 * byte sequence repeats inside a batch and --compression gains nothing (a
 * small pool would repeat within LZ4's/zstd's window and flatter them). */
#define PAYLOAD_POOL (16u << 20)

enum mode { MODE_PRODUCE, MODE_CONSUME, MODE_E2E, MODE_COMMITS, MODE_REBALANCE };

static const char *const mode_names[] = {"produce", "consume", "e2e", "commits", "rebalance"};

struct opts {
    enum mode mode;
    const char *brokers;
    const char *topic;
    bool json;
    bool verbose;
    int broker_pid;      /* 0: look for a single process named gregord */
    long long records;   /* -1: mode default */
    long long record_size;
    int partitions;      /* 0: not given */
    int replication;
    const char *acks;
    long long linger_ms;
    long long batch_size;
    const char *compression;
    double rate;         /* records/s, 0 = as fast as possible */
    const char **xprops; /* "key=value" from -X, applied last */
    int n_xprops;
    const char *produce_only; /* first produce-only option seen, for the consume check */
    bool keyed;          /* keys drawn uniformly from `keys` distinct keys */
    long long keys;
    int groups;          /* commits: groups committing at once */
    int members;         /* rebalance: consumers in the group */
    int inflight;        /* commits: outstanding commits per group */
    int heartbeat_ms;    /* rebalance: heartbeat.interval.ms, 0 = librdkafka's default */
    const char *group;   /* commits/rebalance: group id (prefix), default derived from the pid */
    const char *group_only; /* last commits/rebalance-only option seen */
    const char *send_only;  /* last produce/e2e option seen other than --partitions/--replication */
};

/* ---- small helpers ------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("gregor bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Integers with an optional multiplier, because record counts like 10M and
 * sizes like 1Mi are what people type: k/M/G are powers of 1000, Ki/Mi/Gi
 * powers of 1024. */
static bool parse_count(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s)
        return false;
    long long mul = 1;
    if (*end) {
        static const struct { const char *sfx; long long mul; } sfx[] = {
            {"k", 1000LL}, {"K", 1000LL}, {"M", 1000000LL}, {"G", 1000000000LL},
            {"Ki", 1LL << 10}, {"Mi", 1LL << 20}, {"Gi", 1LL << 30},
        };
        mul = 0;
        for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++)
            if (strcmp(end, sfx[i].sfx) == 0)
                mul = sfx[i].mul;
        if (!mul)
            return false;
    }
    if (v != 0 && (v > max / mul || v < min / mul))
        return false;
    v *= mul;
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* ---- latency histogram ---------------------------------------------------- */

/* Log-linear buckets over nanoseconds: exact below 128 ns, then 64 buckets per
 * power of two (≤1.6% relative error). Constant memory and O(1) insert, so it
 * costs nothing per record even for 100 M records; max is kept exactly. */
#define HIST_SUB_BITS 6
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS ((64 - HIST_SUB_BITS) * HIST_SUB + 2 * HIST_SUB)

struct hist {
    uint64_t count;
    uint64_t max;
    uint64_t b[HIST_BUCKETS];
};

static unsigned hist_index(uint64_t v)
{
    if (v < 2 * HIST_SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - HIST_SUB_BITS;
    return shift * HIST_SUB + (unsigned)(v >> shift);
}

static void hist_add(struct hist *h, uint64_t v)
{
    h->b[hist_index(v)]++;
    h->count++;
    if (v > h->max)
        h->max = v;
}

/* Value at quantile q (0..1): the midpoint of the bucket holding that rank. */
static uint64_t hist_quantile(const struct hist *h, double q)
{
    if (!h->count)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            if (i < 2 * HIST_SUB)
                return i;
            unsigned shift = i / HIST_SUB - 1;
            uint64_t m = i - shift * HIST_SUB;
            uint64_t lo = m << shift, hi = ((m + 1) << shift) - 1;
            uint64_t mid = lo + (hi - lo) / 2;
            return mid > h->max ? h->max : mid;
        }
    }
    return h->max;
}

/* ---- broker process accounting from /proc --------------------------------- */

struct proc_sample {
    bool ok;
    double cpu_s;  /* utime + stime, all threads */
    long rss_kb;   /* VmRSS */
    long hwm_kb;   /* VmHWM: peak RSS since the process started */
};

static bool proc_sample(int pid, struct proc_sample *s)
{
    char path[64], buf[4096];
    memset(s, 0, sizeof(*s));
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* comm may contain spaces and parentheses; fields resume after the last ')'. */
    char *p = strrchr(buf, ')');
    unsigned long utime, stime;
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                     &utime, &stime) != 2)
        return false;
    s->cpu_s = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);

    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    f = fopen(path, "r");
    if (!f)
        return false;
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            s->rss_kb = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "VmHWM:", 6) == 0)
            s->hwm_kb = strtol(line + 6, NULL, 10);
    }
    fclose(f);
    s->ok = true;
    return true;
}

/* The broker's pid when exactly one process is named gregord; 0 if none,
 * -n if n > 1 (ambiguous: the caller asks for --broker-pid). */
static int find_gregord(void)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    int found = 0, pid = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char path[300], comm[64] = "";
        snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(comm, sizeof(comm), f))
            comm[strcspn(comm, "\n")] = 0;
        fclose(f);
        if (strcmp(comm, "gregord") == 0) {
            found++;
            pid = atoi(e->d_name);
        }
    }
    closedir(d);
    return found == 1 ? pid : -found;
}

static double cpu_self_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

/* ---- librdkafka plumbing --------------------------------------------------- */

/* librdkafka's logs are kept quiet (client.c): the last error-level line
 * explains a failure, and logs are printed only with --verbose. */
static bool verbose_logs;

static bool conf_set(rd_kafka_conf_t *conf, const char *key, const char *val)
{
    char err[512];
    if (rd_kafka_conf_set(conf, key, val, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        errorf("%s=%s: %s", key, val, err);
        return false;
    }
    return true;
}

/* Common configuration, then the mode's tuning (`defaults`: key, value, ...,
 * NULL), then -X properties last so the user can override anything. */
static rd_kafka_conf_t *make_conf(const struct opts *o, const char *const *defaults)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    gr_conf_quiet_logs(conf, verbose_logs);
    if (!conf_set(conf, "bootstrap.servers", o->brokers) ||
        !conf_set(conf, "client.id", "gregor-bench"))
        goto fail;
    for (const char *const *d = defaults; d && d[0]; d += 2)
        if (!conf_set(conf, d[0], d[1]))
            goto fail;
    for (int i = 0; i < o->n_xprops; i++) {
        char kv[1024];
        snprintf(kv, sizeof(kv), "%s", o->xprops[i]);
        char *eq = strchr(kv, '=');
        if (!eq || eq == kv) {
            errorf("-X %s: expected key=value", o->xprops[i]);
            goto fail;
        }
        *eq = 0;
        if (!conf_set(conf, kv, eq + 1))
            goto fail;
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* rd_kafka_new() takes the configuration only when it succeeds; on failure it
 * is destroyed here so that callers have a single thing to check. `what`
 * names the client in the message ("producer", "consumer", ...). */
static rd_kafka_t *new_client(rd_kafka_type_t type, rd_kafka_conf_t *conf, const char *what)
{
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
    if (!rk) {
        errorf("cannot create %s: %s", what, errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* A consumer whose errors and rebalances arrive on the consumer queue we
 * read, not on a main queue nobody polls. */
static rd_kafka_t *new_consumer(rd_kafka_conf_t *conf)
{
    rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER, conf, "consumer");
    if (rk)
        rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* Subscribes to all partitions of one topic (the group assigns them). */
static rd_kafka_resp_err_t subscribe_topic(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    return e;
}

/* The bootstrap list as the user gave it, for messages about the cluster. */
static const char *g_brokers = "";

/* Partition count of the topic: >0 if it exists and every partition has a
 * leader, 0 if it does not exist, -1 if the cluster could not be asked (an
 * error was printed), -2 if it exists but is not ready yet (no leader). Asks for
 * all topics on purpose: a request naming the topic could auto-create it. */
static int topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (err) {
        char sfx[600];
        errorf("cannot reach the broker(s) at %s within %d s: %s%s",
               g_brokers, timeout_ms / 1000, rd_kafka_err2str(err),
               gr_last_error_suffix(sfx, sizeof(sfx)));
        return -1;
    }
    int n = 0;
    for (int i = 0; i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *t = &md->topics[i];
        if (strcmp(t->topic, topic) != 0)
            continue;
        if (t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            break;
        n = t->err || t->partition_cnt == 0 ? -2 : t->partition_cnt;
        for (int p = 0; n > 0 && p < t->partition_cnt; p++)
            if (t->partitions[p].err || t->partitions[p].leader < 0)
                n = -2;
        break;
    }
    rd_kafka_metadata_destroy(md);
    return n;
}

static bool create_topic(rd_kafka_t *rk, const char *topic, int partitions, int replication)
{
    char errstr[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, replication, errstr, sizeof(errstr));
    if (!nt) {
        errorf("cannot create topic %s: %s", topic, errstr);
        return false;
    }
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(ao, CONNECT_TIMEOUT_MS, NULL, 0);
    rd_kafka_AdminOptions_set_operation_timeout(ao, CONNECT_TIMEOUT_MS, NULL, 0);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, CONNECT_TIMEOUT_MS + 5000);
    bool ok = false;
    if (!ev) {
        errorf("creating topic %s: no answer within %d s", topic, CONNECT_TIMEOUT_MS / 1000 + 5);
    } else if (rd_kafka_event_error(ev)) {
        errorf("creating topic %s: %s", topic, rd_kafka_event_error_string(ev));
    } else {
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);
        rd_kafka_resp_err_t e = cnt ? rd_kafka_topic_result_error(tr[0]) : RD_KAFKA_RESP_ERR_NO_ERROR;
        /* Someone else creating it at the same moment is as good as us. */
        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            const char *msg = rd_kafka_topic_result_error_string(tr[0]);
            errorf("creating topic %s: %s", topic, msg ? msg : rd_kafka_err2str(e));
        } else {
            ok = true;
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_NewTopic_destroy(nt);
    return ok;
}

/* Make sure the topic exists with the requested partitions and has leaders;
 * returns its partition count or -1. An existing topic with a different count
 * is an error: silently benchmarking 1 partition when 6 were asked for would
 * make the run incomparable. */
static int ensure_topic(rd_kafka_t *rk, const struct opts *o)
{
    int n = topic_partitions(rk, o->topic, CONNECT_TIMEOUT_MS);
    if (n == -1)
        return -1;
    if (n == 0) {
        if (!create_topic(rk, o->topic, o->partitions ? o->partitions : 1, o->replication))
            return -1;
    } else if (n > 0 && o->partitions && n != o->partitions) {
        errorf("topic %s exists with %d partition(s), not %d; delete it or choose another --topic",
               o->topic, n, o->partitions);
        return -1;
    }
    /* A new topic's partitions may need a moment to get leaders. */
    uint64_t deadline = now_ns() + (uint64_t)CONNECT_TIMEOUT_MS * 1000000u;
    while ((n = topic_partitions(rk, o->topic, CONNECT_TIMEOUT_MS)) == -2 || n == 0) {
        if (now_ns() > deadline) {
            errorf("topic %s has no leader for all partitions after %d s", o->topic,
                   CONNECT_TIMEOUT_MS / 1000);
            return -1;
        }
        usleep(100 * 1000);
    }
    return n;
}

/* ---- results ---------------------------------------------------------------- */

struct result {
    const struct opts *o;
    int partitions;
    long long records;
    long long bytes;
    long long failed;
    double seconds;
    double client_cpu_s;
    bool has_latency;
    struct hist *lat;
    struct hist *e2e;      /* e2e: produce timestamp in the value to consumption */
    long long consumed;    /* e2e: records the consumer read */
    int broker_pid;        /* <=0: not measured (see find_gregord) */
    struct proc_sample before, after;
};

static void json_num(FILE *f, const char *key, double v, bool ok)
{
    if (ok)
        fprintf(f, ",\"%s\":%.6g", key, v);
    else
        fprintf(f, ",\"%s\":null", key);
}

/* Strings here are topic names, broker lists and config values; escape the two
 * characters that could break the JSON anyway. */
static void json_str(FILE *f, const char *key, const char *s)
{
    fprintf(f, ",\"%s\":\"", key);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if ((unsigned char)*s >= 0x20)
            fputc(*s, f);
    }
    fputc('"', f);
}

static void report(const struct result *r)
{
    const struct opts *o = r->o;
    bool prod = o->mode == MODE_PRODUCE || o->mode == MODE_E2E;
    double rps = r->seconds > 0 ? (double)r->records / r->seconds : 0;
    double mbps = r->seconds > 0 ? (double)r->bytes / 1e6 / r->seconds : 0;
    bool bk = r->broker_pid > 0 && r->before.ok && r->after.ok;
    double bcpu = bk ? r->after.cpu_s - r->before.cpu_s : 0;
    double gb = (double)r->bytes / 1e9;
    double p50 = 0, p99 = 0, p999 = 0, pmax = 0;
    if (r->has_latency) {
        p50 = (double)hist_quantile(r->lat, 0.50) / 1e3;
        p99 = (double)hist_quantile(r->lat, 0.99) / 1e3;
        p999 = (double)hist_quantile(r->lat, 0.999) / 1e3;
        pmax = (double)r->lat->max / 1e3;
    }
    bool has_e2e = r->e2e && r->e2e->count > 0;
    double e50 = 0, e99 = 0, e999 = 0, emax = 0;
    if (has_e2e) {
        e50 = (double)hist_quantile(r->e2e, 0.50) / 1e3;
        e99 = (double)hist_quantile(r->e2e, 0.99) / 1e3;
        e999 = (double)hist_quantile(r->e2e, 0.999) / 1e3;
        emax = (double)r->e2e->max / 1e3;
    }

    if (o->json) {
        FILE *f = stdout;
        fprintf(f, "{\"mode\":\"%s\"", mode_names[o->mode]);
        json_str(f, "brokers", o->brokers);
        json_str(f, "topic", o->topic);
        fprintf(f, ",\"partitions\":%d,\"records\":%lld,\"record_size\":%lld,\"bytes\":%lld",
                r->partitions, r->records, o->record_size, r->bytes);
        if (prod) {
            fprintf(f, ",\"failed\":%lld", r->failed);
            json_str(f, "acks", o->acks);
            fprintf(f, ",\"linger_ms\":%lld,\"batch_size\":%lld", o->linger_ms, o->batch_size);
            json_str(f, "compression", o->compression);
            json_num(f, "rate", o->rate, true);
            fprintf(f, ",\"keyed\":%s", o->keyed ? "true" : "false");
            json_num(f, "keys", (double)o->keys, o->keyed);
        }
        if (o->mode == MODE_E2E)
            fprintf(f, ",\"consumed\":%lld", r->consumed);
        json_num(f, "seconds", r->seconds, true);
        json_num(f, "records_per_s", rps, true);
        json_num(f, "mb_per_s", mbps, true);
        if (r->has_latency)
            fprintf(f, ",\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}",
                    p50, p99, p999, pmax);
        if (has_e2e)
            fprintf(f, ",\"e2e_latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}",
                    e50, e99, e999, emax);
        json_num(f, "client_cpu_s", r->client_cpu_s, true);
        json_num(f, "broker_pid", r->broker_pid, r->broker_pid > 0);
        json_num(f, "broker_cpu_s", bcpu, bk);
        json_num(f, "broker_cpu_s_per_gb", gb > 0 ? bcpu / gb : 0, bk && gb > 0);
        json_num(f, "broker_cpu_s_per_million_records", r->records ? bcpu * 1e6 / (double)r->records : 0,
                 bk && r->records);
        json_num(f, "broker_cpu_us_per_record", r->records ? bcpu * 1e6 / (double)r->records : 0,
                 bk && r->records);
        json_num(f, "broker_rss_kb_before", (double)r->before.rss_kb, bk);
        json_num(f, "broker_rss_kb", (double)r->after.rss_kb, bk);
        json_num(f, "broker_rss_hwm_kb", (double)r->after.hwm_kb, bk);
        fputs("}\n", f);
        return;
    }

    printf("%s %lld records x %lld B, topic %s (%d partition%s) at %s\n",
           mode_names[o->mode], r->records, o->record_size, o->topic, r->partitions,
           r->partitions == 1 ? "" : "s", o->brokers);
    if (prod) {
        char rate[32];
        if (o->rate > 0)
            snprintf(rate, sizeof(rate), "%.0f/s", o->rate);
        else
            snprintf(rate, sizeof(rate), "max");
        char keys[48];
        if (o->keyed)
            snprintf(keys, sizeof(keys), "%lld keys", o->keys);
        else
            snprintf(keys, sizeof(keys), "unkeyed");
        printf("  config      acks=%s linger.ms=%lld batch.size=%lld compression=%s rate=%s %s\n",
               o->acks, o->linger_ms, o->batch_size, o->compression, rate, keys);
    }
    printf("  throughput  %.0f records/s  %.1f MB/s  (%.3f s", rps, mbps, r->seconds);
    if (prod)
        printf(", %lld failed", r->failed);
    printf(")\n");
    if (r->has_latency)
        printf("  latency     p50 %.0f us  p99 %.0f us  p99.9 %.0f us  max %.0f us"
               "  (produce() to delivery report%s)\n",
               p50, p99, p999, pmax, o->rate > 0 ? ", from scheduled send time" : "");
    if (has_e2e)
        printf("  end-to-end  p50 %.0f us  p99 %.0f us  p99.9 %.0f us  max %.0f us"
               "  (%s to consumption, %lld records read)\n",
               e50, e99, e999, emax, o->rate > 0 ? "scheduled send time" : "produce() call", r->consumed);
    if (bk) {
        printf("  broker      pid %d: %.2f CPU-s, %.3f CPU-s/GB, %.3f CPU-s/M records, %.3f us/record\n",
               r->broker_pid, bcpu, gb > 0 ? bcpu / gb : 0,
               r->records ? bcpu * 1e6 / (double)r->records : 0,
               r->records ? bcpu * 1e6 / (double)r->records : 0);
        printf("              RSS %ld kB -> %ld kB (peak %ld kB)\n", r->before.rss_kb, r->after.rss_kb,
               r->after.hwm_kb);
    } else if (r->broker_pid > 0) {
        printf("  broker      pid %d: cannot read /proc/%d (did the broker exit?)\n", r->broker_pid, r->broker_pid);
    } else if (r->broker_pid < 0) {
        printf("  broker      not measured: %d processes named gregord, pass --broker-pid\n", -r->broker_pid);
    } else {
        printf("  broker      not measured: no process named gregord, pass --broker-pid\n");
    }
    printf("  client      %.2f CPU-s\n", r->client_cpu_s);
}

/* The broker process to account: --broker-pid, else the only gregord. */
static int pick_broker(const struct opts *o)
{
    if (o->broker_pid > 0)
        return o->broker_pid;
    return find_gregord();
}

/* ---- produce -------------------------------------------------------------- */

struct producer {
    struct hist lat;
    atomic_llong delivered;
    atomic_llong failed;
    atomic_llong sent;       /* messages accepted by rd_kafka_produce() */
    atomic_bool sent_all;    /* the produce loop is finished */
    uint64_t last_dr_ns;     /* written by the poller thread only */
    rd_kafka_resp_err_t first_err;
    rd_kafka_t *rk;
    int msg_timeout_ms;
    bool timed_out;
};

/* The message's opaque carries its send timestamp, so latency needs no
 * per-record memory. Runs on the poller thread only, which owns `lat`. */
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct producer *p = opaque;
    uint64_t now = now_ns();
    if (m->err) {
        if (!p->first_err)
            p->first_err = m->err;
        atomic_fetch_add_explicit(&p->failed, 1, memory_order_relaxed);
    } else {
        uint64_t sent = (uint64_t)(uintptr_t)m->_private;
        hist_add(&p->lat, now > sent ? now - sent : 0);
        atomic_fetch_add_explicit(&p->delivered, 1, memory_order_relaxed);
    }
    p->last_dr_ns = now;
}

/* Delivery reports are served on their own thread so a report's timestamp is
 * taken when it arrives, not when the produce loop gets around to polling. */
static void *poller_main(void *arg)
{
    struct producer *p = arg;
    long long last_done = -1;
    uint64_t last_progress = now_ns();
    for (;;) {
        rd_kafka_poll(p->rk, 50);
        long long done = atomic_load(&p->delivered) + atomic_load(&p->failed);
        if (atomic_load(&p->sent_all) && done >= atomic_load(&p->sent))
            break;
        uint64_t now = now_ns();
        if (done != last_done) {
            last_done = done;
            last_progress = now;
        } else if (atomic_load(&p->sent_all) && p->msg_timeout_ms > 0 &&
                   now - last_progress > ((uint64_t)p->msg_timeout_ms + 10000u) * 1000000u) {
            /* librdkafka fails undelivered messages after message.timeout.ms;
             * past that plus slack something is wrong, don't hang forever. */
            p->timed_out = true;
            break;
        }
    }
    return NULL;
}

/* ---- end-to-end consumer ------------------------------------------------ */

/* In e2e mode each value starts with this magic and the record's send time
 * (CLOCK_MONOTONIC ns; with --rate the *scheduled* time), so the consumer in
 * the same process measures produce-to-consume latency without clock skew
 * and without coordinated omission. */
#define E2E_MAGIC 0x47524532u /* "GRE2" */
#define E2E_HEADER 12

struct e2e_consumer {
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    struct hist lat;          /* owned by the consumer thread */
    atomic_llong consumed;
    atomic_llong foreign;     /* records without our header (someone else's) */
    atomic_bool stop;
    rd_kafka_resp_err_t first_err;
};

static void *e2e_consumer_main(void *arg)
{
    struct e2e_consumer *c = arg;
    enum { BATCH = 1000 };
    rd_kafka_message_t *msgs[BATCH];
    while (!atomic_load(&c->stop)) {
        /* The batch call waits for a full batch or its timeout, which would
         * add up to that timeout to the latency: wait for one record, then
         * take whatever else is queued without waiting. */
        rd_kafka_message_t *first = rd_kafka_consume_queue(c->q, 50);
        if (!first)
            continue;
        msgs[0] = first;
        ssize_t more = rd_kafka_consume_batch_queue(c->q, 0, msgs + 1, BATCH - 1);
        ssize_t got = 1 + (more > 0 ? more : 0);
        uint64_t now = now_ns();
        for (ssize_t i = 0; i < got; i++) {
            rd_kafka_message_t *m = msgs[i];
            uint32_t magic;
            uint64_t ts;
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && !c->first_err)
                    c->first_err = m->err;
            } else if (m->len >= E2E_HEADER && (memcpy(&magic, m->payload, 4), magic == E2E_MAGIC)) {
                memcpy(&ts, (const char *)m->payload + 4, 8);
                hist_add(&c->lat, now > ts ? now - ts : 0);
                atomic_fetch_add_explicit(&c->consumed, 1, memory_order_relaxed);
            } else {
                atomic_fetch_add_explicit(&c->foreign, 1, memory_order_relaxed);
            }
            rd_kafka_message_destroy(m);
        }
    }
    return NULL;
}

/* A consumer of every partition from its current end (the high watermark,
 * read before producing starts, so no record of this run is missed). */
static bool e2e_consumer_start(struct e2e_consumer *c, const struct opts *o, int partitions)
{
    const char *defaults[] = {
        "group.id", "gregor-bench-e2e",
        "enable.auto.commit", "false",
        "enable.auto.offset.store", "false",
        /* Long polling: the broker answers a fetch as soon as one record is
         * appended, so this bounds only idle fetches. */
        "fetch.wait.max.ms", "100",
        "fetch.min.bytes", "1",
        NULL,
    };
    rd_kafka_conf_t *conf = make_conf(o, defaults);
    if (!conf)
        return false;
    c->rk = new_consumer(conf);
    if (!c->rk)
        return false;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(partitions);
    bool ok = true;
    for (int i = 0; ok && i < partitions; i++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(c->rk, o->topic, i, &lo, &hi, CONNECT_TIMEOUT_MS);
        if (e) {
            errorf("reading watermarks of %s[%d]: %s", o->topic, i, rd_kafka_err2str(e));
            ok = false;
        } else {
            rd_kafka_topic_partition_list_add(parts, o->topic, i)->offset = hi;
        }
    }
    if (ok) {
        rd_kafka_resp_err_t e = rd_kafka_assign(c->rk, parts);
        if (e) {
            errorf("assign: %s", rd_kafka_err2str(e));
            ok = false;
        }
    }
    rd_kafka_topic_partition_list_destroy(parts);
    if (ok)
        c->q = rd_kafka_queue_get_consumer(c->rk);
    return ok;
}

static void e2e_consumer_destroy(struct e2e_consumer *c)
{
    if (c->q)
        rd_kafka_queue_destroy(c->q);
    if (c->rk)
        rd_kafka_destroy_flags(c->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

/* xorshift64*: keys and nothing else, so it needs no quality beyond uniform. */
static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x >> 12, *x ^= *x << 25, *x ^= *x >> 27;
    return *x * 0x2545F4914F6CDD1Dull;
}

static int run_produce(struct opts *o)
{
    bool e2e = o->mode == MODE_E2E;
    if (e2e && o->record_size < E2E_HEADER) {
        errorf("e2e: --record-size must be at least %d (the value carries the send time)", E2E_HEADER);
        return GR_EXIT_USAGE;
    }
    if (o->records < 0)
        o->records = 1000000;
    char batch[32], linger[32], msgmax[32];
    snprintf(batch, sizeof(batch), "%lld", o->batch_size);
    snprintf(linger, sizeof(linger), "%lld", o->linger_ms);
    /* message.max.bytes also caps a request's record batch; keep it ≥ batch.size. */
    snprintf(msgmax, sizeof(msgmax), "%lld", o->batch_size > 1000000 ? o->batch_size : 1000000);
    const char *defaults[] = {
        "acks", o->acks,
        "linger.ms", linger,
        "batch.size", batch,
        "message.max.bytes", msgmax,
        /* batch.size alone decides how full a batch gets, not a message count. */
        "batch.num.messages", "1000000",
        /* Room for ~1 s of a fast run, so the loop is rarely stopped by QUEUE_FULL. */
        "queue.buffering.max.messages", "2000000",
        "queue.buffering.max.kbytes", "2097152",
        "compression.codec", o->compression,
        /* A dead broker should fail the run in a minute, not after 5. */
        "message.timeout.ms", "60000",
        NULL,
    };
    rd_kafka_conf_t *conf = make_conf(o, defaults);
    if (!conf)
        return GR_EXIT_USAGE;

    struct producer *p = calloc(1, sizeof(*p));
    if (!p) {
        errorf("out of memory");
        rd_kafka_conf_destroy(conf);
        return GR_EXIT_FAIL;
    }
    char tmo[32];
    size_t tmolen = sizeof(tmo);
    if (rd_kafka_conf_get(conf, "message.timeout.ms", tmo, &tmolen) == RD_KAFKA_CONF_OK)
        p->msg_timeout_ms = atoi(tmo);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, p);

    rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, conf, "producer");
    if (!rk) {
        free(p);
        return GR_EXIT_FAIL;
    }
    p->rk = rk;
    int rc = GR_EXIT_FAIL;
    char *pool = NULL, *e2ebuf = NULL;
    rd_kafka_topic_t *rkt = NULL;
    struct e2e_consumer *ec = NULL;
    pthread_t ec_thread;
    bool ec_running = false;

    int partitions = ensure_topic(rk, o);
    if (partitions < 0)
        goto out;
    rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    if (e2e) {
        ec = calloc(1, sizeof(*ec));
        e2ebuf = malloc((size_t)o->record_size);
        if (!ec || !e2ebuf) {
            errorf("out of memory");
            goto out;
        }
        if (!e2e_consumer_start(ec, o, partitions))
            goto out;
        if (pthread_create(&ec_thread, NULL, e2e_consumer_main, ec) != 0) {
            errorf("cannot start the consumer thread");
            goto out;
        }
        ec_running = true;
    }

    /* Random bytes (xorshift64*), prepared once so the loop only hands out pointers. */
    size_t pool_len = PAYLOAD_POOL + (size_t)o->record_size;
    pool = malloc(pool_len + 8);
    if (!pool) {
        errorf("out of memory for a %zu-byte payload pool", pool_len);
        goto out;
    }
    uint64_t x = 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid();
    for (size_t i = 0; i < pool_len; i += 8) {
        x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
        uint64_t v = x * 0x2545F4914F6CDD1Dull;
        memcpy(pool + i, &v, 8);
    }

    struct result r = {.o = o, .partitions = partitions, .lat = &p->lat, .e2e = ec ? &ec->lat : NULL};
    r.broker_pid = pick_broker(o);
    if (r.broker_pid > 0)
        proc_sample(r.broker_pid, &r.before);
    double cpu0 = cpu_self_s();

    pthread_t poller;
    if (pthread_create(&poller, NULL, poller_main, p) != 0) {
        errorf("cannot start the delivery-report thread");
        goto out;
    }
    uint64_t t0 = now_ns();
    double interval_ns = o->rate > 0 ? 1e9 / o->rate : 0;
    bool produce_failed = false;
    uint64_t krng = 0x243F6A8885A308D3ull ^ (uint64_t)getpid();
    long long key_bytes = 0;
    for (long long i = 0; i < o->records; i++) {
        char *val = pool + (size_t)((uint64_t)i * (uint64_t)o->record_size % PAYLOAD_POOL);
        char key[24];
        size_t key_len = 0;
        if (o->keyed) {
            key_len = (size_t)snprintf(key, sizeof(key), "k%llu",
                                       (unsigned long long)(rng_next(&krng) % (uint64_t)o->keys));
            key_bytes += (long long)key_len;
        }
        uint64_t ts;
        if (interval_ns > 0) {
            /* Fixed rate: latency counts from the scheduled time, so a stalled
             * broker is charged for the records we could not send meanwhile
             * (no coordinated omission). */
            ts = t0 + (uint64_t)((double)i * interval_ns);
            uint64_t now = now_ns();
            if (now < ts) {
                struct timespec at = {.tv_sec = (time_t)(ts / 1000000000u),
                                      .tv_nsec = (long)(ts % 1000000000u)};
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
            }
        } else {
            ts = now_ns();
        }
        int msgflags = 0;
        if (e2e) {
            /* The value carries its send time, so it is copied per record. */
            memcpy(e2ebuf, val, (size_t)o->record_size);
            uint32_t magic = E2E_MAGIC;
            memcpy(e2ebuf, &magic, 4);
            memcpy(e2ebuf + 4, &ts, 8);
            val = e2ebuf;
            msgflags = RD_KAFKA_MSG_F_COPY;
        }
        for (;;) {
            /* Keys are always copied by librdkafka; values from the pool are not. */
            if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, msgflags, val, (size_t)o->record_size,
                                 o->keyed ? key : NULL, key_len, (void *)(uintptr_t)ts) == 0)
                break;
            rd_kafka_resp_err_t e = rd_kafka_last_error();
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                errorf("produce failed after %lld records: %s", i, rd_kafka_err2str(e));
                produce_failed = true;
                break;
            }
            /* The local queue is full: the broker is the bottleneck; wait for
             * deliveries to make room (the poller thread serves them). */
            usleep(100);
        }
        if (produce_failed)
            break;
        atomic_fetch_add_explicit(&p->sent, 1, memory_order_relaxed);
    }
    atomic_store(&p->sent_all, true);
    pthread_join(poller, NULL);
    uint64_t t1 = p->last_dr_ns > t0 ? p->last_dr_ns : now_ns();
    if (ec_running) {
        /* Wait for the consumer to read everything that was delivered. */
        long long want = atomic_load(&p->delivered), last = -1;
        uint64_t progress = now_ns();
        while (atomic_load(&ec->consumed) < want) {
            long long got = atomic_load(&ec->consumed);
            if (got != last) {
                last = got;
                progress = now_ns();
            } else if (now_ns() - progress > (uint64_t)CONSUME_IDLE_TIMEOUT_MS * 1000000u) {
                errorf("e2e: the consumer read %lld of %lld delivered records, then nothing for %d s%s%s",
                       got, want, CONSUME_IDLE_TIMEOUT_MS / 1000, ec->first_err ? ": " : "",
                       ec->first_err ? rd_kafka_err2str(ec->first_err) : "");
                break;
            }
            usleep(1000);
        }
        atomic_store(&ec->stop, true);
        pthread_join(ec_thread, NULL);
        ec_running = false;
        r.consumed = atomic_load(&ec->consumed);
    }

    if (r.broker_pid > 0)
        proc_sample(r.broker_pid, &r.after);
    r.client_cpu_s = cpu_self_s() - cpu0;
    r.records = atomic_load(&p->delivered);
    r.failed = atomic_load(&p->failed);
    r.bytes = r.records * o->record_size;
    if (o->keyed && atomic_load(&p->sent) > 0) /* key bytes of the delivered share */
        r.bytes += (long long)((double)key_bytes * (double)r.records / (double)atomic_load(&p->sent));
    r.seconds = (double)(t1 - t0) / 1e9;
    r.has_latency = p->lat.count > 0; /* all failed: no latency to speak of */

    if (p->timed_out) {
        errorf("gave up waiting for %lld delivery reports", atomic_load(&p->sent) - r.records - r.failed);
        goto out;
    }
    report(&r);
    if (r.failed) {
        char sfx[600];
        errorf("%lld of %lld records failed: %s%s", r.failed, r.records + r.failed,
               rd_kafka_err2str(p->first_err), gr_last_error_suffix(sfx, sizeof(sfx)));
    } else if (e2e && r.consumed < r.records) {
        /* the consumer's shortfall was reported above */
    } else if (!produce_failed) {
        rc = GR_EXIT_OK;
    }
out:
    if (ec_running) {
        atomic_store(&ec->stop, true);
        pthread_join(ec_thread, NULL);
    }
    if (ec) {
        e2e_consumer_destroy(ec);
        free(ec);
    }
    free(e2ebuf);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    /* Everything was delivered or failed already; nothing left to flush. */
    rd_kafka_destroy(rk);
    free(pool);
    free(p);
    return rc;
}

/* ---- consume -------------------------------------------------------------- */

static int run_consume(struct opts *o)
{
    const char *defaults[] = {
        /* rd_kafka_assign() needs a group id although no group is joined:
         * partitions are assigned by hand and nothing is committed. */
        "group.id", "gregor-bench",
        "enable.auto.commit", "false",
        "enable.auto.offset.store", "false",
        /* Big fetches and a deep prefetch queue: measure the broker's serving
         * rate, not the client's round trips. */
        "fetch.max.bytes", "52428800",
        "max.partition.fetch.bytes", "16777216",
        "queued.min.messages", "1000000",
        "queued.max.messages.kbytes", "1048576",
        NULL,
    };
    rd_kafka_conf_t *conf = make_conf(o, defaults);
    if (!conf)
        return GR_EXIT_USAGE;
    rd_kafka_t *rk = new_consumer(conf);
    if (!rk)
        return GR_EXIT_FAIL;

    int rc = GR_EXIT_FAIL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_message_t **msgs = NULL;

    int partitions = topic_partitions(rk, o->topic, CONNECT_TIMEOUT_MS);
    if (partitions == -1)
        goto out;
    if (partitions == 0) {
        errorf("topic %s does not exist (run `gregor bench produce --topic %s` first)", o->topic, o->topic);
        goto out;
    }
    if (partitions == -2) {
        errorf("topic %s has partitions without a leader", o->topic);
        goto out;
    }

    /* Default target: everything below each partition's high watermark now. */
    long long target = o->records;
    if (target < 0) {
        target = 0;
        for (int i = 0; i < partitions; i++) {
            int64_t lo, hi;
            rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, o->topic, i, &lo, &hi,
                                                                     CONNECT_TIMEOUT_MS);
            if (e) {
                errorf("reading watermarks of %s[%d]: %s", o->topic, i, rd_kafka_err2str(e));
                goto out;
            }
            target += hi - lo;
        }
        if (target == 0) {
            errorf("topic %s is empty (run `gregor bench produce --topic %s` first)", o->topic, o->topic);
            goto out;
        }
    }

    parts = rd_kafka_topic_partition_list_new(partitions);
    for (int i = 0; i < partitions; i++)
        rd_kafka_topic_partition_list_add(parts, o->topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    q = rd_kafka_queue_get_consumer(rk);
    enum { BATCH = 10000 };
    msgs = malloc(BATCH * sizeof(*msgs));
    if (!msgs) {
        errorf("out of memory");
        goto out;
    }

    struct result r = {.o = o, .partitions = partitions};
    r.broker_pid = pick_broker(o);
    if (r.broker_pid > 0)
        proc_sample(r.broker_pid, &r.before);
    double cpu0 = cpu_self_s();
    uint64_t t0 = now_ns(), last_msg = t0, t1 = t0;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts);
    if (e) {
        errorf("assign: %s", rd_kafka_err2str(e));
        goto out;
    }
    long long n = 0, bytes = 0, value_bytes = 0;
    rd_kafka_resp_err_t first_err = 0;
    while (n < target) {
        ssize_t got = rd_kafka_consume_batch_queue(q, 100, msgs, BATCH);
        uint64_t now = now_ns();
        for (ssize_t i = 0; i < got; i++) {
            rd_kafka_message_t *m = msgs[i];
            if (!m->err) {
                n++;
                bytes += (long long)(m->len + m->key_len);
                value_bytes += (long long)m->len;
            } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && !first_err) {
                first_err = m->err;
                if (verbose_logs)
                    fprintf(stderr, "consume error: %s\n", rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
        }
        if (got > 0) {
            last_msg = now;
            t1 = now;
        } else if (now - last_msg > (uint64_t)CONSUME_IDLE_TIMEOUT_MS * 1000000u) {
            char sfx[600];
            errorf("no records for %d s after reading %lld of %lld%s%s%s", CONSUME_IDLE_TIMEOUT_MS / 1000,
                   n, target, first_err ? " (error: " : "", first_err ? rd_kafka_err2str(first_err) : "",
                   first_err ? ")" : gr_last_error_suffix(sfx, sizeof(sfx)));
            goto out;
        }
    }
    if (r.broker_pid > 0)
        proc_sample(r.broker_pid, &r.after);
    r.client_cpu_s = cpu_self_s() - cpu0;
    r.records = n;
    r.bytes = bytes;
    r.seconds = (double)(t1 - t0) / 1e9;
    /* Report the size actually read (it is whatever the producer wrote). */
    o->record_size = n ? value_bytes / n : 0;
    report(&r);
    rc = GR_EXIT_OK;
out:
    free(msgs);
    if (q)
        rd_kafka_queue_destroy(q);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    /* No group was joined and nothing is committed: skip the close handshake. */
    rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    return rc;
}

/* ---- consumer groups: shared ------------------------------------------------ */

/* The group id: --group as given (commits: a prefix, "-N" appended per
 * group), else one unique to this run so earlier runs' groups and offsets
 * cannot interfere. */
static void group_name(char *buf, size_t len, const struct opts *o, const char *kind, int i, bool numbered)
{
    static char run_id[64];
    if (!run_id[0])
        snprintf(run_id, sizeof(run_id), "gregor-bench-%s-%d-%lld", kind, (int)getpid(), (long long)time(NULL));
    const char *base = o->group ? o->group : run_id;
    if (numbered)
        snprintf(buf, len, "%s-%d", base, i);
    else
        snprintf(buf, len, "%s", base);
}

static void json_hist(FILE *f, const char *key, const struct hist *h)
{
    if (!h->count) {
        fprintf(f, ",\"%s\":null", key);
        return;
    }
    fprintf(f, ",\"%s\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}", key,
            (double)hist_quantile(h, 0.50) / 1e3, (double)hist_quantile(h, 0.99) / 1e3,
            (double)hist_quantile(h, 0.999) / 1e3, (double)h->max / 1e3);
}

static void broker_json(FILE *f, int pid, const struct proc_sample *b, const struct proc_sample *a, double units,
                        const char *per_key)
{
    bool bk = pid > 0 && b->ok && a->ok;
    double cpu = bk ? a->cpu_s - b->cpu_s : 0;
    json_num(f, "broker_pid", pid, pid > 0);
    json_num(f, "broker_cpu_s", cpu, bk);
    if (per_key)
        json_num(f, per_key, units > 0 ? cpu * 1e6 / units : 0, bk && units > 0);
    json_num(f, "broker_rss_kb", (double)a->rss_kb, bk);
    json_num(f, "broker_rss_hwm_kb", (double)a->hwm_kb, bk);
}

static void broker_text(int pid, const struct proc_sample *b, const struct proc_sample *a, double units,
                        const char *unit)
{
    if (pid > 0 && b->ok && a->ok) {
        double cpu = a->cpu_s - b->cpu_s;
        printf("  broker      pid %d: %.2f CPU-s", pid, cpu);
        if (unit && units > 0)
            printf(", %.2f us per %s", cpu * 1e6 / units, unit);
        printf(", RSS %ld kB (peak %ld kB)\n", a->rss_kb, a->hwm_kb);
    } else if (pid > 0) {
        printf("  broker      pid %d: cannot read /proc/%d (did the broker exit?)\n", pid, pid);
    } else {
        printf("  broker      not measured: %s, pass --broker-pid\n",
               pid < 0 ? "several processes named gregord" : "no process named gregord");
    }
}

/* ---- commits ------------------------------------------------------------------ */

/* One group with one member (a librdkafka consumer that joined it and owns
 * every partition), committing explicit offsets for all partitions with at
 * most `inflight` commits outstanding. Each commit is an OffsetCommit
 * request with the member's generation, as a real consumer sends it. */
struct committer {
    const struct opts *o;
    char group[256];
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    rd_kafka_topic_partition_list_t *offsets;
    long long target, issued, done, failed;
    rd_kafka_resp_err_t first_err;
    struct hist lat;
    uint64_t t_end;
    bool stalled;
};

static bool committer_open(struct committer *c, int partitions)
{
    const char *defaults[] = {
        "group.id", c->group,
        "enable.auto.commit", "false",
        "enable.auto.offset.store", "false",
        NULL,
    };
    rd_kafka_conf_t *conf = make_conf(c->o, defaults);
    if (!conf)
        return false;
    c->rk = new_consumer(conf);
    if (!c->rk)
        return false;
    c->q = rd_kafka_queue_new(c->rk);
    c->offsets = rd_kafka_topic_partition_list_new(partitions);
    for (int i = 0; i < partitions; i++)
        rd_kafka_topic_partition_list_add(c->offsets, c->o->topic, i);
    rd_kafka_resp_err_t e = subscribe_topic(c->rk, c->o->topic);
    if (e) {
        errorf("subscribe (group %s): %s", c->group, rd_kafka_err2str(e));
        return false;
    }
    return true;
}

/* True once the member owns its partitions (serves the consumer queue,
 * where librdkafka's default rebalance handling assigns them). */
static bool committer_joined(struct committer *c)
{
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 0);
    if (m)
        rd_kafka_message_destroy(m);
    rd_kafka_topic_partition_list_t *l = NULL;
    bool ok = rd_kafka_assignment(c->rk, &l) == 0 && l && l->cnt == c->offsets->cnt;
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    return ok;
}

static void *committer_main(void *arg)
{
    struct committer *c = arg;
    uint64_t progress = now_ns();
    while (c->done + c->failed < c->target) {
        while (c->issued < c->target && c->issued - c->done - c->failed < c->o->inflight) {
            /* A new offset every commit, so each one is a real write. */
            for (int i = 0; i < c->offsets->cnt; i++)
                c->offsets->elems[i].offset = c->issued + 1;
            uint64_t ts = now_ns();
            rd_kafka_resp_err_t e = rd_kafka_commit_queue(c->rk, c->offsets, c->q, NULL, (void *)(uintptr_t)ts);
            if (e) {
                if (!c->first_err)
                    c->first_err = e;
                c->failed++;
            }
            c->issued++;
        }
        rd_kafka_event_t *ev = rd_kafka_queue_poll(c->q, 100);
        uint64_t now = now_ns();
        if (!ev) {
            if (now - progress > (uint64_t)CONSUME_IDLE_TIMEOUT_MS * 1000000u) {
                c->stalled = true;
                break;
            }
            continue;
        }
        if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_OFFSET_COMMIT) {
            rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
            const rd_kafka_topic_partition_list_t *l = rd_kafka_event_topic_partition_list(ev);
            for (int i = 0; !e && l && i < l->cnt; i++)
                e = l->elems[i].err;
            if (e) {
                if (!c->first_err)
                    c->first_err = e;
                c->failed++;
            } else {
                uint64_t ts = (uint64_t)(uintptr_t)rd_kafka_event_opaque(ev);
                hist_add(&c->lat, now > ts ? now - ts : 0);
                c->done++;
            }
            progress = now;
            c->t_end = now;
        }
        rd_kafka_event_destroy(ev);
    }
    return NULL;
}

static void committer_close(struct committer *c)
{
    if (c->offsets)
        rd_kafka_topic_partition_list_destroy(c->offsets);
    if (c->q)
        rd_kafka_queue_destroy(c->q);
    if (c->rk) {
        rd_kafka_consumer_close(c->rk);
        rd_kafka_destroy(c->rk);
    }
}

static int run_commits(struct opts *o)
{
    if (o->records < 0)
        o->records = 200000;
    if (o->records < o->groups) {
        errorf("--records %lld: at least one commit per group (--groups %d)", o->records, o->groups);
        return GR_EXIT_USAGE;
    }
    if (!o->partitions)
        o->partitions = 1;
    rd_kafka_conf_t *conf = make_conf(o, NULL);
    if (!conf)
        return GR_EXIT_USAGE;
    rd_kafka_t *admin = new_client(RD_KAFKA_PRODUCER, conf, "client");
    if (!admin)
        return GR_EXIT_FAIL;
    int rc = GR_EXIT_FAIL;
    int partitions = ensure_topic(admin, o);
    struct committer *cs = calloc((size_t)o->groups, sizeof(*cs));
    pthread_t *th = calloc((size_t)o->groups, sizeof(*th));
    int started = 0;
    if (partitions < 0 || !cs || !th)
        goto out;

    /* Join every group first; only the commits are timed. */
    uint64_t join0 = now_ns();
    for (int g = 0; g < o->groups; g++) {
        cs[g].o = o;
        cs[g].target = o->records / o->groups + (g < o->records % o->groups);
        group_name(cs[g].group, sizeof(cs[g].group), o, "commits", g, o->groups > 1 || !o->group);
        if (!committer_open(&cs[g], partitions))
            goto out;
    }
    for (int joined = 0; joined < o->groups;) {
        joined = 0;
        for (int g = 0; g < o->groups; g++)
            joined += committer_joined(&cs[g]);
        if (now_ns() - join0 > 60ull * 1000000000u) {
            char sfx[600];
            errorf("only %d of %d groups formed within 60 s%s", joined, o->groups, gr_last_error_suffix(sfx, sizeof(sfx)));
            goto out;
        }
        if (joined < o->groups)
            usleep(5000);
    }
    double join_s = (double)(now_ns() - join0) / 1e9;

    int pid = pick_broker(o);
    struct proc_sample before = {0}, after = {0};
    if (pid > 0)
        proc_sample(pid, &before);
    double cpu0 = cpu_self_s();
    uint64_t t0 = now_ns();
    for (; started < o->groups; started++)
        if (pthread_create(&th[started], NULL, committer_main, &cs[started]) != 0) {
            errorf("cannot start a committer thread");
            break;
        }
    for (int g = 0; g < started; g++)
        pthread_join(th[g], NULL);
    if (started < o->groups)
        goto out;
    uint64_t t1 = t0;
    long long done = 0, failed = 0;
    struct hist *lat = calloc(1, sizeof(*lat));
    if (!lat)
        goto out;
    rd_kafka_resp_err_t first_err = 0;
    bool stalled = false;
    for (int g = 0; g < o->groups; g++) {
        done += cs[g].done;
        failed += cs[g].failed;
        stalled |= cs[g].stalled;
        if (!first_err)
            first_err = cs[g].first_err;
        if (cs[g].t_end > t1)
            t1 = cs[g].t_end;
        for (unsigned i = 0; i < HIST_BUCKETS; i++)
            lat->b[i] += cs[g].lat.b[i];
        lat->count += cs[g].lat.count;
        if (cs[g].lat.max > lat->max)
            lat->max = cs[g].lat.max;
    }
    if (pid > 0)
        proc_sample(pid, &after);
    double client_cpu = cpu_self_s() - cpu0;
    double secs = (double)(t1 - t0) / 1e9;
    double cps = secs > 0 ? (double)done / secs : 0;
    double offsets = (double)done * partitions;
    if (o->json) {
        FILE *f = stdout;
        fprintf(f, "{\"mode\":\"commits\"");
        json_str(f, "brokers", o->brokers);
        json_str(f, "topic", o->topic);
        fprintf(f, ",\"groups\":%d,\"partitions\":%d,\"inflight\":%d,\"commits\":%lld,\"offsets\":%.0f,\"failed\":%lld",
                o->groups, partitions, o->inflight, done, offsets, failed);
        json_num(f, "join_s", join_s, true);
        json_num(f, "seconds", secs, true);
        json_num(f, "commits_per_s", cps, true);
        json_num(f, "offsets_per_s", secs > 0 ? offsets / secs : 0, true);
        json_hist(f, "commit_latency_us", lat);
        json_num(f, "client_cpu_s", client_cpu, true);
        broker_json(f, pid, &before, &after, (double)done, "broker_cpu_us_per_commit");
        fputs("}\n", f);
    } else {
        printf("commits %lld x %d offset%s, %d group%s (one member each), topic %s at %s\n", done, partitions,
               partitions == 1 ? "" : "s", o->groups, o->groups == 1 ? "" : "s", o->topic, o->brokers);
        printf("  throughput  %.0f commits/s  %.0f offsets/s  (%.3f s, %d in flight per group, %lld failed)\n", cps,
               secs > 0 ? offsets / secs : 0, secs, o->inflight, failed);
        if (lat->count)
            printf("  latency     p50 %.0f us  p99 %.0f us  p99.9 %.0f us  max %.0f us  (commit() to its result)\n",
                   (double)hist_quantile(lat, 0.5) / 1e3, (double)hist_quantile(lat, 0.99) / 1e3,
                   (double)hist_quantile(lat, 0.999) / 1e3, (double)lat->max / 1e3);
        broker_text(pid, &before, &after, (double)done, "commit");
        printf("  client      %.2f CPU-s  (joining the groups took %.2f s, not counted)\n", client_cpu, join_s);
    }
    free(lat);
    if (stalled)
        errorf("commits stopped: no commit result for %d s", CONSUME_IDLE_TIMEOUT_MS / 1000);
    else if (failed) {
        char sfx[600];
        errorf("%lld of %lld commits failed: %s%s", failed, done + failed, rd_kafka_err2str(first_err),
               gr_last_error_suffix(sfx, sizeof(sfx)));
    } else
        rc = GR_EXIT_OK;
out:
    for (int g = 0; cs && g < o->groups; g++)
        committer_close(&cs[g]);
    free(cs);
    free(th);
    rd_kafka_destroy(admin);
    return rc;
}

/* ---- rebalance ------------------------------------------------------------------ */

/* N consumers (separate librdkafka handles, one thread each serving its
 * consumer queue, where the rebalance callback runs) in one group. The group
 * is stable when every active member owns at least one partition, no two own
 * the same one, and together they own all of them: that is, every member has
 * had the assignment callback of the final generation. */
struct member {
    struct rebalance *rb;
    rd_kafka_t *rk;
    pthread_t th;
    bool thread_running;
    atomic_bool stop;
    bool active;                /* subscribed and not closed: counted for stability */
    pthread_mutex_t mu;
    unsigned char *owned;       /* per partition */
    int n_owned;
    long long assigns;
};

struct rebalance {
    const struct opts *o;
    char group[256];
    int partitions;
    struct member *m;
    int n;                      /* handles (members + the spare for the join phase) */
    pthread_mutex_t mu;
    uint64_t last_change_ns;    /* last assignment change of any member */
    uint64_t last_revoke_ns;    /* last revoke callback: that member is about to rejoin */
    atomic_llong callbacks;
};

static void rb_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                            void *opaque)
{
    struct member *m = opaque;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    if (coop) {
        rd_kafka_error_t *e = assign ? rd_kafka_incremental_assign(rk, parts) : rd_kafka_incremental_unassign(rk, parts);
        if (e)
            rd_kafka_error_destroy(e);
    } else {
        rd_kafka_assign(rk, assign ? parts : NULL);
    }
    pthread_mutex_lock(&m->mu);
    if (!coop)
        memset(m->owned, 0, (size_t)m->rb->partitions);
    for (int i = 0; i < parts->cnt; i++)
        if (parts->elems[i].partition >= 0 && parts->elems[i].partition < m->rb->partitions)
            m->owned[parts->elems[i].partition] = assign;
    m->n_owned = 0;
    for (int i = 0; i < m->rb->partitions; i++)
        m->n_owned += m->owned[i];
    if (assign)
        m->assigns++;
    pthread_mutex_unlock(&m->mu);
    pthread_mutex_lock(&m->rb->mu);
    m->rb->last_change_ns = now_ns();
    if (!assign)
        m->rb->last_revoke_ns = m->rb->last_change_ns;
    pthread_mutex_unlock(&m->rb->mu);
    atomic_fetch_add(&m->rb->callbacks, 1);
}

static void *member_main(void *arg)
{
    struct member *m = arg;
    while (!atomic_load(&m->stop)) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(m->rk, 100);
        if (msg)
            rd_kafka_message_destroy(msg);
    }
    /* Leaves the group (the revoke callback runs here too). */
    rd_kafka_consumer_close(m->rk);
    return NULL;
}

static bool member_open(struct rebalance *rb, struct member *m)
{
    char hb[32];
    snprintf(hb, sizeof(hb), "%d", rb->o->heartbeat_ms);
    const char *defaults[] = {
        "group.id", rb->group,
        "enable.auto.commit", "false",
        "enable.auto.offset.store", "false",
        rb->o->heartbeat_ms ? "heartbeat.interval.ms" : NULL, hb,
        NULL,
    };
    rd_kafka_conf_t *conf = make_conf(rb->o, defaults);
    if (!conf)
        return false;
    rd_kafka_conf_set_rebalance_cb(conf, rb_rebalance_cb);
    rd_kafka_conf_set_opaque(conf, m);
    m->rb = rb;
    m->owned = calloc((size_t)rb->partitions, 1);
    pthread_mutex_init(&m->mu, NULL);
    m->rk = new_consumer(conf);
    if (!m->rk)
        return false;
    if (pthread_create(&m->th, NULL, member_main, m) != 0) {
        errorf("cannot start a consumer thread");
        return false;
    }
    m->thread_running = true;
    return true;
}

static bool member_subscribe(struct member *m)
{
    rd_kafka_resp_err_t e = subscribe_topic(m->rk, m->rb->o->topic);
    if (e) {
        errorf("subscribe: %s", rd_kafka_err2str(e));
        return false;
    }
    m->active = true;
    return true;
}

static void member_stop(struct member *m)
{
    if (m->thread_running) {
        atomic_store(&m->stop, true);
        pthread_join(m->th, NULL);
        m->thread_running = false;
    }
    m->active = false;
}

static bool rb_stable(struct rebalance *rb, unsigned char *seen)
{
    memset(seen, 0, (size_t)rb->partitions);
    int covered = 0;
    bool ok = true;
    for (int i = 0; ok && i < rb->n; i++) {
        struct member *m = &rb->m[i];
        if (!m->active)
            continue;
        pthread_mutex_lock(&m->mu);
        ok = m->n_owned > 0;
        for (int p = 0; ok && p < rb->partitions; p++)
            if (m->owned[p]) {
                ok = !seen[p];
                seen[p] = 1;
                covered++;
            }
        pthread_mutex_unlock(&m->mu);
    }
    return ok && covered == rb->partitions;
}

/* The part of a rebalance the coordinator controls: from the later of
 * `since` (a subscribe or close) and the last revoke callback (in the eager
 * protocol a member rejoins right after it) to `stable`. */
static double rb_after_revoke_ms(struct rebalance *rb, uint64_t since, uint64_t stable)
{
    pthread_mutex_lock(&rb->mu);
    uint64_t r = rb->last_revoke_ns > since ? rb->last_revoke_ns : since;
    pthread_mutex_unlock(&rb->mu);
    return stable > r ? (double)(stable - r) / 1e6 : 0;
}

/* Waits until stable; returns the time of the assignment that made it so,
 * or 0 after `timeout_s`. */
static uint64_t rb_wait_stable(struct rebalance *rb, unsigned char *seen, int timeout_s)
{
    uint64_t deadline = now_ns() + (uint64_t)timeout_s * 1000000000u;
    while (now_ns() < deadline) {
        if (rb_stable(rb, seen)) {
            pthread_mutex_lock(&rb->mu);
            uint64_t t = rb->last_change_ns;
            pthread_mutex_unlock(&rb->mu);
            return t;
        }
        usleep(500);
    }
    return 0;
}

static int run_rebalance(struct opts *o)
{
    int n = o->members;
    if (o->partitions && o->partitions < n) {
        errorf("--partitions %d: need at least one partition per member (--members %d)", o->partitions, n);
        return GR_EXIT_USAGE;
    }
    if (!o->partitions)
        o->partitions = n;
    rd_kafka_conf_t *conf = make_conf(o, NULL);
    if (!conf)
        return GR_EXIT_USAGE;
    rd_kafka_t *admin = new_client(RD_KAFKA_PRODUCER, conf, "client");
    if (!admin)
        return GR_EXIT_FAIL;
    int rc = GR_EXIT_FAIL;
    struct rebalance rb = {.o = o, .n = n + 1};
    pthread_mutex_init(&rb.mu, NULL);
    group_name(rb.group, sizeof(rb.group), o, "rebalance", 0, false);
    rb.partitions = ensure_topic(admin, o);
    rb.m = calloc((size_t)rb.n, sizeof(*rb.m));
    unsigned char *seen = rb.partitions > 0 ? calloc((size_t)rb.partitions, 1) : NULL;
    if (rb.partitions < 0 || !rb.m || !seen)
        goto out;
    if (rb.partitions < n) {
        errorf("topic %s has %d partitions, fewer than --members %d", o->topic, rb.partitions, n);
        goto out;
    }
    /* Handles and threads first (not timed); then all subscribe at once. */
    for (int i = 0; i < n; i++)
        if (!member_open(&rb, &rb.m[i]))
            goto out;
    int pid = pick_broker(o);
    struct proc_sample before = {0}, after = {0};
    if (pid > 0)
        proc_sample(pid, &before);
    uint64_t first = now_ns();
    for (int i = 0; i < n; i++)
        if (!member_subscribe(&rb.m[i]))
            goto out;
    uint64_t last = now_ns();
    uint64_t st = rb_wait_stable(&rb, seen, 120);
    if (!st) {
        errorf("group %s not stable with %d members within 120 s", rb.group, n);
        goto out;
    }
    double initial_ms = (double)(st - last) / 1e6, initial_first_ms = (double)(st - first) / 1e6;
    double initial_rj = rb_after_revoke_ms(&rb, last, st), leave_rj = -1, join_rj = -1;
    long long initial_cb = atomic_load(&rb.callbacks);

    /* One member leaves a stable group; then a new one joins the N-1. */
    double leave_ms = -1, join_ms = -1;
    if (n >= 2) {
        uint64_t t = now_ns();
        member_stop(&rb.m[n - 1]);
        st = rb_wait_stable(&rb, seen, 120);
        if (!st) {
            errorf("group %s not stable with %d members within 120 s after one left", rb.group, n - 1);
            goto out;
        }
        leave_ms = (double)(st - t) / 1e6;
        leave_rj = rb_after_revoke_ms(&rb, t, st);
        if (!member_open(&rb, &rb.m[n]))
            goto out;
        usleep(200 * 1000); /* let the new handle settle (bootstrap connection) */
        t = now_ns();
        if (!member_subscribe(&rb.m[n]))
            goto out;
        st = rb_wait_stable(&rb, seen, 120);
        if (!st) {
            errorf("group %s not stable with %d members within 120 s after one joined", rb.group, n);
            goto out;
        }
        join_ms = (double)(st - t) / 1e6;
        join_rj = rb_after_revoke_ms(&rb, t, st);
    }
    if (pid > 0)
        proc_sample(pid, &after);

    char hb[32] = "3000 (librdkafka default)";
    if (o->heartbeat_ms)
        snprintf(hb, sizeof(hb), "%d", o->heartbeat_ms);
    if (o->json) {
        FILE *f = stdout;
        fprintf(f, "{\"mode\":\"rebalance\"");
        json_str(f, "brokers", o->brokers);
        json_str(f, "topic", o->topic);
        json_str(f, "group", rb.group);
        fprintf(f, ",\"members\":%d,\"partitions\":%d", n, rb.partitions);
        json_num(f, "heartbeat_interval_ms", o->heartbeat_ms ? o->heartbeat_ms : 3000, true);
        json_num(f, "initial_ms", initial_ms, true);
        json_num(f, "initial_from_first_subscribe_ms", initial_first_ms, true);
        json_num(f, "initial_after_last_revoke_ms", initial_rj, true);
        json_num(f, "initial_rebalance_callbacks", (double)initial_cb, true);
        json_num(f, "leave_ms", leave_ms, leave_ms >= 0);
        json_num(f, "leave_after_last_revoke_ms", leave_rj, leave_rj >= 0);
        json_num(f, "join_ms", join_ms, join_ms >= 0);
        json_num(f, "join_after_last_revoke_ms", join_rj, join_rj >= 0);
        broker_json(f, pid, &before, &after, 0, NULL);
        fputs("}\n", f);
    } else {
        printf("rebalance: %d members in group %s, topic %s (%d partitions) at %s, heartbeat.interval.ms %s\n", n,
               rb.group, o->topic, rb.partitions, o->brokers, hb);
        printf("  initial     %.1f ms from the last member's subscribe to a stable group"
               " (%.1f ms from the first; %lld rebalance callbacks)\n",
               initial_ms, initial_first_ms, initial_cb);
        if (n >= 2) {
            printf("  leave       %.1f ms from a member's close to a stable group of %d\n", leave_ms, n - 1);
            printf("  join        %.1f ms from a new member's subscribe to a stable group of %d\n", join_ms, n);
        }
        printf("  after the last revoke callback: initial %.1f ms", initial_rj);
        if (n >= 2)
            printf(", leave %.1f ms, join %.1f ms", leave_rj, join_rj);
        printf("\n");
        broker_text(pid, &before, &after, 0, NULL);
    }
    rc = GR_EXIT_OK;
out:
    /* Close in parallel: each member thread leaves the group on its own. */
    for (int i = 0; rb.m && i < rb.n; i++)
        if (rb.m[i].thread_running)
            atomic_store(&rb.m[i].stop, true);
    for (int i = 0; rb.m && i < rb.n; i++) {
        member_stop(&rb.m[i]);
        if (rb.m[i].rk)
            rd_kafka_destroy(rb.m[i].rk);
        free(rb.m[i].owned);
        if (rb.m[i].rb)
            pthread_mutex_destroy(&rb.m[i].mu);
    }
    free(rb.m);
    free(seen);
    rd_kafka_destroy(admin);
    return rc;
}

/* ---- command line ---------------------------------------------------------- */

static void bench_usage(FILE *out)
{
    fprintf(out,
        "usage: gregor bench produce|consume|e2e|commits|rebalance [options]\n"
        "\n"
        "Measure a Kafka-protocol broker: records/s, payload MB/s (10^6 B), produce\n"
        "latency, and the broker's own CPU seconds and RSS read from /proc.\n"
        "\n"
        "modes:\n"
        "  produce     send --records records; throughput and delivery latency\n"
        "  consume     read a topic from the start; throughput\n"
        "  e2e         produce, with a consumer of every partition (from the end) in this\n"
        "              process: end-to-end latency from each record's send time to its consumption\n"
        "  commits     offset commits/s: --groups groups with one member each, each commit\n"
        "              carrying --partitions offsets, --inflight outstanding per group\n"
        "  rebalance   --members consumers join one group: time to a stable group at the start,\n"
        "              after one member leaves, and after a new one joins\n"
        "\n"
        "common options:\n"
        "  -b, --brokers LIST      bootstrap servers (default: $GREGOR_BROKERS, else localhost:9092)\n"
        "      --topic NAME        topic (default: gregor-bench)\n"
        "      --records N         produce: records to send (default 1M);\n"
        "                          consume: records to read (default: all below the high watermark at start)\n"
        "      --broker-pid PID    broker process to account CPU/RSS for (default: the only process named\n"
        "                          gregord, if exactly one runs)\n"
        "  -X KEY=VALUE            any librdkafka property, applied last (repeatable)\n"
        "      --json              print one JSON object instead of text\n"
        "  -v, --verbose           show librdkafka's log lines\n"
        "  -h, --help              this help\n"
        "\n"
        "produce options:\n"
        "      --record-size B     value bytes per record, random (default 100)\n"
        "      --partitions P      create the topic with P partitions if missing (default 1); an\n"
        "                          existing topic with another count is an error\n"
        "      --replication R     replication factor when creating the topic (default 1)\n"
        "      --acks all|-1|0|1   (default all)\n"
        "      --linger-ms MS      (default 5)\n"
        "      --batch-size B      librdkafka batch.size (default 1Mi)\n"
        "      --compression C     none|gzip|snappy|lz4|zstd (default none)\n"
        "      --rate R            send R records/s on a fixed schedule, latency measured from the\n"
        "                          scheduled time (default: as fast as possible)\n"
        "      --keyed             give records keys, uniform over --keys distinct ones (default: none)\n"
        "      --keys N            size of the key space (default 1000; implies --keyed)\n"
        "  (e2e takes the produce options; --record-size must be at least 12)\n"
        "\n"
        "commits and rebalance options (and --partitions, --replication for the topic):\n"
        "      --records N         commits: commits in all, split over the groups (default 200k)\n"
        "      --groups G          commits: groups committing at once (default 1)\n"
        "      --inflight K        commits: outstanding commits per group (default 100)\n"
        "      --members N         rebalance: consumers in the group (default 2); the topic gets\n"
        "                          max(N, --partitions) partitions\n"
        "      --heartbeat-ms MS   rebalance: heartbeat.interval.ms (default librdkafka's 3000)\n"
        "      --group ID          group id (commits: prefix, -0, -1, ... appended with --groups > 1);\n"
        "                          default: unique to the run\n"
        "\n"
        "Numbers take k/M/G (x1000) or Ki/Mi/Gi (x1024) suffixes: 10M, 1Mi.\n"
        "Exit status: 0 ok, 1 failure (unreachable broker, failed deliveries), 2 usage.\n"
        "\n"
        "examples:\n"
        "  gregor bench produce\n"
        "  gregor bench produce --records 10M --record-size 100 --partitions 6 --acks 1 --json\n"
        "  gregor bench produce --topic lat --record-size 1000 --rate 10000 --records 600k --linger-ms 0\n"
        "  gregor bench consume --json\n"
        "  gregor bench produce --partitions 16 --keyed --keys 10000\n"
        "  gregor bench e2e --topic e2e --record-size 1024 --partitions 16 --rate 10000 --records 300k\n"
        "  gregor bench commits --groups 10 --records 500k\n"
        "  gregor bench rebalance --members 50 --heartbeat-ms 100\n"
        "  taskset -c 0 gregor bench produce -b 127.0.0.1:19092 --broker-pid $(pidof gregord) -X enable.idempotence=true\n"
        "\n"
        "See docs/bench.md for running comparable benchmarks on the project's machines.\n");
}

enum {
    OPT_TOPIC = 256, OPT_JSON, OPT_BROKER_PID, OPT_RECORDS, OPT_RECORD_SIZE, OPT_PARTITIONS,
    OPT_REPLICATION, OPT_ACKS, OPT_LINGER, OPT_BATCH, OPT_COMPRESSION, OPT_RATE,
    OPT_KEYED, OPT_KEYS, OPT_GROUPS, OPT_MEMBERS, OPT_INFLIGHT, OPT_HEARTBEAT, OPT_GROUP,
};

static const struct option long_opts[] = {
    {"brokers", required_argument, NULL, 'b'},
    {"topic", required_argument, NULL, OPT_TOPIC},
    {"json", no_argument, NULL, OPT_JSON},
    {"broker-pid", required_argument, NULL, OPT_BROKER_PID},
    {"records", required_argument, NULL, OPT_RECORDS},
    {"record-size", required_argument, NULL, OPT_RECORD_SIZE},
    {"partitions", required_argument, NULL, OPT_PARTITIONS},
    {"replication", required_argument, NULL, OPT_REPLICATION},
    {"acks", required_argument, NULL, OPT_ACKS},
    {"linger-ms", required_argument, NULL, OPT_LINGER},
    {"batch-size", required_argument, NULL, OPT_BATCH},
    {"compression", required_argument, NULL, OPT_COMPRESSION},
    {"rate", required_argument, NULL, OPT_RATE},
    {"keyed", no_argument, NULL, OPT_KEYED},
    {"keys", required_argument, NULL, OPT_KEYS},
    {"groups", required_argument, NULL, OPT_GROUPS},
    {"members", required_argument, NULL, OPT_MEMBERS},
    {"inflight", required_argument, NULL, OPT_INFLIGHT},
    {"heartbeat-ms", required_argument, NULL, OPT_HEARTBEAT},
    {"group", required_argument, NULL, OPT_GROUP},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The long name of an option, for messages, so that they cannot drift from
 * what getopt accepts. */
static const char *long_opt_name(int opt)
{
    for (const struct option *l = long_opts; l->name; l++)
        if (l->val == opt)
            return l->name;
    return "?";
}

/* Which modes use an option: the other modes refuse it rather than silently
 * ignore it. */
enum opt_modes {
    FOR_ALL_MODES,
    FOR_TOPIC_CREATION, /* every mode but consume: --partitions, --replication */
    FOR_SENDING,        /* produce and e2e */
    FOR_GROUPS,         /* commits and rebalance */
};

/* What the parser needs to know of an option beyond long_opts. A numeric
 * option has a range and exactly one destination (ll, i or d), and is parsed
 * from this table; the others are handled one by one in gr_cmd_bench. */
struct option_rule {
    int opt;
    enum opt_modes modes;
    long long min, max;
    long long *ll;
    int *i;
    double *d;
};

static const struct option_rule *find_option_rule(const struct option_rule *rules, size_t n, int opt)
{
    for (size_t k = 0; k < n; k++)
        if (rules[k].opt == opt)
            return &rules[k];
    return NULL;
}

static bool is_numeric_option(const struct option_rule *r)
{
    return r->ll || r->i || r->d;
}

static bool parse_numeric_option(const struct option_rule *r, const char *arg)
{
    long long v;
    if (!parse_count(arg, r->min, r->max, &v)) {
        errorf("--%s %s: expected a number in %lld..%lld", long_opt_name(r->opt), arg, r->min, r->max);
        return false;
    }
    if (r->ll)
        *r->ll = v;
    else if (r->i)
        *r->i = (int)v;
    else
        *r->d = (double)v;
    return true;
}

/* Remembers the last option seen of each kind, for the checks once the mode is known. */
static void note_option_modes(struct opts *o, const struct option_rule *r)
{
    const char *name = long_opt_name(r->opt);
    switch (r->modes) {
    case FOR_ALL_MODES: break;
    case FOR_TOPIC_CREATION: o->produce_only = name; break;
    case FOR_SENDING: o->produce_only = o->send_only = name; break;
    case FOR_GROUPS: o->group_only = name; break;
    }
}

int gr_cmd_bench(int argc, char **argv)
{
    const char *env = getenv("GREGOR_BROKERS");
    struct opts o = {
        .brokers = env && *env ? env : "localhost:9092",
        .topic = "gregor-bench",
        .records = -1,
        .record_size = 100,
        .replication = 1,
        .acks = "all",
        .linger_ms = 5,
        .batch_size = 1 << 20,
        .compression = "none",
        .keys = 1000,
        .groups = 1,
        .members = 2,
        .inflight = 100,
    };
    const struct option_rule rules[] = {
        {OPT_BROKER_PID, FOR_ALL_MODES, 1, INT32_MAX, .i = &o.broker_pid},
        {OPT_RECORDS, FOR_ALL_MODES, 1, INT64_MAX / 2, .ll = &o.records},
        {OPT_RECORD_SIZE, FOR_SENDING, 0, 100000000, .ll = &o.record_size},
        {OPT_PARTITIONS, FOR_TOPIC_CREATION, 1, 1000000, .i = &o.partitions},
        {OPT_REPLICATION, FOR_TOPIC_CREATION, 1, 1000, .i = &o.replication},
        {OPT_ACKS, FOR_SENDING},
        {OPT_LINGER, FOR_SENDING, 0, 900000, .ll = &o.linger_ms},
        {OPT_BATCH, FOR_SENDING, 1, INT32_MAX, .ll = &o.batch_size},
        {OPT_COMPRESSION, FOR_SENDING},
        {OPT_RATE, FOR_SENDING, 1, 1000000000, .d = &o.rate},
        {OPT_KEYED, FOR_SENDING},
        {OPT_KEYS, FOR_SENDING, 1, 1000000000000LL, .ll = &o.keys},
        {OPT_GROUPS, FOR_GROUPS, 1, 10000, .i = &o.groups},
        {OPT_MEMBERS, FOR_GROUPS, 1, 10000, .i = &o.members},
        {OPT_INFLIGHT, FOR_GROUPS, 1, 1000000, .i = &o.inflight},
        {OPT_HEARTBEAT, FOR_GROUPS, 1, 3600000, .i = &o.heartbeat_ms},
        {OPT_GROUP, FOR_GROUPS},
    };
    const char **xprops = calloc((size_t)argc + 1, sizeof(*xprops));
    if (!xprops)
        return GR_EXIT_FAIL;
    o.xprops = xprops;
    int rc = GR_EXIT_USAGE;

    optind = 0; /* glibc: full re-initialisation, in case another command used getopt */
    opterr = 0; /* our messages are clearer and prefixed */
    int c;
    while ((c = getopt_long(argc, argv, "b:X:vh", long_opts, NULL)) != -1) {
        const struct option_rule *rule = find_option_rule(rules, sizeof(rules) / sizeof(rules[0]), c);
        if (rule && is_numeric_option(rule) && !parse_numeric_option(rule, optarg))
            goto done;
        switch (c) {
        case 'b': o.brokers = optarg; break;
        case OPT_TOPIC: o.topic = optarg; break;
        case OPT_JSON: o.json = true; break;
        case 'v': o.verbose = true; break;
        case 'X': xprops[o.n_xprops++] = optarg; break;
        case 'h':
            bench_usage(stdout);
            rc = GR_EXIT_OK;
            goto done;
        case OPT_ACKS:
            if (strcmp(optarg, "all") && strcmp(optarg, "-1") && strcmp(optarg, "0") && strcmp(optarg, "1")) {
                errorf("--acks %s: expected all, -1, 0 or 1", optarg);
                goto done;
            }
            o.acks = optarg;
            break;
        case OPT_COMPRESSION: o.compression = optarg; break;
        case OPT_KEYED:
        case OPT_KEYS: o.keyed = true; break;
        case OPT_GROUP: o.group = optarg; break;
        case '?':
        default:
            if (rule)
                break; /* numeric: stored above from its rule */
            if (optopt && optopt < 256)
                errorf("unknown option or missing value: -%c (see gregor bench --help)", optopt);
            else
                errorf("unknown option or missing value: %s (see gregor bench --help)", argv[optind - 1]);
            goto done;
        }
        if (rule)
            note_option_modes(&o, rule);
    }
    if (optind >= argc) {
        errorf("missing mode: produce, consume, e2e, commits or rebalance (see gregor bench --help)");
        goto done;
    }
    if (argc - optind > 1) {
        errorf("unexpected argument '%s' (see gregor bench --help)", argv[optind + 1]);
        goto done;
    }
    int mode = -1;
    for (int i = 0; i < (int)(sizeof(mode_names) / sizeof(mode_names[0])); i++)
        if (strcmp(argv[optind], mode_names[i]) == 0)
            mode = i;
    if (mode < 0) {
        errorf("unknown mode '%s': expected produce, consume, e2e, commits or rebalance", argv[optind]);
        goto done;
    }
    o.mode = (enum mode)mode;
    /* Options of other modes are refused rather than silently ignored.
     * --partitions and --replication create the topic in every mode but consume. */
    if (o.mode == MODE_CONSUME && o.produce_only) {
        errorf("--%s applies to produce and e2e only", o.produce_only);
        goto done;
    }
    if ((o.mode == MODE_COMMITS || o.mode == MODE_REBALANCE) && o.send_only) {
        errorf("--%s applies to produce and e2e only", o.send_only);
        goto done;
    }
    if (o.group_only && o.mode != MODE_COMMITS && o.mode != MODE_REBALANCE) {
        errorf("--%s applies to commits and rebalance only", o.group_only);
        goto done;
    }
    if ((o.mode == MODE_COMMITS && (o.members != 2 || o.heartbeat_ms)) ||
        (o.mode == MODE_REBALANCE && (o.groups != 1 || o.inflight != 100))) {
        errorf("%s does not apply to %s", o.mode == MODE_COMMITS ? (o.heartbeat_ms ? "--heartbeat-ms" : "--members")
                                                                 : (o.groups != 1 ? "--groups" : "--inflight"),
               mode_names[o.mode]);
        goto done;
    }
    if (o.mode == MODE_REBALANCE && o.records >= 0) {
        errorf("--records does not apply to rebalance");
        goto done;
    }
    verbose_logs = o.verbose;
    g_brokers = o.brokers;
    switch (o.mode) {
    case MODE_PRODUCE:
    case MODE_E2E: rc = run_produce(&o); break;
    case MODE_CONSUME: rc = run_consume(&o); break;
    case MODE_COMMITS: rc = run_commits(&o); break;
    case MODE_REBALANCE: rc = run_rebalance(&o); break;
    }
done:
    free(xprops);
    return rc;
}
