package onemsg_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"parley/internal/channel"
	"parley/internal/sandbox"
)

// templatesByName lists the simulator's demo templates through the adapter.
func templatesByName(t *testing.T, e *env) map[string]channel.Template {
	t.Helper()
	e.sim.SeedDemoTemplates(testInstance)
	got, err := e.client.Templates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]channel.Template{}
	for _, tpl := range got.List {
		by[tpl.Name+"/"+tpl.Language] = tpl
	}
	return by
}

// Templates with media headers, link and call buttons and authentication
// templates are listed with what the client will see; a location header,
// which Parley cannot fill, is listed and named.
func TestTemplatesEveryKindFromSimulator(t *testing.T) {
	e := newEnv(t)
	by := templatesByName(t, e)
	menu := by["spring_menu/en"]
	if menu.Kind != "image header" || menu.Unsendable != "" || menu.Footer != "Demo Company" ||
		!reflect.DeepEqual(menu.Media, &channel.TemplateMedia{Kind: channel.MediaImage, URL: e.srv.URL + "/samples/" + sandbox.SampleImage, Var: "media"}) {
		t.Errorf("image header: %+v (media %+v)", menu, menu.Media)
	}
	if m := by["order_receipt/en"].Media; m == nil || m.Kind != channel.MediaDocument || !m.NeedsFile() {
		t.Errorf("document header: %+v", m)
	}
	if m := by["store_tour/en"].Media; m == nil || m.Kind != channel.MediaVideo {
		t.Errorf("video header: %+v", m)
	}
	track := by["track_order/en"]
	wantLinks := []channel.TemplateButton{
		{Kind: channel.ButtonURL, Text: "Track order", URL: "https://track.example.com/{{b0}}", Var: "b0", Index: 0},
		{Kind: channel.ButtonPhone, Text: "Call us", Phone: "+15550002222", Index: 1},
	}
	if !reflect.DeepEqual(track.Links, wantLinks) || len(track.Variables) != 3 || track.Variables[2].Key != "b0" {
		t.Errorf("link buttons: %+v", track)
	}
	code := by["login_code/en"]
	if code.Kind != "authentication" || len(code.Links) != 1 || code.Links[0].Kind != channel.ButtonCopyCode || code.Links[0].Var != "1" ||
		!reflect.DeepEqual(code.Variables, []channel.Variable{{Key: "1", Hint: "The one-time code"}}) {
		t.Errorf("authentication: %+v", code)
	}
	if u := by["store_location/en"].Unsendable; u != "Templates with a location header cannot be sent from Parley" {
		t.Errorf("location header: %q", u)
	}
}

