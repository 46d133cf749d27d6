#!/bin/bash
# Task management against the real kernel (sourced by scenarios.sh): a LUN RESET under fio verify.

# `sg_reset -d` is a LUN RESET through tcm_loop: LIO aborts what the LU holds, tells lunkitd
# (attrib/tmr_notification, set at attach) and establishes one BUS DEVICE RESET unit attention
# for the nexus. The initiator must see no I/O error, and the UA once: the kernel logs "Power-on
# or device reset occurred" each time it receives 29/xx, so a second, LU-wide UA from lunkitd
# would show as a second line.
s_tmr() {
  start_lunkitd
  make_lun tmr0 128M 7a3c51e2-0000-4b0e-9c36-0000000007a3
  disk=$(wait_for_disk 7a3c51e2-0000-4b0e-9c36-0000000007a3) || fail_scenario "no disk appeared"
  # Whatever attentions the new LUN has (power on) are taken before the count starts.
  sg_turs "$disk" || true
  sg_turs "$disk" || true
  local attr
  attr=$(cat /sys/kernel/config/target/core/user_*/tmr0/attrib/tmr_notification)
  expect "tmr_notification is enabled at attach" test "$attr" = 1
  local name=${disk##*/} before after
  before=$(dmesg | grep -c "$(readlink -f /sys/block/"$name"/device | xargs basename).*Power-on or device reset occurred" || true)
  fio_verify "$disk" 24M /tmp/fio-tmr.out &
  local fio=$!
  wait_for_writes "$disk" 1024
  sg_reset -d "$disk"
  say "LUN RESET sent"
  wait "$fio" || { cat /tmp/fio-tmr.out; fail_scenario "fio verify failed across the LUN RESET"; }
  expect "fio saw no I/O error" grep -q "err= 0" /tmp/fio-tmr.out
  expect "lunkitd was told of the LUN RESET" grep -q "LUN RESET" "$LUNKITD_LOG"
  after=$(dmesg | grep -c "$(readlink -f /sys/block/"$name"/device | xargs basename).*Power-on or device reset occurred" || true)
  dmesg | grep "Power-on or device reset" || true
  expect "the reset's unit attention was reported exactly once" test $((after - before)) -eq 1
  expect "no unit attention is left pending" sg_turs "$disk"
  # REPORT SUPPORTED OPERATION CODES also names what the kernel answers for the LU itself.
  sg_opcodes "$disk" >/tmp/opcodes.out 2>&1 || true
  expect "RSOC lists REPORT LUNS (the kernel serves it)" grep -qi "report luns" /tmp/opcodes.out
  expect "RSOC lists PERSISTENT RESERVE IN (pgr_support=1)" grep -qi "persistent reserve in" /tmp/opcodes.out
  expect "lunkitd is still running" kill -0 "$LUNKITD_PID"
}
