/* The consumer-group APIs: FindCoordinator, JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, ListGroups,
 * DescribeGroups, DeleteGroups, OffsetDelete.
 *
 * Handlers validate and route (src/group/coordinator.h), then hand the
 * request to the group state machine.  JoinGroup and SyncGroup park their
 * request behind a waiter the group calls when the rebalance gets there; an
 * OffsetCommit parks only when the flush policy wants the write fsynced
 * before the acknowledgement (as a durable produce does). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/api.h"
#include "group/coordinator.h"

/* Kafka's client host: "/" + the peer's address without the port. */
static const char *client_host(gr_request_t *req)
{
    const char *peer = gr_conn_peer(req->conn);
    const char *colon = strrchr(peer, ':');
    size_t len = colon ? (size_t)(colon - peer) : strlen(peer);
    return gr_arena_printf(&req->arena, "/%.*s", (int)len, peer);
}

static gr_str_t cstr_or_null(const char *s) { return s ? gr_str(s) : GR_STR_NULL; }

/* Routing for a group request: NONE or the Kafka error.  Empty group ids
 * are rejected by the callers that require one (as Kafka's isValidGroupId). */
static int16_t route(gr_coordinator_t *co, gr_str_t id, int32_t *partition)
{
    if (!co) return GR_KERR_COORDINATOR_NOT_AVAILABLE;
    return gr_coordinator_route(co, id, partition);
}

/* Kafka's isValidGroupId: groups using the broker for coordination need a
 * non-empty id; OffsetCommit, OffsetFetch, DescribeGroups and DeleteGroups
 * accept "" for backwards compatibility (only null is invalid). */
typedef enum group_id_rule { GROUP_ID_NON_EMPTY, GROUP_ID_MAY_BE_EMPTY } group_id_rule_t;

/* The error every group API answers before looking at the group:
 * INVALID_GROUP_ID, or routing's (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE,
 * COORDINATOR_LOAD_IN_PROGRESS); NONE when this broker serves the group. */
static int16_t validate_and_route(gr_coordinator_t *co, gr_str_t id, group_id_rule_t rule, int32_t *partition)
{
    bool valid = rule == GROUP_ID_MAY_BE_EMPTY ? id.len >= 0 : id.len > 0;
    if (!valid) return GR_KERR_INVALID_GROUP_ID;
    return route(co, id, partition);
}

/* The group a request names, NULL with *err set when it cannot be served
 * here (as validate_and_route), or NULL with *err NONE when it does not
 * exist: each API has its own answer for that. */
static gr_group_t *find_routed_group(gr_coordinator_t *co, gr_str_t id, group_id_rule_t rule, int16_t *err)
{
    *err = validate_and_route(co, id, rule, NULL);
    return *err ? NULL : gr_coordinator_find(co, id);
}

/* Offsets written in one go (OffsetCommit, OffsetDelete), each with the
 * response error code that reports a failed write. */
typedef struct offset_writes {
    gr_commit_entry_t *entries;
    int16_t **error_codes;
    int n;
} offset_writes_t;

static void offset_writes_alloc(gr_request_t *req, offset_writes_t *w, int capacity)
{
    GR_API_ALLOC(req, w->entries, capacity);
    GR_API_ALLOC(req, w->error_codes, capacity);
    w->n = 0;
}

static void offset_writes_add(offset_writes_t *w, gr_commit_entry_t entry, int16_t *error_code)
{
    w->entries[w->n] = entry;
    w->error_codes[w->n++] = error_code;
}

/* A failed store fails every offset of the request the same way. */
static void offset_writes_failed(offset_writes_t *w, int rc)
{
    for (int i = 0; i < w->n; i++) *w->error_codes[i] = gr_error_to_kafka(rc);
}

/* --- FindCoordinator --- */

static void find_one(gr_broker_t *b, gr_coordinator_t *co, gr_str_t key, int8_t key_type, int16_t *err,
                     int32_t *node, gr_str_t *host, int32_t *port, gr_str_t *msg)
{
    *node = -1;
    *host = gr_str("");
    *port = -1;
    *msg = GR_STR_NULL;
    if (key_type == 1) {
        *err = GR_KERR_COORDINATOR_NOT_AVAILABLE;
        *msg = gr_str("transactions are not supported");
        return;
    }
    if (key_type != 0) {
        *err = GR_KERR_INVALID_REQUEST;
        return;
    }
    int16_t e = route(co, key, NULL);
    if (e == GR_KERR_COORDINATOR_NOT_AVAILABLE || e == GR_KERR_NOT_COORDINATOR) {
        *err = GR_KERR_COORDINATOR_NOT_AVAILABLE;
        return;
    }
    /* Loading partitions are still ours: the client retries its group
     * requests on COORDINATOR_LOAD_IN_PROGRESS. */
    *err = GR_KERR_NONE;
    *node = b->cfg->broker_id;
    *host = gr_str(b->advertised_host);
    *port = b->advertised_port;
}

