// Package migrations embeds Parley's goose SQL migrations: a baseline of
// the schema, one file per area, and the changes after it, each one small
// and named, versioned by the time it was written (YYYYMMDDhhmmss_name.sql).
// They are forward only.
package migrations

import "embed"

// FS holds the *.sql migration files.
//
//go:embed *.sql
var FS embed.FS
