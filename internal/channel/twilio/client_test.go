package twilio_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"

	"parley/internal/channel"
	"parley/internal/channel/twilio"
	"parley/internal/sandbox"
)

// sendError asserts err is a *channel.SendError and returns it.
func sendError(t *testing.T, err error) *channel.SendError {
	t.Helper()
	var se *channel.SendError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T), want a *channel.SendError", err, err)
	}
	if se.Message == "" {
		t.Errorf("SendError %+v has no message for the agent", se)
	}
	return se
}

func TestVerify(t *testing.T) {
	e := newEnv(t)
	if err := e.client.Verify(t.Context()); err != nil {
		t.Errorf("good credentials: %v", err)
	}

	for name, c := range map[string]*twilio.Client{
		"wrong token":     twilio.New(testAccount, otherToken, testSender, sandbox.TwilioTransport(e.api.URL, nil)),
		"unknown account": twilio.New("AC"+strings.Repeat("f", 32), testToken, testSender, sandbox.TwilioTransport(e.api.URL, nil)),
	} {
		t.Run(name, func(t *testing.T) {
			se := sendError(t, c.Verify(t.Context()))
			if se.Code != "20003" || se.Retryable {
				t.Errorf("got %+v, want code 20003, not retryable", se)
			}
			if se.Message != channel.Explain("20003", "") || strings.Contains(se.Message, "{") || strings.Contains(se.Message, "20003") {
				t.Errorf("message %q, want the plain words of channel.Explain", se.Message)
			}
			var rest *client.TwilioRestError
			if !errors.As(se, &rest) || rest.Status != http.StatusUnauthorized {
				t.Errorf("SendError does not wrap Twilio's 401: %v", se.Err)
			}
		})
	}
}

// twilio-go refuses tokens that are not alphanumeric before any request:
// a token pasted with a stray character fails with 21224, not retryable.
func TestVerifyTokenWithIllegalCharacters(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	c := twilio.New(testAccount, testToken+" ", testSender, sandbox.TwilioTransport(srv.URL, nil))
	se := sendError(t, c.Verify(t.Context()))
	if se.Code != "21224" || se.Retryable {
		t.Errorf("got %+v, want code 21224, not retryable", se)
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests reached the server", hits.Load())
	}
}

func TestVerifyUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there any more
	c := twilio.New(testAccount, testToken, testSender, sandbox.TwilioTransport(base, nil))

	se := sendError(t, c.Verify(t.Context()))
	if !se.Retryable || se.Code != "" {
		t.Errorf("got %+v, want retryable without a provider code", se)
	}
	var netErr net.Error
	if !errors.As(se, &netErr) {
		t.Errorf("SendError does not wrap the network error: %v", se.Err)
	}

	_, err := c.Send(t.Context(), channelText("hello", ""))
	if se := sendError(t, err); !se.Retryable {
		t.Errorf("Send to an unreachable Twilio: %+v, want retryable", se)
	}
}

// An account Twilio reports as suspended or closed does not verify.
func TestVerifyInactiveAccount(t *testing.T) {
	for _, status := range []string{"suspended", "closed"} {
		t.Run(status, func(t *testing.T) {
			c := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, map[string]any{"sid": testAccount, "status": status, "friendly_name": "x", "type": "Full"})
			})
			se := sendError(t, c.Verify(t.Context()))
			if se.Code != "account-"+status || se.Retryable || !strings.Contains(se.Message, status) {
				t.Errorf("got %+v", se)
			}
		})
	}
}

func TestSendText(t *testing.T) {
	e := newEnv(t)
	callback := e.hook.srv.URL + "/webhooks/twilio/int-1/status?m=7"
	res, err := e.client.Send(t.Context(), channelText("Hi Ann, your order shipped today.", callback))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if !smSid.MatchString(res.ProviderMessageID) || res.Status != channel.StatusQueued {
		t.Errorf("result %+v, want an SM sid, queued", res)
	}
	sent := e.sim.Sent(testAccount)
	if len(sent) != 1 || sent[0].Sid != res.ProviderMessageID {
		t.Fatalf("simulator accepted %+v, want the one message %s", sent, res.ProviderMessageID)
	}
	want := url.Values{
		"From":           {"whatsapp:" + testSender},
		"To":             {"whatsapp:" + testCustomer},
		"Body":           {"Hi Ann, your order shipped today."},
		"StatusCallback": {callback},
	}
	if !reflect.DeepEqual(sent[0].Params, want) {
		t.Errorf("params\n got %v\nwant %v", sent[0].Params, want)
	}
}

