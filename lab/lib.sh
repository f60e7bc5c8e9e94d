# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are used by the scripts that source this file
# Shared helpers for the lab scripts (lab/up, lab/down, lab/fault, ...).
# Sourced, never executed. Callers set `set -euo pipefail` themselves.

LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$LAB_DIR/.." && pwd)"

# --- release ----------------------------------------------------------------------------
# LAB_RELEASE (lab/up --release NAME) picks the Ceph release of the cluster:
#   pacific   16.2.15, the host's Debian bookworm packages (default)
#   reef      18.2.7, Debian trixie packages in a chroot
#   tentacle  20.2.4, Debian sid packages in a chroot
# A state dir remembers its release ($STATE/release), so lab/fault, lab/down, ... only need
# LAB_STATE. Without LAB_STATE the state dir is lab/state (pacific) or lab/state-<release>.
KNOWN_RELEASES="pacific reef tentacle"
release_info() { # RELEASE -> "<debian suite> <major version> <port offset>"
    case "$1" in
        pacific) echo "bookworm 16 0" ;;
        reef) echo "trixie 18 100" ;;
        tentacle) echo "sid 20 200" ;;
        *) return 1 ;;
    esac
}
RELEASE="${LAB_RELEASE:-pacific}"
release_info "$RELEASE" >/dev/null \
    || { printf 'lab: unknown release %s (known: %s)\n' "$RELEASE" "$KNOWN_RELEASES" >&2; exit 2; }
if [ "$RELEASE" = pacific ]; then
    STATE="${LAB_STATE:-$REPO/lab/state}"
else
    STATE="${LAB_STATE:-$REPO/lab/state-$RELEASE}"
