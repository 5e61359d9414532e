/* Known-bytes tests for the group coordinator's messages (JoinGroup,
 * OffsetCommit, FindCoordinator...), the __consumer_offsets record structs
 * and the consumer embedded protocol.  The generic round trips in
 * test_codec.c already cover every version of these; the vectors here are
 * worked out by hand from the protocol guide, so a mistake made the same
 * way by encoder and decoder still shows. */
#include <stdlib.h>

#include "protocol/errors.h"
#include "protocol/messages.h"
#include "protocol/messages_test.h"
#include "test.h"
#include "util/arena.h"

static gr_bytes_t bytes_of(const uint8_t *p, int32_t n) { return (gr_bytes_t){p, n}; }

/* The generic round-trip and truncation tests walk gr_test_messages[]; make
 * sure every group message and record struct is in it, with the versions
 * we mean to serve. */
GR_TEST(codec_groups_messages_are_in_the_test_table)
{
    static const struct { const char *name; int16_t key, lo, hi; } want[] = {
        {"OffsetCommitRequest", 8, 0, 8},          {"OffsetCommitResponse", 8, 0, 8},
        {"OffsetFetchRequest", 9, 0, 8},           {"OffsetFetchResponse", 9, 0, 8},
        {"FindCoordinatorRequest", 10, 0, 4},      {"FindCoordinatorResponse", 10, 0, 4},
        {"JoinGroupRequest", 11, 0, 9},            {"JoinGroupResponse", 11, 0, 9},
        {"HeartbeatRequest", 12, 0, 4},            {"HeartbeatResponse", 12, 0, 4},
        {"LeaveGroupRequest", 13, 0, 5},           {"LeaveGroupResponse", 13, 0, 5},
        {"SyncGroupRequest", 14, 0, 5},            {"SyncGroupResponse", 14, 0, 5},
        {"DescribeGroupsRequest", 15, 0, 5},       {"DescribeGroupsResponse", 15, 0, 5},
        {"ListGroupsRequest", 16, 0, 4},           {"ListGroupsResponse", 16, 0, 4},
        {"DeleteGroupsRequest", 42, 0, 2},         {"DeleteGroupsResponse", 42, 0, 2},
        {"OffsetDeleteRequest", 47, 0, 0},         {"OffsetDeleteResponse", 47, 0, 0},
        {"OffsetCommitKey", -1, 0, 1},             {"OffsetCommitValue", -1, 0, 3},
        {"GroupMetadataKey", -1, 2, 2},            {"GroupMetadataValue", -1, 0, 3},
        {"ConsumerProtocolSubscription", -1, 0, 3}, {"ConsumerProtocolAssignment", -1, 0, 3},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const gr_test_message_t *found = NULL;
        for (int j = 0; j < gr_test_message_count; j++)
            if (strcmp(gr_test_messages[j].name, want[i].name) == 0) found = &gr_test_messages[j];
        if (!found) {
            fprintf(stderr, "  %s missing from gr_test_messages\n", want[i].name);
            gr_test_failures++;
            continue;
        }
        CHECK_EQ(found->api_key, want[i].key);
        CHECK_EQ(found->min_version, want[i].lo);
        CHECK_EQ(found->max_version, want[i].hi);
    }
    const gr_api_schema_t *s = gr_api_schema_find(GR_API_JoinGroup);
    CHECK(s && s->first_flexible == 6);
    s = gr_api_schema_find(GR_API_OffsetDelete);
    CHECK(s && s->first_flexible == INT16_MAX);
    s = gr_api_schema_find(GR_API_FindCoordinator);
    CHECK(s && s->first_flexible == 3 && s->max_version == 4);
}

