#!/bin/bash
# The comparison benchmark, inside the test VM (run by bench/compare.sh): the same image size, the
# same fio workloads, one boot, through
#   lunkit TCMU (lunkitd, tcm_loop) with the file, ram and null handlers,
#   lunkit ublk with the same three handlers,
#   tcmu-runner from Debian (user:qcow on a raw image; Debian ships no user:file),
#   the kernel's fileio and ramdisk backstores on tcm_loop, and the kernel loop device.
# Each fio run appends one JSON line to $R/results.jsonl (bench/compare_report.py makes the
# table and the chart from it).
source "$LUNKIT_SRC/bench/vm/bench-lib.sh"
# name:fio-rw:block-size:iodepth. Writes first, so ram and null have data to read back.
WORKLOADS="write-128k:write:128k:8 randwrite-4k-qd1:randwrite:4k:1 randwrite-4k-qd32:randwrite:4k:32
read-128k:read:128k:8 randread-4k-qd1:randread:4k:1 randread-4k-qd32:randread:4k:32"
begin_results

# ---- lunkit TCMU ----
tcmu_lunkit() {  # tcmu_lunkit HANDLER CFGSTRING
  local handler=$1 cfg=$2 dev
  start_lunkitd || { failed_config "lunkit-tcmu-$handler" "lunkitd did not start"; return; }
  targetcli /backstores/user:$handler create name=b0 size=${SIZE_MB}M cfgstring="$cfg" >/dev/null
  if dev=$(loopback_disk /backstores/user:$handler/b0); then
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
  local dev
  start_tcmu_runner || { failed_config tcmu-runner-qcow "tcmu-runner is not installed or did not start"; return; }
  targetcli ls /backstores > "$R/tcmu-runner-backstores.txt" 2>&1
  if ! targetcli /backstores/user:qcow create name=q0 size=${SIZE_MB}M cfgstring="$IMG" >"$R/tcmu-runner-create.txt" 2>&1; then
    failed_config tcmu-runner-qcow "targetcli user:qcow create failed: $(tail -1 "$R/tcmu-runner-create.txt")"
  elif ! dev=$(loopback_disk /backstores/user:qcow/q0); then
    failed_config tcmu-runner-qcow "no disk appeared"
  elif ! timeout 60 dd if=/dev/urandom of="$dev" bs=4k count=16 oflag=direct status=none 2>/tmp/dd.err; then
    failed_config tcmu-runner-qcow "a 4 KiB direct write failed: $(head -1 /tmp/dd.err)"
  else
    run_workloads tcmu-runner-qcow "$dev" "$TCMU_RUNNER_PID"
  fi
  stop_tcmu_runner
}

# ---- the kernel's own ----
kernel_backstore() {  # kernel_backstore NAME BACKSTORE-PATH TARGETCLI-CREATE-ARGS...
  local name=$1 path=$2 dev
  shift 2
  targetcli "$path" "$@" >/dev/null
  if dev=$(loopback_disk "$path/k0"); then
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
