/* gregor group list|describe|delete|reset-offsets: consumer groups through
 * librdkafka's admin API (ListConsumerGroups, DescribeConsumerGroups,
 * ListConsumerGroupOffsets, AlterConsumerGroupOffsets, DeleteGroups). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"

enum reset_kind { RESET_NONE, RESET_EARLIEST, RESET_LATEST, RESET_OFFSET, RESET_DATETIME, RESET_SHIFT };

struct group_opts {
    struct gr_common co;
    char **topics;           /* reset-offsets: TOPIC or TOPIC:PARTITION */
    int n_topics;
    bool all_topics;
    enum reset_kind reset;
    int n_resets;
    int64_t reset_value;
    bool execute;
};

static void group_usage(FILE *out)
{
    fprintf(out,
        "usage: gregor group ACTION [options] [GROUP...]\n"
        "\n"
        "actions:\n"
        "  list                     groups with their state\n"
        "  describe GROUP...        the group state, and per partition GROUP TOPIC PARTITION\n"
        "                           CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID\n"
        "  delete GROUP...          delete groups (they must have no members)\n"
        "  reset-offsets GROUP (--topic T[:P]... | --all-topics) --to-...\n"
        "                           show the new committed offsets; change them only with --execute\n"
        "                           (the group must have no active members)\n"
        "\n"
        "reset-offsets options:\n"
        "      --topic T[:P]        the topic's partitions, or only P (repeatable)\n"
        "      --all-topics         every partition the group has committed offsets for\n"
        "      --to-earliest        the log start\n"
        "      --to-latest          the log end\n"
        "      --to-offset N        offset N (clamped to the log)\n"
        "      --to-datetime MS     the first offset at or after MS ms since the epoch\n"
        "      --shift-by N         the committed offset plus N (may be negative; clamped)\n"
        "      --execute            apply the change (default: preview only)\n"
        "\n"
        "options:\n"
        "      --json               print JSON\n"
        GR_COMMON_HELP
        "\n"
        "Exit status: 0 ok, 1 failure (unreachable broker, unknown group, refused), 2 usage.\n"
        "\n"
        "examples:\n"
        "  gregor group list\n"
        "  gregor group describe billing --json\n"
        "  gregor group reset-offsets billing --topic orders --to-datetime 1700000000000\n"
        "  gregor group reset-offsets billing --all-topics --shift-by -100 --execute\n"
        "  gregor group delete billing\n");
}

/* ---- list / delete ------------------------------------------------------------ */

static int group_list(struct gr_admin *a)
{
    rd_kafka_ListConsumerGroups(a->rk, gr_admin_options(a, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS), a->q);
    rd_kafka_event_t *ev = gr_admin_wait(a, "listing groups");
    if (!ev)
        return GR_EXIT_FAIL;
    const rd_kafka_ListConsumerGroups_result_t *res = rd_kafka_event_ListConsumerGroups_result(ev);
    size_t n = 0, nerr = 0;
    const rd_kafka_ConsumerGroupListing_t **gs = rd_kafka_ListConsumerGroups_result_valid(res, &n);
    const rd_kafka_error_t **errs = rd_kafka_ListConsumerGroups_result_errors(res, &nerr);
    int rc = GR_EXIT_OK;
    for (size_t i = 0; i < nerr; i++) {
        gr_errorf("listing groups: %s", rd_kafka_error_string(errs[i]));
        rc = GR_EXIT_FAIL;
    }
    static const char *const headers[] = {"GROUP", "STATE", "TYPE"};
    gr_table_t t;
    gr_table_init(&t, 3, headers, 0);
    for (size_t i = 0; i < n; i++) {
        gr_table_cell(&t, rd_kafka_ConsumerGroupListing_group_id(gs[i]));
        gr_table_cell(&t, rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupListing_state(gs[i])));
        gr_table_cell(&t, rd_kafka_ConsumerGroupListing_is_simple_consumer_group(gs[i]) ? "simple" : "consumer");
    }
    gr_table_output(&t, a->co);
    gr_table_free(&t);
    rd_kafka_event_destroy(ev);
    return rc;
}

