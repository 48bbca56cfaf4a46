#!/bin/sh
# @NAME@ @VERSION@: the container image's health command (ECS healthCheck, Kubernetes exec probes).
# Healthy when every port of the range (DD_FIPS_PORT_RANGE_START, default @PORT_START@) that the
# Agent sends to, and the stats page, is listened on in this network namespace, read from
# /proc/net/tcp{,6}: the image has no HTTP client. The reserved ports (offsets @RESERVED_OFFSETS@) are
# not waited for: a config in the vendor's layout binds nothing there, and the Agent needs nothing
# there. Prints the ports that are missing, and exits 1, otherwise exits 0.
set -eu

@FUNCTIONS@

start=${DD_FIPS_PORT_RANGE_START:-@PORT_START@}
valid_port_start "$start" || { echo "@NAME@: DD_FIPS_PORT_RANGE_START='$start' is not a port range start" >&2; exit 1; }
listening=""
for table in /proc/net/tcp /proc/net/tcp6; do
    [ -r "$table" ] || continue
    # local_address is ADDR:PORT in hex; state 0A is LISTEN.
    while read -r _ local _ state _; do
        [ "$state" = 0A ] && listening="$listening ${local##*:}"
    done <"$table"
done
missing=""
for offset in @USED_OFFSETS@; do
    port=$((start + offset))
    case "$listening " in *" $(printf '%04X' "$port") "*) ;; *) missing="$missing $port" ;; esac
done
if [ -n "$missing" ]; then
    echo "@NAME@: not listening on:$missing" >&2
    exit 1
fi
echo "@NAME@: listening on $start-$((start + @PORT_COUNT@ - 1)) (reserved offsets @RESERVED_OFFSETS@ not required)"
