# GoogleTest suites, run by `make check`.
LIBSCSI_TEST_CPPFLAGS = $(AM_CPPFLAGS) $(GTEST_CFLAGS) $(GMOCK_CFLAGS)
LIBSCSI_TEST_LDADD = libscsi/libscsi-core.la $(GTEST_LIBS) -lgtest_main $(GMOCK_LIBS)
TEST_HELPERS = tests/unit/harness.h tests/unit/ram_device.h

LIBSCSI_TESTS = \
	tests/unit/sense_test \
	tests/unit/opcode_table_test \
	tests/unit/inquiry_test \
	tests/unit/basics_test \
	tests/unit/mode_test \
	tests/unit/read_write_test \
	tests/unit/verify_test \
	tests/unit/compare_and_write_test \
	tests/unit/provisioning_test \
	tests/unit/maintenance_test \
	tests/unit/robustness_test \
	tests/unit/alloc_test \
	tests/unit/xcopy_test
check_PROGRAMS += $(LIBSCSI_TESTS)
TESTS += $(LIBSCSI_TESTS)

TCMU_TESTS = tests/unit/tcmu_ring_test tests/unit/tcmu_device_test tests/unit/tcmu_uapi_test \
	tests/unit/tcmu_discovery_test tests/unit/tcmu_netlink_test tests/unit/tcmu_manager_test \
	tests/unit/alua_test
check_PROGRAMS += $(TCMU_TESTS)
TESTS += $(TCMU_TESTS)
TCMU_TEST_LDADD = tcmu/libtcmu-core.la $(LIBSCSI_TEST_LDADD) $(URING_LIBS) $(SPDLOG_LIBS) $(NLGENL_LIBS) $(NL_LIBS)
TCMU_TEST_CPPFLAGS = $(LIBSCSI_TEST_CPPFLAGS) $(URING_CFLAGS) $(SPDLOG_CFLAGS) $(NL_CFLAGS) $(NLGENL_CFLAGS)
tests_unit_tcmu_ring_test_SOURCES = tests/unit/tcmu_ring_test.cc
tests_unit_tcmu_ring_test_CPPFLAGS = $(TCMU_TEST_CPPFLAGS)
tests_unit_tcmu_ring_test_LDADD = $(TCMU_TEST_LDADD)
tests_unit_tcmu_device_test_SOURCES = tests/unit/tcmu_device_test.cc $(TEST_HELPERS)
tests_unit_tcmu_device_test_CPPFLAGS = $(TCMU_TEST_CPPFLAGS)
tests_unit_tcmu_device_test_LDADD = $(TCMU_TEST_LDADD)
tests_unit_tcmu_discovery_test_SOURCES = tests/unit/tcmu_discovery_test.cc tests/unit/fake_system.h
tests_unit_tcmu_discovery_test_CPPFLAGS = $(TCMU_TEST_CPPFLAGS)
tests_unit_tcmu_discovery_test_LDADD = $(TCMU_TEST_LDADD)
tests_unit_tcmu_netlink_test_SOURCES = tests/unit/tcmu_netlink_test.cc
tests_unit_tcmu_netlink_test_CPPFLAGS = $(TCMU_TEST_CPPFLAGS)
tests_unit_tcmu_netlink_test_LDADD = $(TCMU_TEST_LDADD)
tests_unit_tcmu_manager_test_SOURCES = tests/unit/tcmu_manager_test.cc tests/unit/fake_system.h $(TEST_HELPERS)
tests_unit_tcmu_manager_test_CPPFLAGS = $(TCMU_TEST_CPPFLAGS)
tests_unit_tcmu_manager_test_LDADD = $(TCMU_TEST_LDADD)
tests_unit_alua_test_SOURCES = tests/unit/alua_test.cc tests/unit/fake_system.h $(TEST_HELPERS)
tests_unit_alua_test_CPPFLAGS = $(TCMU_TEST_CPPFLAGS)
tests_unit_alua_test_LDADD = $(TCMU_TEST_LDADD)
TESTS += tests/unit/tcmu_alloc_test
check_PROGRAMS += tests/unit/tcmu_alloc_test
tests_unit_tcmu_alloc_test_SOURCES = tests/unit/tcmu_alloc_test.cc tests/unit/count_allocations.h \
	bench/null_device.h
