/* One consumer group: Kafka's classic membership state machine
 * (GroupMetadata.scala / GroupCoordinator.scala @2.8, KIP-345 static
 * members, KIP-394 member ids, KIP-814 skip assignment).  The diagram is in
 * src/group/README.md.
 *
 * The state machine knows nothing of connections: a JoinGroup or SyncGroup
 * that must wait leaves a waiter (a callback the API layer embeds in its
 * request state) on the member, and the group calls it once, with the
 * result, when the rebalance gets there.  Waiters are called synchronously
 * and must copy what they need; they must not call back into the group.
 *
 * Loop thread only. */
#ifndef GR_GROUP_H
#define GR_GROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "group/offsets.h"
#include "net/loop.h"
#include "protocol/prim.h"

typedef struct gr_coordinator gr_coordinator_t;

typedef enum gr_group_state {
    GR_GROUP_EMPTY,
    GR_GROUP_PREPARING_REBALANCE,
    GR_GROUP_COMPLETING_REBALANCE,
    GR_GROUP_STABLE,
    GR_GROUP_DEAD,
} gr_group_state_t;

/* Bounds on what one member may make the broker keep. */
#define GR_GROUP_MAX_PROTOCOLS 64
#define GR_GROUP_MAX_METADATA_BYTES (1 << 20)
#define GR_GROUP_MAX_ID_BYTES 4096

typedef struct gr_group_protocol {
    char *name;
    uint8_t *metadata;
    int32_t len;
} gr_group_protocol_t;

typedef struct gr_group_join_result {
    int16_t error;
    int32_t generation;
    const char *member_id;
    const char *leader_id;          /* "" when none */
    const char *protocol_type;      /* NULL = none */
    const char *protocol_name;      /* NULL = none */
    bool skip_assignment;           /* KIP-814: a static leader rejoined */
    int nmembers;                   /* the leader's view; 0 for followers */
    struct gr_group_member *const *members;
} gr_group_join_result_t;

typedef struct gr_group_join_waiter {
    void (*done)(struct gr_group_join_waiter *w, const gr_group_join_result_t *res);
} gr_group_join_waiter_t;

typedef struct gr_group_sync_waiter {
    void (*done)(struct gr_group_sync_waiter *w, int16_t error, const char *protocol_type,
                 const char *protocol_name, const uint8_t *assignment, int32_t len);
} gr_group_sync_waiter_t;

typedef struct gr_group_proto_count {
    char *name;                     /* NULL: a free slot */
    int32_t count;                  /* 0: kept until the table is rebuilt */
} gr_group_proto_count_t;

typedef struct gr_group_member {
    struct gr_group *group;
    char *member_id;
    char *instance_id;              /* NULL: dynamic member */
    char *client_id;
    char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    gr_group_protocol_t *protocols;
    int nprotocols;
    uint8_t *assignment;
    int32_t assignment_len;
    gr_group_join_waiter_t *join_waiter;
    gr_group_sync_waiter_t *sync_waiter;
    bool is_new;                    /* joined, not yet through a rebalance */
    bool pending;                   /* KIP-394: got its id, has not joined */
    bool pending_sync;              /* in this generation, has not sent SyncGroup yet */
    gr_timer_t session_timer;
} gr_group_member_t;

typedef struct gr_group {
    gr_coordinator_t *co;
    struct gr_group *hnext;         /* coordinator's hash chain */
    char *id;
    int32_t partition;              /* of __consumer_offsets */
    gr_group_state_t state;
    int64_t state_ts;               /* wall ms of the last state change */
    int32_t generation;
    char *protocol_type;            /* NULL until a member joins */
    char *protocol_name;            /* NULL unless a generation chose one */
    char *leader_id;                /* NULL when no leader */
    gr_group_member_t **members;
    int nmembers, members_cap;
    gr_group_member_t **pending;    /* KIP-394 pending members */
    int npending, pending_cap;
    /* How many members support each protocol name (Kafka's
     * supportedProtocols): an open-addressing table, so that checking a
     * join against the group costs O(protocols), not O(members). */
    struct gr_group_proto_count *pcounts;
    uint32_t pcount_cap, pcount_used;
    /* The delayed join: an initial delay for a new group (InitialDelayedJoin),
     * then the rebalance timeout (DelayedJoin). */
    gr_timer_t rebalance_timer;
    bool initial_delay;
    bool new_member_added;
    int32_t delay_remaining_ms;
    /* Kafka 3.2+ (KAFKA-13766, DelayedSync): members that got a join answer
     * must send SyncGroup within the rebalance timeout, or are removed. */
    gr_timer_t sync_timer;
    int32_t sync_generation;
    gr_offsets_t offsets;
} gr_group_t;

