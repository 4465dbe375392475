//go:build tools

// Package tools names the device plugin command hack/build-upstream.sh builds.
package tools

import _ "github.com/squat/generic-device-plugin"
