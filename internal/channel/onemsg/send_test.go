package onemsg_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"parley/internal/channel"
	"parley/internal/channel/onemsg"
	"parley/internal/sandbox"
)

// jsonOf decodes a JSON literal the way the simulator records bodies
// (numbers as json.Number), for comparisons with Sent.
func jsonOf(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return m
}

// assertSent checks the last send the simulator accepted: its method and
// its exact request body.
func assertSent(t *testing.T, e *env, method, body string) {
	t.Helper()
	got := e.lastSent(t)
	if want := jsonOf(t, body); got.Method != method || !reflect.DeepEqual(got.Body, want) {
		gotJSON, _ := json.Marshal(got.Body)
		t.Errorf("simulator got %s %s\nwant %s %s", got.Method, gotJSON, method, body)
	}
}

// assertDelivered waits for the simulator and checks the message went
// sent → delivered → read, with no failure.
func assertDelivered(t *testing.T, e *env, id string) {
	t.Helper()
	e.sim.WaitIdle()
	var got []string
	for _, a := range e.hook.acks(t, id) {
		got = append(got, a.Status)
		if a.Status == channel.StatusFailed {
			t.Errorf("message %s failed: %+v", id, a)
		}
	}
	if want := []string{"sent", "delivered", "read"}; !reflect.DeepEqual(got, want) {
		t.Errorf("acks of %s: %v, want %v", id, got, want)
	}
}

func TestSendInsideWindow(t *testing.T) {
	e := newEnv(t)
	e.customerWrites(t, "Hello, I need help")
	file := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(pngBytes(t))
	}))
	t.Cleanup(file.Close)

	for _, tt := range []struct {
		name   string
		m      channel.Outgoing
		method string
		body   string
		kind   string // the echo's type
	}{
		{
			name: "text", m: channel.Outgoing{To: testCustomer, Body: "Hi Casey, looking into it now."},
			method: "sendMessage", body: `{"phone":"15005550006","body":"Hi Casey, looking into it now."}`, kind: "chat",
		},
		{
			name: "file with caption", m: channel.Outgoing{To: testCustomer, Body: "Your receipt", MediaURL: file.URL + "/media/public/tok/receipt.png", MediaType: "image/png", Filename: "receipt.png"},
			method: "sendFile", body: `{"phone":"15005550006","body":"` + file.URL + `/media/public/tok/receipt.png","filename":"receipt.png","caption":"Your receipt"}`, kind: "image",
		},
		{
			name: "file without caption or name", m: channel.Outgoing{To: testCustomer, MediaURL: file.URL + "/media/public/tok/scan.png"},
			method: "sendFile", body: `{"phone":"15005550006","body":"` + file.URL + `/media/public/tok/scan.png","filename":"scan.png"}`, kind: "image",
		},
		{
			name: "buttons", m: channel.Outgoing{To: testCustomer, Body: "Was your issue resolved?", Buttons: []string{"Yes", "No", "Talk to an agent"}},
			method: "sendButton",
			body: `{"phone":"15005550006","body":"Was your issue resolved?","sections":[` +
				`{"type":"reply","reply":{"id":"1","title":"Yes"}},` +
				`{"type":"reply","reply":{"id":"2","title":"No"}},` +
				`{"type":"reply","reply":{"id":"3","title":"Talk to an agent"}}]}`,
			kind: "interactive",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.client.Send(t.Context(), tt.m)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if !strings.HasPrefix(res.ProviderMessageID, "wamid.") || res.Status != channel.StatusQueued {
				t.Errorf("result %+v, want the wamid, queued", res)
			}
			assertSent(t, e, tt.method, tt.body)
			assertDelivered(t, e, res.ProviderMessageID)
			// The echo comes back as the business's own message, sent
			// through the API.
			echo := e.hook.message(t, res.ProviderMessageID)
			if !echo.FromMe || echo.FromApp || echo.From != testCustomer || echo.ProfileName != "" {
				t.Errorf("echo %+v", echo)
			}
			if tt.kind == "image" && (len(echo.Media) != 1 || !strings.HasPrefix(echo.Media[0].URL, e.srv.URL+"/media/")) {
				t.Errorf("echo of a file: %+v", echo)
			}
		})
	}
}

