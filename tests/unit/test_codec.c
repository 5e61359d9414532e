/* Tests of the generated protocol codecs (build/gen/protocol/messages.c).
 *
 * The generic tests walk gr_test_messages[] (every request, response and
 * standalone struct) over every served version; the known-bytes vectors pin
 * the wire layout against bytes worked out by hand from the protocol guide,
 * since a round trip alone cannot catch a mistake made symmetrically by the
 * encoder and the decoder. */
#include <stdlib.h>

#include "protocol/errors.h"
#include "protocol/messages.h"
#include "protocol/messages_test.h"
#include "test.h"
#include "util/arena.h"

/* Encodes a filled message, decodes it, re-encodes, and checks both
 * encodings match and the decoder consumed everything.  Leaves the first
 * encoding in *wire for callers that want it. */
static void check_round_trip(const gr_test_message_t *m, int16_t version, int variant, gr_writer_t *wire)
{
    gr_arena_t arena;
    gr_arena_init(&arena);
    void *original = gr_arena_alloc(&arena, m->size);
    void *decoded = gr_arena_alloc(&arena, m->size);
    m->fill(&arena, version, variant, original);
    gr_writer_init(wire);
    m->encode(wire, version, original);
    CHECK(!wire->oom);

    gr_reader_t r;
    gr_reader_init(&r, wire->len ? wire->buf : (const uint8_t *)"", wire->len);
    int rc = m->decode(&r, &arena, version, decoded);
    CHECK_EQ(rc, 0);
    CHECK_EQ(gr_reader_left(&r), 0);

    gr_writer_t again;
    gr_writer_init(&again);
    m->encode(&again, version, decoded);
    bool same = again.len == wire->len && (wire->len == 0 || memcmp(again.buf, wire->buf, wire->len) == 0);
    if (rc != 0 || !same) {
        fprintf(stderr, "  %s v%d variant %d: round trip differs\n", m->name, version, variant);
        gr_test_print_hex("encoded", wire->buf, wire->len);
        gr_test_print_hex("re-encoded", again.buf, again.len);
        gr_test_failures++;
    }
    gr_writer_free(&again);
    gr_arena_destroy(&arena);
}

GR_TEST(codec_round_trip_every_message_and_version)
{
    int checked = 0;
    for (int i = 0; i < gr_test_message_count; i++) {
        const gr_test_message_t *m = &gr_test_messages[i];
        for (int16_t v = m->min_version; v <= m->max_version; v++) {
            for (int variant = GR_FILL_VALUES; variant <= GR_FILL_NULLS; variant++) {
                gr_writer_t wire;
                check_round_trip(m, v, variant, &wire);
                gr_writer_free(&wire);
                checked++;
            }
        }
    }
    CHECK(checked > 100);
}

/* Every strict prefix of a valid body must fail cleanly (no crash, no read
 * past the end, which ASan builds of the tests would report). */
GR_TEST(codec_truncated_input_is_a_parse_error)
{
    for (int i = 0; i < gr_test_message_count; i++) {
        const gr_test_message_t *m = &gr_test_messages[i];
        for (int16_t v = m->min_version; v <= m->max_version; v++) {
            gr_writer_t wire;
            check_round_trip(m, v, GR_FILL_VALUES, &wire);
            for (size_t len = 0; len < wire.len; len++) {
                /* A heap copy of exactly len bytes, so ASan sees any overrun. */
                uint8_t *copy = malloc(len ? len : 1);
                if (len) memcpy(copy, wire.buf, len);
                gr_arena_t arena;
                gr_arena_init(&arena);
                void *out = gr_arena_alloc(&arena, m->size);
                gr_reader_t r;
                gr_reader_init(&r, copy, len);
                int rc = m->decode(&r, &arena, v, out);
                if (rc != GR_EPARSE) {
                    fprintf(stderr, "  %s v%d: %zu of %zu bytes decoded to %d\n", m->name, v, len, wire.len, rc);
                    gr_test_failures++;
                }
                gr_arena_destroy(&arena);
                free(copy);
            }
            gr_writer_free(&wire);
        }
    }
}