void gr_api_find_coordinator(gr_broker_t *b, gr_request_t *req)
{
    gr_FindCoordinatorRequest in;
    GR_API_DECODE(req, FindCoordinatorRequest, &in);
    gr_coordinator_t *co = gr_coordinator_of(b);
    gr_FindCoordinatorResponse out;
    gr_FindCoordinatorResponse_init(&out);
    if (req->api_version < 4) {
        find_one(b, co, in.Key, req->api_version >= 1 ? in.KeyType : 0, &out.ErrorCode, &out.NodeId, &out.Host,
                 &out.Port, &out.ErrorMessage);
    } else {
        out.Coordinators_count = in.CoordinatorKeys_count;
        GR_API_ALLOC(req, out.Coordinators, in.CoordinatorKeys_count);
        for (int32_t i = 0; i < in.CoordinatorKeys_count; i++) {
            gr_FindCoordinatorResponse_Coordinator *c = &out.Coordinators[i];
            gr_FindCoordinatorResponse_Coordinator_init(c);
            c->Key = in.CoordinatorKeys[i];
            find_one(b, co, c->Key, in.KeyType, &c->ErrorCode, &c->NodeId, &c->Host, &c->Port, &c->ErrorMessage);
        }
    }
    GR_API_RESPOND(req, FindCoordinatorResponse, &out);
}

/* --- JoinGroup --- */

typedef struct join_state {
    gr_group_join_waiter_t w;
    gr_request_t *req;
    const char *protocol;
    bool answered;
} join_state_t;

static void join_answer(gr_request_t *req, const gr_group_join_result_t *res)
{
    gr_JoinGroupResponse out;
    gr_JoinGroupResponse_init(&out);
    out.ErrorCode = res->error;
    out.GenerationId = res->generation;
    out.ProtocolType = cstr_or_null(res->protocol_type);
    out.ProtocolName = cstr_or_null(res->protocol_name);
    /* Before v7 the protocol name is not nullable. */
    if (req->api_version < 7 && out.ProtocolName.len < 0) out.ProtocolName = gr_str("");
    out.Leader = gr_str(res->leader_id ? res->leader_id : "");
    out.MemberId = gr_str(res->member_id ? res->member_id : "");
    out.SkipAssignment = res->skip_assignment;
    out.Members_count = res->nmembers;
    GR_API_ALLOC(req, out.Members, res->nmembers);
    for (int i = 0; i < res->nmembers; i++) {
        const gr_group_member_t *m = res->members[i];
        gr_JoinGroupResponse_JoinGroupResponseMember *om = &out.Members[i];
        om->MemberId = gr_str(m->member_id);
        om->GroupInstanceId = cstr_or_null(m->instance_id);
        om->Metadata = (gr_bytes_t){(const uint8_t *)"", 0};
        for (int j = 0; res->protocol_name && j < m->nprotocols; j++)
            if (!strcmp(m->protocols[j].name, res->protocol_name))
                om->Metadata = (gr_bytes_t){m->protocols[j].metadata, m->protocols[j].len};
    }
    /* Encoded now: the members' bytes belong to the group. */
    GR_API_RESPOND(req, JoinGroupResponse, &out);
}

static void join_done(gr_group_join_waiter_t *w, const gr_group_join_result_t *res)
{
    join_state_t *st = (join_state_t *)w;
    st->answered = true;
    join_answer(st->req, res);
}

static void join_error(gr_request_t *req, int16_t err, gr_str_t member_id)
{
    char *id = gr_api_cstr(req, member_id);
    gr_group_join_result_t res = {.error = err, .generation = -1, .member_id = id, .leader_id = ""};
    join_answer(req, &res);
}

