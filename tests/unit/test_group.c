/* The group coordinator without a broker: partition routing, the offset
 * record formats, the classic state machine driven directly (timers run on
 * a real loop), and rebuilding state from records. */
#include <stdlib.h>

#include "group/coordinator.h"
#include "protocol/errors.h"
#include "protocol/messages.h"
#include "test.h"

GR_TEST(group_java_hash_vectors)
{
    CHECK_EQ(gr_offsets_java_hash("my-group", 8), -1906497762);
    CHECK_EQ(gr_offsets_partition_for("my-group", 8, 50), 12);
    CHECK_EQ(gr_offsets_java_hash("group1", 6), -1237460590);
    CHECK_EQ(gr_offsets_partition_for("group1", 6, 50), 40);
    CHECK_EQ(gr_offsets_java_hash("", 0), 0);
    /* "polygenelubricants" hashes to Integer.MIN_VALUE; Utils.abs makes it 0. */
    CHECK_EQ(gr_offsets_java_hash("polygenelubricants", 18), INT32_MIN);
    CHECK_EQ(gr_offsets_partition_for("polygenelubricants", 18, 50), 0);
    /* Non-ASCII: "é" is one UTF-16 unit 0xE9; U+1F600 is a surrogate pair. */
    CHECK_EQ(gr_offsets_java_hash("\xc3\xa9", 2), 0xe9);
    CHECK_EQ(gr_offsets_java_hash("\xf0\x9f\x98\x80", 4), 31 * 0xd83d + 0xde00);
}

GR_TEST(group_offset_record_bytes)
{
    gr_writer_t w;
    gr_writer_init(&w);
    gr_offsets_encode_commit_key(&w, gr_str("g"), gr_str("t"), 1);
    static const uint8_t key[] = {0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 1};
    CHECK_EQ(w.len, sizeof key);
    CHECK_MEM(w.buf, key, sizeof key);
    gr_writer_reset(&w);
    gr_offsets_encode_commit_value(&w, 0x0102, 7, GR_STR_NULL, 0x0a0b);
    static const uint8_t val[] = {0, 3, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0x0b};
    CHECK_EQ(w.len, sizeof val);
    CHECK_MEM(w.buf, val, sizeof val);
    gr_writer_reset(&w);
    gr_offsets_encode_group_key(&w, gr_str("ab"));
    static const uint8_t gk[] = {0, 2, 0, 2, 'a', 'b'};
    CHECK_EQ(w.len, sizeof gk);
    CHECK_MEM(w.buf, gk, sizeof gk);
    gr_writer_free(&w);
}

/* --- a coordinator with no broker --- */

typedef struct jw {
    gr_group_join_waiter_t w;
    int called;
    gr_group_join_result_t res;
    char member_id[128], leader[128], protocol[32];
} jw_t;

static void jw_done(gr_group_join_waiter_t *w, const gr_group_join_result_t *res)
{
    jw_t *j = (jw_t *)w;
    j->called++;
    j->res = *res;
    snprintf(j->member_id, sizeof j->member_id, "%s", res->member_id ? res->member_id : "");
    snprintf(j->leader, sizeof j->leader, "%s", res->leader_id ? res->leader_id : "");
    snprintf(j->protocol, sizeof j->protocol, "%s", res->protocol_name ? res->protocol_name : "");
    j->res.members = NULL;
}

typedef struct sw {
    gr_group_sync_waiter_t w;
    int called;
    int16_t error;
    char assignment[32];
} sw_t;

static void sw_done(gr_group_sync_waiter_t *w, int16_t error, const char *pt, const char *pn, const uint8_t *a,
                    int32_t len)
{
    sw_t *s = (sw_t *)w;
    s->called++;
    s->error = error;
    snprintf(s->assignment, sizeof s->assignment, "%.*s", a ? (int)len : 0, a ? (const char *)a : "");
}

static void stop_loop(gr_timer_t *t);
static gr_loop_t *test_loop;
static void stop_loop(gr_timer_t *t) { gr_loop_stop(test_loop); }

