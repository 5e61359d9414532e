"""Shared helpers for Gregor's integration tests.

- wait_until: bounded polling on a condition (never sleep-and-hope).
- crc32c: CRC-32C (Castagnoli), pure Python, slicing-by-8.
- Kafka wire encoding/decoding (Writer/Reader), request frames, a raw
  connection, and a magic-2 record batch builder.
- On-disk log validation (batch framing, magic, CRC32C, offset continuity).
- Small wrappers around confluent-kafka and kafka-python used by many tests.
"""

import os
import random
import re
import socket
import struct
import time
import uuid

# --------------------------------------------------------------------------
# Waiting


def wait_until(cond, timeout, what, interval=0.05):
    """Poll cond() until it returns a truthy value (returned) or fail after
    `timeout` seconds with a message naming `what`. Exceptions raised by
    cond count as "not yet"; the last one is reported on timeout."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - reported on timeout
            last_exc = e
        if time.monotonic() >= deadline:
            msg = "timed out after %.1fs waiting for %s" % (timeout, what)
            if last_exc is not None:
                msg += " (last error: %r)" % (last_exc,)
            raise AssertionError(msg)
        time.sleep(interval)


def unique_topic(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


# --------------------------------------------------------------------------
# CRC-32C (Castagnoli), reflected polynomial 0x82F63B78


def _crc_tables():
    t0 = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t0.append(c)
    tables = [t0]
    for _ in range(7):
        prev = tables[-1]
        tables.append([(prev[i] >> 8) ^ t0[prev[i] & 0xFF] for i in range(256)])
    return tables


_CRC_T = _crc_tables()


def crc32c(data, crc=0):
    t0, t1, t2, t3, t4, t5, t6, t7 = _CRC_T
    crc ^= 0xFFFFFFFF
    mv = memoryview(data)
    n8 = len(mv) - len(mv) % 8
    for lo, hi in struct.iter_unpack("<II", mv[:n8]):
        lo ^= crc
        crc = (t7[lo & 0xFF] ^ t6[(lo >> 8) & 0xFF] ^ t5[(lo >> 16) & 0xFF] ^ t4[lo >> 24]
               ^ t3[hi & 0xFF] ^ t2[(hi >> 8) & 0xFF] ^ t1[(hi >> 16) & 0xFF] ^ t0[hi >> 24])
    for b in mv[n8:]:
        crc = t0[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


# --------------------------------------------------------------------------
# Wire encoding


def zigzag(n):
    return (n << 1) ^ (n >> 63)


def uvarint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(n):
    return uvarint(zigzag(n) & 0xFFFFFFFFFFFFFFFF)


class Writer:
    def __init__(self):
        self.buf = bytearray()

    def raw(self, b):
        self.buf += b
        return self

    def i8(self, v):
        self.buf += struct.pack(">b", v)
        return self

    def bool(self, v):
        return self.i8(1 if v else 0)

    def i16(self, v):
        self.buf += struct.pack(">h", v)
        return self

    def i32(self, v):
        self.buf += struct.pack(">i", v)
        return self

    def u32(self, v):
        self.buf += struct.pack(">I", v)
        return self

    def i64(self, v):
        self.buf += struct.pack(">q", v)
        return self

    def string(self, s):
        """STRING / NULLABLE_STRING (i16 length, -1 = null)."""
        if s is None:
            return self.i16(-1)
        b = s.encode() if isinstance(s, str) else s
        self.i16(len(b))
        self.buf += b
        return self

    def bytes_(self, b):
        """BYTES / NULLABLE_BYTES (i32 length, -1 = null)."""
        if b is None:
            return self.i32(-1)
        self.i32(len(b))
        self.buf += b
        return self

    def array(self, items, fn):
        if items is None:
            return self.i32(-1)
        self.i32(len(items))
        for it in items:
            fn(self, it)
        return self

    # flexible-version forms
    def uvarint(self, n):
        self.buf += uvarint(n)
        return self

    def compact_string(self, s):
        if s is None:
            return self.uvarint(0)
        b = s.encode() if isinstance(s, str) else s
        self.uvarint(len(b) + 1)
        self.buf += b
        return self

    def compact_array(self, items, fn):
        if items is None:
            return self.uvarint(0)
        self.uvarint(len(items) + 1)
        for it in items:
            fn(self, it)
        return self

    def tags(self):
        return self.uvarint(0)

    def uuid(self, u):
        self.buf += (u if isinstance(u, bytes) else u.bytes)
        return self

    def bytes(self):
        return bytes(self.buf)


class Reader:
    def __init__(self, data, pos=0):
        self.data = bytes(data)
        self.pos = pos

    def _take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("short read: need %d bytes at %d of %d" % (n, self.pos, len(self.data)))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def i8(self):
        return struct.unpack(">b", self._take(1))[0]

    def bool(self):
        return self.i8() != 0

    def i16(self):
        return struct.unpack(">h", self._take(2))[0]

    def i32(self):
        return struct.unpack(">i", self._take(4))[0]

    def u32(self):
        return struct.unpack(">I", self._take(4))[0]

    def i64(self):
        return struct.unpack(">q", self._take(8))[0]

    def string(self):
        n = self.i16()
        return None if n < 0 else self._take(n).decode()

    def bytes_(self):
        n = self.i32()
        return None if n < 0 else self._take(n)

    def array(self, fn):
        n = self.i32()
        if n < 0:
            return None
        return [fn(self) for _ in range(n)]

    def uvarint(self):
        shift = 0
        result = 0
        while True:
            b = self._take(1)[0]
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def varint(self):
        u = self.uvarint()
        return (u >> 1) ^ -(u & 1)

    def compact_string(self):
        n = self.uvarint()
        return None if n == 0 else self._take(n - 1).decode()

    def compact_array(self, fn):
        n = self.uvarint()
        if n == 0:
            return None
        return [fn(self) for _ in range(n - 1)]

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self._take(self.uvarint())

    def uuid(self):
        return uuid.UUID(bytes=self._take(16))

    def remaining(self):
        return len(self.data) - self.pos


# API keys
PRODUCE, FETCH, LIST_OFFSETS, METADATA = 0, 1, 2, 3
API_VERSIONS, CREATE_TOPICS, DELETE_TOPICS, DELETE_RECORDS = 18, 19, 20, 21

# Error codes used by tests
NONE = 0
OFFSET_OUT_OF_RANGE = 1
CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
MESSAGE_TOO_LARGE = 10
INVALID_TOPIC_EXCEPTION = 17
UNSUPPORTED_VERSION = 35
TOPIC_ALREADY_EXISTS = 36


def request_frame(api_key, version, corr, body, client_id="gregor-it", flexible=False):
    """A size-prefixed request: header v1 (v2 when flexible) + body."""
    w = Writer().i16(api_key).i16(version).i32(corr).string(client_id)
    if flexible:
        w.tags()
    payload = w.bytes() + body
    return struct.pack(">i", len(payload)) + payload


def parse_host_port(bootstrap):
    host, port = bootstrap.rsplit(":", 1)
    return host, int(port)


class RawConn:
    """One TCP connection speaking hand-built Kafka frames."""

    def __init__(self, bootstrap, timeout=10.0):
        self.sock = socket.create_connection(parse_host_port(bootstrap), timeout=timeout)
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.corr = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed by broker after %d of %d bytes" % (len(buf), n))
            buf += chunk
        return bytes(buf)

    def recv_frame(self):
        (n,) = struct.unpack(">i", self._recv_exact(4))
        return self._recv_exact(n)

    def request(self, api_key, version, body, flexible=False, flexible_response=None):
        """Send a request and return a Reader positioned after the response
        header. The correlation id is checked."""
        self.corr += 1
        corr = self.corr
        self.send_raw(request_frame(api_key, version, corr, body, flexible=flexible))
        r = Reader(self.recv_frame())
        got = r.i32()
        assert got == corr, "correlation id %d != %d" % (got, corr)
        if flexible_response is None:
            flexible_response = flexible and api_key != API_VERSIONS
        if flexible_response:
            r.tags()
        return r

    def wait_closed(self, timeout=5.0):
        """True once the broker has closed the connection (EOF or reset),
        False if it is still open after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not chunk:
                return True


