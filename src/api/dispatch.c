/* Request header parsing and dispatch.
 *
 *   RequestHeader v1: api_key i16, api_version i16, correlation_id i32,
 *                     client_id STRING (nullable; never compact)
 *   RequestHeader v2: v1 + TAG_BUFFER   (flexible request versions)
 *
 * (v0, without client_id, is only ControlledShutdown v0, which we do not serve.)
 */
#include <stdio.h>

#include "api/api.h"

/* Handlers that exist; ApiVersions advertises exactly these (with the
 * versions from the schema files). */
static const struct {
    int16_t key;
    gr_api_handler_fn fn;
} handlers[] = {
    {GR_API_Produce, gr_api_produce},
    {GR_API_Fetch, gr_api_fetch},
    {GR_API_ListOffsets, gr_api_list_offsets},
    {GR_API_OffsetCommit, gr_api_offset_commit},
    {GR_API_OffsetFetch, gr_api_offset_fetch},
    {GR_API_FindCoordinator, gr_api_find_coordinator},
    {GR_API_JoinGroup, gr_api_join_group},
    {GR_API_Heartbeat, gr_api_heartbeat},
    {GR_API_LeaveGroup, gr_api_leave_group},
    {GR_API_SyncGroup, gr_api_sync_group},
    {GR_API_DescribeGroups, gr_api_describe_groups},
    {GR_API_ListGroups, gr_api_list_groups},
    {GR_API_Metadata, gr_api_metadata},
    {GR_API_ApiVersions, gr_api_api_versions},
    {GR_API_CreateTopics, gr_api_create_topics},
    {GR_API_DeleteTopics, gr_api_delete_topics},
    {GR_API_DeleteRecords, gr_api_delete_records},
    {GR_API_DescribeConfigs, gr_api_describe_configs},
    {GR_API_AlterConfigs, gr_api_alter_configs},
    {GR_API_DescribeLogDirs, gr_api_describe_log_dirs},
    {GR_API_CreatePartitions, gr_api_create_partitions},
    {GR_API_DeleteGroups, gr_api_delete_groups},
    {GR_API_IncrementalAlterConfigs, gr_api_incremental_alter_configs},
    {GR_API_OffsetDelete, gr_api_offset_delete},
    {GR_API_DescribeCluster, gr_api_describe_cluster},
};

gr_api_handler_fn gr_api_handler(int16_t key)
{
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        if (handlers[i].key == key) return handlers[i].fn;
    return NULL;
}

void gr_api_malformed(gr_request_t *req, const char *api)
{
    char why[160];
    snprintf(why, sizeof why, "malformed %s v%d request (correlation id %d, client %.*s)", api,
             req->api_version, req->correlation_id, req->client_id.len > 0 ? (int)req->client_id.len : 1,
             req->client_id.len > 0 ? req->client_id.ptr : "-");
    gr_request_close_connection(req, why);
}

char *gr_api_cstr(gr_request_t *req, gr_str_t s)
{
    return gr_arena_strndup(&req->arena, s.ptr ? s.ptr : "", s.len > 0 ? (size_t)s.len : 0);
}

/* KIP-511: an ApiVersions request of a version we do not know is answered
 * with a v0 body (error UNSUPPORTED_VERSION and our ApiVersions range), so
 * the client can retry with a version we serve. */
static void answer_unknown_api_versions(gr_request_t *req)
{
    const gr_api_schema_t *s = gr_api_schema_find(GR_API_ApiVersions);
    req->flexible = false;
    gr_response_begin(req);
    gr_write_i16(&req->out, GR_KERR_UNSUPPORTED_VERSION);
    gr_write_i32(&req->out, 1);
    gr_write_i16(&req->out, GR_API_ApiVersions);
    gr_write_i16(&req->out, s->min_version);
    gr_write_i16(&req->out, s->max_version);
    gr_request_finish(req);
}

void gr_api_dispatch(void *app, gr_request_t *req)
{
    gr_broker_t *b = app;
    gr_reader_t *r = &req->body;
    req->api_key = gr_read_i16(r);
    req->api_version = gr_read_i16(r);
    req->correlation_id = gr_read_i32(r);
    req->client_id = gr_read_string(r, false);
    if (r->err) {
        gr_request_close_connection(req, "request header truncated or malformed");
        return;
    }
    const gr_api_schema_t *s = gr_api_schema_find(req->api_key);
    gr_api_handler_fn fn = gr_api_handler(req->api_key);
    if (!s || !fn) {
        char why[96];
        snprintf(why, sizeof why, "unsupported api key %d (version %d)", req->api_key, req->api_version);
        gr_request_close_connection(req, why);
        return;
    }
    if (req->api_version < s->min_version || req->api_version > s->max_version) {
        if (req->api_key == GR_API_ApiVersions) {
            gr_info("conn %s: ApiVersions v%d is newer than ours (max %d); answering with v0",
                    gr_conn_peer(req->conn), req->api_version, s->max_version);
            answer_unknown_api_versions(req);
            return;
        }
        char why[96];
        snprintf(why, sizeof why, "unsupported %s version %d (we serve %d-%d)", s->name, req->api_version,
                 s->min_version, s->max_version);
        gr_request_close_connection(req, why);
        return;
    }
    req->flexible = req->api_version >= s->first_flexible;
    if (req->flexible) {
        gr_skip_tags(r);
        if (r->err) {
            gr_request_close_connection(req, "request header tag buffer malformed");
            return;
        }
    }
    fn(b, req);
}
