#!/usr/bin/env bash
# `make install` puts lunkitd, the handlers, the service files and the manual pages where
# systemd, D-Bus, logrotate and man look, and the installed daemon finds its handlers.
set -u
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
if ! make -C "$LUNKIT_BUILD_DIR" install DESTDIR="$dest" >"$dest.log" 2>&1; then
  tail -30 "$dest.log"; rm -f "$dest.log"
  echo "lunkit-test: 0 passed, 1 failed"; exit 1
fi
rm -f "$dest.log"
prefix=$(sed -n 's/^prefix = //p' "$LUNKIT_BUILD_DIR/Makefile")
sysconf=$(sed -n 's/^sysconfdir = //p' "$LUNKIT_BUILD_DIR/Makefile" | sed "s|\${prefix}|$prefix|")
mkvar() { sed -n "s/^$1 = //p" "$LUNKIT_BUILD_DIR/Makefile"; }
unitdir=$(mkvar systemdunitdir)
servicedir=$(mkvar dbusservicedir)
policydir=$(mkvar dbuspolicydir)
logrotatedir=$(mkvar logrotatedir)
missing=0
# Only the directories Debian 12's systemd, dbus-daemon and logrotate read count.
case "$unitdir" in /lib/systemd/system | /usr/lib/systemd/system | /etc/systemd/system) ;;
  *) echo "systemd does not read $unitdir"; missing=$((missing + 1)) ;; esac
case "$servicedir" in /usr/share/dbus-1/system-services) ;;
  *) echo "the system bus does not read activation files in $servicedir"; missing=$((missing + 1)) ;; esac
case "$policydir" in /usr/share/dbus-1/system.d | /etc/dbus-1/system.d) ;;
  *) echo "the system bus does not read policies in $policydir"; missing=$((missing + 1)) ;; esac
case "$logrotatedir" in /etc/logrotate.d) ;;
  *) echo "logrotate does not read $logrotatedir"; missing=$((missing + 1)) ;; esac
for f in "$prefix/sbin/lunkitd" "$prefix/bin/lunkit" "$prefix/share/man/man1/lunkit.1" "$prefix/lib/lunkit/file.so" "$prefix/lib/lunkit/ram.so" \
         "$prefix/lib/lunkit/null.so" "$unitdir/lunkitd.service" \
         "$servicedir/org.kernel.TCMUService1.service" \
         "$policydir/lunkit-dbus.conf" "$logrotatedir/lunkit.logrotate" \
         "$sysconf/lunkit/lunkit.conf" "$prefix/share/man/man8/lunkitd.8" \
         "$prefix/share/man/man5/lunkit.conf.5" "$prefix/share/man/man3/lunkit-handler.3" \
         "$prefix/share/man/man7/lunkit-handler-file.7" "$prefix/include/lunkit/handler.h" \
         "$prefix/lib/liblunkit-scsi.so" "$prefix/lib/liblunkit-tcmu.so" \
         "$prefix/include/lunkit/visibility.h" "$prefix/lib/pkgconfig/lunkit-scsi.pc" \
         "$prefix/lib/pkgconfig/lunkit-tcmu.pc" "$prefix/lib/pkgconfig/lunkit-handler.pc"; do
  [ -e "$dest$f" ] || { echo "not installed: $f"; missing=$((missing + 1)); }
done
grep -q "ExecStart=$prefix/sbin/lunkitd --foreground" "$dest$unitdir/lunkitd.service" ||
  { echo "lunkitd.service does not start $prefix/sbin/lunkitd"; missing=$((missing + 1)); }
grep -q "Exec=$prefix/sbin/lunkitd" "$dest$servicedir/org.kernel.TCMUService1.service" ||
  { echo "the D-Bus activation file does not start lunkitd"; missing=$((missing + 1)); }
passed=0
failed=0
if [ $missing -eq 0 ]; then echo "everything installed"; passed=1; else failed=1; fi
# lunkit as a library from the same installed tree (pkg-config, exports, an out-of-tree plugin).
lib_out=$(bash "$(dirname "$0")/library-test.sh" "$dest" "$prefix" 2>&1)
printf '%s\n' "$lib_out" | grep -v '^lunkit-test:'
counts=$(printf '%s\n' "$lib_out" | sed -n 's/^lunkit-test: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')
if [ -n "$counts" ]; then
  passed=$((passed + ${counts% *}))
  failed=$((failed + ${counts#* }))
else
  echo "library-test.sh reported no result"; failed=$((failed + 1))
fi
echo "lunkit-test: $passed passed, $failed failed"
[ $failed -eq 0 ]
