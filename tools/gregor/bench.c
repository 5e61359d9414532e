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

enum mode { MODE_PRODUCE, MODE_CONSUME };

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
    bool prod = o->mode == MODE_PRODUCE;
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

    if (o->json) {
        FILE *f = stdout;
        fprintf(f, "{\"mode\":\"%s\"", prod ? "produce" : "consume");
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
        }
        json_num(f, "seconds", r->seconds, true);
        json_num(f, "records_per_s", rps, true);
        json_num(f, "mb_per_s", mbps, true);
        if (r->has_latency)
            fprintf(f, ",\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}",
                    p50, p99, p999, pmax);
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
           prod ? "produce" : "consume", r->records, o->record_size, o->topic, r->partitions,
           r->partitions == 1 ? "" : "s", o->brokers);
    if (prod) {
        char rate[32];
        if (o->rate > 0)
            snprintf(rate, sizeof(rate), "%.0f/s", o->rate);
        else
            snprintf(rate, sizeof(rate), "max");
        printf("  config      acks=%s linger.ms=%lld batch.size=%lld compression=%s rate=%s\n",
               o->acks, o->linger_ms, o->batch_size, o->compression, rate);
    }
    printf("  throughput  %.0f records/s  %.1f MB/s  (%.3f s", rps, mbps, r->seconds);
    if (prod)
        printf(", %lld failed", r->failed);
    printf(")\n");
    if (r->has_latency)
        printf("  latency     p50 %.0f us  p99 %.0f us  p99.9 %.0f us  max %.0f us"
               "  (produce() to delivery report%s)\n",
               p50, p99, p999, pmax, o->rate > 0 ? ", from scheduled send time" : "");
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

static int run_produce(struct opts *o)
{
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

    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        errorf("cannot create producer: %s", errstr);
        rd_kafka_conf_destroy(conf);
        free(p);
        return GR_EXIT_FAIL;
    }
    p->rk = rk;
    int rc = GR_EXIT_FAIL;
    char *pool = NULL;
    rd_kafka_topic_t *rkt = NULL;

    int partitions = ensure_topic(rk, o);
    if (partitions < 0)
        goto out;
    rkt = rd_kafka_topic_new(rk, o->topic, NULL);

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

    struct result r = {.o = o, .partitions = partitions, .lat = &p->lat};
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
    for (long long i = 0; i < o->records; i++) {
        char *val = pool + (size_t)((uint64_t)i * (uint64_t)o->record_size % PAYLOAD_POOL);
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
        for (;;) {
            if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, 0, val, (size_t)o->record_size, NULL, 0,
                                 (void *)(uintptr_t)ts) == 0)
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

    if (r.broker_pid > 0)
        proc_sample(r.broker_pid, &r.after);
    r.client_cpu_s = cpu_self_s() - cpu0;
    r.records = atomic_load(&p->delivered);
    r.failed = atomic_load(&p->failed);
    r.bytes = r.records * o->record_size;
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
    } else if (!produce_failed) {
        rc = GR_EXIT_OK;
    }