/* Prints one line per failed group; true when all succeeded. */
static bool group_results(const rd_kafka_group_result_t **gr, size_t n, const char *what, const char *done_fmt)
{
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_error_t *e = rd_kafka_group_result_error(gr[i]);
        if (e) {
            gr_errorf("%s %s: %s", what, rd_kafka_group_result_name(gr[i]), rd_kafka_error_string(e));
            ok = false;
        } else if (done_fmt) {
            printf(done_fmt, rd_kafka_group_result_name(gr[i]));
            putchar('\n');
        }
    }
    return ok;
}

static int group_delete(struct gr_admin *a, char **groups, int n)
{
    rd_kafka_DeleteGroup_t **dg = calloc((size_t)n, sizeof(*dg));
    for (int i = 0; i < n; i++)
        dg[i] = rd_kafka_DeleteGroup_new(groups[i]);
    rd_kafka_DeleteGroups(a->rk, dg, (size_t)n, gr_admin_options(a, RD_KAFKA_ADMIN_OP_DELETEGROUPS), a->q);
    rd_kafka_DeleteGroup_destroy_array(dg, (size_t)n);
    free(dg);
    rd_kafka_event_t *ev = gr_admin_wait(a, "deleting groups");
    if (!ev)
        return GR_EXIT_FAIL;
    size_t cnt = 0;
    const rd_kafka_group_result_t **gr = rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &cnt);
    bool ok = group_results(gr, cnt, "deleting group", "Deleted group %s.");
    rd_kafka_event_destroy(ev);
    return ok ? GR_EXIT_OK : GR_EXIT_FAIL;
}

/* ---- committed offsets ---------------------------------------------------------- */

/* The group's committed offsets (all partitions when `only` is NULL); NULL
 * on error (printed). The caller destroys the list. */
static rd_kafka_topic_partition_list_t *committed(struct gr_admin *a, const char *group,
                                                  const rd_kafka_topic_partition_list_t *only)
{
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, only);
    rd_kafka_ListConsumerGroupOffsets(a->rk, &req, 1, gr_admin_options(a, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS),
                                      a->q);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    char what[300];
    snprintf(what, sizeof(what), "reading the committed offsets of group %s", group);
    rd_kafka_event_t *ev = gr_admin_wait(a, what);
    if (!ev)
        return NULL;
    size_t cnt = 0;
    const rd_kafka_group_result_t **gr =
        rd_kafka_ListConsumerGroupOffsets_result_groups(rd_kafka_event_ListConsumerGroupOffsets_result(ev), &cnt);
    rd_kafka_topic_partition_list_t *out = NULL;
    if (cnt && group_results(gr, cnt, "reading the committed offsets of group", NULL)) {
        const rd_kafka_topic_partition_list_t *p = rd_kafka_group_result_partitions(gr[0]);
        out = p ? rd_kafka_topic_partition_list_copy(p) : rd_kafka_topic_partition_list_new(0);
        rd_kafka_topic_partition_list_sort(out, NULL, NULL);
    } else if (!cnt) {
        gr_errorf("%s: empty answer", what);
    }
    rd_kafka_event_destroy(ev);
    return out;
}

/* ---- describe -------------------------------------------------------------------- */

/* The member a partition is assigned to, or NULL. */
static const rd_kafka_MemberDescription_t *owner(const rd_kafka_ConsumerGroupDescription_t *d, const char *topic,
                                                 int32_t partition)
{
    for (size_t i = 0; i < rd_kafka_ConsumerGroupDescription_member_count(d); i++) {
        const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(d, i);
        const rd_kafka_topic_partition_list_t *l =
            rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
        if (l && rd_kafka_topic_partition_list_find(l, topic, partition))
            return m;
    }
    return NULL;
}

