#!/bin/bash
# What the benchmark guests share (sourced by bench/vm/*-guest.sh): the test VM's helpers, the
# settings compare.sh passes in, and one fio run turned into one JSON line of $OUT.
source "$LUNKIT_SRC/tests/vm/lib.sh"
set -u
[ -f "$R/bench.env" ] && source "$R/bench.env"
OUT=$R/results.jsonl
REPORT="/usr/bin/python3 $LUNKIT_SRC/bench/compare_report.py"
SIZE_MB=256
IMG=/bench/bench.img  # on a tmpfs of its own (the guest's root is an overlay)
RUNTIME=${LUNKIT_BENCH_RUNTIME:-10}
ONLY=${LUNKIT_BENCH_ONLY:-all}
TICK=$(getconf CLK_TCK)

begin_results() {
  say "benchmark: kernel $(uname -r), ${RUNTIME}s per workload, ${SIZE_MB} MiB devices"
  : >"$OUT"
  echo "{\"meta\": {\"kernel\": \"$(uname -r)\", \"cpus\": $(nproc), \"runtime_s\": $RUNTIME, \"size_mib\": $SIZE_MB}}" >>"$OUT"
}

cpu_ticks() { [ -n "$1" ] && awk '{print $14 + $15}' "/proc/$1/stat" || echo 0; }
busy_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
fill_image() { dd if=/dev/urandom of="$IMG" bs=1M count=$SIZE_MB status=none; }
sd_disks() { ls -d /sys/block/sd* 2>/dev/null | sed 's|.*/||' | sort; }
# The SCSI disk that appears after `before` was taken.
new_disk() {
  local before=$1 d
  for _ in $(seq 1 300); do
    for d in $(sd_disks); do
      grep -qx "$d" <<<"$before" || { echo "/dev/$d"; return 0; }
    done
    sleep 0.1
  done
  return 1
}
# loopback_disk STORAGE_OBJECT: exports a backstore (e.g. /backstores/user:rbd/b0) on a new
# tcm_loop target and prints the SCSI disk that appears.
loopback_disk() {
  local before wwn=naa.5001405$(printf '%09d' $((RANDOM * 1000 + RANDOM % 1000)))
  before=$(sd_disks)
  targetcli /loopback create "$wwn" >/dev/null &&
    targetcli "/loopback/$wwn/luns" create "$1" >/dev/null &&
    new_disk "$before"
}
# Debian's tcmu-runner, owning the D-Bus name targetcli talks to (lunkitd must not run).
start_tcmu_runner() {
  command -v tcmu-runner >/dev/null || return 1
  tcmu-runner >"$R/tcmu-runner.stdout" 2>&1 &
  TCMU_RUNNER_PID=$!
  for _ in $(seq 1 300); do
    gdbus call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
      --method org.freedesktop.DBus.NameHasOwner org.kernel.TCMUService1 2>/dev/null | grep -q true && return 0
    sleep 0.1
  done
  return 1
}
stop_tcmu_runner() {
  timeout 120 targetcli clearconfig confirm=True >/dev/null 2>&1
  kill -TERM "$TCMU_RUNNER_PID"; wait_pid "$TCMU_RUNNER_PID" 30 || kill -KILL "$TCMU_RUNNER_PID"
  cp /var/log/tcmu-runner.log "$R/tcmu-runner.log" 2>/dev/null || true
}
# backstore_workloads CONFIG SERVER_PID BACKSTORE NAME CREATE-ARGS...: creates BACKSTORE/NAME with
# targetcli, exports it on tcm_loop and runs the workloads on its disk. The first step that fails
# is CONFIG's recorded failure; a first small direct write stands guard, so that a path that
# cannot write is reported in a line rather than stalling fio for the whole run.
backstore_workloads() {
  local config=$1 pid=$2 backstore=$3 name=$4 dev
  shift 4
  if ! targetcli "$backstore" create name="$name" "$@" >"$R/$config-create.txt" 2>&1; then
    failed_config "$config" "targetcli $backstore create failed: $(tail -1 "$R/$config-create.txt")"
  elif ! dev=$(loopback_disk "$backstore/$name"); then
    failed_config "$config" "no disk appeared"
  elif ! timeout 60 dd if=/dev/urandom of="$dev" bs=4k count=16 oflag=direct status=none 2>"$R/$config-dd.txt"; then
    failed_config "$config" "a 4 KiB direct write failed: $(head -1 "$R/$config-dd.txt")"
  else
    run_workloads "$config" "$dev" "$pid"
  fi
}
# What removes the targets after a lunkit TCMU config (rbd-guest.sh keeps its cluster).
TARGETS_CLEANUP=cleanup_targets
tcmu_lunkit() {  # tcmu_lunkit HANDLER CFGSTRING: lunkitd serving HANDLER on tcm_loop
  local handler=$1 cfg=$2
  start_lunkitd || { failed_config "lunkit-tcmu-$handler" "lunkitd did not start"; return; }
  backstore_workloads "lunkit-tcmu-$handler" "$LUNKITD_PID" "/backstores/user:$handler" b0 \
    size=${SIZE_MB}M cfgstring="$cfg"
  $TARGETS_CLEANUP
}
ublk_lunkit() {  # ublk_lunkit HANDLER ARGS...: `lunkit ublk add --handler HANDLER ARGS...`
  local handler=$1
  shift
  modprobe ublk_drv
  if start_ublk --handler "$handler" "$@"; then
    run_workloads "lunkit-ublk-$handler" "$UBLK_DEV" "$UBLK_PID"
    kill -TERM "$UBLK_PID"; wait_pid "$UBLK_PID" 60 || say "ublk server did not exit"
  else
    failed_config "lunkit-ublk-$handler" "lunkit ublk add failed: $(tail -1 "$R/ublk.stderr")"
  fi
}
failed_config() {  # failed_config CONFIG WHY
  say "$1: $2"
  $REPORT failure "$1" "$2" >>"$OUT"
}
wanted() { [ "$ONLY" = all ] || [[ ",$ONLY," == *",$1,"* ]]; }

