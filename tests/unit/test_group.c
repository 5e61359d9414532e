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
    gr_offsets_encode_commit_value(&w, 0x0102, 7, GR_STR_NULL, 0x0a0b, -1);
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

/* JoinGroup v9+ (KIP-814) unless a test says otherwise; rebalance timeout. */
static bool join_v9 = true;
static int32_t join_rebalance_ms = 5000;

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
                              .session_timeout_ms = session_ms, .rebalance_timeout_ms = join_rebalance_ms,
                              .protocol_type = gr_str("consumer"), .nprotocols = nprot, .protocol_names = names,
                              .protocol_metadata = md, .require_known_member_id = require_known,
                              .support_skip_assignment = join_v9};
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

/* The group's count of members supporting a protocol (a linear scan of the
 * table: tests only). */
static int32_t pcount_of(gr_group_t *group, const char *name)
{
    for (uint32_t i = 0; i < group->pcount_cap; i++)
        if (group->pcounts[i].name && !strcmp(group->pcounts[i].name, name)) return group->pcounts[i].count;
    return 0;
}

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
    /* A heartbeat pushes the session deadline out ... (the expiry is fired
     * by hand, so the test does not depend on timing). */
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
    /* Changed metadata, same protocol: still no rebalance (Kafka's
     * updateStaticMemberAndRebalance only looks at the selected protocol). */
    join(group, &a, "", "inst-1", 1, RANGE, "other", 10000, true);
    CHECK_EQ(a.res.error, 0);
    CHECK_EQ(a.res.generation, 1);
    CHECK_EQ(group->state, GR_GROUP_STABLE);
    CHECK(!strcmp(a.leader, a.member_id));
    /* Before JoinGroup v9 the answer names the previous leader id, so the
     * restarted leader does not run an assignment. */
    char prev[128];
    snprintf(prev, sizeof prev, "%s", a.member_id);
    join_v9 = false;
    join(group, &a, "", "inst-1", 1, RANGE, "other", 10000, true);
    join_v9 = true;
    CHECK_EQ(a.res.error, 0);
    CHECK_EQ(a.res.generation, 1);
    CHECK(!strcmp(a.leader, prev));
    CHECK(strcmp(a.member_id, prev) != 0);
    CHECK_EQ(a.res.nmembers, 0);
    CHECK_EQ(a.res.skip_assignment, false);
    CHECK_EQ(group->state, GR_GROUP_STABLE);
    /* A changed protocol: a rebalance. */
    const char *const rr[] = {"roundrobin", "range"};
    join(group, &a, "", "inst-1", 2, rr, "other", 10000, true);
    CHECK_EQ(group->state, GR_GROUP_COMPLETING_REBALANCE);  /* the only member rejoined: done at once */
    CHECK_EQ(a.res.generation, 2);
    CHECK(!strcmp(a.protocol, "roundrobin"));
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
    gr_offsets_encode_commit_value(&v, 10, 1, gr_str("meta"), 1000, -1);
    apply(co, &k, &v, false);
    gr_offsets_encode_commit_key(&k, gr_str("g1"), gr_str("t"), 1);
    gr_offsets_encode_commit_value(&v, 5, -1, GR_STR_NULL, 1000, -1);
    apply(co, &k, &v, false);
    gr_offsets_encode_commit_key(&k, gr_str("g1"), gr_str("t"), 0);
    gr_offsets_encode_commit_value(&v, 20, 2, gr_str(""), 2000, -1);
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

/* --- Kafka semantics (GroupCoordinator.scala), one case per test --- */

typedef struct two {
    gr_loop_t *loop;
    gr_coordinator_t *co;
    gr_group_t *group;
    char a[128], b[128];    /* a leads */
} two_t;

/* A Stable group of two dynamic members, generation 1. */
static void two_stable(two_t *t)
{
    jw_t ja, jb;
    sw_t sa, sb;
    t->loop = gr_loop_new();
    t->co = new_coordinator(t->loop);
    t->group = gr_coordinator_get_or_create(t->co, gr_str("g"), 0);
    join(t->group, &ja, "", NULL, 1, RANGE, "m", 10000, false);
    join(t->group, &jb, "", NULL, 1, RANGE, "m", 10000, false);
    run_for(t->loop, 5);
    CHECK_EQ(ja.res.generation, 1);
    CHECK_EQ(jb.res.generation, 1);
    snprintf(t->a, sizeof t->a, "%s", ja.member_id);
    snprintf(t->b, sizeof t->b, "%s", jb.member_id);
    CHECK(!strcmp(ja.leader, t->a));
    sync(t->group, &sb, t->b, 1, 0, NULL, NULL);
    const char *ids[] = {t->a, t->b}, *as[] = {"A", "B"};
    sync(t->group, &sa, t->a, 1, 2, ids, as);
    CHECK_EQ(t->group->state, GR_GROUP_STABLE);
}

static void two_free(two_t *t)
{
    gr_coordinator_close(t->co);
    gr_loop_free(t->loop);
}

