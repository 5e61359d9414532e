/* ApiVersions: what we serve, straight from the schema table filtered by the
 * handlers that exist. */
#include <ctype.h>

#include "api/api.h"

/* KIP-511: client software name and version must match
 * [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])? */
static bool software_token_valid(gr_str_t s)
{
    if (s.len <= 0) return false;
    for (int32_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        bool edge = i == 0 || i == s.len - 1;
        if (!isalnum(c) && (edge || (c != '-' && c != '.'))) return false;
    }
    return true;
}

void gr_api_api_versions(gr_broker_t *b, gr_request_t *req)
{
    gr_ApiVersionsRequest in;
    GR_API_DECODE(req, ApiVersionsRequest, &in);
    gr_ApiVersionsResponse out;
    gr_ApiVersionsResponse_init(&out);
    if (req->api_version >= 3 &&
        (!software_token_valid(in.ClientSoftwareName) || !software_token_valid(in.ClientSoftwareVersion))) {
        gr_warn("conn %s: ApiVersions v%d with invalid client software name/version", gr_conn_peer(req->conn),
                req->api_version);
        out.ErrorCode = GR_KERR_INVALID_REQUEST;
    }
    GR_API_ALLOC(req, out.ApiKeys, gr_api_schema_count);
    out.ApiKeys_count = 0;
    for (int i = 0; i < gr_api_schema_count; i++) {
        const gr_api_schema_t *s = &gr_api_schemas[i];
        if (!gr_api_handler(s->key)) continue;
        gr_ApiVersionsResponse_ApiVersion *v = &out.ApiKeys[out.ApiKeys_count++];
        v->ApiKey = s->key;
        v->MinVersion = s->min_version;
        v->MaxVersion = s->max_version;
    }
    GR_API_RESPOND(req, ApiVersionsResponse, &out);
}