# --------------------------------------------------------------------------
# Requests and responses (non-flexible versions unless noted)


def api_versions_v0_body():
    return b""


def decode_api_versions_v0(r):
    err = r.i16()
    keys = r.array(lambda r: (r.i16(), r.i16(), r.i16()))
    return err, {k: (lo, hi) for k, lo, hi in keys or []}


def metadata_v1_body(topics):
    return Writer().array(topics, Writer.string).bytes()


def decode_metadata_v1(r):
    brokers = r.array(lambda r: (r.i32(), r.string(), r.i32(), r.string()))
    controller = r.i32()

    def part(r):
        return {"error": r.i16(), "partition": r.i32(), "leader": r.i32(),
                "replicas": r.array(Reader.i32), "isr": r.array(Reader.i32)}

    def topic(r):
        return {"error": r.i16(), "name": r.string(), "internal": r.bool(), "partitions": r.array(part)}

    topics = r.array(topic)
    return {"brokers": brokers, "controller": controller, "topics": {t["name"]: t for t in topics}}


def metadata_flexible_body(version, topics):
    """Metadata v10..12 request (flexible) by topic name."""
    w = Writer()

    def topic(w, name):
        w.uuid(b"\0" * 16).compact_string(name).tags()

    w.compact_array(topics, topic)
    w.bool(False)  # allow_auto_topic_creation
    if version <= 10:
        w.bool(False)  # include_cluster_authorized_operations
    w.bool(False)  # include_topic_authorized_operations
    w.tags()
    return w.bytes()


