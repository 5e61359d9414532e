/* gregor config describe|alter --topic T | --broker ID */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"

static void config_usage(FILE *out)
{
    fprintf(out,
        "usage: gregor config describe|alter (--topic TOPIC | --broker ID) [options]\n"
        "\n"
        "actions:\n"
        "  describe    NAME VALUE SOURCE of the configs that differ from the defaults (--all: every one)\n"
        "  alter       --set K=V (repeatable) and --delete K (repeatable, back to the default)\n"
        "\n"
        "options:\n"
        "      --topic TOPIC        the topic's configs\n"
        "      --broker ID          the broker's configs (\"\" for the cluster-wide defaults)\n"
        "      --all                describe: include configs at their default\n"
        "      --set K=V            alter: set a config\n"
        "      --delete K           alter: remove a dynamic config\n"
        "      --json               describe: print JSON\n"
        GR_COMMON_HELP
        "\n"
        "librdkafka 2.0.2 has no IncrementalAlterConfigs, so alter reads the resource's dynamic\n"
        "configs and writes them back with the changes (AlterConfigs). Sensitive values cannot be\n"
        "read back; altering a resource that has any fails rather than losing them.\n"
        "Exit status: 0 ok, 1 failure (unreachable broker, unknown topic, refused), 2 usage.\n"
        "\n"
        "examples:\n"
        "  gregor config describe --topic orders\n"
        "  gregor config describe --broker 0 --all --json\n"
        "  gregor config alter --topic orders --set retention.ms=3600000 --set segment.bytes=1048576\n"
        "  gregor config alter --topic orders --delete retention.ms\n"
        "  gregor config alter --broker 0 --set log.retention.check.interval.ms=60000\n");
}

/* The source a dynamic config of this resource has, i.e. what AlterConfigs
 * replaces. */
static rd_kafka_ConfigSource_t dynamic_source(rd_kafka_ResourceType_t type, const char *name)
{
    if (type == RD_KAFKA_RESOURCE_TOPIC)
        return RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG;
    return *name ? RD_KAFKA_CONFIG_SOURCE_DYNAMIC_BROKER_CONFIG : RD_KAFKA_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG;
}

static const char *resource_label(rd_kafka_ResourceType_t type)
{
    return type == RD_KAFKA_RESOURCE_TOPIC ? "topic" : "broker";
}

