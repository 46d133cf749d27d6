# Benchmarks (Google Benchmark). Run them from an optimised build without sanitizers:
# tools/bench.sh does that.
noinst_PROGRAMS += bench/bench_scsi bench/bench_tcmu
bench_bench_scsi_SOURCES = bench/bench_scsi.cc bench/null_device.h bench/collecting_reporter.h
bench_bench_scsi_CPPFLAGS = $(AM_CPPFLAGS) $(BENCHMARK_CFLAGS)
bench_bench_scsi_LDADD = libscsi/libscsi-core.la $(BENCHMARK_LIBS)
bench_bench_tcmu_SOURCES = bench/bench_tcmu.cc bench/null_device.h bench/collecting_reporter.h
bench_bench_tcmu_CPPFLAGS = $(AM_CPPFLAGS) $(BENCHMARK_CFLAGS) $(URING_CFLAGS) $(SPDLOG_CFLAGS)
bench_bench_tcmu_LDADD = tcmu/libtcmu-core.la libscsi/libscsi-core.la $(BENCHMARK_LIBS) \
	$(URING_LIBS) $(SPDLOG_LIBS) $(NLGENL_LIBS) $(NL_LIBS)
noinst_PROGRAMS += bench/bench_file
bench_bench_file_SOURCES = bench/bench_file.cc bench/collecting_reporter.h
bench_bench_file_CPPFLAGS = $(AM_CPPFLAGS) $(BENCHMARK_CFLAGS) $(URING_CFLAGS) $(SPDLOG_CFLAGS)
bench_bench_file_LDADD = handlers/libhandler-host.la tcmu/libtcmu-core.la \
	libscsi/libscsi-core.la $(BENCHMARK_LIBS) $(URING_LIBS) $(SPDLOG_LIBS) $(NLGENL_LIBS) $(NL_LIBS)
bench_bench_file_LDFLAGS = $(AM_LDFLAGS) $(HANDLER_ABI_EXPORT)
