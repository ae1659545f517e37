package conversation

import (
	"context"

	"parley/internal/channel"
	"parley/internal/integration"
)

// StoreBatch stores messages as one batch of concurrent deliveries would,
// and says for each what the batch did: its result, or single (left for
// the one-by-one path).
func (s *Service) StoreBatch(ctx context.Context, ig integration.Integration, ins []channel.Inbound) (res []Received, single []bool) {
	reqs := make([]*inboundReq, len(ins))
	for i, in := range ins {
		reqs[i] = &inboundReq{ig: ig, in: in}
	}
	s.storeBatch(ctx, reqs)
	for _, r := range reqs {
		res, single = append(res, r.res), append(single, r.single)
	}
	return res, single
}
