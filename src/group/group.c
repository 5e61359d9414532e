/* Kafka's classic group membership state machine; see group.h and
 * README.md.  Function names follow GroupCoordinator.scala where a reader
 * may want to compare (prepare_rebalance = prepareRebalance, complete_join
 * = onCompleteJoin, ...). */
#include "group/group.h"

#include <stddef.h>
#include <stdlib.h>
#include <strings.h>

#include "group/coordinator.h"
#include "protocol/errors.h"
#include "protocol/messages.h"
#include "util/arena.h"
#include "util/hash.h"
#include "util/log.h"

static const char *const state_names[] = {"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"};

const char *gr_group_state_name(gr_group_state_t s) { return state_names[s]; }

int gr_group_state_parse(gr_str_t s)
{
    for (int i = 0; i < 5; i++)
        if (s.len >= 0 && (size_t)s.len == strlen(state_names[i]) && !strncasecmp(s.ptr, state_names[i], (size_t)s.len))
            return i;
    return -1;
}

static char *sdup(gr_str_t s)
{
    if (s.len < 0) return NULL;
    char *p = malloc((size_t)s.len + 1);
    if (!p) return NULL;
    if (s.len) memcpy(p, s.ptr, (size_t)s.len);
    p[s.len] = 0;
    return p;
}

static bool seq(const char *a, gr_str_t b)
{
    return a && b.len >= 0 && strlen(a) == (size_t)b.len && memcmp(a, b.ptr, (size_t)b.len) == 0;
}

static void transition(gr_group_t *group, gr_group_state_t to)
{
    gr_debug("group %s: %s -> %s (generation %d)", group->id, state_names[group->state], state_names[to],
             group->generation);
    group->state = to;
    group->state_ts = gr_wall_ms();
}

/* --- members --- */

static void session_expired(gr_timer_t *t);

static void touch(gr_group_member_t *m, int32_t timeout_ms)
{
    gr_loop_timer_arm(m->group->co->loop, &m->session_timer, gr_now_ms() + timeout_ms);
}

/* --- protocol support counts --- */

static gr_group_proto_count_t *pcount_slot(gr_group_t *group, const char *name)
{
    if (!group->pcount_cap) return NULL;
    uint32_t mask = group->pcount_cap - 1, i = gr_fnv1a32_str(name) & mask;
    for (;; i = (i + 1) & mask) {
        gr_group_proto_count_t *e = &group->pcounts[i];
        if (!e->name || !strcmp(e->name, name)) return e;
    }
}

static int32_t pcount(gr_group_t *group, const char *name)
{
    gr_group_proto_count_t *e = pcount_slot(group, name);
    return e && e->name ? e->count : 0;
}

/* Rebuilds the table with room for `need` more names, dropping names no
 * member supports any more.  0 or GR_ENOMEM. */
static int pcount_grow(gr_group_t *group, uint32_t need)
{
    uint32_t live = 0;
    for (uint32_t i = 0; i < group->pcount_cap; i++) live += group->pcounts[i].name && group->pcounts[i].count > 0;
    uint32_t cap = 16;
    while (cap < (live + need) * 2 + 1) cap *= 2;
    gr_group_proto_count_t *old = group->pcounts;
    uint32_t old_cap = group->pcount_cap;
    gr_group_proto_count_t *t = calloc(cap, sizeof *t);
    if (!t) return GR_ENOMEM;
    group->pcounts = t;
    group->pcount_cap = cap;
    group->pcount_used = 0;
    for (uint32_t i = 0; i < old_cap; i++) {
        if (!old[i].name) continue;
        if (old[i].count <= 0) {
            free(old[i].name);
            continue;
        }
        *pcount_slot(group, old[i].name) = old[i];
        group->pcount_used++;
    }
    free(old);
    return 0;
}

static bool listed_before(const gr_group_member_t *m, int i)
{
    for (int j = 0; j < i; j++)
        if (!strcmp(m->protocols[j].name, m->protocols[i].name)) return true;
    return false;
}

/* Counts (delta +1) or uncounts (-1) a member's protocols, each name once
 * however often the member lists it. */
static int pcount_member(gr_group_member_t *m, int delta)
{
    gr_group_t *group = m->group;
    if (delta > 0 && (group->pcount_used + (uint32_t)m->nprotocols) * 2 + 1 > group->pcount_cap &&
        pcount_grow(group, (uint32_t)m->nprotocols) < 0)
        return GR_ENOMEM;
    for (int i = 0; i < m->nprotocols; i++) {
        if (listed_before(m, i)) continue;
        gr_group_proto_count_t *e = pcount_slot(group, m->protocols[i].name);
        if (!e) continue;   /* uncounting with no table: nothing was counted */
        if (!e->name) {
            if (delta < 0) continue;
            if (!(e->name = strdup(m->protocols[i].name))) {
                /* Undo this member's increments so far. */
                for (int j = 0; j < i; j++)
                    if (!listed_before(m, j)) pcount_slot(group, m->protocols[j].name)->count--;
                return GR_ENOMEM;
            }
            group->pcount_used++;
        }
        e->count += delta;
    }
    return 0;
}

static void pcount_free(gr_group_t *group)
{
    for (uint32_t i = 0; i < group->pcount_cap; i++) free(group->pcounts[i].name);
    free(group->pcounts);
    group->pcounts = NULL;
    group->pcount_cap = group->pcount_used = 0;
}

static void free_protocols(gr_group_member_t *m)
{
    if (m->nprotocols) pcount_member(m, -1);
    for (int i = 0; i < m->nprotocols; i++) {
        free(m->protocols[i].name);
        free(m->protocols[i].metadata);
    }
    free(m->protocols);
    m->protocols = NULL;
    m->nprotocols = 0;
}

