package httpserver_test

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"parley/internal/conversation"
	"parley/internal/sandbox"
)

var updateGolden = flag.Bool("update", false, "rewrite the replay test's golden file")

// replayMedia are the files the corpus's media links serve, by the link's
// last path segment: what Twilio and 1msg's storage answer (1msg's S3
// links serve everything as octet-stream).
var replayMedia = map[string]struct{ contentType, disposition, body string }{
	"ME05receipt":           {"image/jpeg", "", "\xff\xd8\xff\xe0\x00\x10JFIF\x00receipt"},
	"ME06photo":             {"image/png", "", "\x89PNG\r\n\x1a\nphoto"},
	"ME07page1":             {"image/jpeg", "", "\xff\xd8\xff\xe0\x00\x10JFIF\x00page1"},
	"ME07page2":             {"image/jpeg", "", "\xff\xd8\xff\xe0\x00\x10JFIF\x00page2"},
	"ME08invoice":           {"application/pdf", `attachment; filename="Invoice-4411.pdf"`, "%PDF-1.4 invoice"},
	"ME09scan":              {"application/octet-stream", "", "%PDF-1.7 scan"},
	"ME10voice":             {"audio/ogg", "", "OggS\x00\x02voice"},
	"ME11video":             {"video/mp4", "", "\x00\x00\x00\x18ftypmp42video"},
	"ME12sticker":           {"image/webp", "", "RIFF\x10\x00\x00\x00WEBPVP8 sticker"},
	"ME13vcard":             {"text/vcard", "", "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Santoso;Budi;;;\r\nFN:Budi Santoso\r\nTEL;type=CELL;waid=6281234567890:+62 812-3456-7890\r\nEMAIL:budi@example.co.id\r\nEND:VCARD\r\n"},
	"3EB0C1A2B3C4D5E6.jpeg": {"application/octet-stream", "", "\xff\xd8\xff\xe0\x00\x10JFIF\x00damage"},
	"3EB0D4E5F6A7B8C9":      {"application/octet-stream", "", "%PDF-1.4 factura"},
	"Contrato firmado.docx": {"application/octet-stream", "", "PK\x03\x04contract"},
	"3EB0AUDIO0001.oga":     {"audio/ogg", "", "OggS\x00\x02ptt"},
	"3EB0AUDIO0002.mp3":     {"audio/mpeg", "", "ID3\x03mp3"},
	"3EB0VIDEO0001.mp4":     {"video/mp4", "", "\x00\x00\x00\x18ftypmp42clip"},
	"3EB0STICKER01.webp":    {"image/webp", "", "RIFF\x10\x00\x00\x00WEBPVP8 stick"},
}

// TestReplayInboundCorpus replays every webhook of the inbound corpus
// (internal/channel/{twilio,onemsg}/testdata/inbound, shaped like real
// traffic; see the READMEs there) through the real webhook handlers, in
// order, signed for Twilio, into a real database, lets the file downloads
// run, and compares what the agent would see of each message with
// testdata/replay.golden (go test -run TestReplayInboundCorpus -update
// rewrites it; review the difference).
func TestReplayInboundCorpus(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	ctx := context.Background()
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _ := url.PathUnescape(path.Base(r.URL.EscapedPath()))
		f, ok := replayMedia[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", f.contentType)
		if f.disposition != "" {
			w.Header().Set("Content-Disposition", f.disposition)
		}
		_, _ = w.Write([]byte(f.body))
	}))
	t.Cleanup(files.Close)
	instance := d.om.Account[strings.LastIndexByte(d.om.Account, '/')+1:]
	shifted := strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)

	var out strings.Builder
	var lines []replayed
	for _, dir := range []string{"../channel/twilio/testdata/inbound", "../channel/onemsg/testdata/inbound"} {
		names, err := filepath.Glob(filepath.Join(dir, "*.*"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if strings.HasSuffix(name, ".md") {
				continue
			}
			raw, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			var status int
			var ids []string
			if strings.HasSuffix(name, ".form") {
				form := readForm(t, string(raw), map[string]string{"${SENDER}": d.ig.Sender, "${ACCOUNT}": sandbox.DemoTwilioAccountSID},
					"https://api.twilio.com/2010-04-01/Accounts/"+sandbox.DemoTwilioAccountSID+"/Messages/", files.URL+"/twilio/")
				status = d.postTwilio(t, form)
				if form.Get("MessageStatus") == "" {
					ids = []string{form.Get("MessageSid")}
				}
			} else {
				body := strings.NewReplacer("${INSTANCE}", instance, "1764770000", shifted,
					"https://s3.eu-central-1.wasabisys.com/", files.URL+"/s3/").Replace(string(raw))
				status, _ = d.post1msg(t, body)
				ids = oneMsgIDs(t, body)
			}
			lines = append(lines, replayed{file: filepath.Base(name), status: status, ids: ids})
		}
	}
	eventually(t, "the corpus's files downloaded", func() bool {
		return d.count(t, `SELECT count(*) FROM attachments WHERE state = 'pending'`) == 0
	})

	clients := map[int64]int{}
	for _, l := range lines {
		fmt.Fprintf(&out, "== %s → %d\n", l.file, l.status)
		for _, id := range l.ids {
			fmt.Fprintf(&out, "   %s\n", d.seenAs(ctx, t, id, clients))
		}
	}
	golden := "testdata/replay.golden"
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != string(want) {
		t.Errorf("the replay differs from %s (run with -update and review the difference):\n%s", golden, lineDiff(string(want), got))
	}
}

