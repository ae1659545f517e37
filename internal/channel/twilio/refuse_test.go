package twilio_test

import (
	"archive/zip"
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"parley/internal/channel"
	"parley/internal/sandbox"
)

// What Twilio refuses, and how Parley explains it: a Body over 1,600
// characters is refused at create (21617); a file WhatsApp does not take
// or that is too large fails after the create was accepted, in the status
// callback (63021, 11751). Each code reads as what it means.
func TestSendRefusedByTwilioForLengthSizeAndType(t *testing.T) {
	e := newEnv(t)
	e.customerSends(t, sandbox.InboundMessage{Body: "Send me the files"}) // opens the 24-hour window

	_, err := e.client.Send(t.Context(), channelText(strings.Repeat("a", 1601), ""))
	se := sendError(t, err)
	if se.Code != "21617" || se.Retryable || !strings.Contains(se.Message, "longer than Twilio's 1,600 characters") {
		t.Errorf("1,601 characters: %+v, want 21617 explained as too long", se)
	}

	const mb = 1 << 20
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("a.pdf")
	w.Write([]byte("%PDF-1.7"))
	zw.Close()
	heic := append([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), make([]byte, 4096)...)
	jpeg := func(n int) []byte { return append([]byte("\xFF\xD8\xFF\xE0"), make([]byte, n)...) }
	files := map[string]struct {
		ct   string
		data []byte
	}{
		"/photo.jpg":  {"image/jpeg", heic}, // an iPhone photo renamed .jpg
		"/photo.heic": {"image/heic", heic},
		"/files.zip":  {"application/zip", zb.Bytes()},
		"/big.jpg":    {"image/jpeg", jpeg(6 * mb)},
		"/small.jpg":  {"image/jpeg", jpeg(1000)},
		"/big.pdf":    {"application/pdf", append([]byte("%PDF-1.7\n"), make([]byte, 17*mb)...)},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := files[r.URL.Path]
		w.Header().Set("Content-Type", f.ct)
		w.Write(f.data)
	}))
	t.Cleanup(srv.Close)

	for _, tc := range []struct {
		path, caption, code, says string
	}{
		{"/photo.jpg", "", "63021", "file type it does not support"},
		{"/photo.heic", "", "63021", "file type it does not support"},
		{"/files.zip", "", "63021", "file type it does not support"},
		{"/small.jpg", strings.Repeat("a", 1100), "63021", "text longer than it allows"},
		{"/big.jpg", "", "11751", "larger than the provider sends"},
		{"/big.pdf", "", "11751", "larger than the provider sends"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res, err := e.client.Send(t.Context(), channel.Outgoing{To: testCustomer, Body: tc.caption, MediaURL: srv.URL + tc.path})
			if err != nil {
				t.Fatalf("Send: %v (Twilio accepts the create and fails the message later)", err)
			}
			e.sim.WaitIdle()
			calls := e.hook.statusCalls(res.ProviderMessageID)
			if len(calls) != 1 {
				t.Fatalf("%d status callbacks, want one (failed)", len(calls))
			}
			st := mustParse(t, calls[0].Form).Status
			if st.Status != channel.StatusFailed || st.ErrorCode != tc.code {
				t.Fatalf("status %+v, want failed with %s", st, tc.code)
			}
			if got := channel.Explain(st.ErrorCode, st.ErrorText); !strings.Contains(got, tc.says) {
				t.Errorf("%s explained as %q, want it to say %q", tc.code, got, tc.says)
			}
		})
	}
}
