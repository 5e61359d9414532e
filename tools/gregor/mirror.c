/* gregor mirror: copies the topics matching a regex from one cluster into
 * another, like Kafka's MirrorMaker, at least once.
 *
 * One thread does everything: it polls a source consumer (a member of a
 * consumer group, subscribed to the regex) in batches, hands each record to
 * one of --producers target producers (target partition p always to
 * producer p % N, each with one request in flight, so a partition keeps its
 * order while the producers' requests travel in parallel) without copying
 * its value (the source message rides along as the produce opaque and is
 * freed in the delivery report), and commits on
 * the source, per partition, the offset after the last record the target
 * acknowledged with acks=all, counting only a contiguous prefix. A kill -9
 * therefore loses nothing and re-sends at most what was in flight, and a
 * record that fails for good stops the mirror before its offset is
 * committed. librdkafka's callbacks (delivery reports, rebalances, commit
 * results) all run on this thread from the poll calls, so the state below
 * needs no locks. */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"

struct mirror_opts {
    struct gr_common co;          /* the parsed common options; -X split below */
    struct gr_common src, dst;    /* per side: brokers and its -X properties */
    const char *topics;           /* the regex as given */
    const char *group;
    const char *prefix;           /* prepended to target topic names */
    int64_t report_s;             /* 0: no periodic reports */
    int64_t commit_ms;
    int64_t producers;            /* target producers; partition p goes to producer p % producers */
};

/* The most --producers allows: each is a librdkafka instance with its own
 * threads and connections. */
#define MAX_PRODUCERS 16
/* Records taken from the consumer per call. */
#define MIRROR_BATCH 1024

static void mirror_usage(FILE *out)
{
    fprintf(out,
        "usage: gregor mirror --source BROKERS --target BROKERS --topics REGEX [options]\n"
        "\n"
        "Copies every topic whose whole name matches REGEX from the source cluster into the\n"
        "target cluster and keeps copying until interrupted; topics that appear later and match\n"
        "are picked up within seconds. Each record keeps its partition, key, value, headers and\n"
        "timestamp, in order. A missing target topic is created with the source's partition\n"
        "count and its topic-level retention and cleanup configs. The mirror reads as a member of\n"
        "a consumer group on the source and commits a record's offset only after the target\n"
        "acknowledged it (acks=all): a crash loses nothing and re-sends at most what was in flight.\n"
        "\n"
        "options:\n"
        "      --source BROKERS        the cluster to copy from\n"
        "      --target BROKERS        the cluster to copy into\n"
        "      --topics REGEX          source topics to copy (POSIX extended regex, whole name)\n"
        "  -g, --group ID              the consumer group on the source (default gregor-mirror)\n"
        "      --rename-prefix P       target topic = P + source topic\n"
        "      --report-interval S     a progress line every S seconds, 0 = none (default 10)\n"
        "      --commit-interval MS    commit delivered offsets this often (default 1000)\n"
        "      --producers N           target producers, partition p through producer p %% N, one\n"
        "                              request in flight each (default 4; never more than partitions)\n"
        "      --json                  reports as JSON lines on stdout instead of text on stderr\n"
        "  -X source.KEY=VALUE         librdkafka property of the source consumer (repeatable)\n"
        "  -X target.KEY=VALUE         librdkafka property of the target producer (repeatable)\n"
        "  -X KEY=VALUE                a property for both\n"
        "      --timeout MS            bound on each admin request and on the first contact (default 10000)\n"
        "  -v, --verbose               show librdkafka's log lines\n"
        "  -h, --help                  this help\n"
        "\n"
        "Broker restarts on either side are ridden out (records wait, none are dropped). SIGINT or\n"
        "SIGTERM stops it: it flushes the producers (up to 30 s; a second signal cuts this short),\n"
        "commits what was delivered and exits 0.\n"
        "Exit status: 0 stopped by a signal, 1 failure (unreachable cluster at start, a record the\n"
        "target refused for good, the final commit failed), 2 usage.\n"
        "\n"
        "examples:\n"
        "  gregor mirror --source dc1:9092 --target dc2:9092 --topics 'orders|payments'\n"
        "  gregor mirror --source dc1:9092 --target dc2:9092 --topics 'app\\..*' --rename-prefix dc1.\n"
        "  gregor mirror --source a:9092 --target b:9092 --topics '.*' -g dr --report-interval 60 --json\n"
        "  gregor mirror --source a:9092 --target b:9092 --topics logs -X target.compression.type=lz4\n");
}

/* ---- state ------------------------------------------------------------------------ */

/* The source offsets of one partition's records handed to the producer and
 * not yet acknowledged, in produce order, each with a delivered flag: a
 * growable ring. The committable offset only moves past a prefix of
 * delivered records, so a record still in flight (or failed) holds back
 * the commit of every later one even when the later ones were acknowledged
 * first. */
struct inflight {
    int64_t *off;
    unsigned char *done;
    size_t cap, head, n; /* cap is a power of two */
};

struct mpart {
    struct inflight q;
    int64_t next;      /* after the last contiguously delivered record; -1 unknown */
    int64_t committed; /* last offset the group accepted from us; -1 none */
    int64_t position;  /* after the last record consumed; -1 unknown */
    bool assigned;
};

struct mtopic {
    char *src, *dst;
    /* On each producer that has carried one of its partitions (else NULL);
     * their opaque is this struct. */
    rd_kafka_topic_t *rkt[MAX_PRODUCERS];
    int32_t nparts;        /* the partitions the target has (and parts[] covers) */
    struct mpart *parts;
};

