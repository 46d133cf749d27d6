#!/bin/bash
# The demo, inside the VM (or on a host that has target_core_user): lunkitd serving a file-backed
# LUN created with targetcli, seen by Linux as a SCSI disk.
source "$(dirname "$0")/lib.sh"
out=$R/demo.out
set -e
exec > >(tee "$out") 2>&1
step() { echo; echo "==> $*"; }

step "starting lunkitd ($(basename "$B") build)"
start_lunkitd
grep -E "handler user:|serving" "$LUNKITD_LOG" | sed 's/^/    /'
step "targetcli sees lunkit's handlers over D-Bus"
targetcli ls /backstores | grep -E "user:"
step "creating a 256 MiB file-backed LUN and exporting it over loopback (tcm_loop)"
truncate -s 256M /var/lib/lunkit/demo.img
targetcli /backstores/user:file create name=demo size=256M cfgstring=/var/lib/lunkit/demo.img wwn=d3m0d3m0-0000-4000-8000-000000000001
targetcli /loopback create naa.5001405000000099
targetcli /loopback/naa.5001405000000099/luns create /backstores/user:file/demo
disk=$(wait_for_disk d3m0d3m0-0000-4000-8000-000000000001)
step "the kernel sees a SCSI disk: $disk"
lsscsi
sg_inq "$disk" | grep -E "Vendor|Product|revision|Unit serial"
sg_readcap --16 "$disk" | grep -E "Last LBA|provisioning|block length"
step "ext4 on it"
mkfs.ext4 -q -F "$disk"
mkdir -p /mnt/demo
mount "$disk" /mnt/demo
dd if=/dev/urandom of=/mnt/demo/file bs=1M count=16 status=none
sync
df -h /mnt/demo | tail -1
umount /mnt/demo
step "fio: 4 KiB random reads and writes, queue depth 32, 10 s each (software-emulated CPU: compare paths, not absolute numbers)"
for rw in randread randwrite; do
  fio --name="$rw" --filename="$disk" --rw=$rw --bs=4k --iodepth=32 --ioengine=libaio --direct=1 \
      --size=128M --runtime=10 --time_based --output-format=json --output=/tmp/fio.json
  python3 - "$rw" <<'PY'
import json, sys
job = json.load(open("/tmp/fio.json"))["jobs"][0]
d = job["read" if sys.argv[1] == "randread" else "write"]
lat = d["clat_ns"]["percentile"]
print(f"    {sys.argv[1]:9s}  {d['iops']:8.0f} IOPS   p50 {lat['50.000000']/1000:7.0f} us   p99 {lat['99.000000']/1000:7.0f} us")
PY
done
targetcli clearconfig confirm=True >/dev/null
stop_lunkitd  # fails the demo if lunkitd did not exit 0 or its stderr holds a sanitizer report
step "done: that disk was served by lunkitd through TCMU"
