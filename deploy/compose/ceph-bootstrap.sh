#!/bin/bash
# The `ceph` service of docker-compose.yml: the same two-zone RGW multisite cluster as lab/up,
# inside one container of the official Ceph image. mon + one memstore OSD, realm `lab`,
# zonegroup `zg1`, zones us-east (master, :8001) and us-west (:8002), one system user shared
# by both zones, then:
#   /etc/ceph (volume ceph-client, mounted read-only into both exporters):
#       ceph.conf                          mon address and fsid only
#       ceph.client.rgw-exporter.keyring   the exporters' read-only cephx key (root:ceph 0640)
#   /s3 (volume s3-credentials, mounted into the load generator only):
#       tester.env                         S3 keys of the `tester` user
# and /run/ceph-lab-ready once us-west has caught up with us-east (the compose healthcheck).
#
# The OSD keeps its data in memory, so every start is a new cluster: the state of the last
# one is wiped first, and the exporters pick up the new ceph.conf and keyring at their next
# radosgw-admin call. Settings that must stay equal to lab/up's are checked by
# tests/tests/deploy.rs. If any daemon exits, this script exits and the container stops.
set -euo pipefail

# Paths are the container's; the overrides exist to run this script outside a container
# (in a network namespace of its own, with MON_IP=127.0.0.1 RGW_HOST=127.0.0.1).
STATE="${CEPH_BOOTSTRAP_STATE:-/var/lib/ceph-lab}"
CONF="$STATE/ceph.conf"
CLIENT_DIR="${CEPH_BOOTSTRAP_CLIENT_DIR:-/etc/ceph}"
S3_DIR="${CEPH_BOOTSTRAP_S3_DIR:-/s3}"
READY="${CEPH_BOOTSTRAP_READY:-/run/ceph-lab-ready}"

MON_PORT_V2=3300
MON_PORT_V1=6789
RGW_EAST_PORT=8001
RGW_WEST_PORT=8002
REALM=lab
ZONEGROUP=zg1
MASTER_ZONE=us-east
SECONDARY_ZONE=us-west
# Zone endpoints: the compose service name, so radosgw (here) and the exporters' admin API
# clients (REST mode) reach the same address.
RGW_HOST="${RGW_HOST:-ceph}"
SYNC_TIMEOUT="${SYNC_TIMEOUT:-300}"
# The exporters' cephx user and its caps (README, "Permissions", found on the lab): read the
# RGW pools with read-only class methods; write only the notify.* objects of each zone's
# control pool, which radosgw-admin creates and watches at start, and (Ceph 20) the log pool's
# data_loggenerations_metadata watch and restore.* FIFO check. One key serves both
# exporters here, so both zones' pools.
EXPORTER_ID=rgw-exporter
EXPORTER_CAPS=(mon 'allow r' osd 'allow r class-read tag rgw *=*, allow rw pool=us-east.rgw.control object_prefix notify., allow rw pool=us-east.rgw.log object_prefix data_loggenerations_metadata, allow rw class-read class-write pool=us-east.rgw.log namespace=restore object_prefix restore., allow rw pool=us-west.rgw.control object_prefix notify., allow rw pool=us-west.rgw.log object_prefix data_loggenerations_metadata, allow rw class-read class-write pool=us-west.rgw.log namespace=restore object_prefix restore.')

