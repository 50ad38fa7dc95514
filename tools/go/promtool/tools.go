//go:build tools

// Package tools pins the promtool command this wrapper module builds (the metrics tests check
// the documented alert expressions with it).
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
