package conversation

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Group commit: items (inbound messages, delivery statuses) that arrive
// while another batch is being stored wait for it and are then stored
// together, in one transaction per tenant and one statement for all of them
// (store), instead of a transaction each. A lone item is stored at once, a
// batch of one; under load the batches grow by themselves.
//
// There are no background goroutines: the first caller to find no batch in
// flight stores the waiting messages itself, and on finishing hands the
// next waiting messages to the first of them, which leads that batch. A
// second batch starts beside one in flight only once minBeside messages
// wait: a batch costs its round trips, a statement's start and a commit
// whatever its size, so a second batch of one or two would spend the CPU
// that the first needs. Each caller gets exactly one message on its
// channel: its result is set, or the batch it is to lead (its own item is
// in it).

const (
	maxLeaders  = 2   // batches in flight at once
	minBeside   = 8   // messages waiting before a batch starts beside another
	maxBatch    = 128 // messages in one batch
	batchBudget = 15 * time.Second
)

// batcher stores items of type T (pointers that carry their own result)
// in batches.
type batcher[T any] struct {
	mu      sync.Mutex
	pending []*waiting[T]
	leaders int

	what   string                                      // the items, in the log: "inbound messages"
	tenant func(T) uuid.UUID                           // whose item it is
	store  func(context.Context, uuid.UUID, []T) error // stores one tenant's items in one transaction, setting their results
	fail   func(T, error)                              // sets the result of an item that was not stored
	log    *slog.Logger
}

// waiting is an item waiting in a batch.
type waiting[T any] struct {
	item T
	done chan []*waiting[T] // nil: the result is set; else: lead this batch
}

// submit returns once item's batch has set its result.
func (b *batcher[T]) submit(item T) {
	r := &waiting[T]{item: item, done: make(chan []*waiting[T], 1)}
	b.mu.Lock()
	b.pending = append(b.pending, r)
	var batch []*waiting[T]
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
func (b *batcher[T]) lead(batch []*waiting[T], leader *waiting[T]) {
	ctx, cancel := context.WithTimeout(context.Background(), batchBudget)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			// A bug, not a database error: the batch's items fail (the
			// provider delivers them again), the lead is passed on, and the
			// panic goes on to the leader's request.
			for _, r := range batch {
				b.fail(r.item, fmt.Errorf("storing its batch panicked: %v", p))
			}
			b.answer(batch, leader)
			panic(p)
		}
	}()
	byTenant := map[uuid.UUID][]T{}
	for _, r := range batch {
		tid := b.tenant(r.item)
		byTenant[tid] = append(byTenant[tid], r.item)
	}
	for tid, items := range byTenant {
		b.storeTenant(ctx, tid, items)
	}
	b.answer(batch, leader)
}

// storeTenant stores one tenant's items in one transaction. When it
// fails, each item is tried again on its own, so that one item the
// database refuses does not take the others with it.
func (b *batcher[T]) storeTenant(ctx context.Context, tid uuid.UUID, items []T) {
	err := b.store(ctx, tid, items)
	if err == nil {
		return
	}
	if len(items) == 1 {
		b.fail(items[0], err)
		return
	}
	b.log.WarnContext(ctx, "batch not stored: its items are stored one by one", "items", b.what, "tenant_id", tid, "count", len(items), "err", err)
	for _, it := range items {
		if err := b.store(ctx, tid, []T{it}); err != nil {
			b.fail(it, err)
		}
	}
}

// answer tells the batch's members other than the leader that their
// results are set, and hands the items that arrived meanwhile to the
// first of them.
func (b *batcher[T]) answer(batch []*waiting[T], leader *waiting[T]) {
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

func (b *batcher[T]) takeLocked() []*waiting[T] {
	n := min(len(b.pending), maxBatch)
	if n == 0 {
		return nil
	}
	batch := make([]*waiting[T], n)
	copy(batch, b.pending)
	b.pending = append(b.pending[:0], b.pending[n:]...)
	return batch
}
