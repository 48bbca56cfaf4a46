#!/bin/sh
# @NAME@ @VERSION@: the container image's entrypoint (PID 1).
# 1. The FIPS 140-2 security policy's per-target step: openssl fipsinstall generates fipsmodule.cnf
#    for this container in @WRITABLE_DIR@ (the root filesystem may be read-only) and verifies it,
#    which runs the module's self-tests. A failure stops the container with the reason.
# 2. The configuration: the one mounted at @LIVE_CONFIG@ (anything there but a file stops the
#    container), else the built-in example, checked with haproxy -c (its message goes to the log
#    on failure).
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
if [ -e "$config" ] || [ -L "$config" ]; then
    # Something mounted there is the operator's config: never fall back to the example in its
    # place. A ConfigMap mounted without subPath (and podman kube play, which ignores subPath)
    # puts a directory there.
    [ -f "$config" ] ||
        fail "$config exists but is not a regular file: mount the config file itself there (Kubernetes: the ConfigMap's key with subPath)"
else
    config=@EXAMPLE_CONFIG@
fi
# The built-in config's resolvers read /etc/resolv.conf, which a container without a network
# (podman --network none) may not have: start anyway, its servers waiting unresolved, and say so.
if [ ! -e /etc/resolv.conf ]; then
    echo "@NAME@: /etc/resolv.conf does not exist: upstream names cannot be resolved until it does (then restart the container)" >&2
    export @NO_RESOLV_CONF@=1
fi

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
