# Extracts the `runcmd` list of a #cloud-config user-data file for the Vireo
# test disk (a subset of YAML, see ../README.md). Prints one command a line:
#   sh<TAB>STRING            a string item, to run with `sh -c STRING`
#   argv<TAB>A1<US>A2<US>... a list item, to run as argv without a shell
# (US is the 0x1f unit separator). Understood forms:
#   runcmd:                     runcmd: [[echo, A], "echo B"]
#     - echo A
#     - [echo, "B C"]
# Not understood: multi-line scalars (|, >), items spread over several lines.

function trim(s) { sub(/^[ \t\r]+/, "", s); sub(/[ \t\r]+$/, "", s); return s }

function unquote(s) {
  s = trim(s)
  if (s ~ /^".*"$/) {
    s = substr(s, 2, length(s) - 2); gsub(/\\"/, "\"", s); gsub(/\\\\/, "\\", s)
  } else if (s ~ /^'.*'$/) {
    s = substr(s, 2, length(s) - 2); gsub(/''/, "'", s)
  } else {
    sub(/[ \t]+#.*$/, "", s)   # a plain scalar ends at " #" (a comment)
  }
  return s
}

# Splits a one-line flow sequence "[a, [b, c], 'd, e']" into its top-level
# elements (still quoted, nested lists kept whole); returns their number.
function split_flow(s, out,    n, i, c, depth, q, cur) {
  s = trim(s)
  if (substr(s, 1, 1) != "[") return 0
  sub(/\][ \t]*(#.*)?$/, "", s); s = substr(s, 2)
  n = 0; depth = 0; q = ""; cur = ""
  for (i = 1; i <= length(s); i++) {
    c = substr(s, i, 1)
    if (q != "") { if (c == q) q = ""; cur = cur c; continue }
    if (c == "\"" || c == "'") { q = c; cur = cur c; continue }
    if (c == "[") depth++
    if (c == "]") depth--
    if (c == "," && depth == 0) { out[++n] = trim(cur); cur = ""; continue }
    cur = cur c
  }
  if (trim(cur) != "") out[++n] = trim(cur)
  return n
}

function emit(item,    parts, n, i, line) {
  item = trim(item)
  if (item == "") return
  if (substr(item, 1, 1) == "[") {
    n = split_flow(item, parts)
    if (n == 0) return
    line = unquote(parts[1])
    for (i = 2; i <= n; i++) line = line "\037" unquote(parts[i])
    print "argv\t" line
  } else {
    print "sh\t" unquote(item)
  }
}

BEGIN { inblock = 0 }
/^[ \t]*(#|$)/ { next }                       # comments and blank lines
/^[^ \t-]/ {                                  # a top-level key ends any block
  inblock = 0
  if ($0 ~ /^runcmd[ \t]*:/) {
    rest = $0; sub(/^runcmd[ \t]*:/, "", rest); rest = trim(rest)
    if (rest == "") { inblock = 1; next }
    n = split_flow(rest, items)
    for (k = 1; k <= n; k++) emit(items[k])
  }
  next
}
inblock && /^[ \t]*-([ \t]|$)/ {
  item = $0; sub(/^[ \t]*-[ \t]*/, "", item); emit(item); next
}
