package twilio_test

import (
	"maps"
	"net/url"
	"strings"
	"testing"

	"parley/internal/channel/twilio"
	"parley/internal/sandbox"
)

// Test vectors from shared/research/twilio.md §3 (twilio-go's
// client/request_validator_test.go and twilio-java's RequestValidatorTest).
const (
	vecToken    = "12345"
	vecURL      = "https://mycompany.com/myapp.php?foo=1&bar=2"
	vecHTTPURL  = "http://mycompany.com/myapp.php?foo=1&bar=2"
	vecBodyHash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
)

func vecParams() url.Values {
	return url.Values{
		"Digits":                {"1234"},
		"CallSid":               {"CA1234567890ABCDE"},
		"To":                    {"+18005551212"},
		"Caller":                {"+14158675309"},
		"From":                  {"+14158675309"},
		"ReasonConferenceEnded": {"test"},
		"Reason":                {"Participant"},
	}
}

func TestValidSignatureVectors(t *testing.T) {
	classic := url.Values{
		"CallSid": {"CA1234567890ABCDE"},
		"Caller":  {"+14158675309"},
		"Digits":  {"1234"},
		"From":    {"+14158675309"},
		"To":      {"+18005551212"},
	}
	tests := []struct {
		name string
		url  string
		form url.Values
		sig  string
		want bool
	}{
		{"twilio-go vector, https", vecURL, vecParams(), "vOEb5UThFn24KEfnOFLQY2AE5FY=", true},
		{"twilio-go vector, http", vecHTTPURL, vecParams(), "n2xBNyzSW7rfYStDtOFiFMv7qNo=", true},
		{"https signature on the http URL", vecHTTPURL, vecParams(), "vOEb5UThFn24KEfnOFLQY2AE5FY=", false},
		{"http signature on the https URL", vecURL, vecParams(), "n2xBNyzSW7rfYStDtOFiFMv7qNo=", false},
		// Signed with ReasonConferenceEnded before Reason: keys must be
		// sorted byte-wise, so this one is forged.
		{"wrong sort order", vecURL, vecParams(), "95+Bu0JVPi0r/SsESZCVf0dWAjw=", false},
		{"form body property=value&boolean=true", vecURL, url.Values{"property": {"value"}, "boolean": {"true"}}, "NBdBDr/T/lgjI+tlgpXjKZQZs/k=", true},
		{"twilio docs classic vector", vecURL, classic, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", true},
		// JSON-body webhooks sign only the URL, which carries bodySHA256.
		// ValidSignature checks the URL part (the body hash is the
		// caller's business; Parley's webhooks are form-encoded).
		{"bodySHA256 appended to the query", vecURL + "&bodySHA256=" + vecBodyHash, url.Values{}, "a9nBmqA0ju/hNViExpshrM61xv4=", true},
		{"bodySHA256 alone in the query", "https://mycompany.com/myapp.php?bodySHA256=" + vecBodyHash, nil, "y77kIzt2vzLz71DgmJGsen2scGs=", true},
		// Twilio's signing is inconsistent about default ports; the
		// validator accepts the URL with and without them.
		{"explicit :443 on https", "https://mycompany.com:443/myapp.php?foo=1&bar=2", vecParams(), "vOEb5UThFn24KEfnOFLQY2AE5FY=", true},
		{"explicit :80 on http", "http://mycompany.com:80/myapp.php?foo=1&bar=2", vecParams(), "n2xBNyzSW7rfYStDtOFiFMv7qNo=", true},
		// twilio-go's validator also tries the URL with its port removed,
		// whatever the port: the port is not authenticated.
		{"any port is dropped", "https://mycompany.com:8443/myapp.php?foo=1&bar=2", vecParams(), "vOEb5UThFn24KEfnOFLQY2AE5FY=", true},
		{"port does not change the scheme", "http://mycompany.com:443/myapp.php?foo=1&bar=2", vecParams(), "vOEb5UThFn24KEfnOFLQY2AE5FY=", false},
		{"query string is signed", "https://mycompany.com/myapp.php?foo=1&bar=3", vecParams(), "vOEb5UThFn24KEfnOFLQY2AE5FY=", false},
		{"query string missing", "https://mycompany.com/myapp.php", vecParams(), "vOEb5UThFn24KEfnOFLQY2AE5FY=", false},
		{"path is signed", "https://mycompany.com/myapp.php/?foo=1&bar=2", vecParams(), "vOEb5UThFn24KEfnOFLQY2AE5FY=", false},
		{"host is signed", "https://evil.example/myapp.php?foo=1&bar=2", vecParams(), "vOEb5UThFn24KEfnOFLQY2AE5FY=", false},
		{"missing signature", vecURL, vecParams(), "", false},
		{"not base64", vecURL, vecParams(), "not a signature", false},
		{"signature case matters", vecURL, vecParams(), "VOEB5UTHFN24KEFNOFLQY2AE5FY=", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := twilio.ValidSignature(vecToken, tt.url, tt.form, tt.sig); got != tt.want {
				t.Errorf("ValidSignature(%q, %q, %v, %q) = %v, want %v", vecToken, tt.url, tt.form, tt.sig, got, tt.want)
			}
		})
	}
}

