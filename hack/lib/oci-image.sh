# shellcheck shell=bash
# Writes a one-layer OCI image archive (an OCI layout in a tar) from a root
# filesystem directory, without a container engine: no registry is reachable
# on the machines Vireo is tested on, so images reach containerd as archives
# (`ctr images import`). The archive is reproducible: same tree, same digests.
#
#   oci_image_archive NAME:TAG ROOTFS OUT.tar ENTRYPOINT_JSON [CMD_JSON]
#     ENTRYPOINT_JSON/CMD_JSON are JSON arrays, e.g. '["/pause"]', or null.

oci_image_archive() {
  local name=$1 rootfs=$2 out=$3 entrypoint=$4 cmd=${5:-null}
  local tag=${name##*:} work
  work=$(mktemp -d)
  mkdir -p "$work/blobs/sha256"

  # The layer: a sorted tar with fixed owners and times, gzip without a name
  # or time stamp, so its digest only depends on the files.
  tar -C "$rootfs" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    -cf "$work/layer.tar" .
  local diff_id layer_digest layer_size
  diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
  gzip -n -9 "$work/layer.tar"
  layer_digest=$(sha256sum "$work/layer.tar.gz" | cut -d' ' -f1)
  layer_size=$(stat -c %s "$work/layer.tar.gz")
  mv "$work/layer.tar.gz" "$work/blobs/sha256/$layer_digest"

  printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Entrypoint":%s,"Cmd":%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$entrypoint" "$cmd" "$diff_id" > "$work/config.json"
  local config_digest config_size
  config_digest=$(sha256sum "$work/config.json" | cut -d' ' -f1)
  config_size=$(stat -c %s "$work/config.json")
  mv "$work/config.json" "$work/blobs/sha256/$config_digest"

  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$config_digest" "$config_size" "$layer_digest" "$layer_size" > "$work/manifest.json"
  local manifest_digest manifest_size
  manifest_digest=$(sha256sum "$work/manifest.json" | cut -d' ' -f1)
  manifest_size=$(stat -c %s "$work/manifest.json")
  mv "$work/manifest.json" "$work/blobs/sha256/$manifest_digest"

  # io.containerd.image.name gives `ctr images import` the full name; the
  # standard ref.name annotation alone only carries the tag.
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest_digest" "$manifest_size" "$name" "$tag" > "$work/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$work/oci-layout"

  tar -C "$work" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    -cf "$out.partial" oci-layout index.json blobs
  mv "$out.partial" "$out"
  rm -rf "$work"
}
