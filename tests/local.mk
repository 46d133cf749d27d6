# GoogleTest suites, run by `make check`.
LIBSCSI_TEST_CPPFLAGS = $(AM_CPPFLAGS) $(GTEST_CFLAGS) $(GMOCK_CFLAGS)
LIBSCSI_TEST_LDADD = libscsi/liblunkit-scsi.la $(GTEST_LIBS) -lgtest_main $(GMOCK_LIBS)
TEST_HELPERS = tests/unit/harness.h tests/unit/ram_device.h

LIBSCSI_TESTS = \
	tests/unit/sense_test \
	tests/unit/opcode_table_test \
	tests/unit/inquiry_test
check_PROGRAMS += $(LIBSCSI_TESTS)
TESTS += $(LIBSCSI_TESTS)

tests_unit_sense_test_SOURCES = tests/unit/sense_test.cc
tests_unit_sense_test_CPPFLAGS = $(LIBSCSI_TEST_CPPFLAGS)
tests_unit_sense_test_LDADD = $(LIBSCSI_TEST_LDADD)

tests_unit_opcode_table_test_SOURCES = tests/unit/opcode_table_test.cc
tests_unit_opcode_table_test_CPPFLAGS = $(LIBSCSI_TEST_CPPFLAGS)
tests_unit_opcode_table_test_LDADD = $(LIBSCSI_TEST_LDADD)

tests_unit_inquiry_test_SOURCES = tests/unit/inquiry_test.cc $(TEST_HELPERS)
tests_unit_inquiry_test_CPPFLAGS = $(LIBSCSI_TEST_CPPFLAGS)
tests_unit_inquiry_test_LDADD = $(LIBSCSI_TEST_LDADD)
