#!/bin/bash
# @NAME@ @VERSION@: the self-check. Run it as root or @USER@ when something is wrong on a host (the
# install script runs it at the end): one line per check, then a verdict and the next step.
#   @CHECK@ [--json] [--datadog-yaml PATH]
#   @CHECK@ --compliance [--datadog-yaml PATH] [--json]
# Checks: the service (installed, enabled, active), the live config (present, @USER@:@GROUP@ 640,
# accepted by haproxy -c), the FIPS module (fipsmodule.cnf present, openssl fipsinstall -verify),
# each port of the range (the proxy listens, nothing else does), each backend's servers as HAProxy
# reports them (UP, or DOWN with HAProxy's reason and the address it resolved), and datadog.yaml
# (fips.enabled true, fips.https false, the proxy's port range and address); where the Agent
# collects the proxy's journal (DD_FIPS_PROXY_LOGS_ENABLED), that @USER@ may read it. INFO lines
# name known limitations and what datadog.yaml sends without the proxy; they fail nothing.
# --compliance reads datadog.yaml alone (no proxy needed): per Agent product, through the proxy
# (FIPS), sent directly (not FIPS, with the setting that turned it on), or off.
# Exit: 0 all pass; 1 a check of this host failed (--compliance: a product sends directly); 3 only
# the intake cannot be reached (network, DNS, TLS); 2 usage. bash 4.2 (RHEL 7), which every
# supported distribution has.
set -u

usage() { echo "usage: $0 [--compliance] [--json] [--datadog-yaml PATH]" >&2; exit 2; }
json=false
compliance=false
agent_config=@AGENT_CONFIG@
while [ $# -gt 0 ]; do
    case "$1" in
        --json) json=true ;;
        --compliance) compliance=true ;;
        --datadog-yaml) [ $# -ge 2 ] || usage; agent_config=$2; shift ;;
        -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) usage ;;
    esac
    shift
done

name=@NAME@
config=@LIVE_CONFIG@
example=@EXAMPLE_CONFIG@
env_file=@ENV_FILE@
embedded=@EMBEDDED@
proxy_logs_config=@AGENT_LOGS_CONFIG@
# offset:service of every port, for the port lines.
services="@SERVICES@"
# offset|product|why of each port where the Agent sends TLS to the proxy (product.yaml agent_tls).
agent_tls_ports="@AGENT_TLS_PORTS@"

# This script runs as whoever runs it: no sudo.
as_root() { "$@"; }

@FUNCTIONS@

# The results: one "STATUS<TAB>check<TAB>detail<TAB>next step" line each; STATUS is PASS, FAIL,
# FAIL-UPSTREAM (the intake is unreachable: not this host's fault alone) or INFO (a known
# limitation, or data that leaves without the proxy: it fails nothing).
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
        if [ -z "$holder" ] && reserved_port "$port"; then
            # The Agent sends nothing there, and configs in the vendor's layout bind nothing there.
            record INFO "port $port" "nothing listens on $port ($service, reserved: the Agent sends nothing there)" "nothing to do"
        elif [ -z "$holder" ]; then
            record FAIL "port $port" "nothing listens on $port ($service)" "restart $name; journalctl -u $name says why a port is not bound"
            bad=1
        elif ! held_by_proxy "$holder"; then
            [ "$holder" != "?" ] || holder="a process this user cannot see"
            record FAIL "port $port" "$port ($service) is held by $holder, not $name" "stop that process, or move the range: DD_FIPS_PORT_RANGE_START in $env_file and fips.port_range_start in $agent_config"
            bad=1
        fi
        port=$((port + 1))
    done
    [ -n "$bad" ] || record PASS ports "$start-$end: every port the Agent uses is $name's"
}

# True if port $1 of the range is a reserved one (services' third field).
reserved_port() {
    printf '%s\n' "$services" | tr ' ' '\n' | awk -F: -v o=$(($1 - start)) '$1 == o && $3 == "reserved" { found = 1 } END { exit !found }'
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
    local url csv
    url="http://$(url_host "$address"):$start/;csv"
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

# $1 as the host of a URL: an IPv6 address in brackets.
url_host() {
    case "$1" in *:*) echo "[$1]" ;; *) echo "$1" ;; esac
}