fi
# An absolute state path: pid checks and generated configs rely on it.
case "$STATE" in /*) ;; *) STATE="$(pwd)/$STATE" ;; esac
if [ -f "$STATE/release" ]; then
    state_release="$(cat "$STATE/release")"
    if [ -n "${LAB_RELEASE:-}" ] && [ "$LAB_RELEASE" != "$state_release" ]; then
        printf 'lab: %s holds a %s lab, not %s (LAB_RELEASE)\n' "$STATE" "$state_release" "$LAB_RELEASE" >&2
        exit 2
    fi
    RELEASE="$state_release"
    release_info "$RELEASE" >/dev/null || { printf 'lab: %s/release names unknown release %s\n' "$STATE" "$RELEASE" >&2; exit 2; }
fi
read -r DEBIAN_SUITE CEPH_MAJOR PORT_OFFSET <<<"$(release_info "$RELEASE")"
PORT_OFFSET="${LAB_PORT_OFFSET:-$PORT_OFFSET}"
CONF="$STATE/ceph.conf"
export CEPH_CONF="$CONF"

# Releases other than the host's run from a Debian root of their own (debootstrap, cached in
# ROOTFS and reused across runs), seen by each lab through an overlay mounted at $STATE/root
# with /proc, /dev, a tmpfs /run and the state dir itself (at the same path) mounted into it:
# paths in ceph.conf, pid files and logs are the same inside and outside. Every Ceph binary
# runs through `cx` (chroot for these releases, nothing for pacific).
ROOTFS_CACHE="${LAB_ROOTFS_CACHE:-/var/cache/rgw-multisite-lab}"
ROOTFS="$ROOTFS_CACHE/$RELEASE-rootfs"
DEBIAN_MIRROR="${LAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if [ "$RELEASE" = pacific ]; then
    ROOT=""
    CHROOT=()
else
    ROOT="$STATE/root"
    CHROOT=(chroot "$ROOT")
fi
cx() { "${CHROOT[@]}" "$@"; }
# radosgw-admin as a command line that works from the host (exporters, tests, env).
RADOSGW_ADMIN_CMD="${CHROOT[*]}${CHROOT[*]:+ }radosgw-admin -c $CONF"

# Ports (override with the environment if something else owns the defaults). Each release
# has its own block so that several can run at once: pacific as below, reef +100, tentacle
# +200 (LAB_PORT_OFFSET), except the mon's v1 port, which goes *down* by the offset
# (6689, 6589): 6800-7568 is where OSDs bind (ms_bind_port_min/max).
MON_PORT_V2="${LAB_MON_PORT_V2:-$((3300 + PORT_OFFSET))}"
MON_PORT_V1="${LAB_MON_PORT_V1:-$((6789 - PORT_OFFSET))}"
RGW_EAST_PORT="${LAB_RGW_EAST_PORT:-$((8001 + PORT_OFFSET))}"
RGW_WEST_PORT="${LAB_RGW_WEST_PORT:-$((8002 + PORT_OFFSET))}"
AGENT_PORT="${LAB_AGENT_PORT:-$((9240 + PORT_OFFSET))}"
EXPORTER_PORT="${LAB_EXPORTER_PORT:-$((9241 + PORT_OFFSET))}"
PROM_PORT="${LAB_PROM_PORT:-$((9090 + PORT_OFFSET))}"
AM_PORT="${LAB_AM_PORT:-$((9093 + PORT_OFFSET))}"
WEBHOOK_PORT="${LAB_WEBHOOK_PORT:-$((9095 + PORT_OFFSET))}"
PORT_VARS="MON_PORT_V2 MON_PORT_V1 RGW_EAST_PORT RGW_WEST_PORT AGENT_PORT EXPORTER_PORT PROM_PORT AM_PORT WEBHOOK_PORT"
# The ports a lab was started with win over the environment of later calls (lab/heal must
# restart radosgw on the port lab/up gave it, whatever LAB_*_PORT says now).
if [ -f "$STATE/ports" ]; then
    # shellcheck disable=SC1091
    . "$STATE/ports"
fi
write_ports() { local v; for v in $PORT_VARS; do echo "$v=${!v}"; done >"$STATE/ports"; }

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
rgwa() { cx radosgw-admin -c "$CONF" "${RGWA_TIMEOUTS[@]}" "$@"; }
cephc() { cx ceph -c "$CONF" "${CEPH_TIMEOUTS[@]}" "$@"; }

# --- pids -------------------------------------------------------------------------------
# Every daemon the lab starts has $STATE/pids/<name>.pid. A pid only counts as ours when
# its command line mentions the state dir (protects against pid reuse).

pid_is_ours() {
    local pid="$1"
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    # "$STATE/" or "$STATE " (tr ends every argument with a blank): /tmp/lab-x must not
    # match the processes of /tmp/lab-x-reef.
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -e "$STATE/" -e "$STATE "
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
        "${CHROOT[@]}" radosgw -f -c "$CONF" -n "client.rgw.$zone" "$@"
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

# --- chroot releases: the cached Debian root and the lab's mounts -------------------------
# mounts_under DIR: mount points at or below DIR, deepest first (from /proc/self/mounts,
# whose octal escapes such as \040 are decoded).
mounts_under() {
    local dir="${1%/}"
    awk -v d="$dir" '{ p = $2; gsub(/\\040/, " ", p); gsub(/\\011/, "\t", p); gsub(/\\134/, "\\", p);
                      if (p == d || index(p, d "/") == 1) print length(p) "\t" p }' /proc/self/mounts \
        | sort -rn | cut -f2-
}

# rootfs_ok: the cached root has the release's Ceph and still runs.
rootfs_ok() {
    [ -f "$ROOTFS/.rgw-multisite-lab" ] || return 1
    local b
    for b in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool rados; do
        [ -x "$ROOTFS/usr/bin/$b" ] || return 1
    done
    compgen -G "$ROOTFS/usr/lib/*/rados-classes/libcls_rgw.so" >/dev/null || return 1
    chroot "$ROOTFS" radosgw-admin --version 2>/dev/null | grep -q "^ceph version $CEPH_MAJOR\."
}

# rootfs_in_use: an overlay of some lab uses the cached root as its lower layer.
rootfs_in_use() { grep -qF "lowerdir=$ROOTFS," /proc/self/mounts; }

