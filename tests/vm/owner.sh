#!/bin/bash
# Sourced by scenarios.sh. One owner per device: while lunkitd serves a LUN under fio verify,
# other lunkitd processes are refused with one line each and leave the LUN alone.

# second_lunkitd OUT [--foreground] [CONFIG]: runs another lunkitd, quiet except for critical
# lines, and succeeds when it exited non-zero having written exactly one line.
second_lunkitd() {
  local out=$1 mode=$2 conf=${3:-/tmp/lunkit-second.conf} rc=0
  # No other output than the refusal: not even a sanitizer report.
  timeout 60 "$B"/daemon/lunkitd $mode --config "$conf" --handler-dir /tmp/handlers >"$out" 2>&1 || rc=$?
  say "second lunkitd ${mode:-(daemonized)} exited $rc: $(cat "$out")"
  [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$(wc -l <"$out")" -eq 1 ]
}

s_owner() {
  local stderr_at
  stderr_at=$(stat -c %s "$R/lunkitd.stderr" 2>/dev/null || echo 0)
  start_lunkitd
  local first=$LUNKITD_PID
  make_lun owner0 128M 2d6f1e63-3333-4b0e-9c36-000000000012
  disk=$(wait_for_disk 2d6f1e63-3333-4b0e-9c36-000000000012) || fail_scenario "no disk"
  dmesg -C
  fio_verify "$disk" 24M /tmp/fio-owner.txt --iodepth=16 &
  local fio=$!
  wait_for_writes "$disk" 1000

  printf 'log_level = "critical";\n' >/tmp/lunkit-second.conf
  expect "a second foreground lunkitd is refused with one line" \
    second_lunkitd /tmp/second-fg.txt --foreground
  expect "... naming the first one" grep -q "another lunkitd (pid $first) is running" /tmp/second-fg.txt
  expect "a second daemonized lunkitd is refused with one line" second_lunkitd /tmp/second-bg.txt ""
  expect "... naming the first one" grep -q "another lunkitd (pid $first) is running" /tmp/second-bg.txt
  # One that has another lock file gets as far as the bus name, and stops there.
  printf 'log_level = "critical";\nlock_file = "/tmp/owner-other.lock";\ntcmu_runner_lock_file = "/tmp/owner-tcmu.lock";\n' \
    >/tmp/lunkit-other.conf
  expect "a lunkitd with another lock file is refused with one line" \
    second_lunkitd /tmp/second-other.txt --foreground /tmp/lunkit-other.conf
  expect "... at the bus name" grep -q "org.kernel.TCMUService1 is already owned by" /tmp/second-other.txt
  expect "the first lunkitd still runs" kill -0 "$first"

  wait "$fio" || fail_scenario "fio failed while other lunkitd processes started"
  cat /tmp/fio-owner.txt
  expect "fio verify passed with zero errors" grep -q "err= 0" /tmp/fio-owner.txt
  if dmesg | grep -i "${disk##*/}" | grep -qiE "I/O error|critical medium error|print_req_error"; then
    fail_scenario "the kernel logged I/O errors for ${disk##*/}"
  fi
  expect "the first lunkitd never blocked or reset its device again" \
    test "$(grep -c "owner0: serving" "$LUNKITD_LOG")" -eq 1

  timeout 120 targetcli clearconfig confirm=True >/dev/null
  kill -TERM "$first"
  local rc=0
  wait "$first" || rc=$?
  LUNKITD_PID=
  expect "the first lunkitd exited 0 (was $rc)" test "$rc" -eq 0
  tail -c +"$((stderr_at + 1))" "$R/lunkitd.stderr" >/tmp/owner-stderr.txt
  if grep -qE "Sanitizer|runtime error" /tmp/owner-stderr.txt; then
    cat /tmp/owner-stderr.txt
    fail_scenario "the first lunkitd's stderr has a sanitizer report"
  fi
}