func TestSendWithoutStatusCallback(t *testing.T) {
	e := newEnv(t)
	if _, err := e.client.Send(t.Context(), channelText("hi", "")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if p := e.sim.Sent(testAccount)[0].Params; p.Has("StatusCallback") {
		t.Errorf("StatusCallback %q sent although none was given", p.Get("StatusCallback"))
	}
}

// A file goes as MediaUrl (and Body only when there is a caption); the
// simulator downloads it and the message is delivered.
func TestSendMedia(t *testing.T) {
	e := newEnv(t)
	img := pngBytes(t)
	var downloads atomic.Int32
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		downloads.Add(1)
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(img)
	}))
	t.Cleanup(files.Close)
	e.customerSends(t, sandbox.InboundMessage{Body: "Send me the picture"}) // opens the 24-hour window

	mediaURL := files.URL + "/media/cat.png?sig=abc"
	for _, caption := range []string{"", "Here it is"} {
		t.Run("caption="+caption, func(t *testing.T) {
			before := len(e.sim.Sent(testAccount))
			res, err := e.client.Send(t.Context(), channel.Outgoing{To: testCustomer, Body: caption, MediaURL: mediaURL, MediaType: "image/png", Filename: "cat.png"})
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if !mmSid.MatchString(res.ProviderMessageID) || res.Status != channel.StatusQueued {
				t.Errorf("result %+v, want an MM sid, queued", res)
			}
			sent := e.sim.Sent(testAccount)
			if len(sent) != before+1 {
				t.Fatalf("simulator accepted %d messages, want %d", len(sent), before+1)
			}
			want := url.Values{
				"From":     {"whatsapp:" + testSender},
				"To":       {"whatsapp:" + testCustomer},
				"MediaUrl": {mediaURL},
			}
			if caption != "" {
				want.Set("Body", caption)
			}
			if got := sent[before].Params; !reflect.DeepEqual(got, want) {
				t.Errorf("params\n got %v\nwant %v", got, want)
			}
			e.sim.WaitIdle()
			if got := statusesOf(t, e.hook.statusCalls(res.ProviderMessageID)); !reflect.DeepEqual(got, []string{"sent", "delivered", "read"}) {
				t.Errorf("statuses %q, want sent, delivered, read", got)
			}
		})
	}
	if downloads.Load() != 2 {
		t.Errorf("the file was downloaded %d times, want once per message", downloads.Load())
	}
}

// A template goes as ContentSid and ContentVariables only: Twilio refuses
// Body or MediaUrl next to ContentSid, so they are dropped.
func TestSendTemplate(t *testing.T) {
	e := newEnv(t)
	sid := e.sim.AddTemplate(testAccount, sandbox.Template{
		FriendlyName: "order_ready", Language: "en",
		Body: "Hi {{1}}, your order is ready.", Variables: map[string]string{"1": "Customer name"},
	})
	res, err := e.client.Send(t.Context(), channel.Outgoing{
		To: testCustomer, TemplateID: sid, Variables: map[string]string{"1": "Ann"},
		Body: "Hi Ann, your order is ready.", MediaURL: "https://files.example/x.png",
	})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if !smSid.MatchString(res.ProviderMessageID) || res.Status != channel.StatusQueued {
		t.Errorf("result %+v, want an SM sid, queued", res)
	}
	want := url.Values{
		"From":             {"whatsapp:" + testSender},
		"To":               {"whatsapp:" + testCustomer},
		"ContentSid":       {sid},
		"ContentVariables": {`{"1":"Ann"}`},
	}
	if got := e.sim.Sent(testAccount)[0].Params; !reflect.DeepEqual(got, want) {
		t.Errorf("params\n got %v\nwant %v", got, want)
	}
	// An approved template needs no open window.
	e.sim.WaitIdle()
	if got := statusesOf(t, e.hook.statusCalls(res.ProviderMessageID)); !reflect.DeepEqual(got, []string{"sent", "delivered", "read"}) {
		t.Errorf("statuses %q, want sent, delivered, read", got)
	}
}

