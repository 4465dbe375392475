#!/usr/bin/env bash
# PersistentVolumes of the local cluster's StorageClass `vireo-local`: a
# directory under the cluster's state, handed to pods as a hostPath volume.
# Vireo's disk contract: a filesystem PVC with `disk.img` inside.
#
#   hack/cluster-pv.sh [--claim NS/PVC] NAME SIZE [FILE]
#       PersistentVolume NAME of capacity SIZE (e.g. 1Gi); FILE, if given, is
#       copied into it as disk.img (sparse). --claim reserves it for that PVC;
#       otherwise a PVC can pick it with the selector vireo.local/volume=NAME.
#       An existing, unbound NAME is replaced.
#   hack/cluster-pv.sh --delete NAME
#       delete the PersistentVolume and its directory (not while Bound).
set -euo pipefail

# shellcheck source=lib/cluster.sh
source "$(dirname "$0")/lib/cluster.sh"
usage() { sed -n '2,12p' "$0" >&2; exit 2; }

claim="" delete=""
while [[ ${1:-} == --* ]]; do
  case $1 in
    --claim) [[ ${2:-} == */* ]] || usage; claim=$2; shift 2 ;;
    --delete) delete=1; shift ;;
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
rm -rf --one-file-system "$dir"
if [[ -n $delete ]]; then
  echo "deleted PersistentVolume $name"
  exit 0
fi

mkdir -p "$dir"
# Pods may run as any user: the volume is theirs to write.
chmod 0777 "$dir"
if [[ -n $file ]]; then
  cp --sparse=always "$file" "$dir/disk.img"
  chmod 0666 "$dir/disk.img"
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
  volumeMode: Filesystem
  hostPath: {path: $dir, type: Directory}
$claim_ref
EOF
echo "PersistentVolume $name ($size) at $dir${file:+ with disk.img from $file}"
