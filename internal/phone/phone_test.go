package phone_test

import (
	"testing"

	"parley/internal/phone"
)

func TestNormalize(t *testing.T) {
	cases := []struct{ in, region, want string }{
		{"+1 (555) 765-4321", "", "+15557654321"},
		{"15557654321", "", "+15557654321"},
		{"0049 30 1234567", "", "+49301234567"},
		{"030 1234567", "DE", "+49301234567"},
		{"+14155238886", "US", "+14155238886"},
		{"(555) 765-4321", "US", "+15557654321"},
	}
	for _, c := range cases {
		got, err := phone.Normalize(c.in, c.region)
		if err != nil || got != c.want {
			t.Errorf("Normalize(%q, %q) = %q, %v; want %q", c.in, c.region, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "abc", "+1", "12", "555-CALL-NOW", "+999 1234567890123456"} {
		if got, err := phone.Normalize(bad, ""); err == nil {
			t.Errorf("Normalize(%q) = %q, want an error", bad, got)
		}
	}
}