GR_TEST(group_kafka_join_unknown_member_of_nonempty_group)
{
    two_t t;
    two_stable(&t);
    jw_t j;
    join(t.group, &j, "not-a-member", NULL, 1, RANGE, "m", 10000, true);
    CHECK_EQ(j.called, 1);
    CHECK_EQ(j.res.error, GR_KERR_UNKNOWN_MEMBER_ID);
    /* A known member id with an instance id the group does not know
     * (validateCurrentMember). */
    join(t.group, &j, t.b, "inst-x", 1, RANGE, "m", 10000, true);
    CHECK_EQ(j.res.error, GR_KERR_UNKNOWN_MEMBER_ID);
    CHECK_EQ(gr_group_heartbeat(t.group, gr_str(t.b), gr_str("inst-x"), 1), GR_KERR_UNKNOWN_MEMBER_ID);
    CHECK_EQ(t.group->state, GR_GROUP_STABLE);
    CHECK_EQ(t.group->nmembers, 2);
    two_free(&t);
}

GR_TEST(group_kafka_stable_rejoins)
{
    two_t t;
    two_stable(&t);
    jw_t ja, jb;
    /* A follower with the same metadata: the current generation, no
     * rebalance. */
    join(t.group, &jb, t.b, NULL, 1, RANGE, "m", 10000, true);
    CHECK_EQ(jb.called, 1);
    CHECK_EQ(jb.res.generation, 1);
    CHECK_EQ(t.group->state, GR_GROUP_STABLE);
    /* The leader, even with the same metadata: a rebalance (Kafka lets the
     * leader trigger one for changes its metadata does not show). */
    join(t.group, &ja, t.a, NULL, 1, RANGE, "m", 10000, true);
    CHECK_EQ(ja.called, 0);
    CHECK_EQ(t.group->state, GR_GROUP_PREPARING_REBALANCE);
    join(t.group, &jb, t.b, NULL, 1, RANGE, "m", 10000, true);
    CHECK_EQ(ja.res.generation, 2);
    CHECK_EQ(jb.res.generation, 2);
    sw_t sa, sb;
    const char *ids[] = {t.a, t.b}, *as[] = {"A", "B"};
    sync(t.group, &sa, t.a, 2, 2, ids, as);
    sync(t.group, &sb, t.b, 2, 0, NULL, NULL);
    CHECK_EQ(t.group->state, GR_GROUP_STABLE);
    /* A follower with changed metadata: a rebalance. */
    join(t.group, &jb, t.b, NULL, 1, RANGE, "changed", 10000, true);
    CHECK_EQ(jb.called, 0);
    CHECK_EQ(t.group->state, GR_GROUP_PREPARING_REBALANCE);
    two_free(&t);
}

GR_TEST(group_kafka_heartbeat_by_state)
{
    two_t t;
    two_stable(&t);
    jw_t ja, jb;
    join(t.group, &ja, t.a, NULL, 1, RANGE, "m", 10000, true);
    CHECK_EQ(t.group->state, GR_GROUP_PREPARING_REBALANCE);
    CHECK_EQ(gr_group_heartbeat(t.group, gr_str(t.b), GR_STR_NULL, 1), GR_KERR_REBALANCE_IN_PROGRESS);
    CHECK_EQ(gr_group_heartbeat(t.group, gr_str(t.b), GR_STR_NULL, 0), GR_KERR_ILLEGAL_GENERATION);
    join(t.group, &jb, t.b, NULL, 1, RANGE, "m", 10000, true);
    CHECK_EQ(t.group->state, GR_GROUP_COMPLETING_REBALANCE);
    /* Between the join answer and the sync: NONE (Kafka). */
    CHECK_EQ(gr_group_heartbeat(t.group, gr_str(t.b), GR_STR_NULL, 2), GR_KERR_NONE);
    CHECK_EQ(gr_group_heartbeat(t.group, gr_str(t.b), GR_STR_NULL, 1), GR_KERR_ILLEGAL_GENERATION);
    CHECK_EQ(gr_group_heartbeat(t.group, gr_str("x"), GR_STR_NULL, 2), GR_KERR_UNKNOWN_MEMBER_ID);
    two_free(&t);
}

GR_TEST(group_kafka_sync_parks_followers_and_ignores_unknown_ids)
{
    two_t t;
    two_stable(&t);
    jw_t ja, jb;
    sw_t sa, sb;
    join(t.group, &ja, t.a, NULL, 1, RANGE, "m", 10000, true);
    join(t.group, &jb, t.b, NULL, 1, RANGE, "m", 10000, true);
    CHECK_EQ(t.group->state, GR_GROUP_COMPLETING_REBALANCE);
    sync(t.group, &sb, t.b, 2, 0, NULL, NULL);
    CHECK_EQ(sb.called, 0);  /* parked until the leader's */
    /* The leader: an assignment for a stranger (ignored), b's twice (the
     * last counts), none for itself (empty). */
    const char *ids[] = {"stranger", t.b, t.b}, *as[] = {"S", "B-old", "B-new"};
    sync(t.group, &sa, t.a, 2, 3, ids, as);
    CHECK_EQ(sa.called, 1);
    CHECK_EQ(sa.error, 0);
    CHECK(!strcmp(sa.assignment, ""));
    CHECK_EQ(sb.called, 1);
    CHECK_EQ(sb.error, 0);
    CHECK(!strcmp(sb.assignment, "B-new"));
    CHECK_EQ(t.group->state, GR_GROUP_STABLE);
    CHECK_EQ(t.group->nmembers, 2);
    CHECK(gr_group_member(t.group, gr_str("stranger")) == NULL);
    two_free(&t);
}