def decode_metadata_flexible(r, version):
    r.i32()  # throttle

    def broker(r):
        b = (r.i32(), r.compact_string(), r.i32(), r.compact_string())
        r.tags()
        return b

    brokers = r.compact_array(broker)
    r.compact_string()  # cluster id
    controller = r.i32()

    def part(r):
        p = {"error": r.i16(), "partition": r.i32(), "leader": r.i32(), "leader_epoch": r.i32(),
             "replicas": r.compact_array(Reader.i32), "isr": r.compact_array(Reader.i32),
             "offline": r.compact_array(Reader.i32)}
        r.tags()
        return p

    def topic(r):
        t = {"error": r.i16(), "name": r.compact_string(), "topic_id": r.uuid(), "internal": r.bool(),
             "partitions": r.compact_array(part)}
        r.i32()  # topic authorized operations
        r.tags()
        return t

    topics = r.compact_array(topic)
    if version <= 10:
        r.i32()
    r.tags()
    return {"brokers": brokers, "controller": controller, "topics": {t["name"]: t for t in topics}}


def produce_v3_body(topic, partition, records, acks=1, timeout_ms=10000):
    w = Writer().string(None).i16(acks).i32(timeout_ms)
    w.array([topic], lambda w, t: w.string(t).array(
        [partition], lambda w, p: w.i32(p).bytes_(records)))
    return w.bytes()


def decode_produce_v3(r):
    """-> {(topic, partition): (error, base_offset, log_append_time)}"""
    out = {}

    def topic(r):
        name = r.string()

        def part(r):
            p, err, base, lat = r.i32(), r.i16(), r.i64(), r.i64()
            out[(name, p)] = (err, base, lat)

        r.array(part)

    r.array(topic)
    r.i32()  # throttle
    return out


def create_topics_body(version, name, partitions=1, replication=1, configs=None, timeout_ms=10000,
                       validate_only=False):
    """CreateTopics v0..4 (non-flexible) request body for one topic."""
    assert 0 <= version <= 4
    w = Writer()

    def topic(w, n):
        w.string(n).i32(partitions).i16(replication)
        w.array([], None)
        w.array(list((configs or {}).items()), lambda w, kv: w.string(kv[0]).string(kv[1]))

    w.array([name], topic)
    w.i32(timeout_ms)
    if version >= 1:
        w.bool(validate_only)
    return w.bytes()


def decode_create_topics(r, version):
    """-> {topic: error_code}"""
    if version >= 2:
        r.i32()  # throttle
    if version >= 1:
        return {n: e for n, e, _msg in r.array(lambda r: (r.string(), r.i16(), r.string()))}
    return dict(r.array(lambda r: (r.string(), r.i16())))


def create_topics_v0_body(name, partitions=1, replication=1, configs=None, timeout_ms=10000):
    return create_topics_body(0, name, partitions, replication, configs, timeout_ms)


def decode_create_topics_v0(r):
    return decode_create_topics(r, 0)


def delete_records_v0_body(topic_offsets, timeout_ms=10000):
    """topic_offsets: {topic: [(partition, offset), ...]}"""
    w = Writer()
    w.array(list(topic_offsets.items()), lambda w, kv: w.string(kv[0]).array(
        kv[1], lambda w, po: w.i32(po[0]).i64(po[1])))
    w.i32(timeout_ms)
    return w.bytes()


