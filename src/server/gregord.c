/* gregord: the Gregor broker.
 *
 *   gregord [server.properties] [--override key=value]...
 *
 * Wires the layers together: configuration -> broker state (metadata store,
 * topics, logs recovered from disk) -> listener and event loop.  SIGTERM and
 * SIGINT stop the loop; the broker then flushes every log and writes its
 * checkpoints, and the process exits 0. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api/api.h"
#include "broker/broker.h"
#include "group/coordinator.h"
#include "net/conn.h"
#include "net/loop.h"
#include "server/config.h"
#include "util/log.h"

static gr_loop_t *main_loop;

static void on_stop_signal(int sig)
{
    (void)sig;
    if (main_loop) gr_loop_stop(main_loop);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: gregord [server.properties] [--override key=value]...\n"
            "  With no file: a single broker on localhost:9092 with data in ./data.\n"
            "  Keys and defaults are Kafka's (see README.md, 'Configuration').\n"
            "  --print-apis   print the served APIs and versions as a Markdown table\n");
}

/* The README's table of supported APIs is this output, so it cannot drift
 * from what ApiVersions advertises (a test compares the two). */
static void print_apis(void)
{
    printf("| key | API | versions | flexible from |\n|---|---|---|---|\n");
    for (int i = 0; i < gr_api_schema_count; i++) {
        const gr_api_schema_t *s = &gr_api_schemas[i];
        if (!gr_api_handler(s->key)) continue;
        if (s->first_flexible <= s->max_version)
            printf("| %d | %s | %d-%d | %d |\n", s->key, s->name, s->min_version, s->max_version, s->first_flexible);
        else
            printf("| %d | %s | %d-%d | - |\n", s->key, s->name, s->min_version, s->max_version);
    }
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage();
            return 0;
        }
        if (!strcmp(argv[i], "--print-apis")) {
            print_apis();
            return 0;
        }
    }
    gr_broker_config_t cfg;
    char err[512];
    if (gr_broker_config_load(argc, argv, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "gregord: %s\n", err);
        return 2;
    }
    if (cfg.zookeeper_connect) {
        fprintf(stderr, "gregord: zookeeper.connect is set, but this build runs single-node only "
                        "(the ZooKeeper metadata store is not built yet)\n");
        return 2;
    }
    /* Every partition keeps its active segment and indexes open, like
     * Kafka: raise the soft fd limit to the hard one rather than fail at
     * a few hundred partitions. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int rc = 1;
    gr_broker_t *broker = NULL;
    gr_server_t *server = NULL;
    gr_coordinator_t *coordinator = NULL;
    main_loop = gr_loop_new();
    if (!main_loop) goto out;
    if (gr_broker_open(&cfg, main_loop, &broker) < 0) goto out;
    /* Groups are rebuilt from __consumer_offsets before the listener opens,
     * so no group request sees a half-loaded coordinator. */
    gr_coordinator_config_t ccfg;
    gr_coordinator_config_from_broker(&ccfg, &cfg);
    if (gr_coordinator_new(broker, main_loop, &ccfg, &coordinator) < 0) goto out;
    if (gr_coordinator_load(coordinator) < 0) goto out;
    struct gr_server_config scfg = {
        .host = cfg.listener_host,
        .port = cfg.listener_port,
        .max_request_bytes = cfg.socket_request_max_bytes,
        .on_request = gr_api_dispatch,
        .app = broker,
    };
    server = gr_server_start(main_loop, &scfg);
    if (!server) goto out;
    int port = gr_server_port(server);
    if (gr_broker_start(broker, cfg.advertised_port ? cfg.advertised_port : port) < 0) goto out;
    gr_info("gregord: broker %d listening on %s:%d (advertised %s:%d), data in %s", cfg.broker_id,
            cfg.listener_host && cfg.listener_host[0] ? cfg.listener_host : "*", port, broker->advertised_host,
            broker->advertised_port, cfg.log_dir);
    rc = gr_loop_run(main_loop) < 0 ? 1 : 0;
    gr_info("gregord: shutting down");
out:
    if (server) gr_server_stop(server);
    /* Parked joins and syncs are answered (their connections are gone) and
     * freed before the logs close. */
    gr_coordinator_close(coordinator);
    gr_broker_close(broker);
    gr_loop_free(main_loop);
    main_loop = NULL;
    gr_broker_config_free(&cfg);
    if (rc == 0) gr_info("gregord: stopped cleanly");
    return rc;
}
