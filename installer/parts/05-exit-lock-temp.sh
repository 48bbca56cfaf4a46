# --- Exit, lock, temporary files -----------------------------------------------------------------

# Cleanups run once when the script ends, however it ends (success, failure, SIGINT/TERM/HUP),
# last registered first. One EXIT trap runs them all: a second trap would replace the first, and
# did (a failed DD_INSTALL_ONLY install left apt's service starts blocked).
exit_cleanups=""
at_exit() {
    exit_cleanups="$1 $exit_cleanups"
}
on_exit() {
    local cleanup
    trap - EXIT
    for cleanup in $exit_cleanups; do "$cleanup" || true; done
}

# The run's work directory (gpg's home, files compared before they replace others).
make_workdir() {
    workdir=$(mktemp -d "${TMPDIR:-/tmp}/$temp_prefix.XXXXXX")
    at_exit remove_workdir
}
remove_workdir() {
    rm -rf "$workdir"
}

# A temporary file beside $1, for an atomic replacement by rename; removed at exit if still there.
temp_beside() {
    local tmp
    tmp=$(as_root mktemp "$(dirname "$1")/$temp_prefix.XXXXXX")
    temp_files="${temp_files:-} $tmp"
    printf '%s\n' "$tmp"
}
remove_temp_files() {
    # shellcheck disable=SC2086 # file names made by temp_beside, without blanks
    [ -z "${temp_files:-}" ] || as_root rm -f $temp_files
}

# What a killed run left (this run has made none yet): its temporary files, and the policy-rc.d of a DD_INSTALL_ONLY install
# (recognized by its comment), which would block every later service start by apt. Safe to remove
# because this run holds the lock: no other run is using them.
remove_leftovers() {
    local stale
    stale=$(as_root find "${TMPDIR:-/tmp}" "$agent_config_dir" "$proxy_config_dir" -maxdepth 1 -name "$temp_prefix.*" 2>/dev/null || true)
    if [ -n "$stale" ]; then
        say "  removing what an interrupted run left: $(printf '%s' "$stale" | tr '\n' ' ')"
        printf '%s\n' "$stale" | while read -r path; do as_root rm -rf "$path"; done
    fi
    if grep -qs "^# $script_name: DD_INSTALL_ONLY" /usr/sbin/policy-rc.d; then
        say "  removing /usr/sbin/policy-rc.d, left by an interrupted DD_INSTALL_ONLY run"
        as_root rm -f /usr/sbin/policy-rc.d
    fi
}

# The run holding the lock, as its lock file names it.
lock_holder() {
    cat "$lock_file" 2>/dev/null || true
}

# One run at a time: flock on $lock_file where flock exists (the lock goes with the process, even
# a killed one), else a directory whose PID file names the run (stale once that process is gone).
# A second run waits up to $lock_wait s, naming the first, then stops.
acquire_lock() {
    local waited=0
    as_root touch "$lock_file"
    if command -v flock >/dev/null 2>&1; then
        # Read-only is enough for flock, and works without root (the file is root's).
        exec 9<"$lock_file"
        # A second quietly first: the run that just took the lock has then written its name.
        if ! flock -w 1 9; then
            say "  another install run holds $lock_file ($(lock_holder)); waiting up to $lock_wait s for it to end"
            flock -w "$lock_wait" 9 || fail "$EXIT_GENERAL" "another install run still holds $lock_file ($(lock_holder)); let it finish, then run this again"
        fi
    else
        while ! as_root mkdir "$lock_file.d" 2>/dev/null; do
            if [ ! -d "/proc/$(cat "$lock_file.d/pid" 2>/dev/null || echo none)" ]; then as_root rm -rf "$lock_file.d"; continue; fi
            [ "$waited" -eq 0 ] && say "  another install run holds $lock_file.d ($(lock_holder)); waiting up to $lock_wait s for it to end"
            [ "$waited" -lt "$lock_wait" ] || fail "$EXIT_GENERAL" "another install run still holds $lock_file.d ($(lock_holder)); let it finish, then run this again"
            sleep 1
            waited=$((waited + 1))
        done
        printf '%s\n' "$$" | as_root tee "$lock_file.d/pid" >/dev/null
        at_exit release_lock_dir
    fi
    printf 'PID %s, %s, started %s\n' "$$" "$script_name" "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" | as_root tee "$lock_file" >/dev/null
}
release_lock_dir() {
    as_root rm -rf "$lock_file.d"
}

is_true() {
    case "${1:-}" in
        1 | true | TRUE | True | yes | YES | on) return 0 ;;
        "" | 0 | false | FALSE | False | no | NO | off) return 1 ;;
        *) fail "$EXIT_PARAMS" "'$1' is not a boolean (use 1 or 0)" ;;
    esac
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# version_ge A B: true if the dotted version A >= B.
version_ge() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        na = split(a, x, "."); nb = split(b, y, ".")
        for (i = 1; i <= (na > nb ? na : nb); i++) { if (x[i] + 0 > y[i] + 0) exit 0; if (x[i] + 0 < y[i] + 0) exit 1 }
        exit 0 }'
}

