/* Topic administration: CreateTopics, DeleteTopics, CreatePartitions.
 *
 * The registry (src/cluster/topics.h) does the work and the checks; its
 * listener opens or removes the partitions in the broker before the call
 * returns, so a topic is usable as soon as its result goes out.  Every error
 * a client can cause gets Kafka's code, a message (where the version carries
 * one) and a warning naming the peer. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

static gr_str_t arena_str(gr_request_t *req, const char *s)
{
    return s ? gr_str(gr_arena_strndup(&req->arena, s, strlen(s))) : GR_STR_NULL;
}

/* The registry's message, or the generic text of the error if it left none. */
static const char *err_text(int rc, const char *err) { return err[0] ? err : gr_strerror(rc); }

/* Printable, bounded name for logs (names from the wire may be anything). */
#define NAME_FMT "'%.*s'"
#define NAME_ARG(s) ((s).len > 0 ? ((s).len > 255 ? 255 : (int)(s).len) : 0), ((s).ptr ? (s).ptr : "")

static bool same_str(gr_str_t a, gr_str_t b)
{
    return a.len == b.len && (a.len <= 0 || memcmp(a.ptr, b.ptr, (size_t)a.len) == 0);
}

/* ------------------------------------------------------------ CreateTopics */

typedef struct cfg_collect {
    gr_request_t *req;
    gr_CreateTopicsResponse_CreatableTopicConfigs *v;
    int32_t n, cap;
} cfg_collect_t;

static void collect_config(void *arg, const gr_config_entry_t *e)
{
    cfg_collect_t *c = arg;
    if (c->n == c->cap) {
        int32_t cap = c->cap ? c->cap * 2 : 64;
        gr_CreateTopicsResponse_CreatableTopicConfigs *v;
        GR_API_ALLOC(c->req, v, cap);
        if (!v) return;
        if (c->n) memcpy(v, c->v, (size_t)c->n * sizeof *v);
        c->v = v;
        c->cap = cap;
    }
    gr_CreateTopicsResponse_CreatableTopicConfigs *o = &c->v[c->n++];
    gr_CreateTopicsResponse_CreatableTopicConfigs_init(o);
    o->Name = arena_str(c->req, e->name);
    o->Value = e->sensitive ? GR_STR_NULL : arena_str(c->req, e->value);
    o->ReadOnly = e->read_only;
    o->ConfigSource = e->source;
    o->IsSensitive = e->sensitive;
}

/* Checks the explicit assignment of one topic and turns it into the
 * registry's form (assignment[p] for p in 0..n-1).  Returns 0, or a Kafka
 * code with *msg set. */
static int16_t build_assignment(gr_request_t *req, const gr_CreateTopicsRequest_CreatableTopic *rt,
                                int32_t ***out, int16_t *rf, const char **msg)
{
    int32_t n = rt->Assignments_count;
    int32_t **a;
    GR_API_ALLOC(req, a, n);
    if (!a) {
        *msg = "out of memory";
        return GR_KERR_UNKNOWN_SERVER_ERROR;
    }
    for (int32_t i = 0; i < n; i++) {
        const gr_CreateTopicsRequest_CreatableReplicaAssignment *ra = &rt->Assignments[i];
        if (ra->PartitionIndex < 0 || ra->PartitionIndex >= n || a[ra->PartitionIndex]) {
            *msg = "Partitions should be a consecutive 0-based integer sequence";
            return GR_KERR_INVALID_REPLICA_ASSIGNMENT;
        }
        if (ra->BrokerIds_count <= 0) {
            *msg = gr_arena_printf(&req->arena, "Partition %d has an empty replica list", ra->PartitionIndex);
            return GR_KERR_INVALID_REPLICA_ASSIGNMENT;
        }
        if (ra->BrokerIds_count != rt->Assignments[0].BrokerIds_count) {
            *msg = "All partitions should have the same number of replicas";
            return GR_KERR_INVALID_REPLICA_ASSIGNMENT;
        }
        a[ra->PartitionIndex] = ra->BrokerIds;
    }
    if (rt->Assignments[0].BrokerIds_count > INT16_MAX) {
        *msg = "Replication factor too large";
        return GR_KERR_INVALID_REPLICATION_FACTOR;
    }
    *rf = (int16_t)rt->Assignments[0].BrokerIds_count;
    *out = a;
    return GR_KERR_NONE;
}

