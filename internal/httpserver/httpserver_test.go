package httpserver_test

import (
	"context"
	"fmt"
	"github.com/jackc/pgx/v5"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"parley/internal/app/apptest"
	"parley/internal/postgres/pgtest"
	"parley/internal/sandbox"
)

func TestMain(m *testing.M) {
	if db := os.Getenv(replicaEnv); db != "" {
		runReplica(db) // a child process of a crash test: never returns
	}
	pgtest.Main(m)
}

func TestSignUpLogOutLogIn(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	c := env.Client()
	form := url.Values{"company": {"Acme"}, "name": {"Ada"}, "email": {"ada@acme.test"}, "password": {"long enough password"}}
	status, _, signedUp := env.Post(t, c, "/signup", form)
	if status != http.StatusOK || !strings.Contains(signedUp, "Check your mail") {
		t.Fatalf("sign-up: %d\n%s", status, signedUp)
	}
	if status, _ := env.Get(t, c, "/chats"); status != http.StatusSeeOther {
		t.Fatalf("before confirming the email /chats = %d, want a redirect to login", status)
	}
	// Logging in before confirming sends a new link.
	status, _, body := env.Post(t, c, "/login", url.Values{"email": {"ada@acme.test"}, "password": {"long enough password"}})
	if status != http.StatusUnauthorized || !strings.Contains(body, "Confirm your email first") {
		t.Fatalf("login before confirming the email: %d\n%s", status, body)
	}
	if first := env.Mails(t, "ada@acme.test", 2)[1]; first.Subject != "Confirm your email for Parley" {
		t.Fatalf("the sign-up mail: %q", first.Subject)
	}
	// The link confirms the email and signs the admin in.
	link := env.LinkIn(t, "ada@acme.test", 2, "/verify/")
	if status, _ := env.Get(t, c, link); status != http.StatusSeeOther {
		t.Fatalf("confirmation link: %d", status)
	}
	status, body = env.Get(t, c, "/settings/agents")
	if status != http.StatusOK || !strings.Contains(body, "ada@acme.test") || !strings.Contains(body, "Acme") {
		t.Fatalf("settings after confirming: %d\n%s", status, body)
	}
	if status, _ := env.Get(t, env.Client(), link); status != http.StatusNotFound {
		t.Fatalf("confirmation link used twice: %d, want 404", status)
	}
	if status, loc, _ := env.Post(t, c, "/logout", nil); status != http.StatusSeeOther || loc != "/login" {
		t.Fatalf("logout: %d %s", status, loc)
	}
	if status, _ := env.Get(t, c, "/chats"); status != http.StatusSeeOther {
		t.Fatalf("after logout /chats = %d, want a redirect to login", status)
	}
	status, _, body = env.Post(t, c, "/login", url.Values{"email": {"ada@acme.test"}, "password": {"wrong password!"}})
	if status != http.StatusUnauthorized || !strings.Contains(body, "The email or password is wrong.") || !strings.Contains(body, `value="ada@acme.test"`) {
		t.Fatalf("wrong password: %d\n%s", status, body)
	}
	status, _, body = env.Post(t, c, "/login", url.Values{"email": {""}, "password": {""}})
	if status != http.StatusUnauthorized || !strings.Contains(body, "The email or password is wrong.") {
		t.Fatalf("empty login form: %d", status)
	}
	if status, loc, _ := env.Post(t, c, "/login", url.Values{"email": {"ada@acme.test"}, "password": {"long enough password"}}); status != http.StatusSeeOther || loc != "/" {
		t.Fatalf("login: %d %s", status, loc)
	}
}

// The sign-up answer does not tell whether an email is registered (issue
// 22, item 6): the same page for a registered email as for a new one; the
// mail tells the email's owner, and no second company is made.
func TestSignUpDoesNotRevealRegisteredEmails(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	env.SignUp(t, "Acme", "ada@acme.test")
	answer := func(email string) string {
		status, _, body := env.Post(t, env.Client(), "/signup", url.Values{"company": {"Beta"}, "name": {"Bea"}, "email": {email}, "password": {"long enough password"}})
		if status != http.StatusOK {
			t.Fatalf("sign-up as %s: %d\n%s", email, status, body)
		}
		return strings.ReplaceAll(body, email, "EMAIL")
	}
	if registered, unknown := answer("ADA@acme.test"), answer("bea@beta.test"); registered != unknown {
		t.Fatalf("a registered email gets another answer than a new one:\n%s\n---\n%s", registered, unknown)
	}
	if m := env.Mails(t, "ada@acme.test", 2)[0]; m.Subject != "You already have a Parley account" || !strings.Contains(m.Text, "/forgot") {
		t.Fatalf("the registered email's mail: %q\n%s", m.Subject, m.Text)
	}
	var tenants int
	if err := env.App.DB.InSystem(t.Context(), func(tx pgx.Tx) error {
		return tx.QueryRow(t.Context(), `SELECT count(*) FROM login_lookup('ada@acme.test')`).Scan(&tenants)
	}); err != nil || tenants != 1 {
		t.Fatalf("ada@acme.test has %d accounts (%v), want 1", tenants, err)
	}
}