bool gr_alter_config(struct gr_admin *a, rd_kafka_ResourceType_t type, const char *name, char **sets,
                     int n_sets, char **deletes, int n_deletes)
{
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_ConfigResource_t *cur = gr_describe_config(a, type, name, &ev);
    if (!cur)
        return false;
    bool ok = false;
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(type, name);
    size_t n = 0;
    const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(cur, &n);
    rd_kafka_ConfigSource_t dyn = dynamic_source(type, name);

    for (int d = 0; d < n_deletes; d++) {
        bool found = false;
        for (size_t i = 0; i < n; i++)
            found |= rd_kafka_ConfigEntry_source(entries[i]) == dyn &&
                     strcmp(rd_kafka_ConfigEntry_name(entries[i]), deletes[d]) == 0;
        if (!found) {
            gr_errorf("cannot delete %s: it is not set on %s %s", deletes[d], resource_label(type), name);
            goto out;
        }
    }
    /* Keep every dynamic config that is neither deleted nor replaced. */
    for (size_t i = 0; i < n; i++) {
        const char *k = rd_kafka_ConfigEntry_name(entries[i]);
        if (rd_kafka_ConfigEntry_source(entries[i]) != dyn)
            continue;
        bool drop = false;
        for (int d = 0; d < n_deletes; d++)
            drop |= strcmp(deletes[d], k) == 0;
        for (int s = 0; s < n_sets; s++)
            drop |= strncmp(sets[s], k, strlen(k)) == 0 && sets[s][strlen(k)] == '=';
        if (drop)
            continue;
        if (rd_kafka_ConfigEntry_is_sensitive(entries[i])) {
            gr_errorf("%s %s has the sensitive config %s, whose value cannot be read back; "
                      "librdkafka 2.0.2 can only replace all configs at once", resource_label(type), name, k);
            goto out;
        }
        rd_kafka_ConfigResource_set_config(res, k, rd_kafka_ConfigEntry_value(entries[i]));
    }
    for (int s = 0; s < n_sets; s++) {
        char kv[1024], *k, *v;
        snprintf(kv, sizeof(kv), "%s", sets[s]);
        gr_split_kv(kv, &k, &v);
        rd_kafka_ConfigResource_set_config(res, k, v);
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_AlterConfigs(a->rk, &res, 1, gr_admin_options(a, RD_KAFKA_ADMIN_OP_ALTERCONFIGS), a->q);
    char what[300];
    snprintf(what, sizeof(what), "altering the configs of %s %s", resource_label(type), name);
    ev = gr_admin_wait(a, what);
    if (!ev)
        goto out;
    size_t cnt = 0;
    const rd_kafka_ConfigResource_t **rs =
        rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &cnt);
    rd_kafka_resp_err_t e = cnt ? rd_kafka_ConfigResource_error(rs[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
    if (e) {
        const char *msg = cnt ? rd_kafka_ConfigResource_error_string(rs[0]) : NULL;
        gr_errorf("%s: %s", what, msg && *msg ? msg : rd_kafka_err2str(e));
        goto out;
    }
    printf("Completed updating config for %s %s.\n", resource_label(type), name);
    ok = true;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_ConfigResource_destroy(res);
    return ok;
}

static int config_describe(struct gr_admin *a, const struct gr_common *co, rd_kafka_ResourceType_t type,
                           const char *name, bool all)
{
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_ConfigResource_t *res = gr_describe_config(a, type, name, &ev);
    if (!res)
        return GR_EXIT_FAIL;
    size_t n = 0;
    const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(res, &n);
    static const char *const headers[] = {"NAME", "VALUE", "SOURCE", "READ-ONLY", "SENSITIVE"};
    gr_table_t t;
    gr_table_init(&t, 5, headers, 0);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_ConfigSource_t src = rd_kafka_ConfigEntry_source(entries[i]);
        if (!all && src == RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG)
            continue;
        gr_table_cell(&t, rd_kafka_ConfigEntry_name(entries[i]));
        gr_table_cell(&t, rd_kafka_ConfigEntry_is_sensitive(entries[i]) ? "(sensitive)"
                                                                         : rd_kafka_ConfigEntry_value(entries[i]));
        gr_table_cell(&t, rd_kafka_ConfigSource_name(src));
        gr_table_cell(&t, rd_kafka_ConfigEntry_is_read_only(entries[i]) ? "true" : "false");
        gr_table_cell(&t, rd_kafka_ConfigEntry_is_sensitive(entries[i]) ? "true" : "false");
    }
    gr_table_output(&t, co);
    gr_table_free(&t);
    rd_kafka_event_destroy(ev);
    return GR_EXIT_OK;
}

enum { OPT_TOPIC = GR_OPT_CMD_BASE, OPT_BROKER, OPT_ALL, OPT_SET, OPT_DELETE };

static const struct option long_opts[] = {
    GR_COMMON_LONG_OPTS,
    {"topic", required_argument, NULL, OPT_TOPIC},
    {"broker", required_argument, NULL, OPT_BROKER},
    {"all", no_argument, NULL, OPT_ALL},
    {"set", required_argument, NULL, OPT_SET},
    {"delete", required_argument, NULL, OPT_DELETE},
    {NULL, 0, NULL, 0},
};

int gr_cmd_config(int argc, char **argv)
{
    struct gr_common co;
    if (!gr_common_init(&co, "gregor config", argc))
        return GR_EXIT_FAIL;
    char **lists = calloc((size_t)argc * 2 + 2, sizeof(char *));
    char **sets = lists, **deletes = lists + argc + 1;
    int n_sets = 0, n_deletes = 0, rc = GR_EXIT_USAGE, c;
    const char *topic = NULL, *broker = NULL;
    bool all = false;
    struct gr_admin a = {0};
    while ((c = gr_next_opt(&co, argc, argv, GR_COMMON_SHORT, long_opts, config_usage, &rc)) != -1) {
        if (c == GR_OPT_EXIT)
            goto done;
        switch (c) {
        case OPT_TOPIC: topic = optarg; break;
        case OPT_BROKER: broker = optarg; break;
        case OPT_ALL: all = true; break;
        case OPT_SET:
            if (!strchr(optarg, '=') || optarg[0] == '=') {
                gr_errorf("--set %s: expected key=value", optarg);
                goto done;
            }
            sets[n_sets++] = optarg;
            break;
        case OPT_DELETE: deletes[n_deletes++] = optarg; break;
        default:
            goto done;
        }
    }
    if (optind >= argc) {
        gr_errorf("missing action: describe or alter (see gregor config --help)");
        goto done;
    }
    const char *action = argv[optind];
    bool describe = strcmp(action, "describe") == 0;
    if (!describe && strcmp(action, "alter") != 0) {
        gr_errorf("unknown action '%s' (see gregor config --help)", action);
        goto done;
    }
    if (argc - optind > 1) {
        gr_errorf("unexpected argument '%s' (see gregor config --help)", argv[optind + 1]);
        goto done;
    }
    if (!topic == !broker) {
        gr_errorf("%s: give exactly one of --topic TOPIC or --broker ID", action);
        goto done;
    }
    if (!describe && !n_sets && !n_deletes) {
        gr_errorf("alter: nothing to do: give --set K=V and/or --delete K");
        goto done;
    }
    rc = GR_EXIT_FAIL;
    if (!gr_admin_open(&a, &co))
        goto done;
    rd_kafka_ResourceType_t type = topic ? RD_KAFKA_RESOURCE_TOPIC : RD_KAFKA_RESOURCE_BROKER;
    const char *name = topic ? topic : broker;
    if (describe)
        rc = config_describe(&a, &co, type, name, all);
    else if (gr_alter_config(&a, type, name, sets, n_sets, deletes, n_deletes))
        rc = GR_EXIT_OK;
done:
    if (a.rk)
        gr_admin_close(&a);
    free(lists);
    gr_common_free(&co);
    return rc;
}