static bool describe_one(struct gr_admin *a, const rd_kafka_ConsumerGroupDescription_t *d, gr_table_t *t,
                         gr_jsonb_t *jb)
{
    const char *group = rd_kafka_ConsumerGroupDescription_group_id(d);
    const rd_kafka_error_t *err = rd_kafka_ConsumerGroupDescription_error(d);
    if (err) {
        gr_errorf("describing group %s: %s", group, rd_kafka_error_string(err));
        return false;
    }
    const char *state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(d));
    size_t members = rd_kafka_ConsumerGroupDescription_member_count(d);
    rd_kafka_topic_partition_list_t *offs = committed(a, group, NULL);
    if (!offs)
        return false;
    /* Kafka answers DescribeGroups for an unknown group with state Dead and
     * no members; with no committed offsets either, there is no such group
     * (kafka-consumer-groups says so too). */
    if (rd_kafka_ConsumerGroupDescription_state(d) == RD_KAFKA_CONSUMER_GROUP_STATE_DEAD && members == 0 &&
        offs->cnt == 0) {
        gr_errorf("group %s does not exist", group);
        rd_kafka_topic_partition_list_destroy(offs);
        return false;
    }
    /* Assigned partitions without a committed offset are shown too. */
    for (size_t i = 0; i < members; i++) {
        const rd_kafka_topic_partition_list_t *l = rd_kafka_MemberAssignment_partitions(
            rd_kafka_MemberDescription_assignment(rd_kafka_ConsumerGroupDescription_member(d, i)));
        for (int j = 0; l && j < l->cnt; j++)
            if (!rd_kafka_topic_partition_list_find(offs, l->elems[j].topic, l->elems[j].partition))
                rd_kafka_topic_partition_list_add(offs, l->elems[j].topic, l->elems[j].partition)->offset =
                    RD_KAFKA_OFFSET_INVALID;
    }
    rd_kafka_topic_partition_list_sort(offs, NULL, NULL);
    if (jb) {
        gr_jsonb_obj_begin(jb);
        gr_jsonb_key(jb, "group");
        gr_jsonb_str(jb, group);
        gr_jsonb_key(jb, "state");
        gr_jsonb_str(jb, state);
        gr_jsonb_key(jb, "members");
        gr_jsonb_int(jb, (int64_t)members);
        gr_jsonb_key(jb, "assignor");
        gr_jsonb_str(jb, rd_kafka_ConsumerGroupDescription_partition_assignor(d));
    } else {
        printf("Consumer group '%s' is %s with %zu member(s).\n", group, state, members);
    }
    bool ok = true;
    for (int i = 0; ok && i < offs->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &offs->elems[i];
        int64_t lo, hi;
        ok = gr_watermarks(a->rk, a->co, tp->topic, tp->partition, &lo, &hi);
        if (!ok)
            break;
        const rd_kafka_MemberDescription_t *m = owner(d, tp->topic, tp->partition);
        gr_table_cell(t, group);
        gr_table_cell(t, tp->topic);
        gr_table_cell_i64(t, tp->partition);
        if (tp->offset >= 0) {
            gr_table_cell_i64(t, tp->offset);
            gr_table_cell_i64(t, hi);
            gr_table_cell_i64(t, hi - tp->offset);
        } else {
            gr_table_cell(t, NULL);
            gr_table_cell_i64(t, hi);
            gr_table_cell(t, NULL);
        }
        gr_table_cell(t, m ? rd_kafka_MemberDescription_consumer_id(m) : NULL);
        gr_table_cell(t, m ? rd_kafka_MemberDescription_host(m) : NULL);
        gr_table_cell(t, m ? rd_kafka_MemberDescription_client_id(m) : NULL);
    }
    if (ok && jb) {
        gr_jsonb_key(jb, "partitions");
        gr_table_json(t, jb);
        gr_jsonb_obj_end(jb);
    }
    rd_kafka_topic_partition_list_destroy(offs);
    return ok;
}

static const char *const describe_headers[] = {"GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET",
                                               "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"};

