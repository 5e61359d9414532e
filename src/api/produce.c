/* Produce: validate each partition's batch, append it, and answer.
 *
 * The batch is appended from the receive buffer it arrived in (stamped in
 * place with its base offset and leader epoch), so produced bytes are copied
 * once: socket -> page cache.
 *
 * acks=0 gets no response (and a closed connection on error, as in Kafka);
 * acks=1 and acks=all are the same on one broker.  When the topic's flush
 * policy makes this append due for an fsync (flush.messages=1 is "durable
 * mode"), the request parks until the flusher reports that the log is
 * synced past the batch — many requests share one fdatasync. */
#include <inttypes.h>
#include <limits.h>

#include "api/api.h"
#include "protocol/record_batch.h"
#include "protocol/records.h"

typedef struct produce_wait {
    gr_waiter_t waiter;
    struct produce_state *state;
    gr_partition_t *partition;
    gr_ProduceResponse_PartitionProduceResponse *resp;
} produce_wait_t;

typedef struct produce_state {
    gr_broker_t *b;
    gr_request_t *req;
    gr_ProduceResponse out;
    produce_wait_t *waits;
    int nwaits, pending;
    gr_timer_t timer;
} produce_state_t;

/* Stops the walk at the first record without a key. */
static int find_null_key(const gr_record_t *rec, void *arg)
{
    (void)arg;
    return rec->key.len < 0 ? 1 : 0;
}

/* Validates one partition's records and appends them; returns the Kafka
 * error code for the partition. */
static int16_t append_partition(gr_broker_t *b, gr_request_t *req, gr_broker_topic_t *t, gr_partition_t *p,
                                gr_records_t *rec, gr_ProduceResponse_PartitionProduceResponse *resp,
                                bool *flush_due)
{
    if (rec->len <= 0) return GR_KERR_INVALID_RECORD;
    gr_batch_header_t h;
    int64_t size = gr_batch_parse_header(rec->ptr, (size_t)rec->len, &h);
    if (size == GR_ECORRUPT && rec->len > 16 && rec->ptr[16] != 2) {
        gr_warn("produce to %s-%d from %s: magic %d batches are not supported (Produce v3+ sends magic 2)",
                t->name, p->index, gr_conn_peer(req->conn), rec->ptr[16]);
        return GR_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
    }
    if (size < 0 || size > rec->len) {
        gr_warn("produce to %s-%d from %s: truncated or malformed batch (%d bytes)", t->name, p->index,
                gr_conn_peer(req->conn), rec->len);
        return GR_KERR_CORRUPT_MESSAGE;
    }
    if (size < rec->len) {
        /* Magic 2 allows exactly one batch per partition per request. */
        gr_warn("produce to %s-%d from %s: more than one batch in one partition's records", t->name, p->index,
                gr_conn_peer(req->conn));
        return GR_KERR_INVALID_RECORD;
    }
    if (size > t->settings.max_message_bytes) {
        gr_warn("produce to %s-%d from %s: batch of %" PRId64 " bytes exceeds max.message.bytes %d", t->name,
                p->index, gr_conn_peer(req->conn), size, t->settings.max_message_bytes);
        return GR_KERR_MESSAGE_TOO_LARGE;
    }
    if (size > t->settings.log.segment_bytes) return GR_KERR_RECORD_LIST_TOO_LARGE;
    int rc = gr_batch_validate(rec->ptr, (size_t)rec->len, &h);
    if (rc < 0) {
        gr_warn("produce to %s-%d from %s: batch rejected: %s", t->name, p->index, gr_conn_peer(req->conn),
                gr_strerror(rc));
        return gr_error_to_kafka(rc);
    }
    if (h.attributes & GR_BATCH_ATTR_CONTROL) return GR_KERR_INVALID_RECORD;
    if (t->settings.compact) {
        /* The cleaner keeps the latest record per key, so a record without
         * one has no place in a compacted log (Kafka's LogValidator).  Only
         * compacted topics pay for walking (and decompressing) records. */
        rc = gr_records_decode(rec->ptr, (size_t)rec->len, find_null_key, NULL);
        if (rc > 0) {
            gr_warn("produce to %s-%d from %s: compacted topic cannot accept message without key", t->name,
                    p->index, gr_conn_peer(req->conn));
            return GR_KERR_INVALID_RECORD;
        }
        if (rc < 0) {
            gr_warn("produce to %s-%d from %s: records unreadable: %s", t->name, p->index,
                    gr_conn_peer(req->conn), gr_strerror(rc));
            return rc == GR_ENOMEM ? GR_KERR_UNKNOWN_SERVER_ERROR : GR_KERR_CORRUPT_MESSAGE;
        }
    }
    gr_append_info_t info;
    /* The receive buffer is ours: the batch is stamped where it lies. */
    rc = gr_broker_append(b, t, p, (uint8_t *)rec->ptr, (size_t)rec->len, &info);
    if (rc < 0) return gr_error_to_kafka(rc);
    resp->BaseOffset = info.base_offset;
    resp->LogAppendTimeMs = info.log_append_time;
    resp->LogStartOffset = info.log_start_offset;
    *flush_due = info.flush_due;
    return GR_KERR_NONE;
}

static void produce_respond(produce_state_t *st)
{
    gr_loop_timer_cancel(st->b->loop, &st->timer);
    for (int i = 0; i < st->nwaits; i++) gr_waiter_unlink(&st->waits[i].waiter);
    GR_API_RESPOND(st->req, ProduceResponse, &st->out);
}