// The simulator's signer and the adapter's validator agree with the
// published vector, so tests that pass through both test the real thing.
func TestSimulatorSignerMatchesVector(t *testing.T) {
	if got := sandbox.SignTwilio(vecToken, vecURL, vecParams()); got != "vOEb5UThFn24KEfnOFLQY2AE5FY=" {
		t.Errorf("sandbox.SignTwilio = %q, want the twilio-go vector", got)
	}
}

func TestValidSignatureRefusesForgeries(t *testing.T) {
	const hookURL = "https://parley.example/webhooks/twilio/int-1"
	form := url.Values{
		"MessageSid": {"SM8824c2b1f9e64a4e8d4f0a6b3c2d1e0f"},
		"AccountSid": {testAccount},
		"From":       {"whatsapp:+6285176810035"},
		"To":         {"whatsapp:+14155238886"},
		"Body":       {"Konfirmasi"},
		"NumMedia":   {"0"},
	}
	sig := sandbox.SignTwilio(testToken, hookURL, form)
	if !twilio.ValidSignature(testToken, hookURL, form, sig) {
		t.Fatal("the genuine signature is refused")
	}

	with := func(change func(url.Values)) url.Values {
		f := maps.Clone(form)
		change(f)
		return f
	}
	tests := []struct {
		name  string
		token string
		form  url.Values
		sig   string
	}{
		{"another integration's token", testToken, form, sandbox.SignTwilio(otherToken, hookURL, form)},
		{"validated with another integration's token", otherToken, form, sig},
		{"tampered body", testToken, with(func(f url.Values) { f.Set("Body", "Konfirmasi!") }), sig},
		{"tampered sender", testToken, with(func(f url.Values) { f.Set("From", "whatsapp:+6285176810036") }), sig},
		{"added parameter", testToken, with(func(f url.Values) { f.Set("ButtonPayload", "refund") }), sig},
		{"removed parameter", testToken, with(func(f url.Values) { f.Del("NumMedia") }), sig},
		{"missing signature", testToken, form, ""},
		// An integration without a token must not accept what anyone can
		// sign with the empty key.
		{"empty auth token", "", form, sandbox.SignTwilio("", hookURL, form)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if twilio.ValidSignature(tt.token, hookURL, tt.form, tt.sig) {
				t.Error("forged webhook accepted")
			}
		})
	}
}

