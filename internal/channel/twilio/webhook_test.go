package twilio_test

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"parley/internal/channel"
	"parley/internal/channel/twilio"
	"parley/internal/sandbox"
)

// IDs shaped like Twilio's (two letters and 32 hex digits).
const (
	inSid    = "SM8824c2b1f9e64a4e8d4f0a6b3c2d1e0f"
	inMMSid  = "MM5cc4a1b2c3d4e5f60718293a4b5c6d7e"
	outSid   = "SM1f0e2d3c4b5a69788796a5b4c3d2e1f0"
	waClient = "+6285176810035"
	media0   = "https://api.twilio.com/2010-04-01/Accounts/" + testAccount + "/Messages/" + inMMSid + "/Media/ME0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	media1   = "https://api.twilio.com/2010-04-01/Accounts/" + testAccount + "/Messages/" + inMMSid + "/Media/ME9f8e7d6c5b4a39281706f5e4d3c2b1a0"
	windowed = "Failed to send freeform message because you are outside the allowed window. If you are using WhatsApp, please use a Message Template."
)

var webhookNow = time.Date(2026, 5, 8, 14, 30, 0, 0, time.UTC)

// inboundForm is an inbound WhatsApp webhook as Twilio posts it
// (shared/research/twilio.md §1, the captured quick-reply body) with the
// given parameters set; a value of "-" deletes the parameter.
func inboundForm(sid string, kv ...string) url.Values {
	f := url.Values{
		"SmsMessageSid":    {sid},
		"NumMedia":         {"0"},
		"ProfileName":      {"teknisee"},
		"MessageType":      {"text"},
		"SmsSid":           {sid},
		"WaId":             {strings.TrimPrefix(waClient, "+")},
		"SmsStatus":        {"received"},
		"Body":             {""},
		"To":               {"whatsapp:" + testSender},
		"NumSegments":      {"1"},
		"ReferralNumMedia": {"0"},
		"MessageSid":       {sid},
		"AccountSid":       {testAccount},
		"From":             {"whatsapp:" + waClient},
		"ApiVersion":       {"2010-04-01"},
	}
	return set(f, kv...)
}

// statusForm is a WhatsApp status callback (shared/research/twilio.md §2,
// the captured sent/delivered/read bodies) with the given parameters set.
func statusForm(status string, kv ...string) url.Values {
	f := url.Values{
		"SmsSid":            {outSid},
		"SmsStatus":         {status},
		"MessageStatus":     {status},
		"ChannelToAddress":  {waClient},
		"To":                {"whatsapp:" + waClient},
		"ChannelPrefix":     {"whatsapp"},
		"MessageSid":        {outSid},
		"AccountSid":        {testAccount},
		"From":              {"whatsapp:" + testSender},
		"ApiVersion":        {"2010-04-01"},
		"ChannelInstallSid": {"XE0123456789abcdef0123456789abcdef"},
	}
	switch status {
	case "sent":
		f.Set("StructuredMessage", "false")
	case "delivered", "read":
		f.Set("EventType", strings.ToUpper(status))
	}
	return set(f, kv...)
}

func set(f url.Values, kv ...string) url.Values {
	if len(kv)%2 != 0 {
		panic("set: odd key/value list")
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "-" {
			f.Del(kv[i])
		} else {
			f.Set(kv[i], kv[i+1])
		}
	}
	return f
}

type webhookCase struct {
	name         string
	form         url.Values
	wantInbound  *channel.Inbound
	wantStatus   *channel.Status
	wantWarnings []string // substrings, one per warning, in order
	wantErr      error    // errors.Is target; errAny for any error
}

var errAny = errors.New("any error")