# remove_tree DIR: rm -rf, but never across a mount point (a bind of /dev or / would be
# emptied): unmount what is below DIR first and refuse if anything stays mounted.
remove_tree() {
    local d="$1" m
    [ -e "$d" ] || return 0
    mapfile -t mnts < <(mounts_under "$d")
    for m in "${mnts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" || true; done
    [ -z "$(mounts_under "$d")" ] || die "still mounted below $d: $(mounts_under "$d" | tr '\n' ' '); not removing it"
    rm -rf --one-file-system "$d"
}

# umount_build: unmount what a root build mounted into $ROOTFS.build (an interrupted
# lab/up). Only call it holding the build lock, or from the process that holds it.
umount_build() {
    local m mnts
    mapfile -t mnts < <(mounts_under "$ROOTFS.build")
    for m in "${mnts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" || warn "cannot unmount $m"; done
}

# umount_stale_build: umount_build, unless a lab/up is building the root right now.
umount_stale_build() {
    [ -d "$ROOTFS.build" ] && [ -n "$(mounts_under "$ROOTFS.build")" ] || return 0
    local fd
    exec {fd}>"$ROOTFS_CACHE/$RELEASE.lock"
    if flock -n "$fd"; then
        umount_build
    else
        log "another lab/up is building $ROOTFS; leaving its mounts alone"
    fi
    exec {fd}>&-
}

# ensure_rootfs: build ROOTFS (debootstrap + Ceph packages) unless a working one is cached.
# Serialised with flock, so two labs of one release never build it twice at once.
ensure_rootfs() {
    mkdir -p "$ROOTFS_CACHE"
    exec {lockfd}>"$ROOTFS_CACHE/$RELEASE.lock"
    flock -w 1800 "$lockfd" || die "timed out waiting for another lab to build $ROOTFS"
    if rootfs_ok; then
        log "using cached $RELEASE root $ROOTFS ($(chroot "$ROOTFS" radosgw-admin --version | awk '{print $3}'))"
        exec {lockfd}>&-
        return 0
    fi
    if [ -e "$ROOTFS" ]; then
        rootfs_in_use && die "$ROOTFS looks broken but a running lab uses it; stop that lab (lab/down) first"
        warn "$ROOTFS is incomplete or broken; rebuilding it"
        remove_tree "$ROOTFS"
    fi
    command -v debootstrap >/dev/null || die "debootstrap is not installed"
    local tmp="$ROOTFS.build" t
    remove_tree "$tmp"
    ROOTFS_BUILDING=1
    t=$SECONDS
    log "building the $RELEASE root: debootstrap --variant=minbase $DEBIAN_SUITE $tmp (log $ROOTFS_CACHE/$RELEASE-debootstrap.log)"
    if ! debootstrap --variant=minbase "$DEBIAN_SUITE" "$tmp" "$DEBIAN_MIRROR" >"$ROOTFS_CACHE/$RELEASE-debootstrap.log" 2>&1; then
        tail -n 20 "$ROOTFS_CACHE/$RELEASE-debootstrap.log" >&2
        remove_tree "$tmp"
        die "debootstrap $DEBIAN_SUITE failed (see $ROOTFS_CACHE/$RELEASE-debootstrap.log)"
    fi
    local t_boot=$((SECONDS - t))
    log "debootstrap $DEBIAN_SUITE done (${t_boot}s)"
    # No service may start inside the root while packages install.
    printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
    chmod 755 "$tmp/usr/sbin/policy-rc.d"
    t=$SECONDS
    log "installing ceph-mon ceph-osd radosgw ceph-common in the $RELEASE root (log $ROOTFS_CACHE/$RELEASE-install.log)"
    # Maintainer scripts need /proc (sid's systemd-tmpfiles fails without it), /dev, /run;
    # all three are unmounted again right after the install, whatever its outcome.
    mount -t proc proc "$tmp/proc"
    mount --bind /dev "$tmp/dev"
    mount -t tmpfs -o mode=0755,size=64m tmpfs "$tmp/run"
    # Check-Valid-Until=false: sid's InRelease is only valid for a week, and a mirror
    # snapshot (or a machine whose clock runs ahead) makes apt refuse it as expired.
    if ! chroot "$tmp" /bin/sh -c 'export DEBIAN_FRONTEND=noninteractive; apt-get -o Acquire::Check-Valid-Until=false update && apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common && apt-get clean' \
        >"$ROOTFS_CACHE/$RELEASE-install.log" 2>&1; then
        tail -n 20 "$ROOTFS_CACHE/$RELEASE-install.log" >&2
        remove_tree "$tmp"
        die "installing Ceph in the $RELEASE root failed (see $ROOTFS_CACHE/$RELEASE-install.log)"
    fi
    umount "$tmp/run" "$tmp/dev" "$tmp/proc"
    [ -z "$(mounts_under "$tmp")" ] || die "still mounted below $tmp: $(mounts_under "$tmp" | tr '\n' ' ')"
    local t_inst=$((SECONDS - t))
    {
        echo "# Debian $DEBIAN_SUITE root for the rgw-multisite lab ($RELEASE), built by lab/up on $(date -u +%FT%TZ)"
        echo "release=$RELEASE"
        echo "suite=$DEBIAN_SUITE"
        echo "debootstrap_seconds=$t_boot"
        echo "install_seconds=$t_inst"
        # shellcheck disable=SC2016  # dpkg-query's own ${...} fields
        chroot "$tmp" dpkg-query -W -f='package=${Package} ${Version}\n' ceph-mon ceph-osd radosgw ceph-common
    } >"$tmp/.rgw-multisite-lab"
    mv "$tmp" "$ROOTFS"
    ROOTFS_BUILDING=0
    rootfs_ok || die "the freshly built $ROOTFS does not run radosgw-admin $CEPH_MAJOR.x"
    log "$RELEASE root ready: $(chroot "$ROOTFS" radosgw-admin --version) (debootstrap ${t_boot}s, install ${t_inst}s)"
    exec {lockfd}>&-
}

