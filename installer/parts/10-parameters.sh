# --- Parameters ----------------------------------------------------------------------------------

read_parameters() {
    api_key=${DD_API_KEY:-}
    site=${DD_SITE:-}
    fips_mode=false
    install_only=false
    if is_true "${DD_FIPS_MODE:-}"; then fips_mode=true; fi
    if is_true "${DD_INSTALL_ONLY:-}"; then install_only=true; fi
    repo_url=${DD_REPO_URL:-@REPO_URL@}
    repo_url=${repo_url%/}
    keys_url=${DD_KEYS_URL:-$repo_url/keys}
    keys_url=${keys_url%/}
    agent_minor=${DD_AGENT_MINOR_VERSION:-}
    proxy_version=${DD_FIPS_PROXY_VERSION:-}
    no_agent_install=false
    if is_true "${DD_NO_AGENT_INSTALL:-}"; then no_agent_install=true; fi
    tags=${DD_TAGS:-${DD_HOST_TAGS:-}}
    dd_url=${DD_URL:-}
    upgrade=false
    if is_true "${DD_UPGRADE:-}"; then upgrade=true; fi
    repo_channel=${DD_AGENT_DIST_CHANNEL:-$default_channel}
    port_range_param=${DD_FIPS_PORT_RANGE_START:-}
    proxy_logs=false
    if is_true "${DD_FIPS_PROXY_LOGS_ENABLED:-}"; then proxy_logs=true; fi
    revert=false
    if is_true "${DD_FIPS_REVERT:-}"; then revert=true; fi
    repo_gpgcheck=1
    if [ -n "${DD_RPM_REPO_GPGCHECK:-}" ] && ! is_true "$DD_RPM_REPO_GPGCHECK"; then repo_gpgcheck=0; fi
    case "$repo_channel" in
        stable | beta) ;;
        *) fail "$EXIT_PARAMS" "DD_AGENT_DIST_CHANNEL='$repo_channel' is not a channel (stable or beta)" ;;
    esac

    if [ -n "${DD_AGENT_MAJOR_VERSION:-}" ] && [ "$DD_AGENT_MAJOR_VERSION" != "$agent_major" ]; then
        fail "$EXIT_PARAMS" "this script installs Agent $agent_major; DD_AGENT_MAJOR_VERSION=$DD_AGENT_MAJOR_VERSION asks for another one"
    fi
    if [ -n "$agent_minor" ] && ! printf '%s' "$agent_minor" | grep -Eq '^[0-9]+(\.[0-9]+)?(~[a-z]+\.[0-9]+)?$'; then
        fail "$EXIT_PARAMS" "DD_AGENT_MINOR_VERSION='$agent_minor' is not a minor version such as 52 or 52.1"
    fi
    if $fips_mode && [ -n "$agent_minor" ] && [ "${agent_minor%%[.~]*}" -lt "$agent_min_minor" ]; then
        fail "$EXIT_PARAMS" "the FIPS proxy needs Agent $agent_major.$agent_min_minor or later; DD_AGENT_MINOR_VERSION=$agent_minor asks for $agent_major.$agent_minor"
    fi
    if $no_agent_install && ! $fips_mode; then
        fail "$EXIT_PARAMS" "DD_NO_AGENT_INSTALL without DD_FIPS_MODE leaves nothing to install"
    fi
    if $revert && $fips_mode; then
        fail "$EXIT_PARAMS" "DD_FIPS_REVERT undoes DD_FIPS_MODE: give one of them"
    fi
    if $proxy_logs && ! $fips_mode; then
        fail "$EXIT_PARAMS" "DD_FIPS_PROXY_LOGS_ENABLED collects the FIPS proxy's logs: it needs DD_FIPS_MODE"
    fi
    check_config_values
    if [ -n "$port_range_param" ]; then
        $fips_mode || fail "$EXIT_PARAMS" "DD_FIPS_PORT_RANGE_START is the FIPS proxy's port range: it needs DD_FIPS_MODE"
        valid_port_start "$port_range_param" || fail "$EXIT_PARAMS" "DD_FIPS_PORT_RANGE_START='$port_range_param' is not a port from $port_min to $port_max_start (the range has $port_count ports)"
    fi
    if [ -n "$api_key" ] && ! printf '%s' "$api_key" | grep -Eq '^[A-Za-z0-9]+$'; then
        fail "$EXIT_PARAMS" "DD_API_KEY must be alphanumeric"
    fi
    case "$repo_url" in http://* | https://*) ;; *) fail "$EXIT_PARAMS" "DD_REPO_URL='$repo_url' is not an http(s) URL" ;; esac
    if $fips_mode; then
        # The proxy relays to the US1-FED intake only: any other site would silently lose data.
        if [ -z "$site" ]; then
            site=$fips_site
        elif [ "$site" != "$fips_site" ]; then
            fail "$EXIT_PARAMS" "DD_FIPS_MODE needs DD_SITE=\"$fips_site\" (the FIPS proxy serves only that site), got DD_SITE=\"$site\""
        fi
    fi
    site=${site:-datadoghq.com}
}

# Values written into datadog.yaml stay values (yaml_quote), but YAML has no way to keep a
# control character in a key's one-line value: a newline would start new keys. Refused before
# anything changes.
check_config_values() {
    local name value
    for name in DD_HOSTNAME DD_ENV DD_TAGS DD_HOST_TAGS DD_URL DD_SITE; do
        value=${!name:-}
        case "$value" in
            *[[:cntrl:]]*) fail "$EXIT_PARAMS" "$name contains a control character (a newline, a tab, ...): it must be one line of text" ;;
        esac
    done
}

