package httpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"parley/internal/conversation"
	"parley/internal/realtime"
	"parley/web"
)

// feeds give each tenant with open event streams on this replica one
// reader of its changes: a change is read from the database and its chat
// row rendered once, however many of the tenant's pages are open, and each
// stream sends its page only the difference (the changed rows, the new
// messages of its open chat, its header).
type feeds struct {
	hub  *realtime.Hub
	conv *conversation.Service
	log  *slog.Logger

	mu sync.Mutex
	m  map[uuid.UUID]*feed
}

type feed struct {
	tenant uuid.UUID
	sub    *realtime.Sub
	done   chan struct{}

	mu      sync.Mutex
	streams map[*streamQueue]struct{}
}

// streamQueue is one stream's batches not yet sent. A stream that falls
// far behind drops them and resyncs instead.
type streamQueue struct {
	C chan struct{}

	mu      sync.Mutex
	batches []*batch
	resync  bool
}

const maxQueued = 64

func (q *streamQueue) push(b *batch) {
	q.mu.Lock()
	if len(q.batches) >= maxQueued {
		q.batches, q.resync = nil, true
	} else {
		q.batches = append(q.batches, b)
	}
	q.mu.Unlock()
	select {
	case q.C <- struct{}{}:
	default:
	}
}

// take returns the queued batches, and whether the stream must resync.
func (q *streamQueue) take() ([]*batch, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	bs, r := q.batches, q.resync
	q.batches, q.resync = nil, false
	return bs, r
}

// batch is what changed, read once for every stream of the tenant.
type batch struct {
	changes realtime.Changes
	rows    []conversation.ChatRow
	at      time.Time

	mu     sync.Mutex
	html   map[rowKey][]byte // whole "row" events
	alerts map[int64][]byte  // whole "alert" events, by chat
}

type rowKey struct {
	id      int64
	me      int64
	unread  int
	current bool
}

// row renders chat row r as agent me sees it, once per look, as a whole
// "row" event.
func (b *batch) row(ctx context.Context, r conversation.ChatRow, me int64, unread int, current bool) []byte {
	k := rowKey{r.ID, me, unread, current}
	if r.LastAgentID == nil || *r.LastAgentID != me {
		k.me = 0 // the row looks the same to every agent but its last writer
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if h, ok := b.html[k]; ok {
		return h
	}
	var buf bytes.Buffer
	_ = web.ChatRow(web.RowView{Case: r.Case, Me: me, Unread: unread, Current: current, Now: b.at}).Render(ctx, &buf)
	if b.html == nil {
		b.html = map[rowKey][]byte{}
	}
	b.html[k] = appendEvent(nil, "row", buf.Bytes())
	return b.html[k]
}

// alert is the "alert" event of chat row r (see liveStream.alert).
func (b *batch) alert(r conversation.ChatRow) []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	if a, ok := b.alerts[r.ID]; ok {
		return a
	}
	data, _ := json.Marshal(map[string]any{"case": r.ID, "name": r.ClientName, "preview": r.Preview})
	if b.alerts == nil {
		b.alerts = map[int64][]byte{}
	}
	b.alerts[r.ID] = appendEvent(nil, "alert", data)
	return b.alerts[r.ID]
}

// appendEvent appends a server-sent event to out; each line of data is a
// data line.
func appendEvent(out []byte, name string, data []byte) []byte {
	out = append(out, "event: "...)
	out = append(out, name...)
	out = append(out, '\n')
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		out = append(out, "data: "...)
		out = append(out, line...)
		out = append(out, '\n')
	}
	return append(out, '\n')
}

func newFeeds(hub *realtime.Hub, conv *conversation.Service, log *slog.Logger) *feeds {
	return &feeds{hub: hub, conv: conv, log: log, m: map[uuid.UUID]*feed{}}
}

// join adds a stream to the tenant's feed, starting it if needed.
func (fs *feeds) join(tid uuid.UUID) (*feed, *streamQueue) {
	q := &streamQueue{C: make(chan struct{}, 1)}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.m[tid]
	if f == nil {
		f = &feed{tenant: tid, sub: fs.hub.Subscribe(tid), done: make(chan struct{}), streams: map[*streamQueue]struct{}{}}
		fs.m[tid] = f
		go fs.run(f)
	}
	f.mu.Lock()
	f.streams[q] = struct{}{}
	f.mu.Unlock()
	return f, q
}

// leave removes a stream; the last one stops the feed.
func (fs *feeds) leave(f *feed, q *streamQueue) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f.mu.Lock()
	delete(f.streams, q)
	empty := len(f.streams) == 0
	f.mu.Unlock()
	if empty {
		delete(fs.m, f.tenant)
		fs.hub.Unsubscribe(f.sub)
		close(f.done)
	}
}

// batchEvery is the least time between two batches of a tenant: a lone
// change goes out at once, a busy tenant's changes in one batch per
// interval, so that each stream writes (and flushes) at most ten times a
// second however fast clients write.
const batchEvery = 100 * time.Millisecond

func (fs *feeds) run(f *feed) {
	ctx := context.Background()
	var last time.Time
	for {
		select {
		case <-f.done:
			return
		case <-f.sub.C:
		}
		if wait := batchEvery - time.Since(last); wait > 0 {
			select {
			case <-f.done:
				return
			case <-time.After(wait):
			}
		}
		last = time.Now()
		ch := f.sub.Changes()
		b := &batch{changes: ch, at: time.Now()}
		if !ch.Resync && (len(ch.Cases) > 0 || len(ch.Senders) > 0) {
			ids := make([]int64, 0, len(ch.Cases))
			for id := range ch.Cases {
				ids = append(ids, id)
			}
			senders := make([]realtime.Sender, 0, len(ch.Senders))
			for s := range ch.Senders {
				senders = append(senders, s)
			}
			rows, err := fs.conv.ChangedChats(ctx, f.tenant, ids, senders)
			if err != nil {
				fs.log.Warn("live updates: changed chats not read; streams resync", "err", err)
				b.changes.Resync = true
			}
			b.rows = rows
		}
		f.mu.Lock()
		for q := range f.streams {
			q.push(b)
		}
		f.mu.Unlock()
	}
}
