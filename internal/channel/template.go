package channel

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// placeholder matches a template variable: {{1}}, {{ 2 }}.
var placeholder = regexp.MustCompile(`\{\{\s*([0-9A-Za-z_]+)\s*\}\}`)

// TemplateVariables lists the variables of body in their numbered order,
// each with its hint from hints (the provider's sample values).
func TemplateVariables(body string, hints map[string]string) []Variable {
	seen := map[string]bool{}
	var vars []Variable
	for _, m := range placeholder.FindAllStringSubmatch(body, -1) {
		if k := m[1]; !seen[k] {
			seen[k] = true
			vars = append(vars, Variable{Key: k, Hint: strings.TrimSpace(hints[k])})
		}
	}
	sort.SliceStable(vars, func(i, j int) bool {
		a, errA := strconv.Atoi(vars[i].Key)
		b, errB := strconv.Atoi(vars[j].Key)
		if errA == nil && errB == nil {
			return a < b
		}
		return errA == nil && errB != nil
	})
	return vars
}

// FillTemplate puts the values into body's placeholders; a placeholder
// without a value stays as it is.
func FillTemplate(body string, values map[string]string) string {
	return placeholder.ReplaceAllStringFunc(body, func(ph string) string {
		if v, ok := values[placeholder.FindStringSubmatch(ph)[1]]; ok {
			return v
		}
		return ph
	})
}

// SortTemplates orders templates as the macros panel shows them: by name,
// then language.
func SortTemplates(ts []Template) {
	sort.SliceStable(ts, func(i, j int) bool {
		a, b := strings.ToLower(ts[i].Name), strings.ToLower(ts[j].Name)
		if a != b {
			return a < b
		}
		return ts[i].Language < ts[j].Language
	})
}

// WhatsApp's rules for template variables and text (Meta's template
// guidelines; Twilio error 21656 and Meta error 132005): a body of at
// most 1,024 characters once filled; with a header and a footer of 60
// each, a template's whole text stays under MaxTemplateTextRunes.
const (
	MaxTemplateBodyRunes = 1024
	MaxTemplateTextRunes = 1200
)

// CheckVariable says, in words for the agent, what WhatsApp would refuse
// in a variable's value, or "" when it is fine.
func CheckVariable(v string) string {
	switch {
	case strings.TrimSpace(v) == "":
		return "Fill in this variable."
	case strings.ContainsAny(v, "\n\r\t"):
		return "WhatsApp does not accept line breaks or tabs in a variable."
	case strings.Contains(v, "     "):
		return "WhatsApp does not accept more than four spaces in a row in a variable."
	case utf8.RuneCountInString(v) > MaxTemplateBodyRunes:
		return "This value is longer than a whole template may be (1,024 characters)."
	}
	return ""
}

// TemplatePart is a piece of a template's text: plain text, or the key of
// a variable.
type TemplatePart struct{ Text, Var string }

// SplitTemplate cuts body into text and variables, in order.
func SplitTemplate(body string) []TemplatePart {
	var out []TemplatePart
	last := 0
	for _, m := range placeholder.FindAllStringSubmatchIndex(body, -1) {
		if m[0] > last {
			out = append(out, TemplatePart{Text: body[last:m[0]]})
		}
		out = append(out, TemplatePart{Var: body[m[2]:m[3]]})
		last = m[1]
	}
	if last < len(body) {
		out = append(out, TemplatePart{Text: body[last:]})
	}
	return out
}

// TemplateText is a template's whole text as the client reads it: the
// text header, the body and the footer, each on its own line.
func TemplateText(header, body, footer string) string {
	var parts []string
	for _, p := range []string{header, body, footer} {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "\n")
}

// Text is the template's whole text, its placeholders left as they are.
func (t Template) Text() string { return TemplateText(t.HeaderText, t.Body, t.Footer) }

// Kind names for the agent, by provider type: what a template that
// cannot be sent is called in "… templates cannot be sent from Parley".
func KindLabel(kind string) string {
	switch kind {
	case "twilio/list-picker":
		return "List picker"
	case "twilio/location":
		return "Location"
	case "twilio/catalog":
		return "Catalog"
	case "twilio/carousel":
		return "Carousel"
	case "twilio/flows", "whatsapp/flows":
		return "WhatsApp Flows"
	case "twilio/schedule":
		return "Schedule"
	case "twilio/pay":
		return "Payment"
	}
	return kind
}

// CannotSend is the reason shown for a template of a kind Parley does
// not send.
func CannotSend(label string) string {
	return label + " templates cannot be sent from Parley"
}