static void run_for(gr_loop_t *loop, int ms)
{
    gr_timer_t t;
    test_loop = loop;
    gr_timer_init(&t, stop_loop);
    gr_loop_timer_arm(loop, &t, gr_now_ms() + ms);
    gr_loop_run(loop);
    gr_loop_timer_cancel(loop, &t);
}

static gr_coordinator_t *new_coordinator(gr_loop_t *loop)
{
    gr_coordinator_config_t cfg = {.num_partitions = 50, .retention_ms = 1000, .retention_check_ms = 600000,
                                   .initial_rebalance_delay_ms = 0, .min_session_timeout_ms = 1,
                                   .max_session_timeout_ms = 1800000, .max_size = 100,
                                   .new_member_join_timeout_ms = 300000};
    gr_coordinator_t *co = NULL;
    CHECK_EQ(gr_coordinator_new(NULL, loop, &cfg, &co), 0);
    return co;
}

static void join(gr_group_t *group, jw_t *j, const char *member, const char *instance, int nprot,
                 const char *const *prots, const char *meta, int32_t session_ms, bool require_known)
{
    memset(j, 0, sizeof *j);
    j->w.done = jw_done;
    gr_str_t names[4];
    gr_bytes_t md[4];
    for (int i = 0; i < nprot; i++) {
        names[i] = gr_str(prots[i]);
        md[i] = (gr_bytes_t){(const uint8_t *)meta, (int32_t)strlen(meta)};
    }
    gr_group_join_args_t a = {.member_id = gr_str(member), .instance_id = instance ? gr_str(instance) : GR_STR_NULL,
                              .client_id = gr_str("cli"), .client_host = "/127.0.0.1",
                              .session_timeout_ms = session_ms, .rebalance_timeout_ms = 5000,
                              .protocol_type = gr_str("consumer"), .nprotocols = nprot, .protocol_names = names,
                              .protocol_metadata = md, .require_known_member_id = require_known};
    gr_group_join(group, &a, &j->w);
}

static void sync(gr_group_t *group, sw_t *s, const char *member, int32_t gen, int n, const char **ids,
                 const char **assigns)
{
    memset(s, 0, sizeof *s);
    s->w.done = sw_done;
    gr_str_t mids[4];
    gr_bytes_t as[4];
    for (int i = 0; i < n; i++) {
        mids[i] = gr_str(ids[i]);
        as[i] = (gr_bytes_t){(const uint8_t *)assigns[i], (int32_t)strlen(assigns[i])};
    }
    gr_group_sync(group, gr_str(member), GR_STR_NULL, gen, GR_STR_NULL, GR_STR_NULL, n, mids, as, &s->w);
}

static const char *const RANGE[] = {"range"};

