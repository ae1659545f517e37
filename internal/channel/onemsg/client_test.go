package onemsg_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"parley/internal/channel/onemsg"
)

func TestNormalizeAPIURL(t *testing.T) {
	good := map[string]string{
		"https://api.1msg.io/ODI371267300/":       "https://api.1msg.io/ODI371267300",
		"https://api.1msg.io/ODI371267300":        "https://api.1msg.io/ODI371267300",
		"  https://api.1msg.io/359900/ \n":        "https://api.1msg.io/359900",
		"HTTPS://API.1msg.io/VID182868781/":       "https://api.1msg.io/VID182868781",
		"https://api.stage.1msg.io/VID182868781/": "https://api.stage.1msg.io/VID182868781",
		"http://127.0.0.1:5555/ODI371267300/":     "http://127.0.0.1:5555/ODI371267300",
	}
	for in, want := range good {
		got, err := onemsg.NormalizeAPIURL(in)
		if err != nil || got != want {
			t.Errorf("NormalizeAPIURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{
		"",
		"https://api.1msg.io",
		"https://api.1msg.io/",
		"https://api.1msg.io//",
		"https://api.1msg.io/ODI371267300/sendMessage",
		"https://api.1msg.io/sandbox/1msg/ODI371267300/",
		"https://api.1msg.io/ODI371267300/?token=abc",
		"https://api.1msg.io/ODI%2F371267300/",
		"api.1msg.io/ODI371267300",
		"ODI371267300",
		"not a url at all",
		"ftp://api.1msg.io/ODI371267300/",
		"mailto:someone@1msg.io",
		"https:///ODI371267300/",
		"https://user:pass@api.1msg.io/ODI371267300/",
	} {
		got, err := onemsg.NormalizeAPIURL(in)
		if err == nil {
			t.Errorf("NormalizeAPIURL(%q) = %q, want an error", in, got)
			continue
		}
		// A sentence for the admin, not a parser's message.
		if msg := err.Error(); !strings.HasPrefix(msg, "Paste the API URL") || !strings.Contains(msg, "https://api.1msg.io/1234567/") {
			t.Errorf("NormalizeAPIURL(%q) error %q, want a plain sentence with an example", in, msg)
		}
	}
}

func TestNew(t *testing.T) {
	if _, err := onemsg.New(" https://api.1msg.io/ODI371267300/ ", " tok ", testPhone, nil); err != nil {
		t.Errorf("good values: %v", err)
	}
	for name, args := range map[string][3]string{
		"bad URL":     {"https://api.1msg.io/", testToken, testPhone},
		"no token":    {"https://api.1msg.io/ODI371267300/", "  ", testPhone},
		"bad phone":   {"https://api.1msg.io/ODI371267300/", testToken, "15550001111"},
		"short phone": {"https://api.1msg.io/ODI371267300/", testToken, "+1555"},
	} {
		if c, err := onemsg.New(args[0], args[1], args[2], nil); err == nil || c != nil {
			t.Errorf("%s: got %v, %v; want an error", name, c, err)
		} else if msg := err.Error(); msg == "" || msg[0] < 'A' || msg[0] > 'Z' {
			t.Errorf("%s: error %q is not a sentence for the admin", name, msg)
		}
	}
}

func TestVerify(t *testing.T) {
	e := newEnv(t)
	if err := e.client.Verify(t.Context()); err != nil {
		t.Errorf("good channel: %v", err)
	}

	t.Run("wrong token", func(t *testing.T) {
		const wrong = "wrong-token-0123456789"
		se := sendError(t, mustNew(t, e.api, wrong, testPhone).Verify(t.Context()))
		if se.Code != "401" || se.Retryable {
			t.Errorf("got %+v, want code 401, not retryable", se)
		}
		// 1msg's own words, without the token itself.
		if !strings.HasPrefix(se.Message, `1msg refused the token: Wrong token "`) ||
			!strings.Contains(se.Message, `for channel "`+testInstance+`". Please provide token as a GET parameter.`) {
			t.Errorf("message %q, want 1msg's words", se.Message)
		}
		if strings.Contains(se.Message, wrong) || strings.Contains(se.Error(), wrong) || strings.Contains(se.Err.Error(), wrong) {
			t.Errorf("the token shows in %q / %v", se.Message, se.Err)
		}
	})

	t.Run("unknown instance", func(t *testing.T) {
		c := mustNew(t, e.srv.URL+"/ODI999999999/", testToken, testPhone)
		se := sendError(t, c.Verify(t.Context()))
		if se.Code != "404" || se.Retryable {
			t.Errorf("got %+v, want code 404, not retryable", se)
		}
		if !strings.Contains(se.Message, "check the channel id in the API URL") || !strings.Contains(se.Message, `Channel "ODI999999999" not found`) {
			t.Errorf("message %q, want the advice and 1msg's words", se.Message)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		se := sendError(t, closedAPI(t).Verify(t.Context()))
		if !se.Retryable || se.Message != "1msg could not be reached" || se.Err == nil {
			t.Errorf("got %+v, want a retryable 1msg could not be reached", se)
		}
	})

	t.Run("another number", func(t *testing.T) {
		se := sendError(t, mustNew(t, e.api, testToken, "+15550009999").Verify(t.Context()))
		if se.Retryable || se.Message != "1msg says this channel's number is +15550001111, not +15550009999" {
			t.Errorf("got %+v", se)
		}
	})
}

// Statuses the simulator does not produce, and /me's phone as a number.
func TestVerifyStatuses(t *testing.T) {
	for _, tt := range []struct {
		status, phone string // phone: /me's phone as raw JSON
		want          string // "" for success
	}{
		{"connected", `15550001111`, ""},
		{"connecting", `"15550001111"`, ""},
		{"CONNECTED", `"+1 555 000 1111"`, ""},
		{"connected", `null`, ""},
		{"disconnected", `"15550001111"`, "The 1msg channel is disconnected: reconnect the number in 1msg"},
		{"unregistered", `"15550001111"`, "The 1msg channel is unregistered: finish connecting the number in 1msg"},
		{"connected", `15550002222`, "1msg says this channel's number is +15550002222, not +15550001111"},
	} {
		t.Run(tt.status+" "+tt.phone, func(t *testing.T) {
			var paths []string
			c := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
				paths = append(paths, r.Method+" "+r.URL.Path)
				if got := r.URL.Query().Get("token"); got != testToken {
					t.Errorf("token %q", got)
				}
				w.Header().Set("Content-Type", "application/json")
				switch r.URL.Path {
				case "/" + testInstance + "/status":
					_, _ = w.Write([]byte(`{"status":"` + tt.status + `"}`))
				case "/" + testInstance + "/me":
					_, _ = w.Write([]byte(`{"about":"","phone":` + tt.phone + `}`))
				default:
					http.NotFound(w, r)
				}
			})
			err := c.Verify(t.Context())
			if tt.want == "" {
				if err != nil {
					t.Errorf("Verify: %v", err)
				}
				if want := []string{"GET /" + testInstance + "/status", "GET /" + testInstance + "/me"}; !reflect.DeepEqual(paths, want) {
					t.Errorf("requests %v, want %v", paths, want)
				}
				return
			}
			if se := sendError(t, err); se.Message != tt.want || se.Retryable {
				t.Errorf("got %+v, want %q, not retryable", se, tt.want)
			}
		})
	}
}

// The token goes in the query string, escaped; POST bodies are JSON.
func TestRequestShape(t *testing.T) {
	const token = "a+b&c=d/é"
	var rawQuery, contentType, method string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rawQuery, contentType, method = r.URL.RawQuery, r.Header.Get("Content-Type"), r.Method
		writeJSON(w, http.StatusOK, map[string]any{"set": true, "message": "ok"})
	}))
	t.Cleanup(srv.Close)
	c := mustNew(t, srv.URL+"/"+testInstance, token, testPhone)
	if err := c.SetWebhooks(t.Context(), []string{"https://parley.example/hook"}); err != nil {
		t.Fatal(err)
	}
	if rawQuery != "token=a%2Bb%26c%3Dd%2F%C3%A9" || method != http.MethodPost || contentType != "application/json" {
		t.Errorf("query %q, %s, Content-Type %q", rawQuery, method, contentType)
	}
}

