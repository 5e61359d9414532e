/* Configuration APIs: DescribeConfigs, AlterConfigs, IncrementalAlterConfigs.
 *
 * Resources: TOPIC (2), through the registry, and BROKER (4), whose keys all
 * come from server.properties / --override.  Gregor has no dynamic broker
 * configs, so every attempt to change one is refused with Kafka's answer for
 * a static key (INVALID_REQUEST, "Cannot update these configs dynamically").
 * An empty broker name means the cluster-wide dynamic defaults: there are
 * none, so describing it lists nothing. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

enum { RES_TOPIC = 2, RES_BROKER = 4 };

#define NAME_ARG(s) ((s).len > 0 ? ((s).len > 255 ? 255 : (int)(s).len) : 0), ((s).ptr ? (s).ptr : "")

static gr_str_t arena_str(gr_request_t *req, const char *s)
{
    return s ? gr_str(gr_arena_strndup(&req->arena, s, strlen(s))) : GR_STR_NULL;
}

static const char *type_name(int8_t type)
{
    switch (type) {
    case RES_TOPIC: return "TOPIC";
    case RES_BROKER: return "BROKER";
    case 8: return "BROKER_LOGGER";
    default: return "UNKNOWN";
    }
}

static bool same_str(gr_str_t a, gr_str_t b)
{
    return a.len == b.len && (a.len <= 0 || memcmp(a.ptr, b.ptr, (size_t)a.len) == 0);
}

/* Checks a BROKER resource name: this broker's id, or "" (cluster default).
 * Returns 0, or INVALID_REQUEST with *msg set; *is_default tells which. */
static int16_t check_broker_name(gr_broker_t *b, gr_request_t *req, gr_str_t name, bool *is_default,
                                 const char **msg)
{
    *is_default = name.len <= 0;
    if (*is_default) return GR_KERR_NONE;
    char *s = gr_api_cstr(req, name), *end;
    errno = 0;
    long id = s ? strtol(s, &end, 10) : 0;
    if (!s || end == s || *end || errno || id < INT32_MIN || id > INT32_MAX) {
        *msg = gr_arena_printf(&req->arena, "Broker id must be an integer, but it is: %.*s", NAME_ARG(name));
        return GR_KERR_INVALID_REQUEST;
    }
    if (id != b->cfg->broker_id) {
        *msg = gr_arena_printf(&req->arena, "Unexpected broker id, expected %d or empty string, but received %.*s",
                               b->cfg->broker_id, NAME_ARG(name));
        return GR_KERR_INVALID_REQUEST;
    }
    return GR_KERR_NONE;
}

