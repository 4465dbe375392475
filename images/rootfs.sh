# The Debian root filesystem under a Vireo image, built without a container
# engine and cached. Sourced by images/build.sh (needs lib.sh); this file's
# hash is part of the cache key, so a change here rebuilds the rootfs.
#
#   rootfs_base IMAGEDIR PROGRAM   prints the cache directory holding
#     rootfs/       the trimmed tree
#     layer/        it as a layer (lib.sh: layer.tar.gz, digest, diff_id, size)
#     packages.txt  "package version" of every Debian package left in it
#
# IMAGEDIR is images/<name>/ with `packages` (Debian packages, one a line),
# `keep` (what stays of them) and `files/` (files of our own, e.g. etc/passwd).
# PROGRAM is the Vireo binary the image will carry: the libraries it needs
# stay. The binary itself is not in the rootfs (it is the image's top layer),
# so a rebuilt binary reuses the cache as long as it needs the same libraries.
#
# How: `mmdebstrap --variant=extract` resolves the packages' dependencies
# against Debian's own index (not the build host's installed set) and unpacks
# them; no maintainer script runs, nothing of Debian's essential set comes
# along unless asked for. Then everything goes except what `keep` names, the
# shared libraries the kept programs and modules need (asked of the image's
# own dynamic loader), and the copyright file of each package left.

rootfs_recipe=${BASH_SOURCE[0]}
rootfs_refresh=""   # set: rebuild even when the cache has this key

rootfs_suite() {
  # The binaries are built on this machine: their libraries come from its release.
  (. /etc/os-release && echo "${VERSION_CODENAME:?}")
}