GR_TEST(codec_join_group_v0_request_known_bytes)
{
    static const uint8_t meta[] = {0x00, 0x01, 0x02};
    gr_JoinGroupRequest_JoinGroupRequestProtocol proto;
    gr_JoinGroupRequest_JoinGroupRequestProtocol_init(&proto);
    proto.Name = gr_str("range");
    proto.Metadata = bytes_of(meta, 3);
    gr_JoinGroupRequest req;
    gr_JoinGroupRequest_init(&req);
    CHECK_EQ(req.RebalanceTimeoutMs, -1);
    CHECK_EQ(req.GroupInstanceId.len, -1);
    req.GroupId = gr_str("g");
    req.SessionTimeoutMs = 30000;
    req.RebalanceTimeoutMs = 60000;         /* v1+: not in v0 */
    req.MemberId = gr_str("");
    req.GroupInstanceId = gr_str("inst");   /* v5+: not in v0 */
    req.ProtocolType = gr_str("consumer");
    req.Protocols_count = 1;
    req.Protocols = &proto;

    gr_writer_t w;
    gr_writer_init(&w);
    gr_JoinGroupRequest_encode(&w, 0, &req);
    CHECK_WIRE(&w,
               0x00, 0x01, 'g',                                   /* GroupId */
               0x00, 0x00, 0x75, 0x30,                            /* SessionTimeoutMs 30000 */
               0x00, 0x00,                                        /* MemberId "" */
               0x00, 0x08, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r', /* ProtocolType */
               0x00, 0x00, 0x00, 0x01,                            /* Protocols: 1 */
               0x00, 0x05, 'r', 'a', 'n', 'g', 'e',               /* Name */
               0x00, 0x00, 0x00, 0x03, 0x00, 0x01, 0x02);         /* Metadata */

    gr_arena_t arena;
    gr_arena_init(&arena);
    gr_JoinGroupRequest back;
    gr_reader_t r;
    gr_reader_init(&r, w.buf, w.len);
    CHECK_EQ(gr_JoinGroupRequest_decode(&r, &arena, 0, &back), 0);
    CHECK_EQ(gr_reader_left(&r), 0);
    CHECK(gr_str_eq(back.GroupId, "g"));
    CHECK_EQ(back.SessionTimeoutMs, 30000);
    CHECK_EQ(back.RebalanceTimeoutMs, -1);   /* absent in v0: the default */
    CHECK_EQ(back.GroupInstanceId.len, -1);
    CHECK_EQ(back.MemberId.len, 0);
    CHECK(gr_str_eq(back.ProtocolType, "consumer"));
    CHECK_EQ(back.Protocols_count, 1);
    if (back.Protocols_count == 1) {
        CHECK(gr_str_eq(back.Protocols[0].Name, "range"));
        CHECK_EQ(back.Protocols[0].Metadata.len, 3);
        CHECK(back.Protocols[0].Metadata.ptr && back.Protocols[0].Metadata.ptr[2] == 0x02);
    }

    /* v1 inserts RebalanceTimeoutMs after SessionTimeoutMs. */
    gr_writer_reset(&w);
    gr_JoinGroupRequest_encode(&w, 1, &req);
    CHECK_EQ(w.len, 41);
    if (w.len >= 11) {
        const uint8_t want[] = {0x00, 0x00, 0x75, 0x30, 0x00, 0x00, 0xea, 0x60};
        CHECK_MEM(w.buf + 3, want, sizeof want);
    }
    gr_writer_free(&w);
    gr_arena_destroy(&arena);
}