GR_TEST(codec_schema_table_is_sorted_and_searchable)
{
    CHECK(gr_api_schema_count >= 14);
    for (int i = 1; i < gr_api_schema_count; i++) CHECK(gr_api_schemas[i - 1].key < gr_api_schemas[i].key);
    const gr_api_schema_t *s = gr_api_schema_find(GR_API_Produce);
    CHECK(s != NULL);
    if (s) {
        CHECK_EQ(s->min_version, 3);
        CHECK_EQ(s->max_version, 9);
        CHECK_EQ(s->first_flexible, 9);
        CHECK(strcmp(s->name, "Produce") == 0);
    }
    s = gr_api_schema_find(GR_API_DescribeCluster);
    CHECK(s && s->first_flexible == 0);
    CHECK(gr_api_schema_find(GR_API_ApiVersions) != NULL);
    CHECK(gr_api_schema_find(GR_API_DescribeLogDirs) != NULL);
    CHECK(gr_api_schema_find(4) == NULL);
    CHECK(gr_api_schema_find(-1) == NULL);
    CHECK(gr_api_schema_find(INT16_MAX) == NULL);
}

/* --- known bytes --- */

GR_TEST(codec_api_versions_v0_known_bytes)
{
    gr_arena_t arena;
    gr_arena_init(&arena);
    gr_writer_t w;
    gr_writer_init(&w);

    /* The v0 request has an empty body. */
    gr_ApiVersionsRequest req;
    gr_ApiVersionsRequest_init(&req);
    gr_ApiVersionsRequest_encode(&w, 0, &req);
    CHECK_EQ(w.len, 0);
    gr_reader_t r;
    gr_reader_init(&r, "", 0);
    CHECK_EQ(gr_ApiVersionsRequest_decode(&r, &arena, 0, &req), 0);

    /* Response: error_code, [api_key min_version max_version]. */
    gr_ApiVersionsResponse_ApiVersion keys[2] = {{GR_API_Produce, 3, 9}, {GR_API_ApiVersions, 0, 3}};
    gr_ApiVersionsResponse resp;
    gr_ApiVersionsResponse_init(&resp);
    resp.ApiKeys_count = 2;
    resp.ApiKeys = keys;
    resp.ThrottleTimeMs = 77;  /* v1+: must not appear in v0 */
    gr_ApiVersionsResponse_encode(&w, 0, &resp);
    CHECK_WIRE(&w, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x00, 0x09, 0x00, 0x12, 0x00, 0x00,
               0x00, 0x03);

    gr_ApiVersionsResponse back;
    gr_reader_init(&r, w.buf, w.len);
    CHECK_EQ(gr_ApiVersionsResponse_decode(&r, &arena, 0, &back), 0);
    CHECK_EQ(back.ApiKeys_count, 2);
    CHECK_EQ(back.ApiKeys[1].ApiKey, 18);
    CHECK_EQ(back.ApiKeys[1].MaxVersion, 3);
    CHECK_EQ(back.ThrottleTimeMs, 0);
    CHECK_EQ(back.FinalizedFeaturesEpoch, -1);  /* default when absent */

    gr_writer_free(&w);
    gr_arena_destroy(&arena);
}

GR_TEST(codec_api_versions_v3_response_writes_only_non_default_tags)
{
    gr_writer_t w;
    gr_writer_init(&w);
    gr_ApiVersionsResponse_ApiVersion key = {GR_API_ApiVersions, 0, 3};
    gr_ApiVersionsResponse resp;
    gr_ApiVersionsResponse_init(&resp);
    resp.ApiKeys_count = 1;
    resp.ApiKeys = &key;
    resp.ThrottleTimeMs = 0;
    resp.FinalizedFeaturesEpoch = 5;  /* tag 1; tags 0, 2 and 3 stay default */
    gr_ApiVersionsResponse_encode(&w, 3, &resp);
    CHECK_WIRE(&w,
               0x00, 0x00,                                /* ErrorCode */
               0x02,                                      /* compact array: 1 element */
               0x00, 0x12, 0x00, 0x00, 0x00, 0x03, 0x00,  /* ApiVersion + its empty tag buffer */
               0x00, 0x00, 0x00, 0x00,                    /* ThrottleTimeMs */
               0x01,                                      /* one tagged field */
               0x01, 0x08,                                /* tag 1, 8 bytes */
               0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05);

    gr_arena_t arena;
    gr_arena_init(&arena);
    gr_ApiVersionsResponse back;
    gr_reader_t r;
    gr_reader_init(&r, w.buf, w.len);
    CHECK_EQ(gr_ApiVersionsResponse_decode(&r, &arena, 3, &back), 0);
    CHECK_EQ(back.FinalizedFeaturesEpoch, 5);
    CHECK_EQ(back.SupportedFeatures_count, 0);
    CHECK_EQ(back.ZkMigrationReady, false);
    gr_arena_destroy(&arena);
    gr_writer_free(&w);
}

