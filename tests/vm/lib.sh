#!/bin/bash
# Shared by the guest scripts (scenarios.sh, demo.sh): lunkitd, LUNs and disks inside the test VM.
R=${LUNKIT_RESULTS:-/lunkit-results}
B=$LUNKIT_BUILD
SRC=$LUNKIT_SRC
LUNKITD_LOG=$R/lunkitd.log
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1

say() { echo "[$(date +%T)] $*"; }
expect() {  # expect "what" command...: ends the scenario (a subshell) when the command fails
  local what=$1
  shift
  if ! "$@"; then
    echo "EXPECTATION FAILED: $what"
    exit 1
  fi
}
fail_scenario() {
  echo "EXPECTATION FAILED: $*"
  exit 1
}
scenario() {  # scenario NAME FUNCTION
  local name=$1 fn=$2
  if [ "${LUNKIT_ONLY:-all}" != all ] && [[ ",$LUNKIT_ONLY," != *",$name,"* ]]; then return; fi
  say "scenario $name"
  # Not inside an `if`: bash ignores set -e in a condition, even in a subshell. A watchdog ends a
  # scenario that hangs, so one stuck command fails that scenario and not the whole run.
  ( set -eo pipefail; $fn ) >"$R/$name.log" 2>&1 &
  local pid=$! limit=${SCENARIO_TIMEOUT:-420}
  ( sleep "$limit"; echo "EXPECTATION FAILED: still running after ${limit}s" >>"$R/$name.log";
    pkill -KILL -P "$pid"; kill -KILL "$pid"; pkill -KILL fio; pkill -KILL -f targetcli; pkill -KILL -f "lunkit ublk" ) 2>/dev/null &
  local dog=$!
  wait "$pid"
  local rc=$?
  kill "$dog" 2>/dev/null; wait "$dog" 2>/dev/null
  if [ $rc -eq 0 ]; then
    echo "PASS $name" >>"$R/results"
  else
    local why
    why=$(grep -E 'EXPECTATION FAILED' "$R/$name.log" | tail -1)
    echo "FAIL $name: ${why:-exit status $rc; last line: $(tail -1 "$R/$name.log")}" >>"$R/results"
  fi
  cleanup_targets
  say "scenario $name done: $(tail -1 "$R/results")"
}

start_lunkitd() {
  install_handlers
  printf 'log_level = "debug";\nlog_target = "file";\nlog_file = "%s";\n' "$LUNKITD_LOG" > /tmp/lunkit.conf
  "$B"/daemon/lunkitd --foreground --config /tmp/lunkit.conf --handler-dir /tmp/handlers \
    >>"$R/lunkitd.stderr" 2>&1 &
  LUNKITD_PID=$!
  # Ready when it owns its bus name.
  for _ in $(seq 1 300); do
    if gdbus call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
         --method org.freedesktop.DBus.NameHasOwner org.kernel.TCMUService1 2>/dev/null | grep -q true; then
      return 0
    fi
    sleep 0.1
  done
  echo "lunkitd did not come up"; tail -20 "$LUNKITD_LOG"; return 1
}
# Whatever a scenario left behind (it may have stopped halfway).
# Targets are torn down while lunkitd still serves them: a disk going away sends SYNCHRONIZE
# CACHE, which would wait out the kernel's command timeout in a ring nobody serves.
cleanup_targets() {
  for m in /mnt/*; do mountpoint -q "$m" && umount -l "$m"; done
  # The scenario ran in a subshell: find its lunkitd by process, not by variable.
  pgrep -f daemon/.libs/lunkitd >/dev/null || start_lunkitd >/dev/null 2>&1 || true
  timeout 120 targetcli clearconfig confirm=True >/dev/null 2>&1 || say "cleanup: clearconfig failed" 
  pkill -TERM -f daemon/.libs/lunkitd 2>/dev/null || true
  for _ in $(seq 1 100); do pgrep -f daemon/.libs/lunkitd >/dev/null || break; sleep 0.1; done
  pkill -KILL -f daemon/.libs/lunkitd 2>/dev/null || true
  LUNKITD_PID=
  # ublk servers and their devices.
  pkill -TERM -f "lunkit ublk" 2>/dev/null || true
  for _ in $(seq 1 100); do pgrep -f "lunkit ublk" >/dev/null || break; sleep 0.1; done
  pkill -KILL -f "lunkit ublk" 2>/dev/null || true
  for id in $(ublk_ids); do timeout 30 "$LUNKIT_CLI" ublk del "$id" 2>/dev/null || say "cleanup: ublk del $id failed"; done
  # A Ceph cluster a scenario started.
  for d in /tmp/ceph-*; do [ -f "$d/ceph.conf" ] && "$SRC/tests/ceph/ceph-cluster.sh" destroy "$d"; done
}
stop_lunkitd() {  # stop_lunkitd [SIGNAL]
  local sig=${1:-TERM}
  [ -n "${LUNKITD_PID:-}" ] || return 0
  kill -"$sig" "$LUNKITD_PID" 2>/dev/null || true
  wait "$LUNKITD_PID" 2>/dev/null || true
  LUNKITD_PID=
}
# The block device of a SCSI disk whose unit serial (VPD 0x80) is SERIAL, once it appears.
wait_for_disk() {  # wait_for_disk SERIAL
  local serial=$1 d
  for _ in $(seq 1 300); do
    for d in /sys/block/sd*; do
      [ -e "$d" ] || continue
      if sg_inq -p 0x80 "/dev/${d##*/}" 2>/dev/null | grep -q "$serial"; then
        echo "/dev/${d##*/}"
        return 0
      fi
    done
    sleep 0.1
  done
  return 1
}