GR_TEST(group_kafka_commit_checks)
{
    two_t t;
    two_stable(&t);
    /* Generation -1 without a member into a group with members. */
    CHECK_EQ(gr_group_commit_check(t.group, gr_str(""), GR_STR_NULL, -1), GR_KERR_UNKNOWN_MEMBER_ID);
    /* A member with generation -1: ILLEGAL_GENERATION. */
    CHECK_EQ(gr_group_commit_check(t.group, gr_str(t.b), GR_STR_NULL, -1), GR_KERR_ILLEGAL_GENERATION);
    jw_t ja, jb;
    join(t.group, &ja, t.a, NULL, 1, RANGE, "m", 10000, true);
    /* Preparing: commits of the current (old) generation are accepted. */
    CHECK_EQ(gr_group_commit_check(t.group, gr_str(t.b), GR_STR_NULL, 1), GR_KERR_NONE);
    join(t.group, &jb, t.b, NULL, 1, RANGE, "m", 10000, true);
    CHECK_EQ(t.group->state, GR_GROUP_COMPLETING_REBALANCE);
    /* CompletingRebalance: REBALANCE_IN_PROGRESS for a valid member and
     * generation, but the member and generation are checked first. */
    CHECK_EQ(gr_group_commit_check(t.group, gr_str(t.b), GR_STR_NULL, 2), GR_KERR_REBALANCE_IN_PROGRESS);
    CHECK_EQ(gr_group_commit_check(t.group, gr_str("x"), GR_STR_NULL, 2), GR_KERR_UNKNOWN_MEMBER_ID);
    CHECK_EQ(gr_group_commit_check(t.group, gr_str(t.b), GR_STR_NULL, 1), GR_KERR_ILLEGAL_GENERATION);
    CHECK_EQ(gr_group_commit_check(t.group, gr_str(""), GR_STR_NULL, -1), GR_KERR_UNKNOWN_MEMBER_ID);
    two_free(&t);
}

GR_TEST(group_kafka_leave_per_member_errors)
{
    gr_loop_t *loop = gr_loop_new();
    gr_coordinator_t *co = new_coordinator(loop);
    gr_group_t *group = gr_coordinator_get_or_create(co, gr_str("g"), 0);
    jw_t a, s1, s2;
    join(group, &a, "", NULL, 1, RANGE, "m", 10000, false);
    join(group, &s1, "", "i1", 1, RANGE, "m", 10000, true);
    join(group, &s2, "", "i2", 1, RANGE, "m", 10000, true);
    run_for(loop, 5);
    CHECK_EQ(group->nmembers, 3);
    CHECK_EQ(gr_group_leave(group, gr_str("nobody"), GR_STR_NULL), GR_KERR_UNKNOWN_MEMBER_ID);
    CHECK_EQ(gr_group_leave(group, gr_str("stale-id"), gr_str("i1")), GR_KERR_FENCED_INSTANCE_ID);
    CHECK_EQ(gr_group_leave(group, gr_str(""), gr_str("i-unknown")), GR_KERR_UNKNOWN_MEMBER_ID);
    CHECK_EQ(gr_group_leave(group, gr_str(a.member_id), gr_str("i-unknown")), GR_KERR_UNKNOWN_MEMBER_ID);
    CHECK_EQ(group->nmembers, 3);
    /* By instance id alone (an admin removing a static member). */
    CHECK_EQ(gr_group_leave(group, gr_str(""), gr_str("i1")), GR_KERR_NONE);
    CHECK_EQ(gr_group_leave(group, gr_str(s2.member_id), gr_str("i2")), GR_KERR_NONE);
    CHECK_EQ(gr_group_leave(group, gr_str(a.member_id), GR_STR_NULL), GR_KERR_NONE);
    CHECK_EQ(group->nmembers, 0);
    CHECK_EQ(group->state, GR_GROUP_EMPTY);
    gr_coordinator_close(co);
    gr_loop_free(loop);
}

GR_TEST(group_kafka_rebalance_timeout_removes_laggards)
{
    join_rebalance_ms = 30;
    two_t t;
    two_stable(&t);
    jw_t ja, jc;
    join(t.group, &jc, "", NULL, 1, RANGE, "m", 10000, false);   /* a third member */
    join(t.group, &ja, t.a, NULL, 1, RANGE, "m", 10000, true);
    CHECK_EQ(t.group->state, GR_GROUP_PREPARING_REBALANCE);
    CHECK_EQ(ja.called, 0);  /* b has not rejoined */
    /* Until the join completes (not past it: nobody syncs here, and the
     * pending-sync timeout would then empty the group). */
    for (int i = 0; i < 200 && !ja.called; i++) run_for(t.loop, 1);
    CHECK_EQ(ja.called, 1);
    CHECK_EQ(jc.called, 1);
    CHECK_EQ(ja.res.generation, 2);
    CHECK_EQ(t.group->nmembers, 2);
    CHECK(gr_group_member(t.group, gr_str(t.b)) == NULL);
    CHECK_EQ(gr_group_heartbeat(t.group, gr_str(t.b), GR_STR_NULL, 2), GR_KERR_UNKNOWN_MEMBER_ID);
    two_free(&t);
    join_rebalance_ms = 5000;
}

