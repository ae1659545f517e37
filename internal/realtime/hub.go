package realtime

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Hub listens on Postgres with one connection and fans events out to the
// subscribers of this replica, by tenant.
type Hub struct {
	url string
	log *slog.Logger

	mu       sync.Mutex
	subs     map[uuid.UUID]map[*Sub]struct{}
	watchers map[string][]func()
}

// Sub is one browser stream's subscription. Events are coalesced: the
// stream learns what changed since it last looked, never blocks the hub,
// and a slow stream simply sees several changes at once.
type Sub struct {
	tenant uuid.UUID
	// C has a value when something changed.
	C chan struct{}

	mu      sync.Mutex
	changes Changes
}

// Changes is what changed since a stream last looked.
type Changes struct {
	Cases     map[int64]bool  // chats by id
	Senders   map[Sender]bool // chats by their client's number on their integration
	Clients   bool            // a client profile changed
	Reads     []Read          // agents read chats
	SignedOut map[int64]bool  // agents who signed out of a session (KindSignedOut)
	// Resync: everything must be re-read: the hub reconnected and may have
	// missed events, or who sees what changed (KindTeam).
	Resync bool
}

// Read is an agent's read of a chat up to a message.
type Read struct{ Agent, Case, Message int64 }

// Chat says whether the chat with this id, whose client has this number on
// its integration, changed.
func (c Changes) Chat(id int64, of Sender) bool {
	return c.Resync || c.Cases[id] || c.Senders[of]
}

// Changes returns what changed since the last call.
func (s *Sub) Changes() Changes {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.changes
	s.changes = Changes{}
	return c
}

func (s *Sub) add(ev Event, resync bool) {
	s.mu.Lock()
	c := &s.changes
	for _, from := range ev.Senders {
		if c.Senders == nil {
			c.Senders = map[Sender]bool{}
		}
		c.Senders[from] = true
	}
	c.Clients = c.Clients || ev.Kind == "client"
	switch {
	case ev.Kind == KindRead:
		c.Reads = append(c.Reads, Read{Agent: ev.Agent, Case: ev.CaseID, Message: ev.Message})
	case ev.Kind == KindSignedOut:
		if c.SignedOut == nil {
			c.SignedOut = map[int64]bool{}
		}
		c.SignedOut[ev.Agent] = true
	case ev.CaseID != 0:
		if c.Cases == nil {
			c.Cases = map[int64]bool{}
		}
		c.Cases[ev.CaseID] = true
	}
	c.Resync = c.Resync || resync || ev.Kind == KindTeam
	s.mu.Unlock()
	select {
	case s.C <- struct{}{}:
	default:
	}
}

// NewHub returns a hub that connects to url (a LISTEN needs its own
// connection, outside the pool).
func NewHub(url string, log *slog.Logger) *Hub {
	return &Hub{url: url, log: log, subs: map[uuid.UUID]map[*Sub]struct{}{}}
}

// Subscribe starts receiving the tenant's events.
func (h *Hub) Subscribe(tenant uuid.UUID) *Sub {
	s := &Sub{tenant: tenant, C: make(chan struct{}, 1)}
	h.mu.Lock()
	if h.subs[tenant] == nil {
		h.subs[tenant] = map[*Sub]struct{}{}
	}
	h.subs[tenant][s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Unsubscribe stops a subscription.
func (h *Hub) Unsubscribe(s *Sub) {
	h.mu.Lock()
	delete(h.subs[s.tenant], s)
	if len(h.subs[s.tenant]) == 0 {
		delete(h.subs, s.tenant)
	}
	h.mu.Unlock()
}

// Watch calls fn on every event of kind, from any tenant, and after the
// listener reconnected (events may have been missed meanwhile). It is for
// this replica's caches of data that seldom changes.
func (h *Hub) Watch(kind string, fn func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.watchers == nil {
		h.watchers = map[string][]func(){}
	}
	h.watchers[kind] = append(h.watchers[kind], fn)
}

func (h *Hub) publish(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if fns := h.watchers[ev.Kind]; len(fns) > 0 {
		for _, fn := range fns {
			fn()
		}
		return // for this replica's caches, not for browsers
	}
	for s := range h.subs[ev.TenantID] {
		s.add(ev, false)
	}
}

// resyncAll tells every subscriber to re-read everything: events may have
// been missed while the listener was disconnected.
func (h *Hub) resyncAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, fns := range h.watchers {
		for _, fn := range fns {
			fn()
		}
	}
	for _, subs := range h.subs {
		for s := range subs {
			s.add(Event{}, true)
		}
	}
}

// Run listens until ctx ends, reconnecting after failures.
func (h *Hub) Run(ctx context.Context) {
	first := true
	for ctx.Err() == nil {
		err := h.listen(ctx, !first)
		first = false
		if ctx.Err() != nil {
			return
		}
		h.log.Warn("realtime listener lost its connection; reconnecting", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (h *Hub) listen(ctx context.Context, reconnected bool) error {
	conn, err := pgx.Connect(ctx, h.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return err
	}
	if reconnected {
		h.resyncAll()
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var ev Event
		if err := json.Unmarshal([]byte(n.Payload), &ev); err != nil {
			h.log.Error("realtime: bad notification", "payload", n.Payload, "err", err)
			continue
		}
		h.publish(ev)
	}
}