check_agent_config() {
    if [ ! -e "$agent_config" ]; then
        record FAIL datadog.yaml "$agent_config does not exist" "install the Agent, then run the install script with DD_FIPS_MODE=1"
        return
    elif [ ! -r "$agent_config" ]; then
        record FAIL datadog.yaml "$agent_config is not readable by $(id -un)" "run this as root or @USER@"
        return
    fi
    local enabled https range agent_address invalid
    # The reader reads only YAML it can edit: say so rather than report the settings as unset.
    if ! invalid=$(awk -v mode=check "$(datadog_yaml_awk)" "$agent_config" 2>&1); then
        record FAIL datadog.yaml "$agent_config is not YAML this check can read: $invalid" "fix $agent_config (the Agent refuses what the YAML reader refuses), then run this check again"
        return
    fi
    enabled=$(agent_yaml_value "$agent_config" fips.enabled)
    https=$(agent_yaml_value "$agent_config" fips.https)
    range=$(agent_yaml_value "$agent_config" fips.port_range_start)
    # The Agent's address, as the proxy would bind it: its default (localhost) reaches 127.0.0.1.
    agent_address=$(agent_local_address "$agent_config")
    if [ "$(yaml_bool "$enabled")" != true ] || [ "$(yaml_bool "$https")" != false ] || [ "${range:-@PORT_START@}" != "$start" ] || [ "${agent_address:-127.0.0.1}" != "$address" ]; then
        record FAIL datadog.yaml "fips.enabled: ${enabled:-unset}, fips.https: ${https:-unset}, fips.port_range_start: ${range:-unset} (the proxy's range starts at $start), fips.local_address: ${agent_address:-localhost} (the proxy listens on $address)" "set fips.enabled: true, fips.https: false, fips.port_range_start: $start and fips.local_address: $address in $agent_config (the install script with DD_FIPS_MODE=1 does), then restart @AGENT_SERVICE@; or run the install script again, which gives the proxy the Agent's fips.local_address"
    else
        record PASS datadog.yaml "fips.enabled: true, fips.https: false, fips.port_range_start: $start, fips.local_address: ${agent_address:-localhost} (the proxy listens on $address)"
    fi
}

# Ports where the Agent sends TLS (agent_tls): the proxy refuses and logs those connections.
check_known_limits() {
    local offset product why
    while IFS='|' read -r offset product why; do
        [ -n "$offset" ] || continue
        record INFO "port $((start + offset))" "known limitation: $product reaches this port as TLS, which the proxy refuses and logs: $why" "journalctl -u $name shows each refusal"
    done <<EOF
$agent_tls_ports
EOF
}

# The Agent reads the journal as @USER@: journald gives its files to the groups systemd-journal,
# adm and wheel (ACLs of systemd's tmpfiles.d).
check_proxy_logs() {
    [ -f "$proxy_logs_config" ] || return 0
    if id -nG @USER@ 2>/dev/null | tr ' ' '\n' | grep -qxE 'systemd-journal|adm|wheel'; then
        record PASS logs "the Agent collects $name's journal ($proxy_logs_config); @USER@ may read it"
    else
        record FAIL logs "$proxy_logs_config collects $name's journal, but @USER@ is in no group that may read it" "sudo usermod -a -G systemd-journal @USER@, then restart @AGENT_SERVICE@"
    fi
}

