package twilio_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"parley/internal/channel"
	"parley/internal/channel/twilio"
	"parley/internal/sandbox"
)

// Every content type is listed with what the client will see: the media
// header, the text, the footer, quick replies, links with their address,
// call buttons with their number, the copy-code button of an
// authentication template; the types Parley cannot send are named.
func TestTemplatesEveryContentType(t *testing.T) {
	e := newEnv(t)
	e.sim.SeedDemoTemplates(testAccount)
	got, err := e.client.Templates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]channel.Template{}
	for _, tpl := range got.List {
		by[tpl.Name] = tpl
	}
	menu := by["spring_menu"]
	if menu.Kind != "twilio/media" || menu.Media == nil || menu.Media.Kind != channel.MediaImage ||
		menu.Media.URL != e.api.URL+"/samples/"+sandbox.SampleImage || menu.Media.NeedsFile() || menu.Unsendable != "" {
		t.Errorf("media template: %+v (media %+v)", menu, menu.Media)
	}
	track := by["track_order"]
	wantLinks := []channel.TemplateButton{
		{Kind: channel.ButtonURL, Text: "Track order", URL: "https://track.example.com/{{3}}", Var: "3", Index: 0},
		{Kind: channel.ButtonPhone, Text: "Call us", Phone: "+15550001111", Index: 1},
	}
	if track.Kind != "twilio/call-to-action" || !reflect.DeepEqual(track.Links, wantLinks) ||
		!reflect.DeepEqual(track.Variables, []channel.Variable{{Key: "1", Hint: "Customer name"}, {Key: "2", Hint: "Order number"}, {Key: "3", Hint: "AB12CD"}}) {
		t.Errorf("call-to-action: %+v", track)
	}
	card := by["welcome_card"]
	if card.Body != "Welcome to Demo Company, {{1}}!" || card.Footer != "Reply any time to talk to us" || card.Media == nil ||
		!reflect.DeepEqual(card.Buttons, []string{"Talk to an agent"}) || len(card.Links) != 1 || card.Links[0].URL != "https://www.example.com/" {
		t.Errorf("twilio/card: %+v", card)
	}
	wa := by["appointment_card"]
	if wa.HeaderText != "Your appointment" || wa.Footer != "Reply to change the time" || len(wa.Links) != 1 || wa.Links[0].Phone != "+15550003333" {
		t.Errorf("whatsapp/card: %+v", wa)
	}
	code := by["login_code"]
	if code.Kind != "whatsapp/authentication" || code.Body != "{{1}} is your verification code. For your security, do not share this code." ||
		code.Footer != "This code expires in 10 minutes." || len(code.Links) != 1 || code.Links[0].Kind != channel.ButtonCopyCode ||
		code.Links[0].Var != "1" || !reflect.DeepEqual(code.Variables, []channel.Variable{{Key: "1", Hint: "The one-time code"}}) {
		t.Errorf("authentication: %+v", code)
	}
	if u := by["choose_department"].Unsendable; u != "List picker templates cannot be sent from Parley" {
		t.Errorf("list picker: %q", u)
	}
	if u := by["summer_collection"].Unsendable; u != "Carousel templates cannot be sent from Parley" {
		t.Errorf("carousel: %q", u)
	}
	for _, name := range []string{"spring_menu", "track_order", "welcome_card", "appointment_card", "login_code", "order_shipped"} {
		if by[name].Unsendable != "" {
			t.Errorf("%s: unsendable %q", name, by[name].Unsendable)
		}
	}
	if got.Cut != nil {
		t.Errorf("cut %+v for a whole list", got.Cut)
	}
}

// A list longer than Parley reads says so.
func TestTemplatesCutAtTheLimit(t *testing.T) {
	e := newEnv(t)
	e.sim.SeedDemoTemplates(testAccount)
	defer twilio.SetMaxTemplates(4)()
	got, err := e.client.Templates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got.Cut == nil || got.Cut.Read != 4 {
		t.Errorf("cut %+v, want the first 4 read", got.Cut)
	}
}

