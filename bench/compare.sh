#!/usr/bin/env bash
# The VM benchmarks: boots the test VM once for a suite and writes bench/results/SUITE.md and
# SUITE.png. Run through `tools/bench.sh vm` (both suites) or directly:
#   bench/compare.sh BUILD_DIR [compare|rbd|ublk618|ublk-imbalance]   (optimised, no sanitizers)
# compare: lunkit TCMU and ublk, tcmu-runner and the kernel's own backstores on the same
#          workloads (bench/vm/compare-guest.sh);
# rbd:     an RBD image on a cluster in the guest through lunkit TCMU and ublk, tcmu-runner's
#          user:rbd, fio's rbd engine and rbd bench (bench/vm/rbd-guest.sh);
# ublk618: ublk zero copy against --no-zero-copy and the loop device, in rounds, on the kernel
#          LUNKIT_VM_KERNEL names (6.18: `LUNKIT_VM_KERNEL=6.18 bench/compare.sh BUILD ublk618`);
# ublk-imbalance: all load on one of two queues, one thread per queue against per-I/O daemons
#          (--threads 2), in rounds (6.18 as for ublk618).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: bench/compare.sh BUILD_DIR [compare|rbd|ublk618|ublk-imbalance]}" && pwd)
suite=${2:-compare}
[ -f "$src/bench/vm/$suite-guest.sh" ] || { echo "compare.sh: no suite '$suite' (compare, rbd, ublk618, ublk-imbalance)" >&2; exit 2; }
raw="$build/bench-results-$suite"
out="$src/bench/results"
rm -rf "$raw" && mkdir -p "$raw" "$out"
grep -q -- "--enable-sanitizers" "$build/config.log" && {
  echo "compare.sh: $build is a sanitizer build; benchmark an optimised one" >&2; exit 1; }
flags=$(sed -n "s/^CXXFLAGS='\(.*\)'$/\1/p" "$build/config.log" | head -1)
commit=$(git -C "$src" describe --always --dirty 2>/dev/null || echo unknown)
# What the guest reads (it sees no environment of ours): seconds per workload, which paths.
printf 'LUNKIT_BENCH_RUNTIME=%s\nLUNKIT_BENCH_ONLY=%s\n' "${LUNKIT_BENCH_RUNTIME:-10}" \
  "${LUNKIT_BENCH_ONLY:-all}" >"$raw/bench.env"
[ -n "${LUNKIT_BENCH_ROUNDS:-}" ] && echo "LUNKIT_BENCH_ROUNDS=$LUNKIT_BENCH_ROUNDS" >>"$raw/bench.env"
echo "compare.sh: booting the VM for '$suite' (10 to 20 minutes under software emulation)"
"$src/tests/vm/lunkit-vm.sh" run "$src/bench/vm/$suite-guest.sh" "$raw" "$build" \
  "${LUNKIT_BENCH_TIMEOUT:-3600}" || echo "compare.sh: the VM ended with status $?"
[ -s "$raw/results.jsonl" ] || { echo "compare.sh: no results; see $raw/guest.log" >&2; exit 1; }
cp "$raw/results.jsonl" "$out/$suite.jsonl"
/usr/bin/python3 "$src/bench/compare_report.py" report "$suite" "$out/$suite.jsonl" "$out" \
  "lunkit $commit built with CXXFLAGS='$flags' (no sanitizers), host $(uname -n), $(date -u +%Y-%m-%d)."
echo "compare.sh: wrote $out/$suite.md and $out/$suite.png"
