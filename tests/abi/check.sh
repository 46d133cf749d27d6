#!/usr/bin/env bash
# The public ABI of lunkit's shared libraries is what abi/ records (see tests/abi/abi-lib.sh for
# the rule). Run by `make check` for liblunkit-scsi and liblunkit-tcmu; a mismatch fails the test
# command with what changed and what to do.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/abi-lib.sh"
src=${srcdir:-$here/../..}
abi_dir=${LUNKIT_ABI_DIR:-$src/abi}
libs=("$@")
[ ${#libs[@]} -gt 0 ] || libs=(libscsi/.libs/liblunkit-scsi.so tcmu/.libs/liblunkit-tcmu.so)
command -v abidiff >/dev/null || { echo "abidiff missing: apt-get install abigail-tools"; echo "lunkit-test: 0 passed, 1 failed"; exit 1; }

passed=0
failed=0
for lib in "${libs[@]}"; do
  so=$(readlink -f "$lib")
  soname=$(abi_soname "$so")
  if [ -z "$soname" ]; then
    echo "FAIL $lib: no soname"; failed=$((failed + 1)); continue
  fi
  recorded=$abi_dir/$soname.xml
  if [ ! -f "$recorded" ]; then
    echo "FAIL $soname: no ABI recorded for this soname; record it: tools/update-abi.sh $lib"
    failed=$((failed + 1)); continue
  fi
  abi_compare "$recorded" "$so" "${LUNKIT_ABI_HEADERS:-$src/include}"
  case $? in
    0) echo "PASS $soname matches $(basename "$recorded")"; passed=$((passed + 1)) ;;
    1) echo "FAIL $soname grew (compatible): record it with tools/update-abi.sh $lib and raise" \
            "-version-info's current and age"; failed=$((failed + 1)) ;;
    2) echo "FAIL $soname: incompatible ABI change under an unchanged soname; raise -version-info's" \
            "current and set age 0 (a new soname), then tools/update-abi.sh $lib"; failed=$((failed + 1)) ;;
    *) echo "FAIL $soname: abidiff could not compare"; failed=$((failed + 1)) ;;
  esac
done
echo "lunkit-test: $passed passed, $failed failed"
[ $failed -eq 0 ]