type replayed struct {
	file   string
	status int
	ids    []string
}

// readForm reads a corpus form: Key=Value lines, "#" comments, "\n" for a
// newline in a value; placeholders replaced, and media URLs moved to the
// test's file server.
func readForm(t *testing.T, text string, vars map[string]string, mediaPrefix, mediaTo string) url.Values {
	t.Helper()
	form := url.Values{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("form line %q", line)
		}
		for from, to := range vars {
			v = strings.ReplaceAll(v, from, to)
		}
		v = strings.ReplaceAll(strings.ReplaceAll(v, `\n`, "\n"), mediaPrefix, mediaTo)
		form.Set(k, v)
	}
	return form
}

// postTwilio posts a form to the demo Twilio integration's webhook,
// signed as Twilio signs it.
func (d *demo) postTwilio(t *testing.T, form url.Values) int {
	t.Helper()
	hook := d.env.App.Integrations.WebhookURL(d.ig)
	req, err := http.NewRequest(http.MethodPost, hook, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", sandbox.SignTwilio(sandbox.DemoTwilioAuthToken, hook, form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// oneMsgIDs are the message ids a 1msg body carries, in its own format or
// Meta's.
func oneMsgIDs(t *testing.T, body string) []string {
	t.Helper()
	var env struct {
		Messages []struct{ ID string } `json:"messages"`
		Entry    []struct {
			Changes []struct {
				Value struct {
					Messages []struct{ ID string } `json:"messages"`
				} `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range env.Messages {
		ids = append(ids, m.ID)
	}
	for _, e := range env.Entry {
		for _, c := range e.Changes {
			for _, m := range c.Value.Messages {
				ids = append(ids, m.ID)
			}
		}
	}
	return ids
}

// seenAs is one line of what the agent sees of a message: where it is,
// its kind and text, what it quotes, its button, card, place, files, the
// chat's ad and who the client is (clients numbered by first appearance).
func (d *demo) seenAs(ctx context.Context, t *testing.T, providerID string, clients map[int64]int) string {
	t.Helper()
	var (
		caseID, clientID               int64
		name                           string
		number, userID, waID, username *string
	)
	err := d.env.App.DB.InTenant(ctx, d.admin.TenantID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT m.case_id, cl.id, cl.name, cl.whatsapp, cl.whatsapp_user_id, cl.whatsapp_wa_id, cl.whatsapp_username
			FROM messages m JOIN cases c ON c.id = m.case_id JOIN clients cl ON cl.id = c.client_id WHERE m.provider_message_id = $1`, providerID).
			Scan(&caseID, &clientID, &name, &number, &userID, &waID, &username)
	})
	if err == pgx.ErrNoRows {
		return providerID + ": not stored"
	}
	if err != nil {
		t.Fatal(err)
	}
	ms, err := d.env.App.Conversations.Messages(ctx, d.admin.TenantID, caseID)
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.env.App.Conversations.Case(ctx, d.admin.TenantID, caseID)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ms, func(m conversation.Message) bool {
		return m.ProviderMessageID != nil && *m.ProviderMessageID == providerID
	})
	m := ms[i]
	if _, ok := clients[clientID]; !ok {
		clients[clientID] = len(clients) + 1
	}
	parts := []string{fmt.Sprintf("%s: %s %s %s %q", short(providerID), m.Direction, m.Kind, m.Status, m.Body)}
	add := func(format string, args ...any) { parts = append(parts, fmt.Sprintf(format, args...)) }
	if m.Meta.QuotedID != "" {
		add("quotes %s %q", short(m.Meta.QuotedID), deref(m.QuotedBody))
	}
	if m.Meta.ButtonText != "" || m.Meta.ButtonPayload != "" {
		add("button %q payload %q", m.Meta.ButtonText, m.Meta.ButtonPayload)
	}
	if m.MapURL() != "" {
		add("map %s", m.MapURL())
	}
	for _, ct := range m.Meta.Contacts {
		add("card %q %q %q", ct.Name, ct.Phones, ct.Emails)
	}
	if m.Meta.Unsupported != "" {
		add("unsupported %q", conversation.UnsupportedName(m.Meta.Unsupported))
	}
	for _, a := range m.Attachments {
		add("file %q %s %s%s", a.Filename, a.ContentType, a.State, strings.TrimSuffix(" "+deref(a.Error), " "))
	}
	if r := c.Referral; r != nil {
		add("chat from %s %q %q %s", r.SourceType, r.Headline, r.Body, r.SourceURL)
	}
	add("client #%d %q number=%s user=%s waid=%s username=%s", clients[clientID], name, deref(number), deref(userID), deref(waID), deref(username))
	if m.CreatedAt.After(time.Now()) {
		add("IN THE FUTURE")
	}
	return strings.Join(parts, " | ")
}

func short(id string) string {
	if len(id) > 14 {
		return id[:6] + "…" + id[len(id)-6:]
	}
	return id
}

// lineDiff lists the lines of got that want does not have at that place.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "-%s\n+%s\n", wl, gl)
		}
	}
	return b.String()
}
