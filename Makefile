# A thin front for Meson (which does the building).  Both targets install
# missing Debian packages first (scripts/install-deps, apt-get as root).
BUILD ?= build

.PHONY: all demo check deps build clean format

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	meson compile -C $(BUILD)

demo: build
	$(BUILD)/tools/uswap demo

check: build
	scripts/run-tests $(BUILD)

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