void gr_api_join_group(gr_broker_t *b, gr_request_t *req)
{
    gr_JoinGroupRequest in;
    GR_API_DECODE(req, JoinGroupRequest, &in);
    gr_coordinator_t *co = gr_coordinator_of(b);
    int32_t partition;
    int16_t err;
    if ((err = validate_and_route(co, in.GroupId, GROUP_ID_NON_EMPTY, &partition)))
        return join_error(req, err, in.MemberId);
    if (in.SessionTimeoutMs < co->cfg.min_session_timeout_ms || in.SessionTimeoutMs > co->cfg.max_session_timeout_ms)
        return join_error(req, GR_KERR_INVALID_SESSION_TIMEOUT, in.MemberId);
    if (in.Protocols_count <= 0 || in.Protocols_count > GR_GROUP_MAX_PROTOCOLS || in.ProtocolType.len <= 0)
        return join_error(req, GR_KERR_INCONSISTENT_GROUP_PROTOCOL, in.MemberId);
    if (in.GroupId.len > GR_GROUP_MAX_ID_BYTES || in.MemberId.len > GR_GROUP_MAX_ID_BYTES ||
        in.GroupInstanceId.len > GR_GROUP_MAX_ID_BYTES) {
        gr_warn("join group from %s: ids over %d bytes", gr_conn_peer(req->conn), GR_GROUP_MAX_ID_BYTES);
        return join_error(req, GR_KERR_INVALID_REQUEST, in.MemberId);
    }
    gr_str_t *names;
    gr_bytes_t *meta;
    GR_API_ALLOC(req, names, in.Protocols_count);
    GR_API_ALLOC(req, meta, in.Protocols_count);
    for (int32_t i = 0; i < in.Protocols_count; i++) {
        names[i] = in.Protocols[i].Name;
        meta[i] = in.Protocols[i].Metadata;
        if (meta[i].len > GR_GROUP_MAX_METADATA_BYTES || names[i].len > 255) {
            gr_warn("join group %s from %s: protocol metadata of %d bytes exceeds %d", gr_api_cstr(req, in.GroupId),
                    gr_conn_peer(req->conn), meta[i].len, GR_GROUP_MAX_METADATA_BYTES);
            return join_error(req, GR_KERR_INVALID_REQUEST, in.MemberId);
        }
    }
    gr_group_t *group = in.MemberId.len > 0 ? gr_coordinator_find(co, in.GroupId)
                                           : gr_coordinator_get_or_create(co, in.GroupId, partition);
    if (!group)
        return join_error(req, in.MemberId.len > 0 ? GR_KERR_UNKNOWN_MEMBER_ID : GR_KERR_UNKNOWN_SERVER_ERROR,
                          in.MemberId);
    join_state_t *st;
    GR_API_ALLOC(req, st, 1);
    st->w.done = join_done;
    st->req = req;
    gr_group_join_args_t args = {
        .member_id = in.MemberId,
        .instance_id = req->api_version >= 5 ? in.GroupInstanceId : GR_STR_NULL,
        .client_id = req->client_id,
        .client_host = client_host(req),
        .session_timeout_ms = in.SessionTimeoutMs,
        .rebalance_timeout_ms = req->api_version >= 1 && in.RebalanceTimeoutMs > 0 ? in.RebalanceTimeoutMs
                                                                                   : in.SessionTimeoutMs,
        .protocol_type = in.ProtocolType,
        .nprotocols = in.Protocols_count,
        .protocol_names = names,
        .protocol_metadata = meta,
        .require_known_member_id = req->api_version >= 4,
        .support_skip_assignment = req->api_version >= 9,
    };
    gr_group_join(group, &args, &st->w);
    if (!st->answered) req->parked = st;
}

/* --- SyncGroup --- */

typedef struct sync_state {
    gr_group_sync_waiter_t w;
    gr_request_t *req;
    bool answered;
} sync_state_t;

static void sync_answer(gr_request_t *req, int16_t error, const char *ptype, const char *pname, const uint8_t *a,
                        int32_t len)
{
    gr_SyncGroupResponse out;
    gr_SyncGroupResponse_init(&out);
    out.ErrorCode = error;
    out.ProtocolType = cstr_or_null(ptype);
    out.ProtocolName = cstr_or_null(pname);
    out.Assignment = (gr_bytes_t){a ? a : (const uint8_t *)"", a ? len : 0};
    GR_API_RESPOND(req, SyncGroupResponse, &out);
}

static void sync_done(gr_group_sync_waiter_t *w, int16_t error, const char *ptype, const char *pname,
                      const uint8_t *a, int32_t len)
{
    sync_state_t *st = (sync_state_t *)w;
    st->answered = true;
    sync_answer(st->req, error, ptype, pname, a, len);
}

void gr_api_sync_group(gr_broker_t *b, gr_request_t *req)
{
    gr_SyncGroupRequest in;
    GR_API_DECODE(req, SyncGroupRequest, &in);
    gr_coordinator_t *co = gr_coordinator_of(b);
    int16_t err;
    gr_group_t *group = find_routed_group(co, in.GroupId, GROUP_ID_NON_EMPTY, &err);
    if (err) return sync_answer(req, err, NULL, NULL, NULL, 0);
    if (!group) return sync_answer(req, GR_KERR_UNKNOWN_MEMBER_ID, NULL, NULL, NULL, 0);
    gr_str_t *ids;
    gr_bytes_t *as;
    GR_API_ALLOC(req, ids, in.Assignments_count);
    GR_API_ALLOC(req, as, in.Assignments_count);
    for (int32_t i = 0; i < in.Assignments_count; i++) {
        ids[i] = in.Assignments[i].MemberId;
        as[i] = in.Assignments[i].Assignment;
        if (as[i].len > GR_GROUP_MAX_METADATA_BYTES) {
            gr_warn("sync group %s from %s: assignment of %d bytes exceeds %d", gr_api_cstr(req, in.GroupId),
                    gr_conn_peer(req->conn), as[i].len, GR_GROUP_MAX_METADATA_BYTES);
            return sync_answer(req, GR_KERR_INVALID_REQUEST, NULL, NULL, NULL, 0);
        }
    }
    sync_state_t *st;
    GR_API_ALLOC(req, st, 1);
    st->w.done = sync_done;
    st->req = req;
    gr_group_sync(group, in.MemberId, req->api_version >= 3 ? in.GroupInstanceId : GR_STR_NULL, in.GenerationId,
                  req->api_version >= 5 ? in.ProtocolType : GR_STR_NULL,
                  req->api_version >= 5 ? in.ProtocolName : GR_STR_NULL, in.Assignments_count, ids, as, &st->w);
    if (!st->answered) req->parked = st;
}