out:
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
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!rk) {
        errorf("cannot create consumer: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return GR_EXIT_FAIL;
    }
    /* Errors arrive on the consumer queue we read, not on a main queue nobody polls. */
    rd_kafka_poll_set_consumer(rk);

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

/* ---- command line ---------------------------------------------------------- */

static void bench_usage(FILE *out)
{
    fprintf(out,
        "usage: gregor bench produce|consume [options]\n"
        "\n"
        "Measure a Kafka-protocol broker: records/s, payload MB/s (10^6 B), produce\n"
        "latency, and the broker's own CPU seconds and RSS read from /proc.\n"
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
        "\n"
        "Numbers take k/M/G (x1000) or Ki/Mi/Gi (x1024) suffixes: 10M, 1Mi.\n"
        "Exit status: 0 ok, 1 failure (unreachable broker, failed deliveries), 2 usage.\n"
        "\n"
        "examples:\n"
        "  gregor bench produce\n"
        "  gregor bench produce --records 10M --record-size 100 --partitions 6 --acks 1 --json\n"
        "  gregor bench produce --topic lat --record-size 1000 --rate 10000 --records 600k --linger-ms 0\n"
        "  gregor bench consume --json\n"
        "  taskset -c 0 gregor bench produce -b 127.0.0.1:19092 --broker-pid $(pidof gregord) -X enable.idempotence=true\n"
        "\n"
        "See docs/bench.md for running comparable benchmarks on the project's machines.\n");
}

enum {
    OPT_TOPIC = 256, OPT_JSON, OPT_BROKER_PID, OPT_RECORDS, OPT_RECORD_SIZE, OPT_PARTITIONS,
    OPT_REPLICATION, OPT_ACKS, OPT_LINGER, OPT_BATCH, OPT_COMPRESSION, OPT_RATE,
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
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static bool numeric_opt(const char *name, const char *arg, long long min, long long max, long long *out)
{
    if (parse_count(arg, min, max, out))
        return true;
    errorf("--%s %s: expected a number in %lld..%lld", name, arg, min, max);
    return false;
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
    };
    const char **xprops = calloc((size_t)argc + 1, sizeof(*xprops));
    if (!xprops)
        return GR_EXIT_FAIL;
    o.xprops = xprops;
    int rc = GR_EXIT_USAGE;
    long long v;

    optind = 0; /* glibc: full re-initialisation, in case another command used getopt */
    opterr = 0; /* our messages are clearer and prefixed */
    int c;
    while ((c = getopt_long(argc, argv, "b:X:vh", long_opts, NULL)) != -1) {
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
        case OPT_BROKER_PID:
            if (!numeric_opt("broker-pid", optarg, 1, INT32_MAX, &v))
                goto done;
            o.broker_pid = (int)v;
            break;
        case OPT_RECORDS:
            if (!numeric_opt("records", optarg, 1, INT64_MAX / 2, &o.records))
                goto done;
            break;
        case OPT_RECORD_SIZE:
            if (!numeric_opt("record-size", optarg, 0, 100000000, &o.record_size))
                goto done;
            o.produce_only = "--record-size";
            break;
        case OPT_PARTITIONS:
            if (!numeric_opt("partitions", optarg, 1, 1000000, &v))
                goto done;
            o.partitions = (int)v;
            o.produce_only = "--partitions";
            break;
        case OPT_REPLICATION:
            if (!numeric_opt("replication", optarg, 1, 1000, &v))
                goto done;
            o.replication = (int)v;
            o.produce_only = "--replication";
            break;
        case OPT_ACKS:
            if (strcmp(optarg, "all") && strcmp(optarg, "-1") && strcmp(optarg, "0") && strcmp(optarg, "1")) {
                errorf("--acks %s: expected all, -1, 0 or 1", optarg);
                goto done;
            }
            o.acks = optarg;
            o.produce_only = "--acks";
            break;
        case OPT_LINGER:
            if (!numeric_opt("linger-ms", optarg, 0, 900000, &o.linger_ms))
                goto done;
            o.produce_only = "--linger-ms";
            break;
        case OPT_BATCH:
            if (!numeric_opt("batch-size", optarg, 1, INT32_MAX, &o.batch_size))
                goto done;
            o.produce_only = "--batch-size";
            break;
        case OPT_COMPRESSION:
            o.compression = optarg;
            o.produce_only = "--compression";
            break;
        case OPT_RATE:
            if (!numeric_opt("rate", optarg, 1, 1000000000, &v))
                goto done;
            o.rate = (double)v;
            o.produce_only = "--rate";
            break;
        case '?':
        default:
            if (optopt && optopt < 256)
                errorf("unknown option or missing value: -%c (see gregor bench --help)", optopt);
            else
                errorf("unknown option or missing value: %s (see gregor bench --help)", argv[optind - 1]);
            goto done;
        }
    }
    if (optind >= argc) {
        errorf("missing mode: produce or consume (see gregor bench --help)");
        goto done;
    }
    if (argc - optind > 1) {
        errorf("unexpected argument '%s' (see gregor bench --help)", argv[optind + 1]);
        goto done;
    }
    if (strcmp(argv[optind], "produce") == 0) {
        o.mode = MODE_PRODUCE;
    } else if (strcmp(argv[optind], "consume") == 0) {
        o.mode = MODE_CONSUME;
        if (o.produce_only) {
            errorf("%s applies to produce only", o.produce_only);
            goto done;
        }
    } else {
        errorf("unknown mode '%s': expected produce or consume", argv[optind]);
        goto done;
    }
    verbose_logs = o.verbose;
    g_brokers = o.brokers;
    rc = o.mode == MODE_PRODUCE ? run_produce(&o) : run_consume(&o);
done:
    free(xprops);
    return rc;
}