// The real thing: webhooks and status callbacks the simulator posts are
// accepted over the public URL it called and the POSTed parameters.
func TestValidSignatureSimulatorWebhooks(t *testing.T) {
	e := newEnv(t)
	e.customerSends(t, sandbox.InboundMessage{Body: "Hello, is my order shipped?", ProfileName: "Ann"})
	e.customerSends(t, sandbox.InboundMessage{Media: []sandbox.MediaFile{{ContentType: "image/png", Filename: "receipt.png", Data: pngBytes(t)}}})
	e.customerSends(t, sandbox.InboundMessage{Latitude: "52.3676", Longitude: "4.9041", Address: "Dam 1, Amsterdam", Label: "Office"})

	callback := e.hook.srv.URL + "/webhooks/twilio/int-1/status?msg=42"
	res, err := e.client.Send(t.Context(), channelText("Yes, it left today.", callback))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	e.sim.WaitIdle()

	calls := e.hook.Calls()
	if n := len(e.hook.statusCalls(res.ProviderMessageID)); n != 3 {
		t.Fatalf("got %d status callbacks, want sent, delivered, read", n)
	}
	if len(calls) != 6 {
		t.Fatalf("got %d webhook calls, want 3 inbound + 3 status", len(calls))
	}
	for _, c := range calls {
		if c.Signature == "" {
			t.Fatalf("%s: no X-Twilio-Signature", c.URL)
		}
		if !strings.Contains(c.URL, "?") {
			t.Fatalf("%s: the test wants webhook URLs with a query string", c.URL)
		}
		if !twilio.ValidSignature(testToken, c.URL, c.Form, c.Signature) {
			t.Errorf("%s %v: genuine signature refused", c.URL, c.Form)
		}
		if twilio.ValidSignature(otherToken, c.URL, c.Form, c.Signature) {
			t.Errorf("%s: accepted with another integration's token", c.URL)
		}
		// The query string is part of the URL, not a parameter: a handler
		// must pass r.PostForm, not r.Form.
		if twilio.ValidSignature(testToken, c.URL, c.Merged, c.Signature) {
			t.Errorf("%s: accepted with the query merged into the parameters", c.URL)
		}
		if bare, _, _ := strings.Cut(c.URL, "?"); twilio.ValidSignature(testToken, bare, c.Form, c.Signature) {
			t.Errorf("%s: accepted without the query string", c.URL)
		}
		if https := "https" + strings.TrimPrefix(c.URL, "http"); twilio.ValidSignature(testToken, https, c.Form, c.Signature) {
			t.Errorf("%s: accepted over https although http was called", c.URL)
		}
		tampered := maps.Clone(c.Form)
		tampered.Set("Body", tampered.Get("Body")+" ")
		if twilio.ValidSignature(testToken, c.URL, tampered, c.Signature) {
			t.Errorf("%s: accepted with a tampered Body", c.URL)
		}
	}
}

// FuzzValidSignature: whatever the token, URL and parameters, a signature
// made by Twilio's algorithm is accepted, and the same request checked with
// another token is refused.
func FuzzValidSignature(f *testing.F) {
	f.Add(vecToken, vecURL, vecParams().Encode())
	f.Add(testToken, "http://127.0.0.1:8080/webhooks/twilio/int-1?tenant=demo", "MessageSid=SM1&Body=hi+there&From=whatsapp%3A%2B15005550006")
	f.Add("t", "https://host:443/p", "")
	f.Add("t", "::not a url", "a=1&b=%FF")
	f.Fuzz(func(t *testing.T, token, rawURL, body string) {
		if token == "" {
			return
		}
		parsed, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		// ValidSignature signs the first value of each parameter, as
		// twilio-go does; Twilio's webhooks repeat no parameter.
		form := url.Values{}
		for k, v := range parsed {
			form.Set(k, v[0])
		}
		sig := sandbox.SignTwilio(token, rawURL, form)
		if !twilio.ValidSignature(token, rawURL, form, sig) {
			t.Fatalf("genuine signature refused: token %q url %q form %v", token, rawURL, form)
		}
		if twilio.ValidSignature(token+"x", rawURL, form, sig) {
			t.Fatalf("accepted with another token: token %q url %q form %v", token, rawURL, form)
		}
	})
}
