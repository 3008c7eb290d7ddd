# ctest: the module's every symbol resolves against the libmesos it was linked with and that
# library's own dependencies (`ldd -r`), so that the agent can load it.
# Usage: cmake -DMODULE=<path of the .so> -P check_links.cmake
execute_process(COMMAND ldd -r "${MODULE}" OUTPUT_VARIABLE _out ERROR_VARIABLE _err RESULT_VARIABLE _rc)
string(REGEX MATCHALL "[^\n]*(undefined symbol|not found)[^\n]*" _bad "${_out}\n${_err}")
if(NOT _rc EQUAL 0 OR _bad)
  list(LENGTH _bad _n)
  string(REPLACE ";" "\n" _lines "${_bad}")
  message(FATAL_ERROR "${MODULE}: ldd -r exited ${_rc}, ${_n} unresolved:\n${_lines}")
endif()
string(REGEX MATCH "libmesos[^ \n]*\\.so[^ \n]* => [^ \n]+" _libmesos "${_out}")
message(STATUS "${MODULE}: every symbol resolves (${_libmesos})")
