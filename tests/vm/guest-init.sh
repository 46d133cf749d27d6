#!/bin/bash
# PID 1 in the test VM (after the initramfs): the environment targetcli and lunkitd expect, then
# the scenario script named on the kernel command line; the VM powers off when it ends.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    lunkit.scenario=*) scenario="${arg#lunkit.scenario=}" ;;
    lunkit.kernel=*) kernel_dir="${arg#lunkit.kernel=}" ;;
    lunkit.build=*) export LUNKIT_BUILD="${arg#lunkit.build=}" ;;
    lunkit.src=*) export LUNKIT_SRC="${arg#lunkit.src=}" ;;
    lunkit.only=*) export LUNKIT_ONLY="${arg#lunkit.only=}" ;;
  esac
done
exec >/lunkit-results/guest.log 2>&1
ln -sf /proc/self/fd /dev/fd; ln -sf fd/0 /dev/stdin; ln -sf fd/1 /dev/stdout; ln -sf fd/2 /dev/stderr
mount -t tmpfs tmpfs /run
# A private /tmp: the host's (seen through the overlay) may hold anything, even a directory where a
# scenario writes a file. The checkout, the build or the kernel may live under the host's /tmp, so
# their top-level directories are bound back in.
mkdir -p /run/host-tmp
mount --bind /tmp /run/host-tmp
mount -t tmpfs -o size=1g tmpfs /tmp
for path in "$LUNKIT_SRC" "$LUNKIT_BUILD" "$kernel_dir"; do
  case "$path" in
    /tmp/?*)
      top=${path#/tmp/}
      top=${top%%/*}
      if [ ! -d "/tmp/$top" ]; then
        mkdir "/tmp/$top"
        mount --bind "/run/host-tmp/$top" "/tmp/$top"
      fi
      ;;
  esac
done
chmod 1777 /tmp
mkdir -p /lib/modules
mount --bind "$kernel_dir/lib/modules" /lib/modules
modprobe configfs
mount -t configfs configfs /sys/kernel/config
# No udev here: load what it would load for the disks the tests create.
modprobe sd_mod
modprobe sg
hostname lunkit-vm
ip link set lo up
mkdir -p /run/dbus /run/lock /etc/rtslib-fb-target/pr /etc/target /var/lib/lunkit
# If the host has Debian's tcmu-runner (the benchmark compares with it), D-Bus would start it on
# the first call to org.kernel.TCMUService1 while lunkitd is down; in the guest, only the tests
# decide who serves that name. Removed before lunkit's own file (same name) is installed.
rm -f /usr/share/dbus-1/system-services/org.kernel.TCMUService1.service
# lunkit installed as the README says (make install, default prefix), once, before the bus
# starts: the bus then reads lunkit's policy from where make install put it, as on a real system.
source "$LUNKIT_SRC/tests/vm/lib.sh"
install_lunkit || echo "guest: make install failed (status $?), see make-install.log"
# The bus forks into the background; DBUS_DEBUG_OUTPUT keeps its stderr (else /dev/null), which
# the services it activates inherit: the install scenario reads the activated lunkitd's there.
DBUS_DEBUG_OUTPUT=1 dbus-daemon --system --fork 2>>/lunkit-results/dbus-daemon.log
echo "guest: $(uname -r), scenario $scenario"
bash "$scenario"
echo "guest: done"
sync
echo 1 > /proc/sys/kernel/sysrq
echo o > /proc/sysrq-trigger
sleep 10
