//go:build tools

// Package tools names the etcd command hack/build-upstream.sh builds.
package tools

import _ "go.etcd.io/etcd/server/v3"
