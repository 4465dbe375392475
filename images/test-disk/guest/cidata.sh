#!/bin/sh
# cloud-init NoCloud, the small subset the Vireo test disk understands (see
# ../README.md). Argument: the directory where the cidata volume is mounted.
# Prints the meta-data's instance-id and hostname (and sets the hostname),
# then runs what user-data asks for: a "#!" script, or the runcmd list of a
# "#cloud-config" document (each command's output goes to the console).
dir=$1

# Value of KEY in meta-data, YAML ("key: value") or JSON ("key": "value").
meta() {
  awk -v key="$1" '
    { line = $0
      if (match(line, "\"?" key "\"?[ \t]*:[ \t]*")) {
        v = substr(line, RSTART + RLENGTH); sub(/[,}].*$/, "", v)
        gsub(/^[ \t"\047]+|[ \t"\047\r]+$/, "", v); print v; exit } }' "$dir/meta-data" 2>/dev/null
}

iid=$(meta instance-id)
host=$(meta local-hostname)
[ -n "$host" ] || host=$(meta hostname)
[ -n "$host" ] && hostname "$host"
echo "VIREO-CIDATA: instance-id=${iid:-none} hostname=${host:-none}"

ud=$dir/user-data
if [ ! -s "$ud" ]; then
  echo "VIREO-CIDATA: no user-data"
  exit 0
fi
case "$(head -n 1 "$ud")" in
  '#!'*)
    cp "$ud" /run/user-data && chmod +x /run/user-data
    /run/user-data </dev/null
    echo "VIREO-CIDATA: user-data script exited $?"
    ;;
  '#cloud-config'*)
    awk -f /etc/runcmd.awk "$ud" >/run/runcmd
    total=0 failed=0
    tab=$(printf '\t')
    us=$(printf '\037')
    while IFS=$tab read -r kind cmd; do
      total=$((total + 1))
      case $kind in
        sh) timeout 120 sh -c "$cmd" </dev/null || failed=$((failed + 1)) ;;
        argv)
          set -f; oldifs=$IFS; IFS=$us
          set -- $cmd
          IFS=$oldifs; set +f
          timeout 120 "$@" </dev/null || failed=$((failed + 1))
          ;;
      esac
    done </run/runcmd
    echo "VIREO-CIDATA: runcmd ran $total command(s), $failed failed"
    ;;
  *)
    echo "VIREO-CIDATA: user-data format not understood here (want #cloud-config or #!)"
    ;;
esac
