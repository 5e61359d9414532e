/* ListOffsets: earliest (-2), latest (-1), max timestamp (-3, v7+) or the
 * first offset at or after a timestamp (through the time index). */
#include "api/api.h"

#define GR_LIST_LATEST (-1)
#define GR_LIST_EARLIEST (-2)
#define GR_LIST_MAX_TIMESTAMP (-3)

static void lookup(gr_partition_t *p, gr_ListOffsetsRequest_ListOffsetsPartition *rp,
                   gr_ListOffsetsResponse_ListOffsetsPartitionResponse *pr)
{
    pr->Timestamp = -1;
    pr->LeaderEpoch = p->leader_epoch;
    if (rp->CurrentLeaderEpoch >= 0 && rp->CurrentLeaderEpoch != p->leader_epoch) {
        pr->ErrorCode = rp->CurrentLeaderEpoch > p->leader_epoch ? GR_KERR_UNKNOWN_LEADER_EPOCH
                                                                   : GR_KERR_FENCED_LEADER_EPOCH;
        pr->Offset = -1;
        return;
    }
    switch (rp->Timestamp) {
    case GR_LIST_EARLIEST:
        pr->Offset = gr_log_start_offset(p->log);
        return;
    case GR_LIST_LATEST:
        pr->Offset = gr_partition_high_watermark(p);
        return;
    case GR_LIST_MAX_TIMESTAMP:
        if (gr_log_max_timestamp(p->log, &pr->Offset, &pr->Timestamp) < 0) {
            pr->Offset = -1;
            pr->Timestamp = -1;
        }
        return;
    default:
        if (rp->Timestamp < 0) {
            pr->ErrorCode = GR_KERR_INVALID_REQUEST;
            pr->Offset = -1;
            return;
        }
        /* No batch at or after the timestamp: offset -1, as Kafka answers. */
        if (gr_log_offset_for_timestamp(p->log, rp->Timestamp, &pr->Offset, &pr->Timestamp) < 0) {
            pr->Offset = -1;
            pr->Timestamp = -1;
        }
    }
}

void gr_api_list_offsets(gr_broker_t *b, gr_request_t *req)
{
    gr_ListOffsetsRequest in;
    GR_API_DECODE(req, ListOffsetsRequest, &in);
    gr_ListOffsetsResponse out;
    gr_ListOffsetsResponse_init(&out);
    out.Topics_count = in.Topics_count;
    GR_API_ALLOC(req, out.Topics, in.Topics_count);
    for (int32_t i = 0; i < in.Topics_count; i++) {
        gr_ListOffsetsRequest_ListOffsetsTopic *rt = &in.Topics[i];
        gr_ListOffsetsResponse_ListOffsetsTopicResponse *tr = &out.Topics[i];
        tr->Name = rt->Name;
        tr->Partitions_count = rt->Partitions_count;
        GR_API_ALLOC(req, tr->Partitions, rt->Partitions_count);
        for (int32_t j = 0; j < rt->Partitions_count; j++) {
            gr_ListOffsetsResponse_ListOffsetsPartitionResponse *pr = &tr->Partitions[j];
            gr_ListOffsetsResponse_ListOffsetsPartitionResponse_init(pr);
            pr->PartitionIndex = rt->Partitions[j].PartitionIndex;
            gr_partition_t *p = rt->Name.len > 0 ? gr_broker_partition(b, rt->Name.ptr, (size_t)rt->Name.len,
                                                                         pr->PartitionIndex)
                                                 : NULL;
            if (!p) {
                pr->ErrorCode = GR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            lookup(p, &rt->Partitions[j], pr);
        }
    }
    GR_API_RESPOND(req, ListOffsetsResponse, &out);
}
