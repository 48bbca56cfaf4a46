# The shell library of @NAME@: definitions shared by every shell script the product ships or
# generates (the maintainer scripts, the install script, the self-check, the container entrypoint,
# HAProxy's launcher). Each script gets the ones it uses (scripts/lib/shell-library.ts): one
# definition per blank-line separated block.
# POSIX sh: maintainer scripts run under dash on Debian and bash on RHEL/SUSE.

# The systemd unit.
unit=@NAME@.service

# The upstart job (Ubuntu 14.04).
job=@NAME@

# The Agent's package normally creates @USER@; create it only if it is missing, never delete it.
# useradd/groupadd exist on every supported family (Debian's passwd, RHEL's shadow-utils, SUSE's shadow).
ensure_user() {
    getent group @GROUP@ >/dev/null 2>&1 || groupadd -r @GROUP@
    if ! getent passwd @USER@ >/dev/null 2>&1; then
        shell=/bin/false
        for nologin in /usr/sbin/nologin /sbin/nologin; do
            if [ -x "$nologin" ]; then shell=$nologin; break; fi
        done
        useradd -r -g @GROUP@ -d @PREFIX@ -M -s "$shell" -c "Datadog Agent" @USER@
    fi
}

# fipsmodule.cnf is generated on this host (FIPS security policy), again on every upgrade since
# it records the HMAC of the fips.so that was just installed.
generate_fipsmodule() {
    @FIPSINSTALL@ --force
}

# Only what the package generated (fipsmodule.cnf, and the temporary file of a fipsinstall that
# was cut off), so that removal leaves nothing under @PREFIX@; never the live configuration,
# never the user.
remove_generated() {
    rm -f @EMBEDDED@/ssl/fipsmodule.cnf @EMBEDDED@/ssl/fipsmodule.cnf.*
}

# The program that reads and edits datadog.yaml (packaging/datadog-yaml.awk), as the package
# ships it. The install script, which runs before the package is there, defines its own, with the
# same text.
datadog_yaml_awk() {
    cat @DATADOG_YAML_AWK@
}

# The scalar at dotted key $2 (fips.local_address, logs_config.use_http) of datadog.yaml $1 ("-":
# stdin), as YAML reads it (quotes and escapes undone, a flow mapping's keys found); nothing when
# the key is absent or holds a mapping, a list or a block scalar, or when the file is not YAML the
# reader reads (the same reader that patches it: datadog-yaml.awk).
agent_yaml_value() {
    awk -v mode=get -v key="$2" "$(datadog_yaml_awk)" "$1" 2>/dev/null
}

# A scalar of agent_yaml_value as a boolean (YAML 1.1 spellings too): true, false, or nothing.
yaml_bool() {
    case "$1" in
        [Tt]rue | TRUE | [Yy]es | YES | [Oo]n | ON) echo true ;;
        [Ff]alse | FALSE | [Nn]o | NO | [Oo]ff | OFF) echo false ;;
    esac
}

# On removal: an Agent still set to send through the proxy now sends to ports nobody listens on.
# Says so, and how to revert: the install script's DD_FIPS_REVERT (its address is in the
# install_info it wrote, when it installed the proxy).
warn_agent_still_fips() {
    agent_yaml=@AGENT_CONFIG@
    [ -r "$agent_yaml" ] && [ "$(yaml_bool "$(agent_yaml_value "$agent_yaml" fips.enabled)")" = true ] || return 0
    script_url=$(sed -n 's/^# install script: //p' @CONFIG_DIR@/install_info 2>/dev/null)
    echo "@NAME@: $agent_yaml still has fips.enabled: true: the Agent sends its data to the proxy's ports, where nothing listens any more."
    echo "To make it send directly again (datadog.yaml is backed up first), run the install script with DD_FIPS_REVERT=1:"
    echo "  sudo DD_FIPS_REVERT=1 bash -c \"\$(curl -L ${script_url:-<repository>/install_script_agent7.sh})\""
}

systemd_running() {
    [ -d /run/systemd/system ]
}

upstart_running() {
    ! systemd_running && command -v initctl >/dev/null 2>&1 && initctl version 2>/dev/null | grep -q upstart
}