GR_TEST(group_join_sync_heartbeat_leave)
{
    gr_loop_t *loop = gr_loop_new();
    gr_coordinator_t *co = new_coordinator(loop);
    gr_group_t *group = gr_coordinator_get_or_create(co, gr_str("g"), 0);
    jw_t a, b;
    sw_t sa, sb;

    /* KIP-394: v4+ join without a member id gets one back. */
    join(group, &a, "", NULL, 1, RANGE, "m", 10000, true);
    CHECK_EQ(a.called, 1);
    CHECK_EQ(a.res.error, GR_KERR_MEMBER_ID_REQUIRED);
    CHECK(!strncmp(a.member_id, "cli-", 4));
    char ida[128];
    snprintf(ida, sizeof ida, "%s", a.member_id);
    join(group, &a, ida, NULL, 1, RANGE, "m", 10000, true);
    CHECK_EQ(a.called, 0);  /* the initial delay (0 ms) runs on the loop */
    CHECK_EQ(group->state, GR_GROUP_PREPARING_REBALANCE);
    run_for(loop, 5);
    CHECK_EQ(a.called, 1);
    CHECK_EQ(a.res.error, 0);
    CHECK_EQ(a.res.generation, 1);
    CHECK(!strcmp(a.leader, ida));
    CHECK_EQ(a.res.nmembers, 1);
    CHECK_EQ(group->state, GR_GROUP_COMPLETING_REBALANCE);
    CHECK_EQ(gr_group_heartbeat(group, gr_str(ida), GR_STR_NULL, 1), 0);
    const char *ids1[] = {ida}, *as1[] = {"A1"};
    sync(group, &sa, ida, 1, 1, ids1, as1);
    CHECK_EQ(sa.called, 1);
    CHECK_EQ(sa.error, 0);
    CHECK(!strcmp(sa.assignment, "A1"));
    CHECK_EQ(group->state, GR_GROUP_STABLE);

    /* A second member: the group rebalances and completes as soon as the
     * first one rejoins (no waiting for the rebalance timeout). */
    join(group, &b, "", NULL, 1, RANGE, "m", 10000, false);
    CHECK_EQ(b.called, 0);
    CHECK_EQ(group->state, GR_GROUP_PREPARING_REBALANCE);
    CHECK_EQ(gr_group_heartbeat(group, gr_str(ida), GR_STR_NULL, 1), GR_KERR_REBALANCE_IN_PROGRESS);
    sync(group, &sa, ida, 1, 0, NULL, NULL);
    CHECK_EQ(sa.error, GR_KERR_REBALANCE_IN_PROGRESS);
    /* Commits are accepted while preparing (Kafka), from the old generation. */
    CHECK_EQ(gr_group_commit_check(group, gr_str(ida), GR_STR_NULL, 1), 0);
    join(group, &a, ida, NULL, 1, RANGE, "m", 10000, true);
    CHECK_EQ(a.called, 1);
    CHECK_EQ(b.called, 1);
    CHECK_EQ(a.res.generation, 2);
    CHECK_EQ(b.res.generation, 2);
    CHECK_EQ(a.res.nmembers, 2);  /* the leader sees everyone */
    CHECK_EQ(b.res.nmembers, 0);
    char idb[128];
    snprintf(idb, sizeof idb, "%s", b.member_id);
    CHECK_EQ(gr_group_commit_check(group, gr_str(ida), GR_STR_NULL, 2), GR_KERR_REBALANCE_IN_PROGRESS);
    sync(group, &sb, idb, 2, 0, NULL, NULL);
    CHECK_EQ(sb.called, 0);  /* the follower waits for the leader */
    const char *ids2[] = {ida, idb}, *as2[] = {"A2", "B2"};
    sync(group, &sa, ida, 2, 2, ids2, as2);
    CHECK_EQ(sb.called, 1);
    CHECK(!strcmp(sb.assignment, "B2"));
    CHECK(!strcmp(sa.assignment, "A2"));
    CHECK_EQ(group->state, GR_GROUP_STABLE);

    /* Fencing. */
    CHECK_EQ(gr_group_heartbeat(group, gr_str(idb), GR_STR_NULL, 1), GR_KERR_ILLEGAL_GENERATION);
    CHECK_EQ(gr_group_heartbeat(group, gr_str("nobody"), GR_STR_NULL, 2), GR_KERR_UNKNOWN_MEMBER_ID);
    CHECK_EQ(gr_group_commit_check(group, gr_str(idb), GR_STR_NULL, 1), GR_KERR_ILLEGAL_GENERATION);
    CHECK_EQ(gr_group_commit_check(group, gr_str(""), GR_STR_NULL, -1), GR_KERR_UNKNOWN_MEMBER_ID);
    CHECK_EQ(gr_group_commit_check(group, gr_str(idb), GR_STR_NULL, 2), 0);

    /* A follower rejoining with the same metadata in Stable gets the
     * current generation back without a rebalance. */
    join(group, &b, idb, NULL, 1, RANGE, "m", 10000, true);
    CHECK_EQ(b.called, 1);
    CHECK_EQ(b.res.generation, 2);
    CHECK_EQ(group->state, GR_GROUP_STABLE);

    /* Leave: the rest rebalance into generation 3 alone. */
    CHECK_EQ(gr_group_leave(group, gr_str(idb), GR_STR_NULL), 0);
    CHECK_EQ(gr_group_leave(group, gr_str(idb), GR_STR_NULL), GR_KERR_UNKNOWN_MEMBER_ID);
    CHECK_EQ(group->state, GR_GROUP_PREPARING_REBALANCE);
    join(group, &a, ida, NULL, 1, RANGE, "m", 10000, true);
    CHECK_EQ(a.called, 1);
    CHECK_EQ(a.res.generation, 3);
    CHECK_EQ(group->nmembers, 1);
    CHECK_EQ(gr_group_leave(group, gr_str(ida), GR_STR_NULL), 0);
    CHECK_EQ(group->state, GR_GROUP_EMPTY);
    CHECK_EQ(group->generation, 4);
    CHECK_EQ(gr_group_heartbeat(group, gr_str(ida), GR_STR_NULL, 4), GR_KERR_UNKNOWN_MEMBER_ID);
    CHECK_EQ(gr_group_commit_check(group, gr_str(""), GR_STR_NULL, -1), 0);  /* standalone commits */
    gr_coordinator_close(co);
    gr_loop_free(loop);
}

