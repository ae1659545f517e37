package conversation

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

// Every caller gets an answer, whatever the batches: also when storing one
// batch panics (its messages are then left to the one-by-one path) and the
// lead must pass on.
func TestBatcherAnswersEveryCallerEvenAfterAPanic(t *testing.T) {
	var calls atomic.Int32
	b := &batcher{store: func(_ context.Context, batch []*inboundReq) {
		if calls.Add(1) == 1 {
			panic("a bug in storing")
		}
		for _, r := range batch {
			r.res.MessageID = 1
		}
	}}
	reqs := make([]*inboundReq, 200)
	var panics atomic.Int32
	var wg sync.WaitGroup
	for i := range reqs {
		reqs[i] = &inboundReq{}
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
	stored, single := 0, 0
	for _, r := range reqs {
		switch {
		case r.res.MessageID == 1 && !r.single:
			stored++
		case r.single && r.res.MessageID == 0:
			single++
		default:
			t.Fatalf("a caller got %+v", r)
		}
	}
	if single == 0 || stored+single != len(reqs) || b.leaders != 0 || len(b.pending) != 0 {
		t.Fatalf("stored %d, single %d, leaders left %d, pending %d", stored, single, b.leaders, len(b.pending))
	}
}
