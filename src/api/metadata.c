/* Metadata: this broker, and every requested topic with its partitions.  On a
 * single broker this broker leads every partition, with itself as the only
 * replica and in-sync replica. */
#include <string.h>

#include "api/api.h"

static void fill_topic(gr_broker_t *b, gr_request_t *req, gr_MetadataResponse_MetadataResponseTopic *mt,
                       gr_broker_topic_t *t)
{
    mt->ErrorCode = GR_KERR_NONE;
    mt->Name = gr_str(t->name);
    mt->TopicId = t->id;
    mt->IsInternal = t->internal;
    mt->Partitions_count = t->npartitions;
    GR_API_ALLOC(req, mt->Partitions, t->npartitions);
    int32_t *self;
    GR_API_ALLOC(req, self, 1);
    if (!mt->Partitions || !self) {
        mt->Partitions_count = 0;
        mt->ErrorCode = GR_KERR_UNKNOWN_SERVER_ERROR;
        return;
    }
    *self = b->cfg->broker_id;
    for (int32_t i = 0; i < t->npartitions; i++) {
        gr_MetadataResponse_MetadataResponsePartition *mp = &mt->Partitions[i];
        mp->ErrorCode = GR_KERR_NONE;
        mp->PartitionIndex = i;
        mp->LeaderId = b->cfg->broker_id;
        mp->LeaderEpoch = t->partitions[i]->leader_epoch;
        mp->ReplicaNodes = self;
        mp->ReplicaNodes_count = 1;
        mp->IsrNodes = self;
        mp->IsrNodes_count = 1;
        mp->OfflineReplicas_count = 0;
    }
}

typedef struct all_ctx {
    gr_broker_t *b;
    gr_request_t *req;
    gr_MetadataResponse *out;
} all_ctx_t;

static void add_any(void *arg, gr_broker_topic_t *t)
{
    all_ctx_t *c = arg;
    fill_topic(c->b, c->req, &c->out->Topics[c->out->Topics_count++], t);
}

void gr_api_metadata(gr_broker_t *b, gr_request_t *req)
{
    gr_MetadataRequest in;
    GR_API_DECODE(req, MetadataRequest, &in);
    gr_MetadataResponse out;
    gr_MetadataResponse_init(&out);

    GR_API_ALLOC(req, out.Brokers, 1);
    out.Brokers_count = 1;
    out.Brokers[0].NodeId = b->cfg->broker_id;
    out.Brokers[0].Host = gr_str(b->advertised_host);
    out.Brokers[0].Port = b->advertised_port;
    out.Brokers[0].Rack = GR_STR_NULL;
    out.ClusterId = gr_str(gr_topics_cluster_id(b->topics));
    out.ControllerId = b->cfg->broker_id;

    /* v0: an empty list means all topics; v1+: null means all. */
    bool all = in.Topics_count < 0 || (req->api_version == 0 && in.Topics_count == 0);
    if (all) {
        GR_API_ALLOC(req, out.Topics, b->map_count);
        all_ctx_t c = {b, req, &out};
        gr_broker_foreach_topic(b, add_any, &c);
    } else {
        GR_API_ALLOC(req, out.Topics, in.Topics_count);
        out.Topics_count = in.Topics_count;
        /* v0-3 have no flag: those clients always allowed auto-creation. */
        bool may_create = req->api_version < 4 || in.AllowAutoTopicCreation;
        for (int32_t i = 0; i < in.Topics_count; i++) {
            gr_MetadataRequest_MetadataRequestTopic *rt = &in.Topics[i];
            gr_MetadataResponse_MetadataResponseTopic *mt = &out.Topics[i];
            mt->Name = rt->Name;
            mt->TopicId = rt->TopicId;
            gr_broker_topic_t *t = NULL;
            if (rt->Name.len < 0) {
                t = gr_broker_topic_by_id(b, &rt->TopicId);
                if (!t) mt->ErrorCode = GR_KERR_UNKNOWN_TOPIC_ID;
            } else {
                t = gr_broker_topic(b, rt->Name.ptr, (size_t)rt->Name.len);
                if (!t && !gr_topic_name_valid(rt->Name.ptr, (size_t)rt->Name.len)) {
                    mt->ErrorCode = GR_KERR_INVALID_TOPIC_EXCEPTION;
                    gr_warn("conn %s: Metadata for invalid topic name '%.*s'", gr_conn_peer(req->conn),
                            rt->Name.len > 255 ? 255 : (int)rt->Name.len, rt->Name.ptr);
                } else if (!t && may_create) {
                    t = gr_broker_auto_create(b, rt->Name.ptr, (size_t)rt->Name.len, &mt->ErrorCode);
                } else if (!t) {
                    mt->ErrorCode = GR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                }
                if (!t && mt->ErrorCode == GR_KERR_UNKNOWN_TOPIC_OR_PARTITION)
                    gr_info("conn %s: Metadata for unknown topic '%.*s' (auto-creation %s)", gr_conn_peer(req->conn),
                            rt->Name.len > 255 ? 255 : (int)rt->Name.len, rt->Name.ptr,
                            may_create ? "disabled by auto.create.topics.enable" : "not requested");
            }
            if (t) fill_topic(b, req, mt, t);
        }
    }
    GR_API_RESPOND(req, MetadataResponse, &out);
}
