# Shared by tests/abi/check.sh and tools/update-abi.sh: compare a built shared library with the
# ABI recorded for its soname in abi/ (abidw XML, from Debian's abigail-tools).
#
# The rule: the repo records the ABI of every soname the libraries have. A built library must
# match its soname's record exactly. Additions are compatible: record them (update-abi) and
# raise -version-info's current and age. Anything else (a removed or changed function or
# variable, a changed type it reaches) is incompatible: it needs a new soname (raise current,
# set age 0), and update-abi refuses to record it under the old one.

abi_soname() {  # the DT_SONAME of $1
  readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p'
}

# Compares $2 (a built .so) with $1 (its recorded XML), counting only the types the public
# headers in $3 declare (an opaque struct's insides are the library's own business). Prints
# abidiff's report; returns 0 identical, 1 compatible additions only, 2 incompatible, 3 abidiff
# failed.
abi_compare() {
  local recorded=$1 built=$2 headers=$3 report rc
  report=$(abidiff --no-show-locs --headers-dir2 "$headers" --drop-private-types "$recorded" "$built" 2>&1)
  rc=$?
  if [ $rc -eq 0 ]; then return 0; fi
  printf '%s\n' "$report"
  if [ $((rc & 3)) -ne 0 ]; then return 3; fi  # bit 1: error, bit 2: usage error
  if [ $((rc & 8)) -ne 0 ]; then return 2; fi  # abidiff itself calls it incompatible
  # Bit 4 only: an ABI change. Compatible when no function or variable was removed or changed
  # (a changed type shows as a changed function or variable that reaches it).
  if printf '%s\n' "$report" | grep -Eq '[1-9][0-9]* Removed|[1-9][0-9]* Changed'; then
    return 2
  fi
  return 1
}
