package httpserver_test

import (
	"archive/zip"
	"bytes"
	"html"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"parley/internal/app/apptest"
	"parley/internal/sandbox"
)

// heicPhoto is an iPhone photo's first bytes (HEIF, brand heic).
func heicPhoto() []byte {
	return append([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), make([]byte, 4096)...)
}

func zipFile(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.Create("invoice.pdf")
	w.Write([]byte("%PDF-1.7"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A reply the chat's provider would refuse comes back in the composer with
// the reason, nothing stored and nothing sent; the limits are the chat's
// provider's (a text too long for Twilio goes through 1msg).
func TestReplyRefusedOnUploadWithTheProvidersReason(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557654321", "send me the photo")
	d.customerWrites1msg(t, sandbox.OneMsgInbound{From: "+15557000001", Body: "and to me"})
	tw, om := d.chatOn(t, d.ig.ID), d.chatOn(t, d.om.ID)
	long := strings.Repeat("a", 1734)
	for _, tc := range []struct {
		name   string
		chat   int64
		body   string
		file   []byte
		fname  string
		reason string
	}{
		{"HEIC renamed .jpg", tw.ID, "", heicPhoto(), "IMG_0001.jpg", "HEIC photos cannot be sent on WhatsApp: send it as JPEG or PNG. Nothing was sent."},
		{"ZIP", om.ID, "", zipFile(t), "invoices.zip", "ZIP archives cannot be sent on WhatsApp: send the files in it one by one. Nothing was sent."},
		{"image over 5 MB", tw.ID, "", append([]byte("\xFF\xD8\xFF\xE0"), make([]byte, 7549743)...), "big.jpg", "Images on WhatsApp are at most 5 MB; this one is 7.2 MB. Nothing was sent."},
		{"text over Twilio's 1,600", tw.ID, long, nil, "", "Twilio sends at most 1,600 characters; this message has 1,734."},
	} {
		status, page := d.reply(t, tc.chat, tc.body, "k-"+tc.name, tc.file, tc.fname)
		if status != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(page), tc.reason) {
			t.Errorf("%s: %d, want 422 with %q\n%.600s", tc.name, status, tc.reason, page)
		}
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE direction = 'out'`); n != 0 {
		t.Fatalf("%d refused replies stored", n)
	}
	if status, _ := d.reply(t, om.ID, long, "k-1msg-long", nil, ""); status != http.StatusOK {
		t.Fatalf("1,734 characters through 1msg: %d, want sent", status)
	}
	eventually(t, "the long text to reach 1msg", func() bool { return len(d.omsim.Sent(sandbox.DemoOneMsgInstance)) == 1 })
	if n := len(d.sim.Sent(sandbox.DemoTwilioAccountSID)); n != 0 {
		t.Fatalf("Twilio got %d of the refused messages", n)
	}
}

// TestBrowserAttachingAHEICShowsWhyAndSendsNothing: the agent attaches an
// iPhone photo. As .heic the composer refuses it before uploading; renamed
// .jpg it is uploaded and the server, reading its bytes, refuses it. Both
// times the reason is under the file picker and nothing is sent.
func TestBrowserAttachingAHEICShowsWhyAndSendsNothing(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557654321", "Can you send me a photo of the parcel?")
	chat := d.liveChats(t)[0]
	dir := t.TempDir()
	heic, renamed := filepath.Join(dir, "IMG_0001.HEIC"), filepath.Join(dir, "IMG_0001.jpg")
	for _, p := range []string{heic, renamed} {
		if err := os.WriteFile(p, heicPhoto(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const reason = "HEIC photos cannot be sent on WhatsApp: send it as JPEG or PNG. Nothing was sent."
	agent := apptest.Browsers(t, 1)[0]
	demoLogin(t, agent, d.env.URL)
	apptest.Step(t, agent, "the agent opens the chat and attaches the .heic photo",
		chromedp.Navigate(d.env.URL+"/chats/"+itoa(chat.ID)),
		chromedp.WaitVisible(chromedp.CSS("#reply-body")),
		chromedp.SetUploadFiles(chromedp.CSS(`#composer input[type=file]`), []string{heic}),
		chromedp.WaitVisible(chromedp.CSS("#composer .file-error")),
	)
	apptest.WaitText(t, agent, "#composer .file-error", reason)
	if got, _ := chromedp.Run(agent, chromedp.Evaluate[int](`document.querySelector("#composer input[type=file]").files.length`)); got != 0 {
		t.Fatalf("the refused file is still attached (%d files)", got)
	}
	apptest.Shot(t, agent, "heic-refused")

	apptest.Step(t, agent, "renamed .jpg it is uploaded with a text, and refused by the server",
		chromedp.SetUploadFiles(chromedp.CSS(`#composer input[type=file]`), []string{renamed}),
		chromedp.SendKeys(chromedp.CSS("#reply-body"), "Here is the photo"),
		chromedp.Click(chromedp.CSS("#composer button.primary")),
	)
	apptest.WaitText(t, agent, "#composer .file-error", reason)
	if got, _ := chromedp.Run(agent, chromedp.Value(chromedp.CSS("#reply-body"))); got != "Here is the photo" {
		t.Errorf("the reply box holds %q after the refusal, want the text kept", got)
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE direction = 'out'`); n != 0 {
		t.Fatalf("%d messages stored, want none", n)
	}
	if n := len(d.sim.Sent(sandbox.DemoTwilioAccountSID)); n != 0 {
		t.Fatalf("Twilio got %d messages, want none", n)
	}
}
