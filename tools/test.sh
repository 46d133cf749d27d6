#!/usr/bin/env bash
# The test command: installs dependencies, builds lunkit with AddressSanitizer + UBSan in
# build/check (elsewhere if uid 65534 cannot reach the checkout, see below), runs every suite
# (make check), prints each suite's GoogleTest summary and, last, the totals over all suites
# on one line: "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tools/install-deps.sh || exit 1
autoreconf -fi >/dev/null || { echo "autoreconf failed"; exit 1; }
# lunkitd_test runs the build's lunkitd as uid 65534 to check that lunkit's D-Bus policy refuses
# a non-root owner, so that user must be able to reach the build tree. In a checkout under a
# directory others cannot enter (/root is mode 0700) the build goes outside the checkout.
build=$top/build/check
if [ "$(id -u)" -eq 0 ] && ! setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$top"; then
  build=/var/tmp/lunkit-check-$(echo "$top" | sha256sum | cut -c1-12)
  echo "uid 65534 cannot enter $top (a directory above it is not searchable by others):"
  echo "building and testing in $build"
fi
mkdir -p "$build"
cd "$build"
# Always configure: a tree configured by hand with other options would test something else.
"$top"/configure --enable-sanitizers --enable-fuzz CXXFLAGS="-g -O1" CFLAGS="-g -O1" \
  >configure.out 2>&1 || { cat configure.out; echo "configure failed"; exit 1; }
jobs=$(nproc)
make -j"$jobs" >make.out 2>&1 || { tail -50 make.out; echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
make -j"$jobs" check >check.out 2>&1
check_rc=$?
grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP):' check.out

passed=0
failed=0
echo
echo "Suite summaries:"
for trs in $(find tests -name '*.trs' | sort); do
  log=${trs%.trs}.log
  name=${trs%.trs}
  result=$(sed -n 's/^:test-result: //p' "$trs" | head -1)
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  if [ -z "$p$f" ]; then  # not a GoogleTest binary: it prints its own count
    line=$(sed -n 's/^lunkit-test: \([0-9]* passed, [0-9]* failed\)$/\1/p' "$log" | tail -1)
    p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
    f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed$/\1/p')
  fi
  p=${p:-0}
  f=${f:-0}
  # A suite that failed without reporting a failed test (a crash, a sanitizer abort) counts one.
  if [ "$result" != "PASS" ] && [ "$f" -eq 0 ]; then f=1; fi
  printf '  %-40s %4d passed, %d failed  (%s)\n' "$name" "$p" "$f" "$result"
  if [ "$result" != "PASS" ]; then
    echo "---- $log (last 40 lines) ----"
    tail -40 "$log"
  fi
  passed=$((passed + p))
  failed=$((failed + f))
done
if [ $check_rc -ne 0 ] && [ $failed -eq 0 ]; then
  tail -30 check.out
  failed=1
fi

# The real-kernel scenarios in a Linux 6.12 VM, against the same build.
echo
echo "Real-kernel scenarios (tests/vm):"
"$top"/tests/vm/run-tests.sh "$PWD" | tee vm.out
vm_line=$(grep -E '^vm: [0-9]+ passed, [0-9]+ failed' vm.out | tail -1)
vm_passed=$(echo "$vm_line" | sed -n 's/^vm: \([0-9]*\) passed.*/\1/p')
vm_failed=$(echo "$vm_line" | sed -n 's/^vm: [0-9]* passed, \([0-9]*\) failed.*/\1/p')
[ -n "$vm_line" ] || { vm_passed=0; vm_failed=1; echo "vm: no result"; }
passed=$((passed + vm_passed))
failed=$((failed + vm_failed))

echo
echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ $check_rc -eq 0 ]
