#!/usr/bin/env bash
# lunkit as a library, from its installed files. Run by run-install-test.sh after its
# `make install DESTDIR=ROOT` (default prefix), as `library-test.sh ROOT PREFIX`: programs and
# plugins are built against that tree with nothing but pkg-config (no path into the source or
# build tree):
#  - examples/plugin (an out-of-tree handler built with -fvisibility=hidden) is loaded by the
#    installed lunkitd, which serves it on a private system bus and answers CheckConfig with it;
#  - tools/scsi_demo.cc, built against lunkit-scsi.pc, prints what the in-tree build prints;
#  - the installed libraries export only lunkit's public names.
# Prints "lunkit-test: N passed, N failed".
set -uo pipefail
root=$1
prefix=$2
build=$LUNKIT_BUILD_DIR
src=$LUNKIT_SRC_DIR
scratch=$(mktemp -d /var/tmp/lunkit-library.XXXXXX)
passed=0
failed=0
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$scratch"
}
trap cleanup EXIT
ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; [ $# -gt 1 ] && sed 's/^/    /' "$2" | tail -30; failed=$((failed + 1)); }
finish() { echo "lunkit-test: $passed passed, $failed failed"; [ $failed -eq 0 ]; exit $?; }
# Waits (bounded) for a condition; the condition is polled, never assumed after a sleep.
eventually() { for _ in $(seq 200); do "$@" && return 0; sleep 0.05; done; return 1; }

export PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_LIBDIR=$root$prefix/lib/pkgconfig PKG_CONFIG_PATH=
for pc in lunkit-scsi lunkit-tcmu lunkit-handler; do
  if pkg-config --exists "$pc"; then ok "pkg-config finds $pc"; else bad "pkg-config $pc"; fi
done
# (pkgconf puts the sysroot in front of variables too; the plugin directory is asked without it.)
plugindir=$(PKG_CONFIG_SYSROOT_DIR= pkg-config --variable=plugindir lunkit-handler)
[ "$plugindir" = "$prefix/lib/lunkit" ] && ok "lunkit-handler.pc's plugindir is lunkitd's default" ||
  bad "plugindir is '$plugindir', not $prefix/lib/lunkit"

# Only public names leave the libraries: C functions lunkit_*, C++ in namespace lunkit.
for lib in liblunkit-scsi liblunkit-tcmu; do
  so=$root$prefix/lib/$lib.so
  nm -D --defined-only "$so" | awk '{print $3}' | c++filt | grep -v '^lunkit_' |
    grep -v -E '^(lunkit::|typeinfo for lunkit::|typeinfo name for lunkit::|vtable for lunkit::)' |
    grep -v -E '^LUNKIT_[A-Z]+_[0-9]+$' >"$scratch/$lib.leaks"
  if [ -s "$scratch/$lib.leaks" ]; then bad "$lib exports names outside lunkit's API" "$scratch/$lib.leaks"
  else ok "$lib exports only lunkit's public names"; fi
done
# ... and no internal class of libscsi (its handlers, its state) is among them.
nm -D --defined-only -C "$root$prefix/lib/liblunkit-scsi.so" | grep -E 'lunkit::scsi::(handlers|LuState|detail)' \
  >"$scratch/internal" && bad "liblunkit-scsi exports internals" "$scratch/internal" ||
  ok "liblunkit-scsi keeps its internals hidden"

# Every function of the handler ABI is there for plugins in each program that loads them.
grep -o 'LUNKIT_API [^(]*lunkit_[a-z_]*(' "$root$prefix/include/lunkit/handler.h" |
  sed 's/.*\(lunkit_[a-z_]*\)($/\1/' | sort -u >"$scratch/abi-functions"
[ "$(wc -l <"$scratch/abi-functions")" -ge 10 ] && ok "handler.h declares the handler ABI's functions" ||
  bad "cannot read the ABI's functions from handler.h" "$scratch/abi-functions"
# (lunkitd's plugins get them from liblunkit-tcmu, the library it serves devices with; lunkit's
# ublk frontend exports them itself.)
for exporter in lib/liblunkit-tcmu.so bin/lunkit; do
  nm -D --defined-only "$root$prefix/$exporter" | awk '{print $3}' | sed 's/@.*//' | sort -u >"$scratch/exported"
  comm -23 "$scratch/abi-functions" "$scratch/exported" >"$scratch/missing"
  [ -s "$scratch/missing" ] && bad "$exporter does not export the handler ABI functions" "$scratch/missing" ||
    ok "$exporter exports every handler ABI function"
done

# The out-of-tree plugin.
cp -r "$src/examples/plugin" "$scratch/plugin"
if make -C "$scratch/plugin" CFLAGS="-g -O1" >"$scratch/plugin.log" 2>&1 &&
   make -C "$scratch/plugin" install DESTDIR="$root" PLUGINDIR="$plugindir" >>"$scratch/plugin.log" 2>&1; then
  ok "examples/plugin builds and installs with pkg-config alone"
else
  bad "examples/plugin" "$scratch/plugin.log"
fi
nm -D --defined-only "$root$plugindir/lbapattern.so" | awk '{print $3}' | grep -qx lunkit_handler_entry &&
  ok "the plugin, built with -fvisibility=hidden, exports lunkit_handler_entry" ||
  bad "lbapattern.so has no lunkit_handler_entry"

# The installed lunkitd serves it on a private system bus.
lunkitd=$root$prefix/sbin/lunkitd
# lunkitd serves devices through the public API of liblunkit-tcmu and nothing else of it: the
# library is a dependency, lunkitd calls its lunkit_tcmu_* functions, and none of the transport's
# internals (the device manager, the ring, netlink, configfs) is compiled into lunkitd.
readelf -d "$lunkitd" | grep -q 'NEEDED.*\[liblunkit-tcmu\.so\.0\]' &&
  ok "lunkitd needs liblunkit-tcmu.so.0" || bad "lunkitd does not link liblunkit-tcmu"
nm -D --undefined-only "$lunkitd" | awk '{print $2}' | sed 's/@.*//' | grep '^lunkit_tcmu_' | sort -u >"$scratch/calls"
for f in lunkit_tcmu_new lunkit_tcmu_add_handler lunkit_tcmu_start lunkit_tcmu_stop lunkit_tcmu_shutdown \
         lunkit_tcmu_release_waits; do
  grep -qx "$f" "$scratch/calls" || echo "$f" >>"$scratch/uncalled"
done
[ -s "$scratch/uncalled" ] && bad "lunkitd does not call the public API" "$scratch/uncalled" ||
  ok "lunkitd serves through lunkit_tcmu_new, _start, _stop, _shutdown (public API)"
nm -C "$lunkitd" | grep -E 'lunkit::tcmu::(Manager|Device|Ring|NetlinkChannel|Configfs)\b' >"$scratch/internals"
[ -s "$scratch/internals" ] && bad "lunkitd carries the transport's internals" "$scratch/internals" ||
  ok "lunkitd has no private copy of the TCMU transport"
# The staging root stands in for the system: its libraries are where the installed lunkitd would
# find them after `make install` (and ldconfig) into /.
export LD_LIBRARY_PATH=$root$prefix/lib
bus=$scratch/bus
cat >"$scratch/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=$bus</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/>
<allow receive_sender="*"/></policy></busconfig>
CONF
dbus-daemon --config-file="$scratch/bus.conf" --nofork >"$scratch/bus.log" 2>&1 &
pids+=($!)
eventually test -S "$bus" || { bad "private dbus-daemon" "$scratch/bus.log"; finish; }
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$bus
cat >"$scratch/lunkit.conf" <<CONF
log_level = "info";
log_target = "file";
log_file = "$scratch/lunkitd.log";
lock_file = "$scratch/lunkitd.lock";
tcmu_runner_lock_file = "$scratch/tcmu.lock";
CONF
"$lunkitd" --foreground --config "$scratch/lunkit.conf" --handler-dir "$root$plugindir" \
  >"$scratch/lunkitd.out" 2>&1 &
lunkitd_pid=$!
call() { gdbus call --address "$DBUS_SYSTEM_BUS_ADDRESS" --dest "$1" --object-path "$2" --method "$3" "${@:4}"; }
has_owner() { call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner \
  org.kernel.TCMUService1 2>/dev/null | grep -q true; }
if eventually has_owner; then ok "the installed lunkitd owns org.kernel.TCMUService1"
else bad "lunkitd did not start" "$scratch/lunkitd.out"; fi
call org.kernel.TCMUService1 /org/kernel/TCMUService1 org.freedesktop.DBus.ObjectManager.GetManagedObjects \
  >"$scratch/objects" 2>&1
grep -q "/org/kernel/TCMUService1/lbapattern" "$scratch/objects" && ok "it serves the plugin's subtype" ||
  bad "no lbapattern object" "$scratch/objects"
call org.kernel.TCMUService1 /org/kernel/TCMUService1/lbapattern org.kernel.TCMUService1.CheckConfig \
  "'lbapattern/fill=999'" >"$scratch/check1" 2>&1
grep -q "(false, \"fill must be a byte value (0-255), not '999'\")" "$scratch/check1" &&
  ok "CheckConfig answers with the plugin's reason" || bad "CheckConfig fill=999" "$scratch/check1"
call org.kernel.TCMUService1 /org/kernel/TCMUService1/lbapattern org.kernel.TCMUService1.CheckConfig \
  "'lbapattern/fill=7'" >"$scratch/check2" 2>&1
grep -q "(true," "$scratch/check2" && ok "CheckConfig accepts a good cfgstring" || bad "CheckConfig fill=7" "$scratch/check2"
kill -TERM "$lunkitd_pid"
wait "$lunkitd_pid"
rc=$?
[ $rc -eq 0 ] && ok "lunkitd exits 0 on SIGTERM" || bad "lunkitd exited $rc" "$scratch/lunkitd.out"
grep -E "ERROR: (Address|Undefined|Leak)Sanitizer|runtime error:" "$scratch/lunkitd.out" >/dev/null &&
  bad "sanitizer report from lunkitd" "$scratch/lunkitd.out" || ok "no sanitizer report from lunkitd"

# The standalone TCMU server (examples/serve-ram.c) against lunkit-tcmu.pc. It serves LUNs in
# the VM (tests/vm, scenario library); here it is built, linked and started.
cp -r "$src/examples" "$scratch/examples"
# The staging tree is not where the dynamic linker looks (as /usr/local/lib is after `make
# install`): name it, for the link (liblunkit-tcmu's own NEEDED) and for running.
export LD_LIBRARY_PATH=$root$prefix/lib
if make -C "$scratch/examples" CC="${LUNKIT_CC:-cc} ${LUNKIT_SANITIZER_FLAGS:-}" CFLAGS="-g -O1" \
     CXX="${LUNKIT_CXX:-g++} ${LUNKIT_SANITIZER_FLAGS:-}" CXXFLAGS="-g -O1" \
     >"$scratch/examples.log" 2>&1; then
  ok "examples/serve-ram.c and serve-file.cc build against lunkit-tcmu.pc alone"
else
  bad "examples/Makefile" "$scratch/examples.log"
fi
# The C++ one too: tcmu.hpp and handler.hpp are header-only over the C ABI.
for example in serve-ram serve-file; do
  readelf -d "$scratch/examples/$example" | grep NEEDED | grep liblunkit >"$scratch/needed"
  [ "$(cat "$scratch/needed" | wc -l)" = 1 ] && grep -q "liblunkit-tcmu.so.0" "$scratch/needed" &&
    ok "$example needs liblunkit-tcmu.so.0 and no other lunkit library" || bad "$example's libraries" "$scratch/needed"
  LD_LIBRARY_PATH=$root$prefix/lib "$scratch/examples/$example" >"$scratch/serve.out" 2>&1
  rc=$?
  [ $rc -eq 2 ] && grep -q "usage: .*$example <subtype>" "$scratch/serve.out" &&
    ok "$example runs against the installed library (usage, exit 2)" || bad "$example exited $rc" "$scratch/serve.out"
done

# README's "Use lunkit as a library" example, exactly as printed there.
sed -n '/^<!-- example-begin -->$/,/^<!-- example-end -->$/p' "$src/README.md" | grep -v '^<!--' |
  grep -v '^```' >"$scratch/memdisk.c"
if [ -s "$scratch/memdisk.c" ] &&
   ${LUNKIT_CC:-cc} ${LUNKIT_SANITIZER_FLAGS:-} -Wall -Wextra -Werror -g -O1 $(pkg-config --cflags lunkit-tcmu) \
     -o "$scratch/memdisk" "$scratch/memdisk.c" $(pkg-config --libs lunkit-tcmu) >"$scratch/memdisk.log" 2>&1; then
  ok "README's library example builds against lunkit-tcmu.pc"
else
  bad "README's library example" "$scratch/memdisk.log"
fi

# A C++ program against lunkit-scsi.pc: the libscsi tour prints what the in-tree build prints.
# The libraries of a sanitizer build need the runtime in the program too (CXXFLAGS of the build).
if ${LUNKIT_CXX:-g++} -std=c++20 ${LUNKIT_SANITIZER_FLAGS:-} -g -O1 $(pkg-config --cflags lunkit-scsi) \
     -o "$scratch/scsi-demo" "$src/tools/scsi_demo.cc" $(pkg-config --libs lunkit-scsi) \
     >"$scratch/demo-build.log" 2>&1; then
  ok "tools/scsi_demo.cc builds against lunkit-scsi.pc"
else
  bad "scsi_demo against the installed tree" "$scratch/demo-build.log"
fi
readelf -d "$scratch/scsi-demo" | grep -q "liblunkit-scsi.so.0" && ok "and links liblunkit-scsi.so.0" ||
  bad "scsi-demo does not link liblunkit-scsi.so.0"
# A C program against lunkit-scsi.pc: the unit test's C file (lunkit/scsi.h alone) with a main,
# run against the installed library: INQUIRY, the power-on unit attention, TEST UNIT READY.
printf '#include <stdio.h>\nint lunkit_scsi_c_header_check(void);\nint main(void) {\n  int rc = lunkit_scsi_c_header_check();\n  printf("scsi C API: %%d\\n", rc);\n  return rc != 0;\n}\n' >"$scratch/scsi-c-main.c"
if ${LUNKIT_CC:-cc} -std=c99 -pedantic -Wall -Wextra -Werror ${LUNKIT_SANITIZER_FLAGS:-} -g -O1 \
     $(pkg-config --cflags lunkit-scsi) -o "$scratch/scsi-c" "$scratch/scsi-c-main.c" \
     "$src/tests/unit/scsi_c_api_header_test.c" $(pkg-config --libs lunkit-scsi) >"$scratch/scsi-c.log" 2>&1; then
  ok "a C program builds against lunkit-scsi.pc (lunkit/scsi.h)"
else
  bad "the C program against lunkit-scsi.pc" "$scratch/scsi-c.log"
fi
LD_LIBRARY_PATH=$root$prefix/lib "$scratch/scsi-c" >"$scratch/scsi-c.out" 2>&1 &&
  grep -q "scsi C API: 0" "$scratch/scsi-c.out" &&
  ok "it runs a logical unit through the installed liblunkit-scsi" || bad "the C program failed" "$scratch/scsi-c.out"
"$scratch/scsi-demo" >"$scratch/demo.out" 2>&1
"$build/tools/scsi-demo" >"$scratch/demo.ref" 2>&1
cmp -s "$scratch/demo.out" "$scratch/demo.ref" && [ -s "$scratch/demo.ref" ] &&
  ok "it prints what the in-tree scsi-demo prints" || bad "scsi-demo output differs" "$scratch/demo.out"

# Every function of each installed C header is in its installed manual page's synopsis.
for pair in handler.h:lunkit-handler.3 tcmu.h:lunkit-tcmu.3 scsi.h:lunkit-scsi.3; do
  header=$root$prefix/include/lunkit/${pair%%:*}
  page=$root$prefix/share/man/man3/${pair#*:}
  grep -o 'LUNKIT_API [^(]*lunkit_[a-z_]*(' "$header" | sed 's/.*\(lunkit_[a-z_]*\)($/\1/' | sort -u >"$scratch/functions"
  sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p' "$page" >"$scratch/synopsis"
  : >"$scratch/unlisted"
  while read -r f; do grep -q "$f(" "$scratch/synopsis" || echo "$f" >>"$scratch/unlisted"; done <"$scratch/functions"
  if [ ! -s "$scratch/functions" ]; then bad "no functions read from ${pair%%:*}"
  elif [ -s "$scratch/unlisted" ]; then bad "${pair#*:}'s synopsis lacks functions of ${pair%%:*}" "$scratch/unlisted"
  else ok "${pair#*:}'s synopsis lists all $(wc -l <"$scratch/functions") functions of ${pair%%:*}"; fi
done
finish
