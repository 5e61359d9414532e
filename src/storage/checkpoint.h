/* Kafka's offset checkpoint files (recovery-point-offset-checkpoint,
 * replication-offset-checkpoint, log-start-offset-checkpoint):
 *
 *   0                 version
 *   2                 entry count
 *   topic 0 1234      one line per partition: topic partition offset
 *   topic 1 99
 *
 * Written to a temporary file, fsynced, renamed over the old one and the
 * directory fsynced, so a crash leaves the old or the new file. */
#ifndef GR_CHECKPOINT_H
#define GR_CHECKPOINT_H

#include <stdint.h>

typedef struct gr_checkpoint_entry {
    char *topic;            /* owned by the array returned by _read */
    int32_t partition;
    int64_t offset;
} gr_checkpoint_entry_t;

int gr_checkpoint_write(const char *path, const gr_checkpoint_entry_t *entries, int n);
/* Reads all entries (malloc'd array and strings; free with _free).  A missing
 * file is 0 entries; a malformed one is GR_ECORRUPT. */
int gr_checkpoint_read(const char *path, gr_checkpoint_entry_t **entries, int *n);
void gr_checkpoint_free(gr_checkpoint_entry_t *entries, int n);

#endif
