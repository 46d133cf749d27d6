#!/bin/bash
# Shared by the guest scripts (scenarios.sh, demo.sh): lunkitd, LUNs and disks inside the test VM.
R=${LUNKIT_RESULTS:-/lunkit-results}
B=$LUNKIT_BUILD
BUILD_DIR=$(readlink -f "$B")  # what /proc/PID/exe of its programs resolves to
SRC=$LUNKIT_SRC
LUNKITD_LOG=$R/lunkitd.log  # every lunkitd the scenarios start logs here, one after the other
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
# Where `make install` (default prefix) put lunkit in this root (guest-init.sh runs it once, early).
mkvar() { sed -n "s/^$1 = //p" "$B/Makefile"; }
INSTALLED_SBINDIR=$(prefix=$(mkvar prefix); exec_prefix=$(mkvar exec_prefix | sed "s|\${prefix}|$prefix|");
                    mkvar sbindir | sed "s|\${exec_prefix}|$exec_prefix|")
INSTALLED_LUNKITD=$INSTALLED_SBINDIR/lunkitd
ACTIVATION_FILE=$(mkvar dbusservicedir)/org.kernel.TCMUService1.service
POLICY_FILE=$(mkvar dbuspolicydir)/lunkit-dbus.conf
# What the sanitizers print when they find something (ASan, LSan, UBSan, TSan).
SANITIZER_REPORT='runtime error|ERROR: (Address|Leak|UndefinedBehavior|Thread)Sanitizer|WARNING: ThreadSanitizer|SUMMARY: (Address|Leak|UndefinedBehavior|Thread)Sanitizer'

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
  # scenario_exit stops the scenario's lunkitd whichever way it ends and checks how it ended.
  ( set -eo pipefail; LUNKIT_SCENARIO=$name; UBLK_STDERR_OFFSET=$(size_of "$R/ublk.stderr");
    trap scenario_exit EXIT; $fn ) >"$R/$name.log" 2>&1 &
  local pid=$! limit=${SCENARIO_TIMEOUT:-420}
  ( sleep "$limit"; echo "EXPECTATION FAILED: still running after ${limit}s" >>"$R/$name.log";
    pkill -KILL -P "$pid"; kill -KILL "$pid"; pkill -KILL fio; pkill -KILL -f targetcli; pkill -KILL -f "lunkit ublk" ) 2>/dev/null &
  local dog=$!
  wait "$pid"
  local rc=$? result
  kill "$dog" 2>/dev/null; wait "$dog" 2>/dev/null
  if [ $rc -eq 0 ]; then
    result="PASS $name"
  else
    local why
    why=$(grep -E 'EXPECTATION FAILED' "$R/$name.log" | tail -1)
    result="FAIL $name: ${why:-exit status $rc; last line: $(tail -1 "$R/$name.log")}"
  fi
  # What the scenario left behind is part of it: a teardown that hangs fails the scenario.
  if ! cleanup_targets >>"$R/$name.log" 2>&1; then
    result="FAIL $name: cleanup: $(grep -E '^cleanup:' "$R/$name.log" | tail -1)"
  fi
  echo "$result" >>"$R/results"
  say "scenario $name done: $result"
}

size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
# Fails the scenario, naming WHAT, when FILE (from byte OFFSET on) holds a sanitizer report.
check_sanitizer_reports() {  # check_sanitizer_reports FILE WHAT [OFFSET]
  local file=$1 what=$2 offset=${3:-0}
  [ -f "$file" ] || return 0
  if tail -c +$((offset + 1)) "$file" | grep -qE "$SANITIZER_REPORT"; then
    tail -c +$((offset + 1)) "$file" | grep -E -A12 "$SANITIZER_REPORT" | head -40
    fail_scenario "$what: sanitizer report in ${file##*/}: $(tail -c +$((offset + 1)) "$file" | grep -m1 -E "$SANITIZER_REPORT")"
  fi
}