def decode_delete_records_v0(r):
    """-> {(topic, partition): (low_watermark, error)}"""
    r.i32()  # throttle
    out = {}

    def topic(r):
        name = r.string()

        def part(r):
            p, low, err = r.i32(), r.i64(), r.i16()
            out[(name, p)] = (low, err)

        r.array(part)

    r.array(topic)
    return out


def list_offsets_v1_body(topic, partition, timestamp):
    w = Writer().i32(-1)
    w.array([topic], lambda w, t: w.string(t).array(
        [partition], lambda w, p: w.i32(p).i64(timestamp)))
    return w.bytes()


def decode_list_offsets_v1(r):
    out = {}

    def topic(r):
        name = r.string()

        def part(r):
            p, err, ts, off = r.i32(), r.i16(), r.i64(), r.i64()
            out[(name, p)] = (err, ts, off)

        r.array(part)

    r.array(topic)
    return out


def raw_api_versions(bootstrap):
    with RawConn(bootstrap) as c:
        err, keys = decode_api_versions_v0(c.request(API_VERSIONS, 0, b""))
        assert err == 0, "ApiVersions v0 error %d" % err
        return keys


def raw_topic_ids(bootstrap, topics):
    """Topic ids via Metadata v10..12 (flexible), or None if the broker does
    not advertise Metadata >= 10."""
    keys = raw_api_versions(bootstrap)
    lo, hi = keys.get(METADATA, (0, -1))
    if hi < 10:
        return None
    v = min(hi, 12)
    with RawConn(bootstrap) as c:
        md = decode_metadata_flexible(c.request(METADATA, v, metadata_flexible_body(v, topics), flexible=True), v)
    return {name: t["topic_id"] for name, t in md["topics"].items() if t["error"] == 0}


# --------------------------------------------------------------------------
# Record batches (magic 2)


def encode_record(offset_delta, ts_delta, key, value, headers=()):
    body = bytearray()
    body.append(0)  # attributes
    body += varint(ts_delta)
    body += varint(offset_delta)
    if key is None:
        body += varint(-1)
    else:
        body += varint(len(key)) + key
    if value is None:
        body += varint(-1)
    else:
        body += varint(len(value)) + value
    body += varint(len(headers))
    for hk, hv in headers:
        hkb = hk.encode()
        body += varint(len(hkb)) + hkb
        if hv is None:
            body += varint(-1)
        else:
            body += varint(len(hv)) + hv
    return varint(len(body)) + bytes(body)


def build_batch(records, base_timestamp=None, attributes=0, base_offset=0, corrupt_crc=False,
                producer_id=-1, producer_epoch=-1, base_sequence=-1):
    """records: list of (key, value, headers). Returns one magic-2 batch with
    a valid CRC32C (or a deliberately wrong one)."""
    if base_timestamp is None:
        base_timestamp = int(time.time() * 1000)
    recs = b"".join(encode_record(i, 0, k, v, h) for i, (k, v, h) in enumerate(records))
    after_crc = (Writer().i16(attributes).i32(len(records) - 1).i64(base_timestamp).i64(base_timestamp)
                 .i64(producer_id).i16(producer_epoch).i32(base_sequence).i32(len(records)).bytes() + recs)
    crc = crc32c(after_crc)
    if corrupt_crc:
        crc ^= 0xDEADBEEF
    return (Writer().i64(base_offset).i32(4 + 1 + 4 + len(after_crc)).i32(-1).i8(2).u32(crc).bytes()
            + after_crc)


# --------------------------------------------------------------------------
# On-disk validation

BATCH_HEADER = 61


class LogCorruption(AssertionError):
    pass


