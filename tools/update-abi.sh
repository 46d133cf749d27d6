#!/usr/bin/env bash
# Records the public ABI of built lunkit libraries in abi/<soname>.xml, for tests/abi/check.sh.
# Refuses to record an incompatible change under a soname that already has a record: raise the
# library's -version-info (current+1, age 0) first. Usage: tools/update-abi.sh LIB.so...
# (from the build directory; default: both libraries).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/abi/abi-lib.sh"
abi_dir=${LUNKIT_ABI_DIR:-$top/abi}
libs=("$@")
[ ${#libs[@]} -gt 0 ] || libs=(libscsi/.libs/liblunkit-scsi.so tcmu/.libs/liblunkit-tcmu.so)
mkdir -p "$abi_dir"
rc=0
for lib in "${libs[@]}"; do
  so=$(readlink -f "$lib")
  soname=$(abi_soname "$so")
  [ -n "$soname" ] || { echo "$lib: no soname" >&2; rc=1; continue; }
  out=$abi_dir/$soname.xml
  if [ -f "$out" ]; then
    abi_compare "$out" "$so" "${LUNKIT_ABI_HEADERS:-$top/include}" >/dev/null
    case $? in
      0) echo "$soname: unchanged"; continue ;;
      2) echo "$soname: refused: the change is incompatible; give the library a new soname first" >&2
         rc=1; continue ;;
      3) echo "$soname: abidiff failed" >&2; rc=1; continue ;;
    esac
  fi
  abidw --no-corpus-path --no-comp-dir-path --no-show-locs --exported-interfaces-only --no-elf-needed \
    --headers-dir "${LUNKIT_ABI_HEADERS:-$top/include}" --drop-private-types --out-file "$out" "$so" || { rc=1; continue; }
  echo "$soname: recorded in ${out#$top/}"
done
exit $rc