static void produce_flushed(gr_waiter_t *w)
{
    produce_wait_t *pw = (produce_wait_t *)w;
    gr_waiter_unlink(w);
    if (--pw->state->pending == 0) produce_respond(pw->state);
}

static void produce_timed_out(gr_timer_t *timer)
{
    produce_state_t *st = (produce_state_t *)((char *)timer - offsetof(produce_state_t, timer));
    for (int i = 0; i < st->nwaits; i++) {
        produce_wait_t *pw = &st->waits[i];
        if (pw->waiter.list) {
            gr_warn("produce to %s-%d: fsync not done within the request timeout", pw->partition->topic,
                    pw->partition->index);
            pw->resp->ErrorCode = GR_KERR_REQUEST_TIMED_OUT;
        }
    }
    produce_respond(st);
}

void gr_api_produce(gr_broker_t *b, gr_request_t *req)
{
    gr_ProduceRequest in;
    GR_API_DECODE(req, ProduceRequest, &in);
    produce_state_t *st;
    GR_API_ALLOC(req, st, 1);
    st->b = b;
    st->req = req;
    gr_ProduceResponse_init(&st->out);
    gr_ProduceResponse *out = &st->out;
    bool valid_acks = in.Acks == 0 || in.Acks == 1 || in.Acks == -1;
    int total_partitions = 0;
    for (int32_t i = 0; i < in.TopicData_count; i++) total_partitions += in.TopicData[i].PartitionData_count;
    GR_API_ALLOC(req, st->waits, total_partitions);
    GR_API_ALLOC(req, out->Responses, in.TopicData_count);
    out->Responses_count = in.TopicData_count;
    int16_t first_error = GR_KERR_NONE;

    for (int32_t i = 0; i < in.TopicData_count; i++) {
        gr_ProduceRequest_TopicProduceData *td = &in.TopicData[i];
        gr_ProduceResponse_TopicProduceResponse *tr = &out->Responses[i];
        tr->Name = td->Name;
        tr->PartitionResponses_count = td->PartitionData_count;
        GR_API_ALLOC(req, tr->PartitionResponses, td->PartitionData_count);
        int16_t topic_err = GR_KERR_NONE;
        gr_broker_topic_t *t = NULL;
        if (!valid_acks) {
            topic_err = GR_KERR_INVALID_REQUIRED_ACKS;
        } else if (td->Name.len <= 0) {
            topic_err = GR_KERR_INVALID_TOPIC_EXCEPTION;
        } else {
            t = gr_broker_topic(b, td->Name.ptr, (size_t)td->Name.len);
            if (!t) t = gr_broker_auto_create(b, td->Name.ptr, (size_t)td->Name.len, &topic_err);
        }
        for (int32_t j = 0; j < td->PartitionData_count; j++) {
            gr_ProduceRequest_PartitionProduceData *pd = &td->PartitionData[j];
            gr_ProduceResponse_PartitionProduceResponse *pr = &tr->PartitionResponses[j];
            gr_ProduceResponse_PartitionProduceResponse_init(pr);
            pr->Index = pd->Index;
            pr->BaseOffset = -1;
            pr->ErrorCode = topic_err;
            gr_partition_t *p = NULL;
            if (t && !topic_err) {
                if (pd->Index < 0 || pd->Index >= t->npartitions) pr->ErrorCode = GR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                else p = t->partitions[pd->Index];
            }
            bool flush_due = false;
            if (p) pr->ErrorCode = append_partition(b, req, t, p, &pd->Records, pr, &flush_due);
            if (pr->ErrorCode && !first_error) first_error = pr->ErrorCode;
            if (pr->ErrorCode == GR_KERR_UNKNOWN_TOPIC_OR_PARTITION || pr->ErrorCode == GR_KERR_INVALID_TOPIC_EXCEPTION)
                gr_warn("produce from %s to %.*s-%d: %s", gr_conn_peer(req->conn),
                        td->Name.len > 255 ? 255 : (int)td->Name.len, td->Name.ptr, pd->Index,
                        gr_kafka_error_name(pr->ErrorCode));
            if (flush_due) {
                if (in.Acks != 0) {
                    produce_wait_t *pw = &st->waits[st->nwaits++];
                    pw->state = st;
                    pw->partition = p;
                    pw->resp = pr;
                    pw->waiter.wake = produce_flushed;
                    pw->waiter.offset = pr->BaseOffset + 1;  /* refined below */
                }
            }
        }
    }
    if (in.Acks == 0) {
        /* No response to acks=0; Kafka closes the connection on an error so
         * the producer notices something went wrong. */
        if (first_error) gr_request_close_connection(req, "acks=0 produce failed");
        else gr_request_finish_silently(req);
        return;
    }
    /* Durable produce: wait until each appended batch is on disk. */
    for (int i = 0; i < st->nwaits; i++) {
        produce_wait_t *pw = &st->waits[i];
        int64_t end = gr_log_end_offset(pw->partition->log);
        pw->waiter.offset = end;
        if (pw->partition->flushed >= end) continue;
        gr_waiter_link(&pw->partition->flush_waiters, &pw->waiter);
        st->pending++;
    }
    if (st->pending == 0) {
        GR_API_RESPOND(req, ProduceResponse, out);
        return;
    }
    req->parked = st;
    gr_timer_init(&st->timer, produce_timed_out);
    gr_loop_timer_arm(b->loop, &st->timer, gr_now_ms() + (in.TimeoutMs > 0 ? in.TimeoutMs : 30000));
}
