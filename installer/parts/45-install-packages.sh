# DD_INSTALL_ONLY: nothing starts during the install. apt's maintainer scripts ask policy-rc.d first
# (exit 101: not allowed); one is written for the install only where the host has none, and removed
# however the script ends (at_exit), or by the next run if this one is killed (remove_leftovers
# knows it by its comment).
policy_rc_d_written=false
deny_service_starts() {
    [ "$pkg" = apt ] && [ ! -e /usr/sbin/policy-rc.d ] || return 0
    at_exit allow_service_starts
    policy_rc_d_written=true
    printf '#!/bin/sh\n# %s: DD_INSTALL_ONLY, no service starts during the install\nexit 101\n' "$script_name" | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod 755 /usr/sbin/policy-rc.d
}
allow_service_starts() {
    if $policy_rc_d_written; then as_root rm -f /usr/sbin/policy-rc.d; policy_rc_d_written=false; fi
}

# The services of ours that run now, as words.
running_services() {
    local service
    for service in "$agent_service" "$proxy_package"; do
        if service_active "$service"; then printf ' %s' "$service"; fi
    done
}

# A package transaction cut off half-way (a killed run, a lost session, a reboot) is finished
# before this one starts, as each package manager wants it finished; where that fails, the
# command to run is named.
recover_interrupted_transaction() {
    case "$pkg" in
        apt)
            # dpkg's journal (updates/) or a package not fully installed or configured.
            if [ -z "$(ls -A /var/lib/dpkg/updates 2>/dev/null)" ] && [ -z "$(as_root dpkg --audit 2>/dev/null)" ]; then return 0; fi
            say "  dpkg was interrupted before it finished: running dpkg --configure -a"
            as_root env DEBIAN_FRONTEND=noninteractive dpkg --configure -a 9<&- ||
                fail "$EXIT_GENERAL" "dpkg --configure -a failed (above): fix what it names and run 'sudo dpkg --configure -a' until it succeeds, then run this script again"
            ;;
        *)
            # A query of every package fails only when the database cannot be opened.
            as_root rpm -qa --qf '' >/dev/null 2>&1 ||
                fail "$EXIT_GENERAL" "the RPM database does not answer (rpm -qa fails): run 'sudo rpm --rebuilddb', then this script again"
            # An upgrade cut off between installing the new package and erasing the old one leaves
            # both in the database. Erasing the older (install time) finishes it: its scriptlets
            # run as in an upgrade, and files the newer one owns stay.
            local name older
            for name in "$agent_package" "$proxy_package"; do
                older=$({ rpm -q --last "$name" 2>/dev/null || true; } | awk 'NR > 1 { print $1 }')
                [ -n "$older" ] || continue
                say "  $name is installed twice (an upgrade was cut off): erasing the older $older"
                # shellcheck disable=SC2086 # package names
                as_root rpm -e --nodeps $older 9<&- ||
                    fail "$EXIT_GENERAL" "could not erase $older: run 'sudo rpm -e --nodeps $older', then this script again"
            done
            ;;
    esac
}

install_packages() {
    step "Installing packages"
    local install_specs="" upgrade_names="" before_agent before_proxy running_before=""
    if $install_only; then running_before=$(running_services); deny_service_starts; fi
    recover_interrupted_transaction
    before_agent=$(installed_version "$agent_package")
    before_proxy=$(installed_version "$proxy_package")
    if $no_agent_install; then
        say "  DD_NO_AGENT_INSTALL: the Agent is not installed${before_agent:+ ($agent_package $before_agent is)}"
    elif [ -n "$before_agent" ] && [ -z "$api_key" ] && ! $upgrade; then
        say "  $agent_package $before_agent is installed: keeping it (DD_UPGRADE=true upgrades it)"
    else
        agent_package_spec "$before_agent"
    fi
    if $fips_mode; then queue_package "$proxy_package" "$(proxy_package_version)" "$before_proxy"; fi
    # shellcheck disable=SC2086 # the package specs are words
    if [ -n "${install_specs// /}" ]; then
        case "$pkg" in
            apt) apt_get install -y --no-install-recommends $install_specs || fail "$EXIT_GENERAL" "apt-get install$install_specs failed" ;;
            yum | dnf) as_root "$pkg" -y install $install_specs || fail "$EXIT_GENERAL" "$pkg install$install_specs failed" ;;
            zypper) zypper_install_verified $install_specs ;;
        esac
    fi
    # shellcheck disable=SC2086
    if [ -n "$upgrade_names" ]; then
        as_root "$pkg" -y upgrade $upgrade_names || fail "$EXIT_GENERAL" "$pkg upgrade$upgrade_names failed"
    fi
    if $install_only; then
        allow_service_starts
        # What a package started anyway (an RPM scriptlet, an init that asks no policy-rc.d), and was
        # not running before, is stopped again.
        local service
        for service in $(running_services); do
            case " $running_before " in *" $service "*) ;; *) stop_service "$service" "DD_INSTALL_ONLY: the install started it" ;; esac
        done
    fi
    if [ "$(installed_version "$agent_package")" != "$before_agent" ] || [ "$(installed_version "$proxy_package")" != "$before_proxy" ]; then changed=true; fi
}

