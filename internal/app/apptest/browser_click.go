package apptest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Click clicks the first element matching css from inside the page, in
// one step: an element that server-sent events replace between finding
// and clicking it (a chat list redrawn as the stream connects) cannot make
// the click miss, as it can with chromedp.Click. It waits up to 30 s for
// the element.
func Click(t testing.TB, ctx context.Context, css string) {
	t.Helper()
	js := fmt.Sprintf(`(function(){var e=document.querySelector(%q);if(!e)return false;e.click();return true})()`, css)
	deadline := time.Now().Add(30 * time.Second)
	for {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(sctx, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("browser: click %s: not found (%v)%s", css, err, screenshot(ctx))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
