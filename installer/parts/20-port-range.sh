# --- The proxy's port range ----------------------------------------------------------------------

# DD_FIPS_PORT_RANGE_START, else the range this host already uses (a re-run or an upgrade keeps a
# moved range), else the default. Sets port_start, port_end and proxy_env_file (the family's).
choose_port_range() {
    local current
    proxy_env_file=$(printf '%s\n' "$proxy_env_files" | tr ' ' '\n' | awk -F: -v f="$family" '$1 == f { print $2 }')
    current=$(env_port_start "$proxy_env_file")
    if [ -n "$current" ] && ! valid_port_start "$current"; then
        fail "$EXIT_PARAMS" "$proxy_env_file has DD_FIPS_PORT_RANGE_START=$current, not a port from $port_min to $port_max_start; fix it or set DD_FIPS_PORT_RANGE_START"
    fi
    port_start=${port_range_param:-${current:-$default_port_start}}
    port_end=$((port_start + port_count - 1))
    if [ -n "$current" ] && [ "$current" != "$port_start" ]; then
        say "  moving $proxy_package from ports $current-$((current + port_count - 1)) to $port_start-$port_end"
    fi
}

# The environment file of the proxy's service: the range's first port, and the Agent's
# fips.local_address when it is not the default (the proxy listens where the Agent sends).
write_proxy_environment() {
    local address
    address=$(agent_local_address "$agent_config")
    {
        printf '# Written by %s: the first of the %s ports of %s. The Agent must use the\n' "$script_name" "$port_count" "$proxy_package"
        printf '# same (fips.port_range_start in %s); the script sets both.\n' "$agent_config"
        printf 'DD_FIPS_PORT_RANGE_START=%s\n' "$port_start"
        [ -z "$address" ] || printf '# fips.local_address of %s.\nDD_FIPS_LOCAL_ADDRESS=%s\n' "$agent_config" "$address"
    } | write_if_changed "$proxy_env_file" 0644 && changed=true
    return 0
}

