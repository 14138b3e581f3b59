# Runs EXE with GORO_SCHEDTRACE=5 and checks that it succeeds, prints
# "tour complete", and that stderr has schedtrace lines.
# cmake -DEXE=<program> -P check_schedtrace.cmake
# (A script rather than PASS_REGULAR_EXPRESSION: a slow build, such as
# ThreadSanitizer's, prints hundreds of lines, and ctest's matching of a
# "(.|\n)*" pattern over them overflowed its stack.)
cmake_minimum_required(VERSION 3.25)
execute_process(COMMAND ${CMAKE_COMMAND} -E env GORO_SCHEDTRACE=5 ${EXE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXE} failed: ${rc}\n${err}")
endif()
string(FIND "${out}" "tour complete" at)
if(at EQUAL -1)
  message(FATAL_ERROR "no 'tour complete' in:\n${out}")
endif()
string(REGEX MATCH "SCHED [0-9]+ms: gomaxprocs=[0-9]+ idleprocs=[0-9]+ threads=[0-9]+ spinningthreads=[0-9]+ goroutines=[0-9]+ runqueue=[0-9]+ \\[[0-9 ]+\\] switches=[0-9]+ parks=[0-9]+ steals=[0-9]+ timers_fired=[0-9]+\n" line "${err}")
if(NOT line)
  message(FATAL_ERROR "no schedtrace line in stderr:\n${err}")
endif()
foreach(bad "Sanitizer" "runtime error" "goro: fatal" "goro: panic")
  string(FIND "${err}" "${bad}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "'${bad}' in stderr:\n${err}")
  endif()
endforeach()
message(STATUS "ok: ${line}")
