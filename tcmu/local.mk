# The TCMU transport, installed as liblunkit-tcmu.
lib_LTLIBRARIES += tcmu/liblunkit-tcmu.la
tcmu_liblunkit_tcmu_la_SOURCES = \
	tcmu/alua_config.cc \
	tcmu/alua_config.h \
	tcmu/c_api.cc \
	tcmu/configfs.cc \
	tcmu/configfs.h \
	tcmu/control_loop.cc \
	tcmu/control_loop.h \
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
tcmu_liblunkit_tcmu_la_CPPFLAGS = $(AM_CPPFLAGS) $(URING_CFLAGS) $(SPDLOG_CFLAGS) $(NL_CFLAGS) $(NLGENL_CFLAGS)
# The C API (lunkit/tcmu.h) serves LUs through the plugin host's handler adapter.
tcmu_liblunkit_tcmu_la_LIBADD = handlers/liblunkit-handler.la libscsi/liblunkit-scsi.la $(URING_LIBS) $(SPDLOG_LIBS) $(NLGENL_LIBS) $(NL_LIBS)
tcmu_liblunkit_tcmu_la_LDFLAGS = $(AM_LDFLAGS) -version-info 0:0:0
pkginclude_HEADERS += include/lunkit/result.h include/lunkit/tcmu.h