# Tab-separated lines on stdin as a JSON array of objects with the keys $@, in that order.
tsv_json() {
    awk -F'\t' -v keys="$*" '
        function str(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
        BEGIN { n = split(keys, key, " "); printf("[") }
        { printf("%s{", (NR > 1 ? ", " : "")); for (i = 1; i <= n; i++) printf("%s%s: %s", (i > 1 ? ", " : ""), str(key[i]), str($i)); printf("}") }
        END { printf("]") }'
}

report() {
    local failed upstream_only
    failed=$(printf '%s' "$results" | grep -c '^FAIL	' || true)
    upstream_only=$(printf '%s' "$results" | grep -c '^FAIL-UPSTREAM	' || true)
    if $json; then
        printf '{"ok": %s, "checks": %s}\n' "$([ "$failed$upstream_only" = 00 ] && echo true || echo false)" "$(printf '%s' "$results" | sed 's/^FAIL-UPSTREAM	/FAIL	/' | tsv_json status check detail next)"
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

# --compliance: each Agent product as "product|setting that turns it on|its default|route". The
# route is where its data goes with fips.enabled: proxy:<service> (setupFipsEndpoints,
# pkg/config/setup/config.go, points it at that port of the proxy), refused:<service> (it reaches
# that port as TLS, which the proxy refuses: product.yaml agent_tls), direct:<intake host prefix>
# (it keeps its own URL: the event platform's pipelines of comp/forwarder/eventplatform/
# eventplatformimpl/epforwarder.go other than DBM's and NDM's), or rc (Remote Configuration:
# IsRemoteConfigEnabled, pkg/config/utils/miscellaneous.go, turns it off with fips.enabled unless
# remote_configuration.enabled is set, and then it reaches config.<site> directly). The setting
# "-" means none in datadog.yaml: "on" always, "used" when an integration or a check sends it.
# Settings and defaults: pkg/config/setup/config.go (logs_enabled, process_config.*,
# orchestrator_explorer.enabled, container_lifecycle.enabled and container_image.enabled true,
# sbom.enabled false, remote_configuration.enabled true, network_devices.*, compliance_config.*),
# apm.go (apm_config.enabled and apm_config.telemetry.enabled true), system-probe.go
# (runtime_security_config.enabled, network_path.connections_monitoring.enabled, false).
compliance_products="metrics|-|on|proxy:metrics
logs|logs_enabled|false|proxy:logs
APM traces|apm_config.enabled|true|proxy:traces
APM profiles|apm_config.enabled|true|proxy:profiles
instrumentation telemetry|apm_config.telemetry.enabled|true|refused:instrumentation-telemetry
processes|process_config.process_collection.enabled|false|proxy:processes
live containers|process_config.container_collection.enabled|true|proxy:processes
orchestrator explorer|orchestrator_explorer.enabled|true|proxy:orchestrator
DBM|-|used|proxy:dbm-metrics
network devices metadata|-|used|proxy:network-devices-metadata
SNMP traps|network_devices.snmp_traps.enabled|false|proxy:snmp-traps
NetFlow|network_devices.netflow.enabled|false|proxy:network-flows
CWS (runtime security)|runtime_security_config.enabled|false|proxy:runtime-security
compliance (CSPM)|compliance_config.enabled|false|proxy:compliance
Network Path|network_path.connections_monitoring.enabled|false|direct:netpath-intake
SBOM|sbom.enabled|false|direct:sbom-intake
container lifecycle|container_lifecycle.enabled|true|direct:contlcycle-intake
container images|container_image.enabled|true|direct:contimage-intake
Event Management|-|used|direct:event-management-intake
Remote Configuration|remote_configuration.enabled|true|rc"

# The port of service $1 for an Agent whose range starts at $2.
service_port() {
    echo $(($2 + $(printf '%s\n' "$services" | tr ' ' '\n' | awk -F: -v s="$1" '$2 == s { print $1 }')))
}

# One "STATUS<TAB>product<TAB>detail<TAB>setting" line per product of compliance_products for
# $agent_config. STATUS: FIPS (through the proxy), DIRECT (sent without it: the exit code counts
# these), OFF, REFUSED (TLS to a port that refuses it: nothing leaves) or MAYBE (sent directly
# when a check uses it, which datadog.yaml does not tell).
compliance_lines() {
    local fips site range product key default route value state why host
    fips=$(yaml_bool "$(agent_yaml_value "$agent_config" fips.enabled)")
    # The Agent's own default site is the commercial one: that is where direct data goes without it.
    site=$(agent_yaml_value "$agent_config" site)
    site=${site:-datadoghq.com}
    range=$(agent_yaml_value "$agent_config" fips.port_range_start)
    range=${range:-@PORT_START@}
    while IFS='|' read -r product key default route; do
        state=$default
        why="no datadog.yaml setting"
        [ "$state" != on ] || why="always on"
        if [ "$key" != - ]; then
            value=$(yaml_bool "$(agent_yaml_value "$agent_config" "$key")")
            why="$key: ${value:-$default by default}"
            state=${value:-$default}
            if [ "$route" = rc ] && [ "$fips" = true ] && [ -z "$value" ]; then
                state=false
                why="$key unset: off with fips.enabled"
            fi
        fi
        host=${route#direct:}
        [ "$route" != rc ] || host=config
        if [ "$state" = false ]; then
            printf 'OFF\t%s\t%s\t%s\n' "$product" "$why" "$key"
        elif [ "$fips" != true ]; then
            printf '%s\t%s\t%s\t%s\n' "$([ "$state" = used ] && echo MAYBE || echo DIRECT)" "$product" "sent directly to $site$([ "$state" = used ] && echo " when an integration sends it"): fips.enabled is ${fips:-unset} ($why)" "fips.enabled"
        else
            case "$route" in
                proxy:*) printf 'FIPS\t%s\t%s\t%s\n' "$product" "through $name, port $(service_port "${route#proxy:}" "$range")$([ "$state" = used ] && echo " when an integration sends it") ($why)" "$key" ;;
                refused:*) printf 'REFUSED\t%s\t%s\t%s\n' "$product" "sent as TLS to port $(service_port "${route#refused:}" "$range"), which $name refuses and logs: dropped, never sent without the FIPS module ($why)" "$key" ;;
                *) printf '%s\t%s\t%s\t%s\n' "$([ "$state" = used ] && echo MAYBE || echo DIRECT)" "$product" "sent directly to $host.$site, without $name$([ "$state" = used ] && echo " when a check sends it") ($why)" "$key" ;;
            esac
        fi
    done <<EOF
$compliance_products
EOF
}

# The compliance report of $agent_config: exit 0 when no enabled product sends directly.
compliance_report() {
    if [ ! -r "$agent_config" ]; then
        echo "$agent_config is not readable by $(id -un) (run this as root or @USER@)" >&2
        return 2
    fi
    local lines direct
    lines=$(compliance_lines)
    direct=$(printf '%s\n' "$lines" | awk -F'\t' '$1 == "DIRECT" { printf("%s%s", (n++ ? ", " : ""), $2) }')
    if $json; then
        printf '{"ok": %s, "datadog_yaml": "%s", "products": %s}\n' "$([ -z "$direct" ] && echo true || echo false)" "$agent_config" "$(printf '%s\n' "$lines" | tsv_json status product detail setting)"
    else
        printf '%s\n' "$lines" | while IFS='	' read -r status product detail _; do
            printf '%-7s %-26s %s\n' "$status" "$product" "$detail"
        done
        if [ -z "$direct" ]; then
            echo "COMPLIANT: every enabled Agent product of $agent_config goes through $name."
        else
            echo "NOT COMPLIANT: sent directly, without the FIPS module: $direct. Turn each off with the setting named above, or accept it."
        fi
    fi
    [ -z "$direct" ]
}

# The compliance report in one line of the full self-check: it fails nothing (the proxy is fine).
check_compliance() {
    [ -r "$agent_config" ] || return 0
    local direct
    direct=$(compliance_lines | awk -F'\t' '$1 == "DIRECT" { printf("%s%s", (n++ ? ", " : ""), $2) }')
    if [ -n "$direct" ]; then
        record INFO compliance "sent directly by the Agent, without the FIPS module: $direct" "$0 --compliance names the setting of each"
    else
        record INFO compliance "every enabled Agent product goes through $name" "$0 --compliance"
    fi
}

if $compliance; then
    compliance_report
    exit
fi
start=$(env_port_start "$env_file")
start=${start:-@PORT_START@}
if ! valid_port_start "$start"; then
    record FAIL ports "$env_file has DD_FIPS_PORT_RANGE_START=$start, not a port range start" "fix $env_file"
    start=@PORT_START@
fi
# The proxy's address: DD_FIPS_LOCAL_ADDRESS of the service's environment, as run-haproxy gets it.
address=$(bind_address "$(env_setting "$env_file" DD_FIPS_LOCAL_ADDRESS)")
address=${address:-127.0.0.1}
tmp_backends=$(mktemp)
trap 'rm -f "$tmp_backends"' EXIT
check_service
check_config
check_fips_module
check_ports
check_backends
check_agent_config
check_proxy_logs
check_known_limits
check_compliance
report
