package httpserver_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"parley/internal/app/apptest"
)

// axeSource is axe-core, vendored from npm (testdata/axe/README.md).
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/axe/axe.min.js")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// axeViolations runs axe-core on the page and returns its serious and
// critical violations, one line each with the elements concerned, and the
// ids and headings used more than once.
func axeViolations(t *testing.T, ctx context.Context, axe string) []string {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axe+";true")); err != nil {
		t.Fatalf("inject axe: %v", err)
	}
	js := `axe.run(document, {resultTypes: ["violations"]}).then(function (r) {
		var out = [];
		r.violations.forEach(function (v) {
			if (v.impact !== "serious" && v.impact !== "critical") return;
			out.push(v.impact + " " + v.id + ": " + v.help + " — " + v.nodes.slice(0, 4).map(function (n) {
				return n.target.join(" ") + (n.failureSummary ? " (" + n.failureSummary.replace(/\s+/g, " ").slice(0, 160) + ")" : "");
			}).join("; "));
		});
		var seen = {};
		document.querySelectorAll("[id]").forEach(function (e) {
			if (seen[e.id]) out.push("duplicate id " + e.id);
			seen[e.id] = true;
		});
		var heads = {};
		document.querySelectorAll("h1, h2, h3, h4, h5, h6").forEach(function (h) {
			if (h.closest("[hidden], dialog:not([open])")) return;
			var k = h.textContent.replace(/\s+/g, " ").trim().toLowerCase();
			if (heads[k]) out.push("duplicate heading " + JSON.stringify(k));
			heads[k] = true;
		});
		return out;
	})`
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("run axe: %v", err)
	}
	return got
}

// TestBrowserAccessibleAndNarrow: the agent's pages (chats with an open
// chat, cases, a case, clients, a client, settings, the rules editor) have
// no serious or critical axe-core violation and no id used twice; and at
// 390 px none scrolls sideways.
func TestBrowserAccessibleAndNarrow(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	axe := axeSource(t)
	d.customerWrites(t, "+15557000201", "An ended chat")
	ended := d.liveChats(t)[0]
	if status, _, body := d.env.Post(t, d.client, fmt.Sprintf("/chats/%d/end", ended.ID), url.Values{"status": {"solved"}}); status != http.StatusSeeOther {
		t.Fatalf("end chat: %d %s", status, body)
	}
	d.customerWrites(t, "+15557000202", "A live chat with a rather long first message that wraps over several lines on a phone")
	live := d.liveChats(t)[0]
	pages := []string{
		fmt.Sprintf("/chats/%d", live.ID),
		"/cases",
		fmt.Sprintf("/cases/%d", ended.ID),
		"/clients",
		fmt.Sprintf("/clients/%d", live.ClientID),
		"/settings",
		"/settings/rules",
	}
	agent := apptest.Browser(t)
	demoLogin(t, agent, d.env.URL)

	// From the top of a chat, the reply box is two Tabs and Enter away
	// (the skip links); its focus ring and a list row's stand out (≥ 3:1)
	// and the row's is drawn inside it, where the pane cannot clip it.
	apptest.Step(t, agent, "Tab to the skip link to the reply box",
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(d.env.URL+pages[0]),
		chromedp.WaitVisible(chromedp.CSS("#reply-body")),
		chromedp.KeyEvent(kb.Tab),
		chromedp.KeyEvent(kb.Tab),
	)
	if got, _ := chromedp.Run(agent, chromedp.Evaluate[string](`document.activeElement.textContent`)); got != "Skip to the reply box" {
		t.Errorf("the second Tab is on %q", got)
	}
	apptest.Step(t, agent, "Enter on it", chromedp.KeyEvent(kb.Enter))
	if id, _ := chromedp.Run(agent, chromedp.Evaluate[string](`document.activeElement.id`)); id != "reply-body" {
		t.Errorf("the skip link leads to %q", id)
	}
	ring, err := chromedp.Run(agent, chromedp.Evaluate[[]string](`(function(){
		var out = [];
		var b = document.getElementById("reply-body"); b.focus();
		var s = getComputedStyle(b); out.push(s.outlineStyle + " " + s.outlineColor + " " + s.outlineWidth);
		var a = document.querySelector(".chat-item"); a.focus();
		s = getComputedStyle(a); out.push(s.outlineStyle + " " + s.outlineColor + " " + s.outlineWidth + " " + s.outlineOffset);
		return out;
	})()`))
	if err != nil || len(ring) != 2 {
		t.Fatalf("focus rings: %q %v", ring, err)
	}
	for i, r := range ring {
		f := strings.Fields(r)
		if f[0] == "none" || contrast(f[1]+f[2]+f[3], "rgb(255,255,255)") < 3 {
			t.Errorf("focus ring %d: %s", i, r)
		}
	}
	if off := strings.Fields(ring[1]); len(off) < 6 || !strings.HasPrefix(off[len(off)-1], "-") {
		t.Errorf("a list row's focus ring is drawn outside it: %s", ring[1])
	}
	// New client messages are read out.
	d.customerWrites(t, "+15557000202", "Is anyone there?")
	apptest.WaitText(t, agent, "#live-announcer", "Is anyone there?")

	for _, p := range pages {
		apptest.Step(t, agent, "open "+p,
			chromedp.EmulateViewport(1280, 800),
			chromedp.Navigate(d.env.URL+p),
			chromedp.WaitVisible(chromedp.CSS("#main")),
		)
		if v := axeViolations(t, agent, axe); len(v) > 0 {
			t.Errorf("%s at 1280 px:\n  %s", p, strings.Join(v, "\n  "))
		}
		apptest.Step(t, agent, "narrow "+p,
			chromedp.EmulateViewport(390, 844),
			chromedp.Navigate(d.env.URL+p),
			chromedp.WaitVisible(chromedp.CSS("#main")),
		)
		wide, err := chromedp.Run(agent, chromedp.Evaluate[string](`(function(){
			var w = document.scrollingElement.scrollWidth, iw = window.innerWidth;
			if (w <= iw) return "";
			var out = [];
			document.querySelectorAll("body *").forEach(function (e) {
				var r = e.getBoundingClientRect();
				if (r.right > iw + 1 && out.length < 5) out.push((e.id ? "#" + e.id : e.tagName.toLowerCase() + "." + e.className) + " ends at " + Math.round(r.right));
			});
			return w + " px wide: " + out.join(", ");
		})()`))
		if err != nil || wide != "" {
			t.Errorf("%s at 390 px scrolls sideways: %s %v", p, wide, err)
		}
		apptest.Shot(t, agent, "narrow"+strings.ReplaceAll(p, "/", "-"))
		if v := axeViolations(t, agent, axe); len(v) > 0 {
			t.Errorf("%s at 390 px:\n  %s", p, strings.Join(v, "\n  "))
		}
	}
}

// contrast is the WCAG contrast ratio of two CSS colours "rgb(r, g, b)".
func contrast(a, b string) float64 {
	lum := func(c string) float64 {
		var r, g, bl float64
		c = strings.NewReplacer(" ", "", "rgba(", "", "rgb(", "", ")", "").Replace(c)
		fmt.Sscanf(c, "%f,%f,%f", &r, &g, &bl)
		ch := func(v float64) float64 {
			v /= 255
			if v <= 0.03928 {
				return v / 12.92
			}
			return math.Pow((v+0.055)/1.055, 2.4)
		}
		return 0.2126*ch(r) + 0.7152*ch(g) + 0.0722*ch(bl)
	}
	x, y := lum(a), lum(b)
	if x < y {
		x, y = y, x
	}
	return (x + 0.05) / (y + 0.05)
}