GR_TEST(group_session_timeout)
{
    gr_loop_t *loop = gr_loop_new();
    gr_coordinator_t *co = new_coordinator(loop);
    gr_group_t *group = gr_coordinator_get_or_create(co, gr_str("g"), 0);
    jw_t a;
    sw_t sa;
    join(group, &a, "", NULL, 1, RANGE, "m", 30, false);
    run_for(loop, 5);
    CHECK_EQ(a.res.generation, 1);
    char ida[128];
    snprintf(ida, sizeof ida, "%s", a.member_id);
    const char *ids[] = {ida}, *as[] = {"x"};
    sync(group, &sa, ida, 1, 1, ids, as);
    CHECK_EQ(group->state, GR_GROUP_STABLE);
    /* A heartbeat pushes the session deadline out ... (the loop cannot be
     * run twice: gr_loop_stop is final, so the expiry is fired by hand). */
    gr_group_member_t *m = gr_group_member(group, gr_str(ida));
    m->session_timer.due_ms = 0;
    CHECK_EQ(gr_group_heartbeat(group, gr_str(ida), GR_STR_NULL, 1), 0);
    CHECK(m->session_timer.due_ms >= gr_now_ms() + 20);
    CHECK(gr_timer_armed(&m->session_timer));
    /* ... and when it passes in silence the member is gone. */
    gr_loop_timer_cancel(loop, &m->session_timer);
    m->session_timer.fn(&m->session_timer);
    CHECK_EQ(group->nmembers, 0);
    CHECK_EQ(group->state, GR_GROUP_EMPTY);
    CHECK_EQ(group->generation, 2);
    gr_coordinator_close(co);
    gr_loop_free(loop);
}

GR_TEST(group_static_member_rejoins_without_rebalance)
{
    gr_loop_t *loop = gr_loop_new();
    gr_coordinator_t *co = new_coordinator(loop);
    gr_group_t *group = gr_coordinator_get_or_create(co, gr_str("g"), 0);
    jw_t a;
    sw_t sa;
    join(group, &a, "", "inst-1", 1, RANGE, "m", 10000, true);
    run_for(loop, 5);
    CHECK_EQ(a.res.generation, 1);
    char old[128];
    snprintf(old, sizeof old, "%s", a.member_id);
    const char *ids[] = {old}, *as[] = {"P0"};
    sync(group, &sa, old, 1, 1, ids, as);
    CHECK_EQ(group->state, GR_GROUP_STABLE);
    /* Restarted: no member id, same instance and metadata. */
    join(group, &a, "", "inst-1", 1, RANGE, "m", 10000, true);
    CHECK_EQ(a.called, 1);
    CHECK_EQ(a.res.error, 0);
    CHECK_EQ(a.res.generation, 1);
    CHECK_EQ(group->state, GR_GROUP_STABLE);
    CHECK(strcmp(a.member_id, old) != 0);
    CHECK_EQ(a.res.skip_assignment, true);  /* it was the leader (KIP-814) */
    CHECK_EQ(gr_group_heartbeat(group, gr_str(old), gr_str("inst-1"), 1), GR_KERR_FENCED_INSTANCE_ID);
    CHECK_EQ(gr_group_heartbeat(group, gr_str(a.member_id), gr_str("inst-1"), 1), 0);
    sync(group, &sa, a.member_id, 1, 0, NULL, NULL);
    CHECK(!strcmp(sa.assignment, "P0"));
    /* Changed metadata: a rebalance. */
    join(group, &a, "", "inst-1", 1, RANGE, "other", 10000, true);
    CHECK_EQ(group->state, GR_GROUP_COMPLETING_REBALANCE);  /* the only member rejoined: done at once */
    CHECK_EQ(a.res.generation, 2);
    gr_coordinator_close(co);
    gr_loop_free(loop);
}

