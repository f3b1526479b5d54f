# Runs one faulty seed twice with a full trace and fails unless the two
# traces are identical: a seed must replay exactly, workflows included.
set(args --seed 7 --workflows 13 --loss 0.1 --dup 0.1 --reorder 0.1 --crash 0.1
    --disconnect 0.05 --allow-spin --verbose)
execute_process(COMMAND ${SIM} ${args} OUTPUT_VARIABLE first RESULT_VARIABLE rc1)
execute_process(COMMAND ${SIM} ${args} OUTPUT_VARIABLE second RESULT_VARIABLE rc2)
string(LENGTH "${first}" len)
if(len LESS 10000)
  message(FATAL_ERROR "trace is suspiciously short (${len} bytes)")
endif()
if(NOT first STREQUAL second OR NOT rc1 EQUAL rc2)
  message(FATAL_ERROR "seed 7 did not replay identically")
endif()
message(STATUS "seed 7 replayed identically (${len} bytes of trace, exit ${rc1})")
