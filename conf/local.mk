# Service files. `make install` puts them where systemd, D-Bus and logrotate look; the
# directories (systemdunitdir, dbusservicedir, dbuspolicydir, logrotatedir) come from
# configure's --with-* options, whose defaults are the paths Debian 12 reads.
systemdunit_DATA = conf/lunkitd.service
dbusservice_DATA = conf/org.kernel.TCMUService1.service
dbuspolicy_DATA = conf/lunkit-dbus.conf
logrotate_DATA = conf/lunkit.logrotate
lunkitconfdir = $(sysconfdir)/lunkit
lunkitconf_DATA = conf/lunkit.conf
CLEANFILES += conf/lunkitd.service conf/org.kernel.TCMUService1.service
EXTRA_DIST += conf/lunkitd.service.in conf/org.kernel.TCMUService1.service.in \
	conf/lunkit-dbus.conf conf/lunkit.logrotate conf/lunkit.conf

conf/%.service: $(srcdir)/conf/%.service.in Makefile
	@mkdir -p conf
	$(AM_V_GEN)sed -e 's|@sbindir[@]|$(sbindir)|g' $< > $@