GR_TEST(codec_offset_commit_v2_request_known_bytes)
{
    gr_OffsetCommitRequest_OffsetCommitRequestPartition part;
    gr_OffsetCommitRequest_OffsetCommitRequestPartition_init(&part);
    CHECK_EQ(part.CommittedLeaderEpoch, -1);
    CHECK_EQ(part.CommitTimestamp, -1);
    part.PartitionIndex = 0;
    part.CommittedOffset = 42;
    part.CommittedLeaderEpoch = 7;      /* v6+: not in v2 */
    part.CommitTimestamp = 99;          /* v1 only: not in v2 */
    part.CommittedMetadata = GR_STR_NULL;
    gr_OffsetCommitRequest_OffsetCommitRequestTopic topic;
    gr_OffsetCommitRequest_OffsetCommitRequestTopic_init(&topic);
    topic.Name = gr_str("t");
    topic.Partitions_count = 1;
    topic.Partitions = &part;
    gr_OffsetCommitRequest req;
    gr_OffsetCommitRequest_init(&req);
    CHECK_EQ(req.GenerationId, -1);
    CHECK_EQ(req.RetentionTimeMs, -1);
    req.GroupId = gr_str("g");
    req.GenerationId = 5;
    req.MemberId = gr_str("m");
    req.Topics_count = 1;
    req.Topics = &topic;

    gr_writer_t w;
    gr_writer_init(&w);
    gr_OffsetCommitRequest_encode(&w, 2, &req);
    CHECK_WIRE(&w,
               0x00, 0x01, 'g',                                 /* GroupId */
               0x00, 0x00, 0x00, 0x05,                          /* GenerationId */
               0x00, 0x01, 'm',                                 /* MemberId */
               0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  /* RetentionTimeMs -1 */
               0x00, 0x00, 0x00, 0x01,                          /* Topics: 1 */
               0x00, 0x01, 't',                                 /* Name */
               0x00, 0x00, 0x00, 0x01,                          /* Partitions: 1 */
               0x00, 0x00, 0x00, 0x00,                          /* PartitionIndex */
               0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,  /* CommittedOffset 42 */
               0xff, 0xff);                                     /* CommittedMetadata null */

    gr_arena_t arena;
    gr_arena_init(&arena);
    gr_OffsetCommitRequest back;
    gr_reader_t r;
    gr_reader_init(&r, w.buf, w.len);
    CHECK_EQ(gr_OffsetCommitRequest_decode(&r, &arena, 2, &back), 0);
    CHECK_EQ(gr_reader_left(&r), 0);
    CHECK_EQ(back.GenerationId, 5);
    CHECK_EQ(back.RetentionTimeMs, -1);
    CHECK_EQ(back.GroupInstanceId.len, -1);
    if (back.Topics_count == 1 && back.Topics[0].Partitions_count == 1) {
        const gr_OffsetCommitRequest_OffsetCommitRequestPartition *p = &back.Topics[0].Partitions[0];
        CHECK_EQ(p->CommittedOffset, 42);
        CHECK_EQ(p->CommittedLeaderEpoch, -1);
        CHECK_EQ(p->CommitTimestamp, -1);
        CHECK_EQ(p->CommittedMetadata.len, -1);
    } else {
        CHECK(0);
    }

    /* v1: no retention time, but a per-partition commit timestamp before
     * the metadata. */
    gr_writer_reset(&w);
    gr_OffsetCommitRequest_encode(&w, 1, &req);
    CHECK_WIRE(&w, 0x00, 0x01, 'g', 0x00, 0x00, 0x00, 0x05, 0x00, 0x01, 'm', 0x00, 0x00, 0x00, 0x01, 0x00, 0x01,
               't', 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,
               0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x63, 0xff, 0xff);

    /* v0: group id and topics only. */
    gr_writer_reset(&w);
    gr_OffsetCommitRequest_encode(&w, 0, &req);
    CHECK_WIRE(&w, 0x00, 0x01, 'g', 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't', 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
               0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, 0xff, 0xff);
    gr_writer_free(&w);
    gr_arena_destroy(&arena);
}

/* A v1 offset-commit value as it sits in __consumer_offsets: the caller
 * writes the int16 version, then the struct. */
GR_TEST(codec_offset_commit_value_v1_on_disk)
{
    gr_OffsetCommitValue v;
    gr_OffsetCommitValue_init(&v);
    CHECK_EQ(v.LeaderEpoch, -1);
    CHECK_EQ(v.ExpireTimestamp, -1);
    v.Offset = 100;
    v.LeaderEpoch = 3;                       /* v3 only: not in v1 */
    v.Metadata = gr_str("md");
    v.CommitTimestamp = 1700000000000LL;     /* 0x18bcfe56800 */
    v.ExpireTimestamp = 1700086400000LL;     /* + 1 day: 0x18bd50bc400 */

    gr_writer_t w;
    gr_writer_init(&w);
    gr_write_i16(&w, 1);
    gr_OffsetCommitValue_encode(&w, 1, &v);
    CHECK_WIRE(&w,
               0x00, 0x01,                                      /* value version 1 */
               0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64,  /* offset 100 */
               0x00, 0x02, 'm', 'd',                            /* metadata */
               0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,  /* commit timestamp */
               0x00, 0x00, 0x01, 0x8b, 0xd5, 0x0b, 0xc4, 0x00); /* expire timestamp */

    gr_arena_t arena;
    gr_arena_init(&arena);
    gr_reader_t r;
    gr_reader_init(&r, w.buf, w.len);
    int16_t version = gr_read_i16(&r);
    CHECK_EQ(version, 1);
    gr_OffsetCommitValue back;
    CHECK_EQ(gr_OffsetCommitValue_decode(&r, &arena, version, &back), 0);
    CHECK_EQ(gr_reader_left(&r), 0);
    CHECK_EQ(back.Offset, 100);
    CHECK_EQ(back.LeaderEpoch, -1);
    CHECK(gr_str_eq(back.Metadata, "md"));
    CHECK_EQ(back.CommitTimestamp, 1700000000000LL);
    CHECK_EQ(back.ExpireTimestamp, 1700086400000LL);

    /* v3 (what IBP >= 2.1 writes): leader epoch after the offset, no expiry. */
    gr_writer_reset(&w);
    gr_OffsetCommitValue_encode(&w, 3, &v);
    CHECK_WIRE(&w, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x03, 0x00, 0x02, 'm', 'd',
               0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00);

    /* And its key, version 1: group, topic, partition. */
    gr_OffsetCommitKey k;
    gr_OffsetCommitKey_init(&k);
    k.Group = gr_str("g");
    k.Topic = gr_str("t");
    k.Partition = 2;
    gr_writer_reset(&w);
    gr_write_i16(&w, 1);
    gr_OffsetCommitKey_encode(&w, 1, &k);
    CHECK_WIRE(&w, 0x00, 0x01, 0x00, 0x01, 'g', 0x00, 0x01, 't', 0x00, 0x00, 0x00, 0x02);
    gr_writer_free(&w);
    gr_arena_destroy(&arena);
}