RGWA_TIMEOUTS=(--client_mount_timeout=20 --rados_mon_op_timeout=30 --rados_osd_op_timeout=30)
rgwa() { radosgw-admin -c "$CONF" "${RGWA_TIMEOUTS[@]}" "$@"; }
cephc() { ceph -c "$CONF" --connect-timeout=20 "$@"; }
log() { printf '[ceph-bootstrap %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

PIDS=()
# shellcheck disable=SC2317  # reached through the traps
stop_all() {
    trap - EXIT INT TERM
    rm -f "$READY"
    if [ ${#PIDS[@]} -gt 0 ]; then
        log "stopping ${#PIDS[@]} daemon(s)"
        kill -TERM "${PIDS[@]}" 2>/dev/null || true
        wait "${PIDS[@]}" 2>/dev/null || true
    fi
}
trap stop_all EXIT
trap 'exit 143' INT TERM

# start NAME CMD...: a daemon in the foreground of its own, logging to $STATE/log/NAME.out.
start() {
    local name="$1"; shift
    "$@" </dev/null >>"$STATE/log/$name.out" 2>&1 &
    PIDS+=($!)
    log "started $name (pid $!)"
}

# tcp_open PORT: something listens on 127.0.0.1:PORT (no curl in every Ceph image).
tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_rgw() { # ZONE PORT
    local i
    for ((i = 0; i < 150; i++)); do
        tcp_open "$2" && { log "radosgw $1 listens on :$2"; return 0; }
        sleep 0.2
    done
    tail -n 20 "$STATE/log/rgw-$1.out" "$STATE/log/ceph-client.rgw.$1.log" >&2 2>/dev/null || true
    die "radosgw $1 did not listen on :$2 within 30s"
}

# Like lab/lib.sh's sync_caught_up: caught up, really syncing, nothing recovering.
sync_caught_up() {
    local out
    out="$(rgwa sync status --rgw-zone="$SECONDARY_ZONE" 2>/dev/null)" || return 1
    printf '%s\n' "$out" >"$STATE/last-sync-status.txt"
    grep -q 'metadata is caught up with master' <<<"$out" || return 1
    grep -q 'data is caught up with source' <<<"$out" || return 1
    grep -Eq '^ +syncing$' <<<"$out" || return 1
    grep -q 'full sync: 0/0 shards' <<<"$out" && return 1
    grep -q 'recovering' <<<"$out" && return 1
    grep -q 'behind' <<<"$out" && return 1
    return 0
}

rand() { tr -dc "$1" </dev/urandom | head -c "$2" || true; }

# --- a fresh state --------------------------------------------------------------------
rm -f "$READY"
rm -rf "$STATE"
mkdir -p "$STATE"/{mon,osd/ceph-0,rgw/"$MASTER_ZONE",rgw/"$SECONDARY_ZONE",log,run,tmp} "$CLIENT_DIR" "$S3_DIR"
chmod 700 "$STATE"
rm -f "$CLIENT_DIR/ceph.conf" "$CLIENT_DIR/ceph.client.$EXPORTER_ID.keyring" "$S3_DIR/tester.env"

# The address the other containers reach this one at; the monitor binds it.
MON_IP="${MON_IP:-$(getent ahostsv4 "$(cat /proc/sys/kernel/hostname)" | awk 'NR == 1 { print $1 }')}"
[ -n "$MON_IP" ] || die "cannot find this container's IPv4 address (set MON_IP)"
FSID="$(cat /proc/sys/kernel/random/uuid)"
MON_HOST="[v2:$MON_IP:$MON_PORT_V2,v1:$MON_IP:$MON_PORT_V1]"
VERSION="$(ceph --version | awk '{ print $3 }')"
log "ceph $VERSION, fsid $FSID, mon $MON_HOST"
# As in lab/up: Pacific needs a default pgp num; Reef and later fail pool creation with ERANGE
# when one is set (the autoscaler is off instead).
if [ "${VERSION%%.*}" -le 16 ]; then
    RELEASE_CONF="osd pool default pgp num = 8"
else
    RELEASE_CONF=""
fi

cat >"$CONF" <<EOF
# Generated by deploy/compose/ceph-bootstrap.sh: the settings of lab/up, in a container.
[global]
fsid = $FSID
mon initial members = a
mon host = $MON_HOST
public addr = $MON_IP
cluster addr = $MON_IP
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = $STATE/ceph.client.admin.keyring
run dir = $STATE/run
admin socket = $STATE/run/\$cluster-\$name.\$pid.asok
log file = $STATE/log/\$cluster-\$name.log
log to stderr = false
err to stderr = false
mon data = $STATE/mon/\$cluster-\$id
osd data = $STATE/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = 2147483648
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
$RELEASE_CONF
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
rgw data log num shards = 8
rgw md log max shards = 8
rgw sync lease period = 30

[mon]
keyring = $STATE/mon/\$cluster-\$id/keyring

[osd]
keyring = $STATE/osd/\$cluster-\$id/keyring

[client.rgw.$MASTER_ZONE]
keyring = $STATE/rgw/$MASTER_ZONE.keyring
rgw realm = $REALM
rgw zonegroup = $ZONEGROUP
rgw zone = $MASTER_ZONE
rgw frontends = beast endpoint=0.0.0.0:$RGW_EAST_PORT
rgw data = $STATE/rgw/$MASTER_ZONE

[client.rgw.$SECONDARY_ZONE]
keyring = $STATE/rgw/$SECONDARY_ZONE.keyring
rgw realm = $REALM
rgw zonegroup = $ZONEGROUP
rgw zone = $SECONDARY_ZONE
rgw frontends = beast endpoint=0.0.0.0:$RGW_WEST_PORT
rgw data = $STATE/rgw/$SECONDARY_ZONE
EOF

# --- mon ------------------------------------------------------------------------------
ceph-authtool --create-keyring "$STATE/tmp/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool --create-keyring "$STATE/ceph.client.admin.keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
ceph-authtool "$STATE/tmp/mon.keyring" --import-keyring "$STATE/ceph.client.admin.keyring" >/dev/null
monmaptool --create --fsid "$FSID" --addv a "$MON_HOST" "$STATE/tmp/monmap" >/dev/null
ceph-mon -c "$CONF" --mkfs -i a --monmap "$STATE/tmp/monmap" --keyring "$STATE/tmp/mon.keyring"
start mon-a ceph-mon -f -c "$CONF" -i a
for ((i = 0; ; i++)); do
    cephc mon stat >/dev/null 2>&1 && break
    ((i < 60)) || die "ceph-mon did not answer within 60s (see $STATE/log/ceph-mon.a.log)"
    sleep 1
done
log "mon up"

# --- osd ------------------------------------------------------------------------------
OSD_UUID="$(cat /proc/sys/kernel/random/uuid)"
OSD_ID="$(cephc osd new "$OSD_UUID")"
[ "$OSD_ID" = 0 ] || die "unexpected osd id '$OSD_ID'"
ceph-osd -c "$CONF" -i 0 --mkfs --mkkey --osd-uuid "$OSD_UUID" --no-mon-config >"$STATE/log/osd-mkfs.out" 2>&1 \
    || { cat "$STATE/log/osd-mkfs.out" >&2; die "ceph-osd --mkfs failed"; }
cephc auth add osd.0 osd 'allow *' mon 'allow profile osd' mgr 'allow profile osd' \
    -i "$STATE/osd/ceph-0/keyring" >/dev/null 2>&1
start osd-0 ceph-osd -f -c "$CONF" -i 0
for ((i = 0; ; i++)); do
    cephc osd stat 2>/dev/null | grep -q '1 up' && break
    ((i < 60)) || die "osd.0 not up within 60s (see $STATE/log/ceph-osd.0.log)"
    sleep 1
done
log "osd up"

# --- multisite ------------------------------------------------------------------------
SYS_AK="$(rand 'A-Z0-9' 20)"; SYS_SK="$(rand 'A-Za-z0-9' 40)"
S3_AK="$(rand 'A-Z0-9' 20)";  S3_SK="$(rand 'A-Za-z0-9' 40)"
for z in "$MASTER_ZONE" "$SECONDARY_ZONE"; do
    cephc auth get-or-create "client.rgw.$z" mon 'allow rw' osd 'allow rwx' mgr 'allow rw' \
        -o "$STATE/rgw/$z.keyring" >/dev/null 2>&1
done
EAST_URL="http://$RGW_HOST:$RGW_EAST_PORT"
WEST_URL="http://$RGW_HOST:$RGW_WEST_PORT"
q() { "$@" >>"$STATE/log/setup.out" 2>&1 || { tail -n 20 "$STATE/log/setup.out" >&2; die "failed: ${*:2}"; }; }
q rgwa realm create --rgw-realm="$REALM" --default
q rgwa zonegroup create --rgw-realm="$REALM" --rgw-zonegroup="$ZONEGROUP" --endpoints="$EAST_URL" --master --default
q rgwa zone create --rgw-realm="$REALM" --rgw-zonegroup="$ZONEGROUP" --rgw-zone="$MASTER_ZONE" \
    --endpoints="$EAST_URL" --master --default --access-key="$SYS_AK" --secret="$SYS_SK"
q rgwa user create --rgw-zone="$MASTER_ZONE" --uid=sync-user --display-name="Multisite sync user" --system \
    --access-key="$SYS_AK" --secret="$SYS_SK"
q rgwa period update --commit --rgw-realm="$REALM" --rgw-zone="$MASTER_ZONE"
start "rgw-$MASTER_ZONE" radosgw -f -c "$CONF" -n "client.rgw.$MASTER_ZONE"
wait_rgw "$MASTER_ZONE" "$RGW_EAST_PORT"
q rgwa zone create --rgw-realm="$REALM" --rgw-zonegroup="$ZONEGROUP" --rgw-zone="$SECONDARY_ZONE" \
    --endpoints="$WEST_URL" --access-key="$SYS_AK" --secret="$SYS_SK"
q rgwa period update --commit --rgw-realm="$REALM" --rgw-zone="$MASTER_ZONE"
start "rgw-$SECONDARY_ZONE" radosgw -f -c "$CONF" -n "client.rgw.$SECONDARY_ZONE"
wait_rgw "$SECONDARY_ZONE" "$RGW_WEST_PORT"
q rgwa user create --rgw-zone="$MASTER_ZONE" --uid=tester --display-name="Load generator" \
    --access-key="$S3_AK" --secret="$S3_SK"

# --- what the other containers read ---------------------------------------------------
cat >"$CLIENT_DIR/ceph.conf.new" <<EOF
# Generated by deploy/compose/ceph-bootstrap.sh for the exporters (radosgw-admin --id $EXPORTER_ID).
[global]
fsid = $FSID
mon host = $MON_HOST
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
EOF
chmod 0644 "$CLIENT_DIR/ceph.conf.new"
cephc auth get-or-create "client.$EXPORTER_ID" "${EXPORTER_CAPS[@]}" -o "$CLIENT_DIR/ceph.client.$EXPORTER_ID.keyring.new" >/dev/null
# Readable by the exporters' user (primary group ceph in the image, see Dockerfile), nobody else.
chown root:ceph "$CLIENT_DIR/ceph.client.$EXPORTER_ID.keyring.new"
chmod 0640 "$CLIENT_DIR/ceph.client.$EXPORTER_ID.keyring.new"
mv -f "$CLIENT_DIR/ceph.client.$EXPORTER_ID.keyring.new" "$CLIENT_DIR/ceph.client.$EXPORTER_ID.keyring"
mv -f "$CLIENT_DIR/ceph.conf.new" "$CLIENT_DIR/ceph.conf"
umask 077
printf 'AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\nS3_ENDPOINT=%s\n' "$S3_AK" "$S3_SK" "$EAST_URL" >"$S3_DIR/tester.env.new"
mv -f "$S3_DIR/tester.env.new" "$S3_DIR/tester.env"
umask 022
log "wrote $CLIENT_DIR/ceph.conf, $CLIENT_DIR/ceph.client.$EXPORTER_ID.keyring and $S3_DIR/tester.env"

# --- ready once us-west has caught up -------------------------------------------------
t=$SECONDS
until sync_caught_up; do
    if ((SECONDS - t >= SYNC_TIMEOUT)); then
        cat "$STATE/last-sync-status.txt" >&2 2>/dev/null || true
        die "$SECONDARY_ZONE did not catch up with $MASTER_ZONE within ${SYNC_TIMEOUT}s"
    fi
    sleep 2
done
touch "$READY"
log "ready: $SECONDARY_ZONE caught up after $((SECONDS - t))s; S3 endpoints $EAST_URL (master), $WEST_URL"

# Run until a daemon exits (or the container is stopped). Plain `wait -n`: the daemons are
# this shell's only children now, and bash 4.4 (CentOS 8 based images) has no `wait -n PID`.
set +e
wait -n
rc=$?
log "a daemon exited (status $rc); stopping the others (logs in $STATE/log inside the container)"
for f in "$STATE"/log/*.out; do [ -s "$f" ] && { echo "---- $f" >&2; tail -n 10 "$f" >&2; }; done
exit 1
