# The TCMU transport, installed as liblunkit-tcmu.
lib_LTLIBRARIES += tcmu/liblunkit-tcmu.la
tcmu_liblunkit_tcmu_la_SOURCES = \
	tcmu/device.cc \
	tcmu/device.h \
	tcmu/fd.h \
	tcmu/protocol.h \
	tcmu/ring.cc \
	tcmu/ring.h \
	tcmu/ring_emulator.cc \
	tcmu/ring_emulator.h
tcmu_liblunkit_tcmu_la_CPPFLAGS = $(AM_CPPFLAGS) $(URING_CFLAGS) $(SPDLOG_CFLAGS)
tcmu_liblunkit_tcmu_la_LIBADD = libscsi/liblunkit-scsi.la $(URING_LIBS) $(SPDLOG_LIBS)
tcmu_liblunkit_tcmu_la_LDFLAGS = $(AM_LDFLAGS) -version-info 0:0:0
pkginclude_HEADERS += include/lunkit/result.h