def validate_log_file(path, expect_next_offset=None):
    """Walk a .log segment batch by batch: framing, magic 2, CRC32C, count vs
    lastOffsetDelta, base offset of the first batch >= the file's base
    offset and contiguous offsets. Returns (batches, next_offset)."""
    data = open(path, "rb").read()
    base_in_name = int(os.path.basename(path).split(".")[0])
    pos = 0
    batches = 0
    next_off = expect_next_offset
    while pos < len(data):
        if len(data) - pos < BATCH_HEADER:
            raise LogCorruption("%s: %d trailing bytes at position %d (less than a batch header)"
                                % (path, len(data) - pos, pos))
        base_off, blen = struct.unpack_from(">qi", data, pos)
        magic = data[pos + 16]
        if blen < BATCH_HEADER - 12 or pos + 12 + blen > len(data):
            raise LogCorruption("%s: bad batch length %d at position %d (file size %d)"
                                % (path, blen, pos, len(data)))
        if magic != 2:
            raise LogCorruption("%s: magic %d at position %d" % (path, magic, pos))
        (crc,) = struct.unpack_from(">I", data, pos + 17)
        calc = crc32c(memoryview(data)[pos + 21:pos + 12 + blen])
        if crc != calc:
            raise LogCorruption("%s: CRC32C mismatch at position %d (stored %08x, computed %08x)"
                                % (path, pos, crc, calc))
        (last_delta,) = struct.unpack_from(">i", data, pos + 23)
        (count,) = struct.unpack_from(">i", data, pos + 57)
        if last_delta < 0 or count != last_delta + 1:
            raise LogCorruption("%s: batch at %d has lastOffsetDelta %d but %d records"
                                % (path, pos, last_delta, count))
        if batches == 0 and base_off < base_in_name:
            raise LogCorruption("%s: first batch base offset %d below segment base %d"
                                % (path, base_off, base_in_name))
        if next_off is not None and base_off != next_off:
            raise LogCorruption("%s: batch at %d has base offset %d, expected %d (gap or overlap)"
                                % (path, pos, base_off, next_off))
        next_off = base_off + last_delta + 1
        batches += 1
        pos += 12 + blen
    return batches, next_off


def partition_dirs(data_dir, topic):
    pat = re.compile(r"^%s-(\d+)$" % re.escape(topic))
    out = {}
    for name in os.listdir(data_dir):
        m = pat.match(name)
        if m and os.path.isdir(os.path.join(data_dir, name)):
            out[int(m.group(1))] = os.path.join(data_dir, name)
    return out


def log_segments(part_dir):
    return sorted(f for f in os.listdir(part_dir) if f.endswith(".log"))


def validate_partition_dir(part_dir):
    """Validate every segment of a partition in order; offsets must be
    contiguous across segments. Returns (batches, next_offset)."""
    total = 0
    next_off = None
    for seg in log_segments(part_dir):
        path = os.path.join(part_dir, seg)
        if os.path.getsize(path) == 0:
            continue
        n, next_off = validate_log_file(path, next_off)
        total += n
    return total, next_off


# --------------------------------------------------------------------------
# Client wrappers


def admin_client(bootstrap):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": bootstrap})


def topic_partition_count(bootstrap, topic, admin=None):
    """Partitions with a leader, per librdkafka's metadata; 0 if unknown."""
    admin = admin or admin_client(bootstrap)
    md = admin.list_topics(topic=topic, timeout=5)
    t = md.topics.get(topic)
    if t is None or t.error is not None:
        return 0
    if any(p.leader < 0 for p in t.partitions.values()):
        return 0
    return len(t.partitions)


def create_topic(bootstrap, name, partitions=1, config=None):
    from confluent_kafka.admin import NewTopic
    admin = admin_client(bootstrap)
    fs = admin.create_topics([NewTopic(name, partitions, 1, config=dict(config or {}))],
                             operation_timeout=10, request_timeout=15)
    fs[name].result(20)
    wait_until(lambda: topic_partition_count(bootstrap, name, admin) == partitions, 15,
               "topic %s with %d partitions and leaders in metadata" % (name, partitions))
    return name


def producer(bootstrap, **conf):
    from confluent_kafka import Producer
    c = {"bootstrap.servers": bootstrap, "linger.ms": 5}
    c.update({k.replace("_", "."): v for k, v in conf.items()})
    return Producer(c)


def consumer(bootstrap, **conf):
    from confluent_kafka import Consumer
    c = {"bootstrap.servers": bootstrap,
         "group.id": "it-" + uuid.uuid4().hex[:8],  # required by the client; no group APIs are used
         "enable.auto.commit": False,
         "enable.auto.offset.store": False,
         "auto.offset.reset": "error"}
    c.update({k.replace("_", "."): v for k, v in conf.items()})
    return Consumer(c)


def produce_sync(bootstrap, topic, records, partition=None, **conf):
    """Produce [(key, value, headers)] and flush; returns delivery reports
    [(partition, offset)] in produce order. Fails on any delivery error."""
    p = producer(bootstrap, **conf)
    reports = [None] * len(records)
    errors = []

    def cb_for(i):
        def cb(err, msg):
            if err is not None:
                errors.append((i, err))
            else:
                reports[i] = (msg.partition(), msg.offset())
        return cb

    for i, (k, v, h) in enumerate(records):
        kw = {"key": k, "value": v, "on_delivery": cb_for(i)}
        if h:
            kw["headers"] = list(h)
        if partition is not None:
            kw["partition"] = partition
        p.produce(topic, **kw)
        if i % 1000 == 999:
            p.poll(0)
    left = p.flush(60)
    assert left == 0, "%d records still undelivered after 60 s" % left
    assert not errors, "delivery errors: %r" % errors[:5]
    return reports


