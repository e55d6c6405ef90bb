# qforge_layer(NAME DEPS <targets...>)
#
# One static library per layer directory, built from every *.cc in it that is not a test.
# Tests live beside the code they test:
#   *_test.cc         -> binary qforge_<NAME>_tests,        CTest label "unit"
#   *_golden_test.cc  -> binary qforge_<NAME>_golden_tests, CTest label "golden" (reads ../shared)
#   *_slow_test.cc    -> binary qforge_<NAME>_slow_tests,   CTest label "slow"
# SIMD translation units are compiled for their ISA only and chosen at run time:
#   *_avx2.cc   -> -mavx2 -mfma -mf16c
#   *_avx512.cc -> -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c
#   *_avx512vnni.cc -> the same plus -mavx512vnni
#
# Precompiled headers (QFORGE_PCH, on by default): the layers that use nlohmann-json, fmt and CLI11 (all header-only here) parse them once per target,
# and every test binary parses GoogleTest once. The SIMD units keep their own flags and skip them.
# The release and debug presets also build unity batches (CMAKE_UNITY_BUILD; the SIMD units stay
# alone): one compile of the json/fmt/CLI11/gtest templates per batch instead of per file. So names
# at namespace scope in .cc files must differ within a layer, even in anonymous namespaces, and
# tests spell GoogleTest's namespace ::testing (qforge::testing is ours).
# Measured on 2 cores (release, clean): 8m38s with them, 9m35s without — about 10%, not more, because
# most of the time is spent in our own template-heavy CLI and report code, not in parsing headers.
set(QFORGE_PCH_STD <algorithm> <array> <cmath> <cstdint> <cstring> <filesystem> <functional> <map> <memory>
    <optional> <span> <string> <string_view> <utility> <vector>)

function(qforge_layer name)
  cmake_parse_arguments(L "" "" "DEPS" ${ARGN})
  file(GLOB all_cc CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/*.cc")
  set(srcs "")
  set(unit "")
  set(golden "")
  set(slow "")
  foreach(f IN LISTS all_cc)
    if(f MATCHES "_golden_test\\.cc$")
      list(APPEND golden "${f}")
    elseif(f MATCHES "_slow_test\\.cc$")
      list(APPEND slow "${f}")
    elseif(f MATCHES "_test\\.cc$")
      list(APPEND unit "${f}")
    else()
      list(APPEND srcs "${f}")
    endif()
  endforeach()
  foreach(f IN LISTS srcs)
    if(f MATCHES "_avx2\\.cc$")
      set_source_files_properties("${f}" PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c")
    elseif(f MATCHES "_avx512vnni\\.cc$")
      set_source_files_properties("${f}" PROPERTIES COMPILE_OPTIONS "-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mavx512vnni;-mfma;-mf16c;-mavx2")
    elseif(f MATCHES "_avx512\\.cc$")
      set_source_files_properties("${f}" PROPERTIES COMPILE_OPTIONS "-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mfma;-mf16c;-mavx2")
    endif()
    if(f MATCHES "_avx(2|512|512vnni)\\.cc$")
      set_source_files_properties("${f}" PROPERTIES SKIP_PRECOMPILE_HEADERS ON SKIP_UNITY_BUILD_INCLUSION ON)
    endif()
  endforeach()
  set(target qforge_${name})
  if(srcs)
    add_library(${target} STATIC ${srcs})
    target_include_directories(${target} PUBLIC "${PROJECT_SOURCE_DIR}/src")
    target_link_libraries(${target} PUBLIC ${L_DEPS})
    if(QFORGE_PCH)
      set(pch ${QFORGE_PCH_STD})
      if(name MATCHES "^(io|model|artifact|quant|eval|cli)$")
        list(APPEND pch <nlohmann/json.hpp> <fmt/format.h>)
      endif()
      if(name STREQUAL "cli")
        list(APPEND pch <CLI/CLI.hpp>)
      endif()
      target_precompile_headers(${target} PRIVATE ${pch})
    endif()
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE "${PROJECT_SOURCE_DIR}/src")
    target_link_libraries(${target} INTERFACE ${L_DEPS})
  endif()
  if(QFORGE_BUILD_TESTS)
    foreach(kind IN ITEMS unit golden slow)
      if(${kind})
        if(kind STREQUAL "unit")
          set(bin ${target}_tests)
        else()
          set(bin ${target}_${kind}_tests)
        endif()
        add_executable(${bin} ${${kind}})
        target_link_libraries(${bin} PRIVATE ${target} qforge_testing GTest::gtest GTest::gmock GTest::gtest_main)
        target_compile_definitions(${bin} PRIVATE QFORGE_SHARED_DIR="${QFORGE_SHARED_DIR}")
        if(QFORGE_PCH)
          target_precompile_headers(${bin} PRIVATE ${QFORGE_PCH_STD} <gtest/gtest.h> <gmock/gmock.h> <nlohmann/json.hpp>)
        endif()
        gtest_discover_tests(${bin} DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60
                             PROPERTIES LABELS ${kind})
      endif()
    endforeach()
  endif()
endfunction()
