# The one reader and editor of datadog.yaml: the package ships it (share/datadog-yaml.awk), the
# install script carries the same text, the self-check and the maintainer scripts read through it
# (agent_yaml_value), and the tests read hosts' datadog.yaml with it.
#
# mode=set (the default) sets the `fips:` mapping of a datadog.yaml: enabled: true, https: false,
# port_range_start: <port>. Every other key, value and comment is kept; an existing top-level
# fips: block (block or flow style) is replaced in place, keeping its other keys; otherwise the
# block is appended. CRLF line endings are kept.
#
# The file is validated first: the patched file goes to stdout only if the input is valid YAML of
# the kind an Agent configuration uses (block mappings and sequences, flow collections, plain,
# quoted and block scalars, comments). Anything else exits 3 with the reason on stderr, and
# nothing is written: invalid YAML, a top level that is not a mapping, and the YAML features this
# editor does not handle (anchors, aliases, tags, complex keys, several documents).
#
# mode=revert (DD_FIPS_REVERT) does the opposite: the three settings leave the fips block, which
# goes too (with the comment the install script put above it) when nothing else is left in it; and
# a file without a top-level site gets site: <site>, since the Agent, which ignored site in FIPS
# mode, would otherwise send to its default site, outside GovCloud.
#
# mode=get prints the scalar at a dotted key (fips.enabled), as YAML reads it: quotes and escapes
# undone, a multi-line plain or quoted scalar folded, a key inside a flow mapping found
# (fips: {enabled: true}). It prints nothing when the key is absent or holds a mapping, a list or
# a block scalar. mode=check only validates. Both exit 3 like the others on a file they cannot read.
#
# POSIX awk (mawk, gawk, busybox): no gensub, no three-argument match, no \s.
# Usage: awk -v port=9803 -f datadog-yaml.awk datadog.yaml > patched
#        awk -v mode=revert -v site=ddog-gov.com -f datadog-yaml.awk datadog.yaml > reverted
#        awk -v mode=get -v key=fips.port_range_start -f datadog-yaml.awk datadog.yaml
#        awk -v mode=check -f datadog-yaml.awk datadog.yaml

function fail(msg) {
    printf("line %d: %s\n", cur, msg) > "/dev/stderr"
    failed = 1
    exit 3
}

function indent_of(s,    n) {
    n = match(s, /[^ ]/)
    return n ? n - 1 : length(s)
}

function trim(s) {
    sub(/^[ \t]+/, "", s)
    sub(/[ \t]+$/, "", s)
    return s
}

# Scans a flow collection or quoted scalar from position p of s, continuing the scanner state in
# the globals (fdepth: bracket depth; fquote: the open quote character or ""). Returns the
# position after the value when it is complete on this line, 0 when it continues on the next.
function scan(s, p,    c, n) {
    n = length(s)
    for (; p <= n; p++) {
        c = substr(s, p, 1)
        if (fquote == "\"") {
            if (c == "\\") p++
            else if (c == "\"") { fquote = ""; if (fdepth == 0) return p + 1 }
        } else if (fquote == "'") {
            if (c == "'" && substr(s, p + 1, 1) == "'") p++
            else if (c == "'") { fquote = ""; if (fdepth == 0) return p + 1 }
        } else if (c == "\"" || c == "'") {
            fquote = c
        } else if (c == "[" || c == "{") {
            fdepth++
        } else if (c == "]" || c == "}") {
            if (--fdepth < 0) fail("unbalanced '" c "'")
            if (fdepth == 0) return p + 1
        } else if (c == "#" && (p == 1 || substr(s, p - 1, 1) ~ /[ \t]/) && fdepth > 0) {
            return 0
        }
    }
    return 0
}

