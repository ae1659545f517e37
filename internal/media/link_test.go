package media_test

import (
	"strings"
	"testing"
	"time"

	"parley/internal/media"
)

// A link works until it expires; a changed expiry, token or key, or a
// token without a signature, does not open anything.
func TestSignedLinks(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	signed := media.SignToken(key, "abc123", now.Add(7*24*time.Hour))
	if tok, ok := media.OpenToken(key, signed, now.Add(7*24*time.Hour-time.Second)); !ok || tok != "abc123" {
		t.Fatalf("a fresh link: %q %v", tok, ok)
	}
	if _, ok := media.OpenToken(key, signed, now.Add(7*24*time.Hour)); ok {
		t.Error("an expired link opened")
	}
	parts := strings.Split(signed, ".")
	later := media.SignToken(key, "abc123", now.Add(30*24*time.Hour))
	forged := []string{
		"abc123",
		parts[0] + "." + strings.Split(later, ".")[1] + "." + parts[2], // expiry moved
		"abc124." + parts[1] + "." + parts[2],                          // another file
		media.SignToken([]byte("another key, another server......"), "abc123", now.Add(time.Hour)),
		signed + "x",
		"",
	}
	for _, f := range forged {
		if _, ok := media.OpenToken(key, f, now); ok {
			t.Errorf("%q opened", f)
		}
	}
}
