package channel_test

import (
	"reflect"
	"strings"
	"testing"

	"parley/internal/channel"
)

func TestTemplateVariablesInNumberedOrder(t *testing.T) {
	got := channel.TemplateVariables("{{10}} {{2}} and {{ 1 }}, again {{2}}", map[string]string{"1": " Name ", "10": "Ten"})
	want := []channel.Variable{{Key: "1", Hint: "Name"}, {Key: "2"}, {Key: "10", Hint: "Ten"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := channel.TemplateVariables("No variables", nil); got != nil {
		t.Errorf("got %+v for a template without variables", got)
	}
}

func TestFillAndSplitTemplate(t *testing.T) {
	body := "Hi {{1}}, order {{2}}: {{3}}"
	if got := channel.FillTemplate(body, map[string]string{"1": "Ann", "2": "{{1}}"}); got != "Hi Ann, order {{1}}: {{3}}" {
		t.Errorf("FillTemplate: %q (a value is not filled again, a missing one stays)", got)
	}
	want := []channel.TemplatePart{{Text: "Hi "}, {Var: "1"}, {Text: ", order "}, {Var: "2"}, {Text: ": "}, {Var: "3"}}
	if got := channel.SplitTemplate(body); !reflect.DeepEqual(got, want) {
		t.Errorf("SplitTemplate: %+v", got)
	}
	if got := channel.SplitTemplate("plain"); !reflect.DeepEqual(got, []channel.TemplatePart{{Text: "plain"}}) {
		t.Errorf("SplitTemplate(plain): %+v", got)
	}
}

func TestCheckVariable(t *testing.T) {
	for v, want := range map[string]string{
		"Ann":                     "",
		"four    spaces ok":       "",
		"":                        "Fill in",
		"  ":                      "Fill in",
		"a\nb":                    "line breaks",
		"a\tb":                    "tabs",
		"five     spaces":         "four spaces",
		strings.Repeat("x", 1025): "1,024",
	} {
		got := channel.CheckVariable(v)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("CheckVariable(%.20q) = %q, want %q", v, got, want)
		}
	}
}