GR_TEST(codec_group_metadata_value_v3_on_disk)
{
    static const uint8_t sub[] = {0xaa};
    gr_GroupMetadataValue_MemberMetadata mem;
    gr_GroupMetadataValue_MemberMetadata_init(&mem);
    CHECK_EQ(mem.GroupInstanceId.len, -1);
    mem.MemberId = gr_str("m1");
    mem.ClientId = gr_str("c");
    mem.ClientHost = gr_str("/h");
    mem.RebalanceTimeout = 300000;  /* 0x493e0 */
    mem.SessionTimeout = 45000;     /* 0xafc8 */
    mem.Subscription = bytes_of(sub, 1);
    mem.Assignment = bytes_of(NULL, 0);
    gr_GroupMetadataValue v;
    gr_GroupMetadataValue_init(&v);
    CHECK_EQ(v.CurrentStateTimestamp, -1);
    v.ProtocolType = gr_str("consumer");
    v.Generation = 1;
    v.Protocol = gr_str("range");
    v.Leader = gr_str("m1");
    v.CurrentStateTimestamp = 1700000000000LL;
    v.Members_count = 1;
    v.Members = &mem;

    gr_writer_t w;
    gr_writer_init(&w);
    gr_write_i16(&w, 3);
    gr_GroupMetadataValue_encode(&w, 3, &v);
    CHECK_WIRE(&w,
               0x00, 0x03,                                         /* value version 3 */
               0x00, 0x08, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r', /* protocol type */
               0x00, 0x00, 0x00, 0x01,                             /* generation */
               0x00, 0x05, 'r', 'a', 'n', 'g', 'e',                /* protocol */
               0x00, 0x02, 'm', '1',                               /* leader */
               0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,     /* current state timestamp */
               0x00, 0x00, 0x00, 0x01,                             /* members: 1 */
               0x00, 0x02, 'm', '1',                               /* member id */
               0xff, 0xff,                                         /* group instance id: null */
               0x00, 0x01, 'c',                                    /* client id */
               0x00, 0x02, '/', 'h',                               /* client host */
               0x00, 0x04, 0x93, 0xe0,                             /* rebalance timeout */
               0x00, 0x00, 0xaf, 0xc8,                             /* session timeout */
               0x00, 0x00, 0x00, 0x01, 0xaa,                       /* subscription */
               0x00, 0x00, 0x00, 0x00);                            /* assignment: empty */

    gr_arena_t arena;
    gr_arena_init(&arena);
    gr_reader_t r;
    gr_reader_init(&r, w.buf, w.len);
    int16_t version = gr_read_i16(&r);
    gr_GroupMetadataValue back;
    CHECK_EQ(gr_GroupMetadataValue_decode(&r, &arena, version, &back), 0);
    CHECK_EQ(gr_reader_left(&r), 0);
    CHECK_EQ(back.Generation, 1);
    CHECK(gr_str_eq(back.Leader, "m1"));
    CHECK_EQ(back.Members_count, 1);
    if (back.Members_count == 1) {
        CHECK_EQ(back.Members[0].GroupInstanceId.len, -1);
        CHECK_EQ(back.Members[0].RebalanceTimeout, 300000);
        CHECK_EQ(back.Members[0].SessionTimeout, 45000);
        CHECK_EQ(back.Members[0].Subscription.len, 1);
        CHECK_EQ(back.Members[0].Assignment.len, 0);
    }

    /* v0: no state timestamp, no instance id, no rebalance timeout; a null
     * protocol and leader (an Empty group). */
    v.Protocol = GR_STR_NULL;
    v.Leader = GR_STR_NULL;
    v.Members_count = 0;
    gr_writer_reset(&w);
    gr_GroupMetadataValue_encode(&w, 0, &v);
    CHECK_WIRE(&w, 0x00, 0x08, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r', 0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff,
               0xff, 0x00, 0x00, 0x00, 0x00);

    /* Its key is always version 2. */
    gr_GroupMetadataKey k;
    gr_GroupMetadataKey_init(&k);
    k.Group = gr_str("g");
    gr_writer_reset(&w);
    gr_write_i16(&w, 2);
    gr_GroupMetadataKey_encode(&w, 2, &k);
    CHECK_WIRE(&w, 0x00, 0x02, 0x00, 0x01, 'g');
    gr_reader_init(&r, w.buf + 2, w.len - 2);
    gr_GroupMetadataKey kb;
    CHECK_EQ(gr_GroupMetadataKey_decode(&r, &arena, 1, &kb), GR_EVERSION);
    gr_writer_free(&w);
    gr_arena_destroy(&arena);
}