tests_unit_tcmu_alloc_test_CPPFLAGS = $(TCMU_TEST_CPPFLAGS)
tests_unit_tcmu_alloc_test_LDADD = $(TCMU_TEST_LDADD)
tests_unit_tcmu_uapi_test_SOURCES = tests/unit/tcmu_uapi_test.c tests/unit/tcmu_uapi_layout.cc \
	tests/unit/layout_check.h
tests_unit_tcmu_uapi_test_CPPFLAGS = $(AM_CPPFLAGS)

tests_unit_sense_test_SOURCES = tests/unit/sense_test.cc
tests_unit_sense_test_CPPFLAGS = $(LIBSCSI_TEST_CPPFLAGS)
tests_unit_sense_test_LDADD = $(LIBSCSI_TEST_LDADD)

tests_unit_opcode_table_test_SOURCES = tests/unit/opcode_table_test.cc
tests_unit_opcode_table_test_CPPFLAGS = $(LIBSCSI_TEST_CPPFLAGS)
tests_unit_opcode_table_test_LDADD = $(LIBSCSI_TEST_LDADD)

tests_unit_inquiry_test_SOURCES = tests/unit/inquiry_test.cc $(TEST_HELPERS)
tests_unit_inquiry_test_CPPFLAGS = $(LIBSCSI_TEST_CPPFLAGS)
tests_unit_inquiry_test_LDADD = $(LIBSCSI_TEST_LDADD)

tests_unit_basics_test_SOURCES = tests/unit/basics_test.cc $(TEST_HELPERS)
tests_unit_basics_test_CPPFLAGS = $(LIBSCSI_TEST_CPPFLAGS)
tests_unit_basics_test_LDADD = $(LIBSCSI_TEST_LDADD)

tests_unit_mode_test_SOURCES = tests/unit/mode_test.cc $(TEST_HELPERS)
tests_unit_mode_test_CPPFLAGS = $(LIBSCSI_TEST_CPPFLAGS)
tests_unit_mode_test_LDADD = $(LIBSCSI_TEST_LDADD)

tests_unit_read_write_test_SOURCES = tests/unit/read_write_test.cc $(TEST_HELPERS)
tests_unit_read_write_test_CPPFLAGS = $(LIBSCSI_TEST_CPPFLAGS)
tests_unit_read_write_test_LDADD = $(LIBSCSI_TEST_LDADD)

tests_unit_verify_test_SOURCES = tests/unit/verify_test.cc $(TEST_HELPERS)
tests_unit_verify_test_CPPFLAGS = $(LIBSCSI_TEST_CPPFLAGS)
tests_unit_verify_test_LDADD = $(LIBSCSI_TEST_LDADD)

tests_unit_compare_and_write_test_SOURCES = tests/unit/compare_and_write_test.cc $(TEST_HELPERS)
tests_unit_compare_and_write_test_CPPFLAGS = $(LIBSCSI_TEST_CPPFLAGS)
tests_unit_compare_and_write_test_LDADD = $(LIBSCSI_TEST_LDADD)

tests_unit_provisioning_test_SOURCES = tests/unit/provisioning_test.cc $(TEST_HELPERS)
tests_unit_provisioning_test_CPPFLAGS = $(LIBSCSI_TEST_CPPFLAGS)
tests_unit_provisioning_test_LDADD = $(LIBSCSI_TEST_LDADD)

tests_unit_maintenance_test_SOURCES = tests/unit/maintenance_test.cc $(TEST_HELPERS)
tests_unit_maintenance_test_CPPFLAGS = $(LIBSCSI_TEST_CPPFLAGS)
tests_unit_maintenance_test_LDADD = $(LIBSCSI_TEST_LDADD)

tests_unit_xcopy_test_SOURCES = tests/unit/xcopy_test.cc $(TEST_HELPERS)
tests_unit_xcopy_test_CPPFLAGS = $(LIBSCSI_TEST_CPPFLAGS)
tests_unit_xcopy_test_LDADD = $(LIBSCSI_TEST_LDADD)

tests_unit_robustness_test_SOURCES = tests/unit/robustness_test.cc $(TEST_HELPERS)
tests_unit_robustness_test_CPPFLAGS = $(LIBSCSI_TEST_CPPFLAGS)
tests_unit_robustness_test_LDADD = $(LIBSCSI_TEST_LDADD)

