/* gregor CLI: the subcommand interface shared by main.c and each subcommand's file.
 *
 * A subcommand is one function that gets the arguments from its own name on
 * (argv[0] is "bench", "topics", ...) and returns the process exit status.
 * Adding one = write gr_cmd_NAME() in NAME.c, declare it here, add a row to
 * the table in main.c. */
#ifndef GREGOR_CLI_H
#define GREGOR_CLI_H

/* Exit statuses, the same for every subcommand so scripts can tell a usage
 * mistake (fix the command line) from a runtime failure (broker, network). */
enum {
    GR_EXIT_OK = 0,
    GR_EXIT_FAIL = 1,
    GR_EXIT_USAGE = 2,
};

typedef int (*gr_cmd_fn)(int argc, char **argv);

struct gr_cmd {
    const char *name;
    gr_cmd_fn fn;
    const char *help; /* one line for `gregor --help` */
};

int gr_cmd_bench(int argc, char **argv);
int gr_cmd_topic(int argc, char **argv);
int gr_cmd_produce(int argc, char **argv);
int gr_cmd_consume(int argc, char **argv);
int gr_cmd_group(int argc, char **argv);
int gr_cmd_offsets(int argc, char **argv);
int gr_cmd_cluster(int argc, char **argv);
int gr_cmd_config(int argc, char **argv);
int gr_cmd_dump_log(int argc, char **argv);
int gr_cmd_mirror(int argc, char **argv);

#endif