GR_TEST(codec_find_coordinator_v4_known_bytes)
{
    /* Request: KeyType, then the batched keys (Key is v0-3 only). */
    const uint8_t req_wire[] = {0x00, 0x03, 0x02, 'a', 0x02, 'b', 0x00};
    gr_arena_t arena;
    gr_arena_init(&arena);
    gr_reader_t r;
    gr_reader_init(&r, req_wire, sizeof req_wire);
    gr_FindCoordinatorRequest req;
    CHECK_EQ(gr_FindCoordinatorRequest_decode(&r, &arena, 4, &req), 0);
    CHECK_EQ(gr_reader_left(&r), 0);
    CHECK_EQ(req.KeyType, 0);
    CHECK_EQ(req.Key.len, 0);
    CHECK_EQ(req.CoordinatorKeys_count, 2);
    if (req.CoordinatorKeys_count == 2) {
        CHECK(gr_str_eq(req.CoordinatorKeys[0], "a"));
        CHECK(gr_str_eq(req.CoordinatorKeys[1], "b"));
    }

    gr_FindCoordinatorResponse_Coordinator c[2];
    gr_FindCoordinatorResponse_Coordinator_init(&c[0]);
    gr_FindCoordinatorResponse_Coordinator_init(&c[1]);
    CHECK_EQ(c[0].ErrorMessage.len, -1);
    c[0].Key = gr_str("a");
    c[0].NodeId = 1;
    c[0].Host = gr_str("h");
    c[0].Port = 9092;
    c[1].Key = gr_str("b");
    c[1].NodeId = -1;
    c[1].Host = gr_str("");
    c[1].Port = -1;
    c[1].ErrorCode = 15;  /* COORDINATOR_NOT_AVAILABLE */
    gr_FindCoordinatorResponse resp;
    gr_FindCoordinatorResponse_init(&resp);
    resp.ErrorCode = 16;      /* v0-3 only: must not appear */
    resp.NodeId = 7;          /* v0-3 only */
    resp.Coordinators_count = 2;
    resp.Coordinators = c;

    gr_writer_t w;
    gr_writer_init(&w);
    gr_FindCoordinatorResponse_encode(&w, 4, &resp);
    CHECK_WIRE(&w,
               0x00, 0x00, 0x00, 0x00,  /* ThrottleTimeMs */
               0x03,                    /* Coordinators: 2 */
               0x02, 'a',               /* Key */
               0x00, 0x00, 0x00, 0x01,  /* NodeId */
               0x02, 'h',               /* Host */
               0x00, 0x00, 0x23, 0x84,  /* Port 9092 */
               0x00, 0x00,              /* ErrorCode */
               0x00,                    /* ErrorMessage: null */
               0x00,                    /* tags */
               0x02, 'b',
               0xff, 0xff, 0xff, 0xff,  /* NodeId -1 */
               0x01,                    /* Host "" */
               0xff, 0xff, 0xff, 0xff,  /* Port -1 */
               0x00, 0x0f,              /* ErrorCode 15 */
               0x00,
               0x00,
               0x00);                   /* response tags */

    gr_FindCoordinatorResponse back;
    gr_reader_init(&r, w.buf, w.len);
    CHECK_EQ(gr_FindCoordinatorResponse_decode(&r, &arena, 4, &back), 0);
    CHECK_EQ(gr_reader_left(&r), 0);
    CHECK_EQ(back.ErrorCode, 0);
    CHECK_EQ(back.Coordinators_count, 2);
    if (back.Coordinators_count == 2) {
        CHECK_EQ(back.Coordinators[0].Port, 9092);
        CHECK_EQ(back.Coordinators[1].ErrorCode, 15);
        CHECK_EQ(back.Coordinators[1].Host.len, 0);
        CHECK_EQ(back.Coordinators[1].ErrorMessage.len, -1);
    }

    /* v0: error code, node id, host, port; no throttle time, no array. */
    resp.ErrorCode = 0;
    resp.NodeId = 1;
    resp.Host = gr_str("h");
    resp.Port = 9092;
    gr_writer_reset(&w);
    gr_FindCoordinatorResponse_encode(&w, 0, &resp);
    CHECK_WIRE(&w, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 'h', 0x00, 0x00, 0x23, 0x84);

    /* v0 request: just the group id. */
    const uint8_t v0_wire[] = {0x00, 0x01, 'g'};
    gr_reader_init(&r, v0_wire, sizeof v0_wire);
    CHECK_EQ(gr_FindCoordinatorRequest_decode(&r, &arena, 0, &req), 0);
    CHECK(gr_str_eq(req.Key, "g"));
    CHECK_EQ(req.KeyType, 0);
    CHECK_EQ(req.CoordinatorKeys_count, 0);
    gr_writer_free(&w);
    gr_arena_destroy(&arena);
}