static struct {
    struct mirror_opts *o;
    rd_kafka_t *src;
    /* The target producers, made when a partition first needs one: target
     * partition p always goes through prod[p % nprod], which has one
     * request in flight per connection, so each partition keeps its order
     * while the producers' requests travel in parallel. dst is prod[0],
     * also used for the target's metadata and admin requests. */
    rd_kafka_t *dst, *prod[MAX_PRODUCERS];
    int nprod;
    const char *const *dst_defaults;
    rd_kafka_queue_t *src_q; /* the consumer queue: commit results are served by consumer_poll */
    struct mtopic **topics;
    int n_topics;
    struct mtopic *last; /* the topic of the previous record: records come in runs */
    /* Counters of acknowledged records, for the reports. */
    uint64_t records, bytes, last_records, last_bytes;
    uint64_t in_flight;
    bool fatal;          /* a record failed for good, or the consumer did: stop */
    bool stopping;       /* purge errors are expected from here on */
    bool commit_failing; /* report commit failures once, and the recovery */
} g;

static volatile sig_atomic_t g_signals;
static void on_signal(int sig) { g_signals++; }

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        gr_errorf("out of memory");
        exit(GR_EXIT_FAIL);
    }
    return p;
}

static void inflight_push(struct inflight *q, int64_t off)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 1024;
        int64_t *o = xrealloc(NULL, cap * sizeof(*o));
        unsigned char *d = xrealloc(NULL, cap);
        for (size_t i = 0; i < q->n; i++) {
            o[i] = q->off[(q->head + i) & (q->cap - 1)];
            d[i] = q->done[(q->head + i) & (q->cap - 1)];
        }
        free(q->off);
        free(q->done);
        q->off = o;
        q->done = d;
        q->cap = cap;
        q->head = 0;
    }
    size_t i = (q->head + q->n++) & (q->cap - 1);
    q->off[i] = off;
    q->done[i] = 0;
}

/* Marks `off` delivered. Reports come in produce order per partition, so
 * this is nearly always the head; otherwise a binary search (the offsets
 * increase along the ring). */
static void inflight_mark(struct inflight *q, int64_t off)
{
    if (q->n && q->off[q->head] == off) {
        q->done[q->head] = 1;
        return;
    }
    size_t lo = 0, hi = q->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, i = (q->head + mid) & (q->cap - 1);
        if (q->off[i] == off) {
            q->done[i] = 1;
            return;
        }
        if (q->off[i] < off)
            lo = mid + 1;
        else
            hi = mid;
    }
}

/* Drops the delivered prefix; returns the offset after it, or -1 if none. */
static int64_t inflight_pop(struct inflight *q)
{
    int64_t next = -1;
    while (q->n && q->done[q->head]) {
        next = q->off[q->head] + 1;
        q->head = (q->head + 1) & (q->cap - 1);
        q->n--;
    }
    return next;
}

static struct mtopic *find_topic(const char *src)
{
    if (g.last && strcmp(g.last->src, src) == 0)
        return g.last;
    for (int i = 0; i < g.n_topics; i++)
        if (strcmp(g.topics[i]->src, src) == 0)
            return g.last = g.topics[i];
    return NULL;
}

static struct mpart *find_part(const char *topic, int32_t p)
{
    struct mtopic *t = find_topic(topic);
    return t && p >= 0 && p < t->nparts ? &t->parts[p] : NULL;
}

/* The producer of target partitions p with p % nprod == i, made on first use. */
static rd_kafka_t *producer(int i)
{
    if (!g.prod[i]) {
        g.prod[i] = gr_client_new(&g.o->dst, RD_KAFKA_PRODUCER, g.dst_defaults);
        if (!g.prod[i]) /* cannot be: the same configuration made prod[0] */
            exit(GR_EXIT_FAIL);
    }
    return g.prod[i];
}

static rd_kafka_topic_t *topic_on(struct mtopic *t, int i)
{
    if (!t->rkt[i]) {
        /* The delivery report finds the topic's state through the producer
         * topic's opaque. */
        rd_kafka_topic_conf_t *tc = rd_kafka_topic_conf_new();
        rd_kafka_topic_conf_set_opaque(tc, t);
        t->rkt[i] = rd_kafka_topic_new(producer(i), t->dst, tc);
        if (!t->rkt[i] || rd_kafka_topic_opaque(t->rkt[i]) != t) {
            gr_errorf("cannot set up the producer for topic %s", t->dst);
            exit(GR_EXIT_FAIL);
        }
    }
    return t->rkt[i];
}

/* Records handed to the producers and not yet reported. */
static int outq_len(void)
{
    int n = 0;
    for (int i = 0; i < g.nprod; i++)
        if (g.prod[i])
            n += rd_kafka_outq_len(g.prod[i]);
    return n;
}

/* Serves the delivery reports of every producer, waiting up to timeout_ms
 * on the first one only. */
static void poll_producers(int timeout_ms)
{
    for (int i = 0; i < g.nprod; i++)
        if (g.prod[i])
            rd_kafka_poll(g.prod[i], i == 0 ? timeout_ms : 0);
}