static int set_protocols(gr_group_member_t *m, int n, const gr_str_t *names, const gr_bytes_t *meta)
{
    gr_group_protocol_t *p = calloc((size_t)(n ? n : 1), sizeof *p);
    if (!p) return GR_ENOMEM;
    for (int i = 0; i < n; i++) {
        p[i].name = sdup(names[i].len >= 0 ? names[i] : (gr_str_t){"", 0});
        p[i].len = meta[i].len > 0 ? meta[i].len : 0;
        p[i].metadata = malloc((size_t)p[i].len + 1);
        if (!p[i].name || !p[i].metadata) {
            for (int j = 0; j <= i; j++) free(p[j].name), free(p[j].metadata);
            free(p);
            return GR_ENOMEM;
        }
        if (p[i].len) memcpy(p[i].metadata, meta[i].ptr, (size_t)p[i].len);
    }
    free_protocols(m);
    m->protocols = p;
    m->nprotocols = n;
    if (pcount_member(m, +1) < 0) {
        /* Nothing of it was counted: drop the protocols. */
        for (int i = 0; i < n; i++) free(p[i].name), free(p[i].metadata);
        free(p);
        m->protocols = NULL;
        m->nprotocols = 0;
        return GR_ENOMEM;
    }
    return 0;
}

static gr_group_member_t *member_new(gr_group_t *group, char *member_id, gr_str_t instance_id, gr_str_t client_id,
                                     const char *client_host, int32_t session_ms, int32_t rebalance_ms)
{
    gr_group_member_t *m = calloc(1, sizeof *m);
    if (!m) {
        free(member_id);
        return NULL;
    }
    m->group = group;
    m->member_id = member_id;
    m->instance_id = sdup(instance_id);
    m->client_id = sdup(client_id.len >= 0 ? client_id : (gr_str_t){"", 0});
    m->client_host = strdup(client_host ? client_host : "");
    m->session_timeout_ms = session_ms;
    m->rebalance_timeout_ms = rebalance_ms;
    gr_timer_init(&m->session_timer, session_expired);
    if (!m->member_id || (instance_id.len >= 0 && !m->instance_id) || !m->client_id || !m->client_host) {
        free(m->member_id), free(m->instance_id), free(m->client_id), free(m->client_host), free(m);
        return NULL;
    }
    return m;
}

static void join_fail(gr_group_join_waiter_t *w, int16_t error, const char *member_id)
{
    gr_group_join_result_t res = {.error = error, .generation = -1, .member_id = member_id ? member_id : "",
                                  .leader_id = ""};
    w->done(w, &res);
}

/* Answers whatever JoinGroup or SyncGroup the member has parked with
 * `error`.  Each waiter is unhooked before it is answered, so that an
 * answer cannot reach it twice. */
static void fail_parked_requests(gr_group_member_t *m, int16_t error)
{
    if (m->join_waiter) {
        gr_group_join_waiter_t *w = m->join_waiter;
        m->join_waiter = NULL;
        join_fail(w, error, m->member_id);
    }
    if (m->sync_waiter) {
        gr_group_sync_waiter_t *w = m->sync_waiter;
        m->sync_waiter = NULL;
        w->done(w, error, NULL, NULL, NULL, 0);
    }
}

/* Frees a member that is already out of the group's arrays, answering
 * whatever it had parked. */
static void member_free(gr_group_member_t *m, int16_t error)
{
    gr_loop_timer_cancel(m->group->co->loop, &m->session_timer);
    fail_parked_requests(m, error);
    free_protocols(m);
    free(m->assignment);
    free(m->member_id);
    free(m->instance_id);
    free(m->client_id);
    free(m->client_host);
    free(m);
}

static int array_push(gr_group_member_t ***arr, int *n, int *cap, gr_group_member_t *m)
{
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 4;
        gr_group_member_t **a = realloc(*arr, (size_t)nc * sizeof *a);
        if (!a) return GR_ENOMEM;
        *arr = a;
        *cap = nc;
    }
    (*arr)[(*n)++] = m;
    return 0;
}

static void array_remove(gr_group_member_t **arr, int *n, gr_group_member_t *m)
{
    for (int i = 0; i < *n; i++) {
        if (arr[i] == m) {
            memmove(&arr[i], &arr[i + 1], (size_t)(*n - i - 1) * sizeof *arr);
            (*n)--;
            return;
        }
    }
}

gr_group_member_t *gr_group_member(gr_group_t *group, gr_str_t member_id)
{
    for (int i = 0; i < group->nmembers; i++)
        if (seq(group->members[i]->member_id, member_id)) return group->members[i];
    return NULL;
}

static gr_group_member_t *pending_member(gr_group_t *group, gr_str_t member_id)
{
    for (int i = 0; i < group->npending; i++)
        if (seq(group->pending[i]->member_id, member_id)) return group->pending[i];
    return NULL;
}

gr_group_member_t *gr_group_static_member(gr_group_t *group, gr_str_t instance_id)
{
    if (instance_id.len < 0) return NULL;
    for (int i = 0; i < group->nmembers; i++)
        if (seq(group->members[i]->instance_id, instance_id)) return group->members[i];
    return NULL;
}

gr_group_member_t *gr_group_leader(gr_group_t *group)
{
    return group->leader_id ? gr_group_member(group, gr_str(group->leader_id)) : NULL;
}

static void set_leader(gr_group_t *group, const char *id)
{
    char *l = id ? strdup(id) : NULL;
    free(group->leader_id);
    group->leader_id = l;
}

/* Kafka's validateCurrentMember: with an instance id, it must be registered
 * and mapped to member_id (FENCED_INSTANCE_ID if mapped to another id,
 * UNKNOWN_MEMBER_ID if not registered); then member_id must be a member.
 * NONE with *out set, or the error. */
static int16_t validate_current(gr_group_t *group, gr_str_t member_id, gr_str_t instance_id, gr_group_member_t **out)
{
    *out = NULL;
    if (instance_id.len >= 0) {
        gr_group_member_t *s = gr_group_static_member(group, instance_id);
        if (!s) return GR_KERR_UNKNOWN_MEMBER_ID;
        if (!seq(s->member_id, member_id)) return GR_KERR_FENCED_INSTANCE_ID;
    }
    if (!(*out = gr_group_member(group, member_id))) return GR_KERR_UNKNOWN_MEMBER_ID;
    return GR_KERR_NONE;
}

static int32_t rebalance_timeout(gr_group_t *group)
{
    int32_t t = 0;
    for (int i = 0; i < group->nmembers; i++)
        if (group->members[i]->rebalance_timeout_ms > t) t = group->members[i]->rebalance_timeout_ms;
    return t;
}

