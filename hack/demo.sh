#!/usr/bin/env bash
# README's main command: local cluster + Vireo + an example VM. The cluster,
# images and chart it needs are not built yet; this says so instead of
# pretending.
echo "demo: not available yet — the local cluster, images and Helm chart are still to be built (see docs/architecture.md)." >&2
exit 1