rootfs_sources() { # the apt sources mmdebstrap uses, one a line
  local suite=$1
  local mirror=${VIREO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
  local security=${VIREO_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
  echo "deb $mirror $suite main"
  echo "deb $mirror $suite-updates main"
  echo "deb $security $suite-security main"
}

# Package names of a packages file: comments and blank lines dropped.
rootfs_packages() { sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$1"; }

# The sonames PROGRAM asks for.
rootfs_needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p' | LC_ALL=C sort; }

rootfs_key() {
  local imagedir=$1 program=$2 suite
  suite=$(rootfs_suite)
  {
    echo "recipe $(sha256sum <"$rootfs_recipe" | cut -c1-64)"
    (cd "$imagedir" && find . -type f ! -name Containerfile ! -name '*.md' | LC_ALL=C sort | xargs sha256sum)
    echo "suite $suite"
    rootfs_sources "$suite"
    echo "mmdebstrap $(mmdebstrap --version)"
    echo "needed $(rootfs_needed "$program" | tr '\n' ' ')"
  } | sha256sum | cut -c1-16
}

# Takes the cache's in-use lock, shared, for the rest of the caller's run.
rootfs_in_use() {
  local cache
  cache=$(images_cache_root)
  mkdir -p "$cache"
  exec {rootfs_in_use_fd}>"$cache/.in-use.lock"
  flock -s "$rootfs_in_use_fd"
}

rootfs_base() {
  local imagedir=$1 program=$2 image key cache dir
  image=$(basename "$imagedir")
  key=$(rootfs_key "$imagedir" "$program")
  cache=$(images_cache_root)
  dir=$cache/$image-$key
  mkdir -p "$cache"
  exec 8>"$cache/.$image.lock"
  flock 8
  if [[ -f $dir/done && -z ${rootfs_refresh:-} ]]; then
    log "$image: Debian rootfs cached ($dir)"
    echo "$dir"
    exec 8>&-
    return 0
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  local t0=$SECONDS
  rootfs_make "$imagedir" "$program" "$dir" || { rm -rf "$dir"; die "$image: building the rootfs failed"; }
  touch "$dir/done"
  # Older keys of this image are of no more use, unless another build.sh
  # (holding the in-use lock shared, see rootfs_in_use) still reads one.
  if [[ -n ${rootfs_in_use_fd:-} ]] && flock -n -x "$rootfs_in_use_fd"; then
    find "$cache" -mindepth 1 -maxdepth 1 -type d -name "$image-*" ! -name "$image-$key" -exec rm -rf {} +
    flock -s "$rootfs_in_use_fd"
  fi
  log "$image: Debian rootfs built in $((SECONDS - t0)) s ($dir)"
  echo "$dir"
  exec 8>&-
}

# The rest runs in a subshell of rootfs_make, which fails as a whole.
rootfs_make() {
  local imagedir=$1 program=$2 dir=$3
  (
    set -euo pipefail
    image=$(basename "$imagedir")
    root=$dir/rootfs
    suite=$(rootfs_suite)
    mapfile -t packages < <(rootfs_packages "$imagedir/packages")
    mapfile -t sources < <(rootfs_sources "$suite")
    ((${#packages[@]})) || die "$imagedir/packages names no package"

    log "$image: mmdebstrap $suite: ${packages[*]}"
    # The log stays next to the cache directories: a failed build removes its own.
    mmlog=$(dirname "$dir")/$image.mmdebstrap.log
    if ! mmdebstrap --variant=extract --mode=root --format=directory --skip=cleanup/apt/cache \
      --include="$(IFS=,; echo "${packages[*]}")" "$suite" "$root" "${sources[@]}" >"$mmlog" 2>&1; then
      tail -n 30 "$mmlog" >&2
      die "mmdebstrap failed (whole log: $mmlog)"
    fi
    debs=$dir/debs
    mv "$root/var/cache/apt/archives" "$debs"
    # ca-certificates ships the certificates; the bundle OpenSSL reads is
    # made by its maintainer script (update-ca-certificates), which extract
    # does not run. The same bundle: every certificate it ships, in order.
    if [[ -d $root/usr/share/ca-certificates && ! -e $root/etc/ssl/certs/ca-certificates.crt ]]; then
      mkdir -p "$root/etc/ssl/certs"
      (cd "$root/usr/share/ca-certificates" && find . -name '*.crt' -printf '%P\n' | LC_ALL=C sort |
        while IFS= read -r crt; do sed -e '$a\' "$crt"; done) >"$root/etc/ssl/certs/ca-certificates.crt"
      grep -q 'BEGIN CERTIFICATE' "$root/etc/ssl/certs/ca-certificates.crt" ||
        die "ca-certificates: no certificate under /usr/share/ca-certificates"
    fi
    # Layer times: clamped to the newest packaged file's (only packages wrote usr/ so far).
    epoch=${SOURCE_DATE_EPOCH:-$(find "$root/usr" -type f -printf '%T@\n' | sort -n | tail -1)}
    epoch=${epoch%.*}

    # Which package ships which path, for the manifest and copyright files.
    : >"$dir/owners"
    for deb in "$debs"/*.deb; do
      pkg=$(dpkg-deb -f "$deb" Package)
      dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -e 's|^\./||' -e 's|/$||' -e '/^$/d' -e "s|\$|	$pkg|" >>"$dir/owners"
    done

    # Our own files, and the loader's configuration and cache, so the image's
    # ld.so finds the libraries below.
    if [[ -d $imagedir/files ]]; then cp -dR --no-preserve=ownership "$imagedir/files/." "$root/"; fi
    echo 'include /etc/ld.so.conf.d/*.conf' >"$root/etc/ld.so.conf"
    ldconfig -X -r "$root"
    mkdir -p "$root/usr/bin"
    local_program=usr/bin/$(basename "$program")
    install -m 0755 "$program" "$root/$local_program"

    # --- what stays -------------------------------------------------------
    declare -A keep=([etc/ld.so.conf]=1)
    # Resolves every symlink in REL inside the root (keeping the links it
    # meets) and sets `resolved` to the real path.
    resolve() {
      local rest=$1 done="" comp p target hops=0
      while [[ -n $rest ]]; do
        comp=${rest%%/*}
        if [[ $rest == */* ]]; then rest=${rest#*/}; else rest=""; fi
        case $comp in
          "" | .) continue ;;
          ..) done=$(dirname "$done"); [[ $done != . ]] || done=""; continue ;;
        esac
        p=${done:+$done/}$comp
        if [[ -L $root/$p ]]; then
          ((++hops < 40)) || die "symlink loop at /$p"
          keep[$p]=1
          target=$(readlink "$root/$p")
          if [[ $target == /* ]]; then done=""; rest=${target#/}${rest:+/$rest}; else rest=$target${rest:+/$rest}; fi
        else
          done=$p
        fi
      done
      resolved=$done
    }
    keep_path() { # keeps REL (a directory: everything below it)
      local resolved f
      resolve "$1"
      [[ -e $root/$resolved ]] || die "/$1 leads to /$resolved, which is not in the image"
      keep[$resolved]=1
      if [[ -d $root/$resolved ]]; then
        while IFS= read -r -d '' f; do
          f=${f#"$root"/}
          if [[ -L $root/$f ]]; then keep_path "$f"; else keep[$f]=1; fi
        done < <(find "$root/$resolved" -mindepth 1 \( -type f -o -type l \) -print0)
      fi
    }

    mapfile -t patterns < <(rootfs_packages "$imagedir/keep")
    for pattern in "${patterns[@]}" "$local_program"; do
      pattern=${pattern#/}
      mapfile -t matches < <(cd "$root" && compgen -G "$pattern" || true)
      ((${#matches[@]})) || die "$imagedir/keep: nothing matches /$pattern"
      for m in "${matches[@]}"; do keep_path "$m"; done
    done
    if [[ -d $imagedir/files ]]; then
      while IFS= read -r f; do keep_path "${f#./}"; done < <(cd "$imagedir/files" && find . ! -type d)
    fi

    # The shared libraries of every kept dynamic ELF file, as the image's
    # own loader resolves them (ld.so --list gives the whole closure).
    for f in "${!keep[@]}"; do
      [[ -f $root/$f && ! -L $root/$f ]] || continue
      [[ $(head -c 4 "$root/$f" | od -An -c | tr -d ' ') == 177ELF ]] || continue
      readelf -d "$root/$f" 2>/dev/null | grep -q '(NEEDED)' || continue
      list=$(chroot "$root" /lib64/ld-linux-x86-64.so.2 --list "/$f" 2>&1) ||
        die "the image's loader cannot list /$f: $list"
      if grep -q 'not found' <<<"$list"; then
        die "/$f needs a library no package in $imagedir/packages ships:
$(grep 'not found' <<<"$list")"
      fi
      while read -r lib; do keep_path "${lib#/}"; done < <(
        sed -n -e 's/.*=> \(\/[^ ]*\) (0x.*/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p' <<<"$list")
    done

    # Packages that still have a file here: their copyright, and the manifest.
    declare -A left=()
    while IFS=$'\t' read -r path pkg; do
      if [[ -n ${keep[$path]:-} && ! -d $root/$path ]]; then left[$pkg]=1; fi
    done <"$dir/owners"
    for pkg in "${!left[@]}"; do
      if [[ -e $root/usr/share/doc/$pkg/copyright ]]; then keep_path "usr/share/doc/$pkg/copyright"; fi
    done

    # --- everything else goes ---------------------------------------------
    (cd "$root" && find . -mindepth 1 ! -type d -printf '%P\0') |
      while IFS= read -r -d '' f; do [[ -n ${keep[$f]:-} ]] || printf '%s\0' "$f"; done |
      (cd "$root" && xargs -0 -r rm -f --)
    rm -f "$root/$local_program"
    find "$root" -mindepth 1 -depth -type d -empty -delete
    # What a container and the sandbox mount on, and /tmp. /var/run as Debian has it.
    install -d -m 0755 "$root"/{dev,proc,sys,run,mnt,root,etc,var}
    install -d -m 1777 "$root/tmp" "$root/var/tmp"
    ln -sfn /run "$root/var/run"
    ldconfig -X -r "$root"

    # A dpkg status for the packages left, so `dpkg -l`-style scanners can see
    # what the image holds (there is no dpkg in it).
    mkdir -p "$root/var/lib/dpkg"
    : >"$root/var/lib/dpkg/status"
    : >"$dir/packages.txt"
    for deb in "$debs"/*.deb; do
      pkg=$(dpkg-deb -f "$deb" Package)
      [[ -n ${left[$pkg]:-} ]] || continue
      {
        echo "Package: $pkg"
        echo "Status: install ok installed"
        dpkg-deb -f "$deb" | grep -v '^Package:'
        echo
      } >>"$root/var/lib/dpkg/status"
      echo "$pkg $(dpkg-deb -f "$deb" Version)" >>"$dir/packages.txt"
    done
    LC_ALL=C sort -o "$dir/packages.txt" "$dir/packages.txt"
    rm -rf "$debs"

    # --- checks: no dangling link, and every ELF file loads ----------------
    while IFS= read -r -d '' f; do
      resolve "$f"
      [[ -e $root/$resolved ]] || die "/$f is a dangling symlink (to $(readlink "$root/$f"))"
    done < <(cd "$root" && find . -type l -printf '%P\0')
    while IFS= read -r -d '' f; do
      [[ $(head -c 4 "$root/$f" | od -An -c | tr -d ' ') == 177ELF ]] || continue
      readelf -d "$root/$f" 2>/dev/null | grep -q '(NEEDED)' || continue
      list=$(chroot "$root" /lib64/ld-linux-x86-64.so.2 --list "/$f" 2>&1) || die "/$f does not load: $list"
      ! grep -q 'not found' <<<"$list" || die "/$f does not load: $(grep 'not found' <<<"$list")"
    done < <(cd "$root" && find . -type f -printf '%P\0')

    tar_tree "$root" "$dir/layer.tar" "$epoch"
    make_layer "$dir/layer.tar" "$dir/layer"
    du -sb "$root" | cut -f1 >"$dir/rootfs-bytes"
  )
}
