package realtime

import (
	"maps"
	"slices"
	"testing"

	"github.com/google/uuid"
)

// An event naming several chats (a batch of messages) marks each of them
// changed for the tenant's streams.
func TestAnEventOfSeveralChatsReachesEach(t *testing.T) {
	h := NewHub("", nil)
	tenant := uuid.New()
	s := h.Subscribe(tenant)
	h.publish(Event{TenantID: tenant, Kind: "message", CaseIDs: []int64{7, 9}})
	h.publish(Event{TenantID: uuid.New(), Kind: "message", CaseIDs: []int64{8}})
	select {
	case <-s.C:
	default:
		t.Fatal("the stream was not told")
	}
	cases, _, _ := s.Changes()
	if got := slices.Sorted(maps.Keys(cases)); !slices.Equal(got, []int64{7, 9}) {
		t.Errorf("changed chats %v, want [7 9]", got)
	}
}
