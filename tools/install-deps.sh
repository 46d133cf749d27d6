#!/usr/bin/env bash
# Installs the Debian 12 packages lunkit builds and tests with; skips what is installed.
set -euo pipefail
packages=(
  g++ make autoconf automake libtool pkg-config
  liburing-dev libnl-3-dev libnl-genl-3-dev libconfig++-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev libsdbus-c++-dev libsystemd-dev librbd-dev librados-dev
  # a throwaway Ceph cluster for the rbd handler's tests
  ceph-mon ceph-osd ceph-common uuid-runtime
  clang libclang-rt-14-dev
  # the public ABI check (abidw, abidiff)
  abigail-tools
  # the system bus with its stock configuration (/usr/share/dbus-1/system.conf), pgrep/pkill
  dbus-daemon dbus-system-bus-common libglib2.0-bin procps
  # the real-kernel test VM and what runs inside it
  qemu-system-x86 busybox-static cpio xz-utils kmod iproute2 targetcli-fb python3-rtslib-fb
  python3-dbus python3-gi sg3-utils lsscsi fio open-iscsi e2fsprogs xfsprogs util-linux
  multipath-tools
)
# Arguments name more packages to install (tools/bench.sh vm adds what the comparison needs).
[ $# -gt 0 ] && packages=("$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root (or install sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