static int group_describe(struct gr_admin *a, char **groups, int n)
{
    rd_kafka_DescribeConsumerGroups(a->rk, (const char **)groups, (size_t)n,
                                    gr_admin_options(a, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS), a->q);
    rd_kafka_event_t *ev = gr_admin_wait(a, "describing groups");
    if (!ev)
        return GR_EXIT_FAIL;
    size_t cnt = 0;
    const rd_kafka_ConsumerGroupDescription_t **ds =
        rd_kafka_DescribeConsumerGroups_result_groups(rd_kafka_event_DescribeConsumerGroups_result(ev), &cnt);
    gr_jsonb_t jb;
    gr_jsonb_init(&jb);
    if (a->co->json)
        gr_jsonb_arr_begin(&jb);
    bool ok = true;
    for (size_t i = 0; ok && i < cnt; i++) {
        gr_table_t t;
        gr_table_init(&t, 9, describe_headers, 0x3c);
        ok = describe_one(a, ds[i], &t, a->co->json ? &jb : NULL);
        if (ok && !a->co->json) {
            gr_table_print(&t, stdout);
            if (i + 1 < cnt)
                putchar('\n');
        }
        gr_table_free(&t);
    }
    if (a->co->json) {
        gr_jsonb_arr_end(&jb);
        if (ok)
            gr_json_output(&jb);
    }
    gr_jsonb_free(&jb);
    rd_kafka_event_destroy(ev);
    return ok ? GR_EXIT_OK : GR_EXIT_FAIL;
}

/* ---- reset-offsets ------------------------------------------------------------------ */

