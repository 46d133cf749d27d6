# The plugin host (loader, C ABI adapter, worker pool), linked into lunkitd, lunkit and the tests.
# Plugins link against nothing of lunkit: they resolve lunkit_io_complete() & co. against the
# program that loads them, which exports the handler ABI's functions (HANDLER_ABI_EXPORT).
noinst_LTLIBRARIES += handlers/libhandler-host.la
handlers_libhandler_host_la_CXXFLAGS = $(AM_CXXFLAGS) $(LIB_VISIBILITY_FLAGS)
handlers_libhandler_host_la_SOURCES = \
	handlers/host/cfg.cc \
	handlers/host/io_loop.h \
	handlers/host/plugin.cc \
	handlers/host/plugin.h \
	handlers/host/plugin_device.cc \
	handlers/host/plugin_device.h \
	handlers/host/plugin_factory.h \
	handlers/host/worker_pool.cc \
	handlers/host/worker_pool.h
handlers_libhandler_host_la_CPPFLAGS = $(AM_CPPFLAGS) $(SPDLOG_CFLAGS)
handlers_libhandler_host_la_LIBADD = $(SPDLOG_LIBS) -ldl
# (--undefined pulls the ABI's objects out of the host archive even into a program that calls
# none of them itself; the install test checks that lunkitd and lunkit export every function
# handler.h declares.)
HANDLER_ABI_EXPORT = -Wl,--dynamic-list=$(top_srcdir)/handlers/host/handler-abi.dynlist \
	-Wl,--undefined=lunkit_io_complete -Wl,--undefined=lunkit_cfg_parse
EXTRA_DIST += handlers/host/handler-abi.dynlist
pkginclude_HEADERS += include/lunkit/handler.h include/lunkit/handler.hpp include/lunkit/visibility.h

# Handler plugins, installed in $(pkglibdir) (lunkitd's default handler directory).
# Built with -fvisibility=hidden, as a plugin should be: LUNKIT_REGISTER_HANDLER exports the entry.
PLUGIN_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared
PLUGIN_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
PLUGIN_CXXFLAGS = $(AM_CXXFLAGS) -fvisibility=hidden -fvisibility-inlines-hidden
handlers_null_la_CFLAGS = $(PLUGIN_CFLAGS)
handlers_ram_la_CXXFLAGS = $(PLUGIN_CXXFLAGS)
handlers_file_la_CXXFLAGS = $(PLUGIN_CXXFLAGS)
handlers_rbd_la_CXXFLAGS = $(PLUGIN_CXXFLAGS)
pkglib_LTLIBRARIES = handlers/null.la handlers/ram.la handlers/file.la handlers/rbd.la
handlers_null_la_SOURCES = handlers/null/null.c
handlers_null_la_LDFLAGS = $(PLUGIN_LDFLAGS)
handlers_ram_la_SOURCES = handlers/ram/ram.cc
handlers_ram_la_LDFLAGS = $(PLUGIN_LDFLAGS)
handlers_file_la_SOURCES = handlers/file/file.cc
handlers_file_la_CPPFLAGS = $(AM_CPPFLAGS) $(URING_CFLAGS)
handlers_file_la_LDFLAGS = $(PLUGIN_LDFLAGS)
handlers_rbd_la_SOURCES = handlers/rbd/rbd.cc handlers/rbd/cluster.cc handlers/rbd/cluster.h
handlers_rbd_la_LDFLAGS = $(PLUGIN_LDFLAGS)
handlers_rbd_la_LIBADD = $(RBD_LIBS)