/* --- Heartbeat, LeaveGroup --- */

void gr_api_heartbeat(gr_broker_t *b, gr_request_t *req)
{
    gr_HeartbeatRequest in;
    GR_API_DECODE(req, HeartbeatRequest, &in);
    gr_coordinator_t *co = gr_coordinator_of(b);
    gr_HeartbeatResponse out;
    gr_HeartbeatResponse_init(&out);
    gr_group_t *group = find_routed_group(co, in.GroupId, GROUP_ID_NON_EMPTY, &out.ErrorCode);
    if (!out.ErrorCode)
        out.ErrorCode = group ? gr_group_heartbeat(group, in.MemberId,
                                                   req->api_version >= 3 ? in.GroupInstanceId : GR_STR_NULL,
                                                   in.GenerationId)
                              : GR_KERR_UNKNOWN_MEMBER_ID;
    GR_API_RESPOND(req, HeartbeatResponse, &out);
}

void gr_api_leave_group(gr_broker_t *b, gr_request_t *req)
{
    gr_LeaveGroupRequest in;
    GR_API_DECODE(req, LeaveGroupRequest, &in);
    gr_coordinator_t *co = gr_coordinator_of(b);
    gr_LeaveGroupResponse out;
    gr_LeaveGroupResponse_init(&out);
    gr_group_t *group = find_routed_group(co, in.GroupId, GROUP_ID_NON_EMPTY, &out.ErrorCode);
    if (req->api_version < 3) {
        if (!out.ErrorCode)
            out.ErrorCode = group ? gr_group_leave(group, in.MemberId, GR_STR_NULL) : GR_KERR_UNKNOWN_MEMBER_ID;
    } else if (!out.ErrorCode && group && group->state == GR_GROUP_DEAD) {
        out.ErrorCode = GR_KERR_COORDINATOR_NOT_AVAILABLE;
    } else if (!out.ErrorCode) {
        out.Members_count = in.Members_count;
        GR_API_ALLOC(req, out.Members, in.Members_count);
        for (int32_t i = 0; i < in.Members_count; i++) {
            gr_LeaveGroupRequest_MemberIdentity *mi = &in.Members[i];
            gr_LeaveGroupResponse_MemberResponse *mr = &out.Members[i];
            mr->MemberId = mi->MemberId;
            mr->GroupInstanceId = mi->GroupInstanceId;
            mr->ErrorCode = group ? gr_group_leave(group, mi->MemberId, mi->GroupInstanceId) : GR_KERR_UNKNOWN_MEMBER_ID;
            /* The group may have gone Dead meanwhile: never again touched. */
        }
    }
    GR_API_RESPOND(req, LeaveGroupResponse, &out);
}

/* --- OffsetCommit --- */

typedef struct commit_state {
    gr_waiter_t waiter;
    gr_request_t *req;
    gr_broker_t *b;
    gr_OffsetCommitResponse out;
    gr_timer_t timer;
} commit_state_t;

static void commit_respond(commit_state_t *st)
{
    gr_loop_timer_cancel(st->b->loop, &st->timer);
    gr_waiter_unlink(&st->waiter);
    GR_API_RESPOND(st->req, OffsetCommitResponse, &st->out);
}

static void commit_flushed(gr_waiter_t *w) { commit_respond((commit_state_t *)w); }

static void commit_timed_out(gr_timer_t *t)
{
    commit_state_t *st = (commit_state_t *)((char *)t - offsetof(commit_state_t, timer));
    gr_warn("offset commit: fsync of %s not done within 30 s", GR_OFFSETS_TOPIC);
    for (int32_t i = 0; i < st->out.Topics_count; i++)
        for (int32_t j = 0; j < st->out.Topics[i].Partitions_count; j++)
            if (!st->out.Topics[i].Partitions[j].ErrorCode)
                st->out.Topics[i].Partitions[j].ErrorCode = GR_KERR_REQUEST_TIMED_OUT;
    commit_respond(st);
}

