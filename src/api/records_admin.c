/* DeleteRecords: raise a partition's log start offset (offset -1 = the high
 * watermark), dropping the segments wholly below it.  The answer's
 * LowWatermark is the log start offset afterwards.  Kafka's rules: not on
 * internal topics, not on topics whose cleanup.policy lacks "delete", and
 * never past the high watermark.  The start offsets are checkpointed before
 * the answer, so a restart does not bring deleted records back. */
#include <inttypes.h>

#include "api/api.h"

#define DELETE_TO_HIGH_WATERMARK (-1)

static int16_t delete_partition(gr_broker_t *b, gr_request_t *req, gr_str_t topic,
                                const gr_DeleteRecordsRequest_DeleteRecordsPartition *rp,
                                gr_DeleteRecordsResponse_DeleteRecordsPartitionResult *pr, bool *changed)
{
    const char *peer = gr_conn_peer(req->conn);
    int tlen = topic.len > 0 ? (topic.len > 255 ? 255 : (int)topic.len) : 0;
    const char *tname = topic.ptr ? topic.ptr : "";
    gr_broker_topic_t *t = topic.len > 0 ? gr_broker_topic(b, topic.ptr, (size_t)topic.len) : NULL;
    gr_partition_t *p = t ? gr_broker_partition(b, topic.ptr, (size_t)topic.len, rp->PartitionIndex) : NULL;
    if (!p) {
        gr_warn("conn %s: DeleteRecords on unknown partition %.*s-%d", peer, tlen, tname, rp->PartitionIndex);
        return GR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (t->internal) {
        gr_warn("conn %s: DeleteRecords on internal topic %s refused", peer, t->name);
        return GR_KERR_INVALID_TOPIC_EXCEPTION;
    }
    if (!t->settings.delete_policy) {
        gr_warn("conn %s: DeleteRecords on %s-%d refused: its cleanup.policy does not include delete", peer,
                t->name, p->index);
        return GR_KERR_POLICY_VIOLATION;
    }
    int64_t hw = gr_partition_high_watermark(p);
    int64_t offset = rp->Offset == DELETE_TO_HIGH_WATERMARK ? hw : rp->Offset;
    if (offset < 0 || offset > hw) {
        gr_warn("conn %s: DeleteRecords on %s-%d to offset %" PRId64 ": out of range (high watermark %" PRId64 ")",
                peer, t->name, p->index, rp->Offset, hw);
        return GR_KERR_OFFSET_OUT_OF_RANGE;
    }
    int64_t before = gr_log_start_offset(p->log);
    int rc = offset > before ? gr_log_delete_records(p->log, offset) : 0;
    if (rc == GR_ERANGE) {
        gr_warn("conn %s: DeleteRecords on %s-%d to offset %" PRId64 ": beyond the log end", peer, t->name,
                p->index, offset);
        return GR_KERR_OFFSET_OUT_OF_RANGE;
    }
    if (rc < 0) {
        gr_error("DeleteRecords on %s-%d to offset %" PRId64 " failed: %s", t->name, p->index, offset,
                 gr_strerror(rc));
        return gr_error_to_kafka(rc);
    }
    pr->LowWatermark = gr_log_start_offset(p->log);
    if (pr->LowWatermark != before) *changed = true;
    return GR_KERR_NONE;
}

void gr_api_delete_records(gr_broker_t *b, gr_request_t *req)
{
    gr_DeleteRecordsRequest in;
    GR_API_DECODE(req, DeleteRecordsRequest, &in);
    gr_DeleteRecordsResponse out;
    gr_DeleteRecordsResponse_init(&out);
    GR_API_ALLOC(req, out.Topics, in.Topics_count);
    out.Topics_count = in.Topics_count;
    bool changed = false;
    for (int32_t i = 0; i < in.Topics_count; i++) {
        gr_DeleteRecordsRequest_DeleteRecordsTopic *rt = &in.Topics[i];
        gr_DeleteRecordsResponse_DeleteRecordsTopicResult *tr = &out.Topics[i];
        gr_DeleteRecordsResponse_DeleteRecordsTopicResult_init(tr);
        tr->Name = rt->Name;
        GR_API_ALLOC(req, tr->Partitions, rt->Partitions_count);
        tr->Partitions_count = rt->Partitions_count;
        for (int32_t j = 0; j < rt->Partitions_count; j++) {
            gr_DeleteRecordsResponse_DeleteRecordsPartitionResult *pr = &tr->Partitions[j];
            gr_DeleteRecordsResponse_DeleteRecordsPartitionResult_init(pr);
            pr->PartitionIndex = rt->Partitions[j].PartitionIndex;
            pr->LowWatermark = -1;
            pr->ErrorCode = delete_partition(b, req, rt->Name, &rt->Partitions[j], pr, &changed);
            if (pr->ErrorCode != GR_KERR_NONE) pr->LowWatermark = -1;
        }
    }
    if (changed) {
        int rc = gr_broker_write_checkpoints(b);
        if (rc < 0) gr_error("DeleteRecords: writing checkpoints failed: %s", gr_strerror(rc));
    }
    GR_API_RESPOND(req, DeleteRecordsResponse, &out);
}