/* ---- delivery and commits -------------------------------------------------------------- */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    rd_kafka_message_t *src = m->_private;
    struct mtopic *t = rd_kafka_topic_opaque(m->rkt);
    struct mpart *p = &t->parts[m->partition];
    g.in_flight--;
    if (!m->err) {
        inflight_mark(&p->q, src->offset);
        int64_t next = inflight_pop(&p->q);
        if (next >= 0)
            p->next = next;
        g.records++;
        g.bytes += m->len + m->key_len;
    } else if (!(g.stopping && (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
                                m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT))) {
        /* The producer retries transient errors forever (message.timeout.ms
         * = 0), so this one is permanent. The record stays undelivered in
         * the ring, which keeps its offset and every later one uncommitted. */
        if (!g.fatal)
            gr_errorf("%s[%d] offset %" PRId64 ": the target refused it for good: %s; stopping, the "
                      "committed offset stays before it",
                      t->src, m->partition, src->offset, rd_kafka_err2str(m->err));
        g.fatal = true;
    }
    rd_kafka_message_destroy(src);
}

static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offsets,
                      void *opaque)
{
    for (int i = 0; offsets && i < offsets->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &offsets->elems[i];
        struct mpart *p = find_part(tp->topic, tp->partition);
        if (!tp->err && p && tp->offset > p->committed)
            p->committed = tp->offset;
        if (!err && tp->err)
            err = tp->err;
    }
    /* A source broker restart makes commits fail for a while; later
     * commits carry the same offsets, so one line each way is enough. */
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET && !g.commit_failing) {
        gr_warnf("committing offsets on the source failed: %s (retrying)", rd_kafka_err2str(err));
        g.commit_failing = true;
    } else if (!err && g.commit_failing) {
        fprintf(stderr, "gregor mirror: committing offsets works again\n");
        g.commit_failing = false;
    }
}

/* The delivered offsets not yet committed; NULL when there are none. */
static rd_kafka_topic_partition_list_t *uncommitted(void)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    for (int i = 0; i < g.n_topics; i++)
        for (int32_t p = 0; p < g.topics[i]->nparts; p++) {
            struct mpart *mp = &g.topics[i]->parts[p];
            /* Only our partitions: a late commit of one another member owns
             * now could move its offset back. */
            if (mp->assigned && mp->next >= 0 && mp->next > mp->committed) {
                if (!l)
                    l = rd_kafka_topic_partition_list_new(16);
                rd_kafka_topic_partition_list_add(l, g.topics[i]->src, p)->offset = mp->next;
            }
        }
    return l;
}

static void commit_async(void)
{
    rd_kafka_topic_partition_list_t *l = uncommitted();
    if (!l)
        return;
    rd_kafka_resp_err_t e = rd_kafka_commit_queue(g.src, l, g.src_q, commit_cb, NULL);
    if (e)
        commit_cb(g.src, e, NULL, NULL);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Commits and waits for the answer; false (printed) when the group did not
 * take it: the records since the last commit will be mirrored again. */
static bool commit_sync(void)
{
    rd_kafka_topic_partition_list_t *l = uncommitted();
    if (!l)
        return true;
    rd_kafka_resp_err_t e = rd_kafka_commit(g.src, l, 0);
    for (int i = 0; i < l->cnt; i++) {
        struct mpart *p = find_part(l->elems[i].topic, l->elems[i].partition);
        if (!l->elems[i].err && !e && p)
            p->committed = l->elems[i].offset;
        else if (!e)
            e = l->elems[i].err;
    }
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        gr_errorf("committing the delivered offsets on the source failed: %s; the records since the last "
                  "commit will be mirrored again on the next start",
                  rd_kafka_err2str(e));
    return !e;
}

/* Waits until every record handed to the producer has its delivery report
 * (a target outage can make this long: nothing may be dropped), or until
 * `limit_ms` passes or a signal asks to hurry. limit_ms < 0: no limit, but
 * a signal ends the wait (the shutdown drains again, bounded). */
static bool drain(int limit_ms)
{
    uint64_t t0 = now_ms();
    int seen = limit_ms < 0 ? 0 : g_signals;
    while (outq_len() > 0) {
        for (int i = 0; i < g.nprod; i++)
            if (g.prod[i] && rd_kafka_outq_len(g.prod[i]) > 0)
                rd_kafka_flush(g.prod[i], 100);
        poll_producers(0);
        if ((limit_ms >= 0 && now_ms() - t0 > (uint64_t)limit_ms) || g_signals != seen)
            return false;
        if (g.fatal)
            return false;
    }
    return true;
}

/* ---- topics ------------------------------------------------------------------------------- */

/* The topic configs copied to a new target topic: what decides how long and
 * which records the target keeps, and the largest record it accepts (else
 * records that fit the source could be refused). Left out on purpose:
 * message.timestamp.type (LogAppendTime would overwrite the copied
 * timestamps), the timestamp difference limits (old records would be
 * refused), and replication settings (min.insync.replicas, throttles,
 * unclean election), which belong to the target cluster's layout. */
static const char *const copied_configs[] = {
    "cleanup.policy", "retention.ms", "retention.bytes", "delete.retention.ms", "min.compaction.lag.ms",
    "max.compaction.lag.ms", "min.cleanable.dirty.ratio", "max.message.bytes", "segment.bytes", "segment.ms",
    "compression.type", NULL,
};

static bool copied_config(const char *name)
{
    for (const char *const *c = copied_configs; *c; c++)
        if (strcmp(*c, name) == 0)
            return true;
    return false;
}

static struct gr_admin admin_on(rd_kafka_t *rk, const struct gr_common *co)
{
    struct gr_admin a = {.rk = rk, .q = rd_kafka_queue_new(rk), .co = co};
    return a;
}

static void admin_done(struct gr_admin *a)
{
    if (a->ao)
        rd_kafka_AdminOptions_destroy(a->ao);
    rd_kafka_queue_destroy(a->q);
}

/* Creates the target topic like the source one: same partition count, the
 * copied configs that are set on the source topic itself (topic-level
 * overrides; what the source inherits from its brokers' defaults is the
 * source cluster's policy, not the topic's). */
static bool create_target_topic(struct mtopic *t, int32_t nparts)
{
    struct gr_admin sa = admin_on(g.src, &g.o->src), ta = admin_on(g.dst, &g.o->dst);
    rd_kafka_event_t *cev = NULL, *ev = NULL;
    bool ok = false;
    const rd_kafka_ConfigResource_t *res = gr_describe_config(&sa, RD_KAFKA_RESOURCE_TOPIC, t->src, &cev);
    if (!res)
        goto out;
    char errstr[512], copied[1024] = "";
    size_t len = 0;
    /* -1: the target's default replication factor (CreateTopics v4). */
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(t->dst, nparts, -1, errstr, sizeof(errstr));
    if (!nt) {
        gr_errorf("creating topic %s on the target: %s", t->dst, errstr);
        goto out;
    }
    size_t n = 0;
    const rd_kafka_ConfigEntry_t **cfg = rd_kafka_ConfigResource_configs(res, &n);
    for (size_t i = 0; i < n; i++) {
        const char *k = rd_kafka_ConfigEntry_name(cfg[i]), *v = rd_kafka_ConfigEntry_value(cfg[i]);
        if (rd_kafka_ConfigEntry_source(cfg[i]) != RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG || !v ||
            !copied_config(k))
            continue;
        rd_kafka_NewTopic_set_config(nt, k, v);
        if (len < sizeof(copied))
            len += (size_t)snprintf(copied + len, sizeof(copied) - len, "%s%s=%s", len ? "," : "", k, v);
    }
    rd_kafka_CreateTopics(g.dst, &nt, 1, gr_admin_options(&ta, RD_KAFKA_ADMIN_OP_CREATETOPICS), ta.q);
    rd_kafka_NewTopic_destroy(nt);
    char what[300];
    snprintf(what, sizeof(what), "creating topic %s on the target", t->dst);
    ev = gr_admin_wait(&ta, what);
    if (!ev)
        goto out;
    size_t cnt = 0;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
    rd_kafka_resp_err_t e = cnt ? rd_kafka_topic_result_error(tr[0]) : RD_KAFKA_RESP_ERR_NO_ERROR;
    if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        ok = true; /* a concurrent creator (another mirror) is as good as us */
    } else if (e) {
        const char *msg = rd_kafka_topic_result_error_string(tr[0]);
        gr_errorf("%s: %s", what, msg && *msg ? msg : rd_kafka_err2str(e));
    } else {
        fprintf(stderr, "gregor mirror: created topic %s on the target with %d partitions%s%s\n", t->dst, nparts,
                len ? ", configs " : "", copied);
        ok = true;
    }
out:
    if (cev)
        rd_kafka_event_destroy(cev);
    if (ev)
        rd_kafka_event_destroy(ev);
    admin_done(&sa);
    admin_done(&ta);
    return ok;
}

