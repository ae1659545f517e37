package httpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"

	"parley/internal/channel"
	"parley/internal/sandbox"
)

// templateOn returns an integration's listed template by name.
func (d *demo) templateOn(t *testing.T, integrationID int64, name string) channel.Template {
	t.Helper()
	ts, err := d.env.App.Integrations.Templates(context.Background(), d.admin.TenantID, integrationID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tpl := range ts.List {
		if tpl.Name == name {
			return tpl
		}
	}
	t.Fatalf("no template %q", name)
	return channel.Template{}
}

// templatePost posts the composer with a template, its values and, for
// a media header, a file (name, type, data) in the template's file field.
func (d *demo) templatePost(t *testing.T, caseID int64, fields url.Values, fileName, fileType string, data []byte) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range fields {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	if data != nil {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="template_media_file"; filename=%q`, fileName))
		h.Set("Content-Type", fileType)
		fw, _ := mw.CreatePart(h)
		_, _ = fw.Write(data)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/chats/%d/reply", d.env.URL, caseID), &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("HX-Request", "true")
	resp, err := d.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return resp.StatusCode, out.String()
}

const receiptPDF = "%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"

// Every template type Parley sends through Twilio reaches the client as
// they will see it: a fixed media header, an agent's file completing an
// approved media link, link and call buttons, both kinds of card, an
// authentication code. A type Parley cannot send, and a media template
// without its media, are refused before anything is stored.
func TestEveryTwilioTemplateTypeReachesTheClient(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	const customer = "+15557650001"
	d.customerWrites(t, customer, "Hello")
	chat := d.liveChats(t)[0]

	post := func(name, key string, values ...string) {
		t.Helper()
		if status, body := d.composerPost(t, chat.ID, templateForm(d.template(t, name), key, values...), nil, ""); status != http.StatusOK {
			t.Fatalf("%s: %d\n%s", name, status, body)
		}
	}
	post("spring_menu", "k1", "Casey")
	receipt := d.template(t, "order_receipt")
	if status, body := d.templatePost(t, chat.ID, templateForm(receipt, "k2", "Casey", "#1001"), "receipt 1001.pdf", "application/pdf", []byte(receiptPDF)); status != http.StatusOK {
		t.Fatalf("order_receipt: %d\n%s", status, body)
	}
	post("track_order", "k3", "Casey", "#1001", "XY99")
	post("welcome_card", "k4", "Casey")
	post("appointment_card", "k5", "Casey", "Monday 10:00")
	post("login_code", "k6", "482913")
	eventually(t, "six templates read", func() bool {
		return d.count(t, `SELECT count(*) FROM messages WHERE kind = 'template' AND status = 'read'`) == 6
	})
	if n := d.count(t, `SELECT count(*) FROM messages WHERE direction = 'out' AND status = 'failed'`); n != 0 {
		t.Fatalf("%d templates failed", n)
	}

	vars := map[string]string{}
	for _, s := range d.sim.Sent(sandbox.DemoTwilioAccountSID) {
		if s.Params.Has("MediaUrl") || s.Params.Has("Body") {
			t.Errorf("a template went with Body or MediaUrl: %v", s.Params)
		}
		vars[s.Params.Get("ContentSid")] = s.Params.Get("ContentVariables")
	}
	var receiptVars map[string]string
	if err := json.Unmarshal([]byte(vars[receipt.ID]), &receiptVars); err != nil || receiptVars["1"] != "Casey" || receiptVars["2"] != "#1001" ||
		!strings.HasSuffix(receiptVars["3"], "/receipt 1001.pdf") {
		t.Errorf("receipt variables %q: the file's link end goes as variable 3", vars[receipt.ID])
	}
	if got := vars[d.template(t, "track_order").ID]; got != `{"1":"Casey","2":"#1001","3":"XY99"}` {
		t.Errorf("call-to-action variables %s", got)
	}
	if got := vars[d.template(t, "login_code").ID]; got != `{"1":"482913"}` {
		t.Errorf("authentication variables %s", got)
	}

	bodies := map[string]bool{}
	media := map[string]bool{}
	for _, m := range d.sim.Conversation(d.ig.Sender, customer) {
		bodies[m.Body] = true
		for _, ct := range m.MediaContentTypes {
			media[ct] = true
		}
	}
	for _, want := range []string{
		"Hi Casey, our spring menu is here!",
		"Hi Casey, here is the receipt for your order #1001.",
		"Hi Casey, your order #1001 is on its way.",
		"Welcome to Demo Company, Casey!\nReply any time to talk to us",
		"Your appointment\nHi Casey, we look forward to seeing you on Monday 10:00.\nReply to change the time",
		"482913 is your verification code. For your security, do not share this code.\nThis code expires in 10 minutes.",
	} {
		if !bodies[want] {
			t.Errorf("the client did not get %q; got %v", want, bodies)
		}
	}
	if !media["image/png"] || !media["application/pdf"] {
		t.Errorf("the client got media %v, want the menu image and the receipt", media)
	}
	// Parley shows what the client read.
	for _, m := range d.messages(t, chat.ID) {
		if m.Template != nil && m.Template.Name == "appointment_card" && m.Body != "Your appointment\nHi Casey, we look forward to seeing you on Monday 10:00.\nReply to change the time" {
			t.Errorf("stored %q", m.Body)
		}
	}

	before := len(d.sim.Sent(sandbox.DemoTwilioAccountSID))
	picker := d.template(t, "choose_department")
	if status, body := d.composerPost(t, chat.ID, templateForm(picker, "k7"), nil, ""); status != http.StatusUnprocessableEntity ||
		!strings.Contains(body, "List picker templates cannot be sent from Parley") {
		t.Errorf("list picker: %d\n%s", status, body)
	}
	if status, body := d.composerPost(t, chat.ID, templateForm(receipt, "k8", "Casey", "#1002"), nil, ""); status != http.StatusUnprocessableEntity ||
		!strings.Contains(body, "attach it or give its link") {
		t.Errorf("media template without media: %d\n%s", status, body)
	}
	f := templateForm(receipt, "k9", "Casey", "#1003")
	f.Set("template_media_url", "https://elsewhere.example/receipt.pdf")
	if status, body := d.composerPost(t, chat.ID, f, nil, ""); status != http.StatusUnprocessableEntity || !strings.Contains(body, d.env.URL+"/media/public/") {
		t.Errorf("a link outside the approved start: %d\n%s", status, body)
	}
	zip := []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00receipt.pdf")
	if status, body := d.templatePost(t, chat.ID, templateForm(receipt, "k10", "Casey", "#1004"), "receipt.zip", "application/zip", zip); status != http.StatusUnprocessableEntity ||
		!strings.Contains(body, "Nothing was sent.") {
		t.Errorf("a ZIP for the template's document: %d\n%s", status, body)
	}
	if n := len(d.sim.Sent(sandbox.DemoTwilioAccountSID)); n != before {
		t.Errorf("%d refused templates reached Twilio", n-before)
	}
}

// Through 1msg, a media header goes as the header component with the
// link the agent gave or the public link of the file they attached;
// WhatsApp downloads it and the client sees it.
func TestOneMsgMediaHeaderTemplates(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	const customer = "+15557000002"
	d.customerWrites1msg(t, sandbox.OneMsgInbound{From: customer, Body: "Hi"})
	chat := d.chatOn(t, d.om.ID)

	menu := d.templateOn(t, d.om.ID, "spring_menu")
	f := templateForm(menu, "m1", "Mo")
	f.Set("template_media_url", menu.Media.URL) // the approved sample, served by the simulator
	if status, body := d.composerPost(t, chat.ID, f, nil, ""); status != http.StatusOK {
		t.Fatalf("image by link: %d\n%s", status, body)
	}
	receipt := d.templateOn(t, d.om.ID, "order_receipt")
	if status, body := d.templatePost(t, chat.ID, templateForm(receipt, "m2", "Mo", "#7"), "receipt.pdf", "application/pdf", []byte(receiptPDF)); status != http.StatusOK {
		t.Fatalf("document by file: %d\n%s", status, body)
	}
	eventually(t, "both templates delivered", func() bool {
		return d.count(t, `SELECT count(*) FROM messages WHERE kind = 'template' AND status IN ('delivered', 'read')`) == 2
	})
	var params []string
	for _, s := range d.omsim.Sent(sandbox.DemoOneMsgInstance) {
		if s.Method == "sendTemplate" {
			p, _ := json.Marshal(s.Body["params"])
			params = append(params, string(p))
		}
	}
	if len(params) != 2 || !strings.Contains(params[0], `{"image":{"link":"`+menu.Media.URL+`"},"type":"image"}`) ||
		!strings.Contains(params[1], `"document":{"filename":"receipt.pdf","link":"`+d.env.URL+`/media/public/`) {
		t.Errorf("sendTemplate params %q", params)
	}
	media := map[string]bool{}
	for _, m := range d.omsim.Conversation(sandbox.DemoOneMsgInstance, customer) {
		for _, ct := range m.MediaContentTypes {
			media[ct] = true
		}
	}
	if !media["image/png"] || !media["application/pdf"] {
		t.Errorf("the client got media %v", media)
	}
	// A location header cannot be filled from Parley: named, not sent.
	loc := d.templateOn(t, d.om.ID, "store_location")
	if status, body := d.composerPost(t, chat.ID, templateForm(loc, "m3"), nil, ""); status != http.StatusUnprocessableEntity ||
		!strings.Contains(body, "Templates with a location header cannot be sent from Parley") {
		t.Errorf("location header: %d\n%s", status, body)
	}
}