func TestWebhooks(t *testing.T) {
	e := newEnv(t)
	before := e.sim.Webhooks(testInstance)
	got, err := e.client.Webhooks(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, before) || !strings.HasPrefix(got[0], "https://app.1msg.io/") {
		t.Fatalf("Webhooks = %v, want %v (1msg's own inbox first)", got, before)
	}

	// Adding one keeps the others.
	added := append(slices.Clone(got), "https://parley.example/webhooks/1msg/other")
	if err := e.client.SetWebhooks(t.Context(), added); err != nil {
		t.Fatal(err)
	}
	if now := e.sim.Webhooks(testInstance); !reflect.DeepEqual(now, added) {
		t.Errorf("simulator list %v, want %v", now, added)
	}
	if got, err := e.client.Webhooks(t.Context()); err != nil || !reflect.DeepEqual(got, added) {
		t.Errorf("Webhooks = %v, %v; want %v", got, err, added)
	}

	// Over 5: 1msg refuses, in its own words, and keeps the list.
	six := slices.Clone(added)
	for len(six) < 6 {
		six = append(six, "https://parley.example/webhooks/1msg/x"+string(rune('a'+len(six))))
	}
	se := sendError(t, e.client.SetWebhooks(t.Context(), six))
	if se.Retryable || se.Message != "1msg did not save the webhook URLs: Maximum 5 webhook URLs are allowed" {
		t.Errorf("got %+v", se)
	}
	if now := e.sim.Webhooks(testInstance); !reflect.DeepEqual(now, added) {
		t.Errorf("after a refused change the list is %v, want %v", now, added)
	}

	// An empty list is sent as [], not null.
	if err := e.client.SetWebhooks(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := e.client.Webhooks(t.Context()); err != nil || len(got) != 0 || got == nil {
		t.Errorf("after clearing: %#v, %v; want an empty list", got, err)
	}

	// A wrong token is refused with 1msg's words.
	if se := sendError(t, mustNew(t, e.api, "nope-nope-nope", testPhone).SetWebhooks(t.Context(), added)); se.Code != "401" {
		t.Errorf("wrong token: %+v", se)
	}
}

// GET /webhook answers one URL, a list, a comma-separated string or null.
func TestWebhooksShapes(t *testing.T) {
	for raw, want := range map[string][]string{
		`{"webhookUrl":"https://a.example/h"}`:                       {"https://a.example/h"},
		`{"webhookUrl":["https://a.example/h","https://b.example"]}`: {"https://a.example/h", "https://b.example"},
		`{"webhookUrl":"https://a.example/h, https://b.example,"}`:   {"https://a.example/h", "https://b.example"},
		`{"webhookUrl":null}`:                                        {},
		`{"webhookUrl":""}`:                                          {},
		`{}`:                                                         {},
	} {
		c := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(raw))
		})
		got, err := c.Webhooks(t.Context())
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %#v, %v; want %#v", raw, got, err, want)
		}
	}
	c := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"webhookUrl":{"url":"x"}}`))
	})
	if _, err := c.Webhooks(t.Context()); err == nil {
		t.Error("an object as webhookUrl: no error")
	}
	// set:false without a message, and a server error (retryable: setting
	// the list again is harmless).
	c = fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"set": false})
	})
	if se := sendError(t, c.SetWebhooks(t.Context(), []string{"https://a.example"})); se.Message != "1msg did not save the webhook URLs" {
		t.Errorf("set:false: %+v", se)
	}
	c = fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "boom"})
	})
	if se := sendError(t, c.SetWebhooks(t.Context(), []string{"https://a.example"})); !se.Retryable {
		t.Errorf("500: %+v, want retryable", se)
	}
}

// Refusals of reads are explained with 1msg's words, in sentences.
func TestReadFailures(t *testing.T) {
	for _, tt := range []struct {
		status    int
		body      string
		code      string
		want      string
		retryable bool
	}{
		{401, ``, "401", "1msg refused the token. Check the channel's API token.", false},
		{401, `{"error":"Wrong token"}`, "401", "1msg refused the token: Wrong token. Check the channel's API token.", false},
		{400, `{"error":"Bad request"}`, "", "1msg refused the request (HTTP 400): Bad request.", false},
		{403, `Channel is blocked`, "403", onemsg.TrialRefusal + ": Channel is blocked.", false},
		{429, ``, "429", "1msg is limiting how fast Parley may call it; the request will be retried", true},
		{503, `<html>busy</html>`, "", "1msg failed (HTTP 503); try again in a moment", true},
		{200, `<html>hello</html>`, "", "1msg gave an answer Parley could not read", false},
	} {
		c := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tt.status)
			_, _ = w.Write([]byte(tt.body))
		})
		se := sendError(t, c.Verify(t.Context()))
		if se.Code != tt.code || se.Message != tt.want || se.Retryable != tt.retryable {
			t.Errorf("%d %s: got %+v, want code %q, %q, retryable %v", tt.status, tt.body, se, tt.code, tt.want, tt.retryable)
		}
	}
}