static void create_one(gr_broker_t *b, gr_request_t *req, const gr_CreateTopicsRequest_CreatableTopic *rt,
                       bool validate_only, gr_CreateTopicsResponse_CreatableTopicResult *res)
{
    const char *msg = NULL;
    int16_t code = GR_KERR_NONE;
    char err[512] = "";
    char *name = NULL;
    gr_config_kv_t *kv = NULL;
    int32_t **assignment = NULL;
    int16_t rf = rt->ReplicationFactor;
    int32_t partitions = rt->NumPartitions;

    /* The registry checks names and says why; a NUL would cut the C string
     * short, so that one is caught here. */
    if (rt->Name.len < 0 || (rt->Name.len > 0 && memchr(rt->Name.ptr, 0, (size_t)rt->Name.len))) {
        code = GR_KERR_INVALID_TOPIC_EXCEPTION;
        msg = "Topic name is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'";
        goto fail;
    }
    name = gr_api_cstr(req, rt->Name);
    GR_API_ALLOC(req, kv, rt->Configs_count);
    if (!name || !kv) {
        code = GR_KERR_UNKNOWN_SERVER_ERROR;
        msg = "out of memory";
        goto fail;
    }
    for (int32_t i = 0; i < rt->Configs_count; i++) {
        const gr_CreateTopicsRequest_CreatableTopicConfig *c = &rt->Configs[i];
        if (c->Value.len < 0) {
            code = GR_KERR_INVALID_CONFIG;
            msg = gr_arena_printf(&req->arena, "Null value not supported for topic configs: %.*s",
                                  NAME_ARG(c->Name));
            goto fail;
        }
        kv[i].key = gr_api_cstr(req, c->Name);
        kv[i].value = gr_api_cstr(req, c->Value);
    }
    if (rt->Assignments_count > 0) {
        if (rt->NumPartitions != -1 || rt->ReplicationFactor != -1) {
            code = GR_KERR_INVALID_REQUEST;
            msg = "Both numPartitions or replicationFactor and replicasAssignments were set. "
                  "Both cannot be used at the same time.";
            goto fail;
        }
        code = build_assignment(req, rt, &assignment, &rf, &msg);
        if (code != GR_KERR_NONE) goto fail;
        partitions = rt->Assignments_count;
    }

    const gr_topic_t *topic = NULL;
    int rc;
    if (assignment)
        rc = gr_topics_create_assigned(b->topics, name, partitions, rf, (const int32_t *const *)assignment, kv,
                                       rt->Configs_count, validate_only, &topic, err, sizeof err);
    else
        rc = gr_topics_create(b->topics, name, partitions, rf, kv, rt->Configs_count, validate_only, &topic, err,
                              sizeof err);
    if (rc < 0) {
        code = gr_error_to_kafka(rc);
        msg = gr_arena_strndup(&req->arena, err_text(rc, err), strlen(err_text(rc, err)));
        goto fail;
    }

    res->ErrorCode = GR_KERR_NONE;
    res->ErrorMessage = GR_STR_NULL;
    if (req->api_version < 5) return;
    cfg_collect_t cc = {.req = req};
    if (topic) {
        res->TopicId = topic->id;
        res->NumPartitions = topic->partition_count;
        res->ReplicationFactor = topic->replication_factor;
        gr_topics_describe_configs(b->topics, topic, collect_config, &cc);
    } else {
        /* validate_only: what the topic would have been. */
        res->NumPartitions = partitions == -1 ? b->cfg->num_partitions : partitions;
        res->ReplicationFactor = rf == -1 ? b->cfg->default_replication_factor : rf;
        gr_topic_config_describe(b->cfg, kv, rt->Configs_count, collect_config, &cc);
    }
    res->Configs = cc.v;
    res->Configs_count = cc.n;
    return;

fail:
    res->ErrorCode = code;
    res->ErrorMessage = gr_str(msg);
    res->NumPartitions = -1;
    res->ReplicationFactor = -1;
    res->Configs_count = -1;
    gr_warn("conn %s: CreateTopics " NAME_FMT "%s: %s: %s", gr_conn_peer(req->conn), NAME_ARG(rt->Name),
            validate_only ? " (validate only)" : "", gr_kafka_error_name(code), msg);
}