func TestSendTemplateVariables(t *testing.T) {
	e := newEnv(t)
	sid := e.sim.AddTemplate(testAccount, sandbox.Template{
		FriendlyName: "follow_up", Language: "en", Body: "We have an update. Reply to continue.",
	})
	multi := e.sim.AddTemplate(testAccount, sandbox.Template{
		FriendlyName: "shipped", Language: "en", Body: "Hi {{1}}, order {{2}} ships {{10}}.",
	})
	for _, tt := range []struct {
		name     string
		template string
		vars     map[string]string
		want     string // ContentVariables; "" means absent
	}{
		{"no variables", sid, nil, ""},
		{"empty variables", sid, map[string]string{}, ""},
		{"several, keys in order, text escaped", multi, map[string]string{"10": "Monday", "2": "#1001", "1": `Ann "A" <Smith> & co`},
			`{"1":"Ann \"A\" \u003cSmith\u003e \u0026 co","10":"Monday","2":"#1001"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.sim.Sent(testAccount))
			if _, err := e.client.Send(t.Context(), channel.Outgoing{To: testCustomer, TemplateID: tt.template, Variables: tt.vars}); err != nil {
				t.Fatalf("Send: %v", err)
			}
			p := e.sim.Sent(testAccount)[before].Params
			if got, ok := p["ContentVariables"]; tt.want == "" && ok || tt.want != "" && (len(got) != 1 || got[0] != tt.want) {
				t.Errorf("ContentVariables %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSendRefused(t *testing.T) {
	e := newEnv(t)
	// Synchronous 400s from the simulator, as Twilio answers them.
	sid := e.sim.AddTemplate(testAccount, sandbox.Template{FriendlyName: "gone", Language: "en", Body: "Hello"})
	e.sim.RemoveTemplate(testAccount, sid)
	for _, tt := range []struct {
		name string
		m    channel.Outgoing
		code string
	}{
		{"invalid To", channel.Outgoing{To: "+12", Body: "hi"}, "21211"},
		{"To not a number", channel.Outgoing{To: "ann", Body: "hi"}, "21211"},
		{"empty message", channel.Outgoing{To: testCustomer}, "21619"},
		{"deleted template", channel.Outgoing{To: testCustomer, TemplateID: sid}, "21655"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.Send(t.Context(), tt.m)
			se := sendError(t, err)
			if se.Code != tt.code || se.Retryable {
				t.Errorf("got %+v, want code %s, not retryable", se, tt.code)
			}
			var rest *client.TwilioRestError
			if !errors.As(se, &rest) {
				t.Fatalf("SendError does not wrap Twilio's error: %v", se.Err)
			}
			if want := channel.Explain(tt.code, rest.Message); se.Message != want {
				t.Errorf("message %q, want channel.Explain's %q", se.Message, want)
			}
		})
	}
	if n := len(e.sim.Sent(testAccount)); n != 0 {
		t.Errorf("simulator accepted %d refused messages", n)
	}
}

// A sender the account does not own: 63007, answered synchronously.
func TestSendFromUnknownSender(t *testing.T) {
	e := newEnv(t)
	c := twilio.New(testAccount, testToken, "+15550001111", sandbox.TwilioTransport(e.api.URL, nil))
	_, err := c.Send(t.Context(), channelText("hi", ""))
	if se := sendError(t, err); se.Code != "63007" || se.Retryable || se.Message != channel.Explain("63007", "") {
		t.Errorf("got %+v, want 63007 explained, not retryable", se)
	}
}

func TestSendServerErrors(t *testing.T) {
	e := newEnv(t)
	e.sim.SetFaults(sandbox.TwilioFaults{ServerErrorRate: 1})
	for range 8 { // the simulator picks 500 or 503 at random: Twilio may have taken either
		_, err := e.client.Send(t.Context(), channelText("hi", ""))
		se := sendError(t, err)
		if se.Retryable || !se.Unknown || (se.Code != "20500" && se.Code != "20503") {
			t.Fatalf("got %+v, want 20500/20503 with an unknown outcome, not blindly retryable", se)
		}
	}
	if err := e.client.Verify(t.Context()); err == nil || !sendError(t, err).Retryable {
		t.Errorf("Verify during an outage: %v, want a retryable SendError", err)
	}
	if n := len(e.sim.Sent(testAccount)); n != 0 {
		t.Errorf("simulator accepted %d messages during the outage", n)
	}
}

// Answers that are not Twilio's: what the adapter makes of them.
func TestSendOddAnswers(t *testing.T) {
	const messageJSON = `{"sid":"SM0123456789abcdef0123456789abcdef","status":%q,"to":"whatsapp:+15005550006"}`
	tests := []struct {
		name      string
		status    int
		ctype     string
		body      string
		code      string // want SendError.Code
		retryable bool   // surely not taken: safe to send again
		unknown   bool   // may have been taken: look it up first
	}{
		{"429 with Twilio's JSON", http.StatusTooManyRequests, "application/json",
			`{"code":20429,"message":"Too Many Requests","more_info":"https://www.twilio.com/docs/errors/20429","status":429}`, "20429", true, false},
		{"429 without a body", http.StatusTooManyRequests, "text/plain", "", "20429", true, false},
		{"502 proxy error page", http.StatusBadGateway, "text/html", "<html><body>Bad Gateway</body></html>", "", false, true},
		{"503 with Twilio's JSON", http.StatusServiceUnavailable, "application/json",
			`{"code":20503,"message":"Service Unavailable","status":503}`, "20503", false, true},
		{"400 with Twilio's JSON", http.StatusBadRequest, "application/json",
			`{"code":21610,"message":"Attempt to send to unsubscribed recipient","status":400}`, "21610", false, false},
		{"400 with a page", http.StatusBadRequest, "text/html", "<html>Bad Request</html>", "", false, false},
		// A 2xx whose body cannot be read: Twilio may have created the
		// message, so sending again blindly could send it twice.
		{"200 with garbage", http.StatusOK, "text/html", "<html>Welcome to the captive portal</html>", "", false, true},
		{"201 with truncated JSON", http.StatusCreated, "application/json", `{"sid":"SM0123456789abcdef0123`, "", false, true},
		{"201 without a sid", http.StatusCreated, "application/json", `{"status":"queued"}`, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.ctype)
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			res, err := c.Send(t.Context(), channelText("hi", ""))
			if err == nil {
				t.Fatalf("got %+v, want an error", res)
			}
			se := sendError(t, err)
			if se.Code != tt.code || se.Retryable != tt.retryable || se.Unknown != tt.unknown {
				t.Errorf("got %+v, want code %q retryable %v unknown %v", se, tt.code, tt.retryable, tt.unknown)
			}
			if strings.Contains(se.Message, "<html") {
				t.Errorf("message %q shows the raw answer", se.Message)
			}
		})
	}

	// Twilio's statuses on create map onto Parley's; one Parley does not
	// know leaves the message queued.
	for twilioStatus, want := range map[string]string{
		"queued": channel.StatusQueued, "accepted": channel.StatusQueued, "sending": channel.StatusQueued,
		"sent": channel.StatusSent, "failed": channel.StatusFailed, "partially_delivered": channel.StatusQueued,
	} {
		t.Run("status "+twilioStatus, func(t *testing.T) {
			c := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusCreated)
				_, _ = fmt.Fprintf(w, messageJSON, twilioStatus)
			})
			res, err := c.Send(t.Context(), channelText("hi", ""))
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if res.ProviderMessageID != "SM0123456789abcdef0123456789abcdef" || res.Status != want {
				t.Errorf("got %+v, want status %q", res, want)
			}
		})
	}
}

