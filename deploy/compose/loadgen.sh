#!/bin/bash
# The `loadgen` service of docker-compose.yml: S3 traffic on the master zone, so replication
# to us-west has something to do and the dashboards something to show. Every round writes
# LOADGEN_OBJECTS_PER_ROUND new objects into one of LOADGEN_BUCKETS buckets (load-1..N),
# overwrites a few and deletes the round written LOADGEN_KEEP_ROUNDS rounds earlier, so
# buckets stay small. Runs in the amazon/aws-cli image; the keys come from the ceph service
# (/s3/tester.env), which makes new ones at each start: a restart of ceph restarts this too.
set -euo pipefail

BUCKETS="${LOADGEN_BUCKETS:-4}"
PER_ROUND="${LOADGEN_OBJECTS_PER_ROUND:-20}"
INTERVAL="${LOADGEN_INTERVAL_SECONDS:-10}"
KEEP_ROUNDS="${LOADGEN_KEEP_ROUNDS:-30}"
CREDENTIALS=/s3/tester.env

log() { printf '[loadgen %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

[ -r "$CREDENTIALS" ] || { log "no $CREDENTIALS yet (is the ceph service healthy?)"; exit 1; }
set -a
# shellcheck disable=SC1090
. "$CREDENTIALS"
set +a
: "${S3_ENDPOINT:?missing from $CREDENTIALS}"
loaded_from="$(stat -c %Y "$CREDENTIALS")"

# Path-style requests: bucket names are not resolvable host names in compose.
export AWS_CONFIG_FILE=/tmp/aws-config AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
# For aws-cli releases that checksum by default (not 2.17): only when S3 requires it.
export AWS_REQUEST_CHECKSUM_CALCULATION=when_required AWS_RESPONSE_CHECKSUM_VALIDATION=when_required
printf '[default]\ns3 =\n    addressing_style = path\n' >"$AWS_CONFIG_FILE"
s3() { aws --endpoint-url "$S3_ENDPOINT" "$@"; }

for ((b = 1; b <= BUCKETS; b++)); do
    s3 s3api head-bucket --bucket "load-$b" >/dev/null 2>&1 || s3 s3 mb "s3://load-$b" >/dev/null
done
log "writing to load-1..load-$BUCKETS on $S3_ENDPOINT: $PER_ROUND objects every ${INTERVAL}s"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
round=0
while :; do
    # New keys from a restarted ceph service: start over with them (compose restarts us).
    [ "$(stat -c %Y "$CREDENTIALS" 2>/dev/null || echo 0)" = "$loaded_from" ] \
        || { log "$CREDENTIALS changed; restarting"; exit 1; }
    round=$((round + 1))
    bucket="load-$(((round - 1) % BUCKETS + 1))"
    rm -rf "${work:?}"/*
    mkdir -p "$work/new"
    for ((i = 0; i < PER_ROUND; i++)); do
        head -c $((RANDOM % 65536 + 1)) /dev/urandom >"$work/new/obj-$i"
    done
    t=$SECONDS
    s3 s3 cp --recursive --quiet "$work/new/" "s3://$bucket/round-$round/"
    # Overwrite the first object of the previous round in this bucket.
    prev=$((round - BUCKETS))
    if ((prev > 0)); then
        head -c $((RANDOM % 65536 + 1)) /dev/urandom >"$work/overwrite"
        s3 s3 cp --quiet "$work/overwrite" "s3://$bucket/round-$prev/obj-0"
    fi
    old=$((round - KEEP_ROUNDS))
    if ((old > 0)); then
        s3 s3 rm --recursive --quiet "s3://load-$(((old - 1) % BUCKETS + 1))/round-$old/"
    fi
    ((round % 10 == 1)) && log "round $round: $PER_ROUND objects into $bucket in $((SECONDS - t))s"
    sleep "$INTERVAL"
done
