/* gregor topic create|list|describe|delete|add-partitions|alter-config */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"

struct topic_opts {
    struct gr_common co;
    int partitions;          /* 0: not given */
    int replication;
    char **configs;          /* create -c k=v */
    int n_configs;
    char **sets, **deletes;  /* alter-config */
    int n_sets, n_deletes;
    bool if_not_exists, if_exists;
};

static void topic_usage(FILE *out)
{
    fprintf(out,
        "usage: gregor topic ACTION [options] TOPIC...\n"
        "\n"
        "actions:\n"
        "  create TOPIC...          create topics (-p, -r, -c)\n"
        "  list                     topics with partition count and replication factor\n"
        "  describe [TOPIC...]      per partition: leader, replicas, in-sync replicas, log start and\n"
        "                           end offsets; and the topic's non-default configs (all topics if none)\n"
        "  delete TOPIC...          delete topics and their data\n"
        "  add-partitions TOPIC -p N   grow the topic to N partitions in total\n"
        "  alter-config TOPIC --set K=V --delete K   change topic configs\n"
        "\n"
        "options:\n"
        "  -p, --partitions N       create: partitions (default 1); add-partitions: the new total\n"
        "  -r, --replication-factor R   create: replicas per partition (default 1)\n"
        "  -c, --config K=V         create: a topic config (repeatable)\n"
        "      --set K=V            alter-config: set a config (repeatable)\n"
        "      --delete K           alter-config: back to the default (repeatable)\n"
        "      --if-not-exists      create: an existing topic is not an error\n"
        "      --if-exists          delete: a missing topic is not an error\n"
        "      --json               print JSON instead of tables (list, describe)\n"
        GR_COMMON_HELP
        "\n"
        "Exit status: 0 ok, 1 failure (unreachable broker, unknown topic, refused), 2 usage.\n"
        "\n"
        "examples:\n"
        "  gregor topic create orders -p 6 -c retention.ms=86400000 -c cleanup.policy=delete\n"
        "  gregor topic list --json\n"
        "  gregor topic describe orders\n"
        "  gregor topic add-partitions orders -p 12\n"
        "  gregor topic alter-config orders --set retention.ms=3600000 --delete cleanup.policy\n"
        "  gregor topic delete orders -b broker1:9092\n");
}

/* ---- create / delete / add-partitions -------------------------------------- */

static int topic_create(struct gr_admin *a, struct topic_opts *o, char **names, int n)
{
    rd_kafka_NewTopic_t **nts = calloc((size_t)n, sizeof(*nts));
    int rc = GR_EXIT_FAIL;
    for (int i = 0; i < n; i++) {
        char errstr[512];
        nts[i] = rd_kafka_NewTopic_new(names[i], o->partitions ? o->partitions : 1, o->replication, errstr,
                                       sizeof(errstr));
        if (!nts[i]) {
            gr_errorf("topic %s: %s", names[i], errstr);
            rc = GR_EXIT_USAGE;
            goto out;
        }
        for (int c = 0; c < o->n_configs; c++) {
            char kv[1024], *k, *v;
            snprintf(kv, sizeof(kv), "%s", o->configs[c]);
            gr_split_kv(kv, &k, &v);
            rd_kafka_NewTopic_set_config(nts[i], k, v);
        }
    }
    rd_kafka_CreateTopics(a->rk, nts, (size_t)n, gr_admin_options(a, RD_KAFKA_ADMIN_OP_CREATETOPICS), a->q);
    rd_kafka_event_t *ev = gr_admin_wait(a, "creating topics");
    if (ev) {
        size_t cnt;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        if (gr_topic_results(tr, cnt, "creating topic", "Created topic %s.",
                             o->if_not_exists ? RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS : 0))
            rc = GR_EXIT_OK;
        rd_kafka_event_destroy(ev);
    }
out:
    for (int i = 0; i < n; i++)
        if (nts[i])
            rd_kafka_NewTopic_destroy(nts[i]);
    free(nts);
    return rc;
}