func TestSendOutsideWindow(t *testing.T) {
	e := newEnv(t)
	for name, m := range map[string]channel.Outgoing{
		"text":    {To: testCustomer, Body: "Are you still there?"},
		"buttons": {To: testCustomer, Body: "Still there?", Buttons: []string{"Yes"}},
	} {
		_, err := e.client.Send(t.Context(), m)
		se := sendError(t, err)
		if se.Retryable || se.Message != channel.WindowClosedMessage || se.Code != "" {
			t.Errorf("%s: got %+v, want the window-closed words, not retryable", name, se)
		}
		if !strings.Contains(se.Err.Error(), "Dialog window is closed") {
			t.Errorf("%s: 1msg's words are lost: %v", name, se.Err)
		}
	}
	if n := len(e.sim.Sent(testInstance)); n != 0 {
		t.Errorf("the simulator accepted %d sends", n)
	}
}

func TestSendEmptyBody(t *testing.T) {
	e := newEnv(t)
	e.customerWrites(t, "hi")
	_, err := e.client.Send(t.Context(), channel.Outgoing{To: testCustomer, Body: "  "})
	se := sendError(t, err)
	if se.Retryable || se.Message != channel.Explain("", "empty body") || se.Message != "The message is empty" {
		t.Errorf("got %+v", se)
	}
}

