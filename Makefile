# The commands to remember. `make run` and `make test` set up a fresh Debian 12 machine.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
LISTEN ?= 127.0.0.1:8080
DB ?= var/medalliance.db
CMAKE_FLAGS ?=

.PHONY: all deps configure build run test test-all bench clean format check debug release asan

all: build

deps:
	@./tools/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Starts the server on the embedded SQLite database, loading the demo alliance on first start.
run: build
	@mkdir -p var
	$(BUILD_DIR)/src/cli/medalliance serve --listen $(LISTEN) --db $(DB) --demo

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 900

# Longer runs: the benchmarks' smoke mode on top of the test suite.
test-all: test
	@./bench/run_all.sh --quick

bench: build
	@./bench/run_all.sh

debug:
	@$(MAKE) build BUILD_DIR=build-debug BUILD_TYPE=Debug

release:
	@$(MAKE) build BUILD_DIR=build BUILD_TYPE=Release

asan:
	@$(MAKE) build BUILD_DIR=build-asan BUILD_TYPE=Debug \
	  CMAKE_FLAGS="-DMA_JEMALLOC=OFF -DCMAKE_CXX_FLAGS='-fsanitize=address,undefined -fno-omit-frame-pointer'"
	@cd build-asan && ctest --output-on-failure -j $(JOBS)

# Hand-written sources only: generated tables (src/**/generated_*.cc) are left as generated.
FORMAT_FILES = git ls-files '*.cc' '*.h' | grep -v '/generated_'

format:
	@$(FORMAT_FILES) | xargs clang-format -i

check:
	@$(FORMAT_FILES) | xargs clang-format --dry-run --Werror
	@./tools/check_layers.sh

clean:
	@rm -rf $(BUILD_DIR) build-debug build-asan
