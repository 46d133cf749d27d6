# The plugin host (loader, C ABI adapter, worker pool), installed as liblunkit-handler; plugins
# resolve lunkit_io_complete() & co. against it.
lib_LTLIBRARIES += handlers/liblunkit-handler.la
handlers_liblunkit_handler_la_SOURCES = \
	handlers/host/cfg.cc \
	handlers/host/io_loop.h \
	handlers/host/plugin.cc \
	handlers/host/plugin.h \
	handlers/host/plugin_device.cc \
	handlers/host/plugin_device.h \
	handlers/host/plugin_factory.h \
	handlers/host/worker_pool.cc \
	handlers/host/worker_pool.h
handlers_liblunkit_handler_la_CPPFLAGS = $(AM_CPPFLAGS) $(SPDLOG_CFLAGS)
handlers_liblunkit_handler_la_LIBADD = libscsi/liblunkit-scsi.la $(SPDLOG_LIBS) -ldl
handlers_liblunkit_handler_la_LDFLAGS = $(AM_LDFLAGS) -version-info 0:0:0
pkginclude_HEADERS += include/lunkit/handler.h include/lunkit/handler.hpp include/lunkit/visibility.h

# Handler plugins, installed in $(pkglibdir) (lunkitd's default handler directory).
PLUGIN_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared
pkglib_LTLIBRARIES = handlers/null.la handlers/ram.la handlers/file.la handlers/rbd.la
handlers_null_la_SOURCES = handlers/null/null.c
handlers_null_la_LDFLAGS = $(PLUGIN_LDFLAGS)
handlers_ram_la_SOURCES = handlers/ram/ram.cc
handlers_ram_la_LDFLAGS = $(PLUGIN_LDFLAGS)
handlers_file_la_SOURCES = handlers/file/file.cc
handlers_file_la_CPPFLAGS = $(AM_CPPFLAGS) $(URING_CFLAGS)
handlers_file_la_LDFLAGS = $(PLUGIN_LDFLAGS)
handlers_rbd_la_SOURCES = handlers/rbd/rbd.cc
handlers_rbd_la_LDFLAGS = $(PLUGIN_LDFLAGS)
handlers_rbd_la_LIBADD = $(RBD_LIBS)
