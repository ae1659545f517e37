package conversation

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Every caller gets an answer, whatever the batches: also when storing one
// batch panics (its messages then fail, for the provider to deliver again)
// and the lead must pass on.
func TestBatcherAnswersEveryCallerEvenAfterAPanic(t *testing.T) {
	var calls atomic.Int32
	b := &batcher[*inbound]{fail: func(m *inbound, err error) { m.err = err }, tenant: func(*inbound) uuid.UUID { return uuid.Nil }, store: func(_ context.Context, _ uuid.UUID, batch []*inbound) error {
		if calls.Add(1) == 1 {
			panic("a bug in storing")
		}
		for _, r := range batch {
			r.res.MessageID = 1
		}
		return nil
	}}
	reqs := make([]*inbound, 200)
	var panics atomic.Int32
	var wg sync.WaitGroup
	for i := range reqs {
		reqs[i] = &inbound{}
		wg.Go(func() {
			defer func() {
				if recover() != nil {
					panics.Add(1)
				}
			}()
			b.submit(reqs[i])
		})
	}
	wg.Wait()
	if panics.Load() != 1 {
		t.Fatalf("%d callers saw the panic, want the one leading that batch", panics.Load())
	}
	stored, failed := 0, 0
	for _, r := range reqs {
		switch {
		case r.res.MessageID == 1 && r.err == nil:
			stored++
		case r.err != nil && r.res.MessageID == 0:
			failed++
		default:
			t.Fatalf("a caller got %+v", r)
		}
	}
	if failed == 0 || stored+failed != len(reqs) || b.leaders != 0 || len(b.pending) != 0 {
		t.Fatalf("stored %d, failed %d, leaders left %d, pending %d", stored, failed, b.leaders, len(b.pending))
	}
}

// A second batch starts beside the one in flight only once minBeside
// messages wait; fewer wait for the first to finish.
func TestASecondBatchStartsOnlyWithEnoughMessages(t *testing.T) {
	release := make(chan struct{})
	started := make(chan int, 10) // each batch's size, as it starts
	b := &batcher[*inbound]{fail: func(m *inbound, err error) { m.err = err }, tenant: func(*inbound) uuid.UUID { return uuid.Nil }, store: func(_ context.Context, _ uuid.UUID, batch []*inbound) error {
		started <- len(batch)
		if len(batch) == 1 {
			<-release // the first batch stays in flight
		}
		for _, r := range batch {
			r.res.MessageID = 1
		}
		return nil
	}}
	var wg sync.WaitGroup
	submit := func() { wg.Go(func() { b.submit(&inbound{}) }) }
	waiting := func(n int) {
		t.Helper()
		for range 1000 {
			b.mu.Lock()
			k := len(b.pending)
			b.mu.Unlock()
			if k == n {
				return
			}
			time.Sleep(time.Millisecond)
		}
		t.Fatalf("%d messages never waited", n)
	}

	submit()
	if n := <-started; n != 1 {
		t.Fatalf("the first batch has %d messages, want 1", n)
	}
	for range minBeside - 1 {
		submit()
	}
	waiting(minBeside - 1)
	select {
	case n := <-started:
		t.Fatalf("a batch of %d started beside the one in flight", n)
	default:
	}
	submit()
	if n := <-started; n != minBeside {
		t.Fatalf("the second batch has %d messages, want %d", n, minBeside)
	}
	close(release)
	wg.Wait()
	if b.leaders != 0 || len(b.pending) != 0 {
		t.Fatalf("leaders left %d, pending %d", b.leaders, len(b.pending))
	}
}
