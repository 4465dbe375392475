# shellcheck shell=bash
# Part of hack/cluster-up.sh (sourced by it, in order): the local-path
# provisioner behind the default StorageClass local-path.

# The default StorageClass local-path: a claim that names no class gets a
# directory under $STATE/local-path when its first pod is scheduled, and
# loses it with the claim. The objects are in tests/cluster/local-path/.
cluster_step "deploying the local-path provisioner ($local_path_image, default StorageClass local-path)" local-path
storage_start=$SECONDS
mkdir -p "$STATE/local-path"
manifest=$cluster_root/tests/cluster/local-path/local-path.yaml
config_hash=$( (cat "$manifest"; echo "$local_path_image $busybox_image $STATE/local-path") | sha256sum | cut -c1-16)
sed -e "s|@PROVISIONER_IMAGE@|$local_path_image|g" -e "s|@HELPER_IMAGE@|$busybox_image|g" \
  -e "s|@VOLUME_DIR@|$STATE/local-path|g" -e "s|@CONFIG_HASH@|$config_hash|g" "$manifest" |
  "${kubectl[@]}" apply -f - >"$LOGS/local-path.log" 2>&1
if ! "${kubectl[@]}" -n local-path-storage rollout status deployment/local-path-provisioner --timeout=120s \
  >>"$LOGS/local-path.log" 2>&1; then
  {
    "${kubectl[@]}" -n local-path-storage get pods -o wide
    "${kubectl[@]}" -n local-path-storage get events --field-selector involvedObject.kind=Pod | tail -n 5
    "${kubectl[@]}" -n local-path-storage logs deployment/local-path-provisioner --tail=10
  } >>"$LOGS/local-path.log" 2>&1 || true
  cluster_fail "the local-path provisioner: deployment local-path-storage/local-path-provisioner not Ready after 120 s" local-path
fi
cluster_log "local-path provisioner ready ($((SECONDS - storage_start)) s)"