void gr_api_offset_commit(gr_broker_t *b, gr_request_t *req)
{
    gr_OffsetCommitRequest in;
    GR_API_DECODE(req, OffsetCommitRequest, &in);
    gr_coordinator_t *co = gr_coordinator_of(b);
    commit_state_t *st;
    GR_API_ALLOC(req, st, 1);
    st->req = req;
    st->b = b;
    gr_OffsetCommitResponse *out = &st->out;
    gr_OffsetCommitResponse_init(out);
    int total = 0;
    for (int32_t i = 0; i < in.Topics_count; i++) total += in.Topics[i].Partitions_count;
    offset_writes_t writes;
    offset_writes_alloc(req, &writes, total);

    int32_t partition = 0;
    gr_group_t *group = NULL;
    int16_t err = validate_and_route(co, in.GroupId, GROUP_ID_MAY_BE_EMPTY, &partition);
    if (!err) {
        group = gr_coordinator_find(co, in.GroupId);
        /* No group yet: only a standalone consumer (generation < 0) may
         * create one by committing. */
        if (!group && in.GenerationId < 0) group = gr_coordinator_get_or_create(co, in.GroupId, partition);
        if (!group) err = in.GenerationId < 0 ? GR_KERR_UNKNOWN_SERVER_ERROR : GR_KERR_ILLEGAL_GENERATION;
        else err = gr_group_commit_check(group, in.MemberId, req->api_version >= 7 ? in.GroupInstanceId : GR_STR_NULL,
                                         in.GenerationId);
    }
    out->Topics_count = in.Topics_count;
    GR_API_ALLOC(req, out->Topics, in.Topics_count);
    for (int32_t i = 0; i < in.Topics_count; i++) {
        gr_OffsetCommitRequest_OffsetCommitRequestTopic *t = &in.Topics[i];
        gr_OffsetCommitResponse_OffsetCommitResponseTopic *ot = &out->Topics[i];
        ot->Name = t->Name;
        ot->Partitions_count = t->Partitions_count;
        GR_API_ALLOC(req, ot->Partitions, t->Partitions_count);
        for (int32_t j = 0; j < t->Partitions_count; j++) {
            gr_OffsetCommitRequest_OffsetCommitRequestPartition *p = &t->Partitions[j];
            gr_OffsetCommitResponse_OffsetCommitResponsePartition *op = &ot->Partitions[j];
            op->PartitionIndex = p->PartitionIndex;
            op->ErrorCode = err;
            if (err) continue;
            if (t->Name.len <= 0 || !gr_broker_partition(b, t->Name.ptr, (size_t)t->Name.len, p->PartitionIndex))
                op->ErrorCode = GR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            else if (p->CommittedMetadata.len > GR_OFFSETS_MAX_METADATA)
                op->ErrorCode = GR_KERR_OFFSET_METADATA_TOO_LARGE;
            else {
                gr_commit_entry_t e = {.topic = t->Name,
                                       .partition = p->PartitionIndex,
                                       .offset = p->CommittedOffset,
                                       .leader_epoch = req->api_version >= 6 ? p->CommittedLeaderEpoch : -1,
                                       .metadata = p->CommittedMetadata,
                                       .has_retention = req->api_version >= 2 && req->api_version <= 4 &&
                                                        in.RetentionTimeMs != -1,
                                       .retention_ms = in.RetentionTimeMs};
                offset_writes_add(&writes, e, &op->ErrorCode);
            }
        }
    }
    gr_partition_t *flush_p = NULL;
    int64_t flush_offset = 0;
    if (writes.n > 0) {
        int rc = gr_coordinator_store_offsets(co, group, writes.entries, writes.n, &flush_p, &flush_offset);
        if (rc < 0) {
            gr_warn("offset commit for group %s: %s", group->id, gr_strerror(rc));
            offset_writes_failed(&writes, rc);
            flush_p = NULL;
        }
    }
    if (!flush_p || flush_p->flushed >= flush_offset) {
        GR_API_RESPOND(req, OffsetCommitResponse, out);
        return;
    }
    /* The flush policy wants this write on disk before we acknowledge. */
    st->waiter.wake = commit_flushed;
    st->waiter.offset = flush_offset;
    gr_waiter_link(&flush_p->flush_waiters, &st->waiter);
    gr_timer_init(&st->timer, commit_timed_out);
    gr_loop_timer_arm(b->loop, &st->timer, gr_now_ms() + 30000);
    req->parked = st;
}

/* --- OffsetFetch --- */

/* v0-7 and v8 use differently named but identically laid out structs. */
_Static_assert(sizeof(gr_OffsetFetchResponse_OffsetFetchResponsePartition) ==
                   sizeof(gr_OffsetFetchResponse_OffsetFetchResponsePartitions), "layout");
_Static_assert(sizeof(gr_OffsetFetchResponse_OffsetFetchResponseTopic) ==
                   sizeof(gr_OffsetFetchResponse_OffsetFetchResponseTopics), "layout");
_Static_assert(sizeof(gr_OffsetFetchRequest_OffsetFetchRequestTopic) ==
                   sizeof(gr_OffsetFetchRequest_OffsetFetchRequestTopics), "layout");

typedef gr_OffsetFetchResponse_OffsetFetchResponseTopics fetch_topic_t;
typedef gr_OffsetFetchResponse_OffsetFetchResponsePartitions fetch_part_t;

static void fill_part(fetch_part_t *fp, gr_group_t *group, gr_str_t topic, int32_t partition)
{
    gr_OffsetFetchResponse_OffsetFetchResponsePartitions_init(fp);
    fp->PartitionIndex = partition;
    fp->CommittedOffset = -1;
    fp->CommittedLeaderEpoch = -1;
    fp->Metadata = gr_str("");
    gr_offset_t *off = group && topic.len > 0 ? gr_offsets_get(&group->offsets, topic.ptr, (size_t)topic.len, partition)
                                              : NULL;
    if (off) {
        fp->CommittedOffset = off->offset;
        fp->CommittedLeaderEpoch = off->leader_epoch;
        fp->Metadata = (gr_str_t){off->metadata ? off->metadata : "", off->metadata_len};
    }
}