GR_TEST(codec_api_versions_v3_request_known_bytes)
{
    const uint8_t wire[] = {0x04, 'l', 'i', 'b', 0x02, '2', 0x00};
    gr_arena_t arena;
    gr_arena_init(&arena);
    gr_ApiVersionsRequest req;
    gr_reader_t r;
    gr_reader_init(&r, wire, sizeof wire);
    CHECK_EQ(gr_ApiVersionsRequest_decode(&r, &arena, 3, &req), 0);
    CHECK(gr_str_eq(req.ClientSoftwareName, "lib"));
    CHECK(gr_str_eq(req.ClientSoftwareVersion, "2"));
    gr_arena_destroy(&arena);
}

GR_TEST(codec_metadata_v1_request_known_bytes)
{
    gr_writer_t w;
    gr_writer_init(&w);
    gr_MetadataRequest_MetadataRequestTopic topic;
    memset(&topic, 0, sizeof topic);
    topic.Name = gr_str("foo");
    gr_MetadataRequest req;
    gr_MetadataRequest_init(&req);
    CHECK_EQ(req.AllowAutoTopicCreation, true);  /* default=true */
    req.Topics_count = 1;
    req.Topics = &topic;
    gr_MetadataRequest_encode(&w, 1, &req);
    CHECK_WIRE(&w, 0x00, 0x00, 0x00, 0x01, 0x00, 0x03, 'f', 'o', 'o');

    /* v1+: a null array asks for every topic. */
    gr_writer_reset(&w);
    req.Topics_count = -1;
    req.Topics = NULL;
    gr_MetadataRequest_encode(&w, 1, &req);
    CHECK_WIRE(&w, 0xff, 0xff, 0xff, 0xff);

    gr_arena_t arena;
    gr_arena_init(&arena);
    gr_reader_t r;
    gr_reader_init(&r, w.buf, w.len);
    gr_MetadataRequest back;
    CHECK_EQ(gr_MetadataRequest_decode(&r, &arena, 1, &back), 0);
    CHECK_EQ(back.Topics_count, -1);
    gr_arena_destroy(&arena);
    gr_writer_free(&w);
}

/* Produce v9 (flexible): compact strings and arrays, a tag buffer after each
 * struct, and an unknown tagged field the decoder must skip. */
GR_TEST(codec_produce_v9_request_known_bytes_with_tagged_field)
{
    const uint8_t wire[] = {
        0x00,                    /* TransactionalId: compact null */
        0xff, 0xff,              /* Acks -1 */
        0x00, 0x00, 0x03, 0xe8,  /* TimeoutMs 1000 */
        0x02,                    /* TopicData: 1 element */
        0x02, 't',               /* Name "t" */
        0x02,                    /* PartitionData: 1 element */
        0x00, 0x00, 0x00, 0x07,  /* Index 7 */
        0x04, 0xaa, 0xbb, 0xcc,  /* Records: 3 bytes */
        0x01, 0x09, 0x01, 0x55,  /* partition tags: unknown tag 9, 1 byte */
        0x00,                    /* topic tags: none */
        0x01, 0x05, 0x02, 0xde, 0xad,  /* request tags: unknown tag 5, 2 bytes */
    };
    gr_arena_t arena;
    gr_arena_init(&arena);
    gr_ProduceRequest req;
    gr_reader_t r;
    gr_reader_init(&r, wire, sizeof wire);
    CHECK_EQ(gr_ProduceRequest_decode(&r, &arena, 9, &req), 0);
    CHECK_EQ(gr_reader_left(&r), 0);
    CHECK_EQ(req.TransactionalId.len, -1);
    CHECK_EQ(req.Acks, -1);
    CHECK_EQ(req.TimeoutMs, 1000);
    CHECK_EQ(req.TopicData_count, 1);
    if (req.TopicData_count == 1) {
        CHECK(gr_str_eq(req.TopicData[0].Name, "t"));
        CHECK_EQ(req.TopicData[0].PartitionData_count, 1);
        if (req.TopicData[0].PartitionData_count == 1) {
            const gr_ProduceRequest_PartitionProduceData *p = &req.TopicData[0].PartitionData[0];
            CHECK_EQ(p->Index, 7);
            CHECK_EQ(p->Records.len, 3);
            CHECK(p->Records.ptr == wire + 16);  /* a view, not a copy */
            CHECK(p->Records.file == NULL);
        }
    }

    /* Re-encoding drops the unknown tags. */
    gr_writer_t w;
    gr_writer_init(&w);
    gr_ProduceRequest_encode(&w, 9, &req);
    CHECK_WIRE(&w, 0x00, 0xff, 0xff, 0x00, 0x00, 0x03, 0xe8, 0x02, 0x02, 't', 0x02, 0x00, 0x00, 0x00, 0x07, 0x04,
               0xaa, 0xbb, 0xcc, 0x00, 0x00, 0x00);
    gr_writer_free(&w);

    /* The same body in v8 is not flexible: classic lengths. */
    gr_writer_init(&w);
    gr_ProduceRequest_encode(&w, 8, &req);
    CHECK_WIRE(&w, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't', 0x00,
               0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x03, 0xaa, 0xbb, 0xcc);
    gr_writer_free(&w);
    gr_arena_destroy(&arena);
}