GR_TEST(group_kafka_no_generation_without_a_joined_member)
{
    gr_loop_t *loop = gr_loop_new();
    gr_coordinator_t *co = new_coordinator(loop);
    gr_group_t *group = gr_coordinator_get_or_create(co, gr_str("g"), 0);
    join_rebalance_ms = 20;
    jw_t s, d;
    sw_t ss;
    join(group, &s, "", "inst", 1, RANGE, "m", 10000, true);
    run_for(loop, 5);
    CHECK_EQ(s.res.generation, 1);
    char sid[128];
    snprintf(sid, sizeof sid, "%s", s.member_id);
    const char *ids[] = {sid}, *as[] = {"S"};
    sync(group, &ss, sid, 1, 1, ids, as);
    CHECK_EQ(group->state, GR_GROUP_STABLE);
    /* A dynamic member joins and leaves again before anyone rejoined: only
     * the static member is left, and it does not rejoin. */
    join(group, &d, "", NULL, 1, RANGE, "m", 10000, false);
    CHECK_EQ(group->state, GR_GROUP_PREPARING_REBALANCE);
    CHECK_EQ(group->nmembers, 2);
    char did[128] = "";
    for (int i = 0; i < group->nmembers; i++)
        if (strcmp(group->members[i]->member_id, sid)) snprintf(did, sizeof did, "%s", group->members[i]->member_id);
    CHECK_EQ(gr_group_leave(group, gr_str(did), GR_STR_NULL), GR_KERR_NONE);
    CHECK_EQ(d.called, 1);  /* its parked join was answered */
    CHECK_EQ(d.res.error, GR_KERR_UNKNOWN_MEMBER_ID);
    run_for(loop, 80);
    /* Kafka keeps preparing rather than start a generation nobody joined. */
    CHECK_EQ(group->state, GR_GROUP_PREPARING_REBALANCE);
    CHECK_EQ(group->generation, 1);
    CHECK(gr_timer_armed(&group->rebalance_timer));
    /* The static member's session expires: the group ends up Empty. */
    gr_group_member_t *m = gr_group_member(group, gr_str(sid));
    CHECK(m != NULL);
    if (m) {
        gr_loop_timer_cancel(loop, &m->session_timer);
        m->session_timer.fn(&m->session_timer);
    }
    CHECK_EQ(group->nmembers, 0);
    CHECK_EQ(group->state, GR_GROUP_EMPTY);
    CHECK_EQ(group->generation, 2);
    join_rebalance_ms = 5000;
    gr_coordinator_close(co);
    gr_loop_free(loop);
}

GR_TEST(group_kafka_session_timeout_while_completing)
{
    two_t t;
    two_stable(&t);
    jw_t ja, jb;
    sw_t sa;
    join(t.group, &ja, t.a, NULL, 1, RANGE, "m", 10000, true);
    join(t.group, &jb, t.b, NULL, 1, RANGE, "m", 10000, true);
    CHECK_EQ(t.group->state, GR_GROUP_COMPLETING_REBALANCE);
    /* The follower b parks in its sync; the leader a never sends its. */
    sync(t.group, &sa, t.b, 2, 0, NULL, NULL);
    CHECK_EQ(sa.called, 0);
    /* The parked member is alive: its expiry just re-arms. */
    gr_group_member_t *mb = gr_group_member(t.group, gr_str(t.b));
    gr_loop_timer_cancel(t.loop, &mb->session_timer);
    mb->session_timer.fn(&mb->session_timer);
    CHECK_EQ(t.group->nmembers, 2);
    CHECK(gr_timer_armed(&mb->session_timer));
    /* The leader never syncs and its session expires: it is removed, the
     * parked follower is told REBALANCE_IN_PROGRESS, the group prepares. */
    gr_group_member_t *ma = gr_group_member(t.group, gr_str(t.a));
    gr_loop_timer_cancel(t.loop, &ma->session_timer);
    ma->session_timer.fn(&ma->session_timer);
    CHECK_EQ(t.group->nmembers, 1);
    CHECK_EQ(sa.called, 1);
    CHECK_EQ(sa.error, GR_KERR_REBALANCE_IN_PROGRESS);
    CHECK_EQ(t.group->state, GR_GROUP_PREPARING_REBALANCE);
    two_free(&t);
}

GR_TEST(group_kafka_max_size_drops_pending_member)
{
    gr_loop_t *loop = gr_loop_new();
    gr_coordinator_t *co = new_coordinator(loop);
    co->cfg.max_size = 2;
    gr_group_t *group = gr_coordinator_get_or_create(co, gr_str("g"), 0);
    jw_t a, b, c;
    sw_t sa;
    join(group, &a, "", NULL, 1, RANGE, "m", 10000, false);
    run_for(loop, 5);
    char ida[128];
    snprintf(ida, sizeof ida, "%s", a.member_id);
    const char *ids[] = {ida}, *as[] = {"x"};
    sync(group, &sa, ida, 1, 1, ids, as);
    CHECK_EQ(group->state, GR_GROUP_STABLE);
    /* b gets a member id while there is room (KIP-394) ... */
    join(group, &b, "", NULL, 1, RANGE, "m", 10000, true);
    CHECK_EQ(b.res.error, GR_KERR_MEMBER_ID_REQUIRED);
    CHECK_EQ(group->npending, 1);
    char idb[128];
    snprintf(idb, sizeof idb, "%s", b.member_id);
    /* ... then c fills the group and everyone rejoins: the rebalance waits
     * for the pending b. */
    join(group, &c, "", NULL, 1, RANGE, "m", 10000, false);
    join(group, &a, ida, NULL, 1, RANGE, "m", 10000, true);
    CHECK_EQ(a.called, 0);
    CHECK_EQ(group->state, GR_GROUP_PREPARING_REBALANCE);
    /* b's join is refused, and b is no longer pending, so the rebalance
     * completes at once instead of waiting out b's session. */
    join(group, &b, idb, NULL, 1, RANGE, "m", 10000, true);
    CHECK_EQ(b.res.error, GR_KERR_GROUP_MAX_SIZE_REACHED);
    CHECK_EQ(group->npending, 0);
    CHECK_EQ(a.called, 1);
    CHECK_EQ(a.res.generation, 2);
    CHECK_EQ(c.called, 1);
    CHECK_EQ(group->nmembers, 2);
    CHECK_EQ(group->state, GR_GROUP_COMPLETING_REBALANCE);
    gr_coordinator_close(co);
    gr_loop_free(loop);
}