# mount_root: the lab's view of ROOTFS at $ROOT: an overlay (the cache stays untouched),
# /proc, /dev, a tmpfs /run, and the state dir at its own path.
mount_root() {
    mkdir -p "$STATE/rootfs/upper" "$STATE/rootfs/work" "$ROOT"
    [ -z "$(mounts_under "$ROOT")" ] || die "something is already mounted below $ROOT"
    mount -t overlay "rgw-lab-$RELEASE" \
        -o "lowerdir=$ROOTFS,upperdir=$STATE/rootfs/upper,workdir=$STATE/rootfs/work" "$ROOT" \
        || die "cannot mount the overlay of $ROOTFS at $ROOT"
    mount -t proc proc "$ROOT/proc"
    mount --bind /dev "$ROOT/dev"
    mount -t tmpfs -o mode=0755,size=64m tmpfs "$ROOT/run"
    mkdir -p "$ROOT$STATE"
    mount --bind "$STATE" "$ROOT$STATE"
    log "mounted the $RELEASE root at $ROOT (overlay of $ROOTFS)"
}

# umount_root: undo mount_root (and anything else mounted below the state dir).
umount_root() {
    local m i left mnts
    for ((i = 0; i < 10; i++)); do
        mapfile -t mnts < <(mounts_under "$STATE")
        [ ${#mnts[@]} -eq 0 ] && return 0
        for m in "${mnts[@]}"; do umount "$m" 2>/dev/null || true; done
        [ -z "$(mounts_under "$STATE")" ] && break
        sleep 1
    done
    mapfile -t mnts < <(mounts_under "$STATE")
    if [ ${#mnts[@]} -gt 0 ]; then
        warn "still busy after 10 s, detaching lazily: ${mnts[*]}"
        for m in "${mnts[@]}"; do umount -l "$m" 2>/dev/null || true; done
    fi
    left="$(mounts_under "$STATE")"
    [ -z "$left" ] || { warn "could not unmount: $(tr '\n' ' ' <<<"$left")"; return 1; }
    log "unmounted the $RELEASE root"
}
