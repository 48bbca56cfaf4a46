print_next_steps() {
    step "Done"
    if $install_only; then
        local units=$agent_service
        if $fips_mode; then units="$units $proxy_package"; fi
        say "Installed and configured; nothing was started (DD_INSTALL_ONLY). To start: systemctl start $units"
    fi
    if $fips_mode; then
        say "The Agent sends its data through $proxy_package (ports $port_start-$port_end, set in $proxy_env_file) to $fips_site."
        say "Check it with:"
        say "  sudo $self_check"
        say "  sudo -u @USER@ datadog-agent diagnose --include connectivity-datadog-core-endpoints"
    fi
    if $fips_mode && [ -f "$agent_config" ]; then
        say "What $agent_config sends through the proxy, and what it sends without it ($self_check --compliance):"
        as_root "$self_check" --compliance --datadog-yaml "$agent_config" | sed 's/^/  /' || true
    fi
}

main() {
    trap 'on_error $? $LINENO' ERR
    trap on_exit EXIT
    # A signal ends the script through exit, so that on_exit runs.
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
    say "$script_name $script_version ($(date -u '+%Y-%m-%d %H:%M:%S UTC'))"
    changed=false
    read_parameters
    detect_platform
    acquire_lock
    remove_leftovers
    make_workdir
    if $revert; then
        revert_fips_mode
        return
    fi
    if $fips_mode; then choose_port_range; fi
    check_before_changes
    setup_repository
    install_packages
    create_agent_config
    if $fips_mode; then configure_fips_proxy; fi
    configure_proxy_logs
    write_install_info
    if ! $install_only; then start_services; fi
    print_next_steps
}

# DD_INSTALL_SCRIPT_LIB=1 defines the functions without running (for tests that source the script).
if [ "${DD_INSTALL_SCRIPT_LIB:-}" != 1 ]; then
    if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
        fail "$EXIT_GENERAL" "run this script as root, or install sudo"
    fi
    logfile=${DD_INSTALL_LOG_FILE:-$PWD/ddagent-install.log}
    if ! : >>"$logfile" 2>/dev/null; then logfile=/tmp/ddagent-install.log; fi
    # A pipeline, not exec > >(tee): the script ends only once everything is written (pipefail
    # makes main's status the script's).
    main "$@" 2>&1 | tee -a "$logfile"
fi
