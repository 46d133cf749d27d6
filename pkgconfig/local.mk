# pkg-config files for programs and plugins built against an installed lunkit.
pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA = pkgconfig/lunkit-scsi.pc pkgconfig/lunkit-tcmu.pc pkgconfig/lunkit-handler.pc
EXTRA_DIST += pkgconfig/lunkit-scsi.pc.in pkgconfig/lunkit-tcmu.pc.in pkgconfig/lunkit-handler.pc.in