def consume_range(bootstrap, topic, partitions, start=0, end=None, timeout=60, **conf):
    """Read each partition from `start` (int or {p: offset}) up to `end`
    ({p: offset}, default the current high watermark) with assign(); fail on
    any consumer error. Returns {p: [Message]} (confluent_kafka Message)."""
    from confluent_kafka import TopicPartition
    c = consumer(bootstrap, **conf)
    try:
        if end is None:
            end = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
        starts = {p: (start[p] if isinstance(start, dict) else start) for p in partitions}
        out = {p: [] for p in partitions}
        pos = dict(starts)
        todo = [p for p in partitions if pos[p] < end[p]]
        if not todo:
            return out
        c.assign([TopicPartition(topic, p, pos[p]) for p in todo])
        deadline = time.monotonic() + timeout
        while any(pos[p] < end[p] for p in partitions):
            if time.monotonic() > deadline:
                raise AssertionError("consume %s timed out: at %r, want %r" % (topic, pos, end))
            for m in c.consume(num_messages=10000, timeout=0.5):
                if m.error() is not None:
                    raise AssertionError("consumer error on %s [%s]: %s" % (m.topic(), m.partition(), m.error()))
                p = m.partition()
                out[p].append(m)
                pos[p] = m.offset() + 1
        return out
    finally:
        c.close()


def kp_consume_range(bootstrap, topic, partitions, end, timeout=90, **conf):
    """kafka-python: assign (no group), seek to beginning, read up to end."""
    from kafka import KafkaConsumer, TopicPartition as KTP
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                      auto_offset_reset="none", **conf)
    try:
        tps = [KTP(topic, p) for p in partitions]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        out = {p: [] for p in partitions}
        pos = {p: 0 for p in partitions}
        deadline = time.monotonic() + timeout
        while any(pos[p] < end[p] for p in partitions):
            if time.monotonic() > deadline:
                raise AssertionError("kafka-python consume %s timed out: at %r, want %r" % (topic, pos, end))
            batch = c.poll(timeout_ms=500, max_records=20000)
            for tp, recs in batch.items():
                for rec in recs:
                    out[tp.partition].append(rec)
                    pos[tp.partition] = rec.offset + 1
        return out
    finally:
        c.close()


def norm_headers(h):
    return [(k, v) for k, v in (h or [])]


def confluent_headers(msg):
    """msg.headers() as a list, working around confluent-kafka-python 1.7.0's
    refcount bug for null header values (upstream issue #1191, fixed in
    1.8.2): each null value it returns is a borrowed Py_None stored without
    Py_INCREF, so enough of them abort the interpreter ("deallocating None").
    Call this once per message (the first call converts and caches)."""
    import ctypes
    hdrs = msg.headers()
    if hdrs:
        for _k, v in hdrs:
            if v is None:
                ctypes.pythonapi.Py_IncRef(ctypes.py_object(None))
    return norm_headers(hdrs)


def det_records(seed, n, headers=True):
    """Deterministic keyed records with varied values and headers."""
    rnd = random.Random(seed)
    words = [b"alpha", b"beta", b"gamma", b"delta", b"kafka", b"gregor", b"\x00\x01\x02", b"\xff" * 3]
    out = []
    for i in range(n):
        key = b"key-%07d-%d" % (i, rnd.randrange(1 << 30))
        kind = i % 1000
        if kind == 0:
            value = None
        elif kind == 1:
            value = b""
        else:
            ln = rnd.randrange(0, 300)
            value = b"|".join(rnd.choice(words) for _ in range(ln // 8)) + rnd.randbytes(ln % 16)
        hdrs = []
        if headers and i % 7 != 0:
            hdrs = [("idx", b"%d" % i), ("bin", rnd.randbytes(rnd.randrange(0, 12)))]
            if i % 5 == 0:
                hdrs.append(("null", None))
            if i % 11 == 0:
                hdrs += [("dup", b"1"), ("dup", b"2")]
        out.append((key, value, hdrs))
    return out
