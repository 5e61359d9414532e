/* Fetch: serve byte ranges of segment files with sendfile(), long-polling
 * until min_bytes are ready or max_wait_ms passes.
 *
 * Each evaluation walks the requested partitions, asks the log for the range
 * starting at the batch that holds the fetch offset, and puts file
 * references into the response; the connection sends them with sendfile().
 * If fewer than min_bytes are ready, the request parks: one waiter per
 * partition, woken by appends.  A wake-up unlinks all of the request's
 * waiters and schedules one re-evaluation after the current batch of events,
 * so a produce touching many partitions costs one re-evaluation.
 *
 * No fetch sessions (KIP-227): we answer SessionId 0, and clients then send
 * full fetch requests, which Kafka allows. */
#include <inttypes.h>

#include "api/api.h"

typedef struct fetch_wait {
    gr_waiter_t waiter;
    struct fetch_state *state;
} fetch_wait_t;

typedef struct fetch_state {
    gr_broker_t *b;
    gr_request_t *req;
    gr_FetchRequest in;
    fetch_wait_t *waits;        /* one per requested partition */
    int nwaits;
    gr_timer_t timer;
    bool timed_out;
    bool reevaluation_scheduled;
} fetch_state_t;

static void fetch_evaluate(fetch_state_t *st);

static void unlink_all(fetch_state_t *st)
{
    for (int i = 0; i < st->nwaits; i++) gr_waiter_unlink(&st->waits[i].waiter);
}

static void reevaluate(void *arg)
{
    fetch_state_t *st = arg;
    st->reevaluation_scheduled = false;
    fetch_evaluate(st);
}

static void fetch_woken(gr_waiter_t *w)
{
    fetch_state_t *st = ((fetch_wait_t *)w)->state;
    unlink_all(st);
    if (!st->reevaluation_scheduled) {
        st->reevaluation_scheduled = true;
        gr_loop_defer(st->b->loop, reevaluate, st);
    }
}

static void fetch_timed_out(gr_timer_t *timer)
{
    fetch_state_t *st = (fetch_state_t *)((char *)timer - offsetof(fetch_state_t, timer));
    st->timed_out = true;
    unlink_all(st);
    if (!st->reevaluation_scheduled) fetch_evaluate(st);
}

/* Drops the file references of an evaluation that is not sent. */
static void release_records(gr_FetchResponse *out)
{
    for (int32_t i = 0; i < out->Responses_count; i++)
        for (int32_t j = 0; j < out->Responses[i].Partitions_count; j++) {
            gr_records_t *rec = &out->Responses[i].Partitions[j].Records;
            gr_file_release(rec->file);
            rec->file = NULL;
        }
}

static int16_t check_leader_epoch(gr_partition_t *p, int32_t requested)
{
    if (requested < 0 || requested == p->leader_epoch) return GR_KERR_NONE;
    return requested > p->leader_epoch ? GR_KERR_UNKNOWN_LEADER_EPOCH : GR_KERR_FENCED_LEADER_EPOCH;
}

