/* DescribeCluster (this broker is the whole cluster and its controller) and
 * DescribeLogDirs (the one log directory, its partitions' sizes and, from
 * v4, the file system's total and usable bytes). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "api/api.h"

/* DescribeCluster v1 EndpointType (KIP-919) and the codes Kafka answers a
 * wrong one with (Errors.java; not in protocol/errors.h). */
enum { ENDPOINT_BROKER = 1, ENDPOINT_CONTROLLER = 2 };
#define KERR_MISMATCHED_ENDPOINT_TYPE 114
#define KERR_UNSUPPORTED_ENDPOINT_TYPE 115

/* AclOperation codes Kafka reports for the CLUSTER resource when no
 * authorizer is configured (everything allowed): CREATE 5, ALTER 7,
 * DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11,
 * IDEMPOTENT_WRITE 12. */
#define CLUSTER_OPS ((1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12))

void gr_api_describe_cluster(gr_broker_t *b, gr_request_t *req)
{
    gr_DescribeClusterRequest in;
    GR_API_DECODE(req, DescribeClusterRequest, &in);
    gr_DescribeClusterResponse out;
    gr_DescribeClusterResponse_init(&out);
    out.ErrorMessage = GR_STR_NULL;
    out.EndpointType = ENDPOINT_BROKER;
    out.ClusterId = gr_str(gr_topics_cluster_id(b->topics));

    if (req->api_version >= 1 && in.EndpointType != ENDPOINT_BROKER) {
        out.ErrorCode = in.EndpointType == ENDPOINT_CONTROLLER ? KERR_MISMATCHED_ENDPOINT_TYPE
                                                               : KERR_UNSUPPORTED_ENDPOINT_TYPE;
        out.ErrorMessage = in.EndpointType == ENDPOINT_CONTROLLER
                               ? gr_str("The request was sent to an endpoint of type BROKER, but we wanted an "
                                        "endpoint of type CONTROLLER")
                               : gr_str(gr_arena_printf(&req->arena, "Unsupported endpoint type %d", in.EndpointType));
        gr_warn("conn %s: DescribeCluster for endpoint type %d: %s", gr_conn_peer(req->conn), in.EndpointType,
                out.ErrorMessage.ptr);
        GR_API_RESPOND(req, DescribeClusterResponse, &out);
        return;
    }

    GR_API_ALLOC(req, out.Brokers, 1);
    out.Brokers_count = 1;
    gr_DescribeClusterResponse_DescribeClusterBroker_init(&out.Brokers[0]);
    out.Brokers[0].BrokerId = b->cfg->broker_id;
    out.Brokers[0].Host = gr_str(b->advertised_host);
    out.Brokers[0].Port = b->advertised_port;
    out.Brokers[0].Rack = GR_STR_NULL;
    out.ControllerId = b->cfg->broker_id;
    if (in.IncludeClusterAuthorizedOperations) out.ClusterAuthorizedOperations = CLUSTER_OPS;
    GR_API_RESPOND(req, DescribeClusterResponse, &out);
}

/* --------------------------------------------------------- DescribeLogDirs */

typedef gr_DescribeLogDirsResponse_DescribeLogDirsTopic dirtopic_t;

static bool partition_wanted(const gr_DescribeLogDirsRequest_DescribableLogDirTopic *rt, int32_t index)
{
    for (int32_t i = 0; i < rt->Partitions_count; i++)
        if (rt->Partitions[i] == index) return true;
    return false;
}

/* Fills `dt` with the partitions of `t` (all, or those `rt` lists); false if
 * none qualified (Kafka leaves such a topic out). */
