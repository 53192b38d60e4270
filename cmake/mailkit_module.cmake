# SPDX-License-Identifier: Apache-2.0
# mailkit_module(NAME SOURCES ... DEPS ... [LIBS ...])
# One static library per module, with its own include root libmail/<name>/include, so that a
# module sees only the headers of the modules it names in DEPS (DESIGN.md section 1).
function(mailkit_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;LIBS" ${ARGN})
  add_library(mailkit_${name} STATIC ${M_SOURCES})
  add_library(mailkit::${name} ALIAS mailkit_${name})
  target_include_directories(mailkit_${name}
    PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_compile_options(mailkit_${name} PRIVATE ${MAILKIT_WARNINGS})
  foreach(dep IN LISTS M_DEPS)
    target_link_libraries(mailkit_${name} PUBLIC mailkit::${dep})
  endforeach()
  if(M_LIBS)
    target_link_libraries(mailkit_${name} PUBLIC ${M_LIBS})
  endif()
endfunction()

# mailkit_test(NAME SOURCES ... LIBS ...): a GoogleTest executable registered with ctest.
function(mailkit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_compile_options(${name} PRIVATE ${MAILKIT_WARNINGS})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main GTest::gmock)
  target_compile_definitions(${name} PRIVATE
    MAILKIT_TEST_DATA="${PROJECT_SOURCE_DIR}/tests/data"
    MAILKIT_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  add_test(NAME ${name} COMMAND ${name} --gtest_brief=1)
  if(T_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()