GR_TEST(codec_tagged_field_overrunning_its_buffer_is_rejected)
{
    /* Produce v9 with the request tag claiming 9 bytes when 2 follow. */
    const uint8_t wire[] = {0x00, 0xff, 0xff, 0x00, 0x00, 0x03, 0xe8, 0x01, 0x01, 0x05, 0x09, 0xde, 0xad};
    gr_arena_t arena;
    gr_arena_init(&arena);
    gr_ProduceRequest req;
    gr_reader_t r;
    gr_reader_init(&r, wire, sizeof wire);
    CHECK_EQ(gr_ProduceRequest_decode(&r, &arena, 9, &req), GR_EPARSE);
    gr_arena_destroy(&arena);
}

GR_TEST(codec_fetch_v12_tagged_struct_fields)
{
    gr_FetchResponse_PartitionData part;
    memset(&part, 0, sizeof part);
    part.PartitionIndex = 0;
    part.LastStableOffset = -1;
    part.LogStartOffset = -1;
    part.PreferredReadReplica = -1;
    part.AbortedTransactions_count = -1;
    part.Records = (gr_records_t){NULL, -1, NULL, 0};
    part.DivergingEpoch = (gr_FetchResponse_EpochEndOffset){-1, -1};
    part.CurrentLeader = (gr_FetchResponse_LeaderIdAndEpoch){3, 4};  /* non-default: written as tag 1 */
    part.SnapshotId = (gr_FetchResponse_SnapshotId){-1, -1};
    gr_FetchResponse_FetchableTopicResponse topic;
    memset(&topic, 0, sizeof topic);
    topic.Topic = gr_str("t");
    topic.Partitions_count = 1;
    topic.Partitions = &part;
    gr_FetchResponse resp;
    gr_FetchResponse_init(&resp);
    resp.Responses_count = 1;
    resp.Responses = &topic;

    gr_writer_t w;
    gr_writer_init(&w);
    gr_FetchResponse_encode(&w, 12, &resp);
    CHECK_WIRE(&w,
               0x00, 0x00, 0x00, 0x00,              /* ThrottleTimeMs */
               0x00, 0x00,                          /* ErrorCode */
               0x00, 0x00, 0x00, 0x00,              /* SessionId */
               0x02,                                /* Responses: 1 */
               0x02, 't',                           /* Topic */
               0x02,                                /* Partitions: 1 */
               0x00, 0x00, 0x00, 0x00,              /* PartitionIndex */
               0x00, 0x00,                          /* ErrorCode */
               0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  /* HighWatermark */
               0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  /* LastStableOffset */
               0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  /* LogStartOffset */
               0x00,                                /* AbortedTransactions: null */
               0xff, 0xff, 0xff, 0xff,              /* PreferredReadReplica */
               0x00,                                /* Records: null */
               0x01, 0x01, 0x09,                    /* 1 tag: tag 1, 9 bytes */
               0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00,  /* LeaderId, LeaderEpoch, tags */
               0x00,                                /* topic tags */
               0x00);                               /* response tags */

    gr_arena_t arena;
    gr_arena_init(&arena);
    gr_FetchResponse back;
    gr_reader_t r;
    gr_reader_init(&r, w.buf, w.len);
    CHECK_EQ(gr_FetchResponse_decode(&r, &arena, 12, &back), 0);
    if (back.Responses_count == 1 && back.Responses[0].Partitions_count == 1) {
        const gr_FetchResponse_PartitionData *p = &back.Responses[0].Partitions[0];
        CHECK_EQ(p->CurrentLeader.LeaderId, 3);
        CHECK_EQ(p->CurrentLeader.LeaderEpoch, 4);
        CHECK_EQ(p->DivergingEpoch.Epoch, -1);
        CHECK_EQ(p->SnapshotId.EndOffset, -1);
        CHECK_EQ(p->AbortedTransactions_count, -1);
        CHECK_EQ(p->Records.len, -1);
    } else {
        CHECK(0);
    }
    gr_arena_destroy(&arena);
    gr_writer_free(&w);
}