static void fetch_evaluate(fetch_state_t *st)
{
    gr_broker_t *b = st->b;
    gr_request_t *req = st->req;
    gr_FetchRequest *in = &st->in;
    if (!gr_request_conn_alive(req)) {
        /* The client went away while we waited: finishing frees the request. */
        gr_loop_timer_cancel(b->loop, &st->timer);
        gr_request_finish_silently(req);
        return;
    }
    gr_FetchResponse out;
    gr_FetchResponse_init(&out);
    out.SessionId = 0;
    out.Responses_count = in->Topics_count;
    GR_API_ALLOC(req, out.Responses, in->Topics_count);
    int64_t budget = in->MaxBytes > 0 ? in->MaxBytes : INT32_MAX;
    int64_t total = 0;
    bool error = false;
    int nwaits = 0;

    for (int32_t i = 0; i < in->Topics_count; i++) {
        gr_FetchRequest_FetchTopic *ft = &in->Topics[i];
        gr_FetchResponse_FetchableTopicResponse *tr = &out.Responses[i];
        gr_broker_topic_t *t;
        if (req->api_version >= 13) {
            t = gr_broker_topic_by_id(b, &ft->TopicId);
            tr->TopicId = ft->TopicId;
        } else {
            t = ft->Topic.len > 0 ? gr_broker_topic(b, ft->Topic.ptr, (size_t)ft->Topic.len) : NULL;
            tr->Topic = ft->Topic;
        }
        tr->Partitions_count = ft->Partitions_count;
        GR_API_ALLOC(req, tr->Partitions, ft->Partitions_count);
        for (int32_t j = 0; j < ft->Partitions_count; j++) {
            gr_FetchRequest_FetchPartition *fp = &ft->Partitions[j];
            gr_FetchResponse_PartitionData *pd = &tr->Partitions[j];
            gr_FetchResponse_PartitionData_init(pd);
            pd->PartitionIndex = fp->Partition;
            pd->AbortedTransactions_count = req->api_version >= 4 ? 0 : -1;
            pd->Records.len = 0;
            gr_partition_t *p = t && fp->Partition >= 0 && fp->Partition < t->npartitions ? t->partitions[fp->Partition] : NULL;
            if (!p) {
                pd->ErrorCode = t || req->api_version < 13 ? GR_KERR_UNKNOWN_TOPIC_OR_PARTITION : GR_KERR_UNKNOWN_TOPIC_ID;
                pd->HighWatermark = -1;
                error = true;
                continue;
            }
            int64_t hw = gr_partition_high_watermark(p);
            pd->HighWatermark = hw;
            pd->LastStableOffset = hw;
            pd->LogStartOffset = gr_log_start_offset(p->log);
            pd->ErrorCode = check_leader_epoch(p, fp->CurrentLeaderEpoch);
            if (pd->ErrorCode) {
                error = true;
                continue;
            }
            int64_t max = fp->PartitionMaxBytes < budget - total ? fp->PartitionMaxBytes : budget - total;
            if (max < 0) max = 0;
            gr_log_slice_t slice = {0};
            int rc = gr_log_read(p->log, fp->FetchOffset, hw, max, total == 0, &slice);
            if (rc == GR_ERANGE) {
                pd->ErrorCode = GR_KERR_OFFSET_OUT_OF_RANGE;
                error = true;
                gr_debug("fetch %s-%d offset %" PRId64 " out of range [%" PRId64 ", %" PRId64 "]", p->topic,
                         p->index, fp->FetchOffset, pd->LogStartOffset, hw);
                continue;
            }
            if (rc < 0) {
                gr_error("fetch %s-%d offset %" PRId64 ": read failed: %s", p->topic, p->index, fp->FetchOffset,
                         gr_strerror(rc));
                pd->ErrorCode = gr_error_to_kafka(rc);
                error = true;
                continue;
            }
            if (slice.len > 0) {
                pd->Records.file = slice.file;  /* the reference moves to the response */
                pd->Records.off = slice.pos;
                pd->Records.len = (int32_t)slice.len;
                total += slice.len;
            }
            nwaits++;
        }
    }

    bool respond = total >= in->MinBytes || in->MaxWaitMs <= 0 || error || st->timed_out || total >= budget;
    if (!respond && !st->waits) {
        /* First time parking: allocate the waiters once. */
        GR_API_ALLOC(req, st->waits, nwaits);
        st->nwaits = nwaits;
        for (int i = 0; i < nwaits; i++) {
            st->waits[i].state = st;
            st->waits[i].waiter.wake = fetch_woken;
        }
        req->parked = st;
        gr_timer_init(&st->timer, fetch_timed_out);
        gr_loop_timer_arm(b->loop, &st->timer, gr_now_ms() + in->MaxWaitMs);
    }
    if (!respond) {
        release_records(&out);
        int k = 0;
        for (int32_t i = 0; i < in->Topics_count; i++) {
            gr_FetchRequest_FetchTopic *ft = &in->Topics[i];
            gr_broker_topic_t *t = req->api_version >= 13 ? gr_broker_topic_by_id(b, &ft->TopicId)
                                   : gr_broker_topic(b, ft->Topic.ptr, (size_t)(ft->Topic.len > 0 ? ft->Topic.len : 0));
            for (int32_t j = 0; j < ft->Partitions_count && k < st->nwaits; j++) {
                int32_t idx = ft->Partitions[j].Partition;
                if (!t || idx < 0 || idx >= t->npartitions) continue;
                gr_waiter_link(&t->partitions[idx]->fetch_waiters, &st->waits[k++].waiter);
            }
        }
        return;
    }
    if (st->waits) {
        unlink_all(st);
        gr_loop_timer_cancel(b->loop, &st->timer);
    }
    gr_response_begin(req);
    gr_FetchResponse_encode(&req->out, req->api_version, &out);
    release_records(&out);   /* the writer holds its own references */
    gr_request_finish(req);
}

void gr_api_fetch(gr_broker_t *b, gr_request_t *req)
{
    fetch_state_t *st;
    GR_API_ALLOC(req, st, 1);
    GR_API_DECODE(req, FetchRequest, &st->in);
    st->b = b;
    st->req = req;
    fetch_evaluate(st);
}