static int num_awaiting_join(gr_group_t *group)
{
    int n = 0;
    for (int i = 0; i < group->nmembers; i++) n += group->members[i]->join_waiter != NULL;
    return n;
}

static const gr_group_protocol_t *member_protocol(const gr_group_member_t *m, const char *name)
{
    for (int i = 0; name && i < m->nprotocols; i++)
        if (!strcmp(m->protocols[i].name, name)) return &m->protocols[i];
    return NULL;
}

static bool all_support(gr_group_t *group, const char *name)
{
    return group->nmembers > 0 && pcount(group, name) == group->nmembers;
}

static bool supports_protocols(gr_group_t *group, const gr_group_join_args_t *a)
{
    if (group->nmembers == 0) return a->protocol_type.len > 0 && a->nprotocols > 0;
    if (!seq(group->protocol_type, a->protocol_type)) return false;
    for (int i = 0; i < a->nprotocols; i++) {
        char name[256];
        if (a->protocol_names[i].len < 0 || a->protocol_names[i].len >= (int32_t)sizeof name) continue;
        memcpy(name, a->protocol_names[i].ptr, (size_t)a->protocol_names[i].len);
        name[a->protocol_names[i].len] = 0;
        if (all_support(group, name)) return true;
    }
    return false;
}

static bool matches(const gr_group_member_t *m, const gr_group_join_args_t *a)
{
    if (m->nprotocols != a->nprotocols) return false;
    for (int i = 0; i < a->nprotocols; i++) {
        int32_t len = a->protocol_metadata[i].len > 0 ? a->protocol_metadata[i].len : 0;
        if (!seq(m->protocols[i].name, a->protocol_names[i]) || m->protocols[i].len != len ||
            (len && memcmp(m->protocols[i].metadata, a->protocol_metadata[i].ptr, (size_t)len)))
            return false;
    }
    return true;
}

/* Among the protocols every member supports, each member votes for the
 * first in its own order; the most votes win (ties: the earlier candidate
 * in the first member's order).  The candidates are computed once:
 * O(members x protocols^2), not quadratic in members. */
static const char *select_protocol(gr_group_t *group)
{
    if (!group->nmembers) return NULL;
    gr_group_member_t *first = group->members[0];
    const char *cand[GR_GROUP_MAX_PROTOCOLS];
    int votes[GR_GROUP_MAX_PROTOCOLS], ncand = 0;
    for (int c = 0; c < first->nprotocols && ncand < GR_GROUP_MAX_PROTOCOLS; c++)
        if (all_support(group, first->protocols[c].name)) cand[ncand] = first->protocols[c].name, votes[ncand++] = 0;
    for (int i = 0; i < group->nmembers; i++) {
        gr_group_member_t *m = group->members[i];
        int vote = -1;
        for (int j = 0; j < m->nprotocols && vote < 0; j++)
            for (int c = 0; c < ncand; c++)
                if (!strcmp(m->protocols[j].name, cand[c])) {
                    vote = c;
                    break;
                }
        if (vote >= 0) votes[vote]++;
    }
    int best = -1;
    for (int c = 0; c < ncand; c++)
        if (best < 0 || votes[c] > votes[best]) best = c;
    return best >= 0 ? cand[best] : NULL;
}

/* --- the rebalance --- */

static void complete_join(gr_group_t *group);
static void maybe_prepare_rebalance(gr_group_t *group, const char *reason);

static void try_complete_join(gr_group_t *group)
{
    if (group->state != GR_GROUP_PREPARING_REBALANCE || group->initial_delay) return;
    if (num_awaiting_join(group) == group->nmembers && group->npending == 0) complete_join(group);
}

static void reset_and_propagate_assignment_error(gr_group_t *group, int16_t error)
{
    for (int i = 0; i < group->nmembers; i++) {
        gr_group_member_t *m = group->members[i];
        free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
        if (m->sync_waiter) {
            gr_group_sync_waiter_t *w = m->sync_waiter;
            m->sync_waiter = NULL;
            w->done(w, error, NULL, NULL, NULL, 0);
        }
    }
}

static void prepare_rebalance(gr_group_t *group, const char *reason)
{
    if (group->state == GR_GROUP_COMPLETING_REBALANCE)
        reset_and_propagate_assignment_error(group, GR_KERR_REBALANCE_IN_PROGRESS);
    gr_coordinator_t *co = group->co;
    int32_t timeout = rebalance_timeout(group);
    gr_loop_timer_cancel(co->loop, &group->rebalance_timer);
    if (group->state == GR_GROUP_EMPTY) {
        /* A new (or emptied) group waits group.initial.rebalance.delay.ms so
         * that members starting together join one generation, extended
         * while new members keep arriving, up to the rebalance timeout
         * (InitialDelayedJoin). */
        int32_t delay = co->cfg.initial_rebalance_delay_ms;
        if (delay > timeout) delay = timeout;
        group->initial_delay = true;
        group->new_member_added = false;
        group->delay_remaining_ms = timeout - delay > 0 ? timeout - delay : 0;
        gr_loop_timer_arm(co->loop, &group->rebalance_timer, gr_now_ms() + delay);
    } else {
        group->initial_delay = false;
        gr_loop_timer_arm(co->loop, &group->rebalance_timer, gr_now_ms() + timeout);
    }
    gr_info("group %s: preparing to rebalance (generation %d): %s", group->id, group->generation, reason);
    transition(group, GR_GROUP_PREPARING_REBALANCE);
    try_complete_join(group);
}

static void maybe_prepare_rebalance(gr_group_t *group, const char *reason)
{
    if (group->state == GR_GROUP_STABLE || group->state == GR_GROUP_COMPLETING_REBALANCE ||
        group->state == GR_GROUP_EMPTY)
        prepare_rebalance(group, reason);
}

static void rebalance_timer_fired(gr_timer_t *t)
{
    gr_group_t *group = (gr_group_t *)((char *)t - offsetof(gr_group_t, rebalance_timer));
    if (group->state != GR_GROUP_PREPARING_REBALANCE) return;
    if (group->initial_delay && group->new_member_added && group->delay_remaining_ms > 0) {
        int32_t init = group->co->cfg.initial_rebalance_delay_ms;
        int32_t delay = init < group->delay_remaining_ms ? init : group->delay_remaining_ms;
        group->new_member_added = false;
        group->delay_remaining_ms = group->delay_remaining_ms - init > 0 ? group->delay_remaining_ms - init : 0;
        gr_loop_timer_arm(group->co->loop, &group->rebalance_timer, gr_now_ms() + delay);
        return;
    }
    complete_join(group);
}

