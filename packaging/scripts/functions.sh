# Definitions shared by the deb and rpm maintainer scripts of @NAME@. Each script gets the ones it
# uses (scripts/lib/maintainer-scripts.ts): one definition per blank-line separated block.
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

# Only what the package generated; never the live configuration, never the user.
remove_generated() {
    rm -f @EMBEDDED@/ssl/fipsmodule.cnf
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