static int topic_delete(struct gr_admin *a, struct topic_opts *o, char **names, int n)
{
    rd_kafka_DeleteTopic_t **dts = calloc((size_t)n, sizeof(*dts));
    for (int i = 0; i < n; i++)
        dts[i] = rd_kafka_DeleteTopic_new(names[i]);
    rd_kafka_DeleteTopics(a->rk, dts, (size_t)n, gr_admin_options(a, RD_KAFKA_ADMIN_OP_DELETETOPICS), a->q);
    rd_kafka_DeleteTopic_destroy_array(dts, (size_t)n);
    free(dts);
    rd_kafka_event_t *ev = gr_admin_wait(a, "deleting topics");
    if (!ev)
        return GR_EXIT_FAIL;
    size_t cnt;
    const rd_kafka_topic_result_t **tr =
        rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &cnt);
    bool ok = gr_topic_results(tr, cnt, "deleting topic", "Deleted topic %s.",
                               o->if_exists ? RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART : 0);
    rd_kafka_event_destroy(ev);
    return ok ? GR_EXIT_OK : GR_EXIT_FAIL;
}

static int topic_add_partitions(struct gr_admin *a, struct topic_opts *o, const char *name)
{
    char errstr[512];
    rd_kafka_NewPartitions_t *np = rd_kafka_NewPartitions_new(name, (size_t)o->partitions, errstr, sizeof(errstr));
    if (!np) {
        gr_errorf("topic %s: %s", name, errstr);
        return GR_EXIT_USAGE;
    }
    rd_kafka_CreatePartitions(a->rk, &np, 1, gr_admin_options(a, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS), a->q);
    rd_kafka_NewPartitions_destroy(np);
    rd_kafka_event_t *ev = gr_admin_wait(a, "adding partitions");
    if (!ev)
        return GR_EXIT_FAIL;
    size_t cnt;
    const rd_kafka_topic_result_t **tr =
        rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), &cnt);
    char done[128];
    snprintf(done, sizeof(done), "Topic %%s now has %d partitions.", o->partitions);
    bool ok = gr_topic_results(tr, cnt, "adding partitions to", done, 0);
    rd_kafka_event_destroy(ev);
    return ok ? GR_EXIT_OK : GR_EXIT_FAIL;
}

/* ---- list / describe ----------------------------------------------------------- */

static int cmp_topic(const void *x, const void *y)
{
    const struct rd_kafka_metadata_topic *a = *(const struct rd_kafka_metadata_topic *const *)x;
    const struct rd_kafka_metadata_topic *b = *(const struct rd_kafka_metadata_topic *const *)y;
    return strcmp(a->topic, b->topic);
}

/* The topics of md sorted by name (caller frees). */
static const struct rd_kafka_metadata_topic **sorted_topics(const struct rd_kafka_metadata *md, int *n)
{
    const struct rd_kafka_metadata_topic **v = calloc((size_t)md->topic_cnt + 1, sizeof(*v));
    *n = 0;
    for (int i = 0; i < md->topic_cnt; i++)
        if (!md->topics[i].err)
            v[(*n)++] = &md->topics[i];
    qsort(v, (size_t)*n, sizeof(*v), cmp_topic);
    return v;
}

static int replication_factor(const struct rd_kafka_metadata_topic *t)
{
    return t->partition_cnt ? t->partitions[0].replica_cnt : 0;
}

static int topic_list(struct gr_admin *a, struct topic_opts *o)
{
    const struct rd_kafka_metadata *md = gr_connect(a->rk, &o->co, NULL);
    if (!md)
        return GR_EXIT_FAIL;
    int n;
    const struct rd_kafka_metadata_topic **ts = sorted_topics(md, &n);
    static const char *const headers[] = {"TOPIC", "PARTITIONS", "REPLICATION-FACTOR"};
    gr_table_t t;
    gr_table_init(&t, 3, headers, 6);
    for (int i = 0; i < n; i++) {
        gr_table_cell(&t, ts[i]->topic);
        gr_table_cell_i64(&t, ts[i]->partition_cnt);
        gr_table_cell_i64(&t, replication_factor(ts[i]));
    }
    gr_table_output(&t, &o->co);
    gr_table_free(&t);
    free(ts);
    rd_kafka_metadata_destroy(md);
    return GR_EXIT_OK;
}

