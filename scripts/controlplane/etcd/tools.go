//go:build tools

// Package tools pins the etcd server this module builds (see scripts/controlplane.sh).
// `go install go.etcd.io/etcd/server/v3@v3.6.16` is refused (its go.mod has replace lines);
// building it as a dependency of this module works.
package tools

import _ "go.etcd.io/etcd/server/v3"
