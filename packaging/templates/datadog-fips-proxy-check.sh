#!/bin/bash
# @NAME@ @VERSION@: the self-check. Run it as root or @USER@ when something is wrong on a host (the
# install script runs it at the end): one line per check, then a verdict and the next step.
#   @CHECK@ [--json]
# Checks: the service (installed, enabled, active), the live config (present, @USER@:@GROUP@ 640,
# accepted by haproxy -c), the FIPS module (fipsmodule.cnf present, openssl fipsinstall -verify),
# each port of the range (the proxy listens, nothing else does), each backend's servers as HAProxy
# reports them (UP, or DOWN with HAProxy's reason and the address it resolved), and datadog.yaml
# (fips.enabled true, fips.https false, the proxy's port range); where the Agent collects the
# proxy's journal (DD_FIPS_PROXY_LOGS_ENABLED), that @USER@ may read it.
# Exit: 0 all pass; 1 a check of this host failed; 3 only the intake cannot be reached (network,
# DNS, TLS); 2 usage. bash 4.2 (RHEL 7), which every supported distribution has.
set -u

json=false
case "${1:-}" in
    "") ;;
    --json) json=true ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--json]" >&2; exit 2 ;;
esac

name=@NAME@
config=@LIVE_CONFIG@
example=@EXAMPLE_CONFIG@
env_file=@ENV_FILE@
embedded=@EMBEDDED@
agent_config=/etc/datadog-agent/datadog.yaml
proxy_logs_config=/etc/datadog-agent/conf.d/fips_proxy.d/conf.yaml
# offset:service of every port, for the port lines.
services="@SERVICES@"

# This script runs as whoever runs it: no sudo.
as_root() { "$@"; }

@FUNCTIONS@

# The results: one "STATUS<TAB>check<TAB>detail<TAB>next step" line each; STATUS is PASS, FAIL or
# FAIL-UPSTREAM (the intake is unreachable: not this host's fault alone).
results=""
record() {
    results="$results$1	$2	$3	${4:-}
"
}

check_service() {
    case "$(init_system)" in
        systemd)
            local enabled active
            enabled=$(systemctl is-enabled "$name.service" 2>/dev/null || true)
            active=$(systemctl is-active "$name.service" 2>/dev/null || true)
            if [ -z "$enabled" ] || [ "$enabled" = not-found ]; then
                record FAIL service "$name.service is not installed" "install the $name package"
            elif [ "$active" != active ]; then
                record FAIL service "$name.service is $enabled and $active" "systemctl start $name; if it stops again: journalctl -u $name --no-pager -n 50"
            elif [ "$enabled" != enabled ]; then
                record FAIL service "$name.service is active but $enabled: it will not start at boot" "systemctl enable $name"
            else
                record PASS service "$name.service is enabled and active (main pid $(systemctl show -p MainPID --value "$name.service" 2>/dev/null || echo ?))"
            fi
            ;;
        upstart)
            if status "$name" 2>/dev/null | grep -q start/running; then
                record PASS service "upstart: $name is running"
            else
                record FAIL service "upstart: $name is not running" "start $name; see /var/log/upstart/$name.log"
            fi
            ;;
        *)
            if is_proxy_process; then
                record PASS service "no systemd or upstart; HAProxy runs"
            else
                record FAIL service "no systemd or upstart, and HAProxy does not run" "start it: @RUN_HAPROXY@ -W -db -f $config"
            fi
            ;;
    esac
}

check_config() {
    if [ ! -f "$config" ]; then
        record FAIL config "$config is missing" "cp $example $config && chown @USER@:@GROUP@ $config && chmod 640 $config"
        return
    fi
    local attributes out
    attributes=$(stat -c %U:%G:%a "$config")
    if [ "$attributes" != "@USER@:@GROUP@:640" ]; then
        record FAIL config "$config is $attributes, not @USER@:@GROUP@ 640" "chown @USER@:@GROUP@ $config && chmod 640 $config"
    elif ! out=$(DD_FIPS_PORT_RANGE_START=$start OPENSSL_CONF=$embedded/ssl/openssl.cnf @RUN_HAPROXY@ -c -f "$config" 2>&1); then
        record FAIL config "haproxy -c rejects $config: $(printf '%s\n' "$out" | grep -m1 ALERT | sed 's/^\[ALERT\] *([0-9]*) : //')" "fix $config (haproxy -c -f $config shows every error), or start again from $example"
    else
        record PASS config "$config: @USER@:@GROUP@ 640, accepted by haproxy -c"
    fi
}

check_fips_module() {
    local cnf=$embedded/ssl/fipsmodule.cnf
    if [ ! -s "$cnf" ]; then
        record FAIL fips-module "$cnf is missing" "@FIPSINSTALL@ (as root), then restart $name"
    elif ! OPENSSL_CONF=/dev/null "$embedded/bin/openssl" fipsinstall -module "$embedded/lib/ossl-modules/fips.so" -in "$cnf" -verify -quiet >/dev/null 2>&1; then
        record FAIL fips-module "$cnf does not verify against fips.so (openssl fipsinstall -verify)" "@FIPSINSTALL@ --force (as root), then restart $name"
    else
        record PASS fips-module "$cnf verified (openssl fipsinstall -verify: the module's self-tests pass)"
    fi
}