/* The target has fewer partitions than the source (the source grew, or the
 * topic was made by hand): records keep their partition, so add them. */
static bool grow_target_topic(struct mtopic *t, int32_t nparts)
{
    struct gr_admin ta = admin_on(g.dst, &g.o->dst);
    char errstr[512], what[300];
    bool ok = false;
    snprintf(what, sizeof(what), "adding partitions to %s on the target", t->dst);
    rd_kafka_NewPartitions_t *np = rd_kafka_NewPartitions_new(t->dst, (size_t)nparts, errstr, sizeof(errstr));
    rd_kafka_CreatePartitions(g.dst, &np, 1, gr_admin_options(&ta, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS), ta.q);
    rd_kafka_NewPartitions_destroy(np);
    rd_kafka_event_t *ev = gr_admin_wait(&ta, what);
    if (ev) {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), &cnt);
        ok = gr_topic_results(tr, cnt, what, "gregor mirror: target topic %s now has as many partitions as the source",
                              RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_event_destroy(ev);
    }
    admin_done(&ta);
    return ok;
}

static struct mtopic *new_topic(const char *src)
{
    struct mtopic *t = xrealloc(NULL, sizeof(*t));
    memset(t, 0, sizeof(*t));
    t->src = strdup(src);
    size_t n = strlen(g.o->prefix) + strlen(src) + 1;
    t->dst = xrealloc(NULL, n);
    snprintf(t->dst, n, "%s%s", g.o->prefix, src);
    g.topics = xrealloc(g.topics, (size_t)(g.n_topics + 1) * sizeof(*g.topics));
    g.topics[g.n_topics++] = t;
    return t;
}

static void set_nparts(struct mtopic *t, int32_t n)
{
    if (n <= t->nparts)
        return;
    t->parts = xrealloc(t->parts, (size_t)n * sizeof(*t->parts));
    for (int32_t p = t->nparts; p < n; p++)
        t->parts[p] = (struct mpart){.next = -1, .committed = -1, .position = -1};
    t->nparts = n;
}

static int32_t md_nparts(const struct rd_kafka_metadata *md, const char *topic)
{
    const struct rd_kafka_metadata_topic *t = gr_md_topic(md, topic);
    return t && !t->err ? t->partition_cnt : -1;
}

/* Makes sure every assigned topic exists on the target with enough
 * partitions. One attempt; false (printed) when it must be retried. */
