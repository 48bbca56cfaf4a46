# --- Services ------------------------------------------------------------------------------------

# Init detection, shared with the maintainer scripts (packaging/shell-library.sh).
@FUNCTIONS@

# Services are started without the lock's descriptor (9<&-): a daemon forked by an init script
# would inherit it and hold the lock for as long as it runs.
stop_service() {
    say "  stopping $1${2:+ ($2)}"
    case "$(init_system)" in
        systemd) as_root systemctl stop "$1.service" ;;
        upstart) as_root stop "$1" >/dev/null 2>&1 || true ;;
        *) as_root service "$1" stop 9<&- ;;
    esac
}

# Restarts $1 if something changed or it is not running; leaves a running, unchanged service alone.
restart_service() {
    if ! $changed && service_active "$1"; then
        say "  $1 is running and nothing changed: not restarted"
        return 0
    fi
    say "  restarting $1"
    case "$(init_system)" in
        systemd) as_root systemctl restart "$1.service" ;;
        upstart) as_root stop "$1" >/dev/null 2>&1 || true; as_root start "$1" 9<&- ;;
        *) as_root service "$1" restart 9<&- ;;
    esac
}

# The proxy starts at boot: the package enables it on install, but an install cut off before its
# scriptlet ran leaves it disabled, and the next run must converge.
enable_proxy_unit() {
    [ "$(init_system)" = systemd ] || return 0
    as_root systemctl is-enabled --quiet "$proxy_package.service" 2>/dev/null && return 0
    as_root systemctl enable --quiet "$proxy_package.service"
    say "  $proxy_package.service enabled"
}

# The proxy's self-check (the package's @CHECK@), until this host's part passes: its table is
# printed. The intake being unreachable from here (exit 3) is a warning: the Agent keeps its data
# until it can send. So is datadog.yaml missing when DD_NO_AGENT_INSTALL left no Agent yet.
wait_for_self_check() {
    local waited=0 out code failing
    while :; do
        code=0
        out=$(as_root "$self_check" 2>&1) || code=$?
        [ "$code" -eq 0 ] || [ "$code" -eq 3 ] && break
        if [ "$code" -eq 1 ] && [ ! -f "$agent_config" ] && $no_agent_install; then
            failing=$(printf '%s\n' "$out" | awk '$1 == "FAIL" && $2 != "backend" { print $2 }' | sort -u)
            [ "$failing" = datadog.yaml ] && break
        fi
        if [ "$waited" -ge 30 ]; then
            printf '%s\n' "$out" | sed 's/^/  /'
            fail "$EXIT_GENERAL" "$proxy_package does not pass its self-check (above); run $self_check after fixing it"
        fi
        sleep 1
        waited=$((waited + 1))
    done
    printf '%s\n' "$out" | sed 's/^/  /'
    if [ "$code" -ne 0 ]; then
        say "  warning: $proxy_package runs, but not every check passes (above): the Agent's data waits until it does"
    fi
}

start_services() {
    step "Starting the services"
    if [ -n "$(installed_version "$agent_package")" ]; then restart_service "$agent_service"; fi
    if $fips_mode; then
        check_ports
        restart_service "$proxy_package"
        wait_for_self_check
    fi
}

