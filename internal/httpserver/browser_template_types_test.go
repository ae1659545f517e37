package httpserver_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"parley/internal/app/apptest"
	"parley/internal/sandbox"
)

// searchFor types q into the macros panel's search box, replacing what
// was there.
func searchFor(q string) chromedp.Action[chromedp.Void] {
	eval := chromedp.Evaluate[bool](`(function(){var s=document.querySelector(".macros-panel [data-macros-search]");s.value=` + jsString(q) + `;s.dispatchEvent(new Event("input",{bubbles:true}));return true})()`)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := eval(ctx, t)
		return chromedp.Void{}, err
	}
}

// TestBrowserTemplatePreviews: the picker previews each template as the
// client will see it — a media template with its image, a call-to-action
// with its link's address and its call number, a copy-code button — and
// names a type Parley cannot send, which cannot be picked; a media
// template takes the agent's file and the client receives it.
func TestBrowserTemplatePreviews(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	agent := apptest.Browser(t)
	demoLogin(t, agent, d.env.URL)
	const customer = "+15557650002"
	d.customerWrites(t, customer, "Hello")
	chat := d.liveChats(t)[0]

	apptest.Step(t, agent, "agent opens the macros panel",
		chromedp.Navigate(d.env.URL+"/chats/"+itoa(chat.ID)),
		chromedp.WaitVisible(chromedp.CSS("#reply-body")),
		chromedp.Click(chromedp.CSS("[data-macros-toggle]")),
		chromedp.WaitVisible(chromedp.CSS(".template-list [data-template-pick]")),
		searchFor("spring"),
	)
	// The image is the provider's sample, loaded (lazily, once the search
	// shows it) and shown.
	eventually(t, "the media template's image is shown", func() bool {
		loaded, err := chromedp.Run(agent, chromedp.Evaluate[bool](`(function(){var i=document.querySelector(".template-list li:not([hidden]) .tpl-media-img");return !!i&&i.complete&&i.naturalWidth>0})()`))
		return err == nil && loaded
	})
	if src, err := chromedp.Run(agent, chromedp.AttributeValue(chromedp.CSS(".template-list li:not([hidden]) .tpl-media-img"), "src")); err != nil ||
		!strings.HasSuffix(src.Value, "/sandbox/twilio/samples/"+sandbox.SampleImage) {
		t.Errorf("image src %v %v", src, err)
	}
	apptest.Shot(t, agent, "template-media-preview")

	apptest.Step(t, agent, "a call-to-action shows its link and its number",
		searchFor("track"),
	)
	if got := visibleTexts(t, agent, ".template-list .tpl-link"); len(got) != 1 || got[0] != "🔗 Track order https://track.example.com/{{3}}" {
		t.Errorf("link button %q", got)
	}
	if got := visibleTexts(t, agent, ".template-list .tpl-call"); len(got) != 1 || got[0] != "📞 Call us +15550001111" {
		t.Errorf("call button %q", got)
	}
	apptest.Step(t, agent, "an authentication template shows its copy-code button",
		searchFor("login"),
	)
	if got := visibleTexts(t, agent, ".template-list .tpl-copy"); len(got) != 1 || got[0] != "⧉ Copy code" {
		t.Errorf("copy-code button %q", got)
	}
	apptest.Step(t, agent, "a list picker is named and cannot be picked",
		searchFor("department"),
	)
	if got := visibleTexts(t, agent, ".template-list .tpl-unsendable .tpl-why"); len(got) != 1 || got[0] != "List picker templates cannot be sent from Parley." {
		t.Errorf("unsendable %q", got)
	}
	if n := visibleTexts(t, agent, ".template-list li:not([hidden]) [data-template-pick]"); len(n) != 0 {
		t.Errorf("the list picker can be picked")
	}
	apptest.Shot(t, agent, "template-unsendable")

	file := filepath.Join(t.TempDir(), "receipt-1001.pdf")
	if err := os.WriteFile(file, []byte(receiptPDF), 0o600); err != nil {
		t.Fatal(err)
	}
	apptest.Step(t, agent, "a media template takes the agent's file",
		searchFor("receipt"),
		chromedp.Click(chromedp.CSS(".template-list li:not([hidden]) [data-template-pick]")),
		chromedp.WaitVisible(chromedp.CSS(`#composer [data-tpl-media-input] input[type=file]`)),
		chromedp.SendKeys(chromedp.CSS(`#composer input[name="var_1"]`), "Casey"),
		chromedp.SendKeys(chromedp.CSS(`#composer input[name="var_2"]`), "#1001"),
		chromedp.Click(chromedp.CSS("#composer [data-template-send]")),
		chromedp.WaitVisible(chromedp.CSS(`#composer [data-tpl-media-input] .field-error:not([hidden])`)),
	)
	if n := d.count(t, `SELECT count(*) FROM messages WHERE direction = 'out'`); n != 0 {
		t.Fatalf("a media template without its file was stored")
	}
	apptest.Step(t, agent, "with the file it is sent and delivered",
		chromedp.SetUploadFiles(chromedp.CSS(`#composer input[name="template_media_file"]`), []string{file}),
		chromedp.Click(chromedp.CSS("#composer [data-template-send]")),
		chromedp.WaitVisible(chromedp.CSS(`.msg-template[data-status="delivered"], .msg-template[data-status="read"]`)),
	)
	apptest.WaitText(t, agent, ".msg-template .msg-body", "Hi Casey, here is the receipt for your order #1001.")
	apptest.WaitText(t, agent, ".msg-template .msg-file", "receipt-1001.pdf")
	d.sim.WaitIdle()
	got := false
	for _, m := range d.sim.Conversation(d.ig.Sender, customer) {
		if m.Body == "Hi Casey, here is the receipt for your order #1001." && len(m.MediaContentTypes) == 1 && m.MediaContentTypes[0] == "application/pdf" {
			got = true
		}
	}
	if !got {
		t.Errorf("the client did not get the receipt: %+v", d.sim.Conversation(d.ig.Sender, customer))
	}
	apptest.Shot(t, agent, "template-media-sent")
}
