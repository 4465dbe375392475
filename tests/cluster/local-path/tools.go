//go:build tools

// Package tools names the provisioner command hack/build-upstream.sh builds.
package tools

import _ "github.com/rancher/local-path-provisioner"