static int cmp_partition(const void *x, const void *y)
{
    const struct rd_kafka_metadata_partition *a = x, *b = y;
    return (a->id > b->id) - (a->id < b->id);
}

/* One topic: the partition table (rows appended to `t`) and, in JSON mode,
 * the whole topic object. */
static bool describe_one(struct gr_admin *a, struct topic_opts *o, const struct rd_kafka_metadata_topic *mt,
                         gr_table_t *t, gr_jsonb_t *jb)
{
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_ConfigResource_t *res = gr_describe_config(a, RD_KAFKA_RESOURCE_TOPIC, mt->topic, &ev);
    if (!res)
        return false;
    size_t ncfg = 0;
    const rd_kafka_ConfigEntry_t **cfg = rd_kafka_ConfigResource_configs(res, &ncfg);

    struct rd_kafka_metadata_partition *parts = malloc(((size_t)mt->partition_cnt + 1) * sizeof(*parts));
    memcpy(parts, mt->partitions, (size_t)mt->partition_cnt * sizeof(*parts));
    qsort(parts, (size_t)mt->partition_cnt, sizeof(*parts), cmp_partition);
    int64_t *lo = calloc((size_t)mt->partition_cnt + 1, sizeof(int64_t) * 2), *hi = lo + mt->partition_cnt;
    bool ok = true;
    for (int i = 0; ok && i < mt->partition_cnt; i++)
        ok = gr_watermarks(a->rk, &o->co, mt->topic, parts[i].id, &lo[i], &hi[i]);
    if (!ok)
        goto out;

    if (jb) {
        gr_jsonb_obj_begin(jb);
        gr_jsonb_key(jb, "topic");
        gr_jsonb_str(jb, mt->topic);
        gr_jsonb_key(jb, "partition_count");
        gr_jsonb_int(jb, mt->partition_cnt);
        gr_jsonb_key(jb, "replication_factor");
        gr_jsonb_int(jb, replication_factor(mt));
        gr_jsonb_key(jb, "partitions");
        gr_jsonb_arr_begin(jb);
    } else {
        printf("Topic: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: ", mt->topic, mt->partition_cnt,
               replication_factor(mt));
        int shown = 0;
        for (size_t i = 0; i < ncfg; i++)
            if (rd_kafka_ConfigEntry_source(cfg[i]) != RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG) {
                const char *v = rd_kafka_ConfigEntry_value(cfg[i]);
                printf("%s%s=%s", shown++ ? "," : "", rd_kafka_ConfigEntry_name(cfg[i]), v ? v : "");
            }
        putchar('\n');
    }
    for (int i = 0; i < mt->partition_cnt; i++) {
        const struct rd_kafka_metadata_partition *p = &parts[i];
        if (jb) {
            gr_jsonb_obj_begin(jb);
            gr_jsonb_key(jb, "partition");
            gr_jsonb_int(jb, p->id);
            gr_jsonb_key(jb, "leader");
            gr_jsonb_int(jb, p->leader);
            gr_jsonb_key(jb, "replicas");
            gr_jsonb_i32s(jb, p->replicas, p->replica_cnt);
            gr_jsonb_key(jb, "isr");
            gr_jsonb_i32s(jb, p->isrs, p->isr_cnt);
            gr_jsonb_key(jb, "log_start_offset");
            gr_jsonb_int(jb, lo[i]);
            gr_jsonb_key(jb, "log_end_offset");
            gr_jsonb_int(jb, hi[i]);
            gr_jsonb_obj_end(jb);
        } else {
            char buf[1024];
            gr_table_cell(t, mt->topic);
            gr_table_cell_i64(t, p->id);
            gr_table_cell_i64(t, p->leader);
            gr_table_cell(t, gr_join_i32(buf, sizeof(buf), p->replicas, p->replica_cnt));
            gr_table_cell(t, gr_join_i32(buf, sizeof(buf), p->isrs, p->isr_cnt));
            gr_table_cell_i64(t, lo[i]);
            gr_table_cell_i64(t, hi[i]);
        }
    }
    if (jb) {
        gr_jsonb_arr_end(jb);
        gr_jsonb_key(jb, "configs");
        gr_jsonb_obj_begin(jb);
        for (size_t i = 0; i < ncfg; i++)
            if (rd_kafka_ConfigEntry_source(cfg[i]) != RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG) {
                gr_jsonb_key(jb, rd_kafka_ConfigEntry_name(cfg[i]));
                gr_jsonb_str(jb, rd_kafka_ConfigEntry_value(cfg[i]));
            }
        gr_jsonb_obj_end(jb);
        gr_jsonb_obj_end(jb);
    }
out:
    free(lo);
    free(parts);
    rd_kafka_event_destroy(ev);
    return ok;
}