func TestFormErrorsShowNextToFieldsAndKeepInput(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	env.SignUp(t, "Acme", "ada@acme.test")
	c := env.Client()
	cases := []struct {
		form url.Values
		want string
	}{
		{url.Values{"company": {"Beta Ltd"}, "name": {"Bea"}, "email": {"bea@beta.test"}, "password": {"short"}}, "Use at least 10 characters."},
		{url.Values{"company": {"Beta Ltd"}, "name": {"Bea"}, "email": {"bea@"}, "password": {"long enough password"}}, "Enter an email address like name@example.com."},
		{url.Values{"name": {"Bea"}}, "Company name is required."},
	}
	for _, tc := range cases {
		status, _, body := env.Post(t, c, "/signup", tc.form)
		if status != http.StatusUnprocessableEntity || !strings.Contains(body, tc.want) {
			t.Errorf("sign-up %v: %d, want 422 with %q", tc.form, status, tc.want)
		}
		if !strings.Contains(body, fmt.Sprintf(`value="%s"`, tc.form.Get("name"))) {
			t.Errorf("sign-up %v: the name the person typed was not kept", tc.form)
		}
		if strings.Contains(body, "long enough password") {
			t.Errorf("a password was echoed back into the page")
		}
	}
	if status, _, _ := env.Post(t, c, "/login", url.Values{"email": {"bea@beta.test"}, "password": {"long enough password"}}); status != http.StatusUnauthorized {
		t.Fatalf("a refused sign-up created an account (login %d)", status)
	}
}

func TestBodyOverOneMegabyteIsRefused(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	c := env.Client()
	big := strings.Repeat("x", 2<<20)
	status, _, body := env.Post(t, c, "/signup", url.Values{"company": {big}, "name": {"B"}, "email": {"b@b.test"}, "password": {"long enough password"}})
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "larger than the 1 MB") {
		t.Fatalf("2 MB form: %d\n%.300s", status, body)
	}
	// Without a Content-Length the cap applies while reading.
	req, _ := http.NewRequest(http.MethodPost, env.URL+"/signup", strings.NewReader("company="+big))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.ContentLength = -1
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked 2 MB form: %d", resp.StatusCode)
	}
}

