package conversation

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Group commit for inbound messages: messages that arrive while another
// batch is being stored wait for it and are then stored together, in one
// transaction per tenant and one statement for all of them (store), instead
// of a transaction each. A lone message is stored at once, a batch of one;
// under load the batches grow by themselves.
//
// There are no background goroutines: the first caller to find no batch in
// flight stores the waiting messages itself, and on finishing hands the
// next waiting messages to the first of them, which leads that batch. A
// second batch starts beside one in flight only once minBeside messages
// wait: a batch costs its round trips, a statement's start and a commit
// whatever its size, so a second batch of one or two would spend the CPU
// that the first needs. Each caller gets exactly one message on its
// channel: its result, or the batch it is to lead (its own message is in it).

const (
	maxLeaders  = 2   // batches in flight at once
	minBeside   = 8   // messages waiting before a batch starts beside another
	maxBatch    = 128 // messages in one batch
	batchBudget = 15 * time.Second
)

type batcher struct {
	mu      sync.Mutex
	pending []*waiting
	leaders int
	store   func(context.Context, []*inbound)
}

// waiting is a message waiting in a batch.
type waiting struct {
	*inbound
	done chan []*waiting // nil: the result is set; else: lead this batch
}

// submit returns once m's batch has set its result.
func (b *batcher) submit(m *inbound) {
	r := &waiting{inbound: m, done: make(chan []*waiting, 1)}
	b.mu.Lock()
	b.pending = append(b.pending, r)
	var batch []*waiting
	if b.leaders == 0 || (b.leaders < maxLeaders && len(b.pending) >= minBeside) {
		b.leaders++
		batch = b.takeLocked()
	}
	b.mu.Unlock()
	if batch == nil {
		if batch = <-r.done; batch == nil {
			return
		}
	}
	b.lead(batch, r)
}

// lead stores batch and answers it.
func (b *batcher) lead(batch []*waiting, leader *waiting) {
	ctx, cancel := context.WithTimeout(context.Background(), batchBudget)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			// A bug, not a database error: the batch's messages fail (the
			// provider delivers them again), the lead is passed on, and the
			// panic goes on to the leader's request.
			for _, r := range batch {
				r.res, r.err = Received{}, fmt.Errorf("storing its batch panicked: %v", p)
			}
			b.answer(batch, leader)
			panic(p)
		}
	}()
	msgs := make([]*inbound, len(batch))
	for i, r := range batch {
		msgs[i] = r.inbound
	}
	b.store(ctx, msgs)
	b.answer(batch, leader)
}

// answer tells the batch's members other than the leader that their
// results are set, and hands the messages that arrived meanwhile to the
// first of them.
func (b *batcher) answer(batch []*waiting, leader *waiting) {
	for _, r := range batch {
		if r != leader {
			r.done <- nil
		}
	}
	b.mu.Lock()
	next := b.takeLocked()
	if next == nil {
		b.leaders--
	}
	b.mu.Unlock()
	if next != nil {
		next[0].done <- next
	}
}

func (b *batcher) takeLocked() []*waiting {
	n := min(len(b.pending), maxBatch)
	if n == 0 {
		return nil
	}
	batch := make([]*waiting, n)
	copy(batch, b.pending)
	b.pending = append(b.pending[:0], b.pending[n:]...)
	return batch
}

// storeBatch stores a batch, one transaction per tenant. When a tenant's
// transaction fails, each of its messages is tried again on its own, so
// that one message the database refuses does not take the others with it.
func (s *Service) storeBatch(ctx context.Context, batch []*inbound) {
	byTenant := map[uuid.UUID][]*inbound{}
	for _, m := range batch {
		byTenant[m.ig.TenantID] = append(byTenant[m.ig.TenantID], m)
	}
	for tid, msgs := range byTenant {
		err := s.store(ctx, tid, msgs)
		if err == nil {
			continue
		}
		if len(msgs) == 1 {
			msgs[0].err = err
			continue
		}
		s.log.WarnContext(ctx, "inbound batch not stored: its messages are stored one by one", "tenant_id", tid, "messages", len(msgs), "err", err)
		for _, m := range msgs {
			m.err = s.store(ctx, tid, []*inbound{m})
		}
	}
}
