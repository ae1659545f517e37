package web

import (
	"testing"
	"time"

	"parley/internal/conversation"
)

// Issue 21, finding 8: a window closing within the hour, and within 15
// minutes, is coloured; "17 min left" no longer looks like "23 h left".
func TestWindowTimeColouredWhenClosingSoon(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for _, w := range []struct {
		left time.Duration
		want string
	}{
		{23 * time.Hour, ""}, {59 * time.Minute, "window-1h"}, {17 * time.Minute, "window-1h"},
		{14 * time.Minute, "window-15m"}, {-time.Minute, "window-closed"},
	} {
		if got := windowClass(now, now.Add(w.left)); got != w.want {
			t.Errorf("%s left: class %q, want %q", w.left, got, w.want)
		}
	}
}

// Issue 21, finding 8: the preview says who wrote last.
func TestRowSaysWhoWroteLast(t *testing.T) {
	in, out := "in", "out"
	dana, bob := int64(1), int64(2)
	danaName := "Dana"
	for _, w := range []struct {
		c    conversation.Case
		me   int64
		want string
	}{
		{conversation.Case{LastDirection: &in}, dana, ""},
		{conversation.Case{LastDirection: &out, LastAgentID: &dana, LastAgentName: &danaName}, dana, "You:"},
		{conversation.Case{LastDirection: &out, LastAgentID: &dana, LastAgentName: &danaName}, bob, "Dana:"},
		{conversation.Case{LastDirection: &out}, bob, "Sent outside Parley:"},
	} {
		if got := lastWho(w.c, w.me); got != w.want {
			t.Errorf("lastWho = %q, want %q", got, w.want)
		}
	}
}