tests_unit_alloc_test_SOURCES = tests/unit/alloc_test.cc tests/unit/count_allocations.h bench/null_device.h
tests_unit_alloc_test_CPPFLAGS = $(LIBSCSI_TEST_CPPFLAGS)
tests_unit_alloc_test_LDADD = $(LIBSCSI_TEST_LDADD)

# libFuzzer target, built with clang (the rest of the tree uses g++).
EXTRA_DIST += tests/fuzz/cdb_fuzzer.cc tests/fuzz/run-cdb-fuzzer.sh
if ENABLE_FUZZ
FUZZ_LIBSCSI_INPUTS = $(filter %.cc,$(libscsi_libscsi_core_la_SOURCES))
tests/fuzz/cdb_fuzzer: $(FUZZ_LIBSCSI_INPUTS) tests/fuzz/cdb_fuzzer.cc tests/unit/ram_device.h
	@mkdir -p tests/fuzz
	$(AM_V_GEN)$(FUZZ_CXX) -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -I$(top_srcdir)/include -I$(top_srcdir) \
	  $(addprefix $(top_srcdir)/,$(FUZZ_LIBSCSI_INPUTS)) $(top_srcdir)/tests/fuzz/cdb_fuzzer.cc -o $@
check_DATA = tests/fuzz/cdb_fuzzer
CLEANFILES += tests/fuzz/cdb_fuzzer
TESTS += tests/fuzz/run-cdb-fuzzer.sh
endif

# Broken plugins for the loader tests (shared objects that are never installed).
BAD_PLUGIN_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared -rpath /nowhere
check_LTLIBRARIES += tests/plugins/bad_abi.la tests/plugins/no_entry.la \
	tests/plugins/dup_ram.la tests/plugins/no_read.la tests/plugins/bad_name.la \
	tests/plugins/blocking_mem.la tests/plugins/rawdev.la tests/plugins/faulty.la \
	tests/plugins/loopcheck.la tests/plugins/future.la tests/plugins/serial.la \
	tests/plugins/v1_mem.la tests/plugins/cxx.la
tests_plugins_bad_abi_la_SOURCES = tests/plugins/bad_plugins.c
tests_plugins_bad_abi_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_KIND=1
tests_plugins_bad_abi_la_LDFLAGS = $(BAD_PLUGIN_LDFLAGS)
tests_plugins_no_entry_la_SOURCES = tests/plugins/bad_plugins.c
tests_plugins_no_entry_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_KIND=2
tests_plugins_no_entry_la_LDFLAGS = $(BAD_PLUGIN_LDFLAGS)
tests_plugins_dup_ram_la_SOURCES = tests/plugins/bad_plugins.c
tests_plugins_dup_ram_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_KIND=3
tests_plugins_dup_ram_la_LDFLAGS = $(BAD_PLUGIN_LDFLAGS)
tests_plugins_no_read_la_SOURCES = tests/plugins/bad_plugins.c
tests_plugins_no_read_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_KIND=4
tests_plugins_no_read_la_LDFLAGS = $(BAD_PLUGIN_LDFLAGS)
tests_plugins_bad_name_la_SOURCES = tests/plugins/bad_plugins.c
tests_plugins_bad_name_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_KIND=5
tests_plugins_bad_name_la_LDFLAGS = $(BAD_PLUGIN_LDFLAGS)
tests_plugins_blocking_mem_la_SOURCES = tests/plugins/bad_plugins.c
tests_plugins_blocking_mem_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_KIND=6
tests_plugins_blocking_mem_la_LDFLAGS = $(BAD_PLUGIN_LDFLAGS)
tests_plugins_rawdev_la_SOURCES = tests/plugins/bad_plugins.c
tests_plugins_rawdev_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_KIND=7
tests_plugins_rawdev_la_LDFLAGS = $(BAD_PLUGIN_LDFLAGS)
tests_plugins_faulty_la_SOURCES = tests/plugins/bad_plugins.c
tests_plugins_faulty_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_KIND=8
tests_plugins_faulty_la_LDFLAGS = $(BAD_PLUGIN_LDFLAGS)
tests_plugins_loopcheck_la_SOURCES = tests/plugins/bad_plugins.c
tests_plugins_loopcheck_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_KIND=9
tests_plugins_loopcheck_la_LDFLAGS = $(BAD_PLUGIN_LDFLAGS)
tests_plugins_future_la_SOURCES = tests/plugins/bad_plugins.c
tests_plugins_future_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_KIND=10
tests_plugins_future_la_LDFLAGS = $(BAD_PLUGIN_LDFLAGS)
tests_plugins_serial_la_SOURCES = tests/plugins/bad_plugins.c
tests_plugins_serial_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_KIND=11
tests_plugins_serial_la_LDFLAGS = $(BAD_PLUGIN_LDFLAGS)
# A plugin built from the version-1 header as released (its include directory comes first), with
# default visibility as version-1 plugins were built.
tests_plugins_v1_mem_la_SOURCES = tests/plugins/v1_mem.c
tests_plugins_v1_mem_la_CPPFLAGS = -I$(top_srcdir)/tests/plugins/v1 $(AM_CPPFLAGS)
tests_plugins_v1_mem_la_CFLAGS = $(AM_CFLAGS) -fvisibility=default
tests_plugins_v1_mem_la_LDFLAGS = $(BAD_PLUGIN_LDFLAGS)
EXTRA_DIST += tests/plugins/v1/lunkit/handler.h
tests_plugins_cxx_la_SOURCES = tests/plugins/cxx_plugin.cc
tests_plugins_cxx_la_LDFLAGS = $(BAD_PLUGIN_LDFLAGS)