void gr_api_create_topics(gr_broker_t *b, gr_request_t *req)
{
    gr_CreateTopicsRequest in;
    GR_API_DECODE(req, CreateTopicsRequest, &in);
    gr_CreateTopicsResponse out;
    gr_CreateTopicsResponse_init(&out);
    GR_API_ALLOC(req, out.Topics, in.Topics_count);
    out.Topics_count = in.Topics_count;
    for (int32_t i = 0; i < in.Topics_count; i++) {
        gr_CreateTopicsRequest_CreatableTopic *rt = &in.Topics[i];
        gr_CreateTopicsResponse_CreatableTopicResult *res = &out.Topics[i];
        gr_CreateTopicsResponse_CreatableTopicResult_init(res);
        res->Name = rt->Name;
        bool dup = false;
        for (int32_t j = 0; j < in.Topics_count && !dup; j++)
            dup = j != i && same_str(in.Topics[j].Name, rt->Name);
        if (dup) {
            /* Kafka answers every entry of a repeated name this way and creates none. */
            res->ErrorCode = GR_KERR_INVALID_REQUEST;
            res->ErrorMessage = gr_str("Found multiple entries for this topic.");
            res->Configs_count = -1;
            gr_warn("conn %s: CreateTopics names " NAME_FMT " more than once: INVALID_REQUEST",
                    gr_conn_peer(req->conn), NAME_ARG(rt->Name));
            continue;
        }
        create_one(b, req, rt, in.ValidateOnly, res);
    }
    GR_API_RESPOND(req, CreateTopicsResponse, &out);
}

/* ------------------------------------------------------------ DeleteTopics */

static void delete_fail(gr_request_t *req, gr_DeleteTopicsResponse_DeletableTopicResult *res, int16_t code,
                        const char *msg)
{
    res->ErrorCode = code;
    res->ErrorMessage = gr_str(msg);
    if (res->Name.len >= 0)
        gr_warn("conn %s: DeleteTopics " NAME_FMT ": %s: %s", gr_conn_peer(req->conn), NAME_ARG(res->Name),
                gr_kafka_error_name(code), msg);
    else {
        char id[23];
        gr_topic_id_format(&res->TopicId, id);
        gr_warn("conn %s: DeleteTopics id %s: %s: %s", gr_conn_peer(req->conn), id, gr_kafka_error_name(code),
                msg);
    }
}

