#!/bin/bash
# The comparison benchmark, inside the test VM (run by bench/compare.sh): the same image size, the
# same fio workloads, one boot, through
#   lunkit TCMU (lunkitd, tcm_loop) with the file, ram and null handlers,
#   lunkit ublk with the same three handlers,
#   tcmu-runner from Debian (user:qcow on a raw image; Debian ships no user:file),
#   the kernel's fileio and ramdisk backstores on tcm_loop, and the kernel loop device.
# Each fio run appends one JSON line to $R/compare.jsonl (bench/compare_report.py makes the
# table and the chart from it).
source "$LUNKIT_SRC/tests/vm/lib.sh"
set -u
[ -f "$R/bench.env" ] && source "$R/bench.env"
OUT=$R/compare.jsonl
REPORT="/usr/bin/python3 $LUNKIT_SRC/bench/compare_report.py"
SIZE_MB=256
IMG=/bench/bench.img  # on a tmpfs of its own (the guest's root is an overlay)
RUNTIME=${LUNKIT_BENCH_RUNTIME:-10}
ONLY=${LUNKIT_BENCH_ONLY:-all}
TICK=$(getconf CLK_TCK)
# name:fio-rw:block-size:iodepth. Writes first, so ram and null have data to read back.
WORKLOADS="write-128k:write:128k:8 randwrite-4k-qd1:randwrite:4k:1 randwrite-4k-qd32:randwrite:4k:32
read-128k:read:128k:8 randread-4k-qd1:randread:4k:1 randread-4k-qd32:randread:4k:32"

say "benchmark: kernel $(uname -r), ${RUNTIME}s per workload, ${SIZE_MB} MiB devices"
: >"$OUT"
echo "{\"meta\": {\"kernel\": \"$(uname -r)\", \"cpus\": $(nproc), \"runtime_s\": $RUNTIME, \"size_mib\": $SIZE_MB}}" >>"$OUT"

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
failed_config() {  # failed_config CONFIG WHY
  say "$1: $2"
  $REPORT failure "$1" "$2" >>"$OUT"
}
wanted() { [ "$ONLY" = all ] || [[ ",$ONLY," == *",$1,"* ]]; }

run_workloads() {  # run_workloads CONFIG DEVICE SERVER_PID
  local config=$1 dev=$2 pid=$3 w name rw bs qd c0 c1 s0 s1
  say "$config on $dev (server pid ${pid:-none})"
  for w in $WORKLOADS; do
    IFS=: read -r name rw bs qd <<<"$w"
    c0=$(cpu_ticks "$pid"); s0=$(busy_ticks)
    fio --name=bench --filename="$dev" --rw="$rw" --bs="$bs" --iodepth="$qd" --ioengine=libaio \
        --direct=1 --size=${SIZE_MB}M --runtime="$RUNTIME" --time_based --randrepeat=0 \
        --output-format=json --output=/tmp/fio.json >/dev/null 2>/tmp/fio.err
    local rc=$?
    c1=$(cpu_ticks "$pid"); s1=$(busy_ticks)
    if [ $rc -ne 0 ]; then
      failed_config "$config/$name" "fio failed: $(head -c 300 /tmp/fio.err | tr '\n"' ' ')"
      continue
    fi
    $REPORT row /tmp/fio.json "$config" "$name" "$bs" "$qd" $((c1 - c0)) $((s1 - s0)) "$TICK" >>"$OUT"
    tail -1 "$OUT"
  done
}

# ---- lunkit TCMU ----
tcmu_lunkit() {  # tcmu_lunkit HANDLER CFGSTRING
  local handler=$1 cfg=$2 before dev
  start_lunkitd || { failed_config "lunkit-tcmu-$handler" "lunkitd did not start"; return; }
  before=$(sd_disks)
  targetcli /backstores/user:$handler create name=b0 size=${SIZE_MB}M cfgstring="$cfg" >/dev/null
  targetcli /loopback create naa.5001405000000042 >/dev/null
  targetcli /loopback/naa.5001405000000042/luns create /backstores/user:$handler/b0 >/dev/null
  if dev=$(new_disk "$before"); then
    run_workloads "lunkit-tcmu-$handler" "$dev" "$LUNKITD_PID"
  else
    failed_config "lunkit-tcmu-$handler" "no disk appeared"
  fi
  cleanup_targets
}