// A media header the agent supplies goes as the content variable that
// completes the template's link; WhatsApp fetches it and the client gets
// the file.
func TestSendMediaTemplate(t *testing.T) {
	e := newEnv(t)
	png := pngBytes(t)
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/media/public/tok/photo.png" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(png)
	}))
	t.Cleanup(files.Close)
	prefix := files.URL + "/media/public/"
	sid := e.sim.AddTemplate(testAccount, sandbox.Template{
		FriendlyName: "photo_offer", Language: "en", Variables: map[string]string{"1": "Customer name", "2": "tok/sample.png"},
		Types: map[string]any{"twilio/media": map[string]any{"body": "Hi {{1}}, look at this!", "media": []any{prefix + "{{2}}"}}},
	})
	ts, err := e.client.Templates(t.Context())
	if err != nil || len(ts.List) != 1 {
		t.Fatalf("%+v %v", ts, err)
	}
	tpl := ts.List[0]
	if !tpl.Media.NeedsFile() || tpl.Media.Prefix != prefix || tpl.Media.Var != "2" || tpl.Media.URL != prefix+"tok/sample.png" ||
		!reflect.DeepEqual(tpl.Variables, []channel.Variable{{Key: "1", Hint: "Customer name"}}) {
		t.Fatalf("media template %+v (media %+v): the link's variable is not one the agent types", tpl, tpl.Media)
	}
	out := channel.Outgoing{To: testCustomer, TemplateID: sid, Variables: map[string]string{"1": "Ann"},
		TemplateMedia: tpl.Media, MediaURL: prefix + "tok/photo.png"}
	res, err := e.client.Send(t.Context(), out)
	if err != nil {
		t.Fatal(err)
	}
	p := e.sim.Sent(testAccount)[0].Params
	if p.Get("ContentVariables") != `{"1":"Ann","2":"tok/photo.png"}` || p.Has("MediaUrl") {
		t.Errorf("params %v", p)
	}
	e.sim.WaitIdle()
	conv := e.sim.Conversation(testSender, testCustomer)
	if len(conv) != 1 || conv[0].Sid != res.ProviderMessageID || conv[0].Status != "read" || conv[0].Body != "Hi Ann, look at this!" ||
		len(conv[0].MediaContentTypes) != 1 || conv[0].MediaContentTypes[0] != "image/png" {
		t.Errorf("the client got %+v", conv)
	}

	// A link outside the template's approved start is refused before Twilio.
	out.MediaURL = "https://elsewhere.example/photo.png"
	if _, err := e.client.Send(t.Context(), out); !strings.Contains(sendError(t, err).Message, prefix) {
		t.Errorf("outside the prefix: %v", err)
	}
	// The simulator, like Twilio, wants the media variable at send time.
	out.TemplateMedia, out.MediaURL = nil, ""
	if _, err := e.client.Send(t.Context(), out); sendError(t, err).Code != "21656" {
		t.Errorf("without the media variable: %v, want 21656", err)
	}
	// A link WhatsApp cannot download fails the message (63019).
	out.TemplateMedia, out.MediaURL = tpl.Media, prefix+"tok/gone.png"
	res, err = e.client.Send(t.Context(), out)
	if err != nil {
		t.Fatal(err)
	}
	e.sim.WaitIdle()
	calls := e.hook.statusCalls(res.ProviderMessageID)
	if len(calls) == 0 || calls[len(calls)-1].Form.Get("MessageStatus") != "failed" || calls[len(calls)-1].Form.Get("ErrorCode") != "63019" {
		t.Errorf("unreachable media: %v", calls)
	}
}

// An authentication template takes the code as variable 1; without it
// Twilio refuses the send.
func TestSendAuthenticationTemplate(t *testing.T) {
	e := newEnv(t)
	e.sim.SeedDemoTemplates(testAccount)
	ts, err := e.client.Templates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var code channel.Template
	for _, tpl := range ts.List {
		if tpl.Name == "login_code" {
			code = tpl
		}
	}
	if _, err := e.client.Send(t.Context(), channel.Outgoing{To: testCustomer, TemplateID: code.ID}); sendError(t, err).Code != "21656" {
		t.Errorf("without the code: %v, want 21656", err)
	}
	res, err := e.client.Send(t.Context(), channel.Outgoing{To: testCustomer, TemplateID: code.ID, Variables: map[string]string{"1": "482913"},
		TemplateLinks: code.Links})
	if err != nil {
		t.Fatal(err)
	}
	e.sim.WaitIdle()
	conv := e.sim.Conversation(testSender, testCustomer)
	want := "482913 is your verification code. For your security, do not share this code.\nThis code expires in 10 minutes."
	if len(conv) != 1 || conv[0].Sid != res.ProviderMessageID || conv[0].Body != want {
		t.Errorf("the client got %+v", conv)
	}
	if p := e.sim.Sent(testAccount); p[len(p)-1].Params.Get("ContentVariables") != `{"1":"482913"}` {
		t.Errorf("params %v", p[len(p)-1].Params)
	}
}
