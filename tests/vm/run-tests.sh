#!/usr/bin/env bash
# The real-kernel scenarios: boots the test VM on each pinned kernel (tests/vm/kernels.conf), runs
# that kernel's scenarios against BUILD_DIR, and prints one line per scenario, the log of each
# failure, and "vm: N passed, N failed" over both kernels. Every scenario runs on 6.12; 6.18 runs
# the smoke (targetcli and tcm_loop through lunkitd, the library's own servers) and ublk ones, so
# that the whole test command stays well under its time budget.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: run-tests.sh BUILD_DIR}" && pwd)
all="install targetcli loopback iscsi transfers restart resize remove saverestore nohang ublk-cli ublk ublk-queues ublk-errors ublk-stop ublk-recover ublk-resize ublk-handover rbd alua xcopy owner tmr library"
on_6_18="targetcli loopback ublk-cli ublk ublk-queues ublk-errors ublk-stop ublk-recover ublk-resize ublk-handover library"
start=$SECONDS
passed=0
failed=0

# run_on KERNEL LABEL "SCENARIOS": one boot; LUNKIT_VM_ONLY narrows SCENARIOS further.
run_on() {
  local kernel=$1 label=$2 scenarios=$3 results name line only=""
  results=$build/vm-results$([ "$kernel" = 6.12 ] || echo "-$kernel")
  if [ -n "${LUNKIT_VM_ONLY:-}" ]; then
    for name in $scenarios; do [[ ",$LUNKIT_VM_ONLY," == *",$name,"* ]] && only+="${only:+,}$name"; done
    [ -n "$only" ] || return 0
    scenarios=${only//,/ }
  elif [ "$scenarios" != "$all" ]; then
    only=${scenarios// /,}
  fi
  rm -rf "$results" && mkdir -p "$results"
  local t0=$SECONDS rc
  LUNKIT_VM_KERNEL=$kernel LUNKIT_VM_ONLY=${only:-all} "$src/tests/vm/lunkit-vm.sh" run \
    "$src/tests/vm/scenarios.sh" "$results" "$build" "${LUNKIT_VM_TIMEOUT:-2100}"
  rc=$?
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && echo "$label: the guest was killed after ${LUNKIT_VM_TIMEOUT:-2100}s"
  local failed_here=0
  for name in $scenarios; do
    line=$(grep -E "^(PASS|FAIL) $name(:|$)" "$results/results" 2>/dev/null | tail -1)
    if [[ "$line" == PASS* ]]; then
      passed=$((passed + 1))
      echo "  $label/$name: PASS"
    else
      failed=$((failed + 1))
      failed_here=$((failed_here + 1))
      echo "  $label/$name: FAIL ${line#FAIL $name: }"
      [ -n "$line" ] || echo "    (no result: the guest did not get to it)"
      [ -f "$results/$name.log" ] && tail -25 "$results/$name.log" | sed 's/^/    | /'
    fi
  done
  if [ $failed_here -gt 0 ]; then
    echo "    guest log:" && tail -15 "$results/guest.log" 2>/dev/null | sed 's/^/    | /'
    echo "    console:" && tail -15 "$results/console.log" 2>/dev/null | sed 's/^/    | /'
    [ -f "$results/lunkitd.log" ] && echo "    lunkitd log:" && grep -E "error|critical" "$results/lunkitd.log" | tail -10 | sed 's/^/    | /'
  fi
  echo "$label: kernel $(head -1 "$results/guest.log" 2>/dev/null | sed 's/^guest: //; s/,.*//'), $((SECONDS - t0)) s, logs in $results"
}

run_on 6.12 vm "$all"
run_on 6.18 vm-6.18 "$on_6_18"
echo "vm: $passed passed, $failed failed ($((SECONDS - start)) s)"
[ $failed -eq 0 ]
