# ma_library(NAME SRCS ... DEPS ...): one static library per src/ folder.
# ma_test(NAME SRCS ... DEPS ...): one GoogleTest binary, discovered by ctest.
# -Wno-restrict: GCC 12's -Wrestrict fires inside libstdc++'s std::string operator+ with
# impossible sizes (GCC bug 105329); it is the only warning of the whole build.
set(MA_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wno-missing-field-initializers -Wno-restrict)

function(ma_warnings target)
  target_compile_options(${target} PRIVATE ${MA_WARNINGS})
  if(MA_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

function(ma_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SRCS})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  ma_warnings(${name})
endfunction()

function(ma_test name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest_main GTest::gmock)
  target_compile_definitions(${name} PRIVATE
    MA_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    MA_SHARED_DATA_DIR="${PROJECT_SOURCE_DIR}/../shared/data")
  ma_warnings(${name})
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 600)
endfunction()

# ma_tests_per_folder(PREFIX DEPS ...): one test binary per sub-folder of the current
# tests/ folder (and one for the folder's own *_test.cc files), named PREFIX_<sub>_test.
function(ma_tests_per_folder prefix)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB top CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cc)
  if(top)
    ma_test(${prefix}_test SRCS ${top} DEPS ${ARG_DEPS})
  endif()
  file(GLOB children LIST_DIRECTORIES true ${CMAKE_CURRENT_SOURCE_DIR}/*)
  foreach(child ${children})
    if(IS_DIRECTORY ${child})
      get_filename_component(sub ${child} NAME)
      file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${child}/*_test.cc)
      file(GLOB_RECURSE helpers CONFIGURE_DEPENDS ${child}/*_util.cc)
      if(srcs)
        ma_test(${prefix}_${sub}_test SRCS ${srcs} ${helpers} DEPS ${ARG_DEPS})
      endif()
    endif()
  endforeach()
endfunction()
