#!/usr/bin/env bash
# Imports image archives (OCI layout or `docker save` tars) into the local
# cluster's containerd, where the kubelet finds them: no registry is
# reachable, so pods use such images with imagePullPolicy IfNotPresent or
# Never (a tag other than `latest` defaults to IfNotPresent).
#
#   hack/cluster-load-images.sh FILE.tar...
set -euo pipefail

# shellcheck source=lib/cluster.sh
source "$(dirname "$0")/lib/cluster.sh"
(($#)) || { sed -n '2,7p' "$0" >&2; exit 2; }
for f in "$@"; do
  [[ -f $f ]] || { echo "${0##*/}: no such file: $f" >&2; exit 1; }
done
cluster_need_root "$@"

containerd_healthy || { echo "${0##*/}: the cluster's containerd is not running (hack/cluster-up.sh)" >&2; exit 1; }
for f in "$@"; do
  # Prints "unpacking NAME (DIGEST)...done" per image.
  ctr_k8s images import "$f" || { echo "${0##*/}: importing $f failed" >&2; exit 1; }
done
