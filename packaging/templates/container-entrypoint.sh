#!/bin/sh
# @NAME@ @VERSION@: the container image's entrypoint (PID 1).
# 1. The FIPS 140-2 security policy's per-target step: openssl fipsinstall generates fipsmodule.cnf
#    for this container in @WRITABLE_DIR@ (the root filesystem may be read-only) and verifies it,
#    which runs the module's self-tests. A failure stops the container with the reason.
# 2. The configuration: the one mounted at @LIVE_CONFIG@, else the built-in example, checked with
#    haproxy -c (its message goes to the log on failure).
# 3. HAProxy in the foreground (master-worker, logs on stdout), through run-haproxy, which sets the
#    listeners' ports from DD_FIPS_PORT_RANGE_START. SIGTERM and SIGINT become HAProxy's soft stop
#    (SIGUSR1): the listeners close, in-flight requests finish, then it exits. SIGHUP reloads.
set -eu

openssl=@EMBEDDED@/bin/openssl
module=@EMBEDDED@/lib/ossl-modules/fips.so
# @EMBEDDED@/ssl/fipsmodule.cnf, which openssl.cnf includes, is a symlink to it.
cnf=@WRITABLE_DIR@/fipsmodule.cnf

fail() {
    echo "@NAME@: $*" >&2
    exit 1
}

if ! (: >"$cnf") 2>/dev/null; then
    fail "cannot write $cnf: @WRITABLE_DIR@ must be writable (with a read-only root filesystem, mount a tmpfs there: --tmpfs @WRITABLE_DIR@; Kubernetes: an emptyDir volume)"
fi
OPENSSL_CONF=/dev/null "$openssl" fipsinstall -module "$module" -out "$cnf" -quiet ||
    fail "openssl fipsinstall failed: the FIPS module did not pass its self-tests"
OPENSSL_CONF=/dev/null "$openssl" fipsinstall -module "$module" -in "$cnf" -verify -quiet ||
    fail "$cnf does not verify against $module"

config=@LIVE_CONFIG@
[ -f "$config" ] || config=@EXAMPLE_CONFIG@
@RUN_HAPROXY@ -c -f "$config" >/dev/null || fail "$config is refused by haproxy -c (its message is above)"

@RUN_HAPROXY@ -W -db -f "$config" &
pid=$!
trap 'kill -USR1 "$pid" 2>/dev/null || :' TERM INT
trap 'kill -USR2 "$pid" 2>/dev/null || :' HUP
# wait returns early when a trapped signal arrives: wait again until HAProxy itself has exited.
while :; do
    if wait "$pid"; then status=0; else status=$?; fi
    kill -0 "$pid" 2>/dev/null || break
done
exit "$status"
