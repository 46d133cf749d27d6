#!/usr/bin/env bash
# The demo command: builds lunkit and shows it serving a LUN on a real Linux kernel. lunkitd is
# started, targetcli creates a file-backed LUN, tcm_loop exports it as a SCSI disk; lsscsi, sg_inq,
# ext4 and fio show what Linux sees.
#
#   tools/demo.sh          in a Linux 6.12 VM under QEMU (this host is not changed)
#   tools/demo.sh --host   on this host, if it can load target_core_user (changes its configfs
#                          and runs `make install`, as the README's install recipe does)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mode=vm
[ "${1:-}" = "--host" ] && mode=host
tools/install-deps.sh
autoreconf -fi >/dev/null
mkdir -p build/demo
cd build/demo
[ -f Makefile ] || "$top"/configure CXXFLAGS="-O2 -g" CFLAGS="-O2 -g" >configure.out 2>&1 || { cat configure.out; exit 1; }
echo "== building lunkit in build/demo"
make -j"$(nproc)" >make.out 2>&1 || { tail -50 make.out; exit 1; }

if [ "$mode" = host ]; then
  [ "$(id -u)" -eq 0 ] || { echo "demo: --host needs root"; exit 1; }
  modprobe target_core_user tcm_loop 2>/dev/null ||
    { echo "demo: this host cannot load target_core_user; run tools/demo.sh without --host (VM)"; exit 1; }
  modprobe sd_mod 2>/dev/null || true
  mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config
  # Installed as the README says; the system bus then reads lunkit's policy where it was put.
  make install >install.out 2>&1 || { tail -30 install.out; exit 1; }
  if ! dbus-send --system --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.ReloadConfig >/dev/null 2>&1; then
    mkdir -p /run/dbus
    dbus-daemon --system --fork
  fi
  mkdir -p /var/lib/lunkit /tmp/lunkit-demo
  LUNKIT_RESULTS=/tmp/lunkit-demo LUNKIT_BUILD="$PWD" LUNKIT_SRC="$top" bash "$top/tests/vm/demo.sh"
  exit 0
fi

echo "== booting Linux 6.12 in QEMU (software emulation; the first run downloads the kernel package)"
results="$PWD/demo-results"
rm -rf "$results"
"$top/tests/vm/lunkit-vm.sh" run "$top/tests/vm/demo.sh" "$results" "$PWD" 900 || true
if [ -f "$results/demo.out" ]; then
  cat "$results/demo.out"
  grep -q "^==> done" "$results/demo.out" && exit 0
fi
echo "demo: the VM run did not finish; its logs are in $results"
tail -20 "$results/guest.log" 2>/dev/null
exit 1
