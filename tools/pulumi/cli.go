//go:build tools

// Package tools pins the Pulumi CLI's main package so that `go mod tidy` keeps its dependencies in go.sum:
// `go build github.com/pulumi/pulumi/pkg/v3/cmd/pulumi` from this module builds the CLI.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
