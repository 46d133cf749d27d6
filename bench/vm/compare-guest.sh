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

# lunkit TCMU and ublk: tcmu_lunkit and ublk_lunkit (bench-lib.sh).

# ---- tcmu-runner (Debian's package) ----
tcmu_runner() {
  start_tcmu_runner || { failed_config tcmu-runner-qcow "tcmu-runner is not installed or did not start"; return; }
  targetcli ls /backstores > "$R/tcmu-runner-backstores.txt" 2>&1
  backstore_workloads tcmu-runner-qcow "$TCMU_RUNNER_PID" /backstores/user:qcow q0 \
    size=${SIZE_MB}M cfgstring="$IMG"
  stop_tcmu_runner
}

# ---- the kernel's own ----
kernel_backstore() {  # kernel_backstore CONFIG BACKSTORE CREATE-ARGS...
  local config=$1 backstore=$2
  shift 2
  backstore_workloads "$config" "" "$backstore" k0 "$@"
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
wanted kernel-fileio && kernel_backstore kernel-fileio /backstores/fileio file_or_dev="$IMG" size=${SIZE_MB}M
wanted kernel-ramdisk && kernel_backstore kernel-ramdisk /backstores/ramdisk size=${SIZE_MB}M
wanted kernel-loop && kernel_loop
say "benchmark done"
