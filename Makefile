# Thin wrappers; the logic lives in tools/ and meson.
.PHONY: all setup build test demo bench clean format

all: build

setup:
	@tools/setup

build: setup
	@tools/build native

test: setup
	@tools/run-tests

demo: setup
	@tools/demo

bench: setup
	@tools/bench

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-*
