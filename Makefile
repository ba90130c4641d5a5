# Thin wrapper around Meson + Ninja.  `make demo` and `make test` work on a
# fresh Debian 12 machine: both install what is missing first
# (scripts/bootstrap), then build.
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
MESON ?= meson

.PHONY: all build bootstrap test test-unit test-asan test-tsan test-e2e checksrc demo bench bench-ingest bench-backup bench-serve fuzz clean

all: build

bootstrap:
	@scripts/bootstrap

$(BUILD)/build.ninja:
	@scripts/bootstrap
	$(MESON) setup $(BUILD)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

checksrc:
	scripts/checksrc --self-test
	scripts/checksrc

test-unit: build
	$(MESON) test -C $(BUILD) --print-errorlogs

$(ASAN_BUILD)/build.ninja:
	@scripts/bootstrap
	$(MESON) setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

# Unit tests and fuzz corpora again under AddressSanitizer + UBSan.
test-asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		$(MESON) test -C $(ASAN_BUILD) --print-errorlogs

$(TSAN_BUILD)/build.ninja:
	@scripts/bootstrap
	CC=clang $(MESON) setup $(TSAN_BUILD) -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debug

# The import and verify pipelines (two threads) under ThreadSanitizer.
test-tsan: $(TSAN_BUILD)/build.ninja
	ninja -C $(TSAN_BUILD) src/cli/kura tests/test_vault
	TSAN_OPTIONS=halt_on_error=1 $(TSAN_BUILD)/tests/test_vault
	TSAN_OPTIONS=halt_on_error=1 scripts/tsan-pipeline $(TSAN_BUILD)/src/cli/kura

# The e2e suites' npm packages (FHIR client and validators), pinned by
# tests/e2e/package-lock.json, installed from the npm registry when missing.
tests/e2e/node_modules/.package-lock.json: tests/e2e/package.json tests/e2e/package-lock.json
	cd tests/e2e && npm ci --no-audit --no-fund --ignore-scripts

test-e2e: build tests/e2e/node_modules/.package-lock.json
	KURA_BIN=$(CURDIR)/$(BUILD)/src/cli/kura node --test --test-concurrency=2 tests/e2e/

test: bootstrap checksrc test-unit test-asan test-tsan test-e2e
	@echo "make test: all suites passed"

demo: build
	scripts/demo

# bench/run (ingest, verify, audit), then bench/backup (issue 4: backup and
# restore beside restic and borg; ~1.2 GB of data, about 10 minutes), then
# bench/serve (issue 5: kura serve under wrk beside nginx; about 2.5 minutes).
bench: bench-ingest bench-backup bench-serve

bench-ingest: build
	bench/run

bench-backup: build
	bench/backup

bench-serve: build
	bench/serve

# libFuzzer targets (clang): make fuzz, then run e.g. build-fuzz/tests/fuzz_leaf
fuzz:
	@scripts/bootstrap
	CC=clang $(MESON) setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false || true
	ninja -C build-fuzz

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) build-fuzz