func TestSendRefusedLocally(t *testing.T) {
	var hits atomic.Int32
	c := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	for name, m := range map[string]channel.Outgoing{
		"not E.164":             {To: "15005550006", Body: "hi"},
		"template id garbled":   {To: testCustomer, TemplateID: "order_shipped"},
		"template id too short": {To: testCustomer, TemplateID: "ns/order_shipped"},
		"template id empty ns":  {To: testCustomer, TemplateID: "/order_shipped/en"},
		"odd variable":          {To: testCustomer, TemplateID: "ns/order_shipped/en", Variables: map[string]string{"name": "Ann"}},
		"variable 0":            {To: testCustomer, TemplateID: "ns/order_shipped/en", Variables: map[string]string{"0": "Ann"}},
	} {
		_, err := c.Send(t.Context(), m)
		if se := sendError(t, err); se.Retryable {
			t.Errorf("%s: %+v is retryable", name, se)
		} else if strings.HasPrefix(name, "template id") && !strings.Contains(se.Message, "pick the template again") {
			t.Errorf("%s: message %q", name, se.Message)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests reached 1msg", hits.Load())
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.Send(ctx, channel.Outgoing{To: testCustomer, Body: "hi"})
	if se := sendError(t, err); !se.Retryable {
		t.Errorf("an ended context before sending: %+v, want retryable (nothing went out)", se)
	}
}

// templateByName finds a listed template.
func templateByName(t *testing.T, ts channel.Templates, name, lang string) channel.Template {
	t.Helper()
	for _, tpl := range ts.List {
		if tpl.Name == name && tpl.Language == lang {
			return tpl
		}
	}
	t.Fatalf("template %s/%s not listed in %+v", name, lang, ts)
	return channel.Template{}
}

func TestSendTemplate(t *testing.T) {
	e := newEnv(t) // no customer message: templates go out any time
	e.sim.SeedDemoTemplates(testInstance)
	e.sim.AddTemplate(testInstance, sandbox.OneMsgTemplate{
		Name: "order_update", Language: "en", Namespace: namespace(t, e),
		Header: "Order {{1}}", Body: "Hi {{1}}, your order {{2}} ships on {{3}}.", Footer: "Reply STOP to opt out",
	})
	ts, err := e.client.Templates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ns := namespace(t, e)

	for _, tt := range []struct {
		name, lang string
		vars       map[string]string
		params     string // the exact params sent
	}{
		// components served as a JSON string; no variables → "params": []
		{"conversation_follow_up", "en", nil, `[]`},
		{"issue_resolved_check", "en", map[string]string{"1": "Casey"}, `[{"type":"body","parameters":[{"type":"text","text":"Casey"}]}]`},
		// language served as {"code": "es"}
		{"order_shipped", "es", map[string]string{"1": "Ana", "2": "A-17", "3": "10 de marzo"},
			`[{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"A-17"},{"type":"text","text":"10 de marzo"}]}]`},
		// no namespace of its own: its siblings'
		{"atualizacao_atendimento", "pt_BR", map[string]string{}, `[]`},
		{"order_update", "en", map[string]string{"3": "Friday", "h1": "A-17", "1": "Casey", "2": "#A-17"},
			`[{"type":"header","parameters":[{"type":"text","text":"A-17"}]},` +
				`{"type":"body","parameters":[{"type":"text","text":"Casey"},{"type":"text","text":"#A-17"},{"type":"text","text":"Friday"}]}]`},
	} {
		t.Run(tt.name+"/"+tt.lang, func(t *testing.T) {
			tpl := templateByName(t, ts, tt.name, tt.lang)
			if len(tt.vars) != len(tpl.Variables) {
				t.Fatalf("test values %v for variables %+v", tt.vars, tpl.Variables)
			}
			res, err := e.client.Send(t.Context(), channel.Outgoing{To: testCustomer, TemplateID: tpl.ID, Variables: tt.vars})
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if res.ProviderMessageID == "" || res.Status != channel.StatusQueued {
				t.Errorf("result %+v", res)
			}
			assertSent(t, e, "sendTemplate", `{"template":"`+tt.name+`","language":{"policy":"deterministic","code":"`+tt.lang+`"},`+
				`"namespace":"`+ns+`","params":`+tt.params+`,"phone":"15005550006"}`)
			assertDelivered(t, e, res.ProviderMessageID)
		})
	}

	t.Run("wrong number of values", func(t *testing.T) {
		// 1msg accepts it; WhatsApp fails it later, in an ack.
		tpl := templateByName(t, ts, "order_shipped", "en")
		res, err := e.client.Send(t.Context(), channel.Outgoing{To: testCustomer, TemplateID: tpl.ID, Variables: map[string]string{"1": "Ann"}})
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		e.sim.WaitIdle()
		acks := e.hook.acks(t, res.ProviderMessageID)
		if len(acks) != 1 || acks[0].Status != channel.StatusFailed || acks[0].ErrorCode != "132000" ||
			!strings.Contains(acks[0].ErrorText, "Number of parameters does not match") {
			t.Errorf("acks %+v, want one failed ack with 132000", acks)
		}
	})

	t.Run("template gone", func(t *testing.T) {
		tpl := templateByName(t, ts, "order_shipped", "en")
		e.sim.RemoveTemplate(testInstance, "order_shipped", "en")
		_, err := e.client.Send(t.Context(), channel.Outgoing{To: testCustomer, TemplateID: tpl.ID, Variables: map[string]string{"1": "a", "2": "b", "3": "c"}})
		se := sendError(t, err)
		if se.Retryable || se.Message != channel.Explain("", "template is not defined") || se.Message != channel.Explain("132001", "") {
			t.Errorf("got %+v, want the words for 132001", se)
		}
	})
}

// namespace is the namespace the simulator gives the channel's templates.
func namespace(t *testing.T, e *env) string {
	t.Helper()
	resp, err := http.Get(e.api + "templates?token=" + testToken)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Templates []struct {
			Namespace string `json:"namespace"`
		} `json:"templates"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	for _, tpl := range list.Templates {
		if tpl.Namespace != "" {
			return tpl.Namespace
		}
	}
	t.Fatal("no template with a namespace")
	return ""
}

func TestSendAnswers(t *testing.T) {
	for _, tt := range []struct {
		name      string
		status    int
		body      string
		wantID    string
		wantErr   bool
		code      string
		message   string // exact, or "~" + a part of it
		retryable bool
	}{
		{name: "sent", status: 200, body: `{"sent":true,"id":"gBGGeRhGZTEfAgkJCh2wAz4ZH-8","message":"Sent to 15005550006@c.us"}`, wantID: "gBGGeRhGZTEfAgkJCh2wAz4ZH-8"},
		{name: "sent as a string", status: 200, body: `{"sent":"true","id":"abc"}`, wantID: "abc"},
		{name: "queued with a job", status: 200, body: `{"sent":false,"jobId":"job-42","message":"Queued"}`, wantID: ""},
		{name: "window closed with a Meta code", status: 200, body: `{"sent":false,"message":"(#131047) Message failed to send because more than 24 hours have passed"}`,
			wantErr: true, code: "131047", message: channel.WindowClosedMessage},
		{name: "empty body", status: 200, body: `{"sent":false,"message":"empty body"}`, wantErr: true, message: "The message is empty"},
		{name: "sent:false without words", status: 200, body: `{"sent":false}`, wantErr: true, message: "The message could not be sent."},
		{name: "unsupported interactive", status: 200, body: `{"sent":false,"message":"Unsupported Interactive Message type"}`, wantErr: true, message: channel.Explain("131051", "")},
		{name: "400 message", status: 400, body: `{"message":"template is not defined"}`, wantErr: true, message: channel.Explain("132001", "")},
		{name: "400 error string", status: 400, body: `{"error":"Dialog window is closed"}`, wantErr: true, message: channel.WindowClosedMessage},
		{name: "400 error object", status: 400, body: `{"error":{"message":"Dialog window is closed"}}`, wantErr: true, message: channel.WindowClosedMessage},
		{name: "400 Meta error with code", status: 400, body: `{"error":{"message":"(#132012) Parameter format does not match","type":"OAuthException","code":132012}}`,
			wantErr: true, code: "132012", message: channel.Explain("132012", "")},
		{name: "400 error_code and user message", status: 400, body: `{"error":{"message":"Invalid parameter","error_code":"131026","error_user_msg":"Message undeliverable"}}`,
			wantErr: true, code: "131026", message: channel.Explain("131026", "")},
		{name: "400 unknown words", status: 400, body: `{"message":"Something odd"}`, wantErr: true, message: "The provider refused the message: Something odd"},
		{name: "401", status: 401, body: `{"error":"Wrong token \"` + testToken + `\" for channel \"` + testInstance + `\". Please provide token as a GET parameter."}`,
			wantErr: true, code: "401", message: "~1msg refused the token: Wrong token"},
		{name: "403 plain text", status: 403, body: "subscriptionBlocked: the channel's trial has ended", wantErr: true, code: "403",
			message: onemsg.TrialRefusal + ": subscriptionBlocked: the channel's trial has ended."},
		{name: "429", status: 429, body: `{"error":"Too many requests"}`, wantErr: true, code: "429", retryable: true, message: "~retried"},
		{name: "500", status: 500, body: `{"error":"Internal Server Error"}`, wantErr: true, message: "~may or may not have reached the client"},
		{name: "502 HTML", status: 502, body: `<html><body>Bad Gateway</body></html>`, wantErr: true, message: "~may or may not have reached the client"},
		{name: "garbage", status: 200, body: `<html>oops</html>`, wantErr: true, message: "~could not read"},
		{name: "empty object", status: 200, body: `{}`, wantErr: true, message: "~could not read"},
		{name: "array", status: 200, body: `[]`, wantErr: true, message: "~could not read"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got map[string]any
			c := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/"+testInstance+"/sendMessage" || r.URL.Query().Get("token") != testToken ||
					r.Header.Get("Content-Type") != "application/json" {
					t.Errorf("request %s %s (Content-Type %q)", r.Method, r.URL, r.Header.Get("Content-Type"))
				}
				_ = json.NewDecoder(r.Body).Decode(&got)
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			res, err := c.Send(t.Context(), channel.Outgoing{To: testCustomer, Body: "Hello"})
			if !reflect.DeepEqual(got, map[string]any{"phone": customerDigits, "body": "Hello"}) {
				t.Errorf("request body %v", got)
			}
			if !tt.wantErr {
				if err != nil || res.ProviderMessageID != tt.wantID || res.Status != channel.StatusQueued {
					t.Errorf("got %+v, %v; want id %q, queued", res, err, tt.wantID)
				}
				return
			}
			se := sendError(t, err)
			if se.Code != tt.code || se.Retryable != tt.retryable {
				t.Errorf("got %+v, want code %q, retryable %v", se, tt.code, tt.retryable)
			}
			if part, ok := strings.CutPrefix(tt.message, "~"); ok && !strings.Contains(se.Message, part) || !ok && se.Message != tt.message {
				t.Errorf("message %q, want %q", se.Message, tt.message)
			}
			if strings.Contains(se.Message, testToken) || strings.Contains(se.Error(), testToken) {
				t.Errorf("the token shows in %q", se.Error())
			}
		})
	}
}

func TestSendFaults(t *testing.T) {
	t.Run("wrong token", func(t *testing.T) {
		e := newEnv(t)
		e.customerWrites(t, "hi")
		_, err := mustNew(t, e.api, "not-the-token-at-all", testPhone).Send(t.Context(), channel.Outgoing{To: testCustomer, Body: "hi"})
		if se := sendError(t, err); se.Code != "401" || se.Retryable || !strings.Contains(se.Message, "1msg refused the token") {
			t.Errorf("got %+v", se)
		}
	})

	t.Run("server errors", func(t *testing.T) {
		e := newEnv(t)
		e.customerWrites(t, "hi")
		e.sim.SetFaults(sandbox.OneMsgFaults{ServerErrorRate: 1})
		for range 8 { // 500s and 503s
			_, err := e.client.Send(t.Context(), channel.Outgoing{To: testCustomer, Body: "hi"})
			se := sendError(t, err)
			if se.Retryable || !strings.Contains(se.Message, "may or may not have reached the client") {
				t.Fatalf("got %+v, want not retryable: the outcome is unknown", se)
			}
		}
	})

	t.Run("timeout", func(t *testing.T) {
		// 1msg answers after Parley gave up: the message went out anyway,
		// which is why such a send is not retried. (The simulator's
		// TimeoutRate does not suit POSTs: its handler waits for the
		// client to go away, which the server notices only once the body
		// is read.)
		e := newEnv(t)
		e.customerWrites(t, "hi")
		e.sim.SetFaults(sandbox.OneMsgFaults{Latency: 400 * time.Millisecond})
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := e.client.Send(ctx, channel.Outgoing{To: testCustomer, Body: "hi"})
		se := sendError(t, err)
		if se.Retryable || !strings.HasPrefix(se.Message, "1msg did not answer in time: the message may or may not have reached the client") {
			t.Errorf("got %+v, want not retryable: the outcome is unknown", se)
		}
		for deadline := time.Now().Add(3 * time.Second); len(e.sim.Sent(testInstance)) == 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the simulator never accepted the send")
			}
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		_, err := closedAPI(t).Send(t.Context(), channel.Outgoing{To: testCustomer, Body: "hi"})
		se := sendError(t, err)
		var op *net.OpError
		if !se.Retryable || !strings.Contains(se.Message, "could not be reached") || !errors.As(se, &op) || op.Op != "dial" {
			t.Errorf("got %+v, want retryable: nothing went out", se)
		}
	})

	t.Run("unknown host", func(t *testing.T) {
		c, err := onemsg.New("https://api.1msg.io/"+testInstance, testToken, testPhone, roundTripFunc(func(*http.Request) (*http.Response, error) {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "api.1msg.io", IsNotFound: true}}
		}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Send(t.Context(), channel.Outgoing{To: testCustomer, Body: "hi"})
		if se := sendError(t, err); !se.Retryable {
			t.Errorf("got %+v, want retryable: nothing went out", se)
		}
	})

	t.Run("connection broken after the request", func(t *testing.T) {
		c := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = r.Body.Read(make([]byte, 1024))
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			conn.Close()
		})
		_, err := c.Send(t.Context(), channel.Outgoing{To: testCustomer, Body: "hi"})
		se := sendError(t, err)
		if se.Retryable || !strings.Contains(se.Message, "may or may not have reached the client") {
			t.Errorf("got %+v, want not retryable: the outcome is unknown", se)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

var _ channel.Provider = (*onemsg.Client)(nil)
