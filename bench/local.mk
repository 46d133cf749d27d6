# Benchmarks (Google Benchmark). Run them from an optimised build without sanitizers:
# tools/bench.sh does that.
noinst_PROGRAMS += bench/bench_scsi
bench_bench_scsi_SOURCES = bench/bench_scsi.cc
bench_bench_scsi_CPPFLAGS = $(AM_CPPFLAGS) $(BENCHMARK_CFLAGS)
bench_bench_scsi_LDADD = libscsi/liblunkit-scsi.la $(BENCHMARK_LIBS)
