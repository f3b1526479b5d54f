# cli_docs.cmake - the man pages floret(1) and floret-CMD(1) and the bash
# completion of the floret command, made after each build of floret from
# its own help texts (cmake/cli_docs.py, scdoc), so that they cannot drift
# from what `floret CMD --help` says; installed with the command (component
# bin, so the .deb carries them too). Needs python3 and scdoc
# (scripts/deps.sh). Included from the top-level CMakeLists.txt after the
# floret target exists.
find_program(FLORET_SCDOC scdoc REQUIRED)
find_program(FLORET_PYTHON3 NAMES python3 REQUIRED)
set(FLORET_CLI_DOCS_DIR ${CMAKE_CURRENT_BINARY_DIR}/cli-docs)
add_custom_command(OUTPUT ${FLORET_CLI_DOCS_DIR}/stamp
  COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0
          ${FLORET_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/cmake/cli_docs.py
          $<TARGET_FILE:floret> ${FLORET_CLI_DOCS_DIR} ${FLORET_SCDOC}
  COMMAND ${CMAKE_COMMAND} -E touch ${FLORET_CLI_DOCS_DIR}/stamp
  DEPENDS floret ${CMAKE_CURRENT_SOURCE_DIR}/cmake/cli_docs.py
  COMMENT "Man pages and bash completion from floret's help texts"
  VERBATIM)
add_custom_target(cli_docs ALL DEPENDS ${FLORET_CLI_DOCS_DIR}/stamp)
install(DIRECTORY ${FLORET_CLI_DOCS_DIR}/man1 DESTINATION ${CMAKE_INSTALL_MANDIR}
  COMPONENT bin FILES_MATCHING PATTERN "*.1.gz")
install(FILES ${FLORET_CLI_DOCS_DIR}/floret.bash
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/bash-completion/completions
  RENAME floret COMPONENT bin)