# Handler plugins: loading and each handler end to end through emulator, transport and libscsi.
AM_TESTS_ENVIRONMENT = LUNKIT_HANDLER_BUILD_DIR='$(abs_builddir)/handlers/.libs'; \
	LUNKIT_BAD_PLUGIN_DIR='$(abs_builddir)/tests/plugins/.libs'; \
	LUNKIT_MAN_EXAMPLE='$(abs_builddir)/man/.libs/example_handler.so'; \
	LUNKIT_BUILD_DIR='$(abs_builddir)'; LUNKIT_SRC_DIR='$(abs_top_srcdir)'; \
	LUNKIT_SANITIZER_FLAGS='$(SANITIZER_FLAGS)'; LUNKIT_CXX='$(CXX)'; LUNKIT_CC='$(CC)'; \
	export LUNKIT_HANDLER_BUILD_DIR LUNKIT_BAD_PLUGIN_DIR LUNKIT_MAN_EXAMPLE LUNKIT_BUILD_DIR \
	LUNKIT_SRC_DIR LUNKIT_SANITIZER_FLAGS LUNKIT_CXX LUNKIT_CC;
HANDLER_TESTS = tests/unit/plugin_loader_test tests/unit/handlers_test tests/unit/handler_options_test
check_PROGRAMS += $(HANDLER_TESTS)
TESTS += $(HANDLER_TESTS)
HANDLER_TEST_LDADD = handlers/libhandler-host.la $(TCMU_TEST_LDADD)
tests_unit_plugin_loader_test_SOURCES = tests/unit/plugin_loader_test.cc tests/unit/plugin_dir.h
tests_unit_plugin_loader_test_CPPFLAGS = $(TCMU_TEST_CPPFLAGS)
tests_unit_plugin_loader_test_LDADD = $(HANDLER_TEST_LDADD)
tests_unit_handler_options_test_SOURCES = tests/unit/handler_options_test.cc tests/unit/plugin_dir.h
tests_unit_handler_options_test_CPPFLAGS = $(TCMU_TEST_CPPFLAGS)
tests_unit_handler_options_test_LDADD = $(HANDLER_TEST_LDADD)
tests_unit_handlers_test_SOURCES = tests/unit/handlers_test.cc tests/unit/plugin_dir.h tests/unit/plugin_rig.h
tests_unit_handlers_test_CPPFLAGS = $(TCMU_TEST_CPPFLAGS)
tests_unit_handlers_test_LDADD = $(HANDLER_TEST_LDADD)

# The public C API (lunkit/tcmu.h), driven only through its C header; c_api_header_test.c checks
# that the header is C. And the standalone example server, built so that it keeps compiling.
TESTS += tests/unit/c_api_test
check_PROGRAMS += tests/unit/c_api_test examples/serve-ram
tests_unit_c_api_test_SOURCES = tests/unit/c_api_test.cc tests/unit/c_api_header_test.c tests/unit/tcmu_api_rig.h \
	tests/unit/fake_system.h