/* The partitions to reset, offsets unset; NULL on error (printed). */
static rd_kafka_topic_partition_list_t *reset_targets(struct gr_admin *a, struct group_opts *o, const char *group)
{
    if (o->all_topics)
        return committed(a, group, NULL);
    const struct rd_kafka_metadata *md = gr_connect(a->rk, a->co, NULL);
    if (!md)
        return NULL;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    for (int i = 0; i < o->n_topics; i++) {
        char name[512];
        snprintf(name, sizeof(name), "%s", o->topics[i]);
        char *colon = strrchr(name, ':');
        int64_t p = -1;
        if (colon) {
            *colon = 0;
            if (!gr_parse_i64("--topic", colon + 1, 0, INT32_MAX, &p))
                goto fail;
        }
        char *one[] = {name};
        rd_kafka_topic_partition_list_t *tl = gr_topic_partitions(md, one, 1, (int32_t)p, RD_KAFKA_OFFSET_INVALID);
        if (!tl)
            goto fail;
        for (int j = 0; j < tl->cnt; j++)
            if (!rd_kafka_topic_partition_list_find(l, tl->elems[j].topic, tl->elems[j].partition))
                rd_kafka_topic_partition_list_add(l, tl->elems[j].topic, tl->elems[j].partition);
        rd_kafka_topic_partition_list_destroy(tl);
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_sort(l, NULL, NULL);
    return l;
fail:
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_destroy(l);
    return NULL;
}

/* Computes the new offset of every element of l (clamped to the log). */
static bool compute_resets(struct gr_admin *a, struct group_opts *o, const char *group,
                           rd_kafka_topic_partition_list_t *l)
{
    rd_kafka_topic_partition_list_t *cur = NULL;
    if (o->reset == RESET_SHIFT && !(cur = committed(a, group, l)))
        return false;
    if (o->reset == RESET_DATETIME) {
        for (int i = 0; i < l->cnt; i++)
            l->elems[i].offset = o->reset_value;
        if (!gr_offsets_for_times(a->rk, a->co, l))
            return false;
    }
    bool ok = true;
    for (int i = 0; ok && i < l->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &l->elems[i];
        int64_t lo, hi, v = 0;
        if (!(ok = gr_watermarks(a->rk, a->co, tp->topic, tp->partition, &lo, &hi)))
            break;
        switch (o->reset) {
        case RESET_EARLIEST: v = lo; break;
        case RESET_LATEST: v = hi; break;
        case RESET_OFFSET: v = o->reset_value; break;
        case RESET_DATETIME: v = tp->offset; break;
        case RESET_SHIFT: {
            rd_kafka_topic_partition_t *c = rd_kafka_topic_partition_list_find(cur, tp->topic, tp->partition);
            if (!c || c->offset < 0) {
                gr_errorf("--shift-by: group %s has no committed offset for %s[%d]", group, tp->topic, tp->partition);
                ok = false;
            } else {
                v = c->offset + o->reset_value;
            }
            break;
        }
        default: break;
        }
        tp->offset = v < lo ? lo : v > hi ? hi : v;
    }
    if (cur)
        rd_kafka_topic_partition_list_destroy(cur);
    return ok;
}

static int group_reset(struct gr_admin *a, struct group_opts *o, const char *group)
{
    rd_kafka_topic_partition_list_t *l = reset_targets(a, o, group);
    if (!l)
        return GR_EXIT_FAIL;
    int rc = GR_EXIT_FAIL;
    if (!compute_resets(a, o, group, l))
        goto out;
    if (o->execute) {
        rd_kafka_AlterConsumerGroupOffsets_t *req = rd_kafka_AlterConsumerGroupOffsets_new(group, l);
        rd_kafka_AlterConsumerGroupOffsets(a->rk, &req, 1,
                                           gr_admin_options(a, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS), a->q);
        rd_kafka_AlterConsumerGroupOffsets_destroy(req);
        rd_kafka_event_t *ev = gr_admin_wait(a, "resetting offsets");
        if (!ev)
            goto out;
        size_t cnt = 0;
        const rd_kafka_group_result_t **gr = rd_kafka_AlterConsumerGroupOffsets_result_groups(
            rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &cnt);
        bool ok = group_results(gr, cnt, "resetting offsets of group", NULL);
        const rd_kafka_topic_partition_list_t *res = ok && cnt ? rd_kafka_group_result_partitions(gr[0]) : NULL;
        for (int i = 0; res && i < res->cnt; i++)
            if (res->elems[i].err) {
                gr_errorf("resetting %s[%d] of group %s: %s", res->elems[i].topic, res->elems[i].partition, group,
                          rd_kafka_err2str(res->elems[i].err));
                ok = false;
            }
        rd_kafka_event_destroy(ev);
        if (!ok)
            goto out;
    }
    static const char *const headers[] = {"GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"};
    gr_table_t t;
    gr_table_init(&t, 4, headers, 0xc);
    for (int i = 0; i < l->cnt; i++) {
        gr_table_cell(&t, group);
        gr_table_cell(&t, l->elems[i].topic);
        gr_table_cell_i64(&t, l->elems[i].partition);
        gr_table_cell_i64(&t, l->elems[i].offset);
    }
    gr_table_output(&t, a->co);
    gr_table_free(&t);
    if (!o->execute && !a->co->json)
        printf("(preview only: add --execute to commit these offsets)\n");
    rc = GR_EXIT_OK;
out:
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

/* ---- command line ------------------------------------------------------------------- */

enum {
    OPT_TOPIC = GR_OPT_CMD_BASE, OPT_ALL_TOPICS, OPT_EARLIEST, OPT_LATEST, OPT_TO_OFFSET, OPT_DATETIME, OPT_SHIFT,
    OPT_EXECUTE,
};

static const struct option long_opts[] = {
    GR_COMMON_LONG_OPTS,
    {"group", required_argument, NULL, 'g'},
    {"topic", required_argument, NULL, OPT_TOPIC},
    {"all-topics", no_argument, NULL, OPT_ALL_TOPICS},
    {"to-earliest", no_argument, NULL, OPT_EARLIEST},
    {"to-latest", no_argument, NULL, OPT_LATEST},
    {"to-offset", required_argument, NULL, OPT_TO_OFFSET},
    {"to-datetime", required_argument, NULL, OPT_DATETIME},
    {"shift-by", required_argument, NULL, OPT_SHIFT},
    {"execute", no_argument, NULL, OPT_EXECUTE},
    {NULL, 0, NULL, 0},
};

static bool check_reset_args(struct group_opts *o, int n_groups)
{
    if (n_groups != 1)
        gr_errorf("reset-offsets: give exactly one GROUP");
    else if (o->n_resets != 1)
        gr_errorf("reset-offsets: give one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by");
    else if (!o->all_topics == !o->n_topics)
        gr_errorf("reset-offsets: give --topic T[:P] (repeatable) or --all-topics");
    else
        return true;
    return false;
}

int gr_cmd_group(int argc, char **argv)
{
    struct group_opts o = {0};
    if (!gr_common_init(&o.co, "gregor group", argc))
        return GR_EXIT_FAIL;
    char **lists = calloc((size_t)argc * 2 + 2, sizeof(char *));
    o.topics = lists;
    char **opt_groups = lists + argc + 1;
    int n_opt_groups = 0, rc = GR_EXIT_USAGE, c;
    struct gr_admin a = {0};
    while ((c = gr_next_opt(&o.co, argc, argv, GR_COMMON_SHORT "g:", long_opts, group_usage, &rc)) != -1) {
        if (c == GR_OPT_EXIT)
            goto done;
        switch (c) {
        case 'g': opt_groups[n_opt_groups++] = optarg; break;
        case OPT_TOPIC: o.topics[o.n_topics++] = optarg; break;
        case OPT_ALL_TOPICS: o.all_topics = true; break;
        case OPT_EARLIEST: o.reset = RESET_EARLIEST; o.n_resets++; break;
        case OPT_LATEST: o.reset = RESET_LATEST; o.n_resets++; break;
        case OPT_TO_OFFSET:
        case OPT_DATETIME:
        case OPT_SHIFT:
            o.reset = c == OPT_TO_OFFSET ? RESET_OFFSET : c == OPT_DATETIME ? RESET_DATETIME : RESET_SHIFT;
            o.n_resets++;
            if (!gr_parse_i64(c == OPT_TO_OFFSET ? "--to-offset" : c == OPT_DATETIME ? "--to-datetime" : "--shift-by", optarg, c == OPT_SHIFT ? INT64_MIN / 4 : 0, INT64_MAX / 4,
                              &o.reset_value))
                goto done;
            break;
        case OPT_EXECUTE: o.execute = true; break;
        default:
            goto done;
        }
    }
    if (optind >= argc) {
        gr_errorf("missing action: list, describe, delete or reset-offsets (see gregor group --help)");
        goto done;
    }
    const char *action = argv[optind];
    /* Groups: positional, plus any -g. */
    char **groups = calloc((size_t)argc + 1, sizeof(char *));
    int n = 0;
    for (int i = optind + 1; i < argc; i++)
        groups[n++] = argv[i];
    for (int i = 0; i < n_opt_groups; i++)
        groups[n++] = opt_groups[i];
    bool list = strcmp(action, "list") == 0, describe = strcmp(action, "describe") == 0;
    bool del = strcmp(action, "delete") == 0, reset = strcmp(action, "reset-offsets") == 0;
    if (!list && !describe && !del && !reset)
        gr_errorf("unknown action '%s' (see gregor group --help)", action);
    else if (list && n)
        gr_errorf("list: unexpected argument '%s'", groups[0]);
    else if ((describe || del) && !n)
        gr_errorf("%s: missing GROUP (see gregor group --help)", action);
    else if (!reset && (o.n_resets || o.n_topics || o.all_topics || o.execute))
        gr_errorf("%s: the --to-*, --topic, --all-topics and --execute options are for reset-offsets", action);
    else if (!reset || check_reset_args(&o, n))
        rc = GR_EXIT_FAIL;
    if (rc == GR_EXIT_FAIL && gr_admin_open(&a, &o.co)) {
        if (list)
            rc = group_list(&a);
        else if (describe)
            rc = group_describe(&a, groups, n);
        else if (del)
            rc = group_delete(&a, groups, n);
        else
            rc = group_reset(&a, &o, groups[0]);
    }
    free(groups);
done:
    if (a.rk)
        gr_admin_close(&a);
    free(lists);
    gr_common_free(&o.co);
    return rc;
}
