package conversation

import (
	"errors"

	"github.com/jackc/pgx/v5"

	"parley/internal/problem"
)

// notFound turns "no rows" into a NotFound problem with msg.
func notFound(err error, msg string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return problem.New(problem.NotFound, msg)
	}
	return err
}
