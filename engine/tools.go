//go:build tools

// The Pulumi CLI is built from this module so that its version is pinned in go.mod/go.sum.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
