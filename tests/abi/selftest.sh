#!/usr/bin/env bash
# Shows that tests/abi/check.sh and tools/update-abi.sh catch an ABI break: a probe library is
# recorded, then rebuilt with a struct changed (a field inserted), with a function added, and with
# a new soname, and each verdict is checked; and a C++ probe shaped like BlockDevice gets a
# virtual function inserted.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc=${CC:-gcc}
passed=0
failed=0
expect() {  # expect NAME WANTED-RC COMMAND...
  local name=$1 want=$2 got
  shift 2
  "$@" >"$work/out" 2>&1
  got=$?
  if { [ "$want" = 0 ] && [ $got -eq 0 ]; } || { [ "$want" != 0 ] && [ $got -ne 0 ]; }; then
    echo "PASS $name"; passed=$((passed + 1))
  else
    echo "FAIL $name (exit $got)"; sed 's/^/    /' "$work/out"; failed=$((failed + 1))
  fi
}
# The last check's output says the change is incompatible (not only that it failed).
says_incompatible() {
  grep -q "incompatible" "$work/out" &&
    { echo "PASS the failure says the change is incompatible"; passed=$((passed + 1)); } ||
    { echo "FAIL the failure does not say incompatible"; sed 's/^/    /' "$work/out"; failed=$((failed + 1)); }
}
build_probe() {  # build_probe COMPILER SOURCE LIBRARY CHANGE SONAME
  mkdir -p "$work/lib"
  $1 -g -O0 -shared -fPIC -fvisibility=hidden -DPROBE_CHANGE="$4" -Wl,-soname,"$5" \
    -o "$work/lib/$3" "$here/$2" || exit 1
}
build() { build_probe "$cc" probe.c liblunkit-probe.so "$@"; }  # build CHANGE SONAME
export LUNKIT_ABI_DIR=$work/abi
# The probe declares its public types in probe.c itself.
export LUNKIT_ABI_HEADERS=$here
lib=$work/lib/liblunkit-probe.so

build 0 liblunkit-probe.so.0
expect "a library with no record fails the check" 1 "$here/check.sh" "$lib"
expect "the first version is recorded" 0 "$top/tools/update-abi.sh" "$lib"
expect "the recorded version passes" 0 "$here/check.sh" "$lib"
grep -q "lunkit_probe_private" "$work/abi/liblunkit-probe.so.0.xml" &&
  { echo "FAIL a hidden symbol was recorded"; failed=$((failed + 1)); } ||
  { echo "PASS hidden symbols are not part of the record"; passed=$((passed + 1)); }

build 1 liblunkit-probe.so.0
expect "a field inserted in a struct fails the check" 1 "$here/check.sh" "$lib"
says_incompatible
expect "update-abi refuses to record it under the old soname" 1 "$top/tools/update-abi.sh" "$lib"
expect "the old record is kept" 0 grep -q "liblunkit-probe.so.0" "$work/abi/liblunkit-probe.so.0.xml"

build 1 liblunkit-probe.so.1
expect "under a new soname it needs a record of its own" 1 "$here/check.sh" "$lib"
expect "a new soname is recorded" 0 "$top/tools/update-abi.sh" "$lib"
expect "and then passes" 0 "$here/check.sh" "$lib"

build 2 liblunkit-probe.so.0
expect "an added function fails until recorded" 1 "$here/check.sh" "$lib"
expect "an addition is recorded under the same soname" 0 "$top/tools/update-abi.sh" "$lib"
expect "and then passes" 0 "$here/check.sh" "$lib"
build 0 liblunkit-probe.so.0
expect "removing the added function again is incompatible" 1 "$here/check.sh" "$lib"

# A C++ class whose virtual functions are all inline but the destructor (lunkit's BlockDevice):
# its layout and vtable are in the record, so an inserted virtual function is caught.
cxx=${CXX:-g++}
build_cxx() { build_probe "$cxx" probe_cxx.cc liblunkit-probecxx.so "$@"; }  # CHANGE SONAME
cxxlib=$work/lib/liblunkit-probecxx.so
build_cxx 0 liblunkit-probecxx.so.0
expect "the C++ probe is recorded" 0 "$top/tools/update-abi.sh" "$cxxlib"
grep -q "class-decl name='Device' size-in-bits" "$work/abi/liblunkit-probecxx.so.0.xml" &&
  { echo "PASS the record has the C++ class whole"; passed=$((passed + 1)); } ||
  { echo "FAIL the C++ class is only declared in the record"; failed=$((failed + 1)); }
build_cxx 3 liblunkit-probecxx.so.0
expect "a virtual function inserted in a C++ class fails the check" 1 "$here/check.sh" "$cxxlib"
says_incompatible

echo "lunkit-test: $passed passed, $failed failed"
[ $failed -eq 0 ]
