#!/usr/bin/env bash
# Builds lunkit optimised without sanitizers in build/bench and runs the benchmarks in bench/:
#   tools/bench.sh [BENCHMARK ARGS]   the in-process Google Benchmarks (a few minutes)
#   tools/bench.sh vm                 the comparison in a Linux 6.12 VM: lunkit TCMU and ublk,
#                                     tcmu-runner, the kernel's backstores (bench/results/)
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
  exec "$top"/bench/compare.sh "$PWD"
fi
export LUNKIT_HANDLER_BUILD_DIR="$PWD/handlers/.libs"
for b in ./bench/bench_scsi ./bench/bench_tcmu ./bench/bench_file; do "$b" --benchmark_color=false "$@"; done
