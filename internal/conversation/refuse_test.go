package conversation_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"parley/internal/conversation"
	"parley/internal/problem"
)

// A reply that WhatsApp or the chat's provider would refuse after sending
// is refused on upload, with the reason in plain words where the agent is
// looking, and nothing is stored, queued or sent.
func TestRepliesTheProviderWouldRefuseAreRefusedBeforeStoring(t *testing.T) {
	t.Parallel()
	jpeg := func(size int) []byte { return padTo([]byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"), size) }
	// An iPhone photo (HEIF, brand heic), renamed .jpg and declared a JPEG
	// by the browser.
	heic := padTo([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), 4096)
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("invoice.pdf")
	w.Write([]byte("%PDF-1.7"))
	zw.Close()
	long := strings.Repeat("a", 1734)

	for _, tc := range []struct {
		provider string
		reply    conversation.Reply
		field    string
		reason   string
	}{
		{"twilio", conversation.Reply{Body: long}, "body", "Twilio sends at most 1,600 characters; this message has 1,734."},
		{"onemsg", conversation.Reply{Body: strings.Repeat("a", 5000)}, "body", "WhatsApp messages are at most 4,096 characters; this one has 5,000."},
		{"twilio", conversation.Reply{File: conversation.UploadOf("IMG_0001.jpg", "image/jpeg", heic)}, "file",
			"HEIC photos cannot be sent on WhatsApp: send it as JPEG or PNG. Nothing was sent."},
		{"onemsg", conversation.Reply{File: conversation.UploadOf("IMG_0001.HEIC", "image/heic", heic)}, "file",
			"HEIC photos cannot be sent on WhatsApp: send it as JPEG or PNG. Nothing was sent."},
		{"onemsg", conversation.Reply{File: conversation.UploadOf("invoices.zip", "application/zip", zb.Bytes())}, "file",
			"ZIP archives cannot be sent on WhatsApp: send the files in it one by one. Nothing was sent."},
		{"twilio", conversation.Reply{File: conversation.UploadOf("photo.jpg", "image/jpeg", jpeg(7549747))}, "file",
			"Images on WhatsApp are at most 5 MB; this one is 7.2 MB. Nothing was sent."},
		{"twilio", conversation.Reply{File: conversation.UploadOf("notes.txt", "text/plain", []byte("opening hours\n"))}, "file",
			"Text files (.txt) cannot be sent through Twilio on WhatsApp: paste the text in a message, or send it as PDF. Nothing was sent."},
		{"onemsg", conversation.Reply{Body: strings.Repeat("a", 1100), File: conversation.UploadOf("photo.jpg", "", jpeg(1000))}, "body",
			"The text sent with a file is at most 1,024 characters on WhatsApp; this one has 1,100. Send the text as a message of its own."},
	} {
		t.Run(tc.provider+" "+tc.field, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			setProvider(t, f, tc.provider)
			r := f.receive(t, "SM1", "+15557654321", "hi")
			_, err := f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, r.CaseID, tc.reply)
			p, ok := problem.As(err)
			if !ok || p.Fields[tc.field] != tc.reason {
				t.Fatalf("reply refused with %v, want %s: %q", err, tc.field, tc.reason)
			}
			if n := f.Count(t, `SELECT count(*) FROM messages WHERE direction = 'out'`) + f.Count(t, `SELECT count(*) FROM attachments`) +
				f.Count(t, `SELECT count(*) FROM river_job WHERE kind = 'send_message'`); n != 0 {
				t.Fatalf("%d rows stored or queued, want none", n)
			}
			if files := storedFiles(t, f.MediaDir); len(files) != 0 {
				t.Fatalf("files stored: %v", files)
			}
		})
	}
}

// What one provider sends is not refused because another would refuse it,
// and a file goes with the type its bytes say, not the browser's.
func TestRepliesWithinTheProvidersLimitsAreStoredWithTheirRealType(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		provider string
		reply    conversation.Reply
		wantType string
	}{
		{"onemsg", conversation.Reply{Body: strings.Repeat("a", 1734)}, ""},
		{"onemsg", conversation.Reply{File: conversation.UploadOf("notes.txt", "text/plain", []byte("opening hours\n"))}, "text/plain"},
		// A PNG the browser could not name, and a JPEG it misnamed.
		{"twilio", conversation.Reply{File: conversation.UploadOf("screenshot", "application/octet-stream", padTo([]byte("\x89PNG\r\n\x1a\n"), 2048))}, "image/png"},
		{"twilio", conversation.Reply{Body: "your receipt", File: conversation.UploadOf("receipt.heic", "image/heic", padTo([]byte("\xFF\xD8\xFF\xE0"), 2048))}, "image/jpeg"},
	} {
		t.Run(tc.provider+" "+tc.wantType, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			setProvider(t, f, tc.provider)
			r := f.receive(t, "SM1", "+15557654321", "hi")
			if _, err := f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, r.CaseID, tc.reply); err != nil {
				t.Fatal(err)
			}
			if n := f.Count(t, `SELECT count(*) FROM river_job WHERE kind = 'send_message'`); n != 1 {
				t.Fatalf("%d send jobs, want 1", n)
			}
			if tc.wantType == "" {
				return
			}
			var ct string
			err := f.DB.InTenant(ctx, f.Admin.TenantID, func(tx pgx.Tx) error {
				return tx.QueryRow(ctx, `SELECT content_type FROM attachments`).Scan(&ct)
			})
			if err != nil || ct != tc.wantType {
				t.Fatalf("attachment type %q (%v), want %q", ct, err, tc.wantType)
			}
		})
	}
}

func setProvider(t *testing.T, f *fixture, provider string) {
	t.Helper()
	err := f.DB.InTenant(context.Background(), f.Admin.TenantID, func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), `UPDATE integrations SET provider = $1 WHERE id = $2`, provider, f.IG.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func storedFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func padTo(b []byte, size int) []byte {
	if len(b) >= size {
		return b
	}
	return append(b, make([]byte, size-len(b))...)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A send the provider kept refusing with "too many requests" fails after
// the last try with words that promise no further try.
func TestFinalFailureAfterRetriesPromisesNoRetry(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.Integrations.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		body := `{"code":20429,"message":"Too Many Requests","more_info":"https://www.twilio.com/docs/errors/20429","status":429}`
		return &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	})
	r := f.receive(t, "SM1", "+15557654321", "hi")
	m, err := f.Conv.SendReply(ctx, f.Admin.TenantID, f.Admin.ID, r.CaseID, conversation.Reply{Body: "on my way"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Conv.Deliver(ctx, f.Admin.TenantID, m.ID, false); err == nil {
		t.Fatal("a rate-limited send before the last try should be retried")
	}
	if err := f.Conv.Deliver(ctx, f.Admin.TenantID, m.ID, true); err != nil {
		t.Fatal(err)
	}
	ms, _ := f.Conv.Messages(ctx, f.Admin.TenantID, r.CaseID)
	last := ms[len(ms)-1]
	const want = "The provider is limiting how fast Parley may send (too many requests). Parley tried several times and gave up: send it again later."
	if last.Status != "failed" || last.ErrorMessage == nil || *last.ErrorMessage != want {
		t.Fatalf("after the last try: status %s, error %v; want failed with %q", last.Status, deref(last.ErrorMessage), want)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