static bool ensure_topics_once(const rd_kafka_topic_partition_list_t *parts)
{
    const struct rd_kafka_metadata *smd = NULL, *tmd = NULL;
    bool ok = false;
    if (rd_kafka_metadata(g.src, 1, NULL, &smd, g.o->co.timeout_ms) || rd_kafka_metadata(g.dst, 1, NULL, &tmd, g.o->co.timeout_ms)) {
        char sfx[600];
        gr_errorf("reading the topics of the %s cluster failed%s", smd ? "target" : "source",
                  gr_last_error_suffix(sfx, sizeof(sfx)));
        goto out;
    }
    for (int i = 0; i < parts->cnt; i++) {
        const char *name = parts->elems[i].topic;
        struct mtopic *t = find_topic(name);
        if (t && parts->elems[i].partition < t->nparts)
            continue;
        if (!t)
            t = new_topic(name);
        int32_t want = md_nparts(smd, name), have = md_nparts(tmd, t->dst);
        if (want <= parts->elems[i].partition)
            want = parts->elems[i].partition + 1; /* assigned ahead of our metadata */
        if (have < 0 && !create_target_topic(t, want))
            goto out;
        if (have >= 0 && have < want && !grow_target_topic(t, want))
            goto out;
        set_nparts(t, want > have ? want : have);
    }
    ok = true;
out:
    if (smd)
        rd_kafka_metadata_destroy(smd);
    if (tmd)
        rd_kafka_metadata_destroy(tmd);
    return ok;
}

/* Retries while a cluster is unreachable (the records have nowhere to go
 * meanwhile); false only when asked to stop. */
static bool ensure_topics(const rd_kafka_topic_partition_list_t *parts)
{
    for (int backoff = 1; !ensure_topics_once(parts); backoff = backoff < 30 ? backoff * 2 : 30) {
        gr_warnf("retrying in %d s", backoff);
        for (uint64_t until = now_ms() + (uint64_t)backoff * 1000; now_ms() < until;) {
            if (g_signals)
                return false;
            poll_producers(100);
        }
    }
    return true;
}

/* ---- rebalances ------------------------------------------------------------------------------ */

static bool internal_topic(const char *name)
{
    return strncmp(name, "__", 2) == 0; /* __consumer_offsets, __transaction_state, ... */
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque)
{
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        /* Internal topics match a broad regex but are the cluster's own
         * bookkeeping: the group may give them to us, we just do not read them. */
        rd_kafka_topic_partition_list_t *mine = rd_kafka_topic_partition_list_new(parts->cnt);
        for (int i = 0; i < parts->cnt; i++)
            if (!internal_topic(parts->elems[i].topic))
                rd_kafka_topic_partition_list_add(mine, parts->elems[i].topic, parts->elems[i].partition);
        if (!ensure_topics(mine)) {
            rd_kafka_topic_partition_list_destroy(mine);
            return; /* stopping; consumer_close revokes */
        }
        /* Where reading starts when we have delivered nothing yet, for the
         * lag in the reports (unknown: from the log start). */
        rd_kafka_topic_partition_list_t *start = rd_kafka_topic_partition_list_copy(mine);
        if (rd_kafka_committed(rk, start, g.o->co.timeout_ms))
            for (int i = 0; i < start->cnt; i++)
                start->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
        for (int i = 0; i < mine->cnt; i++) {
            struct mpart *p = find_part(mine->elems[i].topic, mine->elems[i].partition);
            p->assigned = true;
            p->position = start->elems[i].offset >= 0 ? start->elems[i].offset : -1;
            /* Resume after what this process already delivered, which can
             * be ahead of the group's offset when a commit failed (say the
             * source restarted): that avoids re-sending it. Everything
             * before it was delivered by us, so nothing is skipped. */
            mine->elems[i].offset = p->next >= 0 ? p->next : RD_KAFKA_OFFSET_INVALID;
            if (p->next >= 0)
                p->position = p->next;
        }
        rd_kafka_topic_partition_list_destroy(start);
        if (cooperative)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, mine));
        else
            rd_kafka_assign(rk, mine);
        rd_kafka_topic_partition_list_destroy(mine);
        return;
    }
    /* Revoked (or lost): another member may take these partitions over and
     * start from our committed offsets, so finish and commit first. */
    drain(-1);
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && !rd_kafka_assignment_lost(rk))
        commit_sync();
    for (int i = 0; i < parts->cnt; i++) {
        struct mpart *p = find_part(parts->elems[i].topic, parts->elems[i].partition);
        if (p)
            p->assigned = false;
    }
    if (cooperative)
        rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
    else
        rd_kafka_assign(rk, NULL);
}

/* ---- reports --------------------------------------------------------------------------------- */

