"""Producer for test_06: sends keyed records (acks=all) as fast as it can and
appends "partition offset key" for every record whose delivery report is OK,
flushing the file after each line. Runs until killed.

usage: durable_producer.py BOOTSTRAP TOPIC ACKED_FILE"""

import sys

from confluent_kafka import Producer


def value_for(key):
    # Deterministic from the key, so any record read back can be checked.
    return key * 3 + b"|" + bytes(range(256))[: (len(key) * 37) % 200]


def main():
    bootstrap, topic, path = sys.argv[1:4]
    out = open(path, "ab", buffering=0)
    p = Producer({
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "linger.ms": 2,
        "batch.num.messages": 200,
        "message.timeout.ms": 300000,
        "queue.buffering.max.messages": 100000,
    })

    def on_delivery(err, msg):
        if err is None:
            out.write(b"%d %d %s\n" % (msg.partition(), msg.offset(), msg.key()))

    i = 0
    while True:
        key = b"dk-%09d" % i
        try:
            p.produce(topic, key=key, value=value_for(key), on_delivery=on_delivery)
            i += 1
        except BufferError:
            p.poll(0.05)
            continue
        if i % 100 == 0:
            p.poll(0)


if __name__ == "__main__":
    main()