void gr_api_delete_topics(gr_broker_t *b, gr_request_t *req)
{
    gr_DeleteTopicsRequest in;
    GR_API_DECODE(req, DeleteTopicsRequest, &in);
    gr_DeleteTopicsResponse out;
    gr_DeleteTopicsResponse_init(&out);
    bool v6 = req->api_version >= 6;
    int32_t n = v6 ? in.Topics_count : in.TopicNames_count;
    GR_API_ALLOC(req, out.Responses, n);
    out.Responses_count = n;

    for (int32_t i = 0; i < n; i++) {
        gr_DeleteTopicsResponse_DeletableTopicResult *res = &out.Responses[i];
        gr_DeleteTopicsResponse_DeletableTopicResult_init(res);
        gr_str_t name = v6 ? in.Topics[i].Name : in.TopicNames[i];
        gr_uuid_t id = {{0}};
        if (v6) id = in.Topics[i].TopicId;
        res->Name = name;
        res->TopicId = id;
        res->ErrorMessage = GR_STR_NULL;

        if (!b->cfg->delete_topic_enable) {
            /* Kafka: INVALID_REQUEST before v3, which lacks the dedicated code. */
            delete_fail(req, res, req->api_version < 3 ? GR_KERR_INVALID_REQUEST : GR_KERR_TOPIC_DELETION_DISABLED,
                        "Topic deletion is disabled (delete.topic.enable=false).");
            continue;
        }
        if (name.len >= 0 && !gr_uuid_is_zero(&id)) {
            delete_fail(req, res, GR_KERR_INVALID_REQUEST, "Topic name and topic ID can not both be specified.");
            continue;
        }
        const gr_topic_t *t;
        if (name.len < 0) {
            t = gr_topics_find_by_id(b->topics, &id);
            if (!t) {
                delete_fail(req, res, GR_KERR_UNKNOWN_TOPIC_ID, "This server does not host this topic ID.");
                continue;
            }
            res->Name = arena_str(req, t->name);
        } else {
            t = name.len > 0 ? gr_topics_find(b->topics, name.ptr, (size_t)name.len) : NULL;
            if (!t) {
                /* The same name twice in one request: the first entry deleted it. */
                bool done = false;
                for (int32_t j = 0; j < i && !done; j++)
                    done = out.Responses[j].ErrorCode == GR_KERR_NONE && same_str(out.Responses[j].Name, name);
                if (done) continue;
                delete_fail(req, res, GR_KERR_UNKNOWN_TOPIC_OR_PARTITION,
                            "This server does not host this topic-partition.");
                continue;
            }
        }
        res->TopicId = t->id;
        /* Kafka's broker deletes internal topics too (only its CLI refuses). */
        char *cname = gr_arena_strndup(&req->arena, t->name, strlen(t->name));
        int rc = cname ? gr_topics_delete(b->topics, cname) : GR_ENOMEM;
        if (rc == GR_ENOTFOUND) {
            delete_fail(req, res, GR_KERR_UNKNOWN_TOPIC_OR_PARTITION, "This server does not host this topic-partition.");
        } else if (rc < 0) {
            gr_error("DeleteTopics %s: %s", t->name, gr_strerror(rc));
            delete_fail(req, res, gr_error_to_kafka(rc), gr_strerror(rc));
        }
    }
    GR_API_RESPOND(req, DeleteTopicsResponse, &out);
}

/* -------------------------------------------------------- CreatePartitions */

static bool live_broker(const int32_t *ids, int n, int32_t id)
{
    for (int i = 0; i < n; i++)
        if (ids[i] == id) return true;
    return false;
}

/* Kafka's checks of an explicit assignment for the new partitions; we place
 * them ourselves afterwards (on one broker every valid assignment is the
 * same).  Returns a Kafka code with *msg set on error. */