# Starts the build's lunkitd in the foreground with the test handlers; the system bus lets it own
# org.kernel.TCMUService1 through the policy `make install` put in $POLICY_FILE. Each process gets
# its own stderr file (LUNKITD_STDERR, read by stop_lunkitd); LUNKITD_LOG_OFFSET is where its
# lines start in the shared $LUNKITD_LOG (lunkitd_log_since_start).
LUNKITD_STARTS=0
start_lunkitd() {
  install_handlers
  # One log file for the whole run, never rotated, so offsets into it stay valid.
  printf 'log_level = "debug";\nlog_target = "file";\nlog_file = "%s";\nlog_file_max_size = 1073741824;\n' \
    "$LUNKITD_LOG" > /tmp/lunkit.conf
  LUNKITD_STARTS=$((LUNKITD_STARTS + 1))
  LUNKITD_STDERR=$R/${LUNKIT_SCENARIO:-lunkitd}.lunkitd$LUNKITD_STARTS.stderr
  LUNKITD_LOG_OFFSET=$(size_of "$LUNKITD_LOG")
  "$B"/daemon/lunkitd --foreground --config /tmp/lunkit.conf --handler-dir /tmp/handlers \
    >"$LUNKITD_STDERR" 2>&1 &
  LUNKITD_PID=$!
  # Ready when it owns its bus name.
  for _ in $(seq 1 300); do
    if gdbus call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
         --method org.freedesktop.DBus.NameHasOwner org.kernel.TCMUService1 2>/dev/null | grep -q true; then
      return 0
    fi
    kill -0 "$LUNKITD_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "lunkitd did not come up"; tail -20 "$LUNKITD_STDERR"; tail -20 "$LUNKITD_LOG"; return 1
}
# What the lunkitd started last wrote to $LUNKITD_LOG (nothing an earlier process left there).
lunkitd_log_since_start() { tail -c +$((${LUNKITD_LOG_OFFSET:-0} + 1)) "$LUNKITD_LOG"; }
# Waits until the lunkitd started last logs a line matching PATTERN (grep -E); fails the
# scenario, naming WHAT, if it exits first or 30 s pass. Its log is a file: nothing to wait on.
wait_for_log_since_start() {  # wait_for_log_since_start PATTERN WHAT
  for _ in $(seq 1 300); do
    if lunkitd_log_since_start | grep -qE "$1"; then return 0; fi
    kill -0 "$LUNKITD_PID" 2>/dev/null || fail_scenario "lunkitd (pid $LUNKITD_PID) exited before it $2"
    sleep 0.1
  done
  fail_scenario "lunkitd (pid $LUNKITD_PID) never $2 (no '$1' in its log)"
}
# Whatever a scenario left behind (it may have stopped halfway).
# Targets are torn down while lunkitd still serves them: a disk going away sends SYNCHRONIZE
# CACHE, which would wait out the kernel's command timeout in a ring nobody serves.
cleanup_targets() {
  local ok=0
  unmount_all
  # The scenario ran in a subshell: find its lunkitd by process, not by variable. Usually its
  # EXIT trap has cleared the configuration and stopped it already: then nothing is left here.
  if targets_left; then
    [ -n "$(build_lunkitd_pids)" ] || start_lunkitd >/dev/null 2>&1 || true
    targetcli_bounded 120 clearconfig confirm=True >/dev/null || { say "cleanup: clearconfig failed"; ok=1; }
  fi
  stop_build_lunkitds
  # One the bus started from the installed activation file (the install scenario).
  pkill -TERM -f "^$INSTALLED_LUNKITD" 2>/dev/null || true
  LUNKITD_PID=
  # ublk servers and their devices.
  pkill -TERM -f "lunkit ublk" 2>/dev/null || true
  for _ in $(seq 1 100); do pgrep -f "lunkit ublk" >/dev/null || break; sleep 0.1; done
  pkill -KILL -f "lunkit ublk" 2>/dev/null || true
  for id in $(ublk_ids); do timeout 30 "$LUNKIT_CLI" ublk del "$id" 2>/dev/null || say "cleanup: ublk del $id failed"; done
  # A Ceph cluster a scenario started.
  for d in /tmp/ceph-*; do
    if [ -f "$d/ceph.conf" ]; then "$SRC/tests/ceph/ceph-cluster.sh" destroy "$d"; fi
  done
  return $ok
}
# Every running lunkitd of the build under test, not the installed one, whether libtool wrapped
# it (daemon/.libs/lt-lunkitd) or not (daemon/lunkitd): by the executable, not the command line.
build_lunkitd_pids() {
  local pid exe
  for pid in $(pgrep -x '(lt-)?lunkitd'); do
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
    case ${exe% (deleted)} in
      "$BUILD_DIR"/daemon/lunkitd | "$BUILD_DIR"/daemon/.libs/lunkitd | "$BUILD_DIR"/daemon/.libs/lt-lunkitd) echo "$pid" ;;
    esac
  done
}
# SIGTERM to every lunkitd of the build, SIGKILL to any still there after 10 s.
stop_build_lunkitds() {
  local pids
  pids=$(build_lunkitd_pids)
  [ -n "$pids" ] || return 0
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 1 100); do [ -n "$(build_lunkitd_pids)" ] || return 0; sleep 0.1; done
  say "cleanup: lunkitd $pids did not exit on SIGTERM; killed"
  kill -KILL $(build_lunkitd_pids) 2>/dev/null || true
}
# Runs targetcli ARGS for at most LIMIT seconds. `timeout` is no bound here: a configfs write can
# sleep in the kernel where no signal reaches it (TCMU waits for a daemon's netlink reply without
# a timeout), and timeout waits for its child. Past the limit this prints where the blocked tasks
# sleep, releases the kernel's pending netlink waits (lunkitd --release-netlink, as the unit's
# ExecStopPost does) so the write returns, and fails.
targetcli_bounded() {  # targetcli_bounded LIMIT ARGS...
  local limit=$1 pid
  shift
  targetcli "$@" &
  pid=$!
  for _ in $(seq 1 $((limit * 10))); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid"
      return
    fi
    sleep 0.1
  done
  say "cleanup: targetcli $* still running after ${limit}s"
  blocked_tasks
  "$B"/daemon/lunkitd --release-netlink || true
  kill -KILL "$pid" 2>/dev/null
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then say "cleanup: targetcli (pid $pid) is still blocked"; else wait "$pid"; fi
  return 124
}
# Every task in uninterruptible sleep, with its kernel stack.
blocked_tasks() {
  local d
  for d in /proc/[0-9]*; do
    [ "$(awk '{print $3}' "$d/stat" 2>/dev/null)" = D ] || continue
    echo "blocked: pid ${d#/proc/} ($(cat "$d/comm" 2>/dev/null)): $(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)"
    sed 's/^/    /' "$d/stack" 2>/dev/null
  done
}
# Whether configfs still holds a storage object or a fabric target.
targets_left() {
  local t=/sys/kernel/config/target
  [ -n "$(find "$t/core" -mindepth 2 -maxdepth 2 -type d ! -path "$t/core/alua/*" 2>/dev/null)" ] ||
    [ -n "$(find "$t/loopback" "$t/iscsi" -mindepth 1 -maxdepth 1 -type d ! -name discovery_auth 2>/dev/null)" ]
}
# Stops the lunkitd start_lunkitd started and fails the scenario if it did not end as asked:
# after SIGKILL it must have died of it (status 137), after any other signal it must exit 0; and
# its stderr must hold no sanitizer report.
stop_lunkitd() {  # stop_lunkitd [SIGNAL]
  local sig=${1:-TERM} pid=${LUNKITD_PID:-} rc=0 want=0 before=
  [ -n "$pid" ] || return 0
  if ! kill -"$sig" "$pid" 2>/dev/null; then before=" (it had exited before the signal)"; fi
  wait "$pid" 2>/dev/null || rc=$?
  LUNKITD_PID=
  cat "$LUNKITD_STDERR" >>"$R/lunkitd.stderr" 2>/dev/null || true
  check_sanitizer_reports "$LUNKITD_STDERR" "lunkitd (pid $pid)"
  case $sig in KILL | 9) want=137 ;; esac
  if [ "$rc" -ne "$want" ]; then
    tail -5 "$LUNKITD_STDERR"
    fail_scenario "lunkitd (pid $pid) exited with status $rc, stopped with SIG$sig (expected $want)$before"
  fi
}
# A scenario's EXIT trap, in its subshell: tears down its targets while its lunkitd still serves
# them (see cleanup_targets), stops that lunkitd with the checks above, and looks for sanitizer
# reports from the `lunkit ublk` servers it ran. Keeps a failure's own status and message.
scenario_exit() {
  local rc=$?
  trap - EXIT
  set +e
  # A scenario's own teardown (SCENARIO_TEARDOWN names it) first: it may hold what the targets
  # need gone (multipath maps, iSCSI sessions).
  if [ -n "${SCENARIO_TEARDOWN:-}" ]; then "$SCENARIO_TEARDOWN"; fi
  if [ -n "${LUNKITD_PID:-}" ] && kill -0 "$LUNKITD_PID" 2>/dev/null; then
    unmount_all
    targetcli_bounded 120 clearconfig confirm=True >/dev/null 2>&1 || { say "scenario end: clearconfig failed"; rc=1; }
  fi
  (check_sanitizer_reports "$R/ublk.stderr" "lunkit ublk" "${UBLK_STDERR_OFFSET:-0}") || rc=1
  # Not in a subshell: only this shell can wait for its child. A failure exits here with 1.
  stop_lunkitd TERM
  exit "$rc"
}
unmount_all() {
  local m
  for m in /mnt/*; do
    if mountpoint -q "$m"; then umount -l "$m" || say "cannot unmount $m"; fi
  done
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
  # One command a line: in a set -e function, a failing `a` in `a && b` does not stop it.
  mkdir -p "$mnt"
  mount "$disk" "$mnt"
  dd if=/dev/urandom of=/tmp/data bs=1M count=8 status=none
  cp /tmp/data "$mnt/data"
  sync
  umount "$mnt"
  mount "$disk" "$mnt"
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
  local so
  mkdir -p /tmp/handlers
  chmod 755 /tmp/handlers
  for so in "$B"/handlers/.libs/{file,ram,null,rbd}.so "$B"/tests/plugins/.libs/faulty.so; do
    [ -f "$so" ] || continue
    # A new file renamed into place: a lunkitd still running keeps the copy it mapped intact
    # (cp would rewrite that file in place under it).
    cp "$so" "/tmp/handlers/.${so##*/}.new"
    chmod 644 "/tmp/handlers/.${so##*/}.new"
    mv -f "/tmp/handlers/.${so##*/}.new" "/tmp/handlers/${so##*/}"
  done
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

# ---- install ----
# `make install` of the build, default prefix, into this root (the guest's, an overlay on the
# host's: the host is not changed); guest-init.sh runs it once, before the system bus starts, so
# the bus reads lunkit's installed policy. The status is kept for the install scenario.
# The installed activation file is set aside (renamed, its content untouched) until the install
# scenario uses it: with it in place, any call to org.kernel.TCMUService1 while a scenario has no
# lunkitd running would start the installed one behind the scenario's back.
install_lunkit() {
  local rc=0
  make -C "$B" install >"$R/make-install.log" 2>&1 || rc=$?
  echo "$rc" >/run/lunkit-install.status
  if [ -f "$ACTIVATION_FILE" ]; then mv "$ACTIVATION_FILE" "$ACTIVATION_FILE.off"; fi
  return "$rc"
}
activation() {  # activation on|off: puts the installed activation file in place or aside
  if [ "$1" = on ]; then mv "$ACTIVATION_FILE.off" "$ACTIVATION_FILE"; else mv "$ACTIVATION_FILE" "$ACTIVATION_FILE.off"; fi
  dbus-send --system --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.ReloadConfig >/dev/null
}