/* Finds a topic resource; 0 with *t set, or a Kafka code with *msg. */
static int16_t find_topic(gr_broker_t *b, gr_request_t *req, gr_str_t name, const gr_topic_t **t, const char **msg)
{
    if (name.len <= 0 || !gr_topic_name_valid(name.ptr, (size_t)name.len)) {
        *msg = gr_arena_printf(&req->arena, "Topic name '%.*s' is illegal", NAME_ARG(name));
        return GR_KERR_INVALID_TOPIC_EXCEPTION;
    }
    *t = gr_topics_find(b->topics, name.ptr, (size_t)name.len);
    if (!*t) {
        *msg = gr_arena_printf(&req->arena, "Topic '%.*s' does not exist.", NAME_ARG(name));
        return GR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    return GR_KERR_NONE;
}

/* --------------------------------------------------------- DescribeConfigs */

typedef gr_DescribeConfigsResponse_DescribeConfigsResourceResult entry_t;
typedef gr_DescribeConfigsResponse_DescribeConfigsSynonym synonym_t;

/* A topic key's value at broker level (what it would be without the topic
 * override), for the synonym list. */
typedef struct topic_default {
    const char *name;
    const char *value;
    int8_t source;
} topic_default_t;

typedef struct describe_ctx {
    gr_broker_t *b;
    gr_request_t *req;
    const gr_DescribeConfigsRequest_DescribeConfigsResource *res;
    bool synonyms, docs, topic;
    entry_t *v;
    int32_t n, cap;
    topic_default_t *defaults;      /* topics, with synonyms */
    int ndefaults, defaults_cap;
} describe_ctx_t;

static bool wanted(const gr_DescribeConfigsRequest_DescribeConfigsResource *res, const char *name)
{
    if (res->ConfigurationKeys_count < 0) return true;
    for (int32_t i = 0; i < res->ConfigurationKeys_count; i++)
        if (gr_str_eq(res->ConfigurationKeys[i], name)) return true;
    return false;
}

static void collect_default(void *arg, const gr_config_entry_t *e)
{
    describe_ctx_t *c = arg;
    if (!wanted(c->res, e->name)) return;
    if (c->ndefaults == c->defaults_cap) {
        int cap = c->defaults_cap ? c->defaults_cap * 2 : 64;
        topic_default_t *v;
        GR_API_ALLOC(c->req, v, cap);
        if (!v) return;
        if (c->ndefaults) memcpy(v, c->defaults, (size_t)c->ndefaults * sizeof *v);
        c->defaults = v;
        c->defaults_cap = cap;
    }
    topic_default_t *d = &c->defaults[c->ndefaults++];
    d->name = e->name;  /* the static definition table */
    d->value = e->value ? gr_arena_strndup(&c->req->arena, e->value, strlen(e->value)) : NULL;
    d->source = e->source;
}

static void add_synonym(describe_ctx_t *c, entry_t *o, const char *name, const char *value, int8_t source,
                        bool sensitive)
{
    synonym_t *s = &o->Synonyms[o->Synonyms_count++];
    gr_DescribeConfigsResponse_DescribeConfigsSynonym_init(s);
    s->Name = arena_str(c->req, name);
    s->Value = sensitive ? GR_STR_NULL : arena_str(c->req, value);
    s->Source = source;
}

/* Synonyms in Kafka's order of precedence, starting with the entry itself:
 * for a topic key its override (if any), then the broker key it defaults
 * from with the broker-level value. */
static void fill_synonyms(describe_ctx_t *c, entry_t *o, const gr_config_entry_t *e)
{
    GR_API_ALLOC(c->req, o->Synonyms, 2);
    if (!o->Synonyms) return;
    if (!c->topic) {
        if (e->value || e->source != GR_CFG_SRC_DEFAULT) add_synonym(c, o, e->name, e->value, e->source, e->sensitive);
        return;
    }
    if (e->source == GR_CFG_SRC_TOPIC) add_synonym(c, o, e->name, e->value, e->source, e->sensitive);
    const char *broker_key = gr_topic_config_synonym(e->name);
    if (!broker_key) return;
    for (int i = 0; i < c->ndefaults; i++)
        if (strcmp(c->defaults[i].name, e->name) == 0) {
            if (c->defaults[i].value) add_synonym(c, o, broker_key, c->defaults[i].value, c->defaults[i].source, e->sensitive);
            return;
        }
}

static void collect_entry(void *arg, const gr_config_entry_t *e)
{
    describe_ctx_t *c = arg;
    if (!wanted(c->res, e->name)) return;
    if (c->n == c->cap) {
        int32_t cap = c->cap ? c->cap * 2 : 128;
        entry_t *v;
        GR_API_ALLOC(c->req, v, cap);
        if (!v) return;
        if (c->n) memcpy(v, c->v, (size_t)c->n * sizeof *v);
        c->v = v;
        c->cap = cap;
    }
    entry_t *o = &c->v[c->n++];
    gr_DescribeConfigsResponse_DescribeConfigsResourceResult_init(o);
    o->Name = arena_str(c->req, e->name);
    o->Value = e->sensitive ? GR_STR_NULL : arena_str(c->req, e->value);
    o->ReadOnly = e->read_only;
    o->ConfigSource = e->source;
    o->IsSensitive = e->sensitive;
    o->ConfigType = e->config_type;
    o->Documentation = c->docs ? arena_str(c->req, e->doc) : GR_STR_NULL;
    if (c->synonyms) fill_synonyms(c, o, e);
}

static void describe_one(gr_broker_t *b, gr_request_t *req, const gr_DescribeConfigsRequest *in,
                         const gr_DescribeConfigsRequest_DescribeConfigsResource *rr,
                         gr_DescribeConfigsResponse_DescribeConfigsResult *res)
{
    const char *msg = NULL;
    int16_t code = GR_KERR_NONE;
    describe_ctx_t c = {
        .b = b,
        .req = req,
        .res = rr,
        .synonyms = in->IncludeSynonyms,
        .docs = req->api_version >= 3 && in->IncludeDocumentation,
    };
    if (rr->ResourceType == RES_TOPIC) {
        const gr_topic_t *t = NULL;
        code = find_topic(b, req, rr->ResourceName, &t, &msg);
        if (code == GR_KERR_NONE) {
            c.topic = true;
            if (c.synonyms) gr_topic_config_describe(b->cfg, NULL, 0, collect_default, &c);
            gr_topics_describe_configs(b->topics, t, collect_entry, &c);
        }
    } else if (rr->ResourceType == RES_BROKER) {
        bool cluster_default;
        code = check_broker_name(b, req, rr->ResourceName, &cluster_default, &msg);
        if (code == GR_KERR_NONE && !cluster_default) gr_broker_config_describe(b->cfg, collect_entry, &c);
    } else {
        code = GR_KERR_INVALID_REQUEST;
        msg = gr_arena_printf(&req->arena, "Unsupported resource type %s (%d): Gregor describes TOPIC and BROKER",
                              type_name(rr->ResourceType), rr->ResourceType);
    }
    if (code != GR_KERR_NONE) {
        res->ErrorCode = code;
        res->ErrorMessage = gr_str(msg);
        gr_warn("conn %s: DescribeConfigs %s '%.*s': %s: %s", gr_conn_peer(req->conn), type_name(rr->ResourceType),
                NAME_ARG(rr->ResourceName), gr_kafka_error_name(code), msg);
        return;
    }
    res->ErrorMessage = GR_STR_NULL;
    res->Configs = c.v;
    res->Configs_count = c.n;
}

void gr_api_describe_configs(gr_broker_t *b, gr_request_t *req)
{
    gr_DescribeConfigsRequest in;
    GR_API_DECODE(req, DescribeConfigsRequest, &in);
    gr_DescribeConfigsResponse out;
    gr_DescribeConfigsResponse_init(&out);
    GR_API_ALLOC(req, out.Results, in.Resources_count);
    out.Results_count = in.Resources_count;
    for (int32_t i = 0; i < in.Resources_count; i++) {
        gr_DescribeConfigsRequest_DescribeConfigsResource *rr = &in.Resources[i];
        gr_DescribeConfigsResponse_DescribeConfigsResult *res = &out.Results[i];
        gr_DescribeConfigsResponse_DescribeConfigsResult_init(res);
        res->ResourceType = rr->ResourceType;
        res->ResourceName = rr->ResourceName;
        describe_one(b, req, &in, rr, res);
    }
    GR_API_RESPOND(req, DescribeConfigsResponse, &out);
}

/* ------------------------------------------------- AlterConfigs (both) */

/* AlterConfigs and IncrementalAlterConfigs answer each resource the same way
 * (duplicates refused, broker keys refused, other types unsupported, refusals
 * logged); they differ in the generated C types of their requests and
 * responses and in what they do to a topic.  alter_api_t is that difference,
 * so the per-resource path below is written once. */

typedef struct alter_result {
    int16_t code;
    const char *msg;
} alter_result_t;

/* One request resource as the shared path sees it; `rr` is the API's own
 * resource struct, handed back to its callbacks. */
typedef struct alter_view {
    int8_t type;
    gr_str_t name;
    int32_t nconfigs;
    const void *rr;
} alter_view_t;

typedef struct alter_api {
    const char *name;                                           /* for the log */
    alter_view_t (*view)(const void *resources, int32_t i);
    gr_str_t (*key)(const void *rr, int32_t k);                 /* config k's name */
    alter_result_t (*check)(gr_request_t *req, const void *rr); /* request-level checks; NULL: none */
    alter_result_t (*alter_topic)(gr_broker_t *b, gr_request_t *req, const void *rr, const gr_topic_t *t,
                                  bool validate_only);
    void (*answer)(void *responses, int32_t i, const alter_view_t *v, const alter_result_t *r);
} alter_api_t;

/* Duplicate resources in one request: Kafka refuses each of them. */
static bool duplicate_resource(const alter_api_t *api, const void *resources, int32_t n, int32_t i)
{
    alter_view_t v = api->view(resources, i);
    for (int32_t j = 0; j < n; j++) {
        if (j == i) continue;
        alter_view_t o = api->view(resources, j);
        if (o.type == v.type && same_str(o.name, v.name)) return true;
    }
    return false;
}

/* A broker resource: nothing is dynamic, so any key is refused. */
static alter_result_t alter_broker(gr_broker_t *b, gr_request_t *req, gr_str_t name, const gr_str_t *keys, int32_t n)
{
    alter_result_t r = {GR_KERR_NONE, NULL};
    bool cluster_default;
    r.code = check_broker_name(b, req, name, &cluster_default, &r.msg);
    if (r.code != GR_KERR_NONE || n == 0) return r;
    size_t len = 0;
    for (int32_t i = 0; i < n; i++) len += (size_t)(keys[i].len > 0 ? keys[i].len : 0) + 2;
    char *list = gr_arena_alloc(&req->arena, len + 1), *p = list;
    if (list) {
        for (int32_t i = 0; i < n; i++) {
            if (i) { memcpy(p, ", ", 2); p += 2; }
            if (keys[i].len > 0) { memcpy(p, keys[i].ptr, (size_t)keys[i].len); p += keys[i].len; }
        }
        *p = 0;
    }
    r.code = GR_KERR_INVALID_REQUEST;
    r.msg = gr_arena_printf(&req->arena,
                            "Cannot update these configs dynamically: %s (Gregor has no dynamic broker configs; "
                            "set them in server.properties or with --override and restart)",
                            list ? list : "?");
    return r;
}

static void alter_log(gr_request_t *req, const char *api, int8_t type, gr_str_t name, bool validate_only,
                      alter_result_t *r)
{
    if (r->code == GR_KERR_NONE) return;
    gr_warn("conn %s: %s %s '%.*s'%s: %s: %s", gr_conn_peer(req->conn), api, type_name(type), NAME_ARG(name),
            validate_only ? " (validate only)" : "", gr_kafka_error_name(r->code), r->msg);
}

static alter_result_t from_rc(gr_request_t *req, int rc, const char *err)
{
    alter_result_t r = {GR_KERR_NONE, NULL};
    if (rc >= 0) return r;
    r.code = gr_error_to_kafka(rc);
    const char *text = err[0] ? err : gr_strerror(rc);
    r.msg = gr_arena_strndup(&req->arena, text, strlen(text));
    return r;
}

static alter_result_t alter_one(gr_broker_t *b, gr_request_t *req, const alter_api_t *api, const alter_view_t *v,
                                bool validate_only)
{
    alter_result_t r = api->check ? api->check(req, v->rr) : (alter_result_t){GR_KERR_NONE, NULL};
    if (r.code != GR_KERR_NONE) return r;
    if (v->type == RES_TOPIC) {
        const gr_topic_t *t;
        if ((r.code = find_topic(b, req, v->name, &t, &r.msg)) != GR_KERR_NONE) return r;
        return api->alter_topic(b, req, v->rr, t, validate_only);
    }
    if (v->type == RES_BROKER) {
        gr_str_t *keys;
        GR_API_ALLOC(req, keys, v->nconfigs);
        if (!keys) return (alter_result_t){GR_KERR_UNKNOWN_SERVER_ERROR, "out of memory"};
        for (int32_t i = 0; i < v->nconfigs; i++) keys[i] = api->key(v->rr, i);
        return alter_broker(b, req, v->name, keys, v->nconfigs);
    }
    r.code = GR_KERR_INVALID_REQUEST;
    r.msg = gr_arena_printf(&req->arena, "Unsupported resource type %s (%d): Gregor alters TOPIC configs only",
                            type_name(v->type), v->type);
    return r;
}

/* Answers every resource of an alter request into `responses` (as many). */
static void alter_all(gr_broker_t *b, gr_request_t *req, const alter_api_t *api, const void *resources, int32_t n,
                      bool validate_only, void *responses)
{
    for (int32_t i = 0; i < n; i++) {
        alter_view_t v = api->view(resources, i);
        alter_result_t r;
        if (duplicate_resource(api, resources, n, i))
            r = (alter_result_t){GR_KERR_INVALID_REQUEST, "Duplicate resource in request."};
        else
            r = alter_one(b, req, api, &v, validate_only);
        alter_log(req, api->name, v.type, v.name, validate_only, &r);
        api->answer(responses, i, &v, &r);
    }
}

/* ---- AlterConfigs: the request's keys replace the topic's overrides */

typedef gr_AlterConfigsRequest_AlterConfigsResource ac_resource_t;

static alter_view_t ac_view(const void *resources, int32_t i)
{
    const ac_resource_t *rr = &((const ac_resource_t *)resources)[i];
    return (alter_view_t){rr->ResourceType, rr->ResourceName, rr->Configs_count, rr};
}

static gr_str_t ac_key(const void *rr, int32_t k) { return ((const ac_resource_t *)rr)->Configs[k].Name; }

static alter_result_t ac_alter_topic(gr_broker_t *b, gr_request_t *req, const void *resource, const gr_topic_t *t,
                                     bool validate_only)
{
    const ac_resource_t *rr = resource;
    gr_config_kv_t *kv;
    GR_API_ALLOC(req, kv, rr->Configs_count);
    if (!kv) return (alter_result_t){GR_KERR_UNKNOWN_SERVER_ERROR, "out of memory"};
    for (int32_t i = 0; i < rr->Configs_count; i++) {
        kv[i].key = gr_api_cstr(req, rr->Configs[i].Name);
        kv[i].value = rr->Configs[i].Value.len < 0 ? NULL : gr_api_cstr(req, rr->Configs[i].Value);
    }
    char err[512] = "";
    int rc = gr_topics_alter_configs(b->topics, t->name, kv, rr->Configs_count, validate_only, err, sizeof err);
    return from_rc(req, rc, err);
}

static void ac_answer(void *responses, int32_t i, const alter_view_t *v, const alter_result_t *r)
{
    gr_AlterConfigsResponse_AlterConfigsResourceResponse *res =
        &((gr_AlterConfigsResponse_AlterConfigsResourceResponse *)responses)[i];
    gr_AlterConfigsResponse_AlterConfigsResourceResponse_init(res);
    res->ResourceType = v->type;
    res->ResourceName = v->name;
    res->ErrorCode = r->code;
    res->ErrorMessage = r->code == GR_KERR_NONE ? GR_STR_NULL : gr_str(r->msg);
}

static const alter_api_t alter_configs_api = {
    .name = "AlterConfigs",
    .view = ac_view,
    .key = ac_key,
    .alter_topic = ac_alter_topic,
    .answer = ac_answer,
};

void gr_api_alter_configs(gr_broker_t *b, gr_request_t *req)
{
    gr_AlterConfigsRequest in;
    GR_API_DECODE(req, AlterConfigsRequest, &in);
    gr_AlterConfigsResponse out;
    gr_AlterConfigsResponse_init(&out);
    GR_API_ALLOC(req, out.Responses, in.Resources_count);
    out.Responses_count = in.Resources_count;
    alter_all(b, req, &alter_configs_api, in.Resources, in.Resources_count, in.ValidateOnly, out.Responses);
    GR_API_RESPOND(req, AlterConfigsResponse, &out);
}

/* ---- IncrementalAlterConfigs: each key's op applies to the overrides */

typedef gr_IncrementalAlterConfigsRequest_AlterConfigsResource iac_resource_t;

static alter_view_t iac_view(const void *resources, int32_t i)
{
    const iac_resource_t *rr = &((const iac_resource_t *)resources)[i];
    return (alter_view_t){rr->ResourceType, rr->ResourceName, rr->Configs_count, rr};
}

static gr_str_t iac_key(const void *rr, int32_t k) { return ((const iac_resource_t *)rr)->Configs[k].Name; }

static const char *op_name(int op)
{
    switch (op) {
    case GR_CONFIG_OP_SET: return "SET";
    case GR_CONFIG_OP_DELETE: return "DELETE";
    case GR_CONFIG_OP_APPEND: return "APPEND";
    case GR_CONFIG_OP_SUBTRACT: return "SUBTRACT";
    default: return "UNKNOWN";
    }
}

/* Kafka's request-level checks of one resource's ops, before its type is
 * looked at: a known operation, each key once, a value for everything but
 * DELETE. */
static alter_result_t iac_check_ops(gr_request_t *req, const void *resource)
{
    const iac_resource_t *rr = resource;
    for (int32_t i = 0; i < rr->Configs_count; i++) {
        const gr_IncrementalAlterConfigsRequest_AlterableConfig *c = &rr->Configs[i];
        if (c->ConfigOperation < GR_CONFIG_OP_SET || c->ConfigOperation > GR_CONFIG_OP_SUBTRACT)
            return (alter_result_t){GR_KERR_INVALID_REQUEST,
                                    gr_arena_printf(&req->arena, "Unknown config operation %d for '%.*s'",
                                                    c->ConfigOperation, NAME_ARG(c->Name))};
        for (int32_t j = 0; j < i; j++)
            if (same_str(rr->Configs[j].Name, c->Name))
                return (alter_result_t){GR_KERR_INVALID_REQUEST,
                                        gr_arena_printf(&req->arena, "Error due to duplicate config keys: '%.*s'",
                                                        NAME_ARG(c->Name))};
        if (c->ConfigOperation != GR_CONFIG_OP_DELETE && c->Value.len < 0)
            return (alter_result_t){GR_KERR_INVALID_REQUEST,
                                    gr_arena_printf(&req->arena, "Null value not supported for : %s:%.*s",
                                                    op_name(c->ConfigOperation), NAME_ARG(c->Name))};
    }
    return (alter_result_t){GR_KERR_NONE, NULL};
}

static alter_result_t iac_alter_topic(gr_broker_t *b, gr_request_t *req, const void *resource, const gr_topic_t *t,
                                      bool validate_only)
{
    const iac_resource_t *rr = resource;
    gr_config_op_t *ops;
    GR_API_ALLOC(req, ops, rr->Configs_count);
    if (!ops) return (alter_result_t){GR_KERR_UNKNOWN_SERVER_ERROR, "out of memory"};
    for (int32_t i = 0; i < rr->Configs_count; i++) {
        const gr_IncrementalAlterConfigsRequest_AlterableConfig *c = &rr->Configs[i];
        ops[i].key = gr_api_cstr(req, c->Name);
        ops[i].value = c->Value.len < 0 ? NULL : gr_api_cstr(req, c->Value);
        ops[i].op = c->ConfigOperation;
    }
    char err[512] = "";
    int rc = gr_topics_incremental_alter_configs(b->topics, t->name, ops, rr->Configs_count, validate_only, err,
                                                 sizeof err);
    return from_rc(req, rc, err);
}

static void iac_answer(void *responses, int32_t i, const alter_view_t *v, const alter_result_t *r)
{
    gr_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse *res =
        &((gr_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse *)responses)[i];
    gr_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse_init(res);
    res->ResourceType = v->type;
    res->ResourceName = v->name;
    res->ErrorCode = r->code;
    res->ErrorMessage = r->code == GR_KERR_NONE ? GR_STR_NULL : gr_str(r->msg);
}

static const alter_api_t incremental_alter_configs_api = {
    .name = "IncrementalAlterConfigs",
    .view = iac_view,
    .key = iac_key,
    .check = iac_check_ops,
    .alter_topic = iac_alter_topic,
    .answer = iac_answer,
};

void gr_api_incremental_alter_configs(gr_broker_t *b, gr_request_t *req)
{
    gr_IncrementalAlterConfigsRequest in;
    GR_API_DECODE(req, IncrementalAlterConfigsRequest, &in);
    gr_IncrementalAlterConfigsResponse out;
    gr_IncrementalAlterConfigsResponse_init(&out);
    GR_API_ALLOC(req, out.Responses, in.Resources_count);
    out.Responses_count = in.Resources_count;
    alter_all(b, req, &incremental_alter_configs_api, in.Resources, in.Resources_count, in.ValidateOnly,
              out.Responses);
    GR_API_RESPOND(req, IncrementalAlterConfigsResponse, &out);
}