GR_TEST(group_protocol_vote_and_inconsistent)
{
    gr_loop_t *loop = gr_loop_new();
    gr_coordinator_t *co = new_coordinator(loop);
    gr_group_t *group = gr_coordinator_get_or_create(co, gr_str("g"), 0);
    const char *p1[] = {"range", "roundrobin"}, *p2[] = {"roundrobin", "range"}, *p3[] = {"sticky"};
    jw_t a, b, c, d;
    join(group, &a, "", NULL, 2, p1, "m", 10000, false);
    join(group, &b, "", NULL, 2, p2, "m", 10000, false);
    join(group, &c, "", NULL, 2, p2, "m", 10000, false);
    join(group, &d, "", NULL, 1, p3, "m", 10000, false);
    CHECK_EQ(d.res.error, GR_KERR_INCONSISTENT_GROUP_PROTOCOL);
    run_for(loop, 5);
    CHECK_EQ(a.res.generation, 1);
    CHECK(!strcmp(a.protocol, "roundrobin"));
    CHECK(!strcmp(c.protocol, "roundrobin"));
    gr_coordinator_close(co);
    gr_loop_free(loop);
}

GR_TEST(group_max_size)
{
    gr_loop_t *loop = gr_loop_new();
    gr_coordinator_t *co = new_coordinator(loop);
    co->cfg.max_size = 1;
    gr_group_t *group = gr_coordinator_get_or_create(co, gr_str("g"), 0);
    jw_t a, b;
    sw_t sa;
    join(group, &a, "", NULL, 1, RANGE, "m", 10000, false);
    run_for(loop, 5);
    const char *ids[] = {a.member_id}, *as[] = {"x"};
    sync(group, &sa, a.member_id, 1, 1, ids, as);
    join(group, &b, "", NULL, 1, RANGE, "m", 10000, false);
    CHECK_EQ(b.res.error, GR_KERR_GROUP_MAX_SIZE_REACHED);
    CHECK_EQ(group->nmembers, 1);
    gr_coordinator_close(co);
    gr_loop_free(loop);
}

static void apply(gr_coordinator_t *co, gr_writer_t *k, gr_writer_t *v, bool tombstone)
{
    CHECK_EQ(gr_coordinator_apply_record(co, 3, (gr_bytes_t){k->buf, (int32_t)k->len},
                                         tombstone ? (gr_bytes_t){NULL, -1} : (gr_bytes_t){v->buf, (int32_t)v->len}),
             0);
    gr_writer_reset(k);
    gr_writer_reset(v);
}