func webhookCases() []webhookCase {
	in := func(m channel.Inbound) *channel.Inbound {
		m.At = webhookNow
		if m.From == "" {
			m.From = waClient
		}
		if m.WaID == "" {
			m.WaID = strings.TrimPrefix(waClient, "+")
		}
		m.To = testSender
		return &m
	}
	tooMany := inboundForm(inMMSid, "NumMedia", "12", "Body", "album")
	for i := range 12 {
		tooMany.Set(fmt.Sprintf("MediaUrl%d", i), fmt.Sprintf("%s%d", media0, i))
		tooMany.Set(fmt.Sprintf("MediaContentType%d", i), "image/jpeg")
	}
	var tenMedia []channel.MediaRef
	for i := range 10 {
		tenMedia = append(tenMedia, channel.MediaRef{URL: fmt.Sprintf("%s%d", media0, i), ContentType: "image/jpeg"})
	}

	return []webhookCase{
		{
			name:        "text",
			form:        inboundForm(inSid, "Body", "Halo, pesanan saya sudah dikirim?"),
			wantInbound: in(channel.Inbound{ProviderMessageID: inSid, ProfileName: "teknisee", Body: "Halo, pesanan saya sudah dikirim?"}),
		},
		{
			name:        "text with newlines and emoji kept verbatim",
			form:        inboundForm(inSid, "Body", "  Line one\nline two 👍  "),
			wantInbound: in(channel.Inbound{ProviderMessageID: inSid, ProfileName: "teknisee", Body: "  Line one\nline two 👍  "}),
		},
		{
			name: "two media, no caption",
			form: inboundForm(inMMSid, "MessageType", "image", "NumMedia", "2",
				"MediaUrl0", media0, "MediaContentType0", "image/jpeg",
				"MediaUrl1", media1, "MediaContentType1", "application/pdf"),
			wantInbound: in(channel.Inbound{ProviderMessageID: inMMSid, ProfileName: "teknisee", Media: []channel.MediaRef{
				{URL: media0, ContentType: "image/jpeg"},
				{URL: media1, ContentType: "application/pdf"},
			}}),
		},
		{
			name: "media with caption",
			form: inboundForm(inMMSid, "MessageType", "image", "NumMedia", "1", "Body", "my receipt",
				"MediaUrl0", media0, "MediaContentType0", "image/png"),
			wantInbound: in(channel.Inbound{ProviderMessageID: inMMSid, ProfileName: "teknisee", Body: "my receipt",
				Media: []channel.MediaRef{{URL: media0, ContentType: "image/png"}}}),
		},
		{
			name: "NumMedia says 3 but one file is given",
			form: inboundForm(inMMSid, "NumMedia", "3", "MediaUrl0", media0, "MediaContentType0", "audio/ogg"),
			wantInbound: in(channel.Inbound{ProviderMessageID: inMMSid, ProfileName: "teknisee",
				Media: []channel.MediaRef{{URL: media0, ContentType: "audio/ogg"}}}),
			wantWarnings: []string{"MediaUrl1 is missing"},
		},
		{
			name: "NumMedia is not a number, files present",
			form: inboundForm(inMMSid, "NumMedia", "abc", "MediaUrl0", media0, "MediaContentType0", "video/mp4"),
			wantInbound: in(channel.Inbound{ProviderMessageID: inMMSid, ProfileName: "teknisee",
				Media: []channel.MediaRef{{URL: media0, ContentType: "video/mp4"}}}),
			wantWarnings: []string{`NumMedia "abc" is not a count`},
		},
		{
			name:         "NumMedia is not a number, no files",
			form:         inboundForm(inSid, "NumMedia", "abc", "Body", "hi"),
			wantInbound:  in(channel.Inbound{ProviderMessageID: inSid, ProfileName: "teknisee", Body: "hi"}),
			wantWarnings: []string{`NumMedia "abc" is not a count`},
		},
		{
			name:         "NumMedia negative",
			form:         inboundForm(inSid, "NumMedia", "-1", "Body", "hi"),
			wantInbound:  in(channel.Inbound{ProviderMessageID: inSid, ProfileName: "teknisee", Body: "hi"}),
			wantWarnings: []string{`NumMedia "-1" is not a count`},
		},
		{
			name:        "more than ten media: the first ten",
			form:        tooMany,
			wantInbound: in(channel.Inbound{ProviderMessageID: inMMSid, ProfileName: "teknisee", Body: "album", Media: tenMedia}),
		},
		{
			name: "location",
			form: inboundForm(inSid, "MessageType", "location", "Latitude", "-6.2087634", "Longitude", "106.845599",
				"Address", "Jl. M.H. Thamrin No.1, Jakarta", "Label", "Grand Indonesia"),
			wantInbound: in(channel.Inbound{ProviderMessageID: inSid, ProfileName: "teknisee", Location: &channel.Location{
				Latitude: "-6.2087634", Longitude: "106.845599", Address: "Jl. M.H. Thamrin No.1, Jakarta", Label: "Grand Indonesia",
			}}),
		},
		{
			name: "location pin without address",
			form: inboundForm(inSid, "MessageType", "location", "Latitude", "52.3676", "Longitude", "4.9041"),
			wantInbound: in(channel.Inbound{ProviderMessageID: inSid, ProfileName: "teknisee",
				Location: &channel.Location{Latitude: "52.3676", Longitude: "4.9041"}}),
		},
		{
			name:         "half a location is no location",
			form:         inboundForm(inSid, "Latitude", "52.3676"),
			wantInbound:  in(channel.Inbound{ProviderMessageID: inSid, ProfileName: "teknisee"}),
			wantWarnings: []string{"empty message"},
		},
		{
			name: "quick-reply button, empty Body",
			form: inboundForm(inSid, "MessageType", "interactive", "ButtonText", "Konfirmasi", "ButtonPayload", "{verifyEmail:asd@asd.com}",
				"OriginalRepliedMessageSid", inMMSid, "OriginalRepliedMessageSender", "whatsapp:"+testSender),
			wantInbound: in(channel.Inbound{ProviderMessageID: inSid, ProfileName: "teknisee", Body: "Konfirmasi", ButtonText: "Konfirmasi", ButtonPayload: "{verifyEmail:asd@asd.com}", QuotedID: inMMSid}),
		},
		{
			name: "quick-reply button as captured (Body repeats the text)",
			form: inboundForm(inSid, "MessageType", "interactive", "Body", "Konfirmasi", "ButtonText", "Konfirmasi", "ButtonPayload", "{verifyEmail:asd@asd.com}",
				"Forwarded", "false", "FrequentlyForwarded", "false",
				"ChannelMetadata", `{"type":"whatsapp","data":{"context":{"ButtonText":"Konfirmasi","ProfileName":"teknisee","WaId":"6285176810035"}}}`),
			wantInbound: in(channel.Inbound{ProviderMessageID: inSid, ProfileName: "teknisee", Body: "Konfirmasi", ButtonText: "Konfirmasi", ButtonPayload: "{verifyEmail:asd@asd.com}"}),
		},
		{
			name:        "profile name trimmed; From, not WaId, is the number",
			form:        inboundForm(inSid, "ProfileName", "  Ann Smith \t", "WaId", "15550000000", "Body", "hi"),
			wantInbound: in(channel.Inbound{ProviderMessageID: inSid, ProfileName: "Ann Smith", Body: "hi", WaID: "15550000000"}),
		},
		{
			name:        "no profile name",
			form:        inboundForm(inSid, "ProfileName", "-", "Body", "hi"),
			wantInbound: in(channel.Inbound{ProviderMessageID: inSid, Body: "hi"}),
		},
		{
			name:        "only the deprecated SmsSid",
			form:        inboundForm(inSid, "MessageSid", "-", "Body", "hi"),
			wantInbound: in(channel.Inbound{ProviderMessageID: inSid, ProfileName: "teknisee", Body: "hi"}),
		},
		{
			name:        "MessageStatus received is an inbound message",
			form:        inboundForm(inSid, "MessageStatus", "received", "Body", "hi"),
			wantInbound: in(channel.Inbound{ProviderMessageID: inSid, ProfileName: "teknisee", Body: "hi"}),
		},
		{
			name:         "nothing in it",
			form:         inboundForm(inSid),
			wantInbound:  in(channel.Inbound{ProviderMessageID: inSid, ProfileName: "teknisee"}),
			wantWarnings: []string{"empty message"},
		},

		// Status callbacks.
		{name: "status sent", form: statusForm("sent"), wantStatus: &channel.Status{ProviderMessageID: outSid, Status: channel.StatusSent}},
		{name: "status delivered", form: statusForm("delivered"), wantStatus: &channel.Status{ProviderMessageID: outSid, Status: channel.StatusDelivered}},
		{name: "status read", form: statusForm("read"), wantStatus: &channel.Status{ProviderMessageID: outSid, Status: channel.StatusRead}},
		{name: "status queued", form: statusForm("queued"), wantStatus: &channel.Status{ProviderMessageID: outSid, Status: channel.StatusQueued}},
		{name: "status sending", form: statusForm("sending"), wantStatus: &channel.Status{ProviderMessageID: outSid, Status: channel.StatusQueued}},
		{
			name:       "status failed 63016",
			form:       statusForm("failed", "ErrorCode", "63016", "ErrorMessage", windowed),
			wantStatus: &channel.Status{ProviderMessageID: outSid, Status: channel.StatusFailed, ErrorCode: "63016", ErrorText: windowed},
		},
		{
			name:       "status undelivered 63016",
			form:       statusForm("undelivered", "ErrorCode", "63016", "ErrorMessage", windowed, "MessagingServiceSid", "MG0123456789abcdef0123456789abcdef"),
			wantStatus: &channel.Status{ProviderMessageID: outSid, Status: channel.StatusFailed, ErrorCode: "63016", ErrorText: windowed},
		},
		{
			name:       "status failed with a code only",
			form:       statusForm("failed", "ErrorCode", "63024"),
			wantStatus: &channel.Status{ProviderMessageID: outSid, Status: channel.StatusFailed, ErrorCode: "63024"},
		},
		{name: "status canceled", form: statusForm("canceled"), wantStatus: &channel.Status{ProviderMessageID: outSid, Status: channel.StatusFailed}},
		{name: "status unknown", form: statusForm("exploded"), wantErr: errAny},
		{name: "status without MessageSid", form: statusForm("sent", "MessageSid", "-", "SmsSid", "-"), wantErr: errAny},

		// Refusals.
		{name: "From is an SMS number", form: inboundForm(inSid, "From", "+15551234567", "Body", "hi"), wantErr: twilio.ErrNotWhatsApp},
		{name: "From is sms:", form: inboundForm(inSid, "From", "sms:+15551234567", "Body", "hi"), wantErr: twilio.ErrNotWhatsApp},
		{name: "From is Messenger", form: inboundForm(inSid, "From", "messenger:1234567890", "Body", "hi"), wantErr: twilio.ErrNotWhatsApp},
		{name: "From is upper-case WHATSAPP:", form: inboundForm(inSid, "From", "WHATSAPP:+15551234567", "Body", "hi"), wantErr: twilio.ErrNotWhatsApp},
		{name: "From missing", form: inboundForm(inSid, "From", "-", "Body", "hi"), wantErr: twilio.ErrNotWhatsApp},
		{name: "From is not a number", form: inboundForm(inSid, "From", "whatsapp:ann", "Body", "hi"), wantErr: errAny},
		{name: "From without +", form: inboundForm(inSid, "From", "whatsapp:6285176810035", "Body", "hi"), wantErr: errAny},
		{name: "From with spaces", form: inboundForm(inSid, "From", "whatsapp:+62 851 7681 0035", "Body", "hi"), wantErr: errAny},
		{name: "From starting +0", form: inboundForm(inSid, "From", "whatsapp:+0285176810035", "Body", "hi"), wantErr: errAny},
		{name: "From too short", form: inboundForm(inSid, "From", "whatsapp:+1234567", "Body", "hi"), wantErr: errAny},
		{name: "From too long", form: inboundForm(inSid, "From", "whatsapp:+1234567890123456", "Body", "hi"), wantErr: errAny},
		{name: "From empty after prefix", form: inboundForm(inSid, "From", "whatsapp:", "Body", "hi"), wantErr: errAny},
		{name: "missing MessageSid", form: inboundForm(inSid, "MessageSid", "-", "SmsSid", "-", "Body", "hi"), wantErr: errAny},
		{name: "empty form", form: url.Values{}, wantErr: errAny},
	}
}

