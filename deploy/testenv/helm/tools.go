//go:build tools

// Package tools pins the Helm command the chart render test uses; it is
// built by ../run into the test environment's cache, never shipped.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