const char *gr_group_state_name(gr_group_state_t s);
/* Case-insensitive, as ListGroups v4's filter; -1 if unknown. */
int gr_group_state_parse(gr_str_t s);

gr_group_t *gr_group_new(gr_coordinator_t *co, const char *id, size_t len, int32_t partition);
/* Fails every waiter with COORDINATOR_NOT_AVAILABLE (or `error`), cancels
 * timers, frees members and offsets. */
void gr_group_free(gr_group_t *group, int16_t error);

gr_group_member_t *gr_group_member(gr_group_t *group, gr_str_t member_id);
gr_group_member_t *gr_group_static_member(gr_group_t *group, gr_str_t instance_id);

typedef struct gr_group_join_args {
    gr_str_t member_id;
    gr_str_t instance_id;           /* len -1: none */
    gr_str_t client_id;
    const char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    gr_str_t protocol_type;
    int nprotocols;
    const gr_str_t *protocol_names;
    const gr_bytes_t *protocol_metadata;
    bool require_known_member_id;   /* JoinGroup v4+ */
    bool support_skip_assignment;   /* JoinGroup v9+ (KIP-814) */
} gr_group_join_args_t;

/* JoinGroup: validated args (session timeout range, protocol count and
 * metadata bounds are the coordinator's checks).  w->done is called now or
 * when the rebalance completes. */
void gr_group_join(gr_group_t *group, const gr_group_join_args_t *args, gr_group_join_waiter_t *w);

void gr_group_sync(gr_group_t *group, gr_str_t member_id, gr_str_t instance_id, int32_t generation,
                   gr_str_t protocol_type, gr_str_t protocol_name, int nassign, const gr_str_t *assign_ids,
                   const gr_bytes_t *assignments, gr_group_sync_waiter_t *w);

int16_t gr_group_heartbeat(gr_group_t *group, gr_str_t member_id, gr_str_t instance_id, int32_t generation);

/* One member of a LeaveGroup; the Kafka error for that member. */
int16_t gr_group_leave(gr_group_t *group, gr_str_t member_id, gr_str_t instance_id);

/* Whether a commit from (member, generation) may be stored; the Kafka
 * error otherwise.  Resets the member's session timer when it may. */
int16_t gr_group_commit_check(gr_group_t *group, gr_str_t member_id, gr_str_t instance_id, int32_t generation);

/* Whether every member's subscription parses as the consumer protocol's
 * (Kafka's subscribedTopics.isDefined); false unless a "consumer" group
 * with members. */
bool gr_group_subscriptions_known(gr_group_t *group);

/* Whether a member's subscription (consumer protocol) names the topic. */
bool gr_group_subscribed_to(gr_group_t *group, const char *topic, size_t len);

/* Restores a member read from __consumer_offsets (state set by the caller
 * with gr_group_loaded). */
gr_group_member_t *gr_group_restore_member(gr_group_t *group, gr_str_t member_id, gr_str_t instance_id,
                                           gr_str_t client_id, gr_str_t client_host, int32_t session_timeout_ms,
                                           int32_t rebalance_timeout_ms, gr_str_t protocol,
                                           gr_bytes_t subscription, gr_bytes_t assignment);
/* After loading: Stable with a fresh session timer per member, or Empty. */
void gr_group_loaded(gr_group_t *group);
/* Drops all members (loading a newer metadata record replaces them). */
void gr_group_clear_members(gr_group_t *group);

/* Tests and the coordinator: the current leader member, or NULL. */
gr_group_member_t *gr_group_leader(gr_group_t *group);

#endif