static int16_t check_new_assignment(gr_broker_t *b, gr_request_t *req, const gr_topic_t *t,
                                    const gr_CreatePartitionsRequest_CreatePartitionsTopic *rt, const char **msg)
{
    int32_t inc = rt->Count - t->partition_count;
    if (rt->Assignments_count != inc) {
        *msg = gr_arena_printf(&req->arena, "Increasing the number of partitions by %d but %d assignments provided.",
                               inc, rt->Assignments_count);
        return GR_KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    int32_t *live = NULL;
    int nlive = 0;
    if (gr_topics_live_brokers(b->topics, &live, &nlive) < 0) {
        *msg = "cannot list live brokers";
        return GR_KERR_UNKNOWN_SERVER_ERROR;
    }
    int16_t code = GR_KERR_NONE;
    for (int32_t i = 0; i < rt->Assignments_count && code == GR_KERR_NONE; i++) {
        const gr_CreatePartitionsRequest_CreatePartitionsAssignment *a = &rt->Assignments[i];
        int32_t p = t->partition_count + i;
        if (a->BrokerIds_count != t->replication_factor) {
            *msg = gr_arena_printf(&req->arena,
                                   "Inconsistent replication factor between partitions, partition 0 has %d while "
                                   "partition %d has replication factor %d.",
                                   t->replication_factor, p, a->BrokerIds_count);
            code = GR_KERR_INVALID_REPLICA_ASSIGNMENT;
        }
        for (int32_t j = 0; j < a->BrokerIds_count && code == GR_KERR_NONE; j++) {
            if (!live_broker(live, nlive, a->BrokerIds[j])) {
                *msg = gr_arena_printf(&req->arena, "Unknown broker(s) in replica assignment: %d.", a->BrokerIds[j]);
                code = GR_KERR_INVALID_REPLICA_ASSIGNMENT;
            }
            for (int32_t k = 0; k < j && code == GR_KERR_NONE; k++)
                if (a->BrokerIds[k] == a->BrokerIds[j]) {
                    *msg = gr_arena_printf(&req->arena,
                                           "Duplicate brokers not allowed in replica assignment: %d for partition %d.",
                                           a->BrokerIds[j], p);
                    code = GR_KERR_INVALID_REPLICA_ASSIGNMENT;
                }
        }
    }
    free(live);
    return code;
}

void gr_api_create_partitions(gr_broker_t *b, gr_request_t *req)
{
    gr_CreatePartitionsRequest in;
    GR_API_DECODE(req, CreatePartitionsRequest, &in);
    gr_CreatePartitionsResponse out;
    gr_CreatePartitionsResponse_init(&out);
    GR_API_ALLOC(req, out.Results, in.Topics_count);
    out.Results_count = in.Topics_count;

    for (int32_t i = 0; i < in.Topics_count; i++) {
        gr_CreatePartitionsRequest_CreatePartitionsTopic *rt = &in.Topics[i];
        gr_CreatePartitionsResponse_CreatePartitionsTopicResult *res = &out.Results[i];
        gr_CreatePartitionsResponse_CreatePartitionsTopicResult_init(res);
        res->Name = rt->Name;
        res->ErrorMessage = GR_STR_NULL;
        int16_t code = GR_KERR_NONE;
        const char *msg = NULL;
        char err[512] = "";

        bool dup = false;
        for (int32_t j = 0; j < in.Topics_count && !dup; j++)
            dup = j != i && same_str(in.Topics[j].Name, rt->Name);
        const gr_topic_t *t = rt->Name.len > 0 ? gr_topics_find(b->topics, rt->Name.ptr, (size_t)rt->Name.len) : NULL;
        if (dup) {
            code = GR_KERR_INVALID_REQUEST;
            msg = "Duplicate topic in request.";
        } else if (!t) {
            code = GR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            msg = gr_arena_printf(&req->arena, "The topic '%.*s' does not exist.", NAME_ARG(rt->Name));
        } else if (rt->Assignments_count >= 0 && rt->Count > t->partition_count) {
            code = check_new_assignment(b, req, t, rt, &msg);
        }
        if (code == GR_KERR_NONE) {
            int rc = gr_topics_add_partitions(b->topics, t->name, rt->Count, in.ValidateOnly, err, sizeof err);
            if (rc < 0) {
                code = gr_error_to_kafka(rc);
                msg = gr_arena_strndup(&req->arena, err_text(rc, err), strlen(err_text(rc, err)));
            }
        }
        if (code != GR_KERR_NONE) {
            res->ErrorCode = code;
            res->ErrorMessage = gr_str(msg);
            gr_warn("conn %s: CreatePartitions " NAME_FMT " to %d%s: %s: %s", gr_conn_peer(req->conn),
                    NAME_ARG(rt->Name), rt->Count, in.ValidateOnly ? " (validate only)" : "",
                    gr_kafka_error_name(code), msg);
        }
    }
    GR_API_RESPOND(req, CreatePartitionsResponse, &out);
}