check_ports() {
    local port=$start end=$((start + @PORT_COUNT@ - 1)) holder service bad="" free=0
    while [ "$port" -le "$end" ]; do
        [ -n "$(port_holder "$port")" ] || free=$((free + 1))
        port=$((port + 1))
    done
    if [ "$free" -eq @PORT_COUNT@ ]; then
        record FAIL ports "nothing listens on $start-$end" "start $name (see the service line)"
        return
    fi
    port=$start
    while [ "$port" -le "$end" ]; do
        service=$(printf '%s\n' "$services" | tr ' ' '\n' | awk -F: -v o=$((port - start)) '$1 == o { print $2 }')
        holder=$(port_holder "$port")
        if [ -z "$holder" ]; then
            record FAIL "port $port" "nothing listens on $port ($service)" "restart $name; journalctl -u $name says why a port is not bound"
            bad=1
        elif ! held_by_proxy "$holder"; then
            [ "$holder" != "?" ] || holder="a process this user cannot see"
            record FAIL "port $port" "$port ($service) is held by $holder, not $name" "stop that process, or move the range: DD_FIPS_PORT_RANGE_START in $env_file and fips.port_range_start in $agent_config"
            bad=1
        fi
        port=$((port + 1))
    done
    [ -n "$bad" ] || record PASS ports "$start-$end: all @PORT_COUNT@ listened on by $name"
}

# HAProxy's description of a check status code (its check_statuses table).
check_reason() {
    case "$1" in
        *L4TOUT) echo "Layer4 timeout" ;;
        *L4CON) echo "Layer4 connection problem" ;;
        *L6TOUT) echo "Layer6 timeout (TLS)" ;;
        *L6RSP) echo "Layer6 invalid response (TLS handshake failure)" ;;
        *SOCKERR) echo "Socket error" ;;
        *L4OK | *L6OK) echo "check passed" ;;
        *INI | "") echo "not checked yet" ;;
        *) echo "$1" ;;
    esac
}