# ---- lunkit ublk ----
ublk_lunkit() {  # ublk_lunkit HANDLER ARGS...
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

# ---- tcmu-runner (Debian's package) ----
tcmu_runner() {
  local before dev pid
  command -v tcmu-runner >/dev/null || { failed_config tcmu-runner-qcow "tcmu-runner is not installed"; return; }
  tcmu-runner >"$R/tcmu-runner.stdout" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    gdbus call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
      --method org.freedesktop.DBus.NameHasOwner org.kernel.TCMUService1 2>/dev/null | grep -q true && break
    sleep 0.1
  done
  targetcli ls /backstores > "$R/tcmu-runner-backstores.txt" 2>&1
  before=$(sd_disks)
  if ! targetcli /backstores/user:qcow create name=q0 size=${SIZE_MB}M cfgstring="$IMG" >"$R/tcmu-runner-create.txt" 2>&1; then
    failed_config tcmu-runner-qcow "targetcli user:qcow create failed: $(tail -1 "$R/tcmu-runner-create.txt")"
  else
    targetcli /loopback create naa.5001405000000043 >/dev/null
    targetcli /loopback/naa.5001405000000043/luns create /backstores/user:qcow/q0 >/dev/null
    if ! dev=$(new_disk "$before"); then
      failed_config tcmu-runner-qcow "no disk appeared"
    elif ! timeout 60 dd if=/dev/urandom of="$dev" bs=4k count=16 oflag=direct status=none 2>/tmp/dd.err; then
      failed_config tcmu-runner-qcow "a 4 KiB direct write failed: $(head -1 /tmp/dd.err)"
    else
      run_workloads tcmu-runner-qcow "$dev" "$pid"
    fi
  fi
  timeout 120 targetcli clearconfig confirm=True >/dev/null 2>&1
  kill -TERM "$pid"; wait_pid "$pid" 30 || kill -KILL "$pid"
  cp /var/log/tcmu-runner.log "$R/tcmu-runner.log" 2>/dev/null || true
}

# ---- the kernel's own ----
kernel_backstore() {  # kernel_backstore NAME TARGETCLI-CREATE-ARGS...
  local name=$1 before dev
  shift
  before=$(sd_disks)
  targetcli "$@" >/dev/null  # $1 is the backstore's path, e.g. /backstores/fileio
  targetcli /loopback create naa.5001405000000044 >/dev/null
  targetcli /loopback/naa.5001405000000044/luns create "$1/k0" >/dev/null
  if dev=$(new_disk "$before"); then
    run_workloads "$name" "$dev" ""
  else
    failed_config "$name" "no disk appeared"
  fi
  timeout 120 targetcli clearconfig confirm=True >/dev/null 2>&1
}
kernel_loop() {
  local dev
  dev=$(losetup -f --show "$IMG")
  run_workloads kernel-loop "$dev" ""
  losetup -d "$dev"
}

install_handlers
mkdir -p /bench && mount -t tmpfs -o size=640m tmpfs /bench
modprobe target_core_user; modprobe tcm_loop; modprobe loop
fill_image
wanted lunkit-tcmu-file && tcmu_lunkit file "$IMG"
wanted lunkit-tcmu-ram && tcmu_lunkit ram ""
wanted lunkit-tcmu-null && tcmu_lunkit null ""
wanted lunkit-ublk-file && ublk_lunkit file --cfg "$IMG"
wanted lunkit-ublk-ram && ublk_lunkit ram --size ${SIZE_MB}M
wanted lunkit-ublk-null && ublk_lunkit null --size ${SIZE_MB}M
wanted tcmu-runner-qcow && tcmu_runner
wanted kernel-fileio && kernel_backstore kernel-fileio /backstores/fileio create name=k0 file_or_dev="$IMG" size=${SIZE_MB}M
wanted kernel-ramdisk && kernel_backstore kernel-ramdisk /backstores/ramdisk create name=k0 size=${SIZE_MB}M
wanted kernel-loop && kernel_loop
say "benchmark done"
