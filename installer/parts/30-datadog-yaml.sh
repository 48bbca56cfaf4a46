# --- datadog.yaml --------------------------------------------------------------------------------

# datadog.yaml on stdout, edited by the awk (see it): $1 set (the fips mapping set) or revert (the
# fips settings removed); everything else kept. Exit 3 if the file is not YAML the awk can edit.
fips_yaml_edit() {
    as_root awk -v mode="$1" -v port="${port_start:-}" -v site="$fips_site" "$(datadog_yaml_awk)" "$2"
}

# The reader and editor of datadog.yaml (packaging/datadog-yaml.awk): the package ships it, and
# this script, which runs before the package is there, carries the same text.
datadog_yaml_awk() {
    cat <<'AWK'
@DATADOG_YAML_AWK_PROGRAM@
AWK
}

# Replaces $1 by the content of file $2 (same owner and mode, atomically), keeping a backup.
replace_keeping_attributes() {
    local target=$1 new=$2 backup
    backup="$target.$(date +%Y%m%d%H%M%S).bak"
    as_root cp -p "$target" "$backup"
    as_root chown "$(stat -c %u:%g "$target")" "$new"
    as_root chmod "$(stat -c %a "$target")" "$new"
    as_root mv -f "$new" "$target"
    say "  $target updated (previous version kept in $backup)"
}

# Applies fips_yaml_edit $1 to datadog.yaml; true if the file changed. The result is compared in
# the work directory first: an unchanged file leaves no trace, not even an mtime.
edit_agent_config() {
    local edited=$workdir/datadog.yaml.edited
    fips_yaml_edit "$1" "$agent_config" >"$edited" || fail "$EXIT_GENERAL" "$agent_config is not valid YAML; it was left untouched"
    as_root cmp -s "$edited" "$agent_config" && return 1
    local tmp
    tmp=$(temp_beside "$agent_config")
    as_root cp "$edited" "$tmp"
    replace_keeping_attributes "$agent_config" "$tmp"
}

patch_agent_config() {
    if edit_agent_config set; then
        changed=true
    else
        say "  $agent_config already has fips.enabled: true, fips.https: false, fips.port_range_start: $port_start"
    fi
}

# $1 as a YAML double-quoted scalar, which parses back to exactly $1: backslashes and double quotes
# escaped (check_config_values refused control characters, which this would not keep).
yaml_quote() {
    printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"
}

# DD_TAGS' comma-separated tags as a YAML flow sequence of quoted scalars.
yaml_tag_list() {
    local tag list="" tags_read
    IFS=, read -r -a tags_read <<<"$1"
    for tag in "${tags_read[@]}"; do list="$list${list:+, }$(yaml_quote "$tag")"; done
    printf '[%s]' "$list"
}

# Sets top-level key $2 of file $1 to $3, YAML text (replacing 'key:' or a commented '# key:').
# Key and value reach awk through its environment: awk -v would turn a backslash-n into a newline.
set_config_key() {
    local file=$1 tmp
    tmp=$(temp_beside "$file")
    # shellcheck disable=SC2016 # an awk program: $0 is awk's
    as_root env key="$2" value="$3" awk '
        BEGIN { k = ENVIRON["key"]; line = k ": " ENVIRON["value"] }
        !done && (index($0, k ":") == 1 || $0 ~ "^# *" k ":") { print line; done = 1; next }
        { print }
        END { if (!done) print line }' "$file" | as_root tee "$tmp" >/dev/null
    as_root mv -f "$tmp" "$file"
}

# A new datadog.yaml from the Agent's example, written whole under a temporary name and renamed
# into place at the end: a run cut off half-way leaves no datadog.yaml without its API key (which
# the next run, finding the file, would keep as it is).
create_agent_config() {
    [ -f "$agent_config" ] && return 0
    # DD_NO_AGENT_INSTALL on a host without an Agent: the Agent's package will bring the example.
    if $no_agent_install && [ ! -f "$agent_config.example" ]; then return 0; fi
    [ -f "$agent_config.example" ] || fail "$EXIT_GENERAL" "the Agent package installed no $agent_config.example"
    local new
    new=$(temp_beside "$agent_config")
    as_root cp "$agent_config.example" "$new"
    set_config_key "$new" api_key "$(yaml_quote "$api_key")"
    # site in FIPS mode too: the Agent ignores it for what it sends through the proxy, but what it
    # sends directly (the products outside setupFipsEndpoints, see --compliance) would otherwise go
    # to its default site, outside GovCloud. dd_url it ignores altogether.
    set_config_key "$new" site "$(yaml_quote "$site")"
    [ -z "${DD_HOSTNAME:-}" ] || set_config_key "$new" hostname "$(yaml_quote "$DD_HOSTNAME")"
    [ -z "${DD_ENV:-}" ] || set_config_key "$new" env "$(yaml_quote "$DD_ENV")"
    [ -z "$tags" ] || set_config_key "$new" tags "$(yaml_tag_list "$tags")"
    if [ -n "$dd_url" ] && ! $fips_mode; then set_config_key "$new" dd_url "$(yaml_quote "$dd_url")"; fi
    if $fips_mode; then
        fips_yaml_edit set "$new" >"$workdir/datadog.yaml.new" || fail "$EXIT_GENERAL" "the Agent's $agent_config.example is not YAML the script can edit"
        as_root cp "$workdir/datadog.yaml.new" "$new"
    fi
    as_root chown "$proxy_user:$proxy_group" "$new"
    as_root chmod 640 "$new"
    as_root mv -f "$new" "$agent_config"
    say "  $agent_config created from the example"
    changed=true
}

