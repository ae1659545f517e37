package conversation

import (
	"context"

	"parley/internal/channel"
	"parley/internal/integration"
)

// StoreBatch stores messages as one batch of concurrent deliveries would,
// and returns what became of each.
func (s *Service) StoreBatch(ctx context.Context, ig integration.Integration, ins []channel.Inbound) (res []Received, errs []error) {
	msgs := make([]*inbound, len(ins))
	for i, in := range ins {
		msgs[i] = &inbound{ig: ig, in: in}
	}
	s.storeBatch(ctx, msgs)
	for _, m := range msgs {
		res, errs = append(res, m.res), append(errs, m.err)
	}
	return res, errs
}
