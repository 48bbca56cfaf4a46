#!/bin/sh
# @NAME@ @VERSION@: runs HAProxy with its listeners on the @PORT_COUNT@ ports that start at
# DD_FIPS_PORT_RANGE_START (default @PORT_START@), one per offset, as the Agent's fips.port_range_start
# counts them. The systemd unit, the upstart job and the container image start HAProxy through
# it, so that one variable moves every listener; the arguments are HAProxy's:
#   DD_FIPS_PORT_RANGE_START=10803 @RUN_HAPROXY@ -c -f @LIVE_CONFIG@
# The example config binds each port from its DD_FIPS_PORT_<SERVICE> variable, which this sets
# (and which the config presets to the default range, for HAProxy started without this script).
# A new range needs a restart: a reload re-executes HAProxy with the environment it started with.
set -eu

@FUNCTIONS@

start=${DD_FIPS_PORT_RANGE_START:-@PORT_START@}
if ! valid_port_start "$start"; then
    echo "@NAME@: DD_FIPS_PORT_RANGE_START='$start' is not a port from @PORT_MIN@ to @PORT_MAX_START@ (the range has @PORT_COUNT@ ports)" >&2
    exit 2
fi

@PORT_EXPORTS@

exec @EMBEDDED@/sbin/haproxy "$@"
