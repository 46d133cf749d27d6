# lunkitd, the daemon.
sbin_PROGRAMS = daemon/lunkitd
noinst_LTLIBRARIES += daemon/liblunkitd.la
daemon_liblunkitd_la_SOURCES = \
	daemon/config.cc daemon/config.h \
	daemon/copy_groups.cc daemon/copy_groups.h \
	daemon/dbus_service.cc daemon/dbus_service.h \
	daemon/logging.cc daemon/logging.h \
	daemon/single_instance.cc daemon/single_instance.h
DAEMON_CPPFLAGS = $(AM_CPPFLAGS) $(SPDLOG_CFLAGS) $(CONFIGXX_CFLAGS) $(SDBUSCPP_CFLAGS) \
	$(URING_CFLAGS) $(NL_CFLAGS) $(NLGENL_CFLAGS) \
	-DLUNKIT_HANDLER_DIR='"$(pkglibdir)"' -DLUNKIT_SYSCONF_DIR='"$(sysconfdir)/lunkit"'
daemon_liblunkitd_la_CPPFLAGS = $(DAEMON_CPPFLAGS)
DAEMON_LIBS = daemon/liblunkitd.la handlers/libhandler-host.la $(SPDLOG_LIBS) $(CONFIGXX_LIBS) \
	$(SDBUSCPP_LIBS)
daemon_lunkitd_SOURCES = daemon/main.cc
daemon_lunkitd_CPPFLAGS = $(DAEMON_CPPFLAGS)
# lunkitd serves devices through liblunkit-tcmu's public API, like any program of a user's. Of
# the plugin host it links only the loader (Plugin, for the plugin directory and D-Bus's
# CheckConfig); the library exports the handler ABI its plugins call (lunkit_io_complete() &
# co.), so lunkitd exports nothing itself.
daemon_lunkitd_LDADD = $(DAEMON_LIBS) tcmu/liblunkit-tcmu.la
