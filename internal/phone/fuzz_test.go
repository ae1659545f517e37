package phone_test

import (
	"strings"
	"testing"

	"parley/internal/phone"
)

// FuzzNormalize feeds the phone parser anything an agent or a provider
// might send (the fault suite's R7 runs it with go test -fuzz). A number
// it accepts is E.164 ("+" and at most 15 digits) and stays the
// same when read again, so that the same person compares equal.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"+1 (555) 765-4321", "0049 30 123456", "15557654321", "030 123456", "+44 20 7946 0958", "whatsapp:+15557654321", "", "+", "00", "+999999999999999999"} {
		f.Add(s, "DE")
		f.Add(s, "")
	}
	f.Add("0049000000", "0")      // found by R7: "+4900000", read again "+490000"
	f.Add("10000000000000", "DE") // found by R7: "+4910000000000000", 16 digits
	f.Fuzz(func(t *testing.T, s, region string) {
		got, err := phone.Normalize(s, region)
		if err != nil {
			return
		}
		digits := strings.TrimPrefix(got, "+")
		if !strings.HasPrefix(got, "+") || len(digits) < 2 || len(digits) > 15 || strings.Trim(digits, "0123456789") != "" {
			t.Fatalf("Normalize(%q, %q) = %q: not E.164", s, region, got)
		}
		again, err := phone.Normalize(got, "")
		if err != nil || again != got {
			t.Fatalf("Normalize(%q, %q) = %q, but read again it is %q (%v)", s, region, got, again, err)
		}
	})
}