static bool fill_topic(gr_request_t *req, gr_broker_topic_t *t, const gr_DescribeLogDirsRequest_DescribableLogDirTopic *rt,
                       dirtopic_t *dt)
{
    gr_DescribeLogDirsResponse_DescribeLogDirsTopic_init(dt);
    dt->Name = gr_str(t->name);
    GR_API_ALLOC(req, dt->Partitions, t->npartitions);
    if (!dt->Partitions) return false;
    for (int32_t i = 0; i < t->npartitions; i++) {
        if (rt && !partition_wanted(rt, i)) continue;
        gr_DescribeLogDirsResponse_DescribeLogDirsPartition *dp = &dt->Partitions[dt->Partitions_count++];
        gr_DescribeLogDirsResponse_DescribeLogDirsPartition_init(dp);
        dp->PartitionIndex = i;
        dp->PartitionSize = gr_log_size_bytes(t->partitions[i]->log);
        dp->OffsetLag = 0;
        dp->IsFutureKey = false;
    }
    return dt->Partitions_count > 0;
}

typedef struct all_ctx {
    gr_request_t *req;
    gr_DescribeLogDirsResponse_DescribeLogDirsResult *res;
} all_ctx_t;

static void add_topic(void *arg, gr_broker_topic_t *t)
{
    all_ctx_t *c = arg;
    if (fill_topic(c->req, t, NULL, &c->res->Topics[c->res->Topics_count])) c->res->Topics_count++;
}

void gr_api_describe_log_dirs(gr_broker_t *b, gr_request_t *req)
{
    gr_DescribeLogDirsRequest in;
    GR_API_DECODE(req, DescribeLogDirsRequest, &in);
    gr_DescribeLogDirsResponse out;
    gr_DescribeLogDirsResponse_init(&out);
    GR_API_ALLOC(req, out.Results, 1);
    out.Results_count = 1;
    gr_DescribeLogDirsResponse_DescribeLogDirsResult *res = &out.Results[0];
    gr_DescribeLogDirsResponse_DescribeLogDirsResult_init(res);

    char path[PATH_MAX];
    if (!realpath(b->cfg->log_dir, path)) {
        gr_error("DescribeLogDirs: log directory %s is not accessible", b->cfg->log_dir);
        res->ErrorCode = GR_KERR_KAFKA_STORAGE_ERROR;
        res->LogDir = gr_str(b->cfg->log_dir);
        GR_API_RESPOND(req, DescribeLogDirsResponse, &out);
        return;
    }
    res->LogDir = gr_str(gr_arena_strndup(&req->arena, path, strlen(path)));
    struct statvfs sv;
    if (statvfs(path, &sv) == 0) {
        res->TotalBytes = (int64_t)sv.f_blocks * (int64_t)sv.f_frsize;
        res->UsableBytes = (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
    }

    if (in.Topics_count < 0) {
        GR_API_ALLOC(req, res->Topics, b->map_count);
        all_ctx_t c = {req, res};
        if (res->Topics) gr_broker_foreach_topic(b, add_topic, &c);
    } else {
        GR_API_ALLOC(req, res->Topics, in.Topics_count);
        for (int32_t i = 0; i < in.Topics_count && res->Topics; i++) {
            gr_DescribeLogDirsRequest_DescribableLogDirTopic *rt = &in.Topics[i];
            /* A topic named twice is listed once. */
            bool seen = false;
            for (int32_t j = 0; j < i && !seen; j++)
                seen = in.Topics[j].Topic.len == rt->Topic.len &&
                       memcmp(in.Topics[j].Topic.ptr, rt->Topic.ptr, (size_t)(rt->Topic.len > 0 ? rt->Topic.len : 0)) == 0;
            gr_broker_topic_t *t = rt->Topic.len > 0 ? gr_broker_topic(b, rt->Topic.ptr, (size_t)rt->Topic.len) : NULL;
            /* Kafka lists only what the directory holds: unknown topics are left out. */
            if (!seen && t && fill_topic(req, t, rt, &res->Topics[res->Topics_count])) res->Topics_count++;
        }
    }
    GR_API_RESPOND(req, DescribeLogDirsResponse, &out);
}
