#!/usr/bin/env bash
# The demo command. Today it shows libscsi, the SCSI emulation lunkit is built on: it installs
# dependencies, builds lunkit (optimised, in build/bench), drives a logical unit in-process with
# the commands an initiator sends, then runs the hot-path benchmark.
# Serving a LUN to a real kernel through TCMU (targetcli, tcm_loop, /dev/sdX) is not built yet.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tools/install-deps.sh
autoreconf -fi >/dev/null
mkdir -p build/bench
cd build/bench
[ -f Makefile ] || "$top"/configure CXXFLAGS="-O2 -g" >configure.out 2>&1 || { cat configure.out; exit 1; }
make -j"$(nproc)" >make.out 2>&1 || { tail -50 make.out; exit 1; }
echo "== built lunkit in build/bench"
echo
./tools/scsi-demo
echo
echo "== libscsi hot-path benchmark (bench/bench_scsi.cc)"
./bench/bench_scsi --benchmark_min_time=0.2 --benchmark_color=false
echo
echo "What this demo did: built lunkit and executed SCSI commands against libscsi in this process."
echo "Not yet available: lunkitd serving LUNs to the kernel through TCMU (see README, Status)."
