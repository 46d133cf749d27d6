#!/usr/bin/env bash
# The comparison benchmark: boots the test VM once and measures lunkit TCMU, lunkit ublk,
# tcmu-runner and the kernel's own backstores on the same workloads (bench/vm/compare-guest.sh),
# then writes bench/results/compare.md and compare.png. Run through `tools/bench.sh vm`.
#   bench/compare.sh BUILD_DIR   (an optimised build without sanitizers)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: bench/compare.sh BUILD_DIR}" && pwd)
raw="$build/bench-results"
out="$src/bench/results"
rm -rf "$raw" && mkdir -p "$raw" "$out"
grep -q -- "--enable-sanitizers" "$build/config.log" && {
  echo "compare.sh: $build is a sanitizer build; benchmark an optimised one" >&2; exit 1; }
flags=$(sed -n "s/^CXXFLAGS='\(.*\)'$/\1/p" "$build/config.log" | head -1)
commit=$(git -C "$src" describe --always --dirty 2>/dev/null || echo unknown)
# What the guest reads (it sees no environment of ours): seconds per workload, which paths.
printf 'LUNKIT_BENCH_RUNTIME=%s\nLUNKIT_BENCH_ONLY=%s\n' "${LUNKIT_BENCH_RUNTIME:-10}" \
  "${LUNKIT_BENCH_ONLY:-all}" >"$raw/bench.env"
echo "compare.sh: booting the VM (about 15 minutes under software emulation)"
"$src/tests/vm/lunkit-vm.sh" run "$src/bench/vm/compare-guest.sh" "$raw" "$build" \
  "${LUNKIT_BENCH_TIMEOUT:-3600}" || echo "compare.sh: the VM ended with status $?"
[ -s "$raw/compare.jsonl" ] || { echo "compare.sh: no results; see $raw/guest.log" >&2; exit 1; }
cp "$raw/compare.jsonl" "$out/compare.jsonl"
/usr/bin/python3 "$src/bench/compare_report.py" report "$out/compare.jsonl" "$out" \
  "lunkit $commit built with CXXFLAGS='$flags' (no sanitizers), host $(uname -n), $(date -u +%Y-%m-%d)."
echo "compare.sh: wrote $out/compare.md and $out/compare.png"
