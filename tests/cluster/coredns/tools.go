//go:build tools

// Package tools names the CoreDNS command hack/build-upstream.sh builds.
package tools

import _ "github.com/coredns/coredns"