static void fill_join_result(gr_group_t *group, gr_group_member_t *m, gr_group_join_result_t *res)
{
    bool leader = group->leader_id && !strcmp(group->leader_id, m->member_id);
    *res = (gr_group_join_result_t){
        .error = GR_KERR_NONE,
        .generation = group->generation,
        .member_id = m->member_id,
        .leader_id = group->leader_id ? group->leader_id : "",
        .protocol_type = group->protocol_type,
        .protocol_name = group->protocol_name,
        .nmembers = leader ? group->nmembers : 0,
        .members = leader ? group->members : NULL,
    };
}

static void remove_member(gr_group_t *group, gr_group_member_t *m, int16_t error)
{
    array_remove(group->members, &group->nmembers, m);
    if (group->leader_id && !strcmp(group->leader_id, m->member_id))
        set_leader(group, group->nmembers ? group->members[0]->member_id : NULL);
    member_free(m, error);
}

static void complete_join(gr_group_t *group)
{
    gr_coordinator_t *co = group->co;
    gr_loop_timer_cancel(co->loop, &group->rebalance_timer);
    group->initial_delay = false;
    /* Dynamic members that did not rejoin in time are gone; static ones
     * stay until their session expires (KIP-345). */
    for (int i = group->nmembers - 1; i >= 0; i--) {
        gr_group_member_t *m = group->members[i];
        if (!m->join_waiter && !m->instance_id) {
            gr_info("group %s: member %s did not rejoin within the rebalance timeout", group->id, m->member_id);
            remove_member(group, m, GR_KERR_UNKNOWN_MEMBER_ID);
        }
    }
    if (group->state == GR_GROUP_DEAD) return;
    /* maybeElectNewJoinedLeader: the leader must be a member that joined. */
    gr_group_member_t *leader = gr_group_leader(group);
    if (!leader || !leader->join_waiter) {
        bool elected = false;
        for (int i = 0; i < group->nmembers && !elected; i++) {
            if (group->members[i]->join_waiter) {
                set_leader(group, group->members[i]->member_id);
                elected = true;
            }
        }
        if (!elected && group->nmembers) {
            /* Only static members are left and none rejoined: Kafka keeps
             * preparing (another rebalance timeout) until their sessions
             * expire, rather than starting a generation nobody joined. */
            gr_warn("group %s: could not complete the rebalance: no member rejoined", group->id);
            gr_loop_timer_arm(co->loop, &group->rebalance_timer, gr_now_ms() + rebalance_timeout(group));
            return;
        }
    }
    group->generation++;
    free(group->protocol_name);
    group->protocol_name = NULL;
    if (group->nmembers) {
        const char *p = select_protocol(group);
        group->protocol_name = p ? strdup(p) : NULL;
        transition(group, GR_GROUP_COMPLETING_REBALANCE);
    } else {
        transition(group, GR_GROUP_EMPTY);
    }
    gr_info("group %s: generation %d with %d members (protocol %s)", group->id, group->generation, group->nmembers,
            group->protocol_name ? group->protocol_name : "-");
    if (group->state == GR_GROUP_EMPTY) {
        int rc = gr_coordinator_store_group(co, group, false);
        if (rc < 0) gr_warn("group %s: writing the empty generation failed: %s", group->id, gr_strerror(rc));
        return;
    }
    /* Every member of the new generation owes a SyncGroup within the
     * rebalance timeout (Kafka's pendingSyncMembers / DelayedSync). */
    for (int i = 0; i < group->nmembers; i++) group->members[i]->pending_sync = true;
    group->sync_generation = group->generation;
    gr_loop_timer_arm(co->loop, &group->sync_timer, gr_now_ms() + rebalance_timeout(group));
    for (int i = 0; i < group->nmembers; i++) {
        gr_group_member_t *m = group->members[i];
        if (!m->join_waiter) continue;
        gr_group_join_waiter_t *w = m->join_waiter;
        m->join_waiter = NULL;
        m->is_new = false;
        touch(m, m->session_timeout_ms);
        gr_group_join_result_t res;
        fill_join_result(group, m, &res);
        w->done(w, &res);
    }
}

/* Kafka's onExpirePendingSync: members of this generation that have not
 * sent SyncGroup within the rebalance timeout are removed, and the group
 * rebalances. */
static void sync_timer_fired(gr_timer_t *t)
{
    gr_group_t *group = (gr_group_t *)((char *)t - offsetof(gr_group_t, sync_timer));
    if (group->generation != group->sync_generation ||
        (group->state != GR_GROUP_COMPLETING_REBALANCE && group->state != GR_GROUP_STABLE))
        return;
    int removed = 0;
    for (int i = group->nmembers - 1; i >= 0; i--) {
        gr_group_member_t *m = group->members[i];
        if (!m->pending_sync) continue;
        gr_info("group %s: member %s did not sync within the rebalance timeout", group->id, m->member_id);
        remove_member(group, m, GR_KERR_UNKNOWN_MEMBER_ID);
        removed++;
    }
    if (removed) prepare_rebalance(group, "members did not sync within the rebalance timeout");
}

static void remove_member_and_update(gr_group_t *group, gr_group_member_t *m, const char *reason)
{
    gr_info("group %s: member %s removed: %s", group->id, m->member_id, reason);
    remove_member(group, m, GR_KERR_UNKNOWN_MEMBER_ID);
    switch (group->state) {
    case GR_GROUP_STABLE:
    case GR_GROUP_COMPLETING_REBALANCE: maybe_prepare_rebalance(group, reason); break;
    case GR_GROUP_PREPARING_REBALANCE: try_complete_join(group); break;
    default: break;
    }
}

static void remove_pending(gr_group_t *group, gr_group_member_t *m)
{
    array_remove(group->pending, &group->npending, m);
    member_free(m, GR_KERR_UNKNOWN_MEMBER_ID);
    try_complete_join(group);
}