/* --- broker keys -> coordinator config --- */

#include "server/config.h"

GR_TEST(group_coordinator_config_from_broker_keys)
{
    gr_broker_config_t bc;
    char err[256];
    gr_config_kv_t dflt[] = {{"log.dirs", "/tmp/gr-unused"}};
    CHECK_EQ(gr_broker_config_from_kv(NULL, 0, dflt, 1, &bc, err, sizeof err), 0);
    gr_coordinator_config_t cc;
    gr_coordinator_config_from_broker(&cc, &bc);
    /* Kafka's defaults (replication factor: Gregor's single-node 1). */
    CHECK_EQ(cc.num_partitions, 50);
    CHECK_EQ(cc.replication_factor, 1);
    CHECK_EQ(cc.segment_bytes, 104857600);
    CHECK_EQ(cc.retention_ms, 10080LL * 60000);
    CHECK_EQ(cc.retention_check_ms, 600000);
    CHECK_EQ(cc.initial_rebalance_delay_ms, 3000);
    CHECK_EQ(cc.min_session_timeout_ms, 6000);
    CHECK_EQ(cc.max_session_timeout_ms, 1800000);
    CHECK_EQ(cc.max_size, INT32_MAX);
    CHECK_EQ(cc.new_member_join_timeout_ms, 300000);
    gr_broker_config_free(&bc);

    gr_config_kv_t over[] = {
        {"log.dirs", "/tmp/gr-unused"},
        {"offsets.topic.num.partitions", "7"},
        {"offsets.topic.replication.factor", "3"},
        {"offsets.topic.segment.bytes", "65536"},
        {"offsets.retention.minutes", "2"},
        {"offsets.retention.check.interval.ms", "1500"},
        {"group.initial.rebalance.delay.ms", "10"},
        {"group.min.session.timeout.ms", "100"},
        {"group.max.session.timeout.ms", "200"},
        {"group.max.size", "5"},
    };
    CHECK_EQ(gr_broker_config_from_kv(NULL, 0, over, (int)(sizeof over / sizeof over[0]), &bc, err, sizeof err), 0);
    gr_coordinator_config_from_broker(&cc, &bc);
    CHECK_EQ(cc.num_partitions, 7);
    CHECK_EQ(cc.replication_factor, 3);
    CHECK_EQ(cc.segment_bytes, 65536);
    CHECK_EQ(cc.retention_ms, 120000);
    CHECK_EQ(cc.retention_check_ms, 1500);
    CHECK_EQ(cc.initial_rebalance_delay_ms, 10);
    CHECK_EQ(cc.min_session_timeout_ms, 100);
    CHECK_EQ(cc.max_session_timeout_ms, 200);
    CHECK_EQ(cc.max_size, 5);
    /* None of them is "accepted but ignored" any more. */
    const char *keys[] = {"offsets.topic.num.partitions", "offsets.topic.replication.factor",
                          "offsets.topic.segment.bytes", "offsets.retention.minutes",
                          "offsets.retention.check.interval.ms", "group.initial.rebalance.delay.ms",
                          "group.min.session.timeout.ms", "group.max.session.timeout.ms", "group.max.size"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const gr_config_def_t *d = gr_config_def_find(bc.set.defs, bc.set.ndefs, keys[i]);
        CHECK(d != NULL);
        if (d && (d->flags & GR_CFG_F_IGNORED)) {
            fprintf(stderr, "  %s is marked ignored\n", keys[i]);
            gr_test_failures++;
        }
    }
    gr_broker_config_free(&bc);
}

/* The offsets expiry timer runs every offsets.retention.check.interval.ms. */
GR_TEST(group_expiry_runs_every_check_interval)
{
    gr_loop_t *loop = gr_loop_new();
    gr_coordinator_t *co = new_coordinator(loop);
    co->cfg.retention_ms = 1;
    co->cfg.retention_check_ms = 10;
    CHECK_EQ(gr_coordinator_load(co), 0);   /* no broker: only starts the timer */
    gr_group_t *group = gr_coordinator_get_or_create(co, gr_str("solo"), 0);
    gr_commit_entry_t e = {.topic = gr_str("t"), .partition = 0, .offset = 7, .leader_epoch = -1,
                           .metadata = GR_STR_NULL};
    CHECK_EQ(gr_coordinator_store_offsets(co, group, &e, 1, NULL, NULL), 0);
    CHECK(gr_coordinator_find(co, gr_str("solo")) != NULL);
    run_for(loop, 60);
    CHECK(gr_coordinator_find(co, gr_str("solo")) == NULL);
    gr_coordinator_close(co);
    gr_loop_free(loop);
}

/* group.initial.rebalance.delay.ms: a group leaving Empty waits the delay,
 * extended while new members keep joining (InitialDelayedJoin). */
