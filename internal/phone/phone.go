// Package phone parses the phone numbers people type ("+1 (555) 765-4321",
// "0049 30 123456", "15557654321") into E.164 with nyaruka/phonenumbers, so
// that numbers from WhatsApp, from agents and from providers compare equal.
package phone

import (
	"errors"
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalid is a number that is not a possible phone number.
var ErrInvalid = errors.New("not a valid phone number")

// Normalize returns s in E.164 ("+15557654321"). Numbers without a country
// code are read in defaultRegion (ISO 3166 code such as "US" or "DE"; empty
// means a country code is required). A leading 00 is an international prefix.
func Normalize(s, defaultRegion string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ErrInvalid
	}
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	region := strings.ToUpper(defaultRegion)
	if !strings.HasPrefix(s, "+") && region == "" {
		// Digits only and long enough to carry a country code: read as international.
		if digits := onlyDigits(s); len(digits) >= 10 {
			s = "+" + digits
		}
	}
	n, err := phonenumbers.Parse(s, region)
	if err != nil {
		return "", ErrInvalid
	}
	if !phonenumbers.IsPossibleNumber(n) {
		return "", ErrInvalid
	}
	e164 := phonenumbers.Format(n, phonenumbers.E164)
	// E.164 has at most 15 digits; the parser's "possible" length check
	// lets a long national number through ("10000000000000" in DE gave
	// "+4910000000000000", found by the fault suite's R7).
	if len(e164) > 16 {
		return "", ErrInvalid
	}
	// A number whose E.164 form reads back as another number (a trunk 0
	// after the country code, "+49 0…", is dropped once more on every
	// reading) is no real number: one person would be stored under two.
	if again, err := phonenumbers.Parse(e164, ""); err != nil || phonenumbers.Format(again, phonenumbers.E164) != e164 {
		return "", ErrInvalid
	}
	return e164, nil
}

// Digits is the number without "+", as WhatsApp IDs and wa.me links use it.
func Digits(e164 string) string { return strings.TrimPrefix(e164, "+") }

func onlyDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
		default:
			return ""
		}
	}
	return b.String()
}

// Regions are the countries phone numbers can be read in (ISO 3166
// codes), sorted.
func Regions() []string {
	var out []string
	for r := range phonenumbers.GetSupportedRegions() {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// KnownRegion says whether r is one of Regions.
func KnownRegion(r string) bool {
	_, ok := phonenumbers.GetSupportedRegions()[r]
	return ok
}
