#!/bin/bash
# The broker benchmark set behind the figures in docs/bench.md ("Broker
# figures"): 100 B and 1 KiB produce, 1 KiB consume through librdkafka, the
# raw-fetch ceiling, durable mode (flush.messages=1), latency at a fixed rate.
#
#   tools/scripts/bench_broker.sh [RUNS]          (default 5 runs per workload)
#
# The broker is pinned to CPU 1 and the client to CPU 0.  On this VM, memory
# the guest frees goes back to the host and is slow to touch again, so a
# write benchmark on fresh memory measures the hypervisor: set WARM_FILE to a
# large file kept on disk (e.g. 20 GiB written once with dd) and it is read
# back before each produce workload, so the broker's writes reuse resident
# page-cache pages.  Results are JSON lines in $OUT (default /tmp/gregor-bench).
set -eu
cd "$(dirname "$0")/../.."
RUNS=${1:-5}
OUT=${OUT:-/tmp/gregor-bench}
PORT=${PORT:-29092}
mkdir -p "$OUT"
warm() { if [ -n "${WARM_FILE:-}" ]; then cat "$WARM_FILE" > /dev/null; fi; }

start_broker() {  # extra --override args
    DATA=$(mktemp -d /tmp/gregor-bench-data.XXXXXX)
    taskset -c 1 bin/gregord --override listeners=PLAINTEXT://127.0.0.1:$PORT --override log.dirs=$DATA "$@" \
        > "$OUT/broker.log" 2>&1 &
    BP=$!
    until grep -q "listening on" "$OUT/broker.log"; do sleep 0.01; done
    B="-b 127.0.0.1:$PORT --broker-pid $BP --json"
}
stop_broker() { kill "$BP"; wait "$BP"; rm -rf "$DATA"; }
runs() { local name=$1; shift; for _ in $(seq "$RUNS"); do "$@"; done > "$OUT/$name.json"; }

start_broker
grep VmRSS /proc/$BP/status > "$OUT/idle-rss.txt"
warm; runs produce-100b taskset -c 0 bin/gregor bench produce $B --records 3M --record-size 100 --topic p100
warm; runs produce-1k taskset -c 0 bin/gregor bench produce $B --records 2M --record-size 1024 --topic p1k
warm; runs produce-1k-4p bin/gregor bench produce $B --records 2M --record-size 1024 --topic p1k4 --partitions 4
runs consume-1k taskset -c 0 bin/gregor bench consume $B --topic p1k
for _ in $(seq "$RUNS"); do /usr/bin/python3 tools/scripts/fetch_ceiling.py 127.0.0.1:$PORT p1k --seconds 4; done \
    > "$OUT/raw-fetch.txt"
runs latency-2k taskset -c 0 bin/gregor bench produce $B --records 20000 --record-size 1024 --rate 2000 --linger-ms 0 --topic lat
runs e2e-10k taskset -c 0 bin/gregor bench e2e $B --records 100000 --record-size 1024 --rate 10000 --linger-ms 0 \
    --partitions 16 --topic e2e
stop_broker

start_broker --override log.flush.interval.messages=1
warm; runs durable-1k taskset -c 0 bin/gregor bench produce $B --records 1M --record-size 1024 --topic d1k
runs durable-100b taskset -c 0 bin/gregor bench produce $B --records 1M --record-size 100 --topic d100
runs durable-latency-2k taskset -c 0 bin/gregor bench produce $B --records 20000 --record-size 1024 --rate 2000 \
    --linger-ms 0 --topic dlat
stop_broker
echo "results in $OUT"
