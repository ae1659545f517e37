package postgres_test

import (
	"context"
	"testing"

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
