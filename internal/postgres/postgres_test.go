package postgres_test

import (
	"context"
	"regexp"
	"testing"

	"github.com/jackc/pgx/v5"

	"parley/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestSchemaIsCurrentAfterMigrate(t *testing.T) {
	t.Parallel()
	db, _ := pgtest.New(t)
	if err := db.SchemaCurrent(context.Background()); err != nil {
		t.Fatal(err)
	}
	var role string
	if err := db.Pool.QueryRow(context.Background(), "SELECT current_user").Scan(&role); err != nil {
		t.Fatal(err)
	}
	if role != "parley_app" {
		t.Fatalf("pooled connections run as %q, want parley_app so that RLS binds them", role)
	}
}

// A client's message updates its chat's activity, unread count and preview
// (conversation's insertMessagesSQL). No index of cases may hold those
// columns, or every message writes an entry into each of the chat's indexes
// instead of a heap-only update.
func TestNoIndexOfChatsHoldsWhatAMessageChanges(t *testing.T) {
	t.Parallel()
	_, url := pgtest.New(t)
	ctx := t.Context()
	owner, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	rows, _ := owner.Query(ctx, `SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'cases'::regclass`)
	defs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(defs) < 5 {
		t.Fatalf("found only %v: the enumeration is broken", defs)
	}
	changed := regexp.MustCompile(`\b(last_activity_at|last_client_message_at|unread|preview)\b`)
	for _, def := range defs {
		if col := changed.FindString(def); col != "" {
			t.Errorf("%s\nholds %s, which every client message changes", def, col)
		}
	}
}
