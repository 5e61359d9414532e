#!/usr/bin/python3
"""How fast can the broker serve a partition, with no client in the way?

librdkafka spends ~1.5 CPU-s per GB parsing records, which on a 2-core box
caps `gregor bench consume` near 1 GB/s.  This tool asks for the same bytes
with raw Fetch v4 requests (50 MiB per request) and discards the response
bodies into one reused buffer, so its per-byte cost is only the socket
receive: what it measures is the broker's sendfile path.

    tools/scripts/fetch_ceiling.py HOST:PORT TOPIC [PARTITIONS] [--seconds N]
"""
import socket
import struct
import sys
import time


def fetch_v4(corr, topic, partition, offset, max_bytes):
    t = topic.encode()
    body = struct.pack(">iiiib", -1, 0, 1, max_bytes, 0)            # replica, max_wait, min_bytes, max_bytes, isolation
    body += struct.pack(">i", 1) + struct.pack(">h", len(t)) + t
    body += struct.pack(">i", 1) + struct.pack(">iqi", partition, offset, max_bytes)
    header = struct.pack(">hhi", 1, 4, corr) + struct.pack(">h", 5) + b"bench"
    msg = header + body
    return struct.pack(">i", len(msg)) + msg


def recv_exact(sock, view, n):
    got = 0
    while got < n:
        k = sock.recv_into(view[got:n], n - got)
        if k == 0:
            raise ConnectionError("broker closed the connection")
        got += k


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    seconds = 5.0
    if "--seconds" in sys.argv:
        seconds = float(sys.argv[sys.argv.index("--seconds") + 1])
        args = [a for a in args if a != sys.argv[sys.argv.index("--seconds") + 1]]
    host, port = args[0].rsplit(":", 1)
    topic = args[1]
    partitions = int(args[2]) if len(args) > 2 else 1
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    buf = bytearray(64 << 20)
    view = memoryview(buf)
    total = 0
    corr = 0
    start = time.monotonic()
    offsets = [0] * partitions
    p = 0
    while time.monotonic() - start < seconds:
        corr += 1
        sock.sendall(fetch_v4(corr, topic, p, offsets[p], 50 << 20))
        recv_exact(sock, view, 4)
        size, = struct.unpack_from(">i", buf, 0)
        if size > len(buf):
            raise SystemExit("response of %d bytes is larger than the buffer" % size)
        recv_exact(sock, view, size)
        # Response v4: corr, throttle, [topic, [partition, error, hw, lso, log_start?]] - find the
        # record set size and advance by whole batches' last offsets.
        pos = 4 + 4 + 4                      # corr, throttle, topic count
        tlen, = struct.unpack_from(">h", buf, pos)
        pos += 2 + tlen + 4                  # name, partition count
        part, err, hw, lso = struct.unpack_from(">ihqq", buf, pos)
        pos += 4 + 2 + 8 + 8
        naborted, = struct.unpack_from(">i", buf, pos)
        pos += 4 + max(naborted, 0) * 16
        rlen, = struct.unpack_from(">i", buf, pos)
        pos += 4
        if err:
            raise SystemExit("fetch error %d" % err)
        end = pos + max(rlen, 0)
        last = offsets[p]
        while pos + 61 <= end:
            base, blen = struct.unpack_from(">qi", buf, pos)
            if pos + 12 + blen > end:
                break
            last_delta, = struct.unpack_from(">i", buf, pos + 23)
            last = base + last_delta + 1
            pos += 12 + blen
        total += max(rlen, 0)
        offsets[p] = last if last < hw else 0   # wrap around: keep the broker busy for the whole run
        p = (p + 1) % partitions
    elapsed = time.monotonic() - start
    print("fetched %.2f GB in %.2f s: %.2f GB/s over %d requests" % (total / 1e9, elapsed, total / 1e9 / elapsed, corr))


if __name__ == "__main__":
    main()