GR_TEST(group_load_from_records)
{
    gr_loop_t *loop = gr_loop_new();
    gr_coordinator_t *co = new_coordinator(loop);
    gr_writer_t k, v;
    gr_writer_init(&k);
    gr_writer_init(&v);
    /* g1: two commits of t-0 (the later wins), one of t-1 deleted. */
    gr_offsets_encode_commit_key(&k, gr_str("g1"), gr_str("t"), 0);
    gr_offsets_encode_commit_value(&v, 10, 1, gr_str("meta"), 1000);
    apply(co, &k, &v, false);
    gr_offsets_encode_commit_key(&k, gr_str("g1"), gr_str("t"), 1);
    gr_offsets_encode_commit_value(&v, 5, -1, GR_STR_NULL, 1000);
    apply(co, &k, &v, false);
    gr_offsets_encode_commit_key(&k, gr_str("g1"), gr_str("t"), 0);
    gr_offsets_encode_commit_value(&v, 20, 2, gr_str(""), 2000);
    apply(co, &k, &v, false);
    gr_offsets_encode_commit_key(&k, gr_str("g1"), gr_str("t"), 1);
    apply(co, &k, &v, true);
    /* g1's metadata: one member in generation 4. */
    gr_offsets_encode_group_key(&k, gr_str("g1"));
    gr_GroupMetadataValue_MemberMetadata m = {.MemberId = gr_str("m-1"), .GroupInstanceId = gr_str("i1"),
                                              .ClientId = gr_str("c"), .ClientHost = gr_str("/h"),
                                              .RebalanceTimeout = 300000, .SessionTimeout = 10000,
                                              .Subscription = {(const uint8_t *)"sub", 3},
                                              .Assignment = {(const uint8_t *)"asg", 3}};
    gr_GroupMetadataValue gv = {.ProtocolType = gr_str("consumer"), .Generation = 4, .Protocol = gr_str("range"),
                                .Leader = gr_str("m-1"), .CurrentStateTimestamp = 5, .Members_count = 1,
                                .Members = &m};
    gr_write_i16(&v, 3);
    gr_GroupMetadataValue_encode(&v, 3, &gv);
    apply(co, &k, &v, false);
    /* g2: metadata then its tombstone, and no offsets: gone. */
    gr_offsets_encode_group_key(&k, gr_str("g2"));
    gv.Members_count = 0;
    gr_write_i16(&v, 3);
    gr_GroupMetadataValue_encode(&v, 3, &gv);
    apply(co, &k, &v, false);
    gr_offsets_encode_group_key(&k, gr_str("g2"));
    apply(co, &k, &v, true);
    /* Finish partition 3 as load does (its log here is empty). */
    CHECK(gr_coordinator_find(co, gr_str("g2")) != NULL);
    gr_writer_free(&k);
    gr_writer_free(&v);

    extern int gr_coordinator_load_partition(gr_coordinator_t *, int32_t, gr_log_t *);
    gr_log_t *log = NULL;
    gr_log_config_t lc;
    gr_log_config_default(&lc);
    char dir[] = "/tmp/gr-test-group-load-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK_EQ(gr_log_open(dir, &lc, 0, 0, &log), 0);
    CHECK_EQ(gr_coordinator_load_partition(co, 3, log), 0);
    gr_log_destroy_files(log);
    gr_log_release(log);

    CHECK(gr_coordinator_find(co, gr_str("g2")) == NULL);
    gr_group_t *g1 = gr_coordinator_find(co, gr_str("g1"));
    CHECK(g1 != NULL);
    if (g1) {
        gr_offset_t *o = gr_offsets_get(&g1->offsets, "t", 1, 0);
        CHECK(o && o->offset == 20 && o->leader_epoch == 2 && o->metadata_len == 0);
        CHECK(gr_offsets_get(&g1->offsets, "t", 1, 1) == NULL);
        CHECK_EQ(g1->state, GR_GROUP_STABLE);
        CHECK_EQ(g1->generation, 4);
        CHECK_EQ(g1->nmembers, 1);
        CHECK(g1->leader_id && !strcmp(g1->leader_id, "m-1"));
        CHECK(g1->protocol_name && !strcmp(g1->protocol_name, "range"));
        CHECK_EQ(g1->members[0]->assignment_len, 3);
        CHECK(gr_group_static_member(g1, gr_str("i1")) != NULL);
        CHECK_EQ(gr_group_heartbeat(g1, gr_str("m-1"), gr_str("i1"), 4), 0);
    }
    gr_coordinator_close(co);
    gr_loop_free(loop);
}

GR_TEST(group_offsets_expire_when_empty)
{
    gr_loop_t *loop = gr_loop_new();
    gr_coordinator_t *co = new_coordinator(loop);  /* retention 1000 ms */
    gr_group_t *group = gr_coordinator_get_or_create(co, gr_str("solo"), 0);
    gr_commit_entry_t e = {.topic = gr_str("t"), .partition = 0, .offset = 7, .leader_epoch = -1,
                           .metadata = GR_STR_NULL};
    CHECK_EQ(gr_coordinator_store_offsets(co, group, &e, 1, NULL, NULL), 0);
    CHECK_EQ(gr_coordinator_expire(co, gr_wall_ms()), 0);
    CHECK_EQ(gr_coordinator_expire(co, gr_wall_ms() + 2000), 1);
    CHECK(gr_coordinator_find(co, gr_str("solo")) == NULL);
    gr_coordinator_close(co);
    gr_loop_free(loop);
}
