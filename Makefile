# The public interface of the release toolchain. See README.md.
SHELL := /bin/bash
TSX := node_modules/.bin/tsx
AVA := node_modules/.bin/ava

.PHONY: deps check proxy proxy-two-source packages image repos matrix matrix-prebuilt bench ci-files test typecheck clean

# Each target first checks the tools it runs and those of the targets it builds first, before any
# of them starts (scripts/lib/tools.ts, which names each one's Debian package); as root it installs
# what is missing from the machine's configured apt sources. tools-a+b checks targets a and b.
TOOLS := $(TSX) scripts/tools.ts
tools-%: node_modules
	$(TOOLS) $(subst +, ,$*)

node_modules: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch node_modules

# Every target's Debian packages at once (as root).
deps: node_modules
	$(TOOLS) deps

proxy: tools-proxy
	$(TSX) scripts/proxy.ts

# The release path's two-source build, so that it never rots: the default tree of each arch
# (libssl/libcrypto/openssl from the library's release, HAProxy; built first if not cached) with
# fips.so compiled from OpenSSL 3.0.17 (standing in for the validated 3.0.9, which cannot be fetched
# here), cached like the default trees; test/proxy-tree.test.ts checks them.
proxy-two-source: tools-proxy
	FIPS_PROVIDER_SOURCE=openssl-3.0.17 PROXY_OUT_DIR=build/proxy-two-source $(TSX) scripts/proxy.ts

packages: tools-proxy+packages proxy
	$(TSX) scripts/packages.ts

# The container image (linux/amd64 + linux/arm64) into dist/, without a container engine.
image: tools-proxy+image proxy
	$(TSX) scripts/image.ts

repos: tools-proxy+packages+repos packages
	$(TSX) scripts/repos.ts

# The distro matrix (test/matrix/matrix.yaml): every row this machine can run.
matrix: tools-proxy+packages+matrix packages
	$(TSX) test/harness/matrix.ts

# The same on what make packages already wrote (a CI row job, after the build job's artifact):
# builds nothing, and stops, naming what is missing, where dist/ or build/ lacks it.
matrix-prebuilt: tools-matrix
	$(TSX) test/harness/matrix.ts

bench: tools-proxy+packages+bench packages
	$(TSX) test/harness/bench.ts

# CI files for engines with runners, generated from the matrix definition (committed).
ci-files: node_modules
	$(TSX) test/harness/ci-files.ts

typecheck: node_modules
	node_modules/.bin/tsc --noEmit

# The tier that needs no build, no container and no root: the type check and the tests of the
# product definition, versions, tools, sources, the datadog.yaml editor, the install script's
# functions (rendered in memory), these pages and the CI files (with GitHub's and GitLab's own
# validators). The first thing to run after an edit; make test runs them too.
CHECK_TESTS := test/layering.test.ts test/docs.test.ts test/product.test.ts test/version.test.ts test/exec.test.ts test/tools.test.ts test/sources.test.ts test/yaml-patch.test.ts test/installer-lib.test.ts test/ci-files.test.ts test/signing.test.ts
check: tools-check typecheck
	$(AVA) $(CHECK_TESTS)

# MATRIX_ENGINE=docker|podman (default docker) for the tests' containers and the matrix; with docker
# and no daemon answering on DOCKER_HOST, each step starts and stops one of its own.
test: tools-proxy+packages+image+test packages image proxy-two-source typecheck
	$(TSX) test/harness/with-engine.ts $(AVA)
	$(TSX) test/harness/matrix.ts

clean:
	rm -rf build dist