# run_rounds PATH...: calls each PATH (a function that measures one path) in $ROUNDS rounds, the
# order reversed every other round, so that whatever warms up in the guest favours no path.
run_rounds() {
  local order="$*" round path
  for round in $(seq 1 "$ROUNDS"); do
    say "round $round: $order"
    for path in $order; do "$path"; done
    order=$(tr ' ' '\n' <<<"$order" | tac | tr '\n' ' ')
  done
  say "benchmark done"
}

# run_workloads CONFIG DEVICE SERVER_PID: the workloads in $WORKLOADS on a block device, with
# the CPU of the serving process measured around each. DEVICE "rbd:POOL/IMAGE;CONF" runs fio's
# rbd engine instead (librbd in fio's own process, whose CPU is then the one counted).
run_workloads() {
  local config=$1 dev=$2 pid=$3 w name rw bs qd c0 c1 s0 s1 target
  if [[ "$dev" == rbd:* ]]; then
    local spec=${dev#rbd:}
    target="--ioengine=rbd --clientname=admin --pool=${spec%%/*} --rbdname=$(basename "${spec%%;*}")"
    export CEPH_CONF=${spec#*;conf=}
    pid=fio
  else
    target="--filename=$dev --ioengine=libaio --direct=1"
  fi
  target="$target ${FIO_EXTRA:-}"  # a suite's own fio options (CPU pinning)
  say "$config on $dev (server pid ${pid:-none})"
  for w in $WORKLOADS; do
    IFS=: read -r name rw bs qd <<<"$w"
    c0=$(cpu_ticks "${pid/fio/}"); s0=$(busy_ticks)
    # fio runs under a wrapper that reports the CPU its whole process used (with the rbd engine,
    # librbd's threads are fio's own).
    # shellcheck disable=SC2086
    local fio_cpu
    fio_cpu=$(/usr/bin/python3 -c '
import resource, subprocess, sys
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=open("/tmp/fio.err", "w")).returncode
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.ru_utime + r.ru_stime if rc == 0 else "failed")' \
      fio --name=bench $target --rw="$rw" --bs="$bs" --iodepth="$qd" --size=${SIZE_MB}M \
        --runtime="$RUNTIME" --time_based --randrepeat=0 --output-format=json \
        --output=/tmp/fio.json)
    local rc=0
    [ "$fio_cpu" = failed ] && rc=1
    c1=$(cpu_ticks "${pid/fio/}"); s1=$(busy_ticks)
    local server=$((c1 - c0))
    [ "$pid" = fio ] && server="seconds:$fio_cpu"
    if [ $rc -ne 0 ]; then
      failed_config "$config/$name" "fio failed: $(head -c 300 /tmp/fio.err | tr '\n"' ' ')"
      continue
    fi
    $REPORT row /tmp/fio.json "$config" "$name" "$bs" "$qd" "$server" $((s1 - s0)) "$TICK" >>"$OUT"
    tail -1 "$OUT"
  done
}

