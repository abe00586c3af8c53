#!/usr/bin/env bash
# A single-node Ceph S3 server (mon + 1 memstore OSD + radosgw) on 127.0.0.1 for tests and devnets
# (CEPH_S3_ADDR=IP at start binds it to another local address instead, e.g. a network namespace's).
# No cephx; S3 auth (SigV4) is enforced by radosgw. Needs: apt-get install -y --no-install-recommends
#   ceph-mon ceph-osd radosgw ceph-common
#
#   scripts/ceph-s3.sh start DIR [PORT]     start a fresh cluster in DIR (S3 on 127.0.0.1:PORT, default: a free port)
#   scripts/ceph-s3.sh stop DIR             stop the daemons by the pids in DIR/run
#   scripts/ceph-s3.sh status DIR           exit 0 and print the endpoint when the S3 endpoint answers
#   scripts/ceph-s3.sh rgw-stop DIR         stop only radosgw (an S3 outage; mon, OSD and the objects stay)
#   scripts/ceph-s3.sh rgw-start DIR        start radosgw again with the same config and wait until S3 answers
#   scripts/ceph-s3.sh node-user DIR NAME   create (or re-print) node NAME's credentials as one JSON line:
#       a WRITE user NAME (owns the node's bucket) and a READ-only S3 subuser NAME:read (--access=read)
#
# DIR is the cluster's scratch folder: it must be empty, missing, or a folder this script made before.
# Startup takes ~3 s. start writes DIR/s3.env (S3_ENDPOINT, S3_REGION, S3_ADMIN_ACCESS_KEY, S3_ADMIN_SECRET_KEY) and
# DIR/endpoint. CEPH_OBJECTSTORE=bluestore puts the data on disk instead of in memory.
set -euo pipefail