static void report(double secs, bool final)
{
    int64_t lag = 0;
    int nparts = 0, known = 0;
    for (int i = 0; i < g.n_topics; i++)
        for (int32_t p = 0; p < g.topics[i]->nparts; p++) {
            struct mpart *mp = &g.topics[i]->parts[p];
            if (!mp->assigned)
                continue;
            nparts++;
            int64_t lo, hi;
            /* The watermarks the last fetch response carried: no request. */
            if (rd_kafka_get_watermark_offsets(g.src, g.topics[i]->src, p, &lo, &hi) || hi < 0)
                continue;
            int64_t pos = mp->position >= 0 ? mp->position : lo; /* no commit: from the start */
            if (pos < 0)
                continue;
            known++;
            if (hi > pos)
                lag += hi - pos;
        }
    uint64_t dr = g.records - g.last_records, db = g.bytes - g.last_bytes;
    g.last_records = g.records;
    g.last_bytes = g.bytes;
    double rps = secs > 0 ? (double)dr / secs : 0, mbps = secs > 0 ? (double)db / secs / 1e6 : 0;
    if (g.o->co.json) {
        printf("{\"records\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"records_per_s\":%.0f,\"mb_per_s\":%.2f,"
               "\"lag\":%" PRId64 ",\"lag_partitions_known\":%d,\"in_flight\":%" PRIu64
               ",\"partitions\":%d,\"topics\":%d,\"final\":%s}\n",
               g.records, g.bytes, rps, mbps, lag, known, g.in_flight, nparts, g.n_topics, final ? "true" : "false");
        fflush(stdout);
    } else {
        fprintf(stderr,
                "gregor mirror: %s%" PRIu64 " records mirrored, %.0f records/s, %.2f MB/s, lag %" PRId64
                " records%s, %" PRIu64 " in flight, %d partitions of %d topics\n",
                final ? "stopped: " : "", g.records, rps, mbps, lag, known < nparts ? " (some partitions not read yet)" : "",
                g.in_flight, nparts, g.n_topics);
    }
}

/* ---- the loop ---------------------------------------------------------------------------------- */

struct ticker {
    uint64_t next_commit, next_report, last_report;
};

/* Periodic work, also done while the producer's queue is full. */
static void tick(struct ticker *t)
{
    uint64_t now = now_ms();
    if (now >= t->next_commit) {
        commit_async();
        t->next_commit = now + (uint64_t)g.o->commit_ms;
    }
    if (g.o->report_s && now >= t->next_report) {
        report((double)(now - t->last_report) / 1000.0, false);
        t->last_report = now;
        t->next_report = now + (uint64_t)g.o->report_s * 1000;
    }
}

/* Hands one source record to the producer; takes ownership of m. */
static void mirror_record(rd_kafka_message_t *m, struct ticker *tk)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    struct mtopic *t = find_topic(topic);
    if (!t || m->partition >= t->nparts) {
        /* Cannot happen: partitions are only assigned after ensure_topics. */
        gr_errorf("%s[%d]: a record from a partition that was not set up", topic, m->partition);
        g.fatal = true;
        rd_kafka_message_destroy(m);
        return;
    }
    struct mpart *p = &t->parts[m->partition];
    if (!p->assigned) {
        /* Fetched before a revoke that ran later in the same batch call:
         * the partition's new owner reads it from our committed offset. */
        rd_kafka_message_destroy(m);
        return;
    }
    int pi = m->partition % g.nprod;
    rd_kafka_t *prod = producer(pi);
    rd_kafka_topic_t *rkt = topic_on(t, pi);
    p->position = m->offset + 1;
    rd_kafka_headers_t *hdrs = NULL;
    rd_kafka_message_detach_headers(m, &hdrs);
    /* LogAppendTime records keep the broker's time as their CreateTime. */
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    if (tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || ts < 0)
        ts = 0;
    for (;;) {
        /* No copy of the value: it stays in the source message, freed in
         * the delivery report. */
        rd_kafka_resp_err_t e = rd_kafka_producev(
            prod, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(m->partition), RD_KAFKA_V_MSGFLAGS(0),
            RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_HEADERS(hdrs),
            RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_OPAQUE(m), RD_KAFKA_V_END);
        if (!e)
            break;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || g_signals || g.fatal) {
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                gr_errorf("%s[%d] offset %" PRId64 ": cannot produce it to the target: %s", topic, m->partition,
                          m->offset, rd_kafka_err2str(e));
                g.fatal = true;
            }
            /* Never in the ring: the commit cannot pass it. */
            if (hdrs)
                rd_kafka_headers_destroy(hdrs);
            rd_kafka_message_destroy(m);
            return;
        }
        /* The target is slow or away: wait for deliveries; the consumer's
         * session is kept by its background heartbeats. */
        rd_kafka_poll(prod, 50);
        poll_producers(0);
        tick(tk);
    }
    inflight_push(&p->q, m->offset);
    g.in_flight++;
}

/* Consumer errors after which the mirror cannot go on. The rest (brokers
 * down, a topic deleted) are retried by librdkafka. */
static bool fatal_consumer_error(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR__FATAL || e == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED ||
           e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED || e == RD_KAFKA_RESP_ERR_INVALID_GROUP_ID ||
           e == RD_KAFKA_RESP_ERR__INVALID_ARG;
}

static void split_xprops(struct mirror_opts *o)
{
    for (int i = 0; i < o->co.n_xprops; i++) {
        const char *kv = o->co.xprops[i];
        if (strncmp(kv, "source.", 7) == 0)
            o->src.xprops[o->src.n_xprops++] = kv + 7;
        else if (strncmp(kv, "target.", 7) == 0)
            o->dst.xprops[o->dst.n_xprops++] = kv + 7;
        else {
            o->src.xprops[o->src.n_xprops++] = kv;
            o->dst.xprops[o->dst.n_xprops++] = kv;
        }
    }
}