func TestParseWebhook(t *testing.T) {
	for _, tt := range webhookCases() {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := twilio.ParseWebhook(tt.form, webhookNow)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("got %+v, want an error", ev)
				}
				if tt.wantErr != errAny && !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				if tt.wantErr == errAny && errors.Is(err, twilio.ErrNotWhatsApp) {
					t.Fatalf("error %v: a WhatsApp webhook called not WhatsApp", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			if !reflect.DeepEqual(ev.Inbound, tt.wantInbound) {
				t.Errorf("Inbound\n got %+v\nwant %+v", deref(ev.Inbound), deref(tt.wantInbound))
			}
			if !reflect.DeepEqual(ev.Status, tt.wantStatus) {
				t.Errorf("Status\n got %+v\nwant %+v", deref(ev.Status), deref(tt.wantStatus))
			}
			if len(ev.Warnings) != len(tt.wantWarnings) {
				t.Fatalf("warnings %q, want %d matching %q", ev.Warnings, len(tt.wantWarnings), tt.wantWarnings)
			}
			for i, w := range tt.wantWarnings {
				if !strings.Contains(ev.Warnings[i], w) {
					t.Errorf("warning %d = %q, want it to mention %q", i, ev.Warnings[i], w)
				}
			}
		})
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// Webhooks as the simulator builds them (the same parameters as Twilio's)
// parse into what the customer sent.
func TestParseWebhookFromSimulator(t *testing.T) {
	e := newEnv(t)
	img := pngBytes(t)

	c := e.customerSends(t, sandbox.InboundMessage{Body: "Where is my order?", ProfileName: "Ann Smith"})
	ev := mustParse(t, c.Form)
	if ev.Inbound == nil || ev.Inbound.From != testCustomer || ev.Inbound.Body != "Where is my order?" ||
		ev.Inbound.ProfileName != "Ann Smith" || ev.Inbound.ProviderMessageID != c.Form.Get("MessageSid") || !smSid.MatchString(ev.Inbound.ProviderMessageID) {
		t.Errorf("text: %+v", deref(ev.Inbound))
	}

	c = e.customerSends(t, sandbox.InboundMessage{Media: []sandbox.MediaFile{
		{ContentType: "image/png", Filename: "a.png", Data: img},
		{ContentType: "application/pdf", Filename: "b.pdf", Data: []byte("%PDF-1.4")},
	}})
	ev = mustParse(t, c.Form)
	if ev.Inbound == nil || len(ev.Inbound.Media) != 2 || !mmSid.MatchString(ev.Inbound.ProviderMessageID) {
		t.Fatalf("media: %+v", deref(ev.Inbound))
	}
	for i, want := range []string{"image/png", "application/pdf"} {
		m := ev.Inbound.Media[i]
		if m.ContentType != want || !strings.HasPrefix(m.URL, e.api.URL+"/api/2010-04-01/Accounts/"+testAccount+"/Messages/") {
			t.Errorf("media %d: %+v", i, m)
		}
	}
	if len(ev.Warnings) != 0 {
		t.Errorf("media: warnings %q", ev.Warnings)
	}

	c = e.customerSends(t, sandbox.InboundMessage{Latitude: "52.3676", Longitude: "4.9041", Address: "Dam 1", Label: "Office"})
	ev = mustParse(t, c.Form)
	if ev.Inbound == nil || !reflect.DeepEqual(ev.Inbound.Location, &channel.Location{Latitude: "52.3676", Longitude: "4.9041", Address: "Dam 1", Label: "Office"}) {
		t.Errorf("location: %+v", deref(ev.Inbound))
	}

	c = e.customerSends(t, sandbox.InboundMessage{ButtonText: "Talk to an agent", ButtonPayload: "agent"})
	ev = mustParse(t, c.Form)
	if ev.Inbound == nil || ev.Inbound.Body != "Talk to an agent" || ev.Inbound.ButtonPayload != "agent" {
		t.Errorf("button: %+v", deref(ev.Inbound))
	}
}

// Status callbacks from the simulator: sent → delivered → read for a
// message inside the 24-hour window, failed 63016 outside it.
func TestParseWebhookSimulatorStatusCallbacks(t *testing.T) {
	e := newEnv(t)
	// Outside the window: the create is accepted, delivery fails.
	late, err := e.client.Send(t.Context(), channelText("Are you still there?", ""))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	e.sim.WaitIdle()
	calls := e.hook.statusCalls(late.ProviderMessageID)
	if len(calls) != 1 {
		t.Fatalf("got %d status callbacks outside the window, want 1", len(calls))
	}
	ev := mustParse(t, calls[0].Form)
	want := &channel.Status{ProviderMessageID: late.ProviderMessageID, Status: channel.StatusFailed, ErrorCode: "63016", ErrorText: windowed}
	if !reflect.DeepEqual(ev.Status, want) || ev.Inbound != nil {
		t.Errorf("outside the window: %+v, want %+v", deref(ev.Status), *want)
	}
	if got := channel.Explain(ev.Status.ErrorCode, ev.Status.ErrorText); got != channel.WindowClosedMessage {
		t.Errorf("63016 explained as %q", got)
	}

	e.customerSends(t, sandbox.InboundMessage{Body: "yes"})
	res, err := e.client.Send(t.Context(), channelText("Great, your order shipped.", ""))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	e.sim.WaitIdle()
	var got []string
	for _, c := range e.hook.statusCalls(res.ProviderMessageID) {
		ev := mustParse(t, c.Form)
		if ev.Status == nil || ev.Inbound != nil || ev.Status.ProviderMessageID != res.ProviderMessageID || ev.Status.ErrorCode != "" {
			t.Fatalf("status callback %v parsed as %+v", c.Form, ev)
		}
		got = append(got, ev.Status.Status)
	}
	if !reflect.DeepEqual(got, []string{channel.StatusSent, channel.StatusDelivered, channel.StatusRead}) {
		t.Errorf("statuses %q, want sent, delivered, read", got)
	}
}

func mustParse(t *testing.T, form url.Values) twilio.Event {
	t.Helper()
	ev, err := twilio.ParseWebhook(form, webhookNow)
	if err != nil {
		t.Fatalf("ParseWebhook(%v): %v", form, err)
	}
	return ev
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// FuzzParseWebhook feeds arbitrary form bodies. ParseWebhook never panics;
// when it accepts a form, exactly one of Inbound and Status is set, an
// Inbound comes from an E.164 number (or a user id alone) with at most ten
// files, and a Status is one Parley knows.
func FuzzParseWebhook(f *testing.F) {
	for _, tt := range webhookCases() {
		f.Add(tt.form.Encode())
	}
	for _, form := range replayCorpus(f) {
		f.Add(form.Encode())
	}
	f.Add("MessageSid=SM1&From=whatsapp%3A%2B15005550006&NumMedia=99999999999999999999&MediaUrl0=x")
	f.Add("MessageSid=SM1&From=whatsapp%3A%2B15005550006&NumMedia=2&MediaUrl0=&MediaUrl1=x")
	f.Add("MessageSid=SM1&MessageStatus=&From=whatsapp%3A%2B%EF%BC%91%EF%BC%95%EF%BC%95%EF%BC%95%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90")
	known := map[string]bool{channel.StatusQueued: true, channel.StatusSent: true, channel.StatusDelivered: true, channel.StatusRead: true, channel.StatusFailed: true}
	f.Fuzz(func(t *testing.T, body string) {
		form, _ := url.ParseQuery(body) // a partly malformed body still yields what parsed
		ev, err := twilio.ParseWebhook(form, webhookNow)
		if err != nil {
			if ev.Inbound != nil || ev.Status != nil {
				t.Fatalf("error %v with an event %+v", err, ev)
			}
			return
		}
		if (ev.Inbound == nil) == (ev.Status == nil) {
			t.Fatalf("want exactly one of Inbound and Status: %+v", ev)
		}
		if in := ev.Inbound; in != nil {
			// A client who hides their number is known by their user id.
			if !e164.MatchString(in.From) && (in.From != "" || in.UserID == "") {
				t.Fatalf("From %q is not E.164 (user id %q)", in.From, in.UserID)
			}
			if len(in.Media) > 10 {
				t.Fatalf("%d media", len(in.Media))
			}
			for _, m := range in.Media {
				if m.URL == "" {
					t.Fatalf("media without a URL: %+v", in.Media)
				}
			}
			if in.ProviderMessageID == "" {
				t.Fatal("inbound without a message id")
			}
		}
		if s := ev.Status; s != nil {
			if !known[s.Status] {
				t.Fatalf("status %q", s.Status)
			}
			if s.ProviderMessageID == "" {
				t.Fatal("status without a message id")
			}
		}
	})
}