GR_TEST(group_initial_rebalance_delay)
{
    gr_loop_t *loop = gr_loop_new();
    gr_coordinator_t *co = new_coordinator(loop);
    co->cfg.initial_rebalance_delay_ms = 40;
    gr_group_t *group = gr_coordinator_get_or_create(co, gr_str("g"), 0);
    jw_t a, b;
    int64_t t0 = gr_now_ms();
    join(group, &a, "", NULL, 1, RANGE, "m", 10000, false);
    run_for(loop, 25);
    CHECK_EQ(a.called, 0);
    /* A new member within the delay: one more delay from the first's end. */
    join(group, &b, "", NULL, 1, RANGE, "m", 10000, false);
    run_for(loop, 25);
    CHECK_EQ(a.called, 0);      /* ~50 ms: the first delay ended, extended */
    run_for(loop, 60);
    CHECK_EQ(a.called, 1);
    CHECK_EQ(b.called, 1);
    CHECK_EQ(a.res.generation, 1);
    CHECK(gr_now_ms() - t0 >= 80);
    gr_coordinator_close(co);
    gr_loop_free(loop);
}

/* The protocol check of a join is answered from per-protocol member counts:
 * right through joins, protocol changes, duplicates and leaves, and cheap
 * for a big group whose members list many protocols. */
GR_TEST(group_protocol_support_counts)
{
    gr_loop_t *loop = gr_loop_new();
    gr_coordinator_t *co = new_coordinator(loop);
    co->cfg.max_size = 100000;
    gr_group_t *group = gr_coordinator_get_or_create(co, gr_str("g"), 0);
    static jw_t js[1000];
    char names[64][16];
    const char *prots[64];
    for (int i = 0; i < 64; i++) {
        snprintf(names[i], sizeof names[i], "p%02d", i);
        prots[i] = names[i];
    }
    int64_t t0 = gr_now_ms();
    for (int i = 0; i < 1000; i++) {
        /* Each member lists p63 first, then 63 names, one of them twice. */
        gr_str_t n[65];
        gr_bytes_t md[65];
        for (int k = 0; k < 64; k++) {
            n[k] = gr_str(prots[63 - k]);
            md[k] = (gr_bytes_t){(const uint8_t *)"m", 1};
        }
        n[64] = gr_str(prots[63]);
        md[64] = md[0];
        memset(&js[i], 0, sizeof js[i]);
        js[i].w.done = jw_done;
        gr_group_join_args_t a = {.member_id = gr_str(""), .instance_id = GR_STR_NULL, .client_id = gr_str("c"),
                                  .client_host = "/h", .session_timeout_ms = 10000, .rebalance_timeout_ms = 5000,
                                  .protocol_type = gr_str("consumer"), .nprotocols = 65, .protocol_names = n,
                                  .protocol_metadata = md};
        gr_group_join(group, &a, &js[i].w);
        CHECK_EQ(js[i].called, 0);
    }
    CHECK_EQ(group->nmembers, 1000);
    CHECK_EQ(pcount_of(group, "p63"), 1000);   /* counted once per member */
    /* Only a protocol every member supports is accepted. */
    jw_t x;
    const char *other[] = {"nope"};
    join(group, &x, "", NULL, 1, other, "m", 10000, false);
    CHECK_EQ(x.res.error, GR_KERR_INCONSISTENT_GROUP_PROTOCOL);
    run_for(loop, 5);
    CHECK_EQ(js[0].res.generation, 1);
    CHECK(!strcmp(js[0].protocol, "p63"));
    CHECK(gr_now_ms() - t0 < 5000);
    /* Everyone leaves: the counts drop to 0 and any protocol is fine again. */
    for (int i = 0; i < 1000; i++) CHECK_EQ(gr_group_leave(group, gr_str(js[i].member_id), GR_STR_NULL), 0);
    CHECK_EQ(group->state, GR_GROUP_EMPTY);
    CHECK_EQ(pcount_of(group, "p63"), 0);
    join(group, &x, "", NULL, 1, other, "m", 10000, false);
    run_for(loop, 5);
    CHECK_EQ(x.res.error, 0);
    CHECK(!strcmp(x.protocol, "nope"));
    gr_coordinator_close(co);
    gr_loop_free(loop);
}

/* Kafka's removeExpiredOffsets for a Stable consumer group: offsets of
 * topics no member subscribes to expire retention after their commit; the
 * subscribed ones stay. */