# Each backend's servers, from the stats page's CSV (columns found by name in its header).
check_backends() {
    local url="http://${DD_FIPS_LOCAL_ADDRESS:-127.0.0.1}:$start/;csv" csv
    if command -v curl >/dev/null 2>&1; then csv=$(curl -fsS -m 5 "$url" 2>&1)
    else csv=$(wget -q -T 5 -O - "$url" 2>&1)
    fi || {
        record FAIL backends "the stats page $url does not answer: $csv" "start $name (see the service line)"
        return
    }
    local line
    # One line per backend: "backend<TAB>UP|DOWN<TAB>servers", the servers as "name status check|last check|address"
    # joined by "; ". A server without health checks ("no check") counts as usable, as HAProxy has it.
    printf '%s\n' "$csv" | awk -F, '
        NR == 1 { sub(/^# */, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
        $col["pxname"] == "stats" || $col["svname"] == "FRONTEND" { next }
        $col["svname"] == "BACKEND" { order[++n] = $col["pxname"]; next }
        {
            b = $col["pxname"]; st = $col["status"]
            if (st ~ /^(UP|no check)/) up[b]++
            desc[b] = desc[b] (desc[b] == "" ? "" : "; ") $col["svname"] " " st " " $col["check_status"] "|" $col["last_chk"] "|" $col["addr"]
        }
        END { for (i = 1; i <= n; i++) printf("%s\t%s\t%s\n", order[i], (up[order[i]] ? "UP" : "DOWN"), desc[order[i]]) }' |
        while IFS='	' read -r backend state servers; do
            if [ "$state" = UP ]; then
                printf 'PASS\tbackend %s\t%s\t\n' "$backend" "a server is UP ($(first_up "$servers"))"
            else
                printf 'FAIL-UPSTREAM\tbackend %s\t%s\t%s\n' "$backend" "no server UP: $(down_reasons "$servers")" "check DNS, the route to the intake on 443 and the CA bundle; journalctl -u $name shows each server going DOWN"
            fi
        done >"$tmp_backends"
    while IFS= read -r line; do results="$results$line
"; done <"$tmp_backends"
}

# The first UP server of a backend's "name status check|last|address; ..." list, as "address".
first_up() {
    printf '%s\n' "$1" | tr ';' '\n' | awk '$2 ~ /^(UP|no)/ { split($0, f, "|"); print (f[3] != "" ? f[3] : $1); exit }'
}

# Why the servers of a backend are not UP: HAProxy's check status, its detail and the address,
# each reason once with the servers that have it.
down_reasons() {
    local server status rest code last addr
    printf '%s\n' "$1" | tr ';' '\n' | while read -r server status rest; do
        code=${rest%%|*}; last=${rest#*|}; addr=${last#*|}; last=${last%%|*}
        case "$status" in
            MAINT*) printf '%s\tno address (DNS: the host does not resolve)\n' "$server" ;;
            *) printf '%s\t%s: %s%s%s\n' "$server" "$status" "$(check_reason "$code")" "${last:+ ($last)}" "${addr:+ at $addr}" ;;
        esac
    done | awk -F'\t' '!($2 in seen) { order[++n] = $2; seen[$2] = "" } { seen[$2] = seen[$2] (seen[$2] == "" ? "" : ",") $1 }
        END { for (i = 1; i <= n; i++) printf("%s%s [%s]", (i > 1 ? "; " : ""), order[i], seen[order[i]]) }'
}

check_agent_config() {
    if [ ! -e "$agent_config" ]; then
        record FAIL datadog.yaml "$agent_config does not exist" "install the Agent, then run the install script with DD_FIPS_MODE=1"
        return
    elif [ ! -r "$agent_config" ]; then
        record FAIL datadog.yaml "$agent_config is not readable by $(id -un)" "run this as root or @USER@"
        return
    fi
    local settings enabled https range
    # The top-level fips block's own keys, as key=value.
    settings=$(agent_fips_settings "$agent_config")
    enabled=$(printf '%s\n' "$settings" | sed -n 's/^enabled=//p')
    https=$(printf '%s\n' "$settings" | sed -n 's/^https=//p')
    range=$(printf '%s\n' "$settings" | sed -n 's/^port_range_start=//p')
    if [ "$enabled" != true ] || [ "$https" != false ] || [ "${range:-@PORT_START@}" != "$start" ]; then
        record FAIL datadog.yaml "fips.enabled: ${enabled:-unset}, fips.https: ${https:-unset}, fips.port_range_start: ${range:-unset} (the proxy's range starts at $start)" "set fips.enabled: true, fips.https: false, fips.port_range_start: $start in $agent_config (the install script with DD_FIPS_MODE=1 does), then restart datadog-agent"
    else
        record PASS datadog.yaml "fips.enabled: true, fips.https: false, fips.port_range_start: $start"
    fi
}

# The Agent reads the journal as @USER@: journald gives its files to the groups systemd-journal,
# adm and wheel (ACLs of systemd's tmpfiles.d).
check_proxy_logs() {
    [ -f "$proxy_logs_config" ] || return 0
    if id -nG @USER@ 2>/dev/null | tr ' ' '\n' | grep -qxE 'systemd-journal|adm|wheel'; then
        record PASS logs "the Agent collects $name's journal ($proxy_logs_config); @USER@ may read it"
    else
        record FAIL logs "$proxy_logs_config collects $name's journal, but @USER@ is in no group that may read it" "sudo usermod -a -G systemd-journal @USER@, then restart datadog-agent"
    fi
}

report() {
    local failed upstream_only
    failed=$(printf '%s' "$results" | grep -c '^FAIL	' || true)
    upstream_only=$(printf '%s' "$results" | grep -c '^FAIL-UPSTREAM	' || true)
    if $json; then
        printf '%s' "$results" | awk -F'\t' -v ok="$([ "$failed$upstream_only" = 00 ] && echo true || echo false)" '
            function str(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
            BEGIN { printf("{\"ok\": %s, \"checks\": [", ok) }
            { st = $1; sub(/-UPSTREAM$/, "", st)
              printf("%s{\"status\": %s, \"check\": %s, \"detail\": %s, \"next\": %s}", (NR > 1 ? ", " : ""), str(st), str($2), str($3), str($4)) }
            END { print "]}" }'
    else
        printf '%s' "$results" | while IFS='	' read -r status check detail _; do
            printf '%-5s %-16s %s\n' "${status%-UPSTREAM}" "$check" "$detail"
        done
        if [ "$failed$upstream_only" = 00 ]; then
            echo "OK: $name relays to the intake; the Agent is set to use it."
        else
            echo "FAILED: $((failed + upstream_only)) check(s). Next: $(printf '%s' "$results" | awk -F'\t' '$1 ~ /^FAIL/ { print $4; exit }')"
        fi
    fi
    if [ "$failed" -gt 0 ]; then return 1; fi
    if [ "$upstream_only" -gt 0 ]; then return 3; fi
    return 0
}

start=$(env_port_start "$env_file")
start=${start:-@PORT_START@}
if ! valid_port_start "$start"; then
    record FAIL ports "$env_file has DD_FIPS_PORT_RANGE_START=$start, not a port range start" "fix $env_file"
    start=@PORT_START@
fi
tmp_backends=$(mktemp)
trap 'rm -f "$tmp_backends"' EXIT
check_service
check_config
check_fips_module
check_ports
check_backends
check_agent_config
check_proxy_logs
report