tests_unit_c_api_test_CPPFLAGS = $(TCMU_TEST_CPPFLAGS)
tests_unit_c_api_test_CFLAGS = $(AM_CFLAGS) -std=c99 -pedantic
tests_unit_c_api_test_LDADD = tcmu/libtcmu-capi.la $(HANDLER_TEST_LDADD)
examples_serve_ram_SOURCES = examples/serve-ram.c
examples_serve_ram_CFLAGS = $(AM_CFLAGS) -std=c99 -pedantic
# (the installed library: only its public API)
examples_serve_ram_LDADD = tcmu/liblunkit-tcmu.la
EXTRA_DIST += examples/Makefile examples/README.md

# libscsi's C API (lunkit/scsi.h), linked with the installed library alone; its C file checks
# that the header is C.
TESTS += tests/unit/scsi_c_api_test
check_PROGRAMS += tests/unit/scsi_c_api_test
tests_unit_scsi_c_api_test_SOURCES = tests/unit/scsi_c_api_test.cc tests/unit/scsi_c_api_header_test.c
tests_unit_scsi_c_api_test_CPPFLAGS = $(AM_CPPFLAGS) $(GTEST_CFLAGS)
tests_unit_scsi_c_api_test_CFLAGS = $(AM_CFLAGS) -std=c99 -pedantic
tests_unit_scsi_c_api_test_LDADD = libscsi/liblunkit-scsi.la $(GTEST_LIBS) -lgtest_main

# The public C++ API (lunkit/tcmu.hpp, header-only over the C API) and the C++ example server,
# linked with the installed library alone.
TESTS += tests/unit/cxx_api_test
check_PROGRAMS += tests/unit/cxx_api_test examples/serve-file
tests_unit_cxx_api_test_SOURCES = tests/unit/cxx_api_test.cc tests/unit/fake_system.h tests/unit/tcmu_api_rig.h
tests_unit_cxx_api_test_CPPFLAGS = $(TCMU_TEST_CPPFLAGS)
tests_unit_cxx_api_test_LDADD = tcmu/libtcmu-capi.la $(HANDLER_TEST_LDADD)
examples_serve_file_SOURCES = examples/serve-file.cc
examples_serve_file_LDADD = tcmu/liblunkit-tcmu.la

DAEMON_TESTS = tests/unit/config_test tests/unit/copy_groups_test tests/unit/lunkitd_test
check_PROGRAMS += $(DAEMON_TESTS)
TESTS += $(DAEMON_TESTS)
tests_unit_config_test_SOURCES = tests/unit/config_test.cc
tests_unit_config_test_CPPFLAGS = $(DAEMON_CPPFLAGS) $(GTEST_CFLAGS)
tests_unit_config_test_LDADD = $(DAEMON_LIBS) $(HANDLER_TEST_LDADD) $(GTEST_LIBS) -lgtest_main
tests_unit_copy_groups_test_SOURCES = tests/unit/copy_groups_test.cc
tests_unit_copy_groups_test_CPPFLAGS = $(DAEMON_CPPFLAGS) $(GTEST_CFLAGS)
tests_unit_copy_groups_test_LDADD = $(DAEMON_LIBS) $(HANDLER_TEST_LDADD) $(GTEST_LIBS) -lgtest_main
tests_unit_lunkitd_test_SOURCES = tests/unit/lunkitd_test.cc tests/unit/plugin_dir.h
tests_unit_lunkitd_test_CPPFLAGS = $(AM_CPPFLAGS) $(GTEST_CFLAGS)
tests_unit_lunkitd_test_LDADD = $(GTEST_LIBS) -lgtest_main
# lunkitd_test runs the daemon binary (built by `all` before `check`).

TESTS += tests/install/run-install-test.sh
EXTRA_DIST += tests/install/run-install-test.sh tests/install/library-test.sh examples/plugin/lbapattern.c \
	examples/plugin/Makefile

# The ublk frontend: its translations and records, its layout against the installed header, and
# the command line through the real binary (serving devices is tested in the VM).
UBLK_TESTS = tests/unit/ublk_params_test tests/unit/ublk_uapi_test tests/unit/ublk_cli_test \
	tests/unit/ublk_queue_test
