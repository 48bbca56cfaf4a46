# --- DD_FIPS_REVERT --------------------------------------------------------------------------------

# The way out of DD_FIPS_MODE: datadog.yaml first (the Agent then sends directly, not to ports that
# are about to close), then the proxy's package and the files this script wrote for it.
revert_fips_mode() {
    step "Reverting DD_FIPS_MODE"
    if [ -f "$agent_config" ]; then
        fips_yaml_edit revert "$agent_config" >/dev/null || fail "$EXIT_GENERAL" "$agent_config is not valid YAML (see above); fix it and run this again. Nothing was changed."
        if edit_agent_config revert; then
            say "  the fips settings are out of $agent_config: the Agent sends directly to $(agent_yaml_value "$agent_config" site), without the FIPS proxy"
            changed=true
        else
            say "  $agent_config has no fips settings to remove"
        fi
    fi
    if [ -f "$proxy_logs_config" ]; then
        as_root rm -f "$proxy_logs_config"
        as_root rmdir "$(dirname "$proxy_logs_config")" 2>/dev/null || true
        say "  removed $proxy_logs_config"
        changed=true
    fi
    if [ -n "$(installed_version "$agent_package")" ] && $changed; then restart_service "$agent_service"; fi
    remove_proxy
    step "Done"
    say "DD_FIPS_MODE is reverted on this host."
}

# Removes the proxy's package, then the files this script wrote beside it; the live config only if
# it is still the example (an operator's edits are kept, and named).
remove_proxy() {
    local live_is_example=false env_file
    if [ -f "$proxy_config" ] && as_root cmp -s "$proxy_config" "$proxy_example"; then live_is_example=true; fi
    if [ -n "$(installed_version "$proxy_package")" ]; then
        say "  removing $proxy_package"
        case "$pkg" in
            apt) apt_get purge -y "$proxy_package" ;;
            yum | dnf) as_root "$pkg" -y remove "$proxy_package" ;;
            zypper) as_root zypper --non-interactive remove "$proxy_package" ;;
        esac || fail "$EXIT_GENERAL" "removing $proxy_package failed (above); datadog.yaml is already reverted"
    fi
    for env_file in $(printf '%s\n' "$proxy_env_files" | tr ' ' '\n' | cut -d: -f2- | sort -u); do as_root rm -f "$env_file"; done
    as_root rm -f "$proxy_config_dir/install_info"
    if $live_is_example; then as_root rm -f "$proxy_config"; fi
    if [ -f "$proxy_config" ]; then
        say "  kept $proxy_config: it differs from the example (your edits)"
    else
        as_root rmdir "$proxy_config_dir" 2>/dev/null || true
    fi
}

