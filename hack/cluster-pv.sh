#!/usr/bin/env bash
# PersistentVolumes of the local cluster's StorageClass `vireo-local`, made by
# hand (the default class, local-path, provisions directories by itself but
# cannot offer a given disk or a block device): a directory under the
# cluster's state, handed to pods as a hostPath volume (Vireo's disk
# contract: a filesystem PVC with `disk.img` inside), or with --block a loop
# device over a sparse file there, as a `local` volume of volumeMode Block.
# Claims name the class: `storageClassName: vireo-local`.
#
#   hack/cluster-pv.sh [--block] [--claim NS/PVC] NAME SIZE [FILE]
#       PersistentVolume NAME of capacity SIZE (e.g. 1Gi); FILE, if given, is
#       copied into it as disk.img (sparse), or with --block onto the device
#       (raw bytes; SIZE is the device's size, at least FILE's). --claim
#       reserves it for that PVC; otherwise a PVC can pick it with the
#       selector vireo.local/volume=NAME. An existing, unbound NAME is replaced.
#   hack/cluster-pv.sh --delete NAME
#       delete the PersistentVolume and its data (not while Bound).
set -euo pipefail

# shellcheck source=lib/cluster.sh
source "$(dirname "$0")/lib/cluster.sh"
usage() { sed -n '2,20p' "$0" >&2; exit 2; }

claim="" delete="" block=""
while [[ ${1:-} == --* ]]; do
  case $1 in
    --claim) [[ ${2:-} == */* ]] || usage; claim=$2; shift 2 ;;
    --delete) delete=1; shift ;;
    --block) block=1; shift ;;
    *) usage ;;
  esac
done
name=${1:-}
[[ $name =~ ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ ]] || usage
if [[ -z $delete ]]; then
  size=${2:-}
  file=${3:-}
  [[ -n $size ]] || usage
  [[ -z $file || -f $file ]] || { echo "${0##*/}: no such file: $file" >&2; exit 1; }
  if [[ -n $block ]]; then
    # The device's size in bytes, from a Kubernetes quantity (binary or
    # decimal suffixes, as kubectl writes them).
    if [[ $size =~ ^[0-9]+(Ki|Mi|Gi|Ti)?$ ]]; then
      bytes=$(numfmt --from=iec-i "$size")
    elif [[ $size =~ ^[0-9]+[kMGT]$ ]]; then
      bytes=$(numfmt --from=si "${size/%k/K}")
    else
      echo "${0##*/}: --block needs a size like 64Mi, 1Gi or 500M, not $size" >&2; exit 1
    fi
    if [[ -n $file ]] && (($(stat -c %s "$file") > bytes)); then
      echo "${0##*/}: $file ($(stat -c %s "$file") bytes) does not fit in $size" >&2; exit 1
    fi
  fi
fi
cluster_need_root "$@"

[[ -f $STATE/env ]] || { echo "${0##*/}: no cluster in $STATE (run hack/cluster-up.sh)" >&2; exit 1; }
# shellcheck disable=SC1091
source "$STATE/env"
kubectl=("$BIN/kubectl" --kubeconfig="$KUBECONFIG")
dir=$STATE/volumes/$name

phase=$("${kubectl[@]}" get pv "$name" -o jsonpath='{.status.phase}' 2>/dev/null || true)
if [[ $phase == Bound ]]; then
  echo "${0##*/}: PersistentVolume $name is Bound to $("${kubectl[@]}" get pv "$name" \
    -o jsonpath='{.spec.claimRef.namespace}/{.spec.claimRef.name}'); delete that claim first" >&2
  exit 1
fi
if [[ -n $phase ]]; then
  "${kubectl[@]}" delete pv "$name" --wait=true >/dev/null
fi
cluster_detach_loops "$dir/"
rm -rf --one-file-system "$dir"
if [[ -n $delete ]]; then
  echo "deleted PersistentVolume $name"
  exit 0
fi

mkdir -p "$dir"
if [[ -n $block ]]; then
  chmod 0755 "$dir"
  if [[ -n $file ]]; then
    cp --sparse=always "$file" "$dir/block.img"
  fi
  truncate -s "$bytes" "$dir/block.img"
  chmod 0644 "$dir/block.img"
  cluster_attach_block "$dir"
  # A `local` volume: the kubelet hands a Block one to pods as a device
  # (volumeDevices); it must say which node has it.
  source_spec="  volumeMode: Block
  local: {path: $dir/device}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [$VIREO_NODE]}"
else
  # Pods may run as any user: the volume is theirs to write.
  chmod 0777 "$dir"
  if [[ -n $file ]]; then
    cp --sparse=always "$file" "$dir/disk.img"
    chmod 0666 "$dir/disk.img"
  fi
  source_spec="  volumeMode: Filesystem
  hostPath: {path: $dir, type: Directory}"
fi

claim_ref=""
[[ -z $claim ]] || claim_ref="  claimRef: {namespace: ${claim%%/*}, name: ${claim#*/}}"
"${kubectl[@]}" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $name
  labels: {vireo.local/volume: $name}
spec:
  storageClassName: vireo-local
  capacity: {storage: $size}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
$source_spec
$claim_ref
EOF
if [[ -n $block ]]; then
  echo "PersistentVolume $name ($size, Block) on $(losetup -n -l -O NAME -j "$dir/block.img" | head -n 1) over $dir/block.img${file:+ with $file}"
else
  echo "PersistentVolume $name ($size) at $dir${file:+ with disk.img from $file}"
fi
