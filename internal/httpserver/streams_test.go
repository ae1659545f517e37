package httpserver_test

import (
	"bufio"
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"parley/internal/conversation"
	"parley/internal/sandbox"
)

// sseEvent is one server-sent event: its name and its data lines joined.
type sseEvent struct{ name, data string }

// pageStream is the event stream a page connects to, as its HTML names it.
func (d *demo) pageStream(t *testing.T, path string) string {
	t.Helper()
	status, page := d.env.Get(t, d.client, path)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d", path, status)
	}
	m := regexp.MustCompile(`sse-connect="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("%s names no event stream", path)
	}
	return html.UnescapeString(m[1])
}

// connect opens an event stream and returns its events as they come.
func (d *demo) connect(t *testing.T, stream string) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.env.URL+stream, nil)
	resp, err := d.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", stream, resp.StatusCode)
	}
	events := make(chan sseEvent, 64)
	go func() {
		defer resp.Body.Close()
		defer close(events)
		lines := bufio.NewScanner(resp.Body)
		lines.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for lines.Scan() {
			switch l := lines.Text(); {
			case l == "":
				if ev.name != "" {
					events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(l, "event: "):
				ev.name = l[len("event: "):]
			case strings.HasPrefix(l, "data: "):
				ev.data += l[len("data: "):] + "\n"
			}
		}
	}()
	return events
}

// until reads events up to the first named name (included), or fails.
func until(t *testing.T, events <-chan sseEvent, name string) []sseEvent {
	t.Helper()
	var got []sseEvent
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("the stream ended before %q; got %v", name, names(got))
			}
			got = append(got, ev)
			if ev.name == name {
				return got
			}
		case <-timeout:
			t.Fatalf("no %q event; got %v", name, names(got))
		}
	}
}

// ends waits for a stream to end (why: what ended it), failing if it
// sends a chat row or a message first, or stays open.
func ends(t *testing.T, events <-chan sseEvent, why string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, open := <-events:
			if !open {
				return
			}
			if ev.name == "row" || ev.name == "msg" {
				t.Fatalf("%s, the stream sent %s", why, ev.name)
			}
		case <-timeout:
			t.Fatalf("%s, the stream is still open", why)
		}
	}
}

func names(evs []sseEvent) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.name)
	}
	return out
}

func named(evs []sseEvent, name string) []sseEvent {
	var out []sseEvent
	for _, ev := range evs {
		if ev.name == name {
			out = append(out, ev)
		}
	}
	return out
}

// Issue 21, finding 12, on a case's page: its stream's first events send
// nothing the page already shows; a change made between drawing the page
// and connecting sends the case's header and controls, not its messages;
// a note added later is one new message.
func TestCasePageStreamSendsOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	chat := d.endedCase(t)
	page := "/cases/" + itoa(chat.ID)
	if got := until(t, d.connect(t, d.pageStream(t, page)), "synced"); len(got) != 2 || got[0].name != "indicator" {
		t.Fatalf("a page drawn just now got %v before synced, want the indicator alone", names(got))
	}

	drawn := d.pageStream(t, page)
	if status, _, body := d.env.Post(t, d.client, page+"/status", url.Values{"status": {"pending"}}); status != http.StatusSeeOther {
		t.Fatalf("set the status: %d %s", status, body)
	}
	events := d.connect(t, drawn)
	got := until(t, events, "synced")
	if head := named(got, "casehead"); len(head) != 1 || !strings.Contains(head[0].data, "pending") {
		t.Fatalf("the status changed after the page was drawn; its stream sent %v, want the case's header with pending", names(got))
	}
	if len(named(got, "casecontrols")) != 1 {
		t.Fatalf("the stream sent %v, want the controls", names(got))
	}
	for _, m := range named(got, "msg") {
		if strings.Contains(m.data, "Where is my order?") {
			t.Fatalf("the stream sent the message the page drew again: %s", m.data)
		}
	}

	if status, _, body := d.env.Post(t, d.client, page+"/note", url.Values{"note": {"Parcel found at the depot"}}); status != http.StatusSeeOther {
		t.Fatalf("add a note: %d %s", status, body)
	}
	got = until(t, events, "msg")
	if msg := got[len(got)-1].data; !strings.Contains(msg, "Parcel found at the depot") || strings.Contains(msg, "Where is my order?") {
		t.Fatalf("the note's event: %s", msg)
	}
}

// Issue 21, deliver 5: a reply's delivery status that changes between
// drawing the chats page and its stream connecting reaches the page with
// the stream's first events.
func TestChatPageStreamSendsStatusChangedBeforeConnecting(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.sim.SetFaults(sandbox.TwilioFaults{CallbackLossRate: 1})
	d.customerWrites(t, "+15557654321", "Hello?")
	chat := d.liveChats(t)[0]
	if status, _ := d.reply(t, chat.ID, "Hello, how can I help?", "status-before-connect", nil, ""); status != http.StatusOK {
		t.Fatal(status)
	}
	reply := waitForOutgoing(t, d, chat.ID, "the reply to be sent", func(m conversation.Message) bool { return m.ProviderMessageID != nil })
	if reply.Status == "delivered" {
		t.Fatal("the reply is delivered with its callbacks lost")
	}
	page := "/chats/" + itoa(chat.ID)
	if got := until(t, d.connect(t, d.pageStream(t, page)), "synced"); len(named(got, "msg")) != 0 {
		t.Fatalf("a page drawn just now got %v before synced, want no message", names(got))
	}

	drawn := d.pageStream(t, page)
	sent := d.sim.Sent(sandbox.DemoTwilioAccountSID)[0]
	d.postTwilio(t, url.Values{
		"MessageSid": {sent.Sid}, "SmsSid": {sent.Sid}, "MessageStatus": {"delivered"}, "SmsStatus": {"delivered"},
		"AccountSid": {sandbox.DemoTwilioAccountSID}, "From": {sent.Params.Get("From")}, "To": {sent.Params.Get("To")},
		"ChannelPrefix": {"whatsapp"}, "ApiVersion": {"2010-04-01"}, "EventType": {"DELIVERED"},
	})
	waitForOutgoing(t, d, chat.ID, "the reply to be delivered", func(m conversation.Message) bool { return m.Status == "delivered" })
	got := until(t, d.connect(t, drawn), "synced")
	found := false
	for _, ev := range named(got, "msg") {
		found = found || strings.Contains(ev.data, `id="m-`+itoa(reply.ID)+`"`) && strings.Contains(ev.data, "delivered")
	}
	if !found {
		t.Fatalf("the reply was delivered after the page was drawn (%s); its stream sent %v, want the reply again", drawn, names(got))
	}
}

// A change of who sees what reaches open pages at once: Bob, taken out of
// the group whose chat he has in his list, no longer has it there nor in
// his indicator; deactivated, his open page's stream ends.
func TestStreamFollowsGroupsAndDeactivation(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	bob := d.addAgent(t, "Bob Agent", "bob@demo.test", "bobs long password")
	d.customerWrites(t, "+15557654321", "Hello?")
	chat := d.liveChats(t)[0]
	bobs := &demo{env: d.env, client: d.env.Client()}
	if status, _, _ := d.env.Post(t, bobs.client, "/login", url.Values{"email": {"bob@demo.test"}, "password": {"bobs long password"}}); status != http.StatusSeeOther {
		t.Fatalf("Bob signs in: %d", status)
	}
	events := bobs.connect(t, bobs.pageStream(t, "/chats"))
	until(t, events, "synced")

	ctx := context.Background()
	g, err := d.env.App.Tenants.Group(ctx, d.admin.TenantID, chat.GroupID)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.env.App.Tenants.UpdateGroup(ctx, d.admin.TenantID, g.ID, g.Name, []int64{d.admin.ID}); err != nil {
		t.Fatal(err)
	}
	got := until(t, events, "synced")
	list, indicator := named(got, "chats"), named(got, "indicator")
	if len(list) != 1 || strings.Contains(list[0].data, `id="row-`+itoa(chat.ID)+`"`) {
		t.Fatalf("out of the group, Bob's stream sent %v; want the list without the group's chat", names(got))
	}
	if len(indicator) != 1 || !strings.Contains(indicator[0].data, `data-count="0"`) {
		t.Fatalf("out of the group, Bob's indicator: %v", indicator)
	}

	if err := d.env.App.Tenants.SetAgentActive(ctx, d.admin.TenantID, d.admin.ID, bob.ID, false); err != nil {
		t.Fatal(err)
	}
	ends(t, events, "Bob deactivated")
}

// An agent who signs out in one browser stops that browser's other pages
// at once: their streams end. Their session in another browser goes on.
func TestSigningOutEndsTheSessionsStreams(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.addAgent(t, "Bob Agent", "bob@demo.test", "bobs long password")
	signIn := func() *demo {
		b := &demo{env: d.env, client: d.env.Client()}
		if status, _, _ := d.env.Post(t, b.client, "/login", url.Values{"email": {"bob@demo.test"}, "password": {"bobs long password"}}); status != http.StatusSeeOther {
			t.Fatalf("Bob signs in: %d", status)
		}
		return b
	}
	office, home := signIn(), signIn()
	officeTab, homeTab := office.connect(t, office.pageStream(t, "/chats")), home.connect(t, home.pageStream(t, "/chats"))
	until(t, officeTab, "synced")
	until(t, homeTab, "synced")
	if status, _, _ := d.env.Post(t, office.client, "/logout", nil); status != http.StatusSeeOther {
		t.Fatalf("Bob signs out at the office: %d", status)
	}
	ends(t, officeTab, "Bob signed out at the office")
	d.customerWrites(t, "+15557654321", "Hello?")
	if got := until(t, homeTab, "row"); !strings.Contains(got[len(got)-1].data, "Hello?") {
		t.Fatalf("the home session's stream: %v", names(got))
	}
}
