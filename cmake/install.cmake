# install.cmake - what `cmake --install` installs (the floret command,
# libfloret.so.0 with its .so link, libfloret.a, floret/floret.h, floret.pc,
# the CMake package floret::floret, the systemd unit floret-node@.service,
# the licence and changelog) and the
# Debian package built from the same rules with CPack (`cpack -G DEB`).
# Included from the top-level CMakeLists.txt after the targets exist.
# Depends on GNUInstallDirs, CMakePackageConfigHelpers, CPack.
include(CMakePackageConfigHelpers)

install(TARGETS floret RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT bin)
install(TARGETS floret_shared EXPORT floretTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib NAMELINK_COMPONENT dev)
install(TARGETS floret_static ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(FILES include/floret/floret.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/floret COMPONENT dev)

# floret.pc names the prefix it was installed under, so it is written at
# install time: `cmake --install build --prefix DIR` and CPack's /usr both
# get their own. A static link (`pkg-config --static`) pulls the
# dependencies' own flags through Requires.private.
set(FLORET_PC_REQUIRES "libmosquitto libcjson lua5.4 libsodium openssl libzstd liblz4")
set(PC_PREFIX "@PC_PREFIX@") # kept for the install-time pass below
configure_file(cmake/floret.pc.in ${CMAKE_CURRENT_BINARY_DIR}/floret.pc.template @ONLY)
install(CODE "
  set(PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${CMAKE_CURRENT_BINARY_DIR}/floret.pc.template\"
                 \"${CMAKE_CURRENT_BINARY_DIR}/floret.pc\" @ONLY)
" COMPONENT dev)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/floret.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

set(FLORET_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/floret)
install(EXPORT floretTargets NAMESPACE floret:: DESTINATION ${FLORET_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(cmake/floretConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/floretConfig.cmake INSTALL_DESTINATION ${FLORET_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/floretConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/floretConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/floretConfigVersion.cmake
  DESTINATION ${FLORET_CMAKE_DIR} COMPONENT dev)

# The systemd unit floret-node@NAME runs `floret node --config
# SYSCONFDIR/floret/NAME.conf` (/etc/floret with the /usr prefix); a
# commented example of such a file goes with the documentation.
# Its paths follow the prefix at install time, as floret.pc's do; the
# configuration directory is GNUInstallDirs' rule (/usr: /etc).
set(FLORET_SYSTEMD_UNITDIR lib/systemd/system CACHE STRING
  "Where floret-node@.service goes, under the prefix")
install(CODE "
  set(FLORET_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
  if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
    set(FLORET_CONFDIR /etc/floret)
  else()
    set(FLORET_CONFDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SYSCONFDIR}/floret\")
  endif()
  set(FLORET_DOCDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DATAROOTDIR}/doc/floret\")
  configure_file(\"${CMAKE_CURRENT_SOURCE_DIR}/dist/floret-node@.service.in\"
                 \"${CMAKE_CURRENT_BINARY_DIR}/floret-node@.service\" @ONLY)
" COMPONENT bin)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/floret-node@.service
  DESTINATION ${FLORET_SYSTEMD_UNITDIR} COMPONENT bin)
install(FILES dist/node.conf.example docs/operations.md
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/floret COMPONENT bin)

# Three Debian packages, as Debian splits a library: floret (the command),
# libfloret0 (the shared library) and libfloret-dev (header, static
# library, .so link, pkg-config and CMake files). Each carries the licence
# and the changelog in its own /usr/share/doc/PACKAGE.
set(FLORET_DEB_bin floret)
set(FLORET_DEB_lib libfloret0)
set(FLORET_DEB_dev libfloret-dev)
foreach(comp bin lib dev)
  install(FILES LICENSE CHANGELOG.md
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${FLORET_DEB_${comp}} COMPONENT ${comp})
endforeach()

# ------------------------------------------------------------- the .deb
# `cpack -G DEB` in a build directory writes the three packages; their
# run-time dependencies come from dpkg-shlibdeps. Configure with
# -DCMAKE_INSTALL_PREFIX=/usr for Debian's multiarch library directory.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME floret)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR floret)
set(CPACK_PACKAGE_CONTACT "floret developers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "distributed task queue over MQTT for clusters of small computers")
set(CPACK_RESOURCE_FILE_LICENSE ${CMAKE_CURRENT_SOURCE_DIR}/LICENSE)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL bin lib dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_BIN_PACKAGE_NAME floret)
set(CPACK_DEBIAN_BIN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_BIN_PACKAGE_RECOMMENDS "mosquitto")
set(CPACK_COMPONENT_BIN_DESCRIPTION "the floret command: nodes, calls, workflows, word count, dashboard
 floret runs tasks on a cluster of small computers over a standard MQTT
 broker. This package holds the floret command; `floret local` needs the
 mosquitto broker.")
set(CPACK_DEBIAN_LIB_PACKAGE_NAME libfloret0)
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
# A shlibs file, so that packages built against libfloret0 depend on it;
# CPack adds the ldconfig calls to its postinst and postrm by itself.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_COMPONENT_LIB_DESCRIPTION "floret task queue library (shared)
 libfloret.so.0: run a floret node, register native tasks and submit tasks
 and workflows from C.")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libfloret-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "libfloret0 (= ${PROJECT_VERSION}), libmosquitto-dev, libcjson-dev, liblua5.4-dev, libsodium-dev, libssl-dev, libzstd-dev, liblz4-dev, pkg-config")
set(CPACK_COMPONENT_DEV_DESCRIPTION "floret task queue library (development files)
 floret/floret.h, libfloret.a, floret.pc and the CMake package floret::floret.")
include(CPack)
