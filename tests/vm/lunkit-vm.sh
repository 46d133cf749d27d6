#!/usr/bin/env bash
# Runs a script inside a Linux VM (QEMU, software emulation) whose root is this host's root,
# read-only, under a tmpfs overlay. The kernel is one of Debian's, pinned by name in
# tests/vm/kernels.conf (LUNKIT_VM_KERNEL, default 6.12); it and its initramfs are cached in
# $LUNKIT_VM_CACHE/NAME (default /var/cache/lunkit-vm).
#
#   tests/vm/lunkit-vm.sh prepare
#   tests/vm/lunkit-vm.sh run SCRIPT RESULTS_DIR BUILD_DIR [TIMEOUT_SECONDS]
#
# The guest writes into RESULTS_DIR (guest.log, the script's own files); console.log holds the
# kernel console. A guest that hangs is killed at the timeout (exit status 124).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
kernel_name=${LUNKIT_VM_KERNEL:-6.12}
read -r _ kernel_pkg kernel_suite < <(awk -v n="$kernel_name" '$1 == n' "$src/tests/vm/kernels.conf") ||
  { echo "lunkit-vm: no kernel '$kernel_name' in tests/vm/kernels.conf" >&2; exit 2; }
cache=${LUNKIT_VM_CACHE:-/var/cache/lunkit-vm}/$kernel_name
mirror=${LUNKIT_VM_MIRROR:-http://deb.debian.org/debian}

# Downloads the pinned package into $cache.
download() {
  if [ "$kernel_suite" = host ]; then
    apt-cache show "$kernel_pkg" >/dev/null 2>&1 || apt-get update -qq >/dev/null
    (cd "$cache" && apt-get download "$kernel_pkg" >/dev/null) && return 0
  else
    local apt=$cache/apt
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
    echo "deb $mirror $kernel_suite main" >"$apt/sources.list"
    local opts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=-
                -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Get::List-Cleanup=0)
    apt-get "${opts[@]}" update -qq >/dev/null &&
      (cd "$cache" && apt-get "${opts[@]}" download "$kernel_pkg" >/dev/null) && return 0
  fi
  echo "lunkit-vm: cannot download $kernel_pkg ($kernel_suite); if the archive dropped it, pin another in tests/vm/kernels.conf" >&2
  return 1
}

prepare() {
  mkdir -p "$cache"
  local kver
  if [ ! -f "$cache/kernel/.done-$kernel_pkg" ]; then
    echo "lunkit-vm: fetching $kernel_pkg"
    rm -f "$cache"/linux-image-*.deb
    download
    rm -rf "$cache/kernel"
    mkdir -p "$cache/kernel"
    dpkg-deb -x "$cache"/linux-image-*.deb "$cache/kernel"
    # Debian 13 is merged-/usr: its modules are under usr/lib/modules.
    if [ ! -e "$cache/kernel/lib/modules" ] && [ -d "$cache/kernel/usr/lib/modules" ]; then
      mkdir -p "$cache/kernel/lib"
      ln -s ../usr/lib/modules "$cache/kernel/lib/modules"
    fi
    kver=$(ls "$cache/kernel/lib/modules/")
    depmod -b "$cache/kernel" "$kver"
    rm -f "$cache"/linux-image-*.deb
    touch "$cache/kernel/.done-$kernel_pkg"
  fi
  kver=$(ls "$cache/kernel/lib/modules/")
  local sum
  sum=$( (cat "$src/tests/vm/initramfs-init"; echo "$kver") | sha256sum | cut -c1-16)
  if [ ! -f "$cache/initrd-$sum.gz" ]; then
    local tmp m mods=$cache/kernel/lib/modules/$kver
    tmp=$(mktemp -d)
    mkdir -p "$tmp"/{bin,proc,sys,dev,modules}
    cp /bin/busybox "$tmp/bin/busybox"
    cp "$src/tests/vm/initramfs-init" "$tmp/init"
    chmod 755 "$tmp/init"
    for m in fs/netfs/netfs net/9p/9pnet fs/9p/9p net/9p/9pnet_virtio fs/overlayfs/overlay; do
      # Built into some kernels (netfs on 6.18): nothing to load then.
      if grep -qx "kernel/$m.ko" "$mods/modules.builtin"; then continue; fi
      xz -dc "$mods/kernel/$m.ko.xz" > "$tmp/modules/$(basename $m).ko"
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
