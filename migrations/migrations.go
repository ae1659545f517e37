// Package migrations embeds Parley's goose SQL migrations. They are forward
// only in production; each file is one small, named change.
package migrations

import "embed"

// FS holds the *.sql migration files.
//
//go:embed *.sql
var FS embed.FS
