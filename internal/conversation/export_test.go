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
	s.batch.storeTenant(ctx, ig.TenantID, msgs)
	for _, m := range msgs {
		res, errs = append(res, m.res), append(errs, m.err)
	}
	return res, errs
}

// ApplyStatuses applies statuses as one batch of concurrent callbacks
// would, and returns, for each, whether its message was found.
func (s *Service) ApplyStatuses(ctx context.Context, ig integration.Integration, sts []channel.Status) (found []bool, errs []error) {
	us := make([]*statusUpdate, len(sts))
	for i, st := range sts {
		us[i] = &statusUpdate{ig: ig, st: st}
	}
	s.statuses.storeTenant(ctx, ig.TenantID, us)
	for _, u := range us {
		found, errs = append(found, u.found), append(errs, u.err)
	}
	return found, errs
}