static void session_expired(gr_timer_t *t)
{
    gr_group_member_t *m = (gr_group_member_t *)((char *)t - offsetof(gr_group_member_t, session_timer));
    gr_group_t *group = m->group;
    if (m->pending) {
        remove_pending(group, m);
        return;
    }
    /* A member parked in a join or sync is alive by definition (Kafka's
     * hasSatisfiedHeartbeat), except a new member that never completes its
     * first join. */
    if ((m->join_waiter && !m->is_new) || m->sync_waiter) {
        touch(m, m->session_timeout_ms);
        return;
    }
    remove_member_and_update(group, m, "session timeout expired");
}

/* --- join --- */

static void add_member_and_rebalance(gr_group_t *group, char *member_id, const gr_group_join_args_t *a,
                                     gr_group_join_waiter_t *w)
{
    gr_group_member_t *m = member_new(group, member_id, a->instance_id, a->client_id, a->client_host,
                                      a->session_timeout_ms, a->rebalance_timeout_ms);
    if (!m || set_protocols(m, a->nprotocols, a->protocol_names, a->protocol_metadata) < 0 ||
        array_push(&group->members, &group->nmembers, &group->members_cap, m) < 0) {
        if (m) member_free(m, GR_KERR_UNKNOWN_SERVER_ERROR);
        join_fail(w, GR_KERR_UNKNOWN_SERVER_ERROR, "");
        return;
    }
    if (group->nmembers == 1) {
        free(group->protocol_type);
        group->protocol_type = sdup(a->protocol_type);
    }
    if (!group->leader_id) set_leader(group, m->member_id);
    m->is_new = true;
    m->join_waiter = w;
    if (group->state == GR_GROUP_PREPARING_REBALANCE && group->generation == 0) group->new_member_added = true;
    touch(m, group->co->cfg.new_member_join_timeout_ms);
    gr_group_member_t *p = pending_member(group, gr_str(m->member_id));
    if (p) {
        array_remove(group->pending, &group->npending, p);
        member_free(p, GR_KERR_NONE);
    }
    maybe_prepare_rebalance(group, "adding a new member");
}

/* false when w was answered with an error (out of memory). */
static bool update_member(gr_group_member_t *m, const gr_group_join_args_t *a, gr_group_join_waiter_t *w)
{
    if (set_protocols(m, a->nprotocols, a->protocol_names, a->protocol_metadata) < 0) {
        join_fail(w, GR_KERR_UNKNOWN_SERVER_ERROR, m->member_id);
        return false;
    }
    m->rebalance_timeout_ms = a->rebalance_timeout_ms;
    m->session_timeout_ms = a->session_timeout_ms;
    if (m->join_waiter) {
        /* A retried join replaces the one still parked. */
        gr_group_join_waiter_t *old = m->join_waiter;
        m->join_waiter = NULL;
        join_fail(old, GR_KERR_REBALANCE_IN_PROGRESS, m->member_id);
    }
    m->join_waiter = w;
    return true;
}

static void update_member_and_rebalance(gr_group_t *group, gr_group_member_t *m, const gr_group_join_args_t *a,
                                        gr_group_join_waiter_t *w)
{
    if (update_member(m, a, w)) maybe_prepare_rebalance(group, "a member rejoined with new metadata or as leader");
}

static void respond_current(gr_group_t *group, gr_group_member_t *m, gr_group_join_waiter_t *w, bool skip)
{
    gr_group_join_result_t res;
    fill_join_result(group, m, &res);
    res.skip_assignment = skip;
    w->done(w, &res);
}

static void static_join(gr_group_t *group, char *new_id, const gr_group_join_args_t *a, gr_group_join_waiter_t *w)
{
    gr_group_member_t *m = gr_group_static_member(group, a->instance_id);
    if (!m) {
        add_member_and_rebalance(group, new_id, a, w);
        return;
    }
    /* KIP-345: the instance is back with a new member id; the old id is
     * fenced, anything it had parked is told so. */
    gr_info("group %s: static member %.*s rejoined: %s replaces %s", group->id, (int)a->instance_id.len,
            a->instance_id.ptr, new_id, m->member_id);
    fail_parked_requests(m, GR_KERR_FENCED_INSTANCE_ID);
    bool was_leader = group->leader_id && !strcmp(group->leader_id, m->member_id);
    /* The leader id before the replacement (pre-v9 answers name it). */
    char *old_leader = group->leader_id ? strdup(group->leader_id) : NULL;
    free(m->member_id);
    m->member_id = new_id;
    if (was_leader) set_leader(group, new_id);
    touch(m, a->session_timeout_ms);
    switch (group->state) {
    case GR_GROUP_STABLE: {
        const char *before = group->protocol_name;
        if (!update_member(m, a, w)) break;
        const char *next = select_protocol(group);
        if (before && next && !strcmp(before, next)) {
            /* As Kafka (updateStaticMemberAndRebalance): as long as the
             * group's protocol stays, no rebalance, even with changed
             * metadata; the new member id is persisted and the member gets
             * the current generation.  From JoinGroup v9 the leader is told
             * it leads but must skip the assignment (KIP-814); before v9
             * the answer names the previous leader id, so a rejoining
             * leader does not assign (the Stable group would ignore it). */
            m->join_waiter = NULL;
            int rc = gr_coordinator_store_group(group->co, group, false);
            if (rc < 0) {
                free(old_leader);
                join_fail(w, gr_error_to_kafka(rc), "");
                return;
            }
            if (a->support_skip_assignment) {
                respond_current(group, m, w, was_leader);
            } else {
                gr_group_join_result_t res;
                fill_join_result(group, m, &res);
                res.leader_id = old_leader ? old_leader : "";
                res.nmembers = 0;
                res.members = NULL;
                w->done(w, &res);
            }
        } else {
            maybe_prepare_rebalance(group, "a static member rejoined with changed metadata");
        }
        break;
    }
    case GR_GROUP_COMPLETING_REBALANCE:
        /* The leader may already be assigning to the old id. */
        if (update_member(m, a, w)) prepare_rebalance(group, "a static member rejoined during the sync");
        break;
    default: (void)update_member(m, a, w); break;
    }
    free(old_leader);
}

