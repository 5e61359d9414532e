/* gregor offsets TOPIC...: earliest and latest offsets, or the offset at a
 * timestamp, per partition. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"

static void offsets_usage(FILE *out)
{
    fprintf(out,
        "usage: gregor offsets TOPIC... [options]\n"
        "\n"
        "Per partition: the earliest offset (log start) and the latest (log end, the next offset\n"
        "to be written); or, with --timestamp, the first offset whose record has a timestamp at or\n"
        "after it (the log end when there is none).\n"
        "\n"
        "options:\n"
        "  -p, --partition P        only partition P\n"
        "      --timestamp MS       offsets at this time (ms since the epoch)\n"
        "      --json               print JSON\n"
        GR_COMMON_HELP
        "\n"
        "Exit status: 0 ok, 1 failure (unreachable broker, unknown topic), 2 usage.\n"
        "\n"
        "examples:\n"
        "  gregor offsets orders\n"
        "  gregor offsets orders -p 0 --json\n"
        "  gregor offsets orders --timestamp $(( ($(date +%%s) - 3600) * 1000 ))\n");
}

static int run_offsets(const struct gr_common *co, char **topics, int n, int32_t partition, int64_t ts)
{
    rd_kafka_t *rk = gr_client_new(co, RD_KAFKA_CONSUMER, NULL);
    if (!rk)
        return GR_EXIT_FAIL;
    int rc = GR_EXIT_FAIL;
    rd_kafka_topic_partition_list_t *l = NULL;
    gr_table_t t = {0};
    const struct rd_kafka_metadata *md = gr_connect(rk, co, NULL);
    if (!md)
        goto out;
    l = gr_topic_partitions(md, topics, n, partition, ts);
    if (!l)
        goto out;
    if (ts >= 0) {
        static const char *const headers[] = {"TOPIC", "PARTITION", "TIMESTAMP", "OFFSET"};
        gr_table_init(&t, 4, headers, 0xe);
        if (!gr_offsets_for_times(rk, co, l))
            goto out;
        for (int i = 0; i < l->cnt; i++) {
            gr_table_cell(&t, l->elems[i].topic);
            gr_table_cell_i64(&t, l->elems[i].partition);
            gr_table_cell_i64(&t, ts);
            gr_table_cell_i64(&t, l->elems[i].offset);
        }
    } else {
        static const char *const headers[] = {"TOPIC", "PARTITION", "EARLIEST", "LATEST"};
        gr_table_init(&t, 4, headers, 0xe);
        for (int i = 0; i < l->cnt; i++) {
            int64_t lo, hi;
            if (!gr_watermarks(rk, co, l->elems[i].topic, l->elems[i].partition, &lo, &hi))
                goto out;
            gr_table_cell(&t, l->elems[i].topic);
            gr_table_cell_i64(&t, l->elems[i].partition);
            gr_table_cell_i64(&t, lo);
            gr_table_cell_i64(&t, hi);
        }
    }
    gr_table_output(&t, co);
    rc = GR_EXIT_OK;
out:
    gr_table_free(&t);
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    return rc;
}

enum { OPT_TIMESTAMP = GR_OPT_CMD_BASE };

static const struct option long_opts[] = {
    GR_COMMON_LONG_OPTS,
    {"partition", required_argument, NULL, 'p'},
    {"timestamp", required_argument, NULL, OPT_TIMESTAMP},
    {NULL, 0, NULL, 0},
};

int gr_cmd_offsets(int argc, char **argv)
{
    struct gr_common co;
    if (!gr_common_init(&co, "gregor offsets", argc))
        return GR_EXIT_FAIL;
    int rc = GR_EXIT_USAGE, c;
    int64_t partition = -1, ts = -1;
    while ((c = gr_next_opt(&co, argc, argv, GR_COMMON_SHORT "p:", long_opts, offsets_usage, &rc)) != -1) {
        if (c == GR_OPT_EXIT)
            goto done;
        switch (c) {
        case 'p':
            if (!gr_parse_i64("--partition", optarg, 0, INT32_MAX, &partition))
                goto done;
            break;
        case OPT_TIMESTAMP:
            if (!gr_parse_i64("--timestamp", optarg, 0, INT64_MAX, &ts))
                goto done;
            break;
        default:
            goto done;
        }
    }
    if (optind >= argc) {
        gr_errorf("missing TOPIC (see gregor offsets --help)");
        goto done;
    }
    rc = run_offsets(&co, argv + optind, argc - optind, (int32_t)partition, ts);
done:
    gr_common_free(&co);
    return rc;
}
