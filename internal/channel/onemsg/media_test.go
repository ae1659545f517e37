package onemsg_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"parley/internal/channel"
	"parley/internal/sandbox"
)

// inboundMedia makes the customer send a file and returns the message as
// the adapter parses the simulator's webhook.
func inboundMedia(t *testing.T, e *env, caption string, f sandbox.MediaFile) string {
	t.Helper()
	id, err := e.sim.CustomerSends(t.Context(), sandbox.OneMsgInbound{InstanceID: testInstance, From: testCustomer, Body: caption, Media: &f})
	if err != nil {
		t.Fatalf("CustomerSends: %v", err)
	}
	m := e.hook.message(t, id)
	if len(m.Media) != 1 || !strings.HasPrefix(m.Media[0].URL, e.srv.URL+"/media/") || m.FromMe {
		t.Fatalf("webhook message %+v, want one simulator media link", m)
	}
	return m.Media[0].URL
}

func TestFetchMedia(t *testing.T) {
	e := newEnv(t)
	img := pngBytes(t)
	link := inboundMedia(t, e, "my receipt", sandbox.MediaFile{ContentType: "image/png", Filename: "receipt.png", Data: img})

	got, err := e.client.FetchMedia(t.Context(), link, channel.MaxInboundFileBytes)
	if err != nil {
		t.Fatalf("FetchMedia: %v", err)
	}
	if !bytes.Equal(got.Data, img) || got.ContentType != "image/png" {
		t.Errorf("got %d bytes of %q, want the %d-byte PNG", len(got.Data), got.ContentType, len(img))
	}

	// Too large: refused with the size, whether 1msg says the length first
	// or not (the simulator does).
	var tooLarge *channel.TooLargeError
	if _, err := e.client.FetchMedia(t.Context(), link, int64(len(img)-1)); !errors.As(err, &tooLarge) || tooLarge.Size != int64(len(img)) {
		t.Errorf("over the limit: %v, want TooLargeError{%d}", err, len(img))
	}
	if _, err := e.client.FetchMedia(t.Context(), link, int64(len(img))); err != nil {
		t.Errorf("exactly the limit: %v", err)
	}

	// The links are temporary: after 10 minutes the simulator answers 410.
	e.clock.Advance(11 * time.Minute)
	_, err = e.client.FetchMedia(t.Context(), link, channel.MaxInboundFileBytes)
	if err == nil || !strings.Contains(err.Error(), "410") || errors.As(err, &tooLarge) {
		t.Errorf("expired link: %v, want an error with the status", err)
	}
	_, err = e.client.FetchMedia(t.Context(), e.srv.URL+"/media/0123456789abcdef", channel.MaxInboundFileBytes)
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("unknown link: %v, want an error with the status", err)
	}
	if _, err := e.client.FetchMedia(t.Context(), "file:///etc/passwd", 100); err == nil {
		t.Error("a file: link was fetched")
	}
}

func TestFetchMediaFromStorage(t *testing.T) {
	data := patterned(100_000)
	var gotQuery, gotAuth string
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/onemessageapp/file", http.StatusFound)
		case "/onemessageapp/file":
			gotQuery, gotAuth = r.URL.RawQuery, r.Header.Get("Authorization")
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(data) // no Content-Length: chunked
		case "/voice":
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			_, _ = w.Write(data)
		}
	}))
	t.Cleanup(storage.Close)
	base := storage.URL
	c := mustNew(t, "https://api.1msg.io/"+testInstance, testToken, testPhone)
	got, err := c.FetchMedia(t.Context(), base+"/redirect", channel.MaxInboundFileBytes)
	if err != nil || !bytes.Equal(got.Data, data) {
		t.Fatalf("through a redirect: %d bytes, %v", len(got.Data), err)
	}
	if gotQuery != "" || gotAuth != "" {
		t.Errorf("the public link got credentials: query %q, Authorization %q", gotQuery, gotAuth)
	}
	if got.ContentType != http.DetectContentType(data) {
		t.Errorf("octet-stream is sniffed: %q", got.ContentType)
	}
	var tooLarge *channel.TooLargeError
	if _, err := c.FetchMedia(t.Context(), base+"/redirect", 1000); !errors.As(err, &tooLarge) || tooLarge.Size != int64(len(data)) {
		t.Errorf("chunked, over the limit: %v, want TooLargeError{%d}", err, len(data))
	}
	if _, err := c.FetchMedia(t.Context(), base+"/voice", 1000); !errors.As(err, &tooLarge) || tooLarge.Size != int64(len(data)) {
		t.Errorf("announced length over the limit: %v, want TooLargeError{%d}", err, len(data))
	}
}
