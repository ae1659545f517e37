package httpserver_test

import (
	"bytes"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"parley/internal/app/apptest"
	"parley/internal/clock"
	"parley/internal/media"
	"parley/internal/media/s3test"
	"parley/internal/sandbox"
)

func cloudForm(bucket, key string) url.Values {
	return url.Values{"endpoint": {s3test.Endpoint()}, "region": {s3test.Region}, "bucket": {bucket},
		"access_key": {key}, "secret": {"tenant-secret-key-9876"}, "max_mb": {"2048"}, "link_days": {"7"}}
}

// onlyReply is the text of the tenant's one outgoing message.
func (d *demo) onlyReply(t *testing.T) string {
	t.Helper()
	var body string
	if err := d.env.App.DB.InTenant(t.Context(), d.admin.TenantID, func(tx pgx.Tx) error {
		return tx.QueryRow(t.Context(), `SELECT body FROM messages WHERE direction = 'out'`).Scan(&body)
	}); err != nil {
		t.Fatal(err)
	}
	return body
}

func bucketKeys(t *testing.T, bucket string) []string {
	t.Helper()
	s, err := media.OpenBucket(t.Context(), media.Bucket{Endpoint: s3test.Endpoint(), Region: s3test.Region, Name: bucket, AccessKey: "reader", Secret: "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys, err := s.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

var linkPattern = regexp.MustCompile(`http://127\.0\.0\.1:\d+/[^\s"<]+`)

// Without cloud storage a 17 MB file is refused with where to turn it on;
// an admin connects a bucket (a missing one is refused with the store's
// words), and then the file streams into it and the client gets its name,
// size and a link that downloads it; over the admin's limit, or with the
// key revoked, nothing is sent while small files still go; another
// tenant sees none of it.
func TestLargeFileIsSentAsALinkThroughCloudStorage(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557654321", "send me the video")
	chat := d.chatOn(t, d.ig.ID)
	video := bytes.Repeat([]byte("frame-of-video.."), 17<<16) // 17 MB

	status, page := d.reply(t, chat.ID, "", "k-no-cloud", video, "party.mp4")
	page = html.UnescapeString(page)
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(page, "Larger files can be sent as links with cloud storage (Settings → Integrations → Cloud storage)") ||
		!strings.Contains(page, `href="/settings/integrations/cloud-storage"`) {
		t.Fatalf("17 MB without cloud storage: %d\n%.2000s", status, page)
	}

	status, _, page = d.env.Post(t, d.client, "/settings/integrations/cloud-storage", cloudForm("no-such-bucket", "k"))
	if status != http.StatusBadGateway || !strings.Contains(html.UnescapeString(page), "NoSuchBucket: The specified bucket does not exist") {
		t.Fatalf("missing bucket: %d\n%s", status, page)
	}
	bucket := s3test.Bucket(t)
	key := "demo-key-" + bucket
	if status, loc, _ := d.env.Post(t, d.client, "/settings/integrations/cloud-storage", cloudForm(bucket, key)); status != http.StatusSeeOther || loc != "/settings/integrations/cloud-storage?saved=1" {
		t.Fatalf("connect: %d %s", status, loc)
	}
	_, page = d.env.Get(t, d.client, "/settings/integrations/cloud-storage")
	if !strings.Contains(page, bucket) || !strings.Contains(page, "9876") || strings.Contains(page, "tenant-secret-key") {
		t.Fatalf("connected page:\n%.3000s", page)
	}

	status, page = d.reply(t, chat.ID, "Here it is", "k-video", video, "party.mp4")
	if status != http.StatusOK {
		t.Fatalf("17 MB with cloud storage: %d\n%.2000s", status, page)
	}
	body := d.onlyReply(t)
	link := linkPattern.FindString(body)
	if !strings.Contains(body, "Here it is") || !strings.Contains(body, "party.mp4 (17.0 MB)") || link == "" {
		t.Fatalf("message: %q", body)
	}
	eventually(t, "the link to reach Twilio", func() bool { return len(d.sim.Sent(sandbox.DemoTwilioAccountSID)) == 1 })
	if sent := d.sim.Sent(sandbox.DemoTwilioAccountSID)[0].Params.Get("Body"); sent != body {
		t.Fatalf("the client got %q", sent)
	}
	_, page = d.env.Get(t, d.client, "/chats/"+itoa(chat.ID))
	if !strings.Contains(html.UnescapeString(page), "party.mp4 (17.0 MB)") {
		t.Fatal("the conversation does not show the file's link")
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, video) {
		t.Fatalf("the link answered %d with %d bytes", resp.StatusCode, len(got))
	}

	// Just over 16 MB, within the reply form's margin: a link too.
	if status, page := d.reply(t, chat.ID, "", "k-clip", make([]byte, 16<<20+300<<10), "clip.mp4"); status != http.StatusOK {
		t.Fatalf("16.3 MB with cloud storage: %d\n%.2000s", status, page)
	}
	eventually(t, "the second link to reach Twilio", func() bool {
		sent := d.sim.Sent(sandbox.DemoTwilioAccountSID)
		return len(sent) == 2 && strings.Contains(sent[1].Params.Get("Body"), "clip.mp4 (16.3 MB)")
	})

	if status, _, _ := d.env.Post(t, d.client, "/settings/integrations/cloud-storage/limits", url.Values{"max_mb": {"20"}, "link_days": {"3"}}); status != http.StatusSeeOther {
		t.Fatalf("limits: %d", status)
	}
	big := make([]byte, 21<<20)
	status, page = d.reply(t, chat.ID, "", "k-big", big, "big.bin")
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(html.UnescapeString(page), "Your cloud storage takes files up to 20 MB") {
		t.Fatalf("over the admin's limit: %d\n%.2000s", status, page)
	}

	s3test.DenyKey(t, key)
	status, page = d.reply(t, chat.ID, "", "k-revoked", video, "party2.mp4")
	if status != http.StatusBadGateway || !strings.Contains(html.UnescapeString(page), "InvalidAccessKeyId") {
		t.Fatalf("revoked key: %d\n%.2000s", status, page)
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE direction = 'out'`); n != 2 {
		t.Fatalf("%d messages, want only the two links", n)
	}
	if keys := bucketKeys(t, bucket); len(keys) != 2 {
		t.Fatalf("bucket holds %v, want the two files sent", keys)
	}
	if status, page := d.reply(t, chat.ID, "", "k-small", []byte("%PDF-1.7 small invoice"), "invoice.pdf"); status != http.StatusOK {
		t.Fatalf("a small file with the bucket unreachable: %d\n%.1000s", status, page)
	}

	other := d.env.SignUp(t, "Globex", "admin@globex.example")
	_, page = d.env.Get(t, other, "/settings/integrations/cloud-storage")
	if strings.Contains(page, bucket) || !strings.Contains(page, "Connect") {
		t.Fatalf("another tenant's page:\n%.2000s", page)
	}
	d2 := &demo{env: d.env, client: other}
	if status, _ := d2.reply(t, chat.ID, "", "k-other", video, "party.mp4"); status != http.StatusNotFound {
		t.Fatalf("another tenant's chat: %d, want 404", status)
	}
}

// The client's link is Parley's: while it lives it leads to the store; once
// it expired, the client sees a page that says so with the date, not the
// store's XML error (issue 23); an altered link finds nothing.
func TestExpiredFileLinkSaysSoInWords(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Now())
	d := demoOf(t, apptest.Start(t, apptest.Options{Sandbox: true, Clock: clk}))
	d.customerWrites(t, "+15557654322", "the contract please")
	chat := d.chatOn(t, d.ig.ID)
	bucket := s3test.Bucket(t)
	if status, _, _ := d.env.Post(t, d.client, "/settings/integrations/cloud-storage", cloudForm(bucket, "k-expiry")); status != http.StatusSeeOther {
		t.Fatalf("connect: %d", status)
	}
	if status, page := d.reply(t, chat.ID, "", "k-contract", bytes.Repeat([]byte("contract"), 17<<17), "contract.pdf"); status != http.StatusOK {
		t.Fatalf("17 MB reply: %d\n%.1000s", status, page)
	}
	body := d.onlyReply(t)
	link := linkPattern.FindString(body)
	if !strings.HasPrefix(link, d.env.URL+"/files/") {
		t.Fatalf("the client's link is not Parley's: %q", body)
	}
	anyone := d.env.Client() // not signed in, redirects not followed
	resp, err := anyone.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, s3test.Endpoint()) || !strings.Contains(loc, "X-Amz-Signature=") {
		t.Fatalf("a live link: %d → %s", resp.StatusCode, loc)
	}

	clk.Advance(7*24*time.Hour + time.Minute)
	status, page := d.env.Get(t, anyone, strings.TrimPrefix(link, d.env.URL))
	if status != http.StatusGone || !strings.Contains(page, "This link to a file expired on") || !strings.Contains(page, "send it again") || strings.Contains(page, "<?xml") {
		t.Fatalf("an expired link: %d\n%.1500s", status, page)
	}
	if status, _ := d.env.Get(t, anyone, strings.Replace(strings.TrimPrefix(link, d.env.URL), ".", ".0", 1)); status != http.StatusNotFound {
		t.Fatalf("an altered link: %d, want 404", status)
	}
}
