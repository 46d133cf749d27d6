# The TCMU transport: a convenience library for lunkitd, lunkit and the tests, and the same
# objects installed as liblunkit-tcmu exporting only the public API (see libscsi/local.mk).
noinst_LTLIBRARIES += tcmu/libtcmu-core.la
tcmu_libtcmu_core_la_CXXFLAGS = $(AM_CXXFLAGS) $(LIB_VISIBILITY_FLAGS)
tcmu_libtcmu_core_la_SOURCES = \
	tcmu/alua_config.cc \
	tcmu/alua_config.h \
	tcmu/configfs.cc \
	tcmu/configfs.h \
	tcmu/control_loop.cc \
	tcmu/control_loop.h \
	tcmu/copy_groups.cc \
	tcmu/copy_groups.h \
	tcmu/device.cc \
	tcmu/device.h \
	tcmu/manager.cc \
	tcmu/manager.h \
	tcmu/netlink.cc \
	tcmu/netlink.h \
	tcmu/protocol.h \
	tcmu/ring.cc \
	tcmu/ring.h \
	tcmu/ring_emulator.cc \
	tcmu/ring_emulator.h \
	tcmu/uio.cc \
	tcmu/uio.h
tcmu_libtcmu_core_la_CPPFLAGS = $(AM_CPPFLAGS) $(URING_CFLAGS) $(SPDLOG_CFLAGS) $(NL_CFLAGS) $(NLGENL_CFLAGS)
tcmu_libtcmu_core_la_LIBADD = $(URING_LIBS) $(SPDLOG_LIBS) $(NLGENL_LIBS) $(NL_LIBS)

# The C API (lunkit/tcmu.h) serves LUs through the plugin host's handler adapter, so the library
# carries the host and exports the handler ABI's functions too (lunkit_io_complete() & co.).
# Its own archive, because it sits above the plugin host, which sits above the transport.
noinst_LTLIBRARIES += tcmu/libtcmu-capi.la
tcmu_libtcmu_capi_la_CXXFLAGS = $(AM_CXXFLAGS) $(LIB_VISIBILITY_FLAGS)
tcmu_libtcmu_capi_la_CPPFLAGS = $(tcmu_libtcmu_core_la_CPPFLAGS)
tcmu_libtcmu_capi_la_SOURCES = tcmu/c_api.cc
lib_LTLIBRARIES += tcmu/liblunkit-tcmu.la
tcmu_liblunkit_tcmu_la_SOURCES =
nodist_EXTRA_tcmu_liblunkit_tcmu_la_SOURCES = tcmu/dummy.cc
tcmu_liblunkit_tcmu_la_LIBADD = tcmu/libtcmu-capi.la tcmu/libtcmu-core.la handlers/libhandler-host.la \
	libscsi/liblunkit-scsi.la
# 2:0:2 - device loops in the caller's thread were added (the soname stays .so.0).
# 3:0:3 - lunkit_io_fixed_buffer() and LUNKIT_CAP_FIXED_BUFFERS (zero copy on ublk) added.
# 4:0:4 - handler defaults, copy groups, shutdown and release_waits (lunkitd's needs) added.
tcmu_liblunkit_tcmu_la_LDFLAGS = $(AM_LDFLAGS) -version-info 4:0:4 \
	-Wl,--version-script=$(srcdir)/tcmu/liblunkit-tcmu.map
EXTRA_tcmu_liblunkit_tcmu_la_DEPENDENCIES = tcmu/liblunkit-tcmu.map
EXTRA_DIST += tcmu/liblunkit-tcmu.map
pkginclude_HEADERS += include/lunkit/result.h include/lunkit/tcmu.h include/lunkit/tcmu.hpp