# True if $1 can start the proxy's port range (DD_FIPS_PORT_RANGE_START): digits without a leading
# zero (the shell would read octal), @PORT_MIN@ (no privileged port: the proxy is @USER@) to @PORT_MAX_START@.
valid_port_start() {
    case "$1" in "" | 0* | *[!0-9]* | ??????*) return 1 ;; esac
    [ "$1" -ge @PORT_MIN@ ] && [ "$1" -le @PORT_MAX_START@ ]
}

# The process listening on TCP port $1 as "pid/name", "?" when it cannot be told, or nothing
# (the caller defines as_root: the install script runs ss through sudo when it is not root).
port_holder() {
    local port=$1 line
    if command -v ss >/dev/null 2>&1; then
        line=$(as_root ss -ltnp 2>/dev/null | awk -v p=":$port" '{ n = length($4) - length(p); if (n > 0 && substr($4, n + 1) == p) { print; exit } }')
        [ -n "$line" ] || return 0
        printf '%s\n' "$line" | sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/\2\/\1/p' | grep . || echo "?"
    elif command -v netstat >/dev/null 2>&1; then
        as_root netstat -ltnp 2>/dev/null | awk -v p=":$port" '$6 == "LISTEN" { n = length($4) - length(p); if (n > 0 && substr($4, n + 1) == p) { print ($7 != "" ? $7 : "?"); exit } }'
    else
        # /proc/net/tcp*: local address in hex, state 0A is LISTEN; no process name here.
        cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p="$(printf '%04X' "$port")" '$4 == "0A" && substr($2, length($2) - 3) == p { print "?"; exit }'
    fi
}

# True if process $1 (or, with no argument, any process) runs the proxy's HAProxy. Reads the
# command line: /proc/PID/exe and fd need ptrace rights that root lacks in some containers.
is_proxy_process() {
    local cmdline
    for cmdline in /proc/${1:-[0-9]*}/cmdline; do
        [ -r "$cmdline" ] || continue
        case "$(tr '\0' ' ' <"$cmdline" 2>/dev/null || true)" in "@EMBEDDED@/sbin/haproxy "*) return 0 ;; esac
    done
    return 1
}

# A port holder of port_holder ("pid/name", or "?" when it cannot be told) is the proxy's: an
# unknown one counts as the proxy's when the proxy runs.
held_by_proxy() {
    local pid=${1%%/*}
    is_proxy_process "${pid#\?}"
}

# Setting $2 of the service's environment file $1 (DD_FIPS_PORT_RANGE_START=...), read without
# sourcing it; nothing when the file or the setting is absent.
env_setting() {
    [ -r "$1" ] || return 0
    awk -F= -v k="$2" '$1 == k { v = $2; gsub(/["\047 ]/, "", v) } END { print v }' "$1"
}

# The DD_FIPS_PORT_RANGE_START of the service's environment file $1.
env_port_start() {
    env_setting "$1" DD_FIPS_PORT_RANGE_START
}

# Address $1 (fips.local_address, DD_FIPS_LOCAL_ADDRESS) as HAProxy binds it: nothing for
# localhost (the Agent's default, which reaches the proxy's default 127.0.0.1), an IPv6 address
# without brackets (HAProxy binds "::1:9804" on [::1]), and only an address: anything else is
# left to the Agent to refuse.
bind_address() {
    local address=${1#[}
    address=${address%]}
    case "$address" in
        "" | localhost | *[!0-9A-Za-z.:]*) ;;
        *) printf '%s\n' "$address" ;;
    esac
}

# The address the Agent sends to, fips.local_address of datadog.yaml $1 (read as root: the file is
# @USER@'s), as the proxy must bind it (bind_address).
agent_local_address() {
    bind_address "$(as_root cat "$1" 2>/dev/null | agent_yaml_value - fips.local_address)"
}

# The init system that runs this host.
init_system() {
    if systemd_running; then echo systemd
    elif upstart_running; then echo upstart
    else echo sysvinit
    fi
}

# True if service $1 runs.
service_active() {
    case "$(init_system)" in
        systemd) systemctl is-active --quiet "$1" ;;
        upstart) status "$1" 2>/dev/null | grep -q start/running ;;
        *) service "$1" status >/dev/null 2>&1 ;;
    esac
}