die() { echo "ceph-s3: $*" >&2; exit 1; }
usage() { sed -n '5,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

CMD=${1:-}; D=${2:-}
[[ -n "$CMD" && -n "$D" ]] || usage
MARK=.tessera-ceph
# The address everything binds to: CEPH_S3_ADDR at start, then the one recorded in DIR/endpoint.
ADDR=${CEPH_S3_ADDR:-127.0.0.1}
if [[ "$CMD" != start && -f "$D/endpoint" ]]; then ep0=$(cat "$D/endpoint"); ep0=${ep0#http://}; ADDR=${ep0%:*}; fi

port_busy() { (exec 3<>"/dev/tcp/$ADDR/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    port_busy "$p" || { echo "$p"; return 0; }
  done
  die "no free TCP port found on $ADDR"
}
rand_key() { # rand_key LENGTH CHARSET
  local out=''
  while ((${#out} < $1)); do out+=$(head -c 256 /dev/urandom | LC_ALL=C tr -dc "$2" || true); done
  echo "${out:0:$1}"
}
# http_ok PORT: true when something answers an HTTP GET / on $ADDR:PORT (no curl needed).
http_ok() {
  local line
  { exec 3<>"/dev/tcp/$ADDR/$1"; } 2>/dev/null || return 1
  printf 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' "$ADDR" >&3
  IFS= read -r -t 5 line <&3 || line=''
  exec 3<&- 3>&-
  [[ "$line" == HTTP/* ]]
}
RGW_PID=run/client.rgw.a.pid
pids() { cat "$D"/run/*.pid 2>/dev/null || true; }
# diagnose: one line on the cluster's state and the last radosgw log line, for an error message.
diagnose() {
  local st last
  st=$(timeout 15 ceph -c "$D/ceph.conf" -s 2>&1 | tr -s ' \n' ' ' | cut -c1-400 || true)
  last=$(tail -n 1 "$D/log/client.rgw.a.log" 2>/dev/null | cut -c1-300 || true)
  echo "ceph -s: ${st:-no answer}; radosgw log: ${last:-empty}"
}
# rgw_launch PORT: start radosgw and wait until S3 answers on PORT; a radosgw that dies or stays silent for
# 60 s is stopped and started once more (seen once in CI: a radosgw that never answered). Exit 1 when both fail.
rgw_launch() {
  local port=$1 try p
  for try in 1 2; do
    radosgw $(C) -n client.rgw.a >>"$D/log/start.log" 2>&1 || { echo "radosgw start $try failed" >>"$D/log/start.log"; continue; }
    for _ in $(seq 1 300); do
      http_ok "$port" && return 0
      p=$(cat "$D/$RGW_PID" 2>/dev/null || true)
      # A radosgw that exited: no point waiting out the minute.
      [[ -n "$p" ]] && ! kill -0 "$p" 2>/dev/null && break
      sleep 0.2
    done
    echo "radosgw try $try: no answer on $port; $(diagnose)" >>"$D/log/start.log"
    p=$(cat "$D/$RGW_PID" 2>/dev/null || true)
    if [[ -n "$p" ]]; then
      kill "$p" 2>/dev/null || true
      for _ in $(seq 1 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$p" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      rm -f "$D/$RGW_PID"
    fi
  done
  return 1
}
C() { echo "-c $D/ceph.conf"; }

start() {
  command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null && command -v radosgw >/dev/null \
    && command -v radosgw-admin >/dev/null \
    || die "ceph binaries missing: run apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common"
  local port=${1:-}
  if [[ -e "$D" ]]; then
    [[ -d "$D" ]] || die "$D exists and is not a folder"
    if [[ -n "$(ls -A "$D")" && ! -e "$D/$MARK" ]]; then die "$D is not empty and was not made by this script; pick an empty folder"; fi
    for p in $(pids); do kill -0 "$p" 2>/dev/null && die "a cluster is already running in $D (pid $p); run: $0 stop $D"; done
    rm -rf "${D:?}"/{mon,osd0,rgw,run,log,users,ceph.conf,monmap,mon.keyring,s3.env,endpoint,osd0-block.img}
  fi
  mkdir -p "$D"/{mon,osd0,rgw,run,log,users}; touch "$D/$MARK"
  D=$(cd "$D" && pwd)
  [[ -n "$port" ]] || port=$(free_port)
  port_busy "$port" && die "port $port on $ADDR is in use; pick another"
  local monport; monport=$(free_port)
  local fsid; fsid=$(cat /proc/sys/kernel/random/uuid)
  # The 'ms ... mode = crc' lines matter: without them radosgw loops on get_initial_auth_request -13.
  cat > "$D/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = v2:$ADDR:$monport/0
public addr = $ADDR
ms bind ipv4 = true
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms client mode = crc
ms cluster mode = crc
ms service mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
mon data avail warn = 1
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd crush chooseleaf type = 0
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
pid file = $D/run/\$name.pid
osd pool default pg autoscale mode = off
[mon]
mon data = $D/mon
# The monitor batches changes for 1 s by default; each pool radosgw creates at start waits for one.
paxos propose interval = 0.05
paxos min wait = 0.01
[osd]
osd data = $D/osd0
osd objectstore = ${CEPH_OBJECTSTORE:-memstore}
memstore device bytes = 4294967296
bluestore block path = $D/osd0-block.img
bluestore block create = true
bluestore block size = 21474836480
bluestore cache size = 134217728
bluestore fsck on mkfs = false
osd memory target = 939524096
osd op num shards = 2
osd op num threads per shard = 1
[client.rgw.a]
rgw frontends = beast endpoint=$ADDR:$port
rgw data = $D/rgw
rgw dns name = localhost
rgw thread pool size = 64
CONF
  local c; c=$(C)
  set -E
  trap 'echo "ceph-s3: start failed at line $LINENO; stopping what started (logs in $D/log)" >&2; stop >/dev/null 2>&1 || true' ERR
  ceph-authtool --create-keyring "$D/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  monmaptool --create --addv a "[v2:$ADDR:$monport]" --fsid "$fsid" "$D/monmap" >/dev/null
  ceph-mon $c --mkfs -i a --monmap "$D/monmap" --keyring "$D/mon.keyring" >>"$D/log/start.log" 2>&1
  ceph-mon $c -i a >>"$D/log/start.log" 2>&1
  local uuid id; uuid=$(cat /proc/sys/kernel/random/uuid)
  id=$(timeout 60 ceph $c osd new "$uuid" 2>>"$D/log/start.log") || die "ceph-mon did not answer; see $D/log"
  ceph-osd $c -i "$id" --mkfs --osd-uuid "$uuid" >>"$D/log/start.log" 2>&1
  ceph-osd $c -i "$id" >>"$D/log/start.log" 2>&1
  # radosgw blocks on inactive placement groups without saying so: wait here until the OSD has booted.
  local up=''
  for _ in $(seq 1 90); do
    [[ "$(timeout 20 ceph $c osd stat -f json 2>>"$D/log/start.log")" == *'"num_up_osds":1'* ]] && { up=1; break; }
    sleep 1
  done
  [[ -n "$up" ]] || die "the OSD did not come up within 90 s; see $D/log/osd.$id.log ($(diagnose))"
  # Pools radosgw would otherwise create on the first bucket and first object (~2 s each, then).
  local pool
  for pool in .rgw.root default.rgw.buckets.index default.rgw.buckets.data; do
    timeout 60 ceph $c osd pool create "$pool" 8 >>"$D/log/start.log" 2>&1 || true
    timeout 60 ceph $c osd pool application enable "$pool" rgw >>"$D/log/start.log" 2>&1 || true
  done
  rgw_launch "$port" || { local why; why=$(diagnose); stop; die "radosgw did not answer on $ADDR:$port (two tries of 60 s); see $D/log/client.rgw.a.log ($why)"; }
  local ak sk; ak=$(rand_key 20 'A-Z0-9'); sk=$(rand_key 40 'A-Za-z0-9')
  radosgw-admin $c user create --uid=tessera-admin --display-name=tessera-admin --access-key="$ak" \
    --secret-key="$sk" --caps='users=*;buckets=*;metadata=*;usage=*' >/dev/null 2>>"$D/log/start.log"
  printf 'S3_ENDPOINT=http://%s:%s\nS3_REGION=us-east-1\nS3_ADMIN_ACCESS_KEY=%s\nS3_ADMIN_SECRET_KEY=%s\n' \
    "$ADDR" "$port" "$ak" "$sk" > "$D/s3.env"
  echo "http://$ADDR:$port" > "$D/endpoint"
  echo "ceph-s3: up: S3 endpoint http://$ADDR:$port (region us-east-1); admin keys in $D/s3.env"
}

stop() {
  local p n=0
  for p in $(pids); do kill "$p" 2>/dev/null && n=$((n + 1)) || true; done
  # radosgw and the OSD take 6-7 s to shut down cleanly; the data is scratch, so 2 s is enough grace.
  for _ in $(seq 1 20); do
    local alive=''
    for p in $(pids); do kill -0 "$p" 2>/dev/null && alive=1; done
    [[ -z "$alive" ]] && break; sleep 0.1
  done
  for p in $(pids); do kill -9 "$p" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    local alive=''
    for p in $(pids); do kill -0 "$p" 2>/dev/null && alive=1; done
    [[ -z "$alive" ]] && break; sleep 0.1
  done
  rm -f "$D"/run/*.pid
  echo "ceph-s3: stopped $n daemon(s) in $D"
}

status() {
  [[ -f "$D/endpoint" ]] || die "no cluster in $D"
  local ep; ep=$(cat "$D/endpoint")
  http_ok "${ep##*:}" || die "S3 endpoint $ep does not answer"
  echo "$ep"
}

rgw_stop() {
  [[ -f "$D/ceph.conf" ]] || die "no cluster in $D"
  local p; p=$(cat "$D/$RGW_PID" 2>/dev/null || true)
  [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null || die "radosgw is not running in $D"
  kill "$p" 2>/dev/null || true
  # Clean shutdown takes 6-7 s; the objects live in the OSD, so a kill after 1 s loses nothing.
  for _ in $(seq 1 10); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$p" 2>/dev/null && die "radosgw (pid $p) did not stop"
  rm -f "$D/$RGW_PID"
  echo "ceph-s3: radosgw (pid $p) stopped in $D"
}

rgw_start() {
  [[ -f "$D/ceph.conf" && -f "$D/endpoint" ]] || die "no cluster in $D; run: $0 start $D"
  local p; p=$(cat "$D/$RGW_PID" 2>/dev/null || true)
  [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null && die "radosgw is already running in $D (pid $p)"
  local ep port; ep=$(cat "$D/endpoint"); port=${ep##*:}
  rgw_launch "$port" && { echo "ceph-s3: radosgw up again at $ep"; return 0; }
  die "radosgw did not answer on $ep (two tries of 60 s); see $D/log/client.rgw.a.log ($(diagnose))"
}

node_user() {
  local name=${1:-}
  [[ "$name" =~ ^[a-z0-9][a-z0-9-]{0,40}$ ]] || die "node name must match [a-z0-9][a-z0-9-]{0,40}, got '$name'"
  [[ -f "$D/s3.env" ]] || die "no running cluster in $D; run: $0 start $D"
  local f="$D/users/$name.json"
  [[ -f "$f" ]] && { cat "$f"; return 0; }
  local c; c=$(C)
  local wak wsk rak rsk
  wak=$(rand_key 20 'A-Z0-9'); wsk=$(rand_key 40 'A-Za-z0-9')
  rak=$(rand_key 20 'A-Z0-9'); rsk=$(rand_key 40 'A-Za-z0-9')
  radosgw-admin $c user create --uid="$name" --display-name="tessera node $name" --max-buckets=1 \
    --access-key="$wak" --secret-key="$wsk" >/dev/null 2>>"$D/log/users.log" \
    || die "radosgw-admin user create $name failed; see $D/log/users.log"
  # A subuser's S3 key acts as the parent user but RGW masks its permissions to --access=read.
  radosgw-admin $c subuser create --uid="$name" --subuser="$name:read" --access=read --key-type=s3 \
    --access-key="$rak" --secret-key="$rsk" >/dev/null 2>>"$D/log/users.log" \
    || die "radosgw-admin subuser create $name:read failed; see $D/log/users.log"
  printf '{"name":"%s","endpoint":"%s","region":"us-east-1","write":{"accessKeyId":"%s","secretAccessKey":"%s"},"read":{"accessKeyId":"%s","secretAccessKey":"%s"}}\n' \
    "$name" "$(cat "$D/endpoint")" "$wak" "$wsk" "$rak" "$rsk" > "$f.tmp"
  mv "$f.tmp" "$f"
  cat "$f"
}

case "$CMD" in
  start) start "${3:-}" ;;
  stop) stop ;;
  status) status ;;
  node-user) node_user "${3:-}" ;;
  rgw-stop) rgw_stop ;;
  rgw-start) rgw_start ;;
  *) usage ;;
esac
