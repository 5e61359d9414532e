/* gregor cluster info: cluster id, controller, brokers and their addresses. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"

static void cluster_usage(FILE *out)
{
    fprintf(out,
        "usage: gregor cluster info [options]\n"
        "\n"
        "Prints the cluster id, the controller and every broker with its advertised address.\n"
        "\n"
        "options:\n"
        "      --json               print one JSON object\n"
        GR_COMMON_HELP
        "\n"
        "Exit status: 0 ok, 1 failure (unreachable broker), 2 usage.\n"
        "\n"
        "examples:\n"
        "  gregor cluster info\n"
        "  gregor cluster info -b broker1:9092,broker2:9092 --json\n");
}

static int cmp_broker(const void *x, const void *y)
{
    const struct rd_kafka_metadata_broker *a = x, *b = y;
    return (a->id > b->id) - (a->id < b->id);
}

static int cluster_info(const struct gr_common *co)
{
    rd_kafka_t *rk = gr_client_new(co, RD_KAFKA_PRODUCER, NULL);
    if (!rk)
        return GR_EXIT_FAIL;
    int rc = GR_EXIT_FAIL;
    const struct rd_kafka_metadata *md = gr_connect(rk, co, NULL);
    if (!md)
        goto out;
    char *cluster_id = rd_kafka_clusterid(rk, co->timeout_ms);
    int32_t controller = rd_kafka_controllerid(rk, co->timeout_ms);
    struct rd_kafka_metadata_broker *bs = malloc(((size_t)md->broker_cnt + 1) * sizeof(*bs));
    memcpy(bs, md->brokers, (size_t)md->broker_cnt * sizeof(*bs));
    qsort(bs, (size_t)md->broker_cnt, sizeof(*bs), cmp_broker);

    static const char *const headers[] = {"ID", "HOST", "PORT", "CONTROLLER"};
    gr_table_t t;
    gr_table_init(&t, 4, headers, 0x5);
    for (int i = 0; i < md->broker_cnt; i++) {
        gr_table_cell_i64(&t, bs[i].id);
        gr_table_cell(&t, bs[i].host);
        gr_table_cell_i64(&t, bs[i].port);
        gr_table_cell(&t, bs[i].id == controller ? "yes" : "no");
    }
    if (co->json) {
        gr_jsonb_t b;
        gr_jsonb_init(&b);
        gr_jsonb_obj_begin(&b);
        gr_jsonb_key(&b, "cluster_id");
        gr_jsonb_str(&b, cluster_id);
        gr_jsonb_key(&b, "controller");
        if (controller >= 0)
            gr_jsonb_int(&b, controller);
        else
            gr_jsonb_null(&b);
        gr_jsonb_key(&b, "brokers");
        gr_table_json(&t, &b);
        gr_jsonb_obj_end(&b);
        gr_json_output(&b);
    } else {
        printf("Cluster ID: %s\n", cluster_id ? cluster_id : "-");
        if (controller >= 0)
            printf("Controller: %d\n", controller);
        else
            printf("Controller: -\n");
        printf("\n");
        gr_table_print(&t, stdout);
    }
    gr_table_free(&t);
    free(bs);
    if (cluster_id)
        rd_kafka_mem_free(rk, cluster_id);
    rd_kafka_metadata_destroy(md);
    rc = GR_EXIT_OK;
out:
    rd_kafka_destroy(rk);
    return rc;
}

static const struct option long_opts[] = {
    GR_COMMON_LONG_OPTS,
    {NULL, 0, NULL, 0},
};

int gr_cmd_cluster(int argc, char **argv)
{
    struct gr_common co;
    if (!gr_common_init(&co, "gregor cluster", argc))
        return GR_EXIT_FAIL;
    int rc = GR_EXIT_USAGE;
    /* No options of its own: anything gr_next_opt returns but -1 ends it. */
    if (gr_next_opt(&co, argc, argv, GR_COMMON_SHORT, long_opts, cluster_usage, &rc) != -1)
        goto done;
    if (optind >= argc) {
        gr_errorf("missing action: info (see gregor cluster --help)");
        goto done;
    }
    if (strcmp(argv[optind], "info") != 0) {
        gr_errorf("unknown action '%s' (see gregor cluster --help)", argv[optind]);
        goto done;
    }
    if (argc - optind > 1) {
        gr_errorf("unexpected argument '%s' (see gregor cluster --help)", argv[optind + 1]);
        goto done;
    }
    rc = cluster_info(&co);
done:
    gr_common_free(&co);
    return rc;
}