# After a complete flow or quoted value only a comment may follow.
function check_tail(s, p,    rest) {
    rest = substr(s, p)
    if (rest !~ /^[ \t]*(#.*)?$/) fail("unexpected text after a value: '" trim(rest) "'")
}

# Position of the ':' that ends a plain key in s (followed by a blank or the end), or 0.
function key_colon(s,    i, n, c) {
    n = length(s)
    for (i = 1; i <= n; i++) {
        c = substr(s, i, 1)
        if (c == "#" && i > 1 && substr(s, i - 1, 1) ~ /[ \t]/) return 0
        if (c == ":" && (i == n || substr(s, i + 1, 1) ~ /[ \t]/)) return i
    }
    return 0
}

function push(col, kind) {
    depth++
    ind[depth] = col
    knd[depth] = kind
}

# Places a node (a mapping key or a sequence item) starting at column col in the indentation stack.
function place(col, kind) {
    if (depth == 0) {
        if (kind != "map") fail("the top level is not a mapping")
        top = col
        push(col, kind)
        return
    }
    if (expect_child) {
        expect_child = 0
        if (col > ind[depth] || (kind == "seq" && col == ind[depth] && knd[depth] == "map")) {
            push(col, kind)
            return
        }
    }
    popped = 0
    while (depth > 1 && col < ind[depth]) { depth--; popped = 1 }
    if (col == ind[depth] && knd[depth] != kind && knd[depth] == "seq" && depth > 1 && ind[depth - 1] == col) depth--
    if (col > ind[depth]) fail(popped ? "bad indentation: the line matches no enclosing level" : "unexpected indentation")
    if (col < ind[depth] || knd[depth] != kind) fail("bad indentation: items of one mapping or sequence must start at the same column")
}

# Reads the value part v of a node whose indicator (key or '-') is at column col; the value
# starts at position vpos of the line s.
function value(v, col, s, vpos,    p, c1) {
    v = trim(v)
    if (v == "" || v ~ /^#/) { expect_child = 1; return }
    c1 = substr(v, 1, 1)
    if (c1 == "&" || c1 == "*" || c1 == "!") fail("anchors, aliases and tags are not supported by this editor")
    if (c1 == "|" || c1 == ">") {
        if (v !~ /^[|>][0-9+-]*[ \t]*(#.*)?$/) fail("bad block scalar header '" v "'")
        bs_indent = col
        in_bs = 1
        return
    }
    if (c1 == "[" || c1 == "{" || c1 == "\"" || c1 == "'") {
        fdepth = 0; fquote = ""
        p = scan(s, vpos)
        if (p) check_tail(s, p)
        else { in_flow = 1; flow_indent = col }
        return
    }
    if (c1 == "@" || c1 == "`") fail("a plain value cannot start with '" c1 "'")
    sub(/[ \t]+#.*$/, "", v)
    if (v ~ /:$/ || v ~ /:[ \t]/) fail("a plain value cannot contain ': ' (quote it)")
    plain_indent = col
}

{
    if (NR == 1 && /\r$/) crlf = 1
    sub(/\r$/, "")
    L[NR] = $0
}

END {
    if (failed) exit 3
    n = NR
    depth = 0; top = -1; fips = 0; docend = 0; started = 0
    plain_indent = -1; in_bs = 0; in_flow = 0; expect_child = 0
    for (cur = 1; cur <= n; cur++) {
        s = L[cur]
        kind_of[cur] = "cont"
        if (in_bs) {
            if (s ~ /^[ \t]*$/ || indent_of(s) > bs_indent) continue
            in_bs = 0
        }
        if (in_flow) {
            if (s !~ /^[ \t]*$/ && indent_of(s) <= flow_indent) fail("unclosed " (fquote != "" ? "quoted scalar" : "flow collection") " (a multi-line value must be indented more than its key)")
            p = scan(s, 1)
            if (p) { in_flow = 0; check_tail(s, p) }
            continue
        }
        if (s ~ /^[ \t]*$/) { kind_of[cur] = "blank"; continue }
        if (s ~ /^[ \t]*#/) { kind_of[cur] = "comment"; continue }
        if (s ~ /^ *\t/) fail("tabs are not allowed as indentation")
        if (s ~ /^---([ \t]|$)/) {
            if (started) fail("several YAML documents in one file")
            if (trim(substr(s, 4)) !~ /^(#.*)?$/) fail("content after '---' is not supported by this editor")
            kind_of[cur] = "comment"
            continue
        }
        if (s ~ /^\.\.\.([ \t]|$)/) { docend = cur; kind_of[cur] = "end"; continue }
        if (docend) fail("content after the end of the document ('...')")
        started = 1
        col = indent_of(s)
        rest = substr(s, col + 1)

        # Continuation of a multi-line plain scalar: more indented than its key, not a key itself.
        if (plain_indent >= 0 && col > plain_indent) {
            if (rest !~ /^-( |$)/ && key_colon(rest) && rest !~ /^["'\[{]/) fail("a mapping cannot follow a plain value (mapping values are not allowed here)")
            continue
        }
        plain_indent = -1

        # Sequence indicators, then the node's own content.
        while (rest ~ /^-( |$)/) {
            place(col, "seq")
            dash_col = col
            kind_of[cur] = (kind_of[cur] == "cont") ? "seq" : kind_of[cur]
            # A "-" alone ends the line: its node is on the next ones.
            if (!match(rest, /^- +/)) { rest = ""; break }
            step = RLENGTH
            col += step
            rest = substr(rest, step + 1)
            expect_child = 1
        }
        if (rest == "" || rest ~ /^#/) { expect_child = 1; continue }
        c1 = substr(rest, 1, 1)
        if (c1 == "?") fail("complex keys ('?') are not supported by this editor")
        if (c1 == "&" || c1 == "*" || c1 == "!") fail("anchors, aliases and tags are not supported by this editor")

        # A key: quoted or plain, followed by ':'.
        key = ""; kc = 0
        if (c1 == "\"" || c1 == "'") {
            fdepth = 0; fquote = ""
            p = scan(rest, 1)
            if (p && substr(rest, p) ~ /^[ \t]*:([ \t]|$)/) {
                key = substr(rest, 2, p - 3)
                kc = p + index(substr(rest, p), ":") - 1
            }
        } else if (c1 != "[" && c1 != "{" && c1 != "|" && c1 != ">") {
            kc = key_colon(rest)
            if (kc) key = trim(substr(rest, 1, kc - 1))
        }
        if (kc) {
            in_seq_item = (kind_of[cur] == "seq")
            if (in_seq_item) { expect_child = 0; push(col, "map") } else place(col, "map")
            kind_of[cur] = in_seq_item ? "seq" : "key"
            key_of[cur] = key
            indent_at[cur] = col
            kname[depth] = key
            if (getting) note_key(s, col + kc + 1)
            if (!in_seq_item && col == top && depth == 1) {
                if (key in seen) fail("duplicate key '" key "' (map keys must be unique)")
                seen[key] = cur
                if (key == "fips") fips = cur
            }
            value(substr(rest, kc + 1), col, s, col + kc + 1)
            continue
        }
        # A scalar or flow value on its own line: only as a sequence item.
        if (kind_of[cur] != "seq") fail("expected 'key: value', got '" trim(rest) "'")
        expect_child = 0
        value(rest, dash_col, s, col + 1)
    }
    cur = n
    if (in_flow) fail("unclosed " (fquote != "" ? "quoted scalar" : "flow collection") " at the end of the file")
    if (checking) exit 0
    if (getting) {
        v = got ? scalar(value_text(got, gotpos)) : flowline ? flow_lookup(value_text(flowline, flowpos), flowrest) : NONE
        if (v != NONE) print v
        exit 0
    }
    if (top < 0) top = 0

    eol = crlf ? "\r\n" : "\n"
    ci = top + 2
    if (revert) {
        write_reverted()
        exit 0
    }
    if (!fips) {
        last = docend ? docend - 1 : n
        for (i = 1; i <= last; i++) printf("%s%s", L[i], eol)
        if (last > 0 && L[last] !~ /^[ \t]*$/) printf("%s", eol)
        pad = sprintf("%" top "s", "")
        printf("%s# FIPS mode: the Agent sends its traffic to the local FIPS proxy (set by the install script).%s", pad, eol)
        printf("%sfips:%s", pad, eol)
        emit_settings(pad "  ")
        for (i = last + 1; i <= n; i++) printf("%s%s", L[i], eol)
        exit 0
    }

    # The fips block: from its key to block_end().
    stop = block_end()

    for (i = 1; i < fips; i++) printf("%s%s", L[i], eol)
    line = L[fips]
    vstart = index(line, ":")
    v = trim(substr(line, vstart + 1))
    comment = ""
    if (match(v, /(^|[ \t])#.*$/)) { comment = trim(substr(v, RSTART)); v = trim(substr(v, 1, RSTART - 1)) }
    others = ""
    resume = stop + 1
    if (substr(v, 1, 1) == "{") {
        # Flow style: keep the other pairs, as block entries (the continuation lines are replaced).
        for (i = fips + 1; i <= stop; i++) v = v " " trim(L[i])
        others = flow_pairs(substr(v, 2, length(v) - 2))
        stop = fips
    }
    printf("%s%s%s", substr(line, 1, vstart), (comment != "" ? " " comment : ""), eol)
    # The first child decides the block's indentation.
    for (i = fips + 1; i <= stop; i++) if (kind_of[i] == "key") { ci = indent_at[i]; break }
    pad = sprintf("%" ci "s", "")
    emit_settings(pad)
    if (others != "") {
        cnt = split(others, pair, "\n")
        for (j = 1; j <= cnt; j++) if (pair[j] != "") printf("%s%s%s", pad, pair[j], eol)
    }
    drop = 0
    for (i = fips + 1; i <= stop; i++) {
        if (kind_of[i] == "key" && indent_at[i] == ci) drop = (key_of[i] in managed)
        # Comments and blank lines stay, even around a replaced setting.
        if (!drop || kind_of[i] == "comment" || kind_of[i] == "blank") printf("%s%s", L[i], eol)
    }
    for (i = resume; i <= n; i++) printf("%s%s", L[i], eol)
    exit 0
}

# mode=revert: the file without the managed settings (see the top), plus site when it has none.
function write_reverted(    stop, i, others, from, ci) {
    stop = fips ? block_end() : 0
    others = 0
    for (i = fips + 1; fips && i <= stop; i++) if (kind_of[i] == "key") { ci = indent_at[i]; break }
    for (i = fips + 1; fips && i <= stop; i++) {
        if (kind_of[i] == "key" && indent_at[i] == ci && !(key_of[i] in managed)) others = 1
    }
    if (fips && substr(trim(substr(L[fips], index(L[fips], ":") + 1)), 1, 1) == "{") fail("a flow-style fips mapping: revert it by hand")
    from = fips
    if (fips && !others && fips > 1 && L[fips - 1] ~ /^[ \t]*# FIPS mode: the Agent sends its traffic to the local FIPS proxy/) from = fips - 1
    # and the blank line the patch put before an appended block
    if (from < fips && from > 1 && L[from - 1] ~ /^[ \t]*$/) from--
    drop = 0
    for (i = 1; i <= n; i++) {
        # site goes inside the document: before its end marker ('...') when it has one
        if (i == docend && !("site" in seen)) printf("%" top "ssite: %s%s", "", site, eol)
        if (fips && !others && i >= from && i <= stop) continue
        if (fips && i > fips && i <= stop && kind_of[i] == "key" && indent_at[i] == ci) drop = (key_of[i] in managed)
        if (fips && i > fips && i <= stop && drop && kind_of[i] != "comment" && kind_of[i] != "blank") continue
        printf("%s%s", L[i], eol)
    }
    if (!docend && !("site" in seen)) printf("%" top "ssite: %s%s", "", site, eol)
}

# The last line of the fips block: before the next top-level node, less the blank lines and
# top-level comments that lead into it.
function block_end(    stop, i) {
    stop = n
    for (i = fips + 1; i <= n; i++) {
        if ((kind_of[i] == "key" || kind_of[i] == "seq" || kind_of[i] == "end") && indent_of(L[i]) <= top) { stop = i - 1; break }
    }
    while (stop > fips && (kind_of[stop] == "blank" || (kind_of[stop] == "comment" && indent_of(L[stop]) <= top))) stop--
    return stop
}

function emit_settings(pad) {
    printf("%senabled: true%s", pad, eol)
    printf("%shttps: false%s", pad, eol)
    printf("%sport_range_start: %s%s", pad, port, eol)
}

# Splits the inside of a flow mapping into "key: value" lines, without the managed keys.
function flow_pairs(body,    out, cnt, j, items) {
    out = ""
    cnt = flow_items(body, items)
    for (j = 1; j <= cnt; j++) if (!(flow_key(items[j]) in managed)) out = out items[j] "\n"
    return out
}

# Splits the inside of a flow collection into its top-level items (items[1..n]); returns n.
function flow_items(body, items,    i, n, c, d, q, start, cnt, item) {
    cnt = 0; d = 0; q = ""; start = 1
    n = length(body)
    for (i = 1; i <= n + 1; i++) {
        c = (i <= n) ? substr(body, i, 1) : ","
        if (q != "") { if (c == "\\" && q == "\"") i++; else if (c == q) q = ""; continue }
        if (c == "\"" || c == "'") q = c
        else if (c == "[" || c == "{") d++
        else if (c == "]" || c == "}") d--
        else if (c == "," && d == 0) {
            item = trim(substr(body, start, i - start))
            start = i + 1
            if (item != "") items[++cnt] = item
        }
    }
    return cnt
}

# The key of a flow mapping's item "key: value", quotes undone; its value text goes to flow_val.
function flow_key(item,    p, c) {
    c = substr(item, 1, 1)
    if (c == "\"" || c == "'") {
        fdepth = 0; fquote = ""
        p = scan(item, 1)
        if (!p) { flow_val = ""; return NONE }
        flow_val = trim(substr(item, p))
        sub(/^:/, "", flow_val)
        flow_val = trim(flow_val)
        return scalar(substr(item, 1, p - 1))
    }
    p = key_colon(item)
    if (!p) { flow_val = ""; return trim(item) }
    flow_val = trim(substr(item, p + 1))
    return trim(substr(item, 1, p - 1))
}

# mode=get: notes the key just read at the current depth, whose value starts at position pos of
# line s: the key wanted, or a key above it whose value is a flow mapping that may hold it.
function note_key(s, pos,    i, here) {
    here = ""
    for (i = 1; i <= depth; i++) {
        if (knd[i] != "map") return
        here = (i == 1) ? kname[i] : here "." kname[i]
    }
    if (here == want && !got) { got = cur; gotpos = pos }
    else if (index(want, here ".") == 1 && substr(trim(substr(s, pos)), 1, 1) == "{") {
        flowline = cur; flowpos = pos; flowrest = substr(want, length(here) + 2)
    }
}

# The text of the value that starts at position pos of line l, with its continuation lines
# folded in (a multi-line plain, quoted or flow value).
function value_text(l, pos,    v, i) {
    v = substr(L[l], pos)
    for (i = l + 1; i <= n && kind_of[i] == "cont" && L[i] !~ /^[ \t]*$/; i++) v = v " " trim(L[i])
    return trim(v)
}

# A scalar's value as YAML reads it (quotes and escapes undone, a plain one's comment off), or
# NONE for a mapping, a list, a block scalar, an anchor, alias or tag, or nothing.
function scalar(v,    c, out, i, n, ch) {
    v = trim(v)
    c = substr(v, 1, 1)
    n = length(v)
    out = ""
    if (c == "\"") {
        for (i = 2; i <= n; i++) {
            ch = substr(v, i, 1)
            if (ch == "\"") return out
            if (ch == "\\") {
                ch = substr(v, ++i, 1)
                if (ch == "n") ch = "\n"
                else if (ch == "t") ch = "\t"
            }
            out = out ch
        }
        return NONE
    }
    if (c == "'") {
        for (i = 2; i <= n; i++) {
            ch = substr(v, i, 1)
            if (ch == "'" && substr(v, i + 1, 1) == "'") i++
            else if (ch == "'") return out
            out = out ch
        }
        return NONE
    }
    if (v == "" || c ~ /[][{}|>&*!#]/) return NONE
    sub(/[ \t]+#.*$/, "", v)
    return v
}

# mode=get: the value of a dotted key inside the flow mapping text.
function flow_lookup(text, keypath,    p, cnt, items, j, first, rest) {
    if (substr(text, 1, 1) != "{") return NONE
    fdepth = 0; fquote = ""
    p = scan(text, 1)
    if (!p) return NONE
    first = keypath; rest = ""
    if (index(keypath, ".")) { first = substr(keypath, 1, index(keypath, ".") - 1); rest = substr(keypath, index(keypath, ".") + 1) }
    cnt = flow_items(substr(text, 2, p - 3), items)
    for (j = 1; j <= cnt; j++) {
        if (flow_key(items[j]) != first) continue
        return rest == "" ? scalar(flow_val) : flow_lookup(flow_val, rest)
    }
    return NONE
}

BEGIN {
    managed["enabled"] = 1
    managed["https"] = 1
    managed["port_range_start"] = 1
    NONE = "\001"
    revert = (mode == "revert")
    getting = (mode == "get")
    checking = (mode == "check")
    want = key
    if (mode != "" && mode != "set" && !revert && !getting && !checking) { print "mode must be set, revert, get or check" > "/dev/stderr"; failed = 1; exit 3 }
    if (revert && site == "") { print "mode=revert needs site" > "/dev/stderr"; failed = 1; exit 3 }
    if (getting && key == "") { print "mode=get needs key" > "/dev/stderr"; failed = 1; exit 3 }
    if ((mode == "" || mode == "set") && port !~ /^[0-9]+$/) { print "port must be a number" > "/dev/stderr"; failed = 1; exit 3 }
}
