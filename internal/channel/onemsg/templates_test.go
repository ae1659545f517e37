package onemsg_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"parley/internal/channel"
	"parley/internal/sandbox"
)

func TestTemplatesFromSimulator(t *testing.T) {
	e := newEnv(t)
	e.sim.SeedDemoTemplates(testInstance)
	ns := namespace(t, e)
	e.sim.AddTemplate(testInstance, sandbox.OneMsgTemplate{
		Name: "order_update", Language: "en", Status: "Approved", Namespace: ns,
		Header: "Order {{1}}", Body: "Hi {{1}}, your order {{2}} ships on {{3}}.", Footer: "Reply STOP to opt out",
	})
	e.sim.AddTemplate(testInstance, sandbox.OneMsgTemplate{
		Name: "holiday_hours", Language: "en", Status: "PAUSED", Namespace: ns, Body: "We are closed on {{1}}.",
	})

	got, err := e.client.Templates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	v := func(keys ...string) []channel.Variable {
		var out []channel.Variable
		for _, k := range keys {
			out = append(out, channel.Variable{Key: k})
		}
		return out
	}
	want := []channel.Template{
		{
			// Listed without a namespace: its siblings' is used.
			ID: ns + "/atualizacao_atendimento/pt_BR", Name: "atualizacao_atendimento", Language: "pt_BR",
			Body: "Olá! Seu atendimento foi atualizado. Responda a esta mensagem para continuar a conversa.",
		},
		{
			// Components served as a JSON string.
			ID: ns + "/conversation_follow_up/en", Name: "conversation_follow_up", Language: "en",
			Body: "Hello! We have an update on your request. Reply to this message to continue the conversation.",
		},
		{
			ID: ns + "/issue_resolved_check/en", Name: "issue_resolved_check", Language: "en",
			Body: "Hi {{1}}, was your issue resolved?", Footer: "Tap a button to answer",
			Variables: v("1"), Buttons: []string{"Yes", "No", "Talk to an agent"},
		},
		{
			ID: ns + "/order_shipped/en", Name: "order_shipped", Language: "en",
			Body:      "Hi {{1}}, your order {{2}} has shipped and should arrive on {{3}}.",
			Variables: v("1", "2", "3"),
		},
		{
			// Language served as {"code": "es"}.
			ID: ns + "/order_shipped/es", Name: "order_shipped", Language: "es",
			Body:      "Hola {{1}}, tu pedido {{2}} fue enviado y llegará el {{3}}.",
			Variables: v("1", "2", "3"),
		},
		{
			// The header's variable is renamed so it does not clash with the body's.
			ID: ns + "/order_update/en", Name: "order_update", Language: "en",
			HeaderText: "Order {{h1}}", Body: "Hi {{1}}, your order {{2}} ships on {{3}}.", Footer: "Reply STOP to opt out",
			Variables: v("1", "2", "3", "h1"),
		},
		{
			ID: ns + "/terminerinnerung/de", Name: "terminerinnerung", Language: "de",
			HeaderText: "Terminerinnerung", Body: "Hallo {{1}}, wir erinnern Sie an Ihren Termin am {{2}}.",
			Footer: "Antworten Sie, um den Termin zu ändern.", Variables: v("1", "2"),
		},
	}
	plain := map[string]bool{}
	for _, w := range want {
		plain[w.Name] = true
	}
	var gotPlain []channel.Template
	for _, tpl := range got.List {
		if plain[tpl.Name] {
			gotPlain = append(gotPlain, tpl)
		}
	}
	for i := range min(len(gotPlain), len(want)) {
		if !reflect.DeepEqual(gotPlain[i], want[i]) {
			t.Logf("got %#v\nwant %#v", gotPlain[i], want[i])
		}
	}
	if !reflect.DeepEqual(gotPlain, want) {
		t.Errorf("templates:\n%s\nwant (approved only, sorted):\n%s", dump(gotPlain), dump(want))
	}
	if len(got.Unreadable) != 0 {
		t.Errorf("unreadable: %v", got.Unreadable)
	}
}

