#!/bin/bash
# ublk zero copy on Linux 6.18, inside the test VM (run by `LUNKIT_VM_KERNEL=6.18
# bench/compare.sh BUILD ublk618`): the file handler with zero copy (UBLK_F_AUTO_BUF_REG), the
# same with --no-zero-copy (the kernel copies each request through lunkit's buffers), and the
# kernel's loop device, all three on one RAM disk (and each again with direct I/O: the file
# handler's direct=1, the loop device's --direct-io=on) (brd: a block device, so the file handler uses
# io_uring on it, as it would on a disk; a file on tmpfs gets plain system calls and no zero copy).
# Each workload runs in $ROUNDS rounds, the paths' order reversed every other round, so that
# whatever warms up in the guest does not favour the path measured first.
source "$LUNKIT_SRC/bench/vm/bench-lib.sh"
WORKLOADS="write-128k-qd32:write:128k:32 read-128k-qd32:read:128k:32
randwrite-4k-qd32:randwrite:4k:32 randread-4k-qd32:randread:4k:32"
ROUNDS=${LUNKIT_BENCH_ROUNDS:-3}
IMG=/dev/ram0
begin_results

kernel_loop() {
  local dev
  dev=$(losetup -f --show "$IMG")
  run_workloads kernel-loop "$dev" ""
  losetup -d "$dev"
}
ublk_file() {  # ublk_file CONFIG ARGS...
  local config=$1
  shift
  local cfg=(--cfg "$IMG")
  [[ " $* " == *" --cfg "* ]] && cfg=()  # the path's own options
  if start_ublk --handler file "${cfg[@]}" "$@"; then
    "$LUNKIT_CLI" ublk list | tee -a "$R/ublk-list.txt"
    run_workloads "$config" "$UBLK_DEV" "$UBLK_PID"
    kill -TERM "$UBLK_PID"; wait_pid "$UBLK_PID" 60 || say "ublk server did not exit"
    grep "$UBLK_DEV removed:" "$R/ublk.stderr" | tail -1 | tee -a "$R/ublk-removed.txt"
  else
    failed_config "$config" "lunkit ublk add failed: $(tail -1 "$R/ublk.stderr")"
  fi
}
kernel_loop_direct() {
  local dev
  dev=$(losetup -f --show --direct-io=on "$IMG")
  run_workloads kernel-loop-direct "$dev" ""
  losetup -d "$dev"
}
zero_copy() { ublk_file lunkit-ublk-file-zc; }
copy() { ublk_file lunkit-ublk-file-copy --no-zero-copy; }
zero_copy_direct() { ublk_file lunkit-ublk-file-zc-direct --cfg "$IMG;direct=1"; }
copy_direct() { ublk_file lunkit-ublk-file-copy-direct --no-zero-copy --cfg "$IMG;direct=1"; }

install_handlers
modprobe ublk_drv; modprobe loop
modprobe brd rd_nr=1 rd_size=$((SIZE_MB * 1024))
fill_image
order=""
for path in zero_copy copy kernel_loop zero_copy_direct copy_direct kernel_loop_direct; do
  config=$(sed 's/^zero_copy/lunkit-ublk-file-zc/; s/^copy/lunkit-ublk-file-copy/; s/^kernel_loop/kernel-loop/; s/_direct$/-direct/' <<<"$path")
  wanted "$config" && order+="$path "
done
run_rounds $order
