# --- FIPS proxy configuration --------------------------------------------------------------------

configure_fips_proxy() {
    step "Configuring $proxy_package"
    if [ ! -f "$proxy_config" ]; then
        # Whole or not at all (a rename), with its owner and mode from the start.
        local tmp
        tmp=$(temp_beside "$proxy_config")
        as_root install -o "$proxy_user" -g "$proxy_group" -m 640 "$proxy_example" "$tmp"
        as_root mv -f "$tmp" "$proxy_config"
        say "  $proxy_config created from the example"
        changed=true
    fi
    write_proxy_environment
    if [ "$(stat -c %U:%G:%a "$proxy_config")" != "$proxy_user:$proxy_group:640" ]; then
        as_root chown "$proxy_user:$proxy_group" "$proxy_config"
        as_root chmod 640 "$proxy_config"
        say "  $proxy_config: owner $proxy_user:$proxy_group, mode 640"
        changed=true
    fi
    enable_proxy_unit
    if [ -f "$agent_config" ]; then
        patch_agent_config
    else
        say "  no $agent_config yet (DD_NO_AGENT_INSTALL): install the Agent, then run this again to set its fips settings"
    fi
}

# DD_FIPS_PROXY_LOGS_ENABLED: the Agent reads the proxy's journal (the vendor page's "journald log
# configuration"): a journald log source, and dd-agent in the group that may read the journal.
configure_proxy_logs() {
    $proxy_logs || return 0
    step "Sending $proxy_package's logs to Datadog"
    printf 'logs:\n  - type: journald\n    source: %s\n    include_units:\n      - %s.service\n' "$proxy_package" "$proxy_package" |
        write_if_changed "$proxy_logs_config" 0644 && changed=true
    if ! getent group systemd-journal >/dev/null 2>&1; then
        say "  warning: this host has no systemd-journal group: give $proxy_user read access to the journal another way (see journalctl(1))"
    elif ! id -nG "$proxy_user" | tr ' ' '\n' | grep -qx systemd-journal; then
        as_root usermod -a -G systemd-journal "$proxy_user"
        say "  $proxy_user added to the group systemd-journal (it may read the journal)"
        changed=true
    fi
    if [ "$(yaml_bool "$(agent_yaml_value "$agent_config" logs_enabled)")" != true ]; then
        say "  warning: logs_enabled is not true in $agent_config: the Agent collects no logs until it is (set it, then restart $agent_service)"
    fi
}

# install_info, which the Agent reports as its install method: the Agent's (when it is installed)
# and, in FIPS mode, the proxy's.
write_install_info() {
    local info
    info=$(printf -- '---\ninstall_method:\n  tool: install_script\n  tool_version: %s\n  installer_version: %s' "${script_name%.sh}" "$script_version")
    if [ -n "$(installed_version "$agent_package")" ]; then
        printf '%s\n' "$info" | write_if_changed "$(dirname "$agent_config")/install_info" 0644 || true
    fi
    # The proxy's also names this script's address: the package's removal gives it in the command
    # that reverts FIPS mode.
    if $fips_mode; then printf '%s\n# install script: %s/%s\n' "$info" "$repo_url" "$script_name" | write_if_changed "$proxy_config_dir/install_info" 0644 || true; fi
}