// A list whose total is more than it holds says it was cut.
func TestTemplatesCutList(t *testing.T) {
	c := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"total":250,"templates":[{"name":"hello","language":"en","status":"approved","namespace":"ns",` +
			`"components":[{"type":"BODY","text":"Hello"}]}]}`))
	})
	got, err := c.Templates(t.Context())
	if err != nil || len(got.List) != 1 || !reflect.DeepEqual(got.Cut, &channel.TemplatesCut{Read: 1, Total: 250}) {
		t.Errorf("%+v (cut %+v), %v", got, got.Cut, err)
	}
}

// sendParams is the params of the last sendTemplate, as JSON.
func sendParams(t *testing.T, e *env) string {
	t.Helper()
	b, err := json.Marshal(e.lastSent(t).Body["params"])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A media header goes as the header component with the file's link; a
// link button's end and an authentication code as button components.
// WhatsApp downloads the media; one it cannot download fails the message.
func TestSendRichTemplates(t *testing.T) {
	e := newEnv(t)
	by := templatesByName(t, e)
	out := func(name string, vars map[string]string, mediaURL string) channel.Outgoing {
		tpl := by[name]
		o := channel.Outgoing{To: testCustomer, TemplateID: tpl.ID, Variables: vars, MediaURL: mediaURL, TemplateLinks: tpl.Links}
		if tpl.Media.NeedsFile() {
			o.TemplateMedia = tpl.Media
		}
		return o
	}
	image := e.srv.URL + "/samples/" + sandbox.SampleImage
	res, err := e.client.Send(t.Context(), out("spring_menu/en", map[string]string{"1": "Ann"}, image))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sendParams(t, e), `[{"parameters":[{"image":{"link":"`+image+`"},"type":"image"}],"type":"header"},{"parameters":[{"text":"Ann","type":"text"}],"type":"body"}]`; got != want {
		t.Errorf("image header params\n got %s\nwant %s", got, want)
	}
	e.sim.WaitIdle()
	conv := e.sim.Conversation(testInstance, testCustomer)
	if last := conv[len(conv)-1]; last.Sid != res.ProviderMessageID || last.Body != "Hi Ann, our spring menu is here!" ||
		len(last.MediaContentTypes) != 1 || last.MediaContentTypes[0] != "image/png" || last.ErrorCode != 0 {
		t.Errorf("the client got %+v", last)
	}

	doc := out("order_receipt/en", map[string]string{"1": "Ann", "2": "#1001"}, e.srv.URL+"/samples/receipt.pdf")
	doc.Filename = "Receipt 1001.pdf"
	if _, err := e.client.Send(t.Context(), doc); err != nil {
		t.Fatal(err)
	}
	if got := sendParams(t, e); got != `[{"parameters":[{"document":{"filename":"Receipt 1001.pdf","link":"`+e.srv.URL+`/samples/receipt.pdf"},"type":"document"}],"type":"header"},{"parameters":[{"text":"Ann","type":"text"},{"text":"#1001","type":"text"}],"type":"body"}]` {
		t.Errorf("document header params %s", got)
	}

	if _, err := e.client.Send(t.Context(), out("track_order/en", map[string]string{"1": "Ann", "2": "#1001", "b0": "XY99"}, "")); err != nil {
		t.Fatal(err)
	}
	if got := sendParams(t, e); got != `[{"parameters":[{"text":"Ann","type":"text"},{"text":"#1001","type":"text"}],"type":"body"},{"index":"0","parameters":[{"text":"XY99","type":"text"}],"sub_type":"url","type":"button"}]` {
		t.Errorf("link button params %s", got)
	}
	res, err = e.client.Send(t.Context(), out("login_code/en", map[string]string{"1": "482913"}, ""))
	if err != nil {
		t.Fatal(err)
	}
	if got := sendParams(t, e); got != `[{"parameters":[{"text":"482913","type":"text"}],"type":"body"},{"index":"0","parameters":[{"text":"482913","type":"text"}],"sub_type":"url","type":"button"}]` {
		t.Errorf("authentication params %s", got)
	}
	e.sim.WaitIdle()
	if acks := e.hook.acks(t, res.ProviderMessageID); len(acks) == 0 || acks[len(acks)-1].Status == channel.StatusFailed {
		t.Errorf("authentication acks %+v", acks)
	}

	// Like Meta, the simulator fails a media template sent without its
	// media (132000) and one whose link it cannot download (131053).
	for _, tt := range []struct {
		name string
		out  channel.Outgoing
		code string
	}{
		{"no media", func() channel.Outgoing {
			o := out("spring_menu/en", map[string]string{"1": "Ann"}, "")
			o.TemplateMedia = nil
			return o
		}(), "132000"},
		{"unreachable media", out("spring_menu/en", map[string]string{"1": "Ann"}, e.srv.URL+"/samples/missing.png"), "131053"},
		{"no link button value", out("track_order/en", map[string]string{"1": "Ann", "2": "#1"}, ""), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.client.Send(t.Context(), tt.out)
			if tt.code == "" {
				// Parley itself refuses a button without its value.
				if se := sendError(t, err); se.Retryable {
					t.Errorf("%+v", se)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			e.sim.WaitIdle()
			acks := e.hook.acks(t, res.ProviderMessageID)
			if len(acks) == 0 || acks[len(acks)-1].Status != channel.StatusFailed || acks[len(acks)-1].ErrorCode != tt.code {
				t.Errorf("acks %+v, want failed %s", acks, tt.code)
			}
		})
	}
}
