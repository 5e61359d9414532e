/* gregor — the operator's and developer's CLI for Gregor brokers.
 *
 * This file only dispatches: `gregor SUBCOMMAND [args]` runs the subcommand's
 * function with argv starting at the subcommand's name. Everything a
 * subcommand needs lives in its own file. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct gr_cmd commands[] = {
    {"topic", gr_cmd_topic, "create, list, describe, delete topics; add partitions; alter topic configs"},
    {"produce", gr_cmd_produce, "send records from stdin or files, one per line"},
    {"consume", gr_cmd_consume, "print records from offsets, the end, a timestamp, or in a group"},
    {"group", gr_cmd_group, "list, describe (with lag), delete consumer groups; reset their offsets"},
    {"offsets", gr_cmd_offsets, "earliest, latest, or at-a-timestamp offsets per partition"},
    {"cluster", gr_cmd_cluster, "cluster id, controller and brokers"},
    {"config", gr_cmd_config, "describe and alter topic and broker configs"},
    {"dump-log", gr_cmd_dump_log, "decode and verify segment, index and time-index files offline"},
    {"mirror", gr_cmd_mirror, "copy topics matching a regex from one cluster into another"},
    {"bench", gr_cmd_bench, "measure produce/consume throughput, latency and broker CPU per GB"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
    fprintf(out,
            "usage: gregor COMMAND [options]\n"
            "\n"
            "The command-line tool for Gregor, a Kafka-compatible broker. It talks to any\n"
            "Kafka-protocol broker through librdkafka.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].help);
    fprintf(out,
            "\n"
            "Run `gregor COMMAND --help` for a command's options.\n"
            "The broker list comes from -b/--brokers, else $GREGOR_BROKERS, else localhost:9092.\n"
            "\n"
            "examples:\n"
            "  gregor topic create demo -p 3\n"
            "  printf 'k1:hello\\nk2:world\\n' | gregor produce demo -K:\n"
            "  gregor consume demo --from-beginning -e -F '%%p:%%o %%k=%%v\\n'\n"
            "  gregor topic describe demo\n"
            "  gregor dump-log --verify data/demo-0/00000000000000000000.log\n"
            "  gregor bench produce --records 10M --record-size 100 --partitions 6\n");
}

static const struct gr_cmd *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return GR_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
        usage(stdout);
        return GR_EXIT_OK;
    }
    /* `gregor help bench` is the same as `gregor bench --help`. */
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return GR_EXIT_OK;
        }
        const struct gr_cmd *c = find_command(argv[2]);
        if (!c) {
            fprintf(stderr, "gregor: unknown command '%s' (see gregor --help)\n", argv[2]);
            return GR_EXIT_USAGE;
        }
        char *help_argv[] = {(char *)c->name, "--help", NULL};
        return c->fn(2, help_argv);
    }
    const struct gr_cmd *c = find_command(name);
    if (!c) {
        fprintf(stderr, "gregor: unknown command '%s' (see gregor --help)\n", name);
        return GR_EXIT_USAGE;
    }
    return c->fn(argc - 1, argv + 1);
}
