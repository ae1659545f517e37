package realtime

import (
	"testing"

	"github.com/google/uuid"
)

// An event naming the senders of a batch of messages marks their chats
// changed for the tenant's streams, and only theirs.
func TestAnEventOfSeveralSendersReachesEachOfTheirChats(t *testing.T) {
	h := NewHub("", nil)
	tenant := uuid.New()
	s := h.Subscribe(tenant)
	ann, bob, cyd := Sender{1, "+15550000001"}, Sender{1, "+15550000002"}, Sender{1, "+15550000003"}
	h.publish(Event{TenantID: tenant, Kind: "message", Senders: []Sender{ann, bob}})
	h.publish(Event{TenantID: uuid.New(), Kind: "message", Senders: []Sender{cyd}})
	h.publish(Event{TenantID: tenant, Kind: "case", CaseID: 9})
	select {
	case <-s.C:
	default:
		t.Fatal("the stream was not told")
	}
	c := s.Changes()
	for _, w := range []struct {
		id      int64
		of      Sender
		changed bool
	}{
		{7, ann, true},
		{8, bob, true},
		{10, cyd, false},                       // another tenant's
		{11, Sender{2, "+15550000001"}, false}, // Ann on another integration
		{9, Sender{}, true},
	} {
		if got := c.Chat(w.id, w.of); got != w.changed {
			t.Errorf("chat %d of %v changed: %v, want %v", w.id, w.of, got, w.changed)
		}
	}
	if again := s.Changes(); again.Chat(7, ann) || again.Chat(9, Sender{}) {
		t.Error("changes were reported twice")
	}
}

// An agent's read reaches the tenant's streams as a read (for that agent's
// other pages), not as a change of the chat that every page re-reads.
func TestAReadIsAReadNotAChange(t *testing.T) {
	h := NewHub("", nil)
	tenant := uuid.New()
	s := h.Subscribe(tenant)
	h.publish(Event{TenantID: tenant, Kind: KindRead, CaseID: 7, Agent: 3, Message: 42})
	c := s.Changes()
	if c.Chat(7, Sender{}) {
		t.Error("a read counts as a change of the chat")
	}
	if len(c.Reads) != 1 || c.Reads[0] != (Read{Agent: 3, Case: 7, Message: 42}) {
		t.Errorf("reads = %+v", c.Reads)
	}
}
