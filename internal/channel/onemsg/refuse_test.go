package onemsg_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"parley/internal/channel"
)

// What WhatsApp refuses through 1msg, and how Parley explains it: a text
// over 4,096 characters, a caption or a text with reply buttons over
// 1,024, a file type WhatsApp does not take or one over its kind's size
// limit. 1msg answers sent:false with Meta's error, and nothing is sent.
func TestSendRefusedByWhatsAppForLengthSizeAndType(t *testing.T) {
	e := newEnv(t)
	e.customerWrites(t, "Send me the files")
	const mb = 1 << 20
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("a.pdf")
	w.Write([]byte("%PDF-1.7"))
	zw.Close()
	heic := append([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), make([]byte, 4096)...)
	files := map[string][]byte{
		"/photo.jpg": heic,
		"/files.zip": zb.Bytes(),
		"/big.png":   append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 6*mb)...),
		"/ok.png":    pngBytes(t),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(files[r.URL.Path])
	}))
	t.Cleanup(srv.Close)

	before := len(e.sim.Sent(testInstance))
	for _, tc := range []struct {
		name string
		m    channel.Outgoing
		code string
		says string
	}{
		{"text over 4,096", channel.Outgoing{To: testCustomer, Body: strings.Repeat("a", 4097)}, "100", "longer than WhatsApp allows"},
		{"buttons under a long text", channel.Outgoing{To: testCustomer, Body: strings.Repeat("a", 1025), Buttons: []string{"Yes", "No"}}, "100", "longer than WhatsApp allows"},
		{"caption over 1,024", channel.Outgoing{To: testCustomer, Body: strings.Repeat("a", 1025), MediaURL: srv.URL + "/ok.png", Filename: "ok.png"}, "100", "longer than WhatsApp allows"},
		{"HEIC renamed .jpg", channel.Outgoing{To: testCustomer, MediaURL: srv.URL + "/photo.jpg", Filename: "photo.jpg"}, "131053", "type or size is not supported"},
		{"ZIP", channel.Outgoing{To: testCustomer, MediaURL: srv.URL + "/files.zip", Filename: "files.zip"}, "131053", "type or size is not supported"},
		{"image over 5 MB", channel.Outgoing{To: testCustomer, MediaURL: srv.URL + "/big.png", Filename: "big.png"}, "131053", "type or size is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.Send(t.Context(), tc.m)
			var se *channel.SendError
			if !errors.As(err, &se) || se.Code != tc.code || se.Retryable || !strings.Contains(se.Message, tc.says) {
				t.Fatalf("Send: %v, want code %s saying %q", err, tc.code, tc.says)
			}
		})
	}
	if n := len(e.sim.Sent(testInstance)) - before; n != 0 {
		t.Errorf("1msg sent %d of the refused messages", n)
	}
}
