# --- Platform ------------------------------------------------------------------------------------

# A field of /etc/os-release, read without sourcing the file.
os_release() {
    [ -r /etc/os-release ] || return 0
    awk -F= -v k="$1" '$1 == k { v = substr($0, length(k) + 2); gsub(/^["\047]|["\047]$/, "", v); print v; exit }' /etc/os-release
}

detect_platform() {
    local id version like
    id=$(os_release ID)
    version=$(os_release VERSION_ID)
    like=$(os_release ID_LIKE)
    family=""
    case "$id" in
        debian | ubuntu) family=$id ;;
        rhel | centos | rocky | almalinux | ol | amzn | fedora) family=rhel ;;
        sles | sled | opensuse | opensuse-leap | opensuse-tumbleweed) family=suse ;;
        *)
            case " $like " in
                *" rhel "* | *" fedora "* | *" centos "*) family=rhel ;;
                *" suse "*) family=suse ;;
                *" debian "* | *" ubuntu "*) family=debian ;;
            esac
            ;;
    esac
    [ -n "$family" ] || fail "$EXIT_PLATFORM" "unsupported distribution '${id:-unknown}' (supported: RHEL family, Debian, Ubuntu, SUSE)"

    # The minimum version of the family; derived distributions are checked by their own numbering.
    local minimum check_version=$version
    minimum=$(printf '%s\n' "$supported_targets" | tr ' ' '\n' | awk -F: -v f="$family" '$1 == f { print $2 }')
    case "$id" in
        amzn | fedora | opensuse-tumbleweed) check_version="" ;;
        opensuse-leap | opensuse) minimum=15 ; case "$version" in 42.*) check_version=15 ;; esac ;;
    esac
    if [ -n "$check_version" ] && ! version_ge "$check_version" "$minimum"; then
        fail "$EXIT_PLATFORM" "$id $version is not supported (minimum: $id $minimum)"
    fi

    case "$(uname -m)" in
        x86_64 | amd64) arch=x86_64 ;;
        aarch64 | arm64) arch=aarch64 ;;
        *) fail "$EXIT_PLATFORM" "unsupported architecture $(uname -m) (supported: x86_64, aarch64)" ;;
    esac

    case "$family" in
        debian | ubuntu) pkg=apt ;;
        rhel) if command -v dnf >/dev/null 2>&1; then pkg=dnf; else pkg=yum; fi ;;
        suse) pkg=zypper ;;
    esac
    say "Platform: $id $version ($family family), $arch, package manager $pkg"
}

