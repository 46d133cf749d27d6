#!/usr/bin/env bash
# Builds lunkit optimised without sanitizers in build/bench and runs the benchmarks in bench/:
#   tools/bench.sh [BENCHMARK ARGS]   the in-process Google Benchmarks (a few minutes)
#   tools/bench.sh vm                 the VM comparisons (bench/results/): lunkit TCMU and ublk
#                                     against tcmu-runner and the kernel's backstores; and RBD
#                                     through lunkit, tcmu-runner and librbd directly; and on
#                                     Linux 6.18, ublk zero copy against the loop device
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tools/install-deps.sh
if [ "${1:-}" = vm ]; then
  # Only the comparison needs these: Debian's tcmu-runner to compare with, matplotlib to chart.
  tools/install-deps.sh tcmu-runner python3-matplotlib
fi
autoreconf -fi >/dev/null
mkdir -p build/bench
cd build/bench
[ -f Makefile ] || "$top"/configure CXXFLAGS="-O2 -g" >configure.out 2>&1 || { cat configure.out; exit 1; }
make -j"$(nproc)" >make.out 2>&1 || { tail -50 make.out; exit 1; }
if [ "${1:-}" = vm ]; then
  "$top"/bench/compare.sh "$PWD" compare
  "$top"/bench/compare.sh "$PWD" rbd
  LUNKIT_VM_KERNEL=6.18 "$top"/bench/compare.sh "$PWD" ublk618
  LUNKIT_VM_KERNEL=6.18 exec "$top"/bench/compare.sh "$PWD" ublk-imbalance
fi
export LUNKIT_HANDLER_BUILD_DIR="$PWD/handlers/.libs"
for b in ./bench/bench_scsi ./bench/bench_tcmu ./bench/bench_file; do "$b" --benchmark_color=false "$@"; done