GR_TEST(group_stable_consumer_group_expires_unsubscribed_offsets)
{
    gr_loop_t *loop = gr_loop_new();
    gr_coordinator_t *co = new_coordinator(loop);   /* retention 1000 ms */
    gr_group_t *group = gr_coordinator_get_or_create(co, gr_str("g"), 0);
    gr_writer_t w;
    gr_writer_init(&w);
    gr_str_t topics[] = {gr_str("t")};
    gr_ConsumerProtocolSubscription sub = {.Topics_count = 1, .Topics = topics, .UserData = {NULL, -1},
                                           .GenerationId = -1, .RackId = GR_STR_NULL};
    gr_write_i16(&w, 0);
    gr_ConsumerProtocolSubscription_encode(&w, 0, &sub);
    gr_str_t name = gr_str("range");
    gr_bytes_t md = {w.buf, (int32_t)w.len};
    jw_t j;
    memset(&j, 0, sizeof j);
    j.w.done = jw_done;
    gr_group_join_args_t a = {.member_id = gr_str(""), .instance_id = GR_STR_NULL, .client_id = gr_str("c"),
                              .client_host = "/h", .session_timeout_ms = 10000, .rebalance_timeout_ms = 5000,
                              .protocol_type = gr_str("consumer"), .nprotocols = 1, .protocol_names = &name,
                              .protocol_metadata = &md};
    gr_group_join(group, &a, &j.w);
    run_for(loop, 5);
    CHECK_EQ(j.res.generation, 1);
    sw_t s;
    const char *ids[] = {j.member_id}, *as[] = {"x"};
    sync(group, &s, j.member_id, 1, 1, ids, as);
    CHECK_EQ(group->state, GR_GROUP_STABLE);
    CHECK(gr_group_subscriptions_known(group));
    gr_commit_entry_t e[] = {{.topic = gr_str("t"), .partition = 0, .offset = 1, .leader_epoch = -1},
                             {.topic = gr_str("u"), .partition = 0, .offset = 2, .leader_epoch = -1}};
    CHECK_EQ(gr_coordinator_store_offsets(co, group, e, 2, NULL, NULL), 0);
    CHECK_EQ(gr_coordinator_expire(co, gr_wall_ms()), 0);          /* not yet */
    CHECK_EQ(gr_coordinator_expire(co, gr_wall_ms() + 2000), 1);   /* u only */
    CHECK(gr_offsets_get(&group->offsets, "t", 1, 0) != NULL);
    CHECK(gr_offsets_get(&group->offsets, "u", 1, 0) == NULL);
    CHECK_EQ(group->state, GR_GROUP_STABLE);
    gr_writer_free(&w);
    gr_coordinator_close(co);
    gr_loop_free(loop);
}

/* OffsetCommit v2-4 RetentionTimeMs (Kafka's OffsetAndMetadata
 * expireTimestamp): value v1 with the expire timestamp, expiry at it
 * instead of offsets.retention.minutes, and read back when loading. */
GR_TEST(group_offset_retention_time_expire_timestamp)
{
    gr_writer_t w;
    gr_writer_init(&w);
    gr_offsets_encode_commit_value(&w, 0x0102, 7, gr_str("m"), 0x0a0b, 0x0c0d);
    static const uint8_t v1[] = {0, 1, 0, 0, 0, 0, 0, 0, 1, 2, 0, 1, 'm', 0, 0, 0, 0, 0, 0, 0x0a, 0x0b,
                                 0, 0, 0, 0, 0, 0, 0x0c, 0x0d};
    CHECK_EQ(w.len, sizeof v1);
    CHECK_MEM(w.buf, v1, sizeof v1);
    gr_writer_free(&w);

    gr_loop_t *loop = gr_loop_new();
    gr_coordinator_t *co = new_coordinator(loop);  /* retention 1000 ms */
    /* A standalone consumer: a long explicit retention outlives the
     * broker's; a short one expires before it. */
    gr_group_t *group = gr_coordinator_get_or_create(co, gr_str("solo"), 0);
    gr_commit_entry_t e[] = {{.topic = gr_str("t"), .partition = 0, .offset = 1, .leader_epoch = -1,
                              .has_retention = true, .retention_ms = 60000},
                             {.topic = gr_str("t"), .partition = 1, .offset = 2, .leader_epoch = -1,
                              .has_retention = true, .retention_ms = 100},
                             {.topic = gr_str("t"), .partition = 2, .offset = 3, .leader_epoch = -1}};
    int64_t before = gr_wall_ms();
    CHECK_EQ(gr_coordinator_store_offsets(co, group, e, 3, NULL, NULL), 0);
    gr_offset_t *o0 = gr_offsets_get(&group->offsets, "t", 1, 0);
    CHECK(o0 && o0->expire_ts >= before + 60000 && o0->expire_ts <= gr_wall_ms() + 60000);
    CHECK_EQ(gr_offsets_get(&group->offsets, "t", 1, 2)->expire_ts, -1);
    CHECK_EQ(gr_coordinator_expire(co, gr_wall_ms()), 0);
    CHECK_EQ(gr_coordinator_expire(co, gr_wall_ms() + 500), 1);    /* t-1: its own 100 ms */
    CHECK(gr_offsets_get(&group->offsets, "t", 1, 1) == NULL);
    CHECK_EQ(gr_coordinator_expire(co, gr_wall_ms() + 2000), 1);   /* t-2: the broker's 1000 ms */
    CHECK(gr_offsets_get(&group->offsets, "t", 1, 0) != NULL);
    CHECK_EQ(gr_coordinator_expire(co, gr_wall_ms() + 61000), 1);  /* t-0, and the group goes */
    CHECK(gr_coordinator_find(co, gr_str("solo")) == NULL);

    /* An Empty consumer group: an offset with an expire timestamp expires at
     * it even though the group went Empty only now. */
    group = gr_coordinator_get_or_create(co, gr_str("g"), 0);
    free(group->protocol_type);
    group->protocol_type = strdup("consumer");
    group->state_ts = gr_wall_ms();
    gr_commit_entry_t f[] = {{.topic = gr_str("t"), .partition = 0, .offset = 1, .leader_epoch = -1,
                              .has_retention = true, .retention_ms = 0},
                             {.topic = gr_str("t"), .partition = 1, .offset = 2, .leader_epoch = -1}};
    CHECK_EQ(gr_coordinator_store_offsets(co, group, f, 2, NULL, NULL), 0);
    CHECK_EQ(gr_coordinator_expire(co, gr_wall_ms()), 1);
    CHECK(gr_offsets_get(&group->offsets, "t", 1, 0) == NULL);
    CHECK(gr_offsets_get(&group->offsets, "t", 1, 1) != NULL);

    /* Loading: a v1 value keeps its expire timestamp; v3 has none. */
    gr_writer_t k, v;
    gr_writer_init(&k);
    gr_writer_init(&v);
    gr_offsets_encode_commit_key(&k, gr_str("h"), gr_str("t"), 0);
    gr_offsets_encode_commit_value(&v, 10, 5, gr_str("x"), 1000, 5000);
    apply(co, &k, &v, false);
    gr_offsets_encode_commit_key(&k, gr_str("h"), gr_str("t"), 1);
    gr_offsets_encode_commit_value(&v, 11, 5, gr_str("x"), 1000, -1);
    apply(co, &k, &v, false);
    gr_group_t *h = gr_coordinator_find(co, gr_str("h"));
    CHECK(h != NULL);
    if (h) {
        gr_offset_t *a = gr_offsets_get(&h->offsets, "t", 1, 0), *b = gr_offsets_get(&h->offsets, "t", 1, 1);
        CHECK(a && a->offset == 10 && a->leader_epoch == -1 && a->commit_ts == 1000 && a->expire_ts == 5000);
        CHECK(b && b->offset == 11 && b->leader_epoch == 5 && b->expire_ts == -1);
    }
    gr_writer_free(&k);
    gr_writer_free(&v);
    gr_coordinator_close(co);
    gr_loop_free(loop);
}

