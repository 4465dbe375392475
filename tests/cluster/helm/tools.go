//go:build tools

// Package tools names the helm command hack/build-upstream.sh builds.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