static bool accept_joining_member(gr_group_t *group, gr_str_t member_id)
{
    int32_t max = group->co->cfg.max_size;
    gr_group_member_t *m = member_id.len > 0 ? gr_group_member(group, member_id) : NULL;
    switch (group->state) {
    case GR_GROUP_EMPTY:
    case GR_GROUP_DEAD: return true;
    case GR_GROUP_PREPARING_REBALANCE: return (m && m->join_waiter) || num_awaiting_join(group) < max;
    default: return m || group->nmembers < max;
    }
}

void gr_group_join(gr_group_t *group, const gr_group_join_args_t *a, gr_group_join_waiter_t *w)
{
    if (group->state == GR_GROUP_DEAD) {
        join_fail(w, GR_KERR_COORDINATOR_NOT_AVAILABLE, "");
        return;
    }
    if (!accept_joining_member(group, a->member_id)) {
        gr_group_member_t *m = a->member_id.len > 0 ? gr_group_member(group, a->member_id) : NULL;
        gr_warn("group %s: group.max.size %d reached", group->id, group->co->cfg.max_size);
        if (m) remove_member_and_update(group, m, "group.max.size reached");
        /* Kafka's group.remove drops a pending (KIP-394) member too, so it
         * no longer holds up the rebalance. */
        gr_group_member_t *p = a->member_id.len > 0 ? pending_member(group, a->member_id) : NULL;
        join_fail(w, GR_KERR_GROUP_MAX_SIZE_REACHED, "");
        if (p) remove_pending(group, p);
        return;
    }
    if (!supports_protocols(group, a)) {
        join_fail(w, GR_KERR_INCONSISTENT_GROUP_PROTOCOL, "");
        return;
    }
    if (a->member_id.len <= 0) {
        char *id = gr_coordinator_member_id(group->co, a->client_id);
        if (!id) {
            join_fail(w, GR_KERR_UNKNOWN_SERVER_ERROR, "");
            return;
        }
        if (a->instance_id.len >= 0) {
            static_join(group, id, a, w);
        } else if (a->require_known_member_id) {
            /* KIP-394: hand out the id and remember it until it joins. */
            gr_group_member_t *p = member_new(group, id, GR_STR_NULL, a->client_id, a->client_host,
                                              a->session_timeout_ms, a->rebalance_timeout_ms);
            if (!p || array_push(&group->pending, &group->npending, &group->pending_cap, p) < 0) {
                if (p) member_free(p, GR_KERR_NONE);
                join_fail(w, GR_KERR_UNKNOWN_SERVER_ERROR, "");
                return;
            }
            p->pending = true;
            touch(p, a->session_timeout_ms);
            join_fail(w, GR_KERR_MEMBER_ID_REQUIRED, p->member_id);
        } else {
            add_member_and_rebalance(group, id, a, w);
        }
        try_complete_join(group);
        return;
    }
    gr_group_member_t *p = pending_member(group, a->member_id);
    if (p) {
        if (a->instance_id.len >= 0) {
            join_fail(w, GR_KERR_UNKNOWN_MEMBER_ID, "");
            return;
        }
        char *id = sdup(a->member_id);
        if (!id) {
            join_fail(w, GR_KERR_UNKNOWN_SERVER_ERROR, "");
            return;
        }
        add_member_and_rebalance(group, id, a, w);
        try_complete_join(group);
        return;
    }
    gr_group_member_t *m;
    int16_t err = validate_current(group, a->member_id, a->instance_id, &m);
    if (err) {
        join_fail(w, err, "");
        return;
    }
    switch (group->state) {
    case GR_GROUP_PREPARING_REBALANCE: update_member_and_rebalance(group, m, a, w); break;
    case GR_GROUP_COMPLETING_REBALANCE:
        if (matches(m, a)) respond_current(group, m, w, false);  /* a retried join */
        else update_member_and_rebalance(group, m, a, w);
        break;
    case GR_GROUP_STABLE:
        if ((group->leader_id && !strcmp(group->leader_id, m->member_id)) || !matches(m, a))
            update_member_and_rebalance(group, m, a, w);
        else
            respond_current(group, m, w, false);
        break;
    default: join_fail(w, GR_KERR_UNKNOWN_MEMBER_ID, m->member_id); return;
    }
    try_complete_join(group);
}

/* --- sync --- */

static int cmp_id_only(const void *pa, const void *pb)
{
    const gr_str_t *a = *(const gr_str_t *const *)pa, *b = *(const gr_str_t *const *)pb;
    int32_t la = a->len > 0 ? a->len : 0, lb = b->len > 0 ? b->len : 0;
    if (la != lb) return la < lb ? -1 : 1;
    return la ? memcmp(a->ptr, b->ptr, (size_t)la) : 0;
}

/* By id, then by position in the request (the last of equal ids wins). */
static int cmp_assign_id(const void *pa, const void *pb)
{
    int c = cmp_id_only(pa, pb);
    if (c) return c;
    const gr_str_t *a = *(const gr_str_t *const *)pa, *b = *(const gr_str_t *const *)pb;
    return a < b ? -1 : a > b;
}

