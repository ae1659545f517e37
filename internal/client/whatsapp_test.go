package client

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// A new client is named after their WhatsApp profile, cut to the longest
// name a client may have (an agent could not save a longer one), or after
// their number when WhatsApp gives no name.
func TestNewClientIsNamedAfterTheProfile(t *testing.T) {
	long := strings.Repeat("é", maxNameRunes+50)
	for _, c := range []struct{ profile, want string }{
		{"Casey", "Casey"},
		{"", "+15557654321"},
		{strings.Repeat("é", maxNameRunes), strings.Repeat("é", maxNameRunes)},
		{long, strings.Repeat("é", maxNameRunes-1) + "…"},
	} {
		got := nameFromProfile(c.profile, "+15557654321")
		if got != c.want || utf8.RuneCountInString(got) > maxNameRunes {
			t.Errorf("profile of %d runes: name of %d runes %q", utf8.RuneCountInString(c.profile), utf8.RuneCountInString(got), got)
		}
	}
}