static int topic_describe(struct gr_admin *a, struct topic_opts *o, char **names, int n)
{
    const struct rd_kafka_metadata *md = gr_connect(a->rk, &o->co, NULL);
    if (!md)
        return GR_EXIT_FAIL;
    int nt = 0;
    const struct rd_kafka_metadata_topic **ts;
    bool ok = true;
    if (n == 0) {
        ts = sorted_topics(md, &nt);
    } else {
        ts = calloc((size_t)n, sizeof(*ts));
        for (int i = 0; ok && i < n; i++)
            ok = (ts[nt++] = gr_md_need_topic(md, names[i])) != NULL;
    }
    static const char *const headers[] = {"TOPIC", "PARTITION", "LEADER", "REPLICAS", "ISR", "LOG-START-OFFSET",
                                          "LOG-END-OFFSET"};
    gr_table_t t;
    gr_jsonb_t jb;
    gr_jsonb_init(&jb);
    if (o->co.json)
        gr_jsonb_arr_begin(&jb);
    for (int i = 0; ok && i < nt; i++) {
        gr_table_init(&t, 7, headers, 0x66);
        ok = describe_one(a, o, ts[i], &t, o->co.json ? &jb : NULL);
        if (ok && !o->co.json) {
            gr_table_print(&t, stdout);
            if (i + 1 < nt)
                putchar('\n');
        }
        gr_table_free(&t);
    }
    if (o->co.json) {
        gr_jsonb_arr_end(&jb);
        if (ok)
            gr_json_output(&jb);
    }
    gr_jsonb_free(&jb);
    free(ts);
    rd_kafka_metadata_destroy(md);
    return ok ? GR_EXIT_OK : GR_EXIT_FAIL;
}

/* ---- command line ----------------------------------------------------------------- */

enum { OPT_SET = GR_OPT_CMD_BASE, OPT_DELETE, OPT_IF_NOT_EXISTS, OPT_IF_EXISTS };

static const struct option long_opts[] = {
    GR_COMMON_LONG_OPTS,
    {"partitions", required_argument, NULL, 'p'},
    {"replication-factor", required_argument, NULL, 'r'},
    {"config", required_argument, NULL, 'c'},
    {"set", required_argument, NULL, OPT_SET},
    {"delete", required_argument, NULL, OPT_DELETE},
    {"if-not-exists", no_argument, NULL, OPT_IF_NOT_EXISTS},
    {"if-exists", no_argument, NULL, OPT_IF_EXISTS},
    {NULL, 0, NULL, 0},
};

/* Checks an action's positional argument count: [min, max] (max < 0: any). */
static bool arity(const char *action, int n, int min, int max)
{
    if (n < min) {
        gr_errorf("%s: missing TOPIC (see gregor topic --help)", action);
        return false;
    }
    if (max >= 0 && n > max) {
        gr_errorf("%s: too many arguments (see gregor topic --help)", action);
        return false;
    }
    return true;
}

