# --- Repository and packages ---------------------------------------------------------------------

download() {
    if command -v curl >/dev/null 2>&1; then
        # Bounded: a server that accepts and never answers must not hold the run (and its lock).
        curl -fsSL --retry 3 --connect-timeout 10 --max-time 120 -o "$2" "$1"
    elif command -v wget >/dev/null 2>&1; then
        wget -q -T 60 -t 3 -O "$2" "$1"
    else
        fail "$EXIT_DEPENDENCY" "neither curl nor wget is installed"
    fi
}

# Writes stdin to $1 (mode $2) only if the content differs; true if it changed.
write_if_changed() {
    local target=$1 mode=$2 new=$workdir/write_if_changed
    cat >"$new"
    if [ -f "$target" ] && cmp -s "$new" "$target"; then return 1; fi
    as_root mkdir -p "$(dirname "$target")"
    local tmp
    tmp=$(temp_beside "$target")
    as_root install -m "$mode" "$new" "$tmp"
    as_root mv -f "$tmp" "$target"
    say "  wrote $target"
    return 0
}

ensure_gpg() {
    command -v gpg >/dev/null 2>&1 && return 0
    say "  installing gnupg (to check the repository keys)"
    if [ "$pkg" = apt ]; then
        as_root apt-get update -qq >/dev/null 2>&1 || true
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnupg >/dev/null 2>&1 || fail "$EXIT_DEPENDENCY" "could not install gnupg"
    else
        fail "$EXIT_DEPENDENCY" "gpg is missing (install gnupg2)"
    fi
}

# Downloads the signing keys and checks that each has a fingerprint this script trusts.
fetch_verified_keys() {
    ensure_gpg
    keydir=$workdir/keys
    mkdir -m 700 "$keydir"
    download "$keys_url/$key_file" "$keydir/key.asc" || fail "$EXIT_GENERAL" "cannot download the signing key $keys_url/$key_file"
    gpg --homedir "$keydir" --batch --quiet --import "$keydir/key.asc" 2>/dev/null || fail "$EXIT_GENERAL" "$keys_url/$key_file is not a PGP public key"
    local fingerprints fpr
    fingerprints=$(gpg --homedir "$keydir" --batch --with-colons --fingerprint 2>/dev/null | awk -F: '$1 == "fpr" { print $10 }')
    [ -n "$fingerprints" ] || fail "$EXIT_GENERAL" "no key in $keys_url/$key_file"
    for fpr in $fingerprints; do
        case " $trusted_fingerprints " in
            *" $fpr "*) say "  signing key $fpr: trusted" ;;
            *) fail "$EXIT_GENERAL" "the key $fpr from $keys_url/$key_file is not one this script trusts ($trusted_fingerprints)" ;;
        esac
    done
    gpg --homedir "$keydir" --batch --export >"$keydir/keyring.gpg"
}

apt_get() {
    local attempt
    for attempt in 1 2 3 4 5 6; do
        if as_root env DEBIAN_FRONTEND=noninteractive apt-get "$@"; then return 0; fi
        # Another apt or dpkg holds the lock: wait for it.
        if [ "$attempt" -lt 6 ] && fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock >/dev/null 2>&1; then sleep 5; else return 1; fi
    done
}

# The yum/dnf/zypper repository file of tree $1 (rpm or suse). skip_if_unavailable=0: where dnf.conf
# sets it (Debian's dnf, some hosts), a repository whose metadata fails its signature check was
# skipped with exit 0, and the install then failed with a misleading "Unable to find a match" (found
# by the matrix). zypper has no such key.
rpm_repo_file() {
    local skip=""
    if [ "$pkg" != zypper ]; then skip='skip_if_unavailable=0\n'; fi
    printf '[datadog]\nname=Datadog\nbaseurl=%s/%s/%s/%s/%s/\nenabled=1\nautorefresh=1\ntype=rpm-md\ngpgcheck=1\nrepo_gpgcheck=%s\n%bgpgkey=file://%s\n' \
        "$repo_url" "$1" "$repo_channel" "$agent_major" "$arch" "$repo_gpgcheck" "$skip" "$rpm_key_path"
}

setup_repository() {
    step "Setting up the package repository $repo_url"
    fetch_verified_keys
    case "$pkg" in
        apt)
            write_if_changed "$apt_keyring" 0644 <"$keydir/keyring.gpg" || true
            # apt before 1.1 (Debian 8, Ubuntu 14.04) ignores signed-by: it needs the key in trusted.gpg.d.
            if ! version_ge "$(dpkg-query -W -f '${Version}' apt 2>/dev/null | sed 's/[^0-9.].*//')" 1.1; then
                write_if_changed /etc/apt/trusted.gpg.d/datadog-fips-archive-keyring.gpg 0644 <"$keydir/keyring.gpg" || true
            fi
            printf 'deb [signed-by=%s] %s/apt %s %s\n' "$apt_keyring" "$repo_url" "$repo_channel" "$agent_major" |
                write_if_changed /etc/apt/sources.list.d/datadog.list 0644 || true
            apt_get update -o Dir::Etc::sourcelist=sources.list.d/datadog.list -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 ||
                fail "$EXIT_GENERAL" "apt-get update of $repo_url/apt failed (signature or network; see above)"
            ;;
        yum | dnf | zypper)
            write_if_changed "$rpm_key_path" 0644 <"$keydir/key.asc" || true
            as_root rpm --import "$rpm_key_path"
            local dir=rpm repo_file=/etc/yum.repos.d/datadog.repo
            if [ "$pkg" = zypper ]; then dir=suse; repo_file=/etc/zypp/repos.d/datadog.repo; fi
            rpm_repo_file "$dir" | write_if_changed "$repo_file" 0644 || true
            if [ "$pkg" = zypper ]; then
                as_root zypper --non-interactive --gpg-auto-import-keys refresh datadog || fail "$EXIT_GENERAL" "zypper refresh of $repo_url failed"
            else
                # yum and dnf trust cached metadata for hours (metadata_expire): without this, a re-run
                # would not see a release published since the last one. Only this repository is refreshed.
                as_root "$pkg" -y --disablerepo='*' --enablerepo=datadog clean expire-cache >/dev/null 2>&1 || true
                as_root "$pkg" -y --disablerepo='*' --enablerepo=datadog makecache ||
                    fail "$EXIT_GENERAL" "$pkg makecache of $repo_url failed (signature or network; see above)"
            fi
            ;;
    esac
}