/* All of a group's offsets (OffsetFetch with null topics): collected,
 * sorted by topic and partition, then grouped, so the answer costs
 * O(n log n) whatever the number of topics and partitions. */
typedef struct all_ctx {
    gr_request_t *req;
    gr_offset_t **offs;
    size_t n, cap;
    bool oom;
} all_ctx_t;

static void collect_all(void *arg, gr_offset_t *off)
{
    all_ctx_t *x = arg;
    if (x->oom) return;
    if (x->n == x->cap) {
        size_t nc = x->cap ? x->cap * 2 : 64;
        gr_offset_t **no = gr_arena_calloc(&x->req->arena, nc, sizeof *no);
        if (!no) {
            x->oom = true;
            return;
        }
        if (x->n) memcpy(no, x->offs, x->n * sizeof *no);
        x->offs = no;
        x->cap = nc;
    }
    x->offs[x->n++] = off;
}

static int cmp_offset(const void *pa, const void *pb)
{
    const gr_offset_t *a = *(const gr_offset_t *const *)pa, *b = *(const gr_offset_t *const *)pb;
    int c = strcmp(a->topic, b->topic);
    if (c) return c;
    return a->partition < b->partition ? -1 : a->partition > b->partition;
}

/* The collected offsets as response topics; false when out of memory. */
static bool group_all(all_ctx_t *x, fetch_topic_t **out_topics, int32_t *out_count)
{
    *out_topics = NULL;
    *out_count = 0;
    if (x->oom) return false;
    if (!x->n) return true;
    qsort(x->offs, x->n, sizeof *x->offs, cmp_offset);
    int32_t ntopics = 1;
    for (size_t i = 1; i < x->n; i++) ntopics += strcmp(x->offs[i]->topic, x->offs[i - 1]->topic) != 0;
    fetch_topic_t *ts = gr_arena_calloc(&x->req->arena, (size_t)ntopics, sizeof *ts);
    fetch_part_t *ps = gr_arena_calloc(&x->req->arena, x->n, sizeof *ps);
    if (!ts || !ps) return false;
    int32_t t = -1;
    for (size_t i = 0; i < x->n; i++) {
        gr_offset_t *off = x->offs[i];
        if (t < 0 || strcmp(off->topic, x->offs[i - 1]->topic)) {
            t++;
            ts[t].Name = gr_str(off->topic);
            ts[t].Partitions = &ps[i];
            ts[t].Partitions_count = 0;
        }
        fetch_part_t *fp = &ps[i];
        fill_part(fp, NULL, gr_str(off->topic), off->partition);
        fp->CommittedOffset = off->offset;
        fp->CommittedLeaderEpoch = off->leader_epoch;
        fp->Metadata = (gr_str_t){off->metadata ? off->metadata : "", off->metadata_len};
        ts[t].Partitions_count++;
    }
    *out_topics = ts;
    *out_count = ntopics;
    return true;
}

/* One group's answer: the requested topics (ntopics -1 = all). */
static int16_t fetch_group(gr_coordinator_t *co, gr_request_t *req, gr_str_t id, int32_t ntopics,
                           const gr_OffsetFetchRequest_OffsetFetchRequestTopics *topics, fetch_topic_t **out_topics,
                           int32_t *out_count)
{
    int16_t err;
    gr_group_t *group = find_routed_group(co, id, GROUP_ID_MAY_BE_EMPTY, &err);
    if (ntopics < 0) {
        all_ctx_t x = {.req = req};
        if (group) gr_offsets_foreach(&group->offsets, collect_all, &x);
        if (!group_all(&x, out_topics, out_count) && !err) err = GR_KERR_UNKNOWN_SERVER_ERROR;
        return err;
    }
    fetch_topic_t *ts;
    GR_API_ALLOC(req, ts, ntopics);
    for (int32_t i = 0; i < ntopics; i++) {
        ts[i].Name = topics[i].Name;
        ts[i].Partitions_count = topics[i].PartitionIndexes_count;
        GR_API_ALLOC(req, ts[i].Partitions, topics[i].PartitionIndexes_count);
        for (int32_t j = 0; j < topics[i].PartitionIndexes_count; j++) {
            fill_part(&ts[i].Partitions[j], group, topics[i].Name, topics[i].PartitionIndexes[j]);
            ts[i].Partitions[j].ErrorCode = req->api_version < 2 ? err : GR_KERR_NONE;
        }
    }
    *out_topics = ts;
    *out_count = ntopics;
    return err;
}