# A user:file LUN on a loopback target: make_lun NAME SIZE SERIAL [LUN_WWN]
make_lun() {
  local name=$1 size=$2 serial=$3 wwn=${4:-naa.5001405000000002}
  truncate -s "$size" "/var/lib/lunkit/$name.img"
  targetcli /backstores/user:file create name="$name" size="$size" cfgstring="/var/lib/lunkit/$name.img" wwn="$serial"
  [ -d "/sys/kernel/config/target/loopback/$wwn" ] || targetcli /loopback create "$wwn"
  targetcli "/loopback/$wwn/luns" create "/backstores/user:file/$name"
}
# Waits until the disk has completed at least N more writes (sectors written grows).
wait_for_writes() {  # wait_for_writes DISK COUNT
  local dev=${1##*/} want=$2 start now
  start=$(awk '{print $5}' "/sys/block/$dev/stat")
  for _ in $(seq 1 600); do
    now=$(awk '{print $5}' "/sys/block/$dev/stat")
    [ $((now - start)) -ge "$want" ] && return 0
    sleep 0.1
  done
  echo "no progress on $dev"; return 1
}
ext4_round_trip() {  # ext4_round_trip DISK MOUNTPOINT: 8 MiB (kept in /tmp/data) through ext4, a remount, fsck
  local disk=$1 mnt=$2
  mkfs.ext4 -q -F "$disk"
  mkdir -p "$mnt" && mount "$disk" "$mnt"
  dd if=/dev/urandom of=/tmp/data bs=1M count=8 status=none
  cp /tmp/data "$mnt/data" && sync
  umount "$mnt" && mount "$disk" "$mnt"
  expect "the file reads back through ext4" cmp /tmp/data "$mnt/data"
  umount "$mnt"
  expect "fsck finds ext4 clean" fsck.ext4 -fn "$disk"
}

fio_verify() {  # fio_verify DISK SIZE OUTPUT [extra fio args]
  local disk=$1 size=$2 out=$3
  shift 3
  fio --name=verify --filename="$disk" --rw=randwrite --bs=4k --size="$size" --ioengine=libaio \
      --iodepth=8 --direct=1 --verify=crc32c --do_verify=1 --verify_fatal=1 --output="$out" "$@"
}


# ---- ublk ----
LUNKIT_CLI=$B/cli/lunkit
# The handlers lunkitd and `lunkit ublk` load (plus the test-only faulty one), where root owns them.
install_handlers() {
  mkdir -p /tmp/handlers
  cp "$B"/handlers/.libs/{file,ram,null,rbd}.so /tmp/handlers/
  [ -f "$B"/tests/plugins/.libs/faulty.so ] && cp "$B"/tests/plugins/.libs/faulty.so /tmp/handlers/
  chmod 755 /tmp/handlers && chmod 644 /tmp/handlers/*.so
}
# Starts `lunkit ublk add ARGS...` in the background; sets UBLK_PID and UBLK_DEV once the device
# it prints exists.
start_ublk() {
  install_handlers
  local out
  out=$(mktemp /tmp/ublk-out.XXXX)
  "$LUNKIT_CLI" ublk add --handler-dir /tmp/handlers --log-level info "$@" >"$out" 2>>"$R/ublk.stderr" &
  UBLK_PID=$!
  UBLK_DEV=
  for _ in $(seq 1 600); do
    UBLK_DEV=$(head -1 "$out")
    [ -n "$UBLK_DEV" ] && [ -b "$UBLK_DEV" ] && { UBLK_ID=${UBLK_DEV#/dev/ublkb}; return 0; }
    kill -0 "$UBLK_PID" 2>/dev/null || { echo "lunkit ublk add exited: $(tail -3 "$R/ublk.stderr")"; return 1; }
    sleep 0.1
  done
  echo "no ublk device appeared"; return 1
}
# Waits for a background process with a limit: wait_pid PID SECONDS; returns its status (124: late).
wait_pid() {
  local pid=$1 limit=$2
  for _ in $(seq 1 $((limit * 10))); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid"; return $?; }
    sleep 0.1
  done
  return 124
}
ublk_ids() { ls /sys/class/ublk-char 2>/dev/null | sed -n 's/^ublkc//p'; }
