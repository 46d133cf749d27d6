#!/usr/bin/env bash
# The real-kernel scenarios: boots the test VM once, runs every scenario against BUILD_DIR, and
# prints one line per scenario, the log of each failure, and "vm: N passed, N failed".
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: run-tests.sh BUILD_DIR}" && pwd)
results="$build/vm-results"
expected="install targetcli loopback iscsi transfers restart resize remove saverestore nohang ublk-cli ublk ublk-queues ublk-errors ublk-stop ublk-recover rbd alua xcopy owner tmr library"
rm -rf "$results" && mkdir -p "$results"
start=$SECONDS
"$src/tests/vm/lunkit-vm.sh" run "$src/tests/vm/scenarios.sh" "$results" "$build" "${LUNKIT_VM_TIMEOUT:-2100}"
rc=$?
[ $rc -eq 124 ] || [ $rc -eq 137 ] && echo "vm: the guest was killed after ${LUNKIT_VM_TIMEOUT:-2100}s"
passed=0
failed=0
for name in $expected; do
  line=$(grep -E "^(PASS|FAIL) $name(:|$)" "$results/results" 2>/dev/null | tail -1)
  if [[ "$line" == PASS* ]]; then
    passed=$((passed + 1))
    echo "  vm/$name: PASS"
  else
    failed=$((failed + 1))
    echo "  vm/$name: FAIL ${line#FAIL $name: }"
    [ -n "$line" ] || echo "    (no result: the guest did not get to it)"
    [ -f "$results/$name.log" ] && tail -25 "$results/$name.log" | sed 's/^/    | /'
  fi
done
if [ $failed -gt 0 ]; then
  echo "    guest log:" && tail -15 "$results/guest.log" 2>/dev/null | sed 's/^/    | /'
  echo "    console:" && tail -15 "$results/console.log" 2>/dev/null | sed 's/^/    | /'
  [ -f "$results/lunkitd.log" ] && echo "    lunkitd log:" && grep -E "error|critical" "$results/lunkitd.log" | tail -10 | sed 's/^/    | /'
fi
echo "vm: $passed passed, $failed failed ($((SECONDS - start)) s; logs in $results)"
[ $failed -eq 0 ]
