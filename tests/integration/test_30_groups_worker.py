"""A group consumer run as a subprocess by the group tests (so it can be
killed with SIGKILL). Not a test module: pytest finds no tests here.

    python3 test_30_groups_worker.py BOOTSTRAP TOPIC GROUP CLIENT [key=value ...]

client is "confluent" or "kafka-python"; extra key=value pairs are client
config (confluent names). Prints, flushed, one line per event:
    M <partition> <offset>     a record was delivered
    C <partition> <offset>     its commit (offset+1) was acknowledged
    A <partitions...>          the assignment changed (confluent only)
SIGTERM closes the consumer cleanly (LeaveGroup unless static)."""

import signal
import sys


def main():
    bootstrap, topic, group, client = sys.argv[1:5]
    extra = dict(a.split("=", 1) for a in sys.argv[5:])
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))

    def out(line):
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    if client == "confluent":
        from confluent_kafka import Consumer, TopicPartition
        conf = {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 500}
        conf.update(extra)
        c = Consumer(conf)
        coop = conf.get("partition.assignment.strategy") == "cooperative-sticky"

        def on_assign(cons, parts):
            if coop:
                cons.incremental_assign(parts)
            else:
                cons.assign(parts)
            out("A " + " ".join(str(p.partition) for p in cons.assignment()))

        def on_revoke(cons, parts):
            if coop:
                cons.incremental_unassign(parts)
            else:
                cons.unassign()
            out("R " + " ".join(str(p.partition) for p in parts))

        c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
        while not stop:
            m = c.poll(0.2)
            if m is None or m.error() is not None:
                continue
            out("M %d %d" % (m.partition(), m.offset()))
            try:
                c.commit(offsets=[TopicPartition(topic, m.partition(), m.offset() + 1)], asynchronous=False)
                out("C %d %d" % (m.partition(), m.offset()))
            except Exception as e:  # a rebalance may fence the commit
                out("E %s" % e)
        c.close()
    else:
        from kafka import KafkaConsumer, TopicPartition, OffsetAndMetadata
        c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                          auto_offset_reset="earliest", session_timeout_ms=6000, heartbeat_interval_ms=500,
                          api_version=(2, 5, 0))
        while not stop:
            batch = c.poll(timeout_ms=200)
            for tp, msgs in batch.items():
                for m in msgs:
                    out("M %d %d" % (m.partition, m.offset))
                    try:
                        c.commit({TopicPartition(topic, m.partition): OffsetAndMetadata(m.offset + 1, "")})
                        out("C %d %d" % (m.partition, m.offset))
                    except Exception as e:
                        out("E %s" % e)
        c.close()
    out("CLOSED")


if __name__ == "__main__":
    main()
