package twilio_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/internal/channel"
	"parley/internal/channel/twilio"
	"parley/internal/sandbox"
)

// recordedRequest is one request the adapter's transport carried.
type recordedRequest struct {
	Host, Path string
	User, Pass string
	HasAuth    bool
}

// recorder is an http.RoundTripper that notes every request and passes it on.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	reqs []recordedRequest
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	user, pass, ok := req.BasicAuth()
	r.mu.Lock()
	r.reqs = append(r.reqs, recordedRequest{Host: req.URL.Host, Path: req.URL.Path, User: user, Pass: pass, HasAuth: ok || req.Header.Get("Authorization") != ""})
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

func (r *recorder) Requests() []recordedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recordedRequest(nil), r.reqs...)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// inboundMediaURL makes the customer send one file and returns the
// MediaUrl0 of the webhook, as Parley would read it.
func inboundMediaURL(t *testing.T, e *env, f sandbox.MediaFile) string {
	t.Helper()
	c := e.customerSends(t, sandbox.InboundMessage{Media: []sandbox.MediaFile{f}})
	ev := mustParse(t, c.Form)
	if ev.Inbound == nil || len(ev.Inbound.Media) != 1 || ev.Inbound.Media[0].ContentType != f.ContentType {
		t.Fatalf("webhook %v parsed as %+v", c.Form, ev)
	}
	return ev.Inbound.Media[0].URL
}

func TestFetchMediaFromSimulator(t *testing.T) {
	e := newEnv(t)
	img := pngBytes(t)
	u := inboundMediaURL(t, e, sandbox.MediaFile{ContentType: "image/png", Filename: "receipt.png", Data: img})

	rec := &recorder{base: http.DefaultTransport}
	c := twilio.New(testAccount, testToken, testSender, sandbox.TwilioTransport(e.api.URL, rec))
	got, err := c.FetchMedia(t.Context(), u, channel.MaxInboundFileBytes)
	if err != nil {
		t.Fatalf("FetchMedia: %v", err)
	}
	if !bytes.Equal(got.Data, img) || got.ContentType != "image/png" {
		t.Errorf("got %d bytes of %q, want the %d-byte PNG", len(got.Data), got.ContentType, len(img))
	}

	reqs := rec.Requests()
	if len(reqs) != 2 {
		t.Fatalf("requests %+v, want the media URL and its redirect", reqs)
	}
	if !strings.Contains(reqs[0].Path, "/Messages/") || !strings.Contains(reqs[0].Path, "/Media/ME") ||
		reqs[0].User != testAccount || reqs[0].Pass != testToken {
		t.Errorf("first request %+v, want the Media URL with Basic auth", reqs[0])
	}
	if !strings.HasPrefix(reqs[1].Path, "/cdn/") {
		t.Errorf("second request %+v, want the CDN link", reqs[1])
	}

	// Binary content of another type survives too, and every fetch works
	// (each gets its own short-lived link).
	pdf := patterned(70_000)
	u = inboundMediaURL(t, e, sandbox.MediaFile{ContentType: "application/pdf", Filename: "invoice.pdf", Data: pdf})
	for range 2 {
		got, err = e.client.FetchMedia(t.Context(), u, channel.MaxInboundFileBytes)
		if err != nil || !bytes.Equal(got.Data, pdf) || got.ContentType != "application/pdf" {
			t.Errorf("PDF: %d bytes of %q, %v", len(got.Data), got.ContentType, err)
		}
	}
}

func TestFetchMediaWrongCredentials(t *testing.T) {
	e := newEnv(t)
	u := inboundMediaURL(t, e, sandbox.MediaFile{ContentType: "image/png", Data: pngBytes(t)})
	for name, c := range map[string]*twilio.Client{
		"wrong token":       twilio.New(testAccount, otherToken, testSender, sandbox.TwilioTransport(e.api.URL, nil)),
		"another account":   twilio.New("AC"+strings.Repeat("e", 32), testToken, testSender, sandbox.TwilioTransport(e.api.URL, nil)),
		"empty credentials": twilio.New("", "", testSender, sandbox.TwilioTransport(e.api.URL, nil)),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := c.FetchMedia(t.Context(), u, channel.MaxInboundFileBytes)
			if err == nil {
				t.Fatalf("got %d bytes, want an error", len(got.Data))
			}
			if !strings.Contains(err.Error(), "401") {
				t.Errorf("error %q, want it to name the 401", err)
			}
			var tl *channel.TooLargeError
			if errors.As(err, &tl) {
				t.Errorf("error %v is a TooLargeError", err)
			}
		})
	}
}