check_PROGRAMS += $(UBLK_TESTS)
TESTS += $(UBLK_TESTS)
tests_unit_ublk_params_test_SOURCES = tests/unit/ublk_params_test.cc
tests_unit_ublk_params_test_CPPFLAGS = $(UBLK_CPPFLAGS) $(GTEST_CFLAGS)
tests_unit_ublk_params_test_LDADD = $(UBLK_LIBS) $(GTEST_LIBS) -lgtest_main
tests_unit_ublk_uapi_test_SOURCES = tests/unit/ublk_uapi_test.c tests/unit/ublk_uapi_layout.cc \
	tests/unit/layout_check.h
tests_unit_ublk_uapi_test_CPPFLAGS = $(AM_CPPFLAGS)
tests_unit_ublk_queue_test_SOURCES = tests/unit/ublk_queue_test.cc tests/unit/count_allocations.h \
	tests/unit/plugin_dir.h
tests_unit_ublk_queue_test_CPPFLAGS = $(UBLK_CPPFLAGS) $(GTEST_CFLAGS)
tests_unit_ublk_queue_test_LDADD = $(UBLK_LIBS) $(GTEST_LIBS) -lgtest_main
tests_unit_ublk_cli_test_SOURCES = tests/unit/ublk_cli_test.cc tests/unit/plugin_dir.h
tests_unit_ublk_cli_test_CPPFLAGS = $(AM_CPPFLAGS) $(GTEST_CFLAGS)
tests_unit_ublk_cli_test_LDADD = $(GTEST_LIBS) -lgtest_main

# The rbd handler against a throwaway single-node Ceph cluster on 127.0.0.1.
check_PROGRAMS += tests/unit/rbd_test tests/ceph/hold_lock
TESTS += tests/ceph/run-rbd-tests.sh
EXTRA_DIST += tests/ceph/run-rbd-tests.sh tests/ceph/ceph-cluster.sh
tests_unit_rbd_test_SOURCES = tests/unit/rbd_test.cc tests/unit/plugin_rig.h tests/unit/plugin_dir.h
tests_unit_rbd_test_CPPFLAGS = $(TCMU_TEST_CPPFLAGS)
tests_unit_rbd_test_LDADD = $(HANDLER_TEST_LDADD)
tests_ceph_hold_lock_SOURCES = tests/ceph/hold_lock.c
tests_ceph_hold_lock_LDADD = $(RBD_LIBS)

# The public ABI of the installed libraries against abi/, and a demonstration that the check
# catches a deliberately changed struct.
TESTS += tests/abi/check.sh tests/abi/selftest.sh
EXTRA_DIST += tests/abi/check.sh tests/abi/selftest.sh tests/abi/abi-lib.sh tests/abi/probe.c tests/abi/probe_cxx.cc \
	abi/liblunkit-scsi.so.0.xml abi/liblunkit-tcmu.so.0.xml tools/update-abi.sh

# `make install` relinks the shared libraries in the build tree: run it after every other test,
# which load them. (Last in this file, so that TESTS is complete here.) The target is spelled
# through a variable so that automake keeps its own rule (the recipe) for that log and make only
# adds these prerequisites to it; a literal target would replace the rule with an empty one.
INSTALL_TEST_LOG = tests/install/run-install-test.sh.log
INSTALL_TEST_AFTER = $(addsuffix .log,$(filter-out tests/install/run-install-test.sh,$(TESTS)))
$(INSTALL_TEST_LOG): $(INSTALL_TEST_AFTER)

# Test programs that load handler plugins export the handler ABI to them, as lunkitd does.
tests_unit_plugin_loader_test_LDFLAGS = $(AM_LDFLAGS) $(HANDLER_ABI_EXPORT)
tests_unit_handler_options_test_LDFLAGS = $(AM_LDFLAGS) $(HANDLER_ABI_EXPORT)
tests_unit_handlers_test_LDFLAGS = $(AM_LDFLAGS) $(HANDLER_ABI_EXPORT)
tests_unit_rbd_test_LDFLAGS = $(AM_LDFLAGS) $(HANDLER_ABI_EXPORT)
tests_unit_config_test_LDFLAGS = $(AM_LDFLAGS) $(HANDLER_ABI_EXPORT)
tests_unit_copy_groups_test_LDFLAGS = $(AM_LDFLAGS) $(HANDLER_ABI_EXPORT)
tests_unit_ublk_params_test_LDFLAGS = $(AM_LDFLAGS) $(HANDLER_ABI_EXPORT)
tests_unit_ublk_queue_test_LDFLAGS = $(AM_LDFLAGS) $(HANDLER_ABI_EXPORT)
