package httpserver_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"parley/internal/app/apptest"
)

// TestBrowserMergeProfilesAndUndo: a client writes on WhatsApp; an agent
// types that number into another client's Phone field; Parley offers to
// merge the two; the agent picks the name to keep and merges; the profile
// shows both histories; undo brings both profiles back as they were.
func TestBrowserMergeProfilesAndUndo(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557654321", "Hello, it's Casey")
	casey := d.liveChats(t)[0].ClientID
	var pat int64
	err := d.env.App.DB.InTenant(t.Context(), d.admin.TenantID, func(tx pgx.Tx) error {
		if err := tx.QueryRow(t.Context(), `INSERT INTO clients (tenant_id, name, email, created_channel) VALUES (current_tenant(), 'Pat Phone', 'pat@example.com', 'phone') RETURNING id`).Scan(&pat); err != nil {
			return err
		}
		_, err := tx.Exec(t.Context(), `INSERT INTO cases (tenant_id, number, client_id, channel, group_id, state, status, preview, created_at, last_activity_at, ended_at)
			VALUES (current_tenant(), 900, $1, 'phone', $2, 'ended', 'solved', 'Called about an invoice', now(), now(), now())`, pat, d.ig.DefaultGroupID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	browsers := apptest.Browsers(t, 2)
	b, other := browsers[0], browsers[1]
	demoLogin(t, b, d.env.URL)
	// Another agent has Casey's profile open while the merge happens.
	demoLogin(t, other, d.env.URL)
	apptest.Step(t, other, "another agent looks at Casey's profile",
		chromedp.Navigate(d.env.URL+"/clients/"+itoa(casey)),
		chromedp.WaitVisible(chromedp.CSS("form.client-form")),
	)
	apptest.Step(t, b, "the agent types Casey's number into Pat's phone field",
		chromedp.Navigate(d.env.URL+"/clients/"+itoa(pat)),
		chromedp.WaitVisible(chromedp.CSS("form.client-form #f-phone")),
		chromedp.SendKeys(chromedp.CSS("form.client-form #f-phone"), "+1 (555) 765-4321"),
		chromedp.Click(chromedp.CSS("form.client-form button.primary")),
		chromedp.WaitVisible(chromedp.CSS(".merge-offer")),
	)
	if got := apptest.TextOf(t, b, ".merge-offer"); !strings.Contains(got, "Casey Customer") {
		t.Fatalf("merge offer: %q", got)
	}
	apptest.Step(t, b, "accepts the offer and keeps Pat's name",
		chromedp.Click(chromedp.CSS(".merge-offer a.button")),
		chromedp.WaitVisible(chromedp.CSS(`input[name="choose_name"][value="survivor"]`)),
		chromedp.Click(chromedp.CSS(`input[name="choose_name"][value="survivor"]`)),
	)
	apptest.Shot(t, b, "merge-confirm")
	apptest.Step(t, b, "merges",
		chromedp.Click(chromedp.CSS("form.card button.primary")),
		chromedp.WaitVisible(chromedp.CSS(".merges")),
	)
	history := visibleTexts(t, b, ".previous-cases li")
	if len(history) != 2 || !strings.Contains(strings.Join(history, " "), "Called about an invoice") || !strings.Contains(strings.Join(history, " "), "Hello, it's Casey") {
		t.Fatalf("merged history %q, want both profiles' cases", history)
	}
	wa, _ := chromedp.Run(b, chromedp.Value(chromedp.CSS("#f-whatsapp")))
	if wa != "+15557654321" {
		t.Errorf("the merged profile's WhatsApp is %q", wa)
	}
	apptest.Shot(t, b, "merged")
	// The other agent's page follows, without them reloading it.
	apptest.WaitText(t, other, "h1", "Pat Phone")
	apptest.Step(t, b, "Casey's old page leads to the merged profile",
		chromedp.Navigate(d.env.URL+"/clients/"+itoa(casey)),
		chromedp.WaitVisible(chromedp.CSS(".merges")),
	)
	if got := apptest.TextOf(t, b, "h1"); got != "Pat Phone" {
		t.Errorf("Casey's page shows %q", got)
	}
	// The undo asks for confirmation; the test answers yes.
	if _, err := chromedp.Run(b, chromedp.Evaluate[bool](`window.confirm = function () { return true }; true`)); err != nil {
		t.Fatal(err)
	}
	apptest.Step(t, b, "undo",
		chromedp.Click(chromedp.CSS(".merges button.link")),
		chromedp.WaitVisible(chromedp.CSS(".merges li.muted")),
	)
	if history := visibleTexts(t, b, ".previous-cases li"); len(history) != 1 || !strings.Contains(history[0], "invoice") {
		t.Errorf("after undo Pat's history is %q", history)
	}
	apptest.Step(t, b, "Casey is back with her chat",
		chromedp.Navigate(d.env.URL+"/clients/"+itoa(casey)),
		chromedp.WaitVisible(chromedp.CSS("form.client-form")),
	)
	if got := apptest.TextOf(t, b, "h1"); got != "Casey Customer" {
		t.Errorf("after undo Casey's page shows %q", got)
	}
	if history := visibleTexts(t, b, ".previous-cases li"); len(history) != 1 || !strings.Contains(history[0], "Casey") {
		t.Errorf("after undo Casey's history is %q", history)
	}

	// An edit reaches the other agent's open page too.
	apptest.Step(t, other, "the other agent opens Casey's profile",
		chromedp.Navigate(d.env.URL+"/clients/"+itoa(casey)),
		chromedp.WaitVisible(chromedp.CSS("form.client-form")),
	)
	apptest.Step(t, b, "the agent renames Casey",
		chromedp.SetValue(chromedp.CSS("form.client-form #f-name"), "Casey Carter"),
		chromedp.Click(chromedp.CSS("form.client-form button.primary")),
	)
	apptest.WaitText(t, other, "h1", "Casey Carter")
}
