# --- Checks before anything changes --------------------------------------------------------------

# Ports of the range held by anything but the proxy itself: "port pid/name" lines. A listener whose
# process cannot be seen counts as the proxy's when the proxy is running.
busy_ports() {
    local port holder
    for port in $(seq "$port_start" "$port_end"); do
        holder=$(port_holder "$port")
        [ -n "$holder" ] || continue
        if held_by_proxy "$holder"; then continue; fi
        printf '%s %s\n' "$port" "$holder"
    done
}

check_ports() {
    local busy
    busy=$(busy_ports)
    [ -z "$busy" ] && return 0
    printf '%s\n' "$busy" | while read -r port holder; do
        say "  port $port is in use by ${holder/\?/an unknown process}" >&2
    done
    fail "$EXIT_GENERAL" "the FIPS proxy needs TCP ports $port_start-$port_end; stop what uses them (listed above) and run this again, or choose other ports with DD_FIPS_PORT_RANGE_START"
}

check_before_changes() {
    step "Checking the parameters and the host"
    if $upgrade && [ ! -f "$agent_config" ]; then
        fail "$EXIT_PARAMS" "DD_UPGRADE keeps the Agent's configuration, and there is no $agent_config"
    fi
    if [ ! -f "$agent_config" ] && [ -z "$api_key" ] && ! $no_agent_install; then
        fail "$EXIT_PARAMS" "DD_API_KEY is required: there is no $agent_config to keep"
    fi
    if [ "$repo_gpgcheck" = 0 ]; then
        say "  warning: DD_RPM_REPO_GPGCHECK=$DD_RPM_REPO_GPGCHECK: the repository metadata's signature is not checked (the packages' still are)"
    fi
    if [ -n "$dd_url" ] && $fips_mode; then
        say "  warning: DD_URL=$dd_url is ignored: in FIPS mode the Agent sends everything to $proxy_package"
    fi
    if $fips_mode && [ -f "$agent_config" ]; then
        # The patch is validated now, so that an unparseable datadog.yaml stops us before any change.
        fips_yaml_edit set "$agent_config" >/dev/null || fail "$EXIT_GENERAL" "$agent_config is not valid YAML (see above); fix it and run this again. Nothing was changed."
    fi
    if $fips_mode && ! $install_only; then check_ports; fi
    say "OK"
}

