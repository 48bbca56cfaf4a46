installed_version() {
    case "$pkg" in
        apt) { dpkg-query -W -f '${db:Status-Abbrev} ${Version}' "$1" 2>/dev/null || true; } | awk '$1 == "ii" { print $2 }' ;;
        # rpm -q prints "package X is not installed" on stdout: ask by exit status first.
        *) if rpm -q "$1" >/dev/null 2>&1; then rpm -q --qf '%{VERSION}-%{RELEASE}' "$1"; fi ;;
    esac
}

# "name" or "name<sep>version" as the package manager wants a pinned package.
package_spec() {
    local name=$1 version=$2
    if [ -z "$version" ]; then printf '%s' "$name"; return; fi
    case "$pkg:$version" in
        apt:*) printf '%s=%s' "$name" "$version" ;;
        # zypper has no version patterns: 1:7.52.* is the range [1:7.52, 1:7.53).
        zypper:*.\*)
            local prefix=${version%.\*}
            printf '%s>=%s %s<%s.%s' "$name" "$prefix" "$name" "${prefix%.*}" "$((${prefix##*.} + 1))" ;;
        *) printf '%s-%s' "$name" "$version" ;;
    esac
}

# zypper verifies a package's header signature when it downloads it, and rpm verifies the payload
# only when it installs it: a package altered in its payload was refused after the packages before
# it in the transaction were installed (found by the matrix: the Agent without the proxy). So the
# packages are downloaded first and each is verified whole (rpm -K: header and payload, digests and
# signatures) before zypper installs anything.
zypper_install_verified() {
    local cache=/var/cache/zypp/packages/datadog checked
    as_root zypper --non-interactive clean datadog >/dev/null 2>&1 || true
    as_root zypper --non-interactive install --download-only "$@" || fail "$EXIT_GENERAL" "zypper install --download-only $* failed"
    # Nothing to download (all installed): no cache directory.
    if [ -d "$cache" ] && ! checked=$(as_root find "$cache" -name '*.rpm' -exec rpm -K {} + 2>&1); then
        printf '%s\n' "$checked" >&2
        fail "$EXIT_GENERAL" "a package downloaded from $repo_url does not verify (rpm -K, above): nothing was installed"
    fi
    as_root zypper --non-interactive install "$@" || fail "$EXIT_GENERAL" "zypper install $* failed"
}

# Queues package $1 (pinned to version $2 if not empty; installed at version $3 if not empty) into
# install_specs, or into upgrade_names: yum and dnf do not upgrade a package that `install` names if
# it is installed ("already installed"), so an installed one without a pin is given to `upgrade`.
queue_package() {
    if [ -n "$3" ] && [ -z "$2" ] && { [ "$pkg" = yum ] || [ "$pkg" = dnf ]; }; then
        upgrade_names="$upgrade_names $1"
    else
        install_specs="$install_specs $(package_spec "$1" "$2")"
    fi
}

# Queues the Agent at the version DD_AGENT_MINOR_VERSION asks for. Its package versions are
# [1:]<major>.<minor>.<patch>-1 (the epoch only shows in dpkg's): 52.1 is exactly that; 52 is the
# newest 52.x, a version pattern (package_spec makes it a range for zypper). $1: the installed version.
# The epoch is given where a comparison needs it: apt's versions, and zypper's range (1:7.52.1 is above
# 7.53, epoch 0; the matrix's zypper row found it).
agent_package_spec() {
    local version=""
    case "$agent_minor" in
        "") ;;
        *.*) version="$agent_major.$agent_minor-1" ;;
        *) version="$agent_major.$agent_minor.*" ;;
    esac
    case "$pkg:$version" in
        apt:?* | zypper:*.\*) version="1:$version" ;;
    esac
    queue_package "$agent_package" "$version" "$1"
}

# DD_FIPS_PROXY_VERSION as the package manager has it: on zypper hosts a release given as a number
# (1.1.0-1) gets the SUSE packages' suffix (1.1.0-1@SUSE_SUFFIX@), so that one value pins every host.
proxy_package_version() {
    case "$pkg:$proxy_version" in
        zypper:*-*[!0-9]*) printf '%s' "$proxy_version" ;;
        zypper:*-?*) printf '%s%s' "$proxy_version" "$suse_release_suffix" ;;
        *) printf '%s' "$proxy_version" ;;
    esac
}

