# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are used by the scripts that source this file
# Shared helpers for the lab scripts (lab/up, lab/down, lab/fault, ...).
# Sourced, never executed. Callers set `set -euo pipefail` themselves.

LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$LAB_DIR/.." && pwd)"
STATE="${LAB_STATE:-$REPO/lab/state}"
# An absolute state path: pid checks and generated configs rely on it.
case "$STATE" in /*) ;; *) STATE="$(pwd)/$STATE" ;; esac
CONF="$STATE/ceph.conf"
export CEPH_CONF="$CONF"

# Ports (override with the environment if something else owns the defaults).
MON_PORT_V2="${LAB_MON_PORT_V2:-3300}"
MON_PORT_V1="${LAB_MON_PORT_V1:-6789}"
RGW_EAST_PORT="${LAB_RGW_EAST_PORT:-8001}"
RGW_WEST_PORT="${LAB_RGW_WEST_PORT:-8002}"
AGENT_PORT="${LAB_AGENT_PORT:-9240}"
EXPORTER_PORT="${LAB_EXPORTER_PORT:-9241}"
PROM_PORT="${LAB_PROM_PORT:-9090}"
AM_PORT="${LAB_AM_PORT:-9093}"
WEBHOOK_PORT="${LAB_WEBHOOK_PORT:-9095}"

MASTER_ZONE=us-east
SECONDARY_ZONE=us-west
REALM=lab
ZONEGROUP=zg1

# Timeouts for every cluster call, so that a dead mon never hangs a script for 300 s.
CEPH_TIMEOUTS=(--connect-timeout=20)
RGWA_TIMEOUTS=(--client_mount_timeout=20 --rados_mon_op_timeout=30 --rados_osd_op_timeout=30)

log()  { printf '[lab %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
warn() { printf '[lab %s] WARNING: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die()  { printf '[lab %s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }

need_root() {
    [ "$(id -u)" = 0 ] || die "must run as root (the lab runs ceph daemons and may apt-get install); try: sudo $0 $*"
}

zone_port() {
    case "$1" in
        us-east) echo "$RGW_EAST_PORT" ;;
        us-west) echo "$RGW_WEST_PORT" ;;
        *) die "unknown zone '$1' (known: us-east us-west)" ;;
    esac
}

# radosgw-admin against the lab cluster, with timeouts. Pass --rgw-zone yourself.
rgwa() { radosgw-admin -c "$CONF" "${RGWA_TIMEOUTS[@]}" "$@"; }
cephc() { ceph -c "$CONF" "${CEPH_TIMEOUTS[@]}" "$@"; }

# --- pids -------------------------------------------------------------------------------
# Every daemon the lab starts has $STATE/pids/<name>.pid. A pid only counts as ours when
# its command line mentions the state dir (protects against pid reuse).

pid_is_ours() {
    local pid="$1"
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$STATE"
}

pid_of() {
    local f="$STATE/pids/$1.pid" pid
    [ -f "$f" ] || return 1
    pid="$(cat "$f")"
    pid_is_ours "$pid" || return 1
    echo "$pid"
}

is_running() { pid_of "$1" >/dev/null; }

# start_daemon NAME LOGFILE CMD...: run CMD in its own session, detached from our stdio.
start_daemon() {
    local name="$1" logf="$2"; shift 2
    mkdir -p "$STATE/pids" "$(dirname "$logf")"
    setsid "$@" </dev/null >>"$logf" 2>&1 &
    local pid=$!
    echo "$pid" >"$STATE/pids/$name.pid"
    log "started $name (pid $pid), log $logf"
}

# stop_daemon NAME [GRACE_SECONDS]: TERM, wait, then KILL. Quiet when not running.
stop_daemon() {
    local name="$1" grace="${2:-15}" pid i
    local f="$STATE/pids/$name.pid"
    [ -f "$f" ] || return 0
    pid="$(cat "$f")"
    if pid_is_ours "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < grace * 10; i++)); do
            pid_is_ours "$pid" || break
            sleep 0.1
        done
        if pid_is_ours "$pid"; then
            warn "$name (pid $pid) did not stop after ${grace}s; sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do pid_is_ours "$pid" || break; sleep 0.1; done
        fi
        log "stopped $name (pid $pid)"
        STOPPED_PIDS="${STOPPED_PIDS:-} $pid"
    fi
    rm -f "$f"
}

# wait_reaped SECONDS: wait until the processes stopped so far are gone from /proc, not just
# dead (orphans stay zombies until init reaps them; `pgrep` would still list them).
wait_reaped() {
    local secs="$1" i p left
    for ((i = 0; i < secs * 10; i++)); do
        left=""
        for p in ${STOPPED_PIDS:-}; do [ -e "/proc/$p" ] && left="$left $p"; done
        [ -z "$left" ] && return 0
        sleep 0.1
    done
    warn "not yet reaped by init (zombies):$left"
}

# --- ports ------------------------------------------------------------------------------
port_in_use() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

wait_port() { # wait_port PORT SECONDS NAME
    local port="$1" secs="$2" name="$3" i
    for ((i = 0; i < secs * 5; i++)); do
        port_in_use "$port" && return 0
        sleep 0.2
    done
    die "$name did not listen on 127.0.0.1:$port within ${secs}s"
}

# --- radosgw ----------------------------------------------------------------------------
# start_rgw ZONE [extra radosgw args...]
start_rgw() {
    local zone="$1"; shift
    local port; port="$(zone_port "$zone")"
    if is_running "rgw-$zone"; then
        log "radosgw $zone already running"
        return 0
    fi
    port_in_use "$port" && die "port $port (radosgw $zone) is already in use by another process"
    start_daemon "rgw-$zone" "$STATE/log/rgw-$zone.out" \
        radosgw -f -c "$CONF" -n "client.rgw.$zone" "$@"
    local i
    for ((i = 0; i < 150; i++)); do
        if curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
            log "radosgw $zone answers on http://127.0.0.1:$port"
            return 0
        fi
        is_running "rgw-$zone" || { tail -n 20 "$STATE/log/rgw-$zone.out" "$STATE/log/ceph-client.rgw.$zone.log" >&2 2>/dev/null || true; die "radosgw $zone exited during startup"; }
        sleep 0.2
    done
    die "radosgw $zone did not answer on port $port within 30s (see $STATE/log/ceph-client.rgw.$zone.log)"
}

stop_rgw() { stop_daemon "rgw-$1" 20; }

# --- sync checks ------------------------------------------------------------------------
# sync_caught_up ZONE: true when `sync status` for ZONE says metadata and data caught up
# (and really syncing: not `init`, not 0/0 shards, no recovering shards).
sync_caught_up() {
    local zone="$1" out
    out="$(rgwa sync status --rgw-zone="$zone" 2>/dev/null)" || return 1
    printf '%s\n' "$out" >"$STATE/last-sync-status-$zone.txt"
    if [ "$zone" != "$MASTER_ZONE" ]; then
        grep -q 'metadata is caught up with master' <<<"$out" || return 1
        grep -q 'incremental sync: 8/8 shards' <<<"$out" || return 1
    fi
    grep -q 'data is caught up with source' <<<"$out" || return 1
    grep -Eq '^ +syncing$' <<<"$out" || return 1
    grep -q 'full sync: 0/0 shards' <<<"$out" && return 1
    grep -q 'recovering' <<<"$out" && return 1
    grep -q 'behind' <<<"$out" && return 1
    return 0
}

# wait_caught_up ZONE SECONDS
wait_caught_up() {
    local zone="$1" secs="$2" start=$SECONDS
    while ! sync_caught_up "$zone"; do
        if ((SECONDS - start >= secs)); then
            echo "---- last 'radosgw-admin sync status --rgw-zone=$zone':" >&2
            cat "$STATE/last-sync-status-$zone.txt" >&2 2>/dev/null || true
            die "$zone did not report metadata+data caught up within ${secs}s"
        fi
        sleep 2
    done
    log "$zone: metadata and data caught up ($((SECONDS - start))s)"
}

# bucket_objects ZONE BUCKET: num_objects of rgw.main (0 when empty), or "missing".
bucket_objects() {
    local out
    out="$(rgwa bucket stats --bucket="$2" --rgw-zone="$1" 2>/dev/null)" || { echo missing; return 0; }
    jq -r '.usage["rgw.main"].num_objects // 0' <<<"$out"
}

# wait_buckets_equal SECONDS BUCKET...: object counts equal in both zones.
wait_buckets_equal() {
    local secs="$1"; shift
    local start=$SECONDS b e w pending
    while :; do
        pending=""
        for b in "$@"; do
            e="$(bucket_objects "$MASTER_ZONE" "$b")"
            w="$(bucket_objects "$SECONDARY_ZONE" "$b")"
            [ "$e" = "$w" ] || pending="$pending $b($MASTER_ZONE=$e,$SECONDARY_ZONE=$w)"
        done
        [ -z "$pending" ] && { log "buckets replicated to $SECONDARY_ZONE: $* ($((SECONDS - start))s)"; return 0; }
        ((SECONDS - start >= secs)) && die "buckets not replicated within ${secs}s:$pending"
        sleep 2
    done
}

# s3 ZONE ARGS...: s3cmd as the tester user against ZONE's endpoint.
s3() {
    local zone="$1"; shift
    s3cmd -c "$STATE/s3cfg-$zone" "$@"
}

# A state dir may only be wiped if it is empty or was made by lab/up (guards against
# LAB_STATE pointing at something else, e.g. LAB_STATE=/ or a home directory).
looks_like_lab_state() {
    local d="$1"
    case "$d" in /|/root|/home|/home/*/|/tmp|/var|/usr|/etc|"$REPO"|"$REPO/lab"|"${HOME:-/root}") return 1 ;; esac
    [ -d "$d" ] || return 1
    [ -z "$(ls -A "$d")" ] && return 0
    [ -d "$d/pids" ] && return 0
    [ -f "$d/ceph.conf" ] && grep -q 'Generated by lab/up' "$d/ceph.conf" && return 0
    return 1
}

load_env() {
    [ -f "$STATE/env" ] || die "no lab at $STATE (run lab/up first)"
    # shellcheck disable=SC1091
    . "$STATE/env"
}
