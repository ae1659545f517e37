package httpserver_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"parley/internal/app/apptest"
)

// Admins manage general macros; every agent manages their own, and
// nobody else's.
func TestMacrosAreManagedByTheirOwners(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	admin := env.SignUp(t, "Acme", "ada@acme.test")
	for _, name := range []string{"bob", "cy"} {
		env.Post(t, admin, "/settings/agents", url.Values{"name": {name}, "email": {name + "@acme.test"}, "role": {"agent"}, "password": {"a long password"}})
	}
	login := func(email string) *http.Client {
		c := env.Client()
		if status, _, _ := env.Post(t, c, "/login", url.Values{"email": {email}, "password": {"a long password"}}); status != http.StatusSeeOther {
			t.Fatalf("login %s: %d", email, status)
		}
		return c
	}
	bob, cy := login("bob@acme.test"), login("cy@acme.test")

	// Validation: each problem next to its field, nothing stored.
	status, _, body := env.Post(t, admin, "/settings/macros", url.Values{"title": {""}, "body": {strings.Repeat("x", 4097)}, "status": {"gone"}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, "Give the macro a title.") ||
		!strings.Contains(body, "at most 4,096 characters") || !strings.Contains(body, "“gone” is not one of this workspace") {
		t.Fatalf("invalid macro: %d\n%s", status, body)
	}
	if status, loc, _ := env.Post(t, admin, "/settings/macros", url.Values{"title": {"Refund policy"}, "body": {"Refunds take 5 days."}, "status": {"solved"}}); status != http.StatusSeeOther || loc != "/settings/macros" {
		t.Fatalf("create general macro: %d %s", status, loc)
	}
	_, page := env.Get(t, admin, "/settings/macros")
	general := regexp.MustCompile(`/settings/macros/(\d+)"`).FindStringSubmatch(page)[1]
	if !strings.Contains(page, "Refunds take 5 days.") || !strings.Contains(page, `<option value="solved" selected>`) {
		t.Fatalf("general macros page:\n%s", page)
	}

	// An agent cannot manage general macros.
	if status, _, _ := env.Post(t, bob, "/settings/macros", url.Values{"title": {"Mine"}, "body": {"x"}}); status != http.StatusForbidden {
		t.Errorf("an agent creating a general macro: %d, want 403", status)
	}
	if status, _, _ := env.Post(t, bob, "/settings/macros/"+general+"/delete", nil); status != http.StatusForbidden {
		t.Errorf("an agent deleting a general macro: %d, want 403", status)
	}

	// Bob's personal macro: his to edit; Cy sees a 404 for its id.
	env.Post(t, bob, "/me/macros", url.Values{"title": {"Bob's greeting"}, "body": {"Hi, Bob here!"}})
	_, page = env.Get(t, bob, "/me/macros")
	mine := regexp.MustCompile(`/me/macros/(\d+)"`).FindStringSubmatch(page)[1]
	if status, _, _ := env.Post(t, cy, "/me/macros/"+mine, url.Values{"title": {"Taken"}, "body": {"x"}}); status != http.StatusNotFound {
		t.Errorf("another agent editing Bob's macro: %d, want 404", status)
	}
	if status, _, _ := env.Post(t, cy, "/me/macros/"+mine+"/delete", nil); status != http.StatusNotFound {
		t.Errorf("another agent deleting Bob's macro: %d, want 404", status)
	}
	if status, _, _ := env.Post(t, admin, "/settings/macros/"+mine+"/delete", nil); status != http.StatusNotFound {
		t.Errorf("a personal macro through the general macros' route: %d, want 404", status)
	}
	if _, page = env.Get(t, cy, "/me/macros"); strings.Contains(page, "Bob's greeting") {
		t.Error("Cy sees Bob's personal macro")
	}
	if status, _, _ := env.Post(t, bob, "/me/macros/"+mine, url.Values{"title": {"Greeting"}, "body": {"Hello from Bob"}}); status != http.StatusSeeOther {
		t.Fatalf("edit own macro: %d", status)
	}
	if status, _, _ := env.Post(t, bob, "/me/macros/"+mine, url.Values{"title": {"Greeting"}, "body": {""}}); status != http.StatusUnprocessableEntity {
		t.Fatalf("edit own macro to empty text: %d", status)
	}
	if _, page = env.Get(t, bob, "/me/macros"); !strings.Contains(page, "Hello from Bob") {
		t.Error("edit not saved")
	}
	if status, _, _ := env.Post(t, bob, "/me/macros/"+mine+"/delete", nil); status != http.StatusSeeOther {
		t.Fatalf("delete own macro: %d", status)
	}
	if _, page = env.Get(t, bob, "/me/macros"); strings.Contains(page, "Hello from Bob") {
		t.Error("deleted macro still listed")
	}
}

// A macro's status becomes the chat's status when the reply is sent.
func TestMacroStatusIsSetOnSend(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557654321", "Hello")
	chat := d.liveChats(t)[0]
	if status, _ := d.composerPost(t, chat.ID, url.Values{"body": {"We'll get back to you."}, "status": {"pending"}, "key": {"m1"}}, nil, ""); status != http.StatusOK {
		t.Fatalf("reply: %d", status)
	}
	if n := d.count(t, `SELECT count(*) FROM cases WHERE status = 'pending' AND state = 'live'`); n != 1 {
		t.Fatal("the chat's status did not become pending")
	}
	if status, body := d.composerPost(t, chat.ID, url.Values{"body": {"x"}, "status": {"bogus"}, "key": {"m2"}}, nil, ""); status != http.StatusUnprocessableEntity || !strings.Contains(body, "“bogus” is not one of this workspace") {
		t.Fatalf("a bogus status: %d", status)
	}
}

// An agent starts a WhatsApp conversation with a template: from a client's
// page (the client's WhatsApp number), or with a new number; the chat
// opens assigned to the agent, the template is sent, and free text waits
// for the client's answer.
func TestStartConversationWithTemplate(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	tpl := d.template(t, "terminerinnerung")

	// A new number, typed as people type it.
	f := templateForm(tpl, "s1", "Frau Weber", "3. Dezember")
	f.Set("integration", itoa(d.ig.ID))
	f.Set("number", "+44 7700 900-123")
	status, loc, body := d.env.Post(t, d.client, "/chats/new", f)
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/chats/") {
		t.Fatalf("start: %d %s\n%s", status, loc, body)
	}
	// The same form again stores nothing new.
	if status, loc2, _ := d.env.Post(t, d.client, "/chats/new", f); status != http.StatusSeeOther || loc2 != loc {
		t.Fatalf("start again: %d %s, want the same chat %s", status, loc2, loc)
	}
	chats := d.liveChats(t)
	if len(chats) != 1 || chats[0].AssigneeID == nil || *chats[0].AssigneeID != d.admin.ID || chats[0].ClientWhatsApp == nil || *chats[0].ClientWhatsApp != "+447700900123" {
		t.Fatalf("chats %+v", chats)
	}
	eventually(t, "the template delivered", func() bool {
		return d.count(t, `SELECT count(*) FROM messages WHERE kind = 'template' AND status IN ('delivered', 'read')`) == 1
	})
	if st, body := d.reply(t, chats[0].ID, "free text", "s2", nil, ""); st != http.StatusConflict || !strings.Contains(body, "Waiting for the client&#39;s reply — only templates until then") {
		t.Errorf("free text before the client answered: %d, want 409 saying it waits for the client\n%s", st, body)
	}
	// The composer says so before the agent types; it is not a window
	// that closed.
	if _, page := d.env.Get(t, d.client, "/chats/"+itoa(chats[0].ID)); !strings.Contains(page, "Waiting for the client&#39;s reply — only templates until then") || strings.Contains(page, "window is closed") {
		t.Errorf("a chat the business started:\n%s", page)
	}

	// From the page of a client who has only a phone number: their
	// WhatsApp field is set, and no second client is created.
	var clientID int64
	err := d.env.App.DB.InTenant(t.Context(), d.admin.TenantID, func(tx pgx.Tx) error {
		return tx.QueryRow(t.Context(), `INSERT INTO clients (tenant_id, name, phone, created_channel) VALUES (current_tenant(), 'Pat Phone', '+15550009999', 'phone') RETURNING id`).Scan(&clientID)
	})
	if err != nil {
		t.Fatal(err)
	}
	_, page := d.env.Get(t, d.client, "/chats/new?client="+itoa(clientID))
	if !strings.Contains(page, "with Pat Phone") || !strings.Contains(page, `value="+15550009999"`) {
		t.Fatalf("start page for a client:\n%s", page)
	}
	f = templateForm(d.template(t, "conversation_follow_up"), "s3")
	f.Set("integration", itoa(d.ig.ID))
	f.Set("client", itoa(clientID))
	f.Set("number", "+1 555 000 9999")
	if status, _, body := d.env.Post(t, d.client, "/chats/new", f); status != http.StatusSeeOther {
		t.Fatalf("start from the client's page: %d\n%s", status, body)
	}
	if n := d.count(t, `SELECT count(*) FROM clients WHERE whatsapp = '+15550009999'`); n != 1 {
		t.Fatalf("%d clients with the WhatsApp number, want Pat's", n)
	}

	// Bad input: no template, a bad number, a number another client has.
	for _, tt := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"integration": {itoa(d.ig.ID)}, "number": {"+15557654321"}}, "Pick an approved template."},
		{withFields(templateForm(tpl, "x1", "A", "B"), "integration", itoa(d.ig.ID), "number", "12"), "country code"},
		{withFields(templateForm(tpl, "x2", "A", ""), "integration", itoa(d.ig.ID), "number", "+15557654321"), "Fill in this variable."},
		{withFields(templateForm(tpl, "x3", "A", "B"), "integration", itoa(d.ig.ID), "number", "+447700900123", "client", itoa(clientID)), "WhatsApp number is +15550009999."},
		{withFields(templateForm(tpl, "x4", "A", "B"), "integration", "999999", "number", "+15557654321"), "Choose a WhatsApp integration."},
	} {
		status, _, body := d.env.Post(t, d.client, "/chats/new", tt.form)
		if status != http.StatusUnprocessableEntity || !strings.Contains(body, tt.want) {
			t.Errorf("%v: %d, want 422 with %q", tt.form, status, tt.want)
		}
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE kind = 'template'`); n != 2 {
		t.Fatalf("%d templates stored, want the 2 started conversations", n)
	}
}

func withFields(f url.Values, kv ...string) url.Values {
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}
