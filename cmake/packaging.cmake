# Installation rules and the Debian package (CPack DEB): `cmake --build build --target package`
# writes build/lantian_<version>_<arch>.deb. docs/operations.md tells how to install and run it;
# docs/adr/0021 why it is built this way.
#
# Paths are Debian's: the executables and shared files under the packaging prefix (/usr), the
# configuration file and the systemd unit at absolute paths, as dpkg expects them.

# Whoever distributes the package sets its own address here (-DLANTIAN_PACKAGE_MAINTAINER=…).
set(LANTIAN_PACKAGE_MAINTAINER "Lantian maintainers <maintainers@lantian.example>"
    CACHE STRING "Maintainer field of the Debian package")

install(TARGETS lantiand lantian-decode lantian-sim RUNTIME DESTINATION bin)
# lantiand runs it when its data directory has no certificates, looking for it at
# <directory of the executable>/../share/lantian/make-dev-certs.sh.
install(PROGRAMS ${PROJECT_SOURCE_DIR}/certs/make-dev-certs.sh DESTINATION share/lantian)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/samples/ DESTINATION share/lantian/samples)
# The Prometheus alert rules and the Grafana dashboard, for the monitoring machines.
install(FILES ${PROJECT_SOURCE_DIR}/ops/prometheus/lantian-alerts.yml
              ${PROJECT_SOURCE_DIR}/ops/prometheus/lantian-cluster-alerts.yml
        DESTINATION share/lantian/prometheus)
install(FILES ${PROJECT_SOURCE_DIR}/ops/grafana/lantian-dashboard.json DESTINATION share/lantian/grafana)
file(GLOB LANTIAN_DOCS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${LANTIAN_DOCS} ${PROJECT_SOURCE_DIR}/packaging/README.Debian
        DESTINATION share/doc/lantian)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/lantiand.service DESTINATION /lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/lantiand.conf DESTINATION /etc/lantian)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME lantian)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${LANTIAN_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "remote emission monitoring server for heavy diesel trucks and machinery")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "lantiand receives the reports of on-vehicle and on-machine terminals (GB 17691-2018 Annex Q,
HJ 1239 with signed frames, non-road machinery), stores every frame durably in an embedded
RocksDB archive before acknowledging it, evaluates the emission rules, and serves violations to
police, reviewers and operators through an HTTPS API and web console. Includes the decode tool
lantian-decode and the terminal simulator lantian-sim, and runs as the systemd service lantiand.
.
蓝天：重型柴油车及非道路移动机械排放远程监控服务器。")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies come from dpkg-shlibdeps; the maintainer scripts need adduser, and
# make-dev-certs.sh the openssl command.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, openssl")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/conffiles
    ${PROJECT_SOURCE_DIR}/packaging/postinst
    ${PROJECT_SOURCE_DIR}/packaging/prerm
    ${PROJECT_SOURCE_DIR}/packaging/postrm)
# Maintainer scripts 0755 and conffiles 0644 whatever the checkout's modes are.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# The executables keep their symbol tables: perf and gdb name functions in production profiles
# (docs/performance.md), for a few MiB.
set(CPACK_STRIP_FILES OFF)

include(CPack)
