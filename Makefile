# SwiftResNet: `make demo` and `make test` do all set-up on a fresh Debian 12 machine
# with the Swift toolchain. Debian packages are installed only when missing.

DEBS := libdnnl-dev libturbojpeg0-dev libpng-dev zlib1g-dev dataset-fashion-mnist libopenmpi-dev openmpi-bin curl
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SWIFT ?= swift
JOBS ?= $(shell nproc)

.PHONY: all deps build demo test clean

all: build

# Installs the Debian packages that are not installed yet (apt-get, through sudo when not root).
deps:
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build -c release -j $(JOBS)

demo: build
	.build/release/resnet train --recipe fmnist-fast

test: deps
	$(SWIFT) build --build-tests -j $(JOBS)
	$(SWIFT) test --skip-build --disable-swift-testing
	Tests/CLI/hostile-inputs.sh .build/debug/resnet
	Tests/CLI/mpi.sh .build/debug/resnet
	Tests/CLI/mpi-netns.sh .build/debug/resnet

clean:
	rm -rf .build
