#!/usr/bin/env bash
# Instructions retired by one `--once` collection of each exporter against the simulator,
# counted by valgrind (callgrind), because this VM has no hardware counters (`perf stat -e
# instructions` says <not supported>). Only the exporter process is counted, not the
# simulated radosgw-admin calls it runs. Deterministic, unlike CPU time, so it is the
# figure to compare across changes. The timeout is long because valgrind is slow.
# Usage: bench/instructions.sh [BUCKETS...]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release
for b in sim-radosgw-admin rgw-multisite-agent-exporter rgw-multisite-exporter; do
  [ -x "$bin/$b" ] || { echo "build first: cargo build --release -p agent-exporter -p exporter -p rgw-multisite-bench" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sim=$(realpath "$bin/sim-radosgw-admin")
echo "| buckets | agent --once (instructions) | exporter --once (instructions) |"
echo "|---|---|---|"
for n in "${@:-1000 10000 100000}"; do
  printf 'buckets=%s\ndatalog_shards=128\nzones=us-east,us-west,us-central\nlagging=10\nerrors=20\nlatency_ms=0\ncache_dir=%s/cache\n' \
    "$n" "$work" > "$work/state.conf"
  # Generate the bucket stats outside the count.
  for z in us-east us-west us-central; do
    SIM_RGW_CONFIG=$work/state.conf "$sim" bucket stats --rgw-zone=$z > /dev/null
  done
  count() {
    local rc=0
    SIM_RGW_CONFIG=$work/state.conf valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" \
      --once --radosgw-admin.timeout=600s --radosgw-admin.command="$sim" > /dev/null 2> "$work/vg.txt" || rc=$?
    [ "$rc" = 0 ] || { echo "$* --once failed ($rc):" >&2; grep -v '^==' "$work/vg.txt" >&2; }
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/vg.txt"
  }
  a=$(count "$bin/rgw-multisite-agent-exporter" --zone=us-west)
  e=$(count "$bin/rgw-multisite-exporter" --zone=us-east)
  printf '| %s | %s | %s |\n' "$n" "$a" "$e"
done