// The 200-with-garbage case for Verify: an answer that cannot be read is
// not a verified account.
func TestVerifyGarbage(t *testing.T) {
	c := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<html>It works!</html>")
	})
	se := sendError(t, c.Verify(t.Context()))
	if se.Code != "" || !se.Retryable {
		t.Errorf("got %+v, want retryable without a code", se)
	}
}

func statusesOf(t *testing.T, calls []hookCall) []string {
	t.Helper()
	var out []string
	for _, c := range calls {
		out = append(out, mustParse(t, c.Form).Status.Status)
	}
	return out
}

// The template list holds only content WhatsApp approved, sorted by name
// then language, with variables in order and their hints, quick-reply
// buttons, and the names of entries whose fields are broken.
func TestTemplates(t *testing.T) {
	e := newEnv(t)
	add := func(tpl sandbox.Template) string { return e.sim.AddTemplate(testAccount, tpl) }
	shipped := add(sandbox.Template{FriendlyName: "order_shipped", Language: "en",
		Body: "Hi {{1}}, order {{2}} ships on {{3}}.", Variables: map[string]string{"2": "Order number", "1": "Customer name"}})
	add(sandbox.Template{FriendlyName: "pending_one", Language: "en", Body: "Soon", Status: "pending"})
	add(sandbox.Template{FriendlyName: "rejected_one", Language: "en", Body: "{{1}}", Status: "rejected"})
	es := add(sandbox.Template{FriendlyName: "Order_shipped", Language: "es", Body: "Hola {{1}}"})
	check := add(sandbox.Template{FriendlyName: "check", Language: "en", Body: "Resolved?", QuickReplies: []string{"Yes", "No"}})
	add(sandbox.Template{FriendlyName: "empty_text", Language: "en", Body: "  "})
	add(sandbox.Template{FriendlyName: "", Language: "en", Body: "No name"})

	got, err := e.client.Templates(t.Context())
	if err != nil {
		t.Fatalf("Templates: %v", err)
	}
	want := []channel.Template{
		{ID: check, Name: "check", Language: "en", Kind: "twilio/quick-reply", Body: "Resolved?", Buttons: []string{"Yes", "No"}},
		{ID: shipped, Name: "order_shipped", Language: "en", Body: "Hi {{1}}, order {{2}} ships on {{3}}.",
			Variables: []channel.Variable{{Key: "1", Hint: "Customer name"}, {Key: "2", Hint: "Order number"}, {Key: "3"}}},
		{ID: es, Name: "Order_shipped", Language: "es", Body: "Hola {{1}}", Variables: []channel.Variable{{Key: "1"}}},
	}
	if !reflect.DeepEqual(got.List, want) {
		t.Errorf("templates\n got %+v\nwant %+v", got.List, want)
	}
	if len(got.Unreadable) != 2 || !strings.Contains(got.Unreadable[0], "empty_text (no text)") ||
		!strings.Contains(got.Unreadable[1], "without a name") {
		t.Errorf("unreadable %q, want the template without text and the one without a name", got.Unreadable)
	}
}

// A Twilio that does not answer in time or answers with an error gives a
// SendError with words for the agent.
func TestTemplatesProviderFails(t *testing.T) {
	e := newEnv(t)
	e.sim.SetFaults(sandbox.TwilioFaults{TimeoutRate: 1})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := e.client.Templates(ctx)
	if se := sendError(t, err); !se.Retryable || !strings.Contains(se.Message, "in time") {
		t.Errorf("timeout: %+v", se)
	}

	bad := twilio.New(testAccount, otherToken, testSender, sandbox.TwilioTransport(e.api.URL, nil))
	e.sim.SetFaults(sandbox.TwilioFaults{})
	_, err = bad.Templates(t.Context())
	if se := sendError(t, err); se.Code != "20003" {
		t.Errorf("wrong token: %+v", se)
	}
}