func TestCrossOriginPostIsRefused(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	c := env.SignUp(t, "Acme", "ada@acme.test")
	req, _ := http.NewRequest(http.MethodPost, env.URL+"/settings/groups", strings.NewReader("name=Evil"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin POST: %d, want 403", resp.StatusCode)
	}
	if _, body := env.Get(t, c, "/settings/groups"); strings.Contains(body, "Evil") {
		t.Fatal("the cross-origin POST created a group")
	}
}

func TestAgentCannotOpenSettings(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	admin := env.SignUp(t, "Acme", "ada@acme.test")
	env.Post(t, admin, "/settings/agents", url.Values{"name": {"Bob"}, "email": {"bob@acme.test"}, "role": {"agent"}, "password": {"bobs password"}})
	bob := env.Client()
	if status, _, _ := env.Post(t, bob, "/login", url.Values{"email": {"bob@acme.test"}, "password": {"bobs password"}}); status != http.StatusSeeOther {
		t.Fatalf("agent login: %d", status)
	}
	for _, path := range []string{"/settings", "/settings/agents", "/settings/groups"} {
		status, body := env.Get(t, bob, path)
		if status != http.StatusForbidden || !strings.Contains(body, "Admins only") {
			t.Errorf("agent GET %s: %d", path, status)
		}
	}
	if status, _, _ := env.Post(t, bob, "/settings/groups", url.Values{"name": {"Mine"}}); status != http.StatusForbidden {
		t.Errorf("agent POST settings: %d", status)
	}
	if _, body := env.Get(t, bob, "/chats"); strings.Contains(body, `href="/settings"`) {
		t.Error("an agent's navigation offers Settings")
	}
}

func TestDeactivatedAgentIsSignedOutAtOnce(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	admin := env.SignUp(t, "Acme", "ada@acme.test")
	env.Post(t, admin, "/settings/agents", url.Values{"name": {"Bob"}, "email": {"bob@acme.test"}, "role": {"agent"}, "password": {"bobs password"}})
	bob := env.Client()
	env.Post(t, bob, "/login", url.Values{"email": {"bob@acme.test"}, "password": {"bobs password"}})
	if status, _ := env.Get(t, bob, "/chats"); status != http.StatusOK {
		t.Fatalf("bob signed in: %d", status)
	}
	_, body := env.Get(t, admin, "/settings/agents")
	id := regexp.MustCompile(`/settings/agents/(\d+)/active`).FindStringSubmatch(body)
	if id == nil {
		t.Fatal("no deactivate button on the agents page")
	}
	if status, _, _ := env.Post(t, admin, "/settings/agents/"+id[1]+"/active", url.Values{"active": {"false"}}); status != http.StatusSeeOther {
		t.Fatalf("deactivate: %d", status)
	}
	resp, err := bob.Get(env.URL + "/chats")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("deactivated agent's next request: %d %s, want a redirect to login", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestInvitationLink(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	admin := env.SignUp(t, "Acme", "ada@acme.test")
	status, _, body := env.Post(t, admin, "/settings/agents", url.Values{"name": {"Cara"}, "email": {"cara@acme.test"}, "role": {"agent"}, "invite": {"true"}})
	if status != http.StatusOK || !strings.Contains(body, "We mailed an invitation to cara@acme.test") || strings.Contains(body, "/invite/") {
		t.Fatalf("invite: %d, want the mail announced and no link on the admin's page\n%s", status, body)
	}
	// The link goes to Cara's inbox only.
	if m := env.Mails(t, "cara@acme.test", 1)[0]; m.Subject != "You are invited to Acme on Parley" {
		t.Fatalf("invitation mail: %q", m.Subject)
	}
	path := env.LinkIn(t, "cara@acme.test", 1, "/invite/")
	cara := env.Client()
	if status, body := env.Get(t, cara, path); status != http.StatusOK || !strings.Contains(body, "Join Acme") {
		t.Fatalf("invitation page: %d", status)
	}
	if status, loc, _ := env.Post(t, cara, path, url.Values{"password": {"caras password"}}); status != http.StatusSeeOther || loc != "/" {
		t.Fatalf("accept: %d %s", status, loc)
	}
	if status, _ := env.Get(t, env.Client(), path); status != http.StatusNotFound {
		t.Fatalf("used invitation: %d, want 404", status)
	}
}

// TestOtherTenantsIDsAreNotFound walks every route that takes an id and
// asks for another tenant's: each must answer 404 and change nothing. A new
// route with an id must be added to the table.
func TestOtherTenantsIDsAreNotFound(t *testing.T) {
	t.Parallel()
	// Tenant B is the sandbox's demo tenant, with an integration, a chat,
	// a failed message and a file; tenant A signs up.
	b := startDemo(t)
	env := b.env
	a := env.SignUp(t, "Acme", "ada@acme.test")
	env.Post(t, b.client, "/settings/agents", url.Values{"name": {"Bob"}, "email": {"bob@beta.test"}, "role": {"agent"}, "password": {"bobs password"}})
	_, body := env.Get(t, b.client, "/settings/agents")
	bAgent := regexp.MustCompile(`/settings/agents/(\d+)/active`).FindStringSubmatch(body)[1]
	_, body = env.Get(t, b.client, "/settings/groups")
	bGroup := regexp.MustCompile(`/settings/groups/(\d+)`).FindStringSubmatch(body)[1]
	b.customerWrites(t, "+15557654321", "", sandbox.MediaFile{ContentType: "image/png", Filename: "p.png", Data: []byte("\x89PNG\r\n\x1a\nxx")})
	chat := b.liveChats(t)[0]
	eventually(t, "the file", func() bool { return b.count(t, `SELECT count(*) FROM attachments WHERE state = 'stored'`) == 1 })
	var fileID, msgID int64
	for _, m := range b.messages(t, chat.ID) {
		msgID = m.ID
		for _, at := range m.Attachments {
			fileID = at.ID
		}
	}
	bChat, bMsg, bFile, bIg := strconv.FormatInt(chat.ID, 10), strconv.FormatInt(msgID, 10), strconv.FormatInt(fileID, 10), strconv.FormatInt(b.ig.ID, 10)
	bClient := strconv.FormatInt(chat.ClientID, 10)
	macroID := func(base string) string {
		env.Post(t, b.client, base, url.Values{"title": {"Greeting"}, "body": {"Hello from B"}})
		_, body := env.Get(t, b.client, base)
		return regexp.MustCompile(base + `/(\d+)"`).FindStringSubmatch(body)[1]
	}
	bGeneral, bPersonal := macroID("/settings/macros"), macroID("/me/macros")
	// Two more of B's clients, one merged into the other: a merge to undo.
	var bKept, bGone int64
	if err := env.App.DB.InTenant(t.Context(), b.admin.TenantID, func(tx pgx.Tx) error {
		return tx.QueryRow(t.Context(), `WITH k AS (INSERT INTO clients (tenant_id, name) VALUES (current_tenant(), 'Kept') RETURNING id),
			g AS (INSERT INTO clients (tenant_id, name) VALUES (current_tenant(), 'Gone') RETURNING id) SELECT k.id, g.id FROM k, g`).Scan(&bKept, &bGone)
	}); err != nil {
		t.Fatal(err)
	}
	bMerge, err := env.App.Clients.Merge(t.Context(), b.admin.TenantID, b.admin.ID, bKept, bGone, map[string]string{"name": "survivor"})
	if err != nil {
		t.Fatal(err)
	}
	bKeptID, bMergeID := strconv.FormatInt(bKept, 10), strconv.FormatInt(bMerge.ID, 10)
	env.Post(t, b.client, "/settings/rules", url.Values{"name": {"B's rule"}, "enabled": {"true"}, "trigger": {"chat_started"}, "action_0": {"set_status"}, "action_0_pick": {"pending"}})
	_, body = env.Get(t, b.client, "/settings/rules")
	bRule := regexp.MustCompile(`/settings/rules/(\d+)"`).FindStringSubmatch(body)[1]

	routes := map[string]struct {
		path string
		form url.Values
	}{
		"POST /settings/agents/{id}/active":        {"/settings/agents/" + bAgent + "/active", url.Values{"active": {"false"}}},
		"POST /settings/groups/{id}":               {"/settings/groups/" + bGroup, url.Values{"name": {"Taken over"}}},
		"GET /invite/{token}":                      {"/invite/not-a-token", nil},
		"POST /invite/{token}":                     {"/invite/not-a-token", url.Values{"password": {"long enough password"}}},
		"GET /reset/{token}":                       {"/reset/not-a-token", nil},
		"POST /reset/{token}":                      {"/reset/not-a-token", url.Values{"password": {"long enough password"}}},
		"GET /verify/{token}":                      {"/verify/not-a-token", nil},
		"GET /chats/{id}":                          {"/chats/" + bChat, nil},
		"POST /chats/{id}/reply":                   {"/chats/" + bChat + "/reply", url.Values{"body": {"hijack"}}},
		"POST /chats/{id}/messages/{msg}/delete":   {"/chats/" + bChat + "/messages/" + bMsg + "/delete", nil},
		"GET /files/{id}":                          {"/files/" + bFile, nil},
		"GET /cases/{id}":                          {"/cases/" + bChat, nil},
		"POST /cases/{id}/status":                  {"/cases/" + bChat + "/status", url.Values{"status": {"closed"}}},
		"POST /cases/{id}/assign":                  {"/cases/" + bChat + "/assign", url.Values{"to": {"g" + bGroup}}},
		"POST /cases/{id}/tags":                    {"/cases/" + bChat + "/tags", url.Values{"tag": {"hijack"}}},
		"POST /cases/{id}/tags/remove":             {"/cases/" + bChat + "/tags/remove", url.Values{"tag": {"hijack"}}},
		"POST /cases/{id}/note":                    {"/cases/" + bChat + "/note", url.Values{"note": {"peek"}}},
		"GET /clients/{id}":                        {"/clients/" + strconv.FormatInt(chat.ClientID, 10), nil},
		"POST /chats/{id}/end":                     {"/chats/" + bChat + "/end", url.Values{"status": {"solved"}}},
		"POST /chats/{id}/note":                    {"/chats/" + bChat + "/note", url.Values{"note": {"peek"}}},
		"POST /chats/{id}/take":                    {"/chats/" + bChat + "/take", nil},
		"POST /chats/{id}/transfer":                {"/chats/" + bChat + "/transfer", url.Values{"to": {"g" + bGroup}}},
		"GET /media/public/{token}/*":              {"/media/public/not-a-token/x.png", nil},
		"GET /files/{tenant}/{token}/{name}":       {"/files/" + b.admin.TenantID.String() + "/not-a-token/x.pdf", nil},
		"GET /settings/integrations/{id}":          {"/settings/integrations/" + bIg, nil},
		"POST /settings/integrations/{id}":         {"/settings/integrations/" + bIg, url.Values{"sender": {"+15550002222"}, "default_group": {bGroup}}},
		"POST /settings/integrations/{id}/enabled": {"/settings/integrations/" + bIg + "/enabled", url.Values{"enabled": {"false"}}},
		"POST /settings/integrations/{id}/delete":  {"/settings/integrations/" + bIg + "/delete", nil},
		"GET /chats/{id}/macros":                   {"/chats/" + bChat + "/macros", nil},
		"GET /chats/{id}/messages":                 {"/chats/" + bChat + "/messages?before=1", nil},
		"POST /settings/macros/{id}":               {"/settings/macros/" + bGeneral, url.Values{"title": {"Taken over"}, "body": {"x"}}},
		"POST /settings/macros/{id}/delete":        {"/settings/macros/" + bGeneral + "/delete", nil},
		"POST /me/macros/{id}":                     {"/me/macros/" + bPersonal, url.Values{"title": {"Taken over"}, "body": {"x"}}},
		"POST /me/macros/{id}/delete":              {"/me/macros/" + bPersonal + "/delete", nil},
		"POST /clients/{id}":                       {"/clients/" + bClient, url.Values{"name": {"Taken over"}}},
		"GET /settings/rules/{id}":                 {"/settings/rules/" + bRule, nil},
		"POST /settings/rules/{id}":                {"/settings/rules/" + bRule, url.Values{"name": {"Taken over"}, "trigger": {"chat_started"}, "action_0": {"set_status"}, "action_0_pick": {"open"}}},
		"POST /settings/rules/{id}/delete":         {"/settings/rules/" + bRule + "/delete", nil},
		"POST /settings/rules/{id}/enabled":        {"/settings/rules/" + bRule + "/enabled", url.Values{"enabled": {"false"}}},
		"POST /settings/rules/{id}/move":           {"/settings/rules/" + bRule + "/move", url.Values{"to": {"up"}}},
		"GET /clients/{id}/merge/{other}":          {"/clients/" + bKeptID + "/merge/" + bClient, nil},
		"POST /clients/{id}/merge/{other}":         {"/clients/" + bKeptID + "/merge/" + bClient, nil},
		"POST /clients/{id}/merges/{merge}/undo":   {"/clients/" + bKeptID + "/merges/" + bMergeID + "/undo", nil},

		"POST /settings/integrations/{id}/delivery-statuses": {"/settings/integrations/" + strconv.FormatInt(b.om.ID, 10) + "/delivery-statuses", nil},
	}
	walkParamRoutes(t, env, func(method, pattern string) {
		r, ok := routes[method+" "+pattern]
		if !ok {
			t.Errorf("route %s %s takes a parameter: add it to this test", method, pattern)
			return
		}
		var status int
		if method == http.MethodGet {
			status, _ = env.Get(t, a, r.path)
		} else {
			status, _, _ = env.Post(t, a, r.path, r.form)
		}
		if status != http.StatusNotFound {
			t.Errorf("%s %s with another tenant's id: %d, want 404", method, r.path, status)
		}
	})
	// Ids in query strings and forms: another tenant's integration's
	// templates, and a conversation started with another tenant's client.
	for _, path := range []string{"/templates?integration=" + bIg, "/chats/new?client=" + bClient} {
		if status, _ := env.Get(t, a, path); status != http.StatusNotFound {
			t.Errorf("GET %s with another tenant's id: %d, want 404", path, status)
		}
	}
	if status, _, _ := env.Post(t, a, "/clients/new", url.Values{"name": {"Into B"}, "email": {"into@b.test"}, "into": {bClient}}); status != http.StatusNotFound {
		t.Errorf("POST /clients/new into another tenant's client: %d, want 404", status)
	}
	if status, _, _ := env.Post(t, a, "/chats/new", url.Values{"client": {bClient}, "integration": {bIg}, "number": {"+15557654321"}, "template_id": {"HX00000000000000000000000000000000"}}); status != http.StatusNotFound && status != http.StatusUnprocessableEntity {
		t.Errorf("POST /chats/new with another tenant's client and integration: %d", status)
	}
	if status, _ := env.Get(t, a, "/settings/groups/abc"); status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		t.Errorf("non-numeric id: %d", status)
	}
	// Nothing changed on B's side.
	_, body = env.Get(t, b.client, "/settings/agents")
	if strings.Contains(body, "Deactivated") {
		t.Error("tenant A deactivated tenant B's agent")
	}
	for _, page := range []string{"/settings/groups", "/settings/macros", "/me/macros", "/settings/rules"} {
		if _, body = env.Get(t, b.client, page); strings.Contains(body, "Taken over") {
			t.Errorf("tenant A changed something on tenant B's %s", page)
		}
	}
	for _, page := range []string{"/settings/macros", "/me/macros"} {
		if _, body = env.Get(t, b.client, page); !strings.Contains(body, "Hello from B") {
			t.Errorf("tenant A deleted tenant B's macro on %s", page)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM client_merges WHERE undone_at IS NULL`); n != 1 {
		t.Error("tenant A undid tenant B's merge")
	}
	if n := b.count(t, `SELECT count(*) FROM clients WHERE name = 'Taken over' OR merged_into = `+strconv.FormatInt(bKept, 10)+` AND id <> `+strconv.FormatInt(bGone, 10)); n != 0 {
		t.Error("tenant A changed or merged tenant B's clients")
	}
	if ig, err := env.App.Integrations.Get(context.Background(), b.admin.TenantID, b.ig.ID); err != nil || !ig.Enabled || ig.Sender != b.ig.Sender {
		t.Errorf("tenant B's integration after A's attempts: %+v %v", ig, err)
	}
	if n := len(b.messages(t, chat.ID)); n != 2 {
		t.Errorf("tenant B's chat has %d entries, want its 2", n)
	}
}

func walkParamRoutes(t *testing.T, env *apptest.Env, fn func(method, pattern string)) {
	routes, ok := env.App.Handler.(chi.Routes)
	if !ok {
		t.Fatal("the handler is not a chi router")
	}
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if strings.Contains(route, "{") && !strings.HasPrefix(route, "/sandbox/") && !strings.HasPrefix(route, "/webhooks/") {
			fn(method, strings.TrimSuffix(route, "/"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestHealthReadyAndMetrics(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	c := env.Client()
	if status, body := env.Get(t, c, "/healthz"); status != http.StatusOK || body != "ok\n" {
		t.Fatalf("healthz: %d %q", status, body)
	}
	if status, body := env.Get(t, c, "/readyz"); status != http.StatusOK {
		t.Fatalf("readyz: %d %q", status, body)
	}
	env.Get(t, c, "/login")
	// The purge job runs on start; its outcome shows in the River series.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, body := env.Get(t, c, "/metrics")
		if strings.Contains(body, `http_request_duration_seconds_count{method="GET",route="/login",status="200"}`) &&
			strings.Contains(body, `river_jobs_total{kind="purge_expired",outcome="ok"}`) &&
			strings.Contains(body, "pgxpool_max_connections") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics lack HTTP, River or pool series:\n%s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestPeriodicPurgeDeletesExpiredSessions(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	ctx := context.Background()
	_, err := env.App.DB.Pool.Exec(ctx, `INSERT INTO sessions (token, data, expiry) VALUES ('old', '\x00', now() - interval '1 day'), ('fresh', '\x00', now() + interval '1 day')`)
	if err != nil {
		t.Fatal(err)
	}
	// Insert a purge as the periodic schedule would, and wait for it.
	if _, err := env.App.Jobs.Insert(ctx, purgeArgs{}, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var tokens []string
		rows, err := env.App.DB.Pool.Query(ctx, `SELECT token FROM sessions WHERE token IN ('old', 'fresh') ORDER BY token`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			_ = rows.Scan(&s)
			tokens = append(tokens, s)
		}
		rows.Close()
		if len(tokens) == 1 && tokens[0] == "fresh" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions after purge: %v, want only the fresh one", tokens)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type purgeArgs struct{}

func (purgeArgs) Kind() string { return "purge_expired" }

func apptestStart(t *testing.T) *apptest.Env { return apptest.Start(t, apptest.Options{}) }