void gr_group_sync(gr_group_t *group, gr_str_t member_id, gr_str_t instance_id, int32_t generation,
                   gr_str_t protocol_type, gr_str_t protocol_name, int nassign, const gr_str_t *assign_ids,
                   const gr_bytes_t *assignments, gr_group_sync_waiter_t *w)
{
    int16_t err = GR_KERR_NONE;
    gr_group_member_t *m = NULL;
    if (group->state == GR_GROUP_DEAD) err = GR_KERR_COORDINATOR_NOT_AVAILABLE;
    else if ((err = validate_current(group, member_id, instance_id, &m))) {}
    else if (generation != group->generation) err = GR_KERR_ILLEGAL_GENERATION;
    else if ((protocol_type.len >= 0 && !seq(group->protocol_type, protocol_type)) ||
             (protocol_name.len >= 0 && !seq(group->protocol_name, protocol_name)))
        err = GR_KERR_INCONSISTENT_GROUP_PROTOCOL;
    else if (group->state == GR_GROUP_EMPTY) err = GR_KERR_UNKNOWN_MEMBER_ID;
    else if (group->state == GR_GROUP_PREPARING_REBALANCE) err = GR_KERR_REBALANCE_IN_PROGRESS;
    if (err) {
        w->done(w, err, NULL, NULL, NULL, 0);
        return;
    }
    touch(m, m->session_timeout_ms);
    m->pending_sync = false;
    if (group->state == GR_GROUP_STABLE) {
        w->done(w, GR_KERR_NONE, group->protocol_type, group->protocol_name, m->assignment, m->assignment_len);
        return;
    }
    /* CompletingRebalance: park until the leader's assignment arrives. */
    if (m->sync_waiter) {
        gr_group_sync_waiter_t *old = m->sync_waiter;
        old->done(old, GR_KERR_REBALANCE_IN_PROGRESS, NULL, NULL, NULL, 0);
    }
    m->sync_waiter = w;
    if (!group->leader_id || strcmp(group->leader_id, m->member_id)) return;
    /* The leader's assignments, sorted by member id so that each member's
     * is found in O(log n) (a request may carry many); ids that are not
     * members are ignored and members without one get an empty assignment
     * (Kafka); for a repeated id the last one counts (Kafka's map). */
    const gr_str_t **sorted = nassign > 0 ? malloc((size_t)nassign * sizeof *sorted) : NULL;
    if (nassign > 0 && !sorted) {
        m->sync_waiter = NULL;
        w->done(w, GR_KERR_UNKNOWN_SERVER_ERROR, NULL, NULL, NULL, 0);
        return;
    }
    for (int j = 0; j < nassign; j++) sorted[j] = &assign_ids[j];
    if (nassign > 1) qsort(sorted, (size_t)nassign, sizeof *sorted, cmp_assign_id);
    for (int i = 0; i < group->nmembers; i++) {
        gr_group_member_t *x = group->members[i];
        const gr_bytes_t *a = NULL;
        gr_str_t key = gr_str(x->member_id);
        const gr_str_t *kp = &key;
        const gr_str_t **hit = nassign > 0 ? bsearch(&kp, sorted, (size_t)nassign, sizeof *sorted, cmp_id_only) : NULL;
        if (hit) {
            while (hit + 1 < sorted + nassign && !cmp_id_only(hit, hit + 1)) hit++;
            a = &assignments[*hit - assign_ids];
        }
        uint8_t *copy = NULL;
        int32_t len = a && a->len > 0 ? a->len : 0;
        if (len && (copy = malloc((size_t)len))) memcpy(copy, a->ptr, (size_t)len);
        free(x->assignment);
        x->assignment = copy;
        x->assignment_len = copy ? len : 0;
    }
    free(sorted);
    int rc = gr_coordinator_store_group(group->co, group, false);
    if (rc < 0) {
        gr_warn("group %s: storing generation %d failed: %s", group->id, group->generation, gr_strerror(rc));
        reset_and_propagate_assignment_error(group, GR_KERR_COORDINATOR_NOT_AVAILABLE);
        maybe_prepare_rebalance(group, "storing the assignment failed");
        return;
    }
    transition(group, GR_GROUP_STABLE);
    for (int i = 0; i < group->nmembers; i++) {
        gr_group_member_t *x = group->members[i];
        if (!x->sync_waiter) continue;
        gr_group_sync_waiter_t *sw = x->sync_waiter;
        x->sync_waiter = NULL;
        touch(x, x->session_timeout_ms);
        sw->done(sw, GR_KERR_NONE, group->protocol_type, group->protocol_name, x->assignment, x->assignment_len);
    }
}

/* --- heartbeat, leave, commit --- */

int16_t gr_group_heartbeat(gr_group_t *group, gr_str_t member_id, gr_str_t instance_id, int32_t generation)
{
    /* Kafka's handleHeartbeat: member, then generation, then the state:
     * NONE in Stable and CompletingRebalance (a member may heartbeat
     * between its join and sync answers), REBALANCE_IN_PROGRESS while
     * preparing; the session timer is reset in all three. */
    if (group->state == GR_GROUP_DEAD) return GR_KERR_COORDINATOR_NOT_AVAILABLE;
    gr_group_member_t *m;
    int16_t err = validate_current(group, member_id, instance_id, &m);
    if (err) return err;
    if (generation != group->generation) return GR_KERR_ILLEGAL_GENERATION;
    if (group->state == GR_GROUP_EMPTY) return GR_KERR_UNKNOWN_MEMBER_ID;
    touch(m, m->session_timeout_ms);
    return group->state == GR_GROUP_PREPARING_REBALANCE ? GR_KERR_REBALANCE_IN_PROGRESS : GR_KERR_NONE;
}

int16_t gr_group_leave(gr_group_t *group, gr_str_t member_id, gr_str_t instance_id)
{
    if (group->state == GR_GROUP_DEAD) return GR_KERR_COORDINATOR_NOT_AVAILABLE;
    gr_group_member_t *m;
    if (member_id.len <= 0 && instance_id.len >= 0) {
        if (!(m = gr_group_static_member(group, instance_id))) return GR_KERR_UNKNOWN_MEMBER_ID;
    } else if ((m = pending_member(group, member_id))) {
        remove_pending(group, m);
        return GR_KERR_NONE;
    } else {
        int16_t err = validate_current(group, member_id, instance_id, &m);
        if (err) return err;
    }
    remove_member_and_update(group, m, "left the group");
    return GR_KERR_NONE;
}

int16_t gr_group_commit_check(gr_group_t *group, gr_str_t member_id, gr_str_t instance_id, int32_t generation)
{
    /* Kafka's validateOffsetCommit, then the state (doCommitOffsets). */
    if (group->state == GR_GROUP_DEAD) return GR_KERR_COORDINATOR_NOT_AVAILABLE;
    /* A standalone consumer (or an admin resetting offsets) only uses the
     * group to store offsets. */
    if (generation < 0 && group->state == GR_GROUP_EMPTY) return GR_KERR_NONE;
    /* Generation -1 with no member id and no instance id into a group with
     * members: only members may commit (UNKNOWN_MEMBER_ID); otherwise the
     * member, then the generation, are checked. */
    gr_group_member_t *m;
    int16_t err = validate_current(group, member_id, instance_id, &m);
    if (err) return err;
    if (generation != group->generation) return GR_KERR_ILLEGAL_GENERATION;
    /* The member knows the new generation from its join answer but has no
     * assignment yet. */
    if (group->state == GR_GROUP_COMPLETING_REBALANCE) return GR_KERR_REBALANCE_IN_PROGRESS;
    touch(m, m->session_timeout_ms);
    return GR_KERR_NONE;
}

