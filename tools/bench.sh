#!/usr/bin/env bash
# Builds lunkit optimised without sanitizers in build/bench and runs the benchmarks in bench/.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tools/install-deps.sh
autoreconf -fi >/dev/null
mkdir -p build/bench
cd build/bench
[ -f Makefile ] || "$top"/configure CXXFLAGS="-O2 -g" >configure.out 2>&1 || { cat configure.out; exit 1; }
make -j"$(nproc)" >make.out 2>&1 || { tail -50 make.out; exit 1; }
export LUNKIT_HANDLER_BUILD_DIR="$PWD/handlers/.libs"
for b in ./bench/bench_scsi ./bench/bench_tcmu ./bench/bench_file; do "$b" --benchmark_color=false "$@"; done
