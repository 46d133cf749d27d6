#!/usr/bin/env bash
# Runs a script inside a Linux 6.12 VM (QEMU, software emulation) whose root is this host's root,
# read-only, under a tmpfs overlay. The kernel (Debian's linux-image-6.12 package) and the
# initramfs are cached in $LUNKIT_VM_CACHE (default /var/cache/lunkit-vm).
#
#   tests/vm/lunkit-vm.sh prepare
#   tests/vm/lunkit-vm.sh run SCRIPT RESULTS_DIR BUILD_DIR [TIMEOUT_SECONDS]
#
# The guest writes into RESULTS_DIR (guest.log, the script's own files); console.log holds the
# kernel console. A guest that hangs is killed at the timeout (exit status 124).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
cache=${LUNKIT_VM_CACHE:-/var/cache/lunkit-vm}

prepare() {
  mkdir -p "$cache"
  local pkg kver
  pkg=$(apt-cache search '^linux-image-6\.12\.[0-9.]*\+deb12-amd64$' 2>/dev/null | awk '{print $1}' | sort -V | tail -1)
  if [ -z "$pkg" ]; then
    apt-get update -qq >/dev/null
    pkg=$(apt-cache search '^linux-image-6\.12\.[0-9.]*\+deb12-amd64$' | awk '{print $1}' | sort -V | tail -1)
  fi
  [ -n "$pkg" ] || { echo "lunkit-vm: no linux-image-6.12 package in the Debian archive" >&2; exit 1; }
  if [ ! -f "$cache/kernel/.done-$pkg" ]; then
    echo "lunkit-vm: fetching $pkg"
    (cd "$cache" && rm -f linux-image-*.deb && apt-get download "$pkg" >/dev/null)
    rm -rf "$cache/kernel"
    mkdir -p "$cache/kernel"
    dpkg-deb -x "$cache"/linux-image-*.deb "$cache/kernel"
    kver=$(ls "$cache/kernel/lib/modules")
    depmod -b "$cache/kernel" "$kver"
    touch "$cache/kernel/.done-$pkg"
  fi
  kver=$(ls "$cache/kernel/lib/modules")
  local sum
  sum=$( (cat "$src/tests/vm/initramfs-init"; echo "$kver") | sha256sum | cut -c1-16)
  if [ ! -f "$cache/initrd-$sum.gz" ]; then
    local tmp
    tmp=$(mktemp -d)
    mkdir -p "$tmp"/{bin,proc,sys,dev,modules}
    cp /bin/busybox "$tmp/bin/busybox"
    cp "$src/tests/vm/initramfs-init" "$tmp/init"
    chmod 755 "$tmp/init"
    for m in fs/netfs/netfs net/9p/9pnet fs/9p/9p net/9p/9pnet_virtio fs/overlayfs/overlay; do
      xz -dc "$cache/kernel/lib/modules/$kver/kernel/$m.ko.xz" > "$tmp/modules/$(basename $m).ko"
    done
    (cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) > "$cache/initrd-$sum.gz"
    rm -rf "$tmp"
  fi
  ln -sf "initrd-$sum.gz" "$cache/initrd.gz"
  ln -sf "kernel/boot/vmlinuz-$kver" "$cache/vmlinuz"
}

run() {
  local script=$1 results=$2 build=$3 timeout=${4:-1200}
  prepare
  mkdir -p "$results"
  local only=${LUNKIT_VM_ONLY:-all}
  set +e
  local attempt rc
  for attempt in 1 2 3; do
    rm -f "$results/guest.log"
    timeout --signal=KILL "$timeout" qemu-system-x86_64 -accel tcg \
      -cpu qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt -m 3072 -smp 2 -nographic -no-reboot \
      -kernel "$cache/vmlinuz" -initrd "$cache/initrd.gz" \
      -append "console=ttyS0 quiet panic=-1 lunkit.init=$src/tests/vm/guest-init.sh lunkit.scenario=$script lunkit.kernel=$cache/kernel lunkit.build=$build lunkit.src=$src lunkit.only=$only" \
      -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
      -virtfs "local,path=$results,mount_tag=results,security_model=none,multidevs=remap" \
      </dev/null >"$results/console.log" 2>&1
    rc=$?
    # Multi-threaded TCG now and then oopses while the kernel patches its text during boot
    # ("int3"): a guest that died before its init ran is booted again.
    [ -s "$results/guest.log" ] && break
    grep -q "Kernel panic" "$results/console.log" || break
    cp "$results/console.log" "$results/console-boot$attempt.log"
    echo "lunkit-vm: the guest panicked while booting (attempt $attempt); booting again" >&2
  done
  set -e
  return $rc
}

case "${1:-}" in
  prepare) prepare ;;
  run) shift; run "$@" ;;
  *) echo "usage: $0 prepare | run SCRIPT RESULTS_DIR BUILD_DIR [TIMEOUT]" >&2; exit 2 ;;
esac