void gr_api_offset_fetch(gr_broker_t *b, gr_request_t *req)
{
    gr_OffsetFetchRequest in;
    GR_API_DECODE(req, OffsetFetchRequest, &in);
    gr_coordinator_t *co = gr_coordinator_of(b);
    gr_OffsetFetchResponse out;
    gr_OffsetFetchResponse_init(&out);
    if (req->api_version < 8) {
        fetch_topic_t *ts = NULL;
        int32_t n = 0;
        int32_t ntopics = req->api_version >= 2 ? in.Topics_count : (in.Topics_count < 0 ? 0 : in.Topics_count);
        out.ErrorCode = fetch_group(co, req, in.GroupId, ntopics,
                                    (const gr_OffsetFetchRequest_OffsetFetchRequestTopics *)in.Topics, &ts, &n);
        if (out.ErrorCode && req->api_version >= 2) n = 0;
        out.Topics = (gr_OffsetFetchResponse_OffsetFetchResponseTopic *)ts;
        out.Topics_count = n;
    } else {
        out.Groups_count = in.Groups_count;
        GR_API_ALLOC(req, out.Groups, in.Groups_count);
        for (int32_t i = 0; i < in.Groups_count; i++) {
            gr_OffsetFetchResponse_OffsetFetchResponseGroup *g = &out.Groups[i];
            g->GroupId = in.Groups[i].GroupId;
            g->ErrorCode = fetch_group(co, req, g->GroupId, in.Groups[i].Topics_count, in.Groups[i].Topics,
                                       &g->Topics, &g->Topics_count);
            if (g->ErrorCode) g->Topics_count = 0;
        }
    }
    GR_API_RESPOND(req, OffsetFetchResponse, &out);
}

/* --- ListGroups, DescribeGroups --- */

typedef struct list_ctx {
    gr_request_t *req;
    int mask;               /* states wanted (bit per state), 0 = all */
    gr_ListGroupsResponse *out;
    int32_t cap;
} list_ctx_t;

static void list_one(void *arg, gr_group_t *group)
{
    list_ctx_t *x = arg;
    if (group->state == GR_GROUP_DEAD || (x->mask && !(x->mask & (1 << group->state)))) return;
    if (x->out->Groups_count == x->cap) {
        int32_t nc = x->cap ? x->cap * 2 : 16;
        gr_ListGroupsResponse_ListedGroup *g = gr_arena_calloc(&x->req->arena, (size_t)nc, sizeof *g);
        if (!g) return;
        if (x->out->Groups_count) memcpy(g, x->out->Groups, (size_t)x->out->Groups_count * sizeof *g);
        x->out->Groups = g;
        x->cap = nc;
    }
    gr_ListGroupsResponse_ListedGroup *g = &x->out->Groups[x->out->Groups_count++];
    g->GroupId = gr_str(group->id);
    g->ProtocolType = gr_str(group->protocol_type ? group->protocol_type : "");
    g->GroupState = gr_str(gr_group_state_name(group->state));
}

void gr_api_list_groups(gr_broker_t *b, gr_request_t *req)
{
    gr_ListGroupsRequest in;
    GR_API_DECODE(req, ListGroupsRequest, &in);
    gr_coordinator_t *co = gr_coordinator_of(b);
    gr_ListGroupsResponse out;
    gr_ListGroupsResponse_init(&out);
    list_ctx_t x = {.req = req, .out = &out};
    bool none = false;
    for (int32_t i = 0; req->api_version >= 4 && i < in.StatesFilter_count; i++) {
        int s = gr_group_state_parse(in.StatesFilter[i]);
        if (s >= 0) x.mask |= 1 << s;
        else none = true;   /* an unknown state matches nothing */
    }
    if (!co) out.ErrorCode = GR_KERR_COORDINATOR_NOT_AVAILABLE;
    else if (!(none && !x.mask)) gr_coordinator_foreach(co, list_one, &x);
    GR_API_RESPOND(req, ListGroupsResponse, &out);
}

void gr_api_describe_groups(gr_broker_t *b, gr_request_t *req)
{
    gr_DescribeGroupsRequest in;
    GR_API_DECODE(req, DescribeGroupsRequest, &in);
    gr_coordinator_t *co = gr_coordinator_of(b);
    gr_DescribeGroupsResponse out;
    gr_DescribeGroupsResponse_init(&out);
    out.Groups_count = in.Groups_count;
    GR_API_ALLOC(req, out.Groups, in.Groups_count);
    for (int32_t i = 0; i < in.Groups_count; i++) {
        gr_DescribeGroupsResponse_DescribedGroup *d = &out.Groups[i];
        gr_DescribeGroupsResponse_DescribedGroup_init(d);
        d->GroupId = in.Groups[i];
        d->GroupState = gr_str("Dead");
        d->ProtocolType = gr_str("");
        d->ProtocolData = gr_str("");
        gr_group_t *group = find_routed_group(co, d->GroupId, GROUP_ID_MAY_BE_EMPTY, &d->ErrorCode);
        if (!group) continue;
        bool stable = group->state == GR_GROUP_STABLE;
        d->GroupState = gr_str(gr_group_state_name(group->state));
        d->ProtocolType = gr_str(group->protocol_type ? group->protocol_type : "");
        /* Kafka shows the protocol, metadata and assignments only for a
         * Stable group (GroupMetadata.summary). */
        if (stable && group->protocol_name) d->ProtocolData = gr_str(group->protocol_name);
        d->Members_count = group->nmembers;
        GR_API_ALLOC(req, d->Members, group->nmembers);
        for (int j = 0; j < group->nmembers; j++) {
            gr_group_member_t *m = group->members[j];
            gr_DescribeGroupsResponse_DescribedGroupMember *dm = &d->Members[j];
            dm->MemberId = gr_str(m->member_id);
            dm->GroupInstanceId = cstr_or_null(m->instance_id);
            dm->ClientId = gr_str(m->client_id);
            dm->ClientHost = gr_str(m->client_host);
            dm->MemberMetadata = (gr_bytes_t){(const uint8_t *)"", 0};
            dm->MemberAssignment = (gr_bytes_t){(const uint8_t *)"", 0};
            if (!stable) continue;
            for (int k = 0; group->protocol_name && k < m->nprotocols; k++)
                if (!strcmp(m->protocols[k].name, group->protocol_name))
                    dm->MemberMetadata = (gr_bytes_t){m->protocols[k].metadata, m->protocols[k].len};
            if (m->assignment) dm->MemberAssignment = (gr_bytes_t){m->assignment, m->assignment_len};
        }
    }
    GR_API_RESPOND(req, DescribeGroupsResponse, &out);
}

