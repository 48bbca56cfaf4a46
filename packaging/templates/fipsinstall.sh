#!/bin/sh
# @NAME@ @VERSION@: generate fipsmodule.cnf for the FIPS provider on this host, then verify it.
# The FIPS 140-2 security policy requires the module configuration to be generated on each host
# by `openssl fipsinstall` (which runs the module's self-tests), never copied from another one.
#   @FIPSINSTALL@            generate if missing, then verify (the service runs this before start)
#   @FIPSINSTALL@ --force    regenerate (the package runs this on install and upgrade)
set -eu

openssl=@EMBEDDED@/bin/openssl
module=@EMBEDDED@/lib/ossl-modules/fips.so
cnf=@EMBEDDED@/ssl/fipsmodule.cnf

# openssl.cnf includes fipsmodule.cnf, so fipsinstall must not read it: OPENSSL_CONF=/dev/null.
if [ "${1:-}" = --force ] || [ ! -s "$cnf" ]; then
    tmp=$(mktemp "$cnf.XXXXXX")
    trap 'rm -f "$tmp"' EXIT
    if ! OPENSSL_CONF=/dev/null "$openssl" fipsinstall -module "$module" -out "$tmp" -quiet; then
        echo "@NAME@: openssl fipsinstall failed: the FIPS module did not pass its self-tests" >&2
        exit 1
    fi
    chmod 644 "$tmp"
    mv -f "$tmp" "$cnf"
    trap - EXIT
fi

if ! OPENSSL_CONF=/dev/null "$openssl" fipsinstall -module "$module" -in "$cnf" -verify -quiet; then
    echo "@NAME@: $cnf does not match $module or the self-tests failed; run '@FIPSINSTALL@ --force' as root" >&2
    exit 1
fi
