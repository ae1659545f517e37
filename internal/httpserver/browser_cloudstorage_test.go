package httpserver_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"parley/internal/app/apptest"
	"parley/internal/cloudstorage"
	"parley/internal/media"
	"parley/internal/media/s3test"
	"parley/internal/sandbox"
)

// TestBrowserLargeFileGoesAsALink: an admin attaches a 17 MB video. With no
// cloud storage the composer refuses it and links to where to connect
// one; with it connected, the video uploads and the conversation shows the
// message with its name, size and link.
func TestBrowserLargeFileGoesAsALink(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557654321", "send me the video")
	chat := d.liveChats(t)[0]
	video := filepath.Join(t.TempDir(), "party.mp4")
	if err := os.WriteFile(video, bytes.Repeat([]byte("frame-of-video.."), 17<<16), 0o600); err != nil {
		t.Fatal(err)
	}
	b := apptest.Browser(t)
	apptest.Step(t, b, "admin logs in and opens the chat",
		chromedp.Navigate(d.env.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#f-email"), sandbox.DemoEmail),
		chromedp.SendKeys(chromedp.CSS("#f-password"), sandbox.DemoPassword),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS(".chat-list-pane")),
		chromedp.Navigate(d.env.URL+"/chats/"+itoa(chat.ID)),
		chromedp.WaitVisible(chromedp.CSS("#reply-body")),
	)
	apptest.Step(t, b, "admin attaches a 17 MB video with no cloud storage",
		chromedp.SetUploadFiles(chromedp.CSS(`#composer input[name=file]`), []string{video}),
		chromedp.WaitVisible(chromedp.CSS(`[data-cloud-hint] a[href="/settings/integrations/cloud-storage"]`)),
	)
	apptest.WaitText(t, b, "#composer .file-error", "Videos on WhatsApp are at most 16 MB; this one is 17 MB. Nothing was sent.")

	if _, err := d.env.App.CloudStorage.Connect(context.Background(), d.admin.TenantID, cloudstorage.Form{
		Bucket:   media.Bucket{Endpoint: s3test.Endpoint(), Region: s3test.Region, Name: s3test.Bucket(t), AccessKey: "browser-key", Secret: "browser-secret"},
		MaxBytes: cloudstorage.DefaultMaxBytes, LinkDays: cloudstorage.DefaultLinkDays,
	}); err != nil {
		t.Fatal(err)
	}
	apptest.Step(t, b, "with cloud storage connected, the admin sends the video",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#reply-body")),
		chromedp.SetUploadFiles(chromedp.CSS(`#composer input[name=file]`), []string{video}),
		chromedp.Click(chromedp.CSS("#composer button.primary")),
	)
	apptest.WaitText(t, b, "#messages", "party.mp4 (17.0 MB)")
	eventually(t, "the link to reach Twilio", func() bool { return len(d.sim.Sent(sandbox.DemoTwilioAccountSID)) == 1 })
}