/* A librdkafka-style v0 subscription (after its int16 version): one topic,
 * null user data; fields from later versions take their defaults. */
GR_TEST(codec_consumer_protocol_subscription_v0_known_bytes)
{
    const uint8_t wire[] = {0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't', 0xff, 0xff, 0xff, 0xff};
    gr_arena_t arena;
    gr_arena_init(&arena);
    gr_reader_t r;
    gr_reader_init(&r, wire, sizeof wire);
    gr_ConsumerProtocolSubscription sub;
    CHECK_EQ(gr_ConsumerProtocolSubscription_decode(&r, &arena, 0, &sub), 0);
    CHECK_EQ(gr_reader_left(&r), 0);
    CHECK_EQ(sub.Topics_count, 1);
    if (sub.Topics_count == 1) CHECK(gr_str_eq(sub.Topics[0], "t"));
    CHECK_EQ(sub.UserData.len, -1);
    CHECK_EQ(sub.OwnedPartitions_count, 0);
    CHECK_EQ(sub.GenerationId, -1);
    CHECK_EQ(sub.RackId.len, -1);

    /* Assignment v0: [topic [partition]], user data. */
    int32_t parts[2] = {0, 3};
    gr_ConsumerProtocolAssignment_TopicPartition tp;
    gr_ConsumerProtocolAssignment_TopicPartition_init(&tp);
    tp.Topic = gr_str("t");
    tp.Partitions_count = 2;
    tp.Partitions = parts;
    gr_ConsumerProtocolAssignment a;
    gr_ConsumerProtocolAssignment_init(&a);
    CHECK_EQ(a.UserData.len, -1);
    a.AssignedPartitions_count = 1;
    a.AssignedPartitions = &tp;
    gr_writer_t w;
    gr_writer_init(&w);
    gr_ConsumerProtocolAssignment_encode(&w, 0, &a);
    CHECK_WIRE(&w, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't', 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
               0x00, 0x00, 0x03, 0xff, 0xff, 0xff, 0xff);
    gr_writer_free(&w);
    gr_arena_destroy(&arena);
}
