package channel

import (
	"regexp"
	"strings"
)

// userIDRe is a business-scoped user id: a two-letter country code, a
// period, an optional "ENT." (a parent id shared across a business's
// portfolios) and up to 128 letters and digits (Meta's "Business-scoped
// user IDs" page; Chatwoot's Twilio::WhatsappIdentifierHelper reads the
// same shape).
var userIDRe = regexp.MustCompile(`^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$`)

// IsUserID says whether s is a business-scoped user id (BSUID).
func IsUserID(s string) bool { return userIDRe.MatchString(s) }

// ParseVCards reads the contact cards of a vCard text (versions 2.1, 3.0
// and 4.0, as WhatsApp shares them): each card's name (FN, else N), its
// phone numbers, emails and organisation. Folded lines are unfolded;
// parameters (TYPE=CELL, waid=…) are ignored. A text without a card reads
// as none.
func ParseVCards(text string) []Contact {
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) && len(lines) > 0 {
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	var (
		out  []Contact
		cur  *Contact
		name string // from N, when there is no FN
	)
	for _, l := range lines {
		key, value, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		// "item1.TEL;type=CELL;waid=15551234567" → TEL
		prop := strings.ToUpper(strings.TrimSpace(strings.Split(key, ";")[0]))
		if i := strings.LastIndexByte(prop, '.'); i >= 0 {
			prop = prop[i+1:]
		}
		value = unescapeVCard(strings.TrimSpace(value))
		switch {
		case prop == "BEGIN" && strings.EqualFold(value, "VCARD"):
			cur, name = &Contact{}, ""
		case cur == nil:
		case prop == "END":
			if cur.Name == "" {
				cur.Name = name
			}
			if cur.Name != "" || len(cur.Phones) > 0 || len(cur.Emails) > 0 {
				out = append(out, *cur)
			}
			cur = nil
		case prop == "FN":
			cur.Name = value
		case prop == "N":
			parts := strings.Split(value, ";")
			var given []string
			for _, i := range []int{3, 1, 2, 0, 4} { // prefix, given, middle, family, suffix
				if i < len(parts) && strings.TrimSpace(parts[i]) != "" {
					given = append(given, strings.TrimSpace(parts[i]))
				}
			}
			name = strings.Join(given, " ")
		case prop == "TEL" && value != "":
			cur.Phones = append(cur.Phones, strings.TrimPrefix(value, "tel:"))
		case prop == "EMAIL" && value != "":
			cur.Emails = append(cur.Emails, value)
		case prop == "ORG":
			cur.Org = strings.TrimRight(strings.ReplaceAll(value, ";", ", "), ", ")
		}
	}
	return out
}

func unescapeVCard(s string) string {
	return strings.NewReplacer(`\,`, ",", `\;`, ";", `\n`, " ", `\N`, " ", `\\`, `\`).Replace(s)
}

// IsVCard says whether a content type is a contact card's.
func IsVCard(contentType string) bool {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	return ct == "text/vcard" || ct == "text/x-vcard" || ct == "text/directory"
}
