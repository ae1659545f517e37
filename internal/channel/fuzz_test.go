package channel_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"parley/internal/channel"
)

// FuzzTemplateVariables checks the template variable check against
// WhatsApp's rules it states (the fault suite's R7 runs it with go test
// -fuzz): a value it lets through has none of what WhatsApp refuses; and
// reading and filling any template's variables never fails.
func FuzzTemplateVariables(f *testing.F) {
	f.Add("Hi {{1}}, your order {{2}} is ready.", "Ana")
	f.Add("{{ 1 }} and {{name}} and {{1}}", "a\tb")
	f.Add("{{1}}", "     five spaces")
	f.Add("no variables", strings.Repeat("x", 1025))
	f.Fuzz(func(t *testing.T, body, value string) {
		if why := channel.CheckVariable(value); why == "" {
			switch {
			case strings.TrimSpace(value) == "", strings.ContainsAny(value, "\n\r\t"), strings.Contains(value, "     "),
				utf8.RuneCountInString(value) > channel.MaxTemplateBodyRunes:
				t.Fatalf("CheckVariable let %q through", value)
			}
		}
		vars := channel.TemplateVariables(body, nil)
		values := map[string]string{}
		for _, v := range vars {
			if v.Key == "" {
				t.Fatalf("a variable without a key in %q", body)
			}
			values[v.Key] = value
		}
		_ = channel.FillTemplate(body, values)
		_ = channel.SplitTemplate(body)
	})
}