// dump shows templates one a line, for failure messages.
func dump(ts []channel.Template) string {
	var b strings.Builder
	for _, t := range ts {
		b.WriteString("  " + t.ID + " | " + strings.ReplaceAll(t.Body, "\n", "⏎"))
		for _, v := range t.Variables {
			b.WriteString(" {" + v.Key + "}")
		}
		if len(t.Buttons) > 0 {
			b.WriteString(" [" + strings.Join(t.Buttons, "|") + "]")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Lists the simulator does not produce: a bare array, the other namespace
// key, media headers, buttons that need values, broken entries.
func TestTemplatesQuirks(t *testing.T) {
	const list = `[
		{"name":"welcome","language":"en","status":"APPROVED","message_template_namespace":"ns_a",
		 "components":[{"type":"BODY","text":"Welcome to {{1}}!"}]},
		{"name":"photo_offer","language":"en","status":"approved",
		 "components":[{"type":"HEADER","format":"IMAGE"},{"type":"BODY","text":"Look at this"}]},
		{"name":"manual","language":"en","status":"approved",
		 "components":[{"type":"HEADER","format":"DOCUMENT"},{"type":"BODY","text":"The manual"}]},
		{"name":"track","language":"en","status":"approved",
		 "components":[{"type":"BODY","text":"Your parcel"},{"type":"BUTTONS","buttons":[{"type":"URL","text":"Track","url":"https://x.example/t/{{1}}"}]}]},
		{"name":"contact","language":{"code":"en_US"},"status":"approved",
		 "components":"[{\"type\":\"body\",\"text\":\"Call or visit us\"},{\"type\":\"buttons\",\"buttons\":[{\"type\":\"URL\",\"text\":\"Site\",\"url\":\"https://x.example\"},{\"type\":\"PHONE_NUMBER\",\"text\":\"Call\",\"phone_number\":\"+15550001111\"},{\"type\":\"quick_reply\",\"text\":\"Later\"}]}]"},
		{"name":"login_code","language":"en","status":"approved",
		 "components":[{"type":"BODY","text":"{{1}} is your code"},{"type":"BUTTONS","buttons":[{"type":"OTP","otp_type":"COPY_CODE","text":"Copy"}]}]},
		{"name":"nobody","language":"en","status":"approved","components":[{"type":"FOOTER","text":"Bye"}]},
		{"language":"fr","status":"approved","components":[{"type":"BODY","text":"Bonjour"}]},
		{"name":"nolang","status":"approved","components":[{"type":"BODY","text":"Hi"}]},
		{"name":"named","language":"en","status":"approved","components":[{"type":"BODY","text":"Hi {{first_name}}"}]},
		{"name":"broken","language":"en","status":"approved","components":"[{not json"},
		{"name":"draft","language":"en","status":"PENDING","components":[{"type":"BODY","text":"Soon"}]},
		{"name":"old","language":"en","status":"rejected","components":[]},
		42
	]`
	c := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/"+testInstance+"/templates" || r.URL.Query().Get("token") != testToken {
			t.Errorf("request %s %s", r.Method, r.URL)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(list))
	})
	got, err := c.Templates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	otp := "https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=otp{{1}}"
	want := []channel.Template{
		{ID: "ns_a/contact/en_US", Name: "contact", Language: "en_US", Body: "Call or visit us", Buttons: []string{"Later"},
			Links: []channel.TemplateButton{
				{Kind: channel.ButtonURL, Text: "Site", URL: "https://x.example", Index: 0},
				{Kind: channel.ButtonPhone, Text: "Call", Phone: "+15550001111", Index: 1},
			}},
		{ID: "ns_a/login_code/en", Name: "login_code", Language: "en", Body: "{{1}} is your code", Variables: []channel.Variable{{Key: "1"}},
			Links: []channel.TemplateButton{{Kind: channel.ButtonCopyCode, Text: "Copy", URL: otp, Var: "1", Index: 0}}},
		{ID: "ns_a/manual/en", Name: "manual", Language: "en", Kind: "document header", Body: "The manual",
			Media: &channel.TemplateMedia{Kind: channel.MediaDocument, Var: "media"}},
		{ID: "ns_a/named/en", Name: "named", Language: "en", Body: "Hi {{first_name}}", Variables: []channel.Variable{{Key: "first_name"}},
			Unsendable: "Templates with named variables cannot be sent from Parley"},
		{ID: "ns_a/photo_offer/en", Name: "photo_offer", Language: "en", Kind: "image header", Body: "Look at this",
			Media: &channel.TemplateMedia{Kind: channel.MediaImage, Var: "media"}},
		{ID: "ns_a/track/en", Name: "track", Language: "en", Body: "Your parcel",
			Variables: []channel.Variable{{Key: "b0", Hint: "End of the link of “Track”"}},
			Links:     []channel.TemplateButton{{Kind: channel.ButtonURL, Text: "Track", URL: "https://x.example/t/{{b0}}", Var: "b0", Index: 0}}},
		{ID: "ns_a/welcome/en", Name: "welcome", Language: "en", Body: "Welcome to {{1}}!", Variables: []channel.Variable{{Key: "1"}}},
	}
	if !reflect.DeepEqual(got.List, want) {
		for i := range min(len(got.List), len(want)) {
			if !reflect.DeepEqual(got.List[i], want[i]) {
				t.Logf("got %#v\nwant %#v", got.List[i], want[i])
			}
		}
		t.Errorf("templates:\n%s\nwant:\n%s", dump(got.List), dump(want))
	}
	wantBad := []string{
		"nobody (no text)",
		"a template without a name (fr)",
		"nolang (no language)",
		"broken (its parts could not be read)",
		"a template 1msg listed (not readable)",
	}
	if !reflect.DeepEqual(got.Unreadable, wantBad) {
		t.Errorf("unreadable:\n%q\nwant:\n%q", got.Unreadable, wantBad)
	}

	// No namespace anywhere: nothing can be sent.
	c = fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"templates":[{"name":"hello","language":"en","status":"approved","components":[{"type":"BODY","text":"Hello"}]}]}`))
	})
	got, err = c.Templates(t.Context())
	if err != nil || len(got.List) != 0 || !reflect.DeepEqual(got.Unreadable, []string{"hello (no namespace)"}) {
		t.Errorf("without namespaces: %+v, %v", got, err)
	}

	// An empty list is a list.
	c = fakeAPI(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"total":0,"templates":[]}`)) })
	if got, err = c.Templates(t.Context()); err != nil || len(got.List) != 0 || len(got.Unreadable) != 0 {
		t.Errorf("empty list: %+v, %v", got, err)
	}
	c = fakeAPI(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"templates":"none"}`)) })
	if _, err = c.Templates(t.Context()); err == nil {
		t.Error("unreadable list: no error")
	}
}

func TestTemplatesFailures(t *testing.T) {
	e := newEnv(t)
	e.sim.SeedDemoTemplates(testInstance)

	if _, err := mustNew(t, e.api, "not-the-token", testPhone).Templates(t.Context()); sendError(t, err).Code != "401" {
		t.Errorf("wrong token: %v", err)
	}

	e.sim.SetFaults(sandbox.OneMsgFaults{TimeoutRate: 1})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := e.client.Templates(ctx)
	if se := sendError(t, err); !se.Retryable || se.Message != "1msg did not answer in time" {
		t.Errorf("timeout: %+v, want retryable 1msg did not answer in time", se)
	}

	e.sim.SetFaults(sandbox.OneMsgFaults{ServerErrorRate: 1})
	if _, err := e.client.Templates(t.Context()); !sendError(t, err).Retryable {
		t.Errorf("5xx on a read: %v, want retryable", err)
	}
	e.sim.SetFaults(sandbox.OneMsgFaults{})
	if _, err := e.client.Templates(t.Context()); err != nil {
		t.Errorf("after the faults: %v", err)
	}
}

// The IDs Templates makes are what Send reads, whatever the names hold.
func TestTemplateIDRoundTrip(t *testing.T) {
	c := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/" + testInstance + "/templates":
			_, _ = w.Write([]byte(`[{"name":"odd/name %","language":"pt_BR","status":"approved","namespace":"ns/1",` +
				`"components":[{"type":"BODY","text":"Hi"}]}]`))
		default:
			var body map[string]any
			if err := decodeBody(r, &body); err != nil {
				t.Error(err)
			}
			lang, _ := body["language"].(map[string]any)
			if body["template"] != "odd/name %" || body["namespace"] != "ns/1" || lang["code"] != "pt_BR" {
				t.Errorf("sendTemplate body %v", body)
			}
			writeJSON(w, http.StatusOK, map[string]any{"sent": true, "id": "x"})
		}
	})
	ts, err := c.Templates(t.Context())
	if err != nil || len(ts.List) != 1 {
		t.Fatalf("%+v, %v", ts, err)
	}
	if _, err := c.Send(t.Context(), channel.Outgoing{To: testCustomer, TemplateID: ts.List[0].ID}); err != nil {
		t.Fatal(err)
	}
}