static int run_mirror(struct mirror_opts *o)
{
    char pattern[1024], timeout[32], qmax[32];
    snprintf(qmax, sizeof(qmax), "%d", 1000000 / (int)o->producers);
    /* librdkafka treats a subscription starting with ^ as a regex; anchoring
     * both ends matches whole names, as Kafka's Java clients do. */
    snprintf(pattern, sizeof(pattern), "^(%s)$", o->topics);
    snprintf(timeout, sizeof(timeout), "%d", o->co.timeout_ms);
    const char *src_defaults[] = {
        "group.id", o->group,
        "enable.auto.commit", "false",
        "enable.auto.offset.store", "false",
        /* A topic new to the group is copied from its start. */
        "auto.offset.reset", "earliest",
        /* How soon a new matching topic is noticed. */
        "topic.metadata.refresh.interval.ms", "5000",
        /* Waiting for a target that is away happens outside consumer_poll;
         * staying in the group that long avoids a rebalance per outage. */
        "max.poll.interval.ms", "3600000",
        /* librdkafka 2.0.2 stops fetching while the consumer queue (all
         * partitions together) holds queued.min.messages records, and
         * fetches again only once it is empty: at the default 100000 the
         * copy then idles for a fetch round trip every ~100k records, which
         * capped the mirror at ~300k records/s. Let the byte bound
         * (queued.max.messages.kbytes, 64 MB) decide instead. */
        "queued.min.messages", "10000000",
        NULL,
    };
    const char *dst_defaults[] = {
        "acks", "all",
        /* enable.idempotence needs InitProducerId, which Gregor does not
         * implement. Without it, a retried request may overtake a later
         * one when several are in flight; one request in flight per
         * connection keeps each partition's order through retries and
         * broker restarts. Throughput comes from large batches and from
         * several producers (each partition always through the same one). */
        "enable.idempotence", "false",
        "max.in.flight.requests.per.connection", "1",
        /* Never give up on a record because the target is away: it would
         * have to be skipped or stop the mirror. Retries are unlimited. */
        "message.timeout.ms", "0",
        /* With one request in flight per producer (and librdkafka 2.0.2
         * putting one partition's batch in each ProduceRequest), a request
         * may carry up to 1 MB (under the brokers' usual max.message.bytes
         * per batch); records pile up while the previous request travels,
         * so a short linger only adds idle time (2 ms measured a little
         * faster than 10 ms). */
        "linger.ms", "2",
        "batch.num.messages", "100000",
        "batch.size", "1000000",
        "message.max.bytes", "8000000",
        /* At most 1M records in flight over all the producers. */
        "queue.buffering.max.messages", qmax,
        /* Topics are created by us, with the source's partition count. */
        "allow.auto.create.topics", "false",
        NULL,
    };
    o->src.timeout_ms = o->dst.timeout_ms = o->co.timeout_ms;
    o->src.verbose = o->dst.verbose = o->co.verbose;
    o->src.rebalance_cb = rebalance_cb;
    o->dst.dr_cb = dr_cb;
    split_xprops(o);
    g.o = o;

    int rc = GR_EXIT_FAIL;
    g.src = gr_client_new(&o->src, RD_KAFKA_CONSUMER, src_defaults);
    g.dst = g.prod[0] = g.src ? gr_client_new(&o->dst, RD_KAFKA_PRODUCER, dst_defaults) : NULL;
    g.nprod = (int)o->producers;
    g.dst_defaults = dst_defaults;
    if (!g.src || !g.dst) {
        if (g.src)
            rd_kafka_destroy(g.src);
        return GR_EXIT_USAGE;
    }
    rd_kafka_poll_set_consumer(g.src);
    g.src_q = rd_kafka_queue_get_consumer(g.src);
    /* Both clusters must answer at start: a typo in a broker list should
     * not look like a long outage. Later outages are waited out. */
    const struct rd_kafka_metadata *md = gr_connect(g.src, &o->src, NULL);
    if (md) {
        rd_kafka_metadata_destroy(md);
        md = gr_connect(g.dst, &o->dst, NULL);
    }
    if (!md)
        goto out;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, pattern, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(g.src, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) {
        gr_errorf("subscribing to %s: %s", pattern, rd_kafka_err2str(e));
        goto out;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    fprintf(stderr, "gregor mirror: mirroring topics matching %s from %s to %s%s%s as group %s\n", pattern,
            o->src.brokers, o->dst.brokers, *o->prefix ? " with prefix " : "", o->prefix, o->group);

    uint64_t start = now_ms();
    struct ticker tk = {.next_commit = start + (uint64_t)o->commit_ms,
                        .next_report = start + (uint64_t)o->report_s * 1000, .last_report = start};
    unsigned since_poll = 0;
    rd_kafka_message_t *batch[MIRROR_BATCH];
    while (!g_signals && !g.fatal) {
        /* The first record waits; the ones already fetched behind it come
         * in one call (a batch call with a timeout would wait for a full
         * batch). Callbacks (rebalances, commit results) run in both. */
        size_t n = 0;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(g.src, g.in_flight ? 5 : 100);
        if (m) {
            batch[n++] = m;
            ssize_t more = rd_kafka_consume_batch_queue(g.src_q, 0, batch + 1, MIRROR_BATCH - 1);
            if (more > 0)
                n += (size_t)more;
        }
        for (size_t i = 0; i < n; i++) {
            m = batch[i];
            if (g_signals || g.fatal) {
                rd_kafka_message_destroy(m); /* never handed over: not committed */
            } else if (m->err) {
                if (fatal_consumer_error(m->err)) {
                    gr_errorf("reading the source: %s", rd_kafka_message_errstr(m));
                    g.fatal = true;
                } else if (o->co.verbose) {
                    gr_warnf("reading the source: %s", rd_kafka_message_errstr(m));
                }
                rd_kafka_message_destroy(m);
            } else {
                mirror_record(m, &tk);
            }
            /* Delivery reports: cheap to check, but not after every record. */
            if (++since_poll >= 256) {
                poll_producers(0);
                since_poll = 0;
                tick(&tk);
            }
        }
        if (!n) {
            poll_producers(0);
            since_poll = 0;
            tick(&tk);
        }
    }
    g.stopping = true;
    /* Deliver what is in flight so it can be committed; on a failure only
     * wait for the rest briefly (their commits are held back anyway). */
    if (!drain(g.fatal ? 5000 : 30000)) {
        if (outq_len() > 0 && !g.fatal)
            gr_warnf("%d records not acknowledged by the target when stopping; they will be mirrored again "
                     "on the next start",
                     outq_len());
        for (int i = 0; i < g.nprod; i++)
            if (g.prod[i])
                rd_kafka_purge(g.prod[i], RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        /* The purged records' reports free their source messages, which
         * must happen before the consumer goes. */
        for (int i = 0; i < 100 && outq_len() > 0; i++)
            poll_producers(100);
    }
    bool committed = commit_sync();
    if (o->report_s)
        report((double)(now_ms() - tk.last_report) / 1000.0, true);
    rc = g.fatal || !committed ? GR_EXIT_FAIL : GR_EXIT_OK;
out:
    rd_kafka_queue_destroy(g.src_q);
    rd_kafka_consumer_close(g.src); /* leaves the group; the revoke finds nothing left to commit */
    rd_kafka_destroy(g.src);
    for (int i = 0; i < g.n_topics; i++)
        for (int j = 0; j < MAX_PRODUCERS; j++)
            if (g.topics[i]->rkt[j])
                rd_kafka_topic_destroy(g.topics[i]->rkt[j]);
    for (int i = 0; i < MAX_PRODUCERS; i++)
        if (g.prod[i])
            rd_kafka_destroy(g.prod[i]);
    for (int i = 0; i < g.n_topics; i++) {
        struct mtopic *t = g.topics[i];
        for (int32_t p = 0; p < t->nparts; p++) {
            free(t->parts[p].q.off);
            free(t->parts[p].q.done);
        }
        free(t->parts);
        free(t->src);
        free(t->dst);
        free(t);
    }
    free(g.topics);
    return rc;
}

/* ---- command line ---------------------------------------------------------------------------------- */

enum { OPT_SOURCE = GR_OPT_CMD_BASE, OPT_TARGET, OPT_TOPICS, OPT_PREFIX, OPT_REPORT, OPT_COMMIT, OPT_PRODUCERS };

static const struct option long_opts[] = {
    GR_COMMON_LONG_OPTS,
    {"source", required_argument, NULL, OPT_SOURCE},
    {"target", required_argument, NULL, OPT_TARGET},
    {"topics", required_argument, NULL, OPT_TOPICS},
    {"group", required_argument, NULL, 'g'},
    {"rename-prefix", required_argument, NULL, OPT_PREFIX},
    {"report-interval", required_argument, NULL, OPT_REPORT},
    {"commit-interval", required_argument, NULL, OPT_COMMIT},
    {"producers", required_argument, NULL, OPT_PRODUCERS},
    {NULL, 0, NULL, 0},
};

int gr_cmd_mirror(int argc, char **argv)
{
    struct mirror_opts o = {.group = "gregor-mirror", .prefix = "", .report_s = 10, .commit_ms = 1000,
                            .producers = 4};
    if (!gr_common_init(&o.co, "gregor mirror", argc) || !gr_common_init(&o.src, "gregor mirror", argc) ||
        !gr_common_init(&o.dst, "gregor mirror", argc))
        return GR_EXIT_FAIL;
    int rc = GR_EXIT_USAGE, c;
    /* -b cannot say which side it means: NULL tells whether it was given. */
    o.co.brokers = NULL;
    o.src.brokers = o.dst.brokers = NULL;
    while ((c = gr_next_opt(&o.co, argc, argv, GR_COMMON_SHORT "g:", long_opts, mirror_usage, &rc)) != -1) {
        if (c == GR_OPT_EXIT)
            goto done;
        switch (c) {
        case OPT_SOURCE: o.src.brokers = optarg; break;
        case OPT_TARGET: o.dst.brokers = optarg; break;
        case OPT_TOPICS: o.topics = optarg; break;
        case 'g': o.group = optarg; break;
        case OPT_PREFIX: o.prefix = optarg; break;
        case OPT_REPORT:
            if (!gr_parse_i64("--report-interval", optarg, 0, 86400, &o.report_s))
                goto done;
            break;
        case OPT_COMMIT:
            if (!gr_parse_i64("--commit-interval", optarg, 10, 3600000, &o.commit_ms))
                goto done;
            break;
        case OPT_PRODUCERS:
            if (!gr_parse_i64("--producers", optarg, 1, MAX_PRODUCERS, &o.producers))
                goto done;
            break;
        default:
            goto done;
        }
    }
    if (o.co.brokers) {
        gr_errorf("-b/--brokers: give --source and --target instead");
        goto done;
    }
    if (!o.src.brokers || !o.dst.brokers || !o.topics) {
        gr_errorf("--source, --target and --topics are required (see gregor mirror --help)");
        goto done;
    }
    if (!*o.topics || strlen(o.topics) > 1000) {
        gr_errorf("--topics: expected a regex of 1 to 1000 characters");
        goto done;
    }
    if (optind < argc) {
        gr_errorf("unexpected argument '%s' (see gregor mirror --help)", argv[optind]);
        goto done;
    }
    rc = run_mirror(&o);
done:
    gr_common_free(&o.co);
    gr_common_free(&o.src);
    gr_common_free(&o.dst);
    return rc;
}
