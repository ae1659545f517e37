package httpserver_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"parley/internal/app/apptest"
	"parley/internal/media/s3test"
	"parley/internal/sandbox"
)

// TestBrowserUploadShowsProgressAndCancelLeavesNothing: an agent attaches
// a 6 MB file on a slow connection; the composer shows the bytes and the
// percent sent; the agent cancels, and there is no message, no attachment
// and no object in the bucket.
func TestBrowserUploadShowsProgressAndCancelLeavesNothing(t *testing.T) {
	t.Parallel()
	d := demoOf(t, apptest.Start(t, apptest.Options{Sandbox: true, MediaURL: s3test.URL(t)}))
	d.customerWrites(t, "+15557654321", "can you send the manual?")
	chat := d.liveChats(t)[0]
	pdf := filepath.Join(t.TempDir(), "manual.pdf")
	if err := os.WriteFile(pdf, append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("m"), 6<<20-9)...), 0o600); err != nil {
		t.Fatal(err)
	}
	b := apptest.Browser(t)
	apptest.Step(t, b, "agent logs in and opens the chat",
		chromedp.Navigate(d.env.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#f-email"), sandbox.DemoEmail),
		chromedp.SendKeys(chromedp.CSS("#f-password"), sandbox.DemoPassword),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS(".chat-list-pane")),
		chromedp.Navigate(d.env.URL+"/chats/"+itoa(chat.ID)),
		chromedp.WaitVisible(chromedp.CSS("#reply-body")),
	)
	// 128 KB/s: the upload would take 48 seconds.
	throttle := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: []*network.Conditions{{UploadThroughput: 128 << 10, DownloadThroughput: -1}},
		})
		return err
	})
	apptest.Step(t, b, "agent attaches the manual on a slow connection and sends",
		chromedp.SetUploadFiles(chromedp.CSS(`#composer input[name=file]`), []string{pdf}),
		throttle,
		chromedp.Click(chromedp.CSS("#composer button.primary")),
		chromedp.WaitVisible(chromedp.CSS("[data-upload-progress]")),
	)
	apptest.WaitText(t, b, "[data-upload-words]", "of 6 MB (")
	apptest.WaitText(t, b, "[data-upload-words]", "1 %)")
	apptest.Click(t, b, "[data-upload-cancel]")
	apptest.WaitText(t, b, "#composer .file-error", "Upload cancelled. Nothing was sent.")
	if hidden, err := chromedp.Run(b, chromedp.Evaluate[bool](`document.querySelector("[data-upload-progress]").hidden`)); err != nil || !hidden {
		t.Fatalf("the progress stays after the cancel (%v)", err)
	}
	eventually(t, "nothing stored", func() bool {
		keys, err := d.env.App.Media.Keys(context.Background())
		return err == nil && len(keys) == 0 &&
			d.count(t, `SELECT count(*) FROM messages WHERE direction = 'out'`)+d.count(t, `SELECT count(*) FROM attachments`) == 0
	})
}