// Twilio redirects media to its CDN on another host: the file arrives, and
// the account's credentials do not travel there.
func TestFetchMediaCrossHostRedirect(t *testing.T) {
	data := patterned(3000)
	var (
		mu      sync.Mutex
		cdnAuth []string
	)
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		cdnAuth = append(cdnAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "audio/ogg")
		_, _ = w.Write(data)
	}))
	t.Cleanup(cdn.Close)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, pass, ok := r.BasicAuth(); !ok || user != testAccount || pass != testToken {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, "http://mms.twiliocdn.example/ME0123/voice.ogg?Expires=1&Signature=x", http.StatusFound)
	}))
	t.Cleanup(api.Close)
	// The CDN's name resolves to the cdn server; everything else goes as is.
	transport := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Hostname() == "mms.twiliocdn.example" {
			r = r.Clone(r.Context())
			r.URL.Host = strings.TrimPrefix(cdn.URL, "http://")
			r.Host = ""
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	c := twilio.New(testAccount, testToken, testSender, sandbox.TwilioTransport(api.URL, transport))

	got, err := c.FetchMedia(t.Context(), api.URL+"/2010-04-01/Accounts/"+testAccount+"/Messages/MM1/Media/ME0123", channel.MaxInboundFileBytes)
	if err != nil {
		t.Fatalf("FetchMedia: %v", err)
	}
	if !bytes.Equal(got.Data, data) || got.ContentType != "audio/ogg" {
		t.Errorf("got %d bytes of %q", len(got.Data), got.ContentType)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(cdnAuth) != 1 || cdnAuth[0] != "" {
		t.Errorf("CDN saw Authorization %q, want one request without it", cdnAuth)
	}
}

// chunkedServer serves n bytes in flushed chunks, with no Content-Length.
func chunkedServer(t *testing.T, data []byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		rc := http.NewResponseController(w)
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 512)
			if _, err := w.Write(rest[:n]); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			rest = rest[n:]
		}
	}))
	t.Cleanup(srv.Close)
	// The test is only worth something if the size is really unknown up front.
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.ContentLength != -1 || len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("server sends Content-Length %d, transfer encoding %q; want chunked without a length", resp.ContentLength, resp.TransferEncoding)
	}
	return srv
}

func TestFetchMediaLimit(t *testing.T) {
	const limit = 1000
	e := newEnv(t)
	withLength := func(n int) string {
		return inboundMediaURL(t, e, sandbox.MediaFile{ContentType: "application/pdf", Filename: strconv.Itoa(n) + ".pdf", Data: patterned(n)})
	}
	chunked := func(n int) string { return chunkedServer(t, patterned(n)).URL + "/file.pdf" }

	for _, mode := range []struct {
		name string
		url  func(n int) string
	}{
		{"Content-Length", withLength},
		{"chunked", chunked},
	} {
		t.Run(mode.name, func(t *testing.T) {
			for _, tt := range []struct {
				size    int
				tooBig  bool
				comment string
			}{
				{5000, true, "five times the limit"},
				{limit + 1, true, "one byte over"},
				{limit, false, "exactly the limit"},
				{limit - 1, false, "one byte under"},
			} {
				got, err := e.client.FetchMedia(t.Context(), mode.url(tt.size), limit)
				if !tt.tooBig {
					if err != nil || !bytes.Equal(got.Data, patterned(tt.size)) || got.ContentType != "application/pdf" {
						t.Errorf("%d bytes (%s): got %d bytes of %q, %v", tt.size, tt.comment, len(got.Data), got.ContentType, err)
					}
					continue
				}
				var tl *channel.TooLargeError
				if !errors.As(err, &tl) {
					t.Errorf("%d bytes (%s): error %v, want a *channel.TooLargeError", tt.size, tt.comment, err)
					continue
				}
				if tl.Size != int64(tt.size) {
					t.Errorf("%d bytes (%s): TooLargeError.Size %d", tt.size, tt.comment, tl.Size)
				}
				if got.Data != nil {
					t.Errorf("%d bytes (%s): %d bytes kept", tt.size, tt.comment, len(got.Data))
				}
			}
		})
	}
}

// A file whose Content-Length is over the limit is refused on the header,
// before its body is downloaded: the server here announces 5 MB, sends a
// little and then stalls; the refusal reports the announced size.
func TestFetchMediaRefusesOnContentLength(t *testing.T) {
	const announced = 5 << 20
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		w.Header().Set("Content-Length", strconv.Itoa(announced))
		_, _ = w.Write(patterned(2000))
		_ = http.NewResponseController(w).Flush()
		select { // stall until the client hangs up or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs before srv.Close

	// The deadline only bounds a failing run; a passing one returns at once.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c := twilio.New(testAccount, testToken, testSender, nil)
	_, err := c.FetchMedia(ctx, srv.URL+"/big.mp4", 1000)
	var tl *channel.TooLargeError
	if !errors.As(err, &tl) || tl.Size != announced {
		t.Errorf("error %v, want a TooLargeError with the announced size %d", err, announced)
	}
}

func TestFetchMediaFailures(t *testing.T) {
	e := newEnv(t)
	t.Run("unknown media", func(t *testing.T) {
		u := e.api.URL + "/api/2010-04-01/Accounts/" + testAccount + "/Messages/MM" + strings.Repeat("0", 32) + "/Media/ME" + strings.Repeat("0", 32)
		if _, err := e.client.FetchMedia(t.Context(), u, channel.MaxInboundFileBytes); err == nil || !strings.Contains(err.Error(), "404") {
			t.Errorf("error %v, want a 404", err)
		}
	})
	t.Run("not a URL", func(t *testing.T) {
		if _, err := e.client.FetchMedia(t.Context(), "://nope", channel.MaxInboundFileBytes); err == nil {
			t.Error("no error")
		}
	})
	t.Run("canceled", func(t *testing.T) {
		u := inboundMediaURL(t, e, sandbox.MediaFile{ContentType: "image/png", Data: pngBytes(t)})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := e.client.FetchMedia(ctx, u, channel.MaxInboundFileBytes); !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
	t.Run("server gone", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		u := srv.URL + "/file"
		srv.Close()
		if _, err := e.client.FetchMedia(t.Context(), u, channel.MaxInboundFileBytes); err == nil {
			t.Error("no error")
		}
	})
}
