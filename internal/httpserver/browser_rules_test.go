package httpserver_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"parley/internal/app/apptest"
	"parley/internal/rule"
)

// TestBrowserRuleValuesFollowTheirKind: in the rules editor each
// condition and action offers its own values — statuses for a status,
// agents by name for the assignee and for "assign to an agent" — and a
// rule assigning to an agent picked by name is saved with that agent.
func TestBrowserRuleValuesFollowTheirKind(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	bob := d.addAgent(t, "Bob Builder", "bob@demo.test", "bobs long password")
	agent := apptest.Browser(t)
	demoLogin(t, agent, d.env.URL)
	apptest.Step(t, agent, "open the rules editor",
		chromedp.Navigate(d.env.URL+"/settings/rules"),
		chromedp.WaitVisible(chromedp.CSS(`select[name="condition_0"]`)),
	)
	choose := func(name, value string) []string {
		t.Helper()
		got, err := chromedp.Run(agent, chromedp.Evaluate[[]string](`(function(){
			var k = document.querySelector('select[name="`+name+`"]');
			k.value = `+jsString(value)+`;
			k.dispatchEvent(new Event("change", {bubbles: true}));
			var p = document.querySelector('select[name="`+name+`_pick"]');
			if (p.hidden) return [];
			return Array.from(p.options).filter(function (o) {
				return o.value && !(o.parentNode.tagName === "OPTGROUP" && (o.parentNode.hidden || o.parentNode.disabled));
			}).map(function (o) { return o.textContent.trim(); });
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := choose("condition_0", "assignee"); !slices.Contains(got, "Bob Builder") || !slices.Contains(got, "Nobody (unassigned)") || slices.Contains(got, "solved") || slices.Contains(got, "Support") {
		t.Errorf("the assignee condition offers %q", got)
	}
	if got := choose("condition_0", "status"); !slices.Contains(got, "solved") || slices.Contains(got, "Bob Builder") {
		t.Errorf("the status condition offers %q", got)
	}
	if got := choose("condition_0", "text_contains"); len(got) != 0 {
		t.Errorf("the text condition offers a list %q", got)
	}
	if hidden, _ := chromedp.Run(agent, chromedp.Evaluate[bool](`document.querySelector('input[name="condition_0_text"]').hidden`)); hidden {
		t.Errorf("the text condition hides its text box")
	}
	if got := choose("action_0", "assign_agent"); !slices.Contains(got, "Bob Builder") || !strings.Contains(strings.Join(got, "|"), "round robin") || slices.Contains(got, "solved") {
		t.Errorf("the assign action offers %q", got)
	}
	apptest.Step(t, agent, "a rule assigning new chats to Bob, by name",
		chromedp.SendKeys(chromedp.CSS(`input[name="name"]`), "To Bob"),
		jsDo(`var k=document.querySelector('select[name="condition_0"]');k.value="";k.dispatchEvent(new Event("change",{bubbles:true}))`),
		jsDo(`var p=document.querySelector('select[name="action_0_pick"]');p.value=Array.from(p.options).find(function(o){return o.textContent.trim()==="Bob Builder"}).value`),
		chromedp.Click(chromedp.CSS(".rule-form button.primary")),
	)
	apptest.WaitText(t, agent, ".rules-list", "To Bob")
	all, err := d.env.App.Rules.List(context.Background(), d.admin.TenantID)
	rules := slices.DeleteFunc(slices.Clone(all), func(r rule.Rule) bool { return r.Name != "To Bob" })
	if err != nil || len(rules) != 1 || len(rules[0].Actions) != 1 || rules[0].Actions[0].Kind != "assign_agent" || rules[0].Actions[0].Value != itoa(bob.ID) {
		t.Fatalf("rules saved: %+v %v", all, err)
	}
	apptest.Step(t, agent, "edit it again: Bob by name",
		chromedp.Navigate(d.env.URL+"/settings/rules/"+itoa(rules[0].ID)),
		chromedp.WaitVisible(chromedp.CSS(`select[name="action_0_pick"]`)),
	)
	if got, _ := chromedp.Run(agent, chromedp.Evaluate[string](`(function(){var p=document.querySelector('select[name="action_0_pick"]');return p.hidden?"(hidden)":p.options[p.selectedIndex].textContent.trim()})()`)); got != "Bob Builder" {
		t.Errorf("the saved rule shows the agent as %q", got)
	}
}