bool gr_group_subscriptions_known(gr_group_t *group)
{
    if (group->state == GR_GROUP_EMPTY || group->state == GR_GROUP_DEAD || !group->protocol_type ||
        strcmp(group->protocol_type, "consumer") || !group->nmembers)
        return false;
    gr_arena_t arena;
    gr_arena_init(&arena);
    bool ok = true;
    for (int i = 0; i < group->nmembers && ok; i++) {
        gr_group_member_t *m = group->members[i];
        const gr_group_protocol_t *p = group->protocol_name ? member_protocol(m, group->protocol_name) : NULL;
        if (!p && m->nprotocols) p = &m->protocols[0];
        gr_reader_t r;
        gr_ConsumerProtocolSubscription sub;
        if (!p || p->len < 2) {
            ok = false;
            break;
        }
        gr_reader_init(&r, p->metadata, (size_t)p->len);
        int16_t version = gr_read_i16(&r);
        ok = version >= 0 && gr_ConsumerProtocolSubscription_decode(&r, &arena, version > 3 ? 3 : version, &sub) >= 0;
    }
    gr_arena_destroy(&arena);
    return ok;
}

bool gr_group_subscribed_to(gr_group_t *group, const char *topic, size_t len)
{
    if (group->state == GR_GROUP_EMPTY || group->state == GR_GROUP_DEAD || !group->protocol_type ||
        strcmp(group->protocol_type, "consumer"))
        return false;
    gr_arena_t arena;
    gr_arena_init(&arena);
    bool found = false;
    for (int i = 0; i < group->nmembers && !found; i++) {
        gr_group_member_t *m = group->members[i];
        const gr_group_protocol_t *p = group->protocol_name ? member_protocol(m, group->protocol_name) : NULL;
        if (!p && m->nprotocols) p = &m->protocols[0];
        if (!p || p->len < 2) continue;
        gr_reader_t r;
        gr_reader_init(&r, p->metadata, (size_t)p->len);
        int16_t version = gr_read_i16(&r);
        gr_ConsumerProtocolSubscription sub;
        if (gr_ConsumerProtocolSubscription_decode(&r, &arena, version > 3 ? 3 : version, &sub) < 0) continue;
        for (int32_t t = 0; t < sub.Topics_count; t++)
            if (sub.Topics[t].len >= 0 && (size_t)sub.Topics[t].len == len && !memcmp(sub.Topics[t].ptr, topic, len))
                found = true;
    }
    gr_arena_destroy(&arena);
    return found;
}

/* --- lifecycle and loading --- */

gr_group_t *gr_group_new(gr_coordinator_t *co, const char *id, size_t len, int32_t partition)
{
    gr_group_t *group = calloc(1, sizeof *group);
    if (!group || !(group->id = malloc(len + 1))) {
        free(group);
        return NULL;
    }
    memcpy(group->id, id, len);
    group->id[len] = 0;
    group->co = co;
    group->partition = partition;
    group->state = GR_GROUP_EMPTY;
    group->state_ts = gr_wall_ms();
    gr_timer_init(&group->rebalance_timer, rebalance_timer_fired);
    gr_timer_init(&group->sync_timer, sync_timer_fired);
    gr_offsets_init(&group->offsets);
    return group;
}

void gr_group_clear_members(gr_group_t *group)
{
    while (group->nmembers) {
        gr_group_member_t *m = group->members[--group->nmembers];
        member_free(m, GR_KERR_COORDINATOR_NOT_AVAILABLE);
    }
    set_leader(group, NULL);
}

void gr_group_free(gr_group_t *group, int16_t error)
{
    if (!group) return;
    group->state = GR_GROUP_DEAD;
    gr_loop_timer_cancel(group->co->loop, &group->rebalance_timer);
    gr_loop_timer_cancel(group->co->loop, &group->sync_timer);
    while (group->nmembers) member_free(group->members[--group->nmembers], error);
    while (group->npending) member_free(group->pending[--group->npending], error);
    free(group->members);
    free(group->pending);
    pcount_free(group);
    gr_offsets_free(&group->offsets);
    free(group->protocol_type);
    free(group->protocol_name);
    free(group->leader_id);
    free(group->id);
    free(group);
}

gr_group_member_t *gr_group_restore_member(gr_group_t *group, gr_str_t member_id, gr_str_t instance_id,
                                           gr_str_t client_id, gr_str_t client_host, int32_t session_timeout_ms,
                                           int32_t rebalance_timeout_ms, gr_str_t protocol,
                                           gr_bytes_t subscription, gr_bytes_t assignment)
{
    char *host = sdup(client_host.len >= 0 ? client_host : (gr_str_t){"", 0});
    gr_group_member_t *m = member_new(group, sdup(member_id), instance_id, client_id, host ? host : "",
                                      session_timeout_ms, rebalance_timeout_ms);
    free(host);
    if (!m) return NULL;
    gr_str_t name = protocol.len >= 0 ? protocol : (gr_str_t){"", 0};
    if (set_protocols(m, 1, &name, &subscription) < 0 ||
        array_push(&group->members, &group->nmembers, &group->members_cap, m) < 0) {
        member_free(m, GR_KERR_NONE);
        return NULL;
    }
    if (assignment.len > 0 && (m->assignment = malloc((size_t)assignment.len))) {
        memcpy(m->assignment, assignment.ptr, (size_t)assignment.len);
        m->assignment_len = assignment.len;
    }
    return m;
}

void gr_group_loaded(gr_group_t *group)
{
    if (group->nmembers) {
        group->state = GR_GROUP_STABLE;
        for (int i = 0; i < group->nmembers; i++) touch(group->members[i], group->members[i]->session_timeout_ms);
    } else {
        group->state = GR_GROUP_EMPTY;
    }
}