GR_TEST(codec_hostile_array_count_fails_without_allocating)
{
    /* Metadata v1 request claiming 2^31-1 topics in 4 bytes. */
    const uint8_t wire[] = {0x7f, 0xff, 0xff, 0xff, 0x00, 0x01, 'a'};
    gr_arena_t arena;
    gr_arena_init(&arena);
    gr_MetadataRequest req;
    gr_reader_t r;
    gr_reader_init(&r, wire, sizeof wire);
    CHECK_EQ(gr_MetadataRequest_decode(&r, &arena, 1, &req), GR_EPARSE);

    /* A negative count other than -1 is malformed too. */
    const uint8_t negative[] = {0xff, 0xff, 0xff, 0xfe};
    gr_reader_init(&r, negative, sizeof negative);
    CHECK_EQ(gr_MetadataRequest_decode(&r, &arena, 1, &req), GR_EPARSE);
    gr_arena_destroy(&arena);
}

GR_TEST(codec_null_in_non_nullable_field_is_a_parse_error)
{
    /* Produce v3: TransactionalId null (fine), Acks, TimeoutMs, one topic with
     * a null name (not fine). */
    const uint8_t wire[] = {0xff, 0xff, 0x00, 0x01, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01,
                            0xff, 0xff, 0x00, 0x00, 0x00, 0x00};
    gr_arena_t arena;
    gr_arena_init(&arena);
    gr_ProduceRequest req;
    gr_reader_t r;
    gr_reader_init(&r, wire, sizeof wire);
    CHECK_EQ(gr_ProduceRequest_decode(&r, &arena, 3, &req), GR_EPARSE);

    /* The same with an empty name decodes. */
    uint8_t ok[sizeof wire];
    memcpy(ok, wire, sizeof wire);
    ok[12] = ok[13] = 0x00;
    gr_reader_init(&r, ok, sizeof ok);
    CHECK_EQ(gr_ProduceRequest_decode(&r, &arena, 3, &req), 0);
    CHECK_EQ(req.TopicData_count, 1);
    gr_arena_destroy(&arena);
}

GR_TEST(codec_unserved_version_is_refused)
{
    gr_arena_t arena;
    gr_arena_init(&arena);
    gr_ProduceRequest req;
    gr_reader_t r;
    gr_reader_init(&r, "", 0);
    CHECK_EQ(gr_ProduceRequest_decode(&r, &arena, 2, &req), GR_EVERSION);
    CHECK_EQ(gr_ProduceRequest_decode(&r, &arena, 10, &req), GR_EVERSION);
    gr_arena_destroy(&arena);
}

GR_TEST(codec_init_applies_defaults)
{
    gr_FetchRequest f;
    gr_FetchRequest_init(&f);
    CHECK_EQ(f.ReplicaId, -1);
    CHECK_EQ(f.MaxBytes, 0x7fffffff);
    CHECK_EQ(f.SessionEpoch, -1);
    CHECK_EQ(f.ClusterId.len, -1);
    CHECK_EQ(f.RackId.len, 0);
    CHECK(f.RackId.ptr != NULL);
    gr_DescribeClusterResponse d;
    gr_DescribeClusterResponse_init(&d);
    CHECK_EQ(d.ClusterAuthorizedOperations, INT32_MIN);
    CHECK_EQ(d.EndpointType, 1);
    CHECK_EQ(d.ErrorMessage.len, -1);
    gr_DescribeLogDirsRequest l;
    gr_DescribeLogDirsRequest_init(&l);
    CHECK_EQ(l.Topics_count, 0);  /* nullable but no default=null */
}