/* Kafka 3.2+ (KAFKA-13766, DelayedSync / onExpirePendingSync): after the
 * join completes, members that do not send SyncGroup within the rebalance
 * timeout are removed and the group rebalances; those that synced stay. */
GR_TEST(group_kafka_pending_sync_timeout_removes_members)
{
    join_rebalance_ms = 30;
    gr_loop_t *loop = gr_loop_new();
    gr_coordinator_t *co = new_coordinator(loop);
    gr_group_t *group = gr_coordinator_get_or_create(co, gr_str("g"), 0);
    jw_t a, b;
    sw_t sa;
    join(group, &a, "", NULL, 1, RANGE, "m", 10000, false);
    join(group, &b, "", NULL, 1, RANGE, "m", 10000, false);
    for (int i = 0; i < 200 && !(a.called && b.called); i++) run_for(loop, 1);
    CHECK_EQ(a.res.generation, 1);
    CHECK_EQ(b.res.generation, 1);
    CHECK_EQ(group->state, GR_GROUP_COMPLETING_REBALANCE);
    CHECK(gr_timer_armed(&group->sync_timer));
    char ida[128], idb[128];
    snprintf(ida, sizeof ida, "%s", a.member_id);
    snprintf(idb, sizeof idb, "%s", b.member_id);
    bool a_leads = !strcmp(a.leader, ida);
    const char *leader = a_leads ? ida : idb, *follower = a_leads ? idb : ida;
    /* Only the follower syncs (it parks); heartbeats do not count. */
    sync(group, &sa, follower, 1, 0, NULL, NULL);
    CHECK_EQ(sa.called, 0);
    CHECK_EQ(gr_group_heartbeat(group, gr_str(leader), GR_STR_NULL, 1), 0);
    /* Fired by hand: the leader is gone, the follower's parked sync is told
     * to rejoin, and the group prepares a rebalance. */
    gr_loop_timer_cancel(loop, &group->sync_timer);
    group->sync_timer.fn(&group->sync_timer);
    CHECK(gr_group_member(group, gr_str(leader)) == NULL);
    CHECK(gr_group_member(group, gr_str(follower)) != NULL);
    CHECK_EQ(group->nmembers, 1);
    CHECK_EQ(sa.called, 1);
    CHECK_EQ(sa.error, GR_KERR_REBALANCE_IN_PROGRESS);
    CHECK_EQ(group->state, GR_GROUP_PREPARING_REBALANCE);
    CHECK_EQ(gr_group_heartbeat(group, gr_str(leader), GR_STR_NULL, 1), GR_KERR_UNKNOWN_MEMBER_ID);
    /* The survivor rejoins: generation 2, it syncs, and the timer of the
     * new generation finds nobody pending. */
    jw_t a2;
    join(group, &a2, follower, NULL, 1, RANGE, "m", 10000, true);
    CHECK_EQ(a2.called, 1);
    CHECK_EQ(a2.res.generation, 2);
    const char *ids[] = {follower}, *as[] = {"x"};
    sync(group, &sa, follower, 2, 1, ids, as);
    CHECK_EQ(group->state, GR_GROUP_STABLE);
    run_for(loop, 80);
    CHECK_EQ(group->nmembers, 1);
    CHECK_EQ(group->state, GR_GROUP_STABLE);
    /* A generation where nobody syncs ends Empty. */
    join(group, &a2, follower, NULL, 1, RANGE, "m", 10000, true);
    CHECK_EQ(a2.res.generation, 3);
    run_for(loop, 80);
    CHECK_EQ(group->nmembers, 0);
    CHECK_EQ(group->state, GR_GROUP_EMPTY);
    CHECK_EQ(group->generation, 4);
    join_rebalance_ms = 5000;
    gr_coordinator_close(co);
    gr_loop_free(loop);
}
