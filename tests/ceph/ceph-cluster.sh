#!/usr/bin/env bash
# A throwaway single-node Ceph cluster for the tests: one monitor and one OSD from Debian's
# packages, every file in one scratch directory, listening on 127.0.0.1 only, no cephx.
#
#   ceph-cluster.sh start DIR [memstore|bluestore]   start it; DIR/ceph.conf is the client config
#   ceph-cluster.sh stop DIR                         kill both daemons (DIR stays)
#   ceph-cluster.sh stop-osd DIR | start-osd DIR     take the OSD away and bring it back
#   ceph-cluster.sh pause-osd DIR | resume-osd DIR   SIGSTOP/SIGCONT: an OSD that stops answering
#   ceph-cluster.sh stop-mon DIR | start-mon DIR
#   ceph-cluster.sh destroy DIR                      stop and delete DIR
#
# bluestore keeps the data on a file in DIR, so an OSD restart loses nothing; memstore (the
# default) is faster to create and keeps everything in the OSD's memory. Ports: a free one near
# 3300 unless CEPH_PORT is set.
set -euo pipefail
cmd=${1:?usage: ceph-cluster.sh start|stop|... DIR}
dir=${2:?usage: ceph-cluster.sh $cmd DIR}

conf() { echo "$dir/ceph.conf"; }
ceph_() { timeout 60 ceph -c "$(conf)" "$@"; }
pid_of() { cat "$dir/run/$1.pid" 2>/dev/null || true; }
alive() { local p; p=$(pid_of "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
wait_gone() {  # wait_gone NAME: until the daemon's process has exited
  local p; p=$(pid_of "$1")
  [ -n "$p" ] || return 0
  for _ in $(seq 1 200); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.05; done
  kill -KILL "$p" 2>/dev/null || true
}
# kill -STOP returns before every thread of the process has stopped: a thread busy on another
# CPU (the OSD finishing a write) still runs for a moment, so an I/O sent "after the pause" could
# complete. Wait until each thread is stopped (state T).
wait_stopped() {  # wait_stopped PID
  local t state all
  for _ in $(seq 1 200); do
    all=1
    for t in /proc/"$1"/task/*; do
      state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "$t/status" 2>/dev/null)
      [ "$state" = T ] || [ -z "$state" ] || { all=0; break; }
    done
    [ $all -eq 1 ] && return 0
    sleep 0.01
  done
  echo "ceph-cluster.sh: process $1 did not stop" >&2
  return 1
}
free_port() {
  local p
  for p in $(seq "${CEPH_PORT:-3300}" 3400); do
    (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  echo "ceph-cluster: no free port" >&2; exit 1
}
wait_osd_up() {
  for _ in $(seq 1 300); do
    ceph_ osd dump 2>/dev/null | grep -q "^osd.0 up" && return 0
    sleep 0.2
  done
  echo "ceph-cluster: osd.0 did not come up; see $dir/log" >&2
  tail -20 "$dir/log/osd.0.log" >&2 || true
  return 1
}
start_osd() {
  ceph-osd -c "$(conf)" -i 0 >>"$dir/log/osd.0.out" 2>&1
  wait_osd_up
}

start() {
  local store=${3:-memstore}
  command -v ceph-mon >/dev/null || { echo "ceph-cluster: install ceph-mon ceph-osd ceph-common" >&2; exit 1; }
  [ "$(hostname)" != "(none)" ] || hostname ceph-test  # CRUSH needs a host name
  rm -rf "$dir" && mkdir -p "$dir"/{run,log,mon,osd}
  local fsid port
  fsid=$(uuidgen)
  port=$(free_port)
  cat >"$(conf)" <<CONF
[global]
fsid = $fsid
mon_host = v2:127.0.0.1:$port
public_network = 127.0.0.1/32
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
osd_crush_chooseleaf_type = 0
run_dir = $dir/run
pid_file = $dir/run/\$name.pid
log_file = $dir/log/\$name.log
admin_socket = $dir/run/\$name.asok
mon_data = $dir/mon/\$name
osd_data = $dir/osd/\$name
osd_objectstore = $store
memstore_device_bytes = 1073741824
bluestore_block_path = $dir/osd/\$name.block
bluestore_block_size = 2147483648
bluestore_block_create = true
bluestore_fsck_on_mkfs = false
osd_memory_target = 939524096
ms_bind_ipv4 = true
ms_bind_ipv6 = false
mon_osd_full_ratio = 0.99
mon_osd_nearfull_ratio = 0.98
osd_max_object_name_len = 256
osd_max_object_namespace_len = 64
# A PG's read lease is 0.8 x osd_heartbeat_grace (16 s by default). An OSD stopped (pause-osd)
# past it comes back with its PGs "laggy" and parks client ops until the lease is renewed, which
# a PG without peers may never get to (ops stuck "delayed" for minutes; ceph-container#1682,
# ceph#71663). The tests' pauses (two op timeouts) stay well inside 96 s; with one OSD and no
# peers the grace matters for nothing else.
osd_heartbeat_grace = 120
CONF
  monmaptool --create --add a "v2:127.0.0.1:$port" --fsid "$fsid" "$dir/monmap" >/dev/null
  ceph-mon -c "$(conf)" --mkfs -i a --monmap "$dir/monmap" >/dev/null
  ceph-mon -c "$(conf)" -i a >>"$dir/log/mon.a.out" 2>&1
  local uuid id
  uuid=$(uuidgen)
  id=$(ceph_ osd new "$uuid")
  [ "$id" = 0 ] || { echo "ceph-cluster: osd new gave id '$id'" >&2; exit 1; }
  mkdir -p "$dir/osd/osd.0"
  ceph-osd -c "$(conf)" -i 0 --mkfs --osd-uuid "$uuid" >"$dir/log/osd-mkfs.out" 2>&1 ||
    { cat "$dir/log/osd-mkfs.out" >&2; exit 1; }
  start_osd
  ceph_ osd pool create rbd 8 >/dev/null 2>&1
  ceph_ osd pool application enable rbd rbd >/dev/null 2>&1
  echo "ceph-cluster: up in $dir (mon 127.0.0.1:$port, $store)"
}

stop_all() {
  local n
  for n in osd.0 mon.a; do
    local p; p=$(pid_of "$n")
    [ -n "$p" ] && { kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; } || true
  done
  for n in osd.0 mon.a; do wait_gone "$n"; done
}

case "$cmd" in
  start) start "$@" ;;
  stop) stop_all ;;
  destroy) stop_all; rm -rf "$dir" ;;
  stop-osd) kill -TERM "$(pid_of osd.0)"; wait_gone osd.0 ;;
  start-osd) alive osd.0 || start_osd ;;
  pause-osd) kill -STOP "$(pid_of osd.0)"; wait_stopped "$(pid_of osd.0)" ;;
  resume-osd) kill -CONT "$(pid_of osd.0)" ;;
  stop-mon) kill -TERM "$(pid_of mon.a)"; wait_gone mon.a ;;
  start-mon) alive mon.a || ceph-mon -c "$(conf)" -i a >>"$dir/log/mon.a.out" 2>&1 ;;
  *) echo "ceph-cluster.sh: unknown command $cmd" >&2; exit 2 ;;
esac
