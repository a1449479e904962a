# Every third-party dependency, found once. All come from Debian 12 packages
# (see ../shared/STACK.md and the install line in tools/install-deps.sh).
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED CONFIG COMPONENTS json url)
find_package(simdjson REQUIRED CONFIG)
find_package(SQLite3 REQUIRED)
find_package(fmt REQUIRED CONFIG)
find_package(spdlog REQUIRED CONFIG)
find_package(CLI11 REQUIRED CONFIG)
find_package(OpenSSL 3 REQUIRED)
find_package(ZLIB REQUIRED)
if(MA_BUILD_TESTS)
  find_package(GTest REQUIRED)
  find_package(nlohmann_json 3.11 REQUIRED CONFIG)
endif()
if(MA_BUILD_BENCH)
  find_package(benchmark REQUIRED CONFIG)
endif()

find_package(PkgConfig REQUIRED)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
# The server allocates many short-lived strings and JSON nodes per request; with glibc's malloc
# that was about a quarter of $recognize's CPU (doc/benchmarks.md, "Allocator"). Off for
# sanitizer builds (`make asan`), which bring their own allocator.
if(MA_JEMALLOC)
  pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)
endif()