/* --- DeleteGroups, OffsetDelete --- */

void gr_api_delete_groups(gr_broker_t *b, gr_request_t *req)
{
    gr_DeleteGroupsRequest in;
    GR_API_DECODE(req, DeleteGroupsRequest, &in);
    gr_coordinator_t *co = gr_coordinator_of(b);
    gr_DeleteGroupsResponse out;
    gr_DeleteGroupsResponse_init(&out);
    out.Results_count = in.GroupsNames_count;
    GR_API_ALLOC(req, out.Results, in.GroupsNames_count);
    for (int32_t i = 0; i < in.GroupsNames_count; i++) {
        gr_DeleteGroupsResponse_DeletableGroupResult *r = &out.Results[i];
        r->GroupId = in.GroupsNames[i];
        gr_group_t *group = find_routed_group(co, r->GroupId, GROUP_ID_MAY_BE_EMPTY, &r->ErrorCode);
        if (!r->ErrorCode) r->ErrorCode = gr_coordinator_delete_group(co, group);
    }
    GR_API_RESPOND(req, DeleteGroupsResponse, &out);
}

void gr_api_offset_delete(gr_broker_t *b, gr_request_t *req)
{
    gr_OffsetDeleteRequest in;
    GR_API_DECODE(req, OffsetDeleteRequest, &in);
    gr_coordinator_t *co = gr_coordinator_of(b);
    gr_OffsetDeleteResponse out;
    gr_OffsetDeleteResponse_init(&out);
    gr_group_t *group = find_routed_group(co, in.GroupId, GROUP_ID_NON_EMPTY, &out.ErrorCode);
    if (!out.ErrorCode) {
        if (!group || group->state == GR_GROUP_DEAD) out.ErrorCode = GR_KERR_GROUP_ID_NOT_FOUND;
        else if (group->state != GR_GROUP_EMPTY && (!group->protocol_type || strcmp(group->protocol_type, "consumer")))
            out.ErrorCode = GR_KERR_NON_EMPTY_GROUP;
    }
    if (out.ErrorCode) {
        GR_API_RESPOND(req, OffsetDeleteResponse, &out);
        return;
    }
    int total = 0;
    for (int32_t i = 0; i < in.Topics_count; i++) total += in.Topics[i].Partitions_count;
    offset_writes_t writes;
    offset_writes_alloc(req, &writes, total);
    out.Topics_count = in.Topics_count;
    GR_API_ALLOC(req, out.Topics, in.Topics_count);
    for (int32_t i = 0; i < in.Topics_count; i++) {
        gr_OffsetDeleteRequest_OffsetDeleteRequestTopic *t = &in.Topics[i];
        gr_OffsetDeleteResponse_OffsetDeleteResponseTopic *ot = &out.Topics[i];
        ot->Name = t->Name;
        ot->Partitions_count = t->Partitions_count;
        GR_API_ALLOC(req, ot->Partitions, t->Partitions_count);
        bool subscribed = t->Name.len > 0 && gr_group_subscribed_to(group, t->Name.ptr, (size_t)t->Name.len);
        for (int32_t j = 0; j < t->Partitions_count; j++) {
            gr_OffsetDeleteResponse_OffsetDeleteResponsePartition *op = &ot->Partitions[j];
            op->PartitionIndex = t->Partitions[j].PartitionIndex;
            if (t->Name.len <= 0 || !gr_broker_partition(b, t->Name.ptr, (size_t)t->Name.len, op->PartitionIndex))
                op->ErrorCode = GR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            else if (subscribed)
                op->ErrorCode = GR_KERR_GROUP_SUBSCRIBED_TO_TOPIC;
            else {
                gr_commit_entry_t e = {.topic = t->Name, .partition = op->PartitionIndex, .tombstone = true};
                offset_writes_add(&writes, e, &op->ErrorCode);
            }
        }
    }
    int rc = gr_coordinator_store_offsets(co, group, writes.entries, writes.n, NULL, NULL);
    if (rc < 0) offset_writes_failed(&writes, rc);
    GR_API_RESPOND(req, OffsetDeleteResponse, &out);
}