int gr_cmd_topic(int argc, char **argv)
{
    struct topic_opts o = {.replication = 1};
    if (!gr_common_init(&o.co, "gregor topic", argc))
        return GR_EXIT_FAIL;
    char **lists = calloc((size_t)argc * 3 + 3, sizeof(char *));
    o.configs = lists;
    o.sets = lists + argc + 1;
    o.deletes = lists + 2 * argc + 2;
    int rc = GR_EXIT_USAGE, c;
    int64_t v;
    struct gr_admin a = {0};
    while ((c = gr_next_opt(&o.co, argc, argv, GR_COMMON_SHORT "p:r:c:", long_opts, topic_usage, &rc)) != -1) {
        if (c == GR_OPT_EXIT)
            goto done;
        switch (c) {
        case 'p':
            if (!gr_parse_i64("--partitions", optarg, 1, 1000000, &v))
                goto done;
            o.partitions = (int)v;
            break;
        case 'r':
            if (!gr_parse_i64("--replication-factor", optarg, 1, 1000, &v))
                goto done;
            o.replication = (int)v;
            break;
        case 'c':
        case OPT_SET:
            if (!strchr(optarg, '=') || optarg[0] == '=') {
                gr_errorf("%s %s: expected key=value", c == 'c' ? "--config" : "--set", optarg);
                goto done;
            }
            if (c == 'c')
                o.configs[o.n_configs++] = optarg;
            else
                o.sets[o.n_sets++] = optarg;
            break;
        case OPT_DELETE: o.deletes[o.n_deletes++] = optarg; break;
        case OPT_IF_NOT_EXISTS: o.if_not_exists = true; break;
        case OPT_IF_EXISTS: o.if_exists = true; break;
        default:
            goto done;
        }
    }
    if (optind >= argc) {
        gr_errorf("missing action: create, list, describe, delete, add-partitions or alter-config "
                  "(see gregor topic --help)");
        goto done;
    }
    const char *action = argv[optind];
    char **names = argv + optind + 1;
    int n = argc - optind - 1;
    if (strcmp(action, "create") == 0) {
        if (!arity(action, n, 1, -1))
            goto done;
    } else if (strcmp(action, "list") == 0) {
        if (!arity(action, n, 0, 0))
            goto done;
    } else if (strcmp(action, "describe") == 0) {
        /* no TOPIC: all of them */
    } else if (strcmp(action, "delete") == 0) {
        if (!arity(action, n, 1, -1))
            goto done;
    } else if (strcmp(action, "add-partitions") == 0) {
        if (!arity(action, n, 1, 1))
            goto done;
        if (!o.partitions) {
            gr_errorf("add-partitions: missing -p N, the new partition count");
            goto done;
        }
    } else if (strcmp(action, "alter-config") == 0) {
        if (!arity(action, n, 1, 1))
            goto done;
        if (!o.n_sets && !o.n_deletes) {
            gr_errorf("alter-config: nothing to do: give --set K=V and/or --delete K");
            goto done;
        }
    } else {
        gr_errorf("unknown action '%s' (see gregor topic --help)", action);
        goto done;
    }
    rc = GR_EXIT_FAIL;
    if (!gr_admin_open(&a, &o.co))
        goto done;
    if (strcmp(action, "create") == 0)
        rc = topic_create(&a, &o, names, n);
    else if (strcmp(action, "list") == 0)
        rc = topic_list(&a, &o);
    else if (strcmp(action, "describe") == 0)
        rc = topic_describe(&a, &o, names, n);
    else if (strcmp(action, "delete") == 0)
        rc = topic_delete(&a, &o, names, n);
    else if (strcmp(action, "add-partitions") == 0)
        rc = topic_add_partitions(&a, &o, names[0]);
    else if (gr_alter_config(&a, RD_KAFKA_RESOURCE_TOPIC, names[0], o.sets, o.n_sets, o.deletes, o.n_deletes))
        rc = GR_EXIT_OK;
done:
    if (a.rk)
        gr_admin_close(&a);
    free(lists);
    gr_common_free(&o.co);
    return rc;
}
