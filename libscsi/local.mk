# libscsi: the transport-neutral SPC/SBC emulation library. Its objects form a convenience
# library that lunkitd, lunkit and the tests link statically (they use its internals); the
# installed liblunkit-scsi is the same objects exporting only the public API (LUNKIT_API, under
# -fvisibility=hidden and the version script), checked against abi/ by tests/abi/check.sh.
noinst_LTLIBRARIES += libscsi/libscsi-core.la
libscsi_libscsi_core_la_CXXFLAGS = $(AM_CXXFLAGS) $(LIB_VISIBILITY_FLAGS)
libscsi_libscsi_core_la_SOURCES = \
	libscsi/alua.cc \
	libscsi/alua.h \
	libscsi/basic.cc \
	libscsi/bytes.h \
	libscsi/chunks.cc \
	libscsi/compare_and_write.cc \
	libscsi/data_transfer.cc \
	libscsi/errors.cc \
	libscsi/handlers.h \
	libscsi/inquiry.cc \
	libscsi/iov.cc \
	libscsi/iov.h \
	libscsi/logical_unit.cc \
	libscsi/lu_state.h \
	libscsi/maintenance.cc \
	libscsi/mode.cc \
	libscsi/opcode_table.cc \
	libscsi/opcode_table.h \
	libscsi/provisioning.cc \
	libscsi/read_write.cc \
	libscsi/sense.cc \
	libscsi/write_barrier.cc \
	libscsi/xcopy.cc \
	libscsi/xcopy.h

# The C API (lunkit/scsi.h) on top: only in liblunkit-scsi (and its tests), so that the other
# libraries built from libscsi-core do not export it.
noinst_LTLIBRARIES += libscsi/libscsi-capi.la
libscsi_libscsi_capi_la_CXXFLAGS = $(AM_CXXFLAGS) $(LIB_VISIBILITY_FLAGS)
libscsi_libscsi_capi_la_SOURCES = libscsi/c_api.cc

lib_LTLIBRARIES += libscsi/liblunkit-scsi.la
libscsi_liblunkit_scsi_la_SOURCES =
# (a C++ library: link it with the C++ compiler)
nodist_EXTRA_libscsi_liblunkit_scsi_la_SOURCES = libscsi/dummy.cc
libscsi_liblunkit_scsi_la_LIBADD = libscsi/libscsi-capi.la libscsi/libscsi-core.la
# 1:0:1 - the C API was added (interfaces added, none removed: the soname stays .so.0).
# 2:0:2 - BlockDevice's destructor, vtable and type info are the library's (its key function).
libscsi_liblunkit_scsi_la_LDFLAGS = $(AM_LDFLAGS) -version-info 2:0:2 \
	-Wl,--version-script=$(srcdir)/libscsi/liblunkit-scsi.map
EXTRA_libscsi_liblunkit_scsi_la_DEPENDENCIES = libscsi/liblunkit-scsi.map
EXTRA_DIST += libscsi/liblunkit-scsi.map

pkginclude_HEADERS += include/lunkit/block_device.h include/lunkit/scsi.h
lunkitscsi_HEADERS += \
	include/lunkit/scsi/alua.h \
	include/lunkit/scsi/command.h \
	include/lunkit/scsi/copy_target.h \
	include/lunkit/scsi/logical_unit.h \
	include/lunkit/scsi/sense.h
