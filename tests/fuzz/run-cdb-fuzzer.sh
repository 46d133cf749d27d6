#!/usr/bin/env bash
# Runs the libFuzzer CDB target for a bounded time (LUNKIT_FUZZ_SECONDS, default 60) from a small
# seed corpus. Passes when libFuzzer finds no crash, leak, sanitizer report or lost completion.
set -u
here=$(cd "$(dirname "$0")" && pwd)
fuzzer=${FUZZER:-./tests/fuzz/cdb_fuzzer}
seconds=${LUNKIT_FUZZ_SECONDS:-60}
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
# Seeds: mode byte, then records [len][cdb][datalen hi][datalen lo][data].
printf '\x10\x0a\x28\x00\x00\x00\x00\x00\x00\x00\x01\x00\x02\x00' > "$corpus/read10"
printf '\x51\x0a\x2a\x08\x00\x00\x00\x01\x00\x00\x01\x00\x02\x00' > "$corpus/write10"
printf '\x00\x06\x12\x01\x83\x00\xff\x00\x00\xff' > "$corpus/inquiry"
printf '\x13\x10\x89\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x04\x00' > "$corpus/caw"
printf '\x10\x0a\x42\x00\x00\x00\x00\x00\x00\x00\x18\x00\x00\x18\x00\x16\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00' > "$corpus/unmap"
printf '\x00\x06\x15\x10\x00\x00\x18\x00\x00\x18\x00\x00\x00\x00\x08\x12\x04' > "$corpus/modeselect"
printf '\x00\x0c\xa3\x0c\x80\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00\x00' > "$corpus/rsoc"
log=$(mktemp)
"$fuzzer" -max_total_time="$seconds" -seed=1 -print_final_stats=1 -rss_limit_mb=2048 \
  -artifact_prefix="$corpus/" "$corpus" >"$log" 2>&1
rc=$?
grep -E '^stat::number_of_executed_units|^Done|ERROR|SUMMARY' "$log" || tail -20 "$log"
if [ $rc -eq 0 ]; then
  echo "cdb_fuzzer: no findings in ${seconds}s"
  echo "lunkit-test: 1 passed, 0 failed"
  rm -f "$log"
  exit 0
fi
echo "cdb_fuzzer: FAILED (exit $rc); log follows"
tail -60 "$log"
for f in "$corpus"/crash-* "$corpus"/leak-* "$corpus"/timeout-*; do
  [ -e "$f" ] && { echo "reproducer $f:"; od -An -tx1 "$f" | head -20; }
done
echo "lunkit-test: 0 passed, 1 failed"
rm -f "$log"
exit 1
