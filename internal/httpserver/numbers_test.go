package httpserver_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"parley/internal/client"
	"parley/internal/sandbox"
)

// Clients by hand, and clients with several numbers: an agent adds a
// client; adding another with a number the first has creates no second
// client but offers to add the details to the first (a merge), which
// keeps both WhatsApp numbers; a message from the second number lands on
// the client and the reply goes to that number; undoing the merge gives
// the number back, and its next message is that profile's again.
func TestClientsByHandWithSeveralNumbers(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	if _, page := d.env.Get(t, d.client, "/clients"); !strings.Contains(page, `href="/clients/new"`) {
		t.Fatal("the clients page offers no way to add a client")
	}
	status, loc, body := d.env.Post(t, d.client, "/clients/new", url.Values{"name": {"Robin Hand"}, "whatsapp": {"+1 555 010 1010"}, "email": {"robin@example.test"}})
	if status != http.StatusSeeOther {
		t.Fatalf("add client: %d\n%.500s", status, body)
	}
	robin := regexp.MustCompile(`^/clients/(\d+)`).FindStringSubmatch(loc)[1]
	if _, page := d.env.Get(t, d.client, loc); !strings.Contains(page, "Robin Hand") || !strings.Contains(page, "+15550101010") || !strings.Contains(page, "Created from Parley (added by hand)") {
		t.Fatalf("the new client's page:\n%.800s", page)
	}
	clients := d.count(t, `SELECT count(*) FROM clients`)

	// Bad input changes nothing.
	if status, _, body := d.env.Post(t, d.client, "/clients/new", url.Values{"name": {""}, "whatsapp": {"12"}}); status != http.StatusUnprocessableEntity || !strings.Contains(body, "Give the client a name") || !strings.Contains(body, "This is not a phone number") {
		t.Fatalf("a bad form: %d", status)
	}
	// Robin's WhatsApp number typed as the phone of a "new" client: the
	// merge offer, not a second client.
	second := url.Values{"name": {"Robin at work"}, "phone": {"+15550101010"}, "whatsapp": {"+15550202020"}}
	status, _, body = d.env.Post(t, d.client, "/clients/new", second)
	if status != http.StatusConflict || !strings.Contains(body, client.MsgNumberKnown[:40]) || !strings.Contains(body, "Add these details to Robin Hand") || !strings.Contains(body, `name="into" value="`+robin+`"`) {
		t.Fatalf("a known number: %d\n%.1500s", status, body)
	}
	if n := d.count(t, `SELECT count(*) FROM clients`); n != clients {
		t.Fatalf("%d clients after the refused add, want %d", n, clients)
	}

	second.Set("into", robin)
	status, loc, _ = d.env.Post(t, d.client, "/clients/new", second)
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/clients/"+robin+"?") {
		t.Fatalf("add to Robin: %d %s", status, loc)
	}
	_, page := d.env.Get(t, d.client, loc)
	for _, want := range []string{"Robin Hand", "+15550101010", "More numbers", "+15550202020", "Robin at work", "Undo"} {
		if !strings.Contains(page, want) {
			t.Errorf("Robin's page lacks %q", want)
		}
	}

	if _, list := d.env.Get(t, d.client, "/clients?q=555+020+2020"); !strings.Contains(list, "Robin Hand") {
		t.Error("searching the second number does not find Robin")
	}

	// The second number writes: Robin's chat, and the reply goes there.
	d.customerWrites(t, "+15550202020", "It's Robin, from my work phone")
	chat := d.liveChats(t)[0]
	if itoa(chat.ClientID) != robin {
		t.Fatalf("the message from Robin's second number landed on client %d, not Robin (%s)", chat.ClientID, robin)
	}
	if status, _ := d.reply(t, chat.ID, "Hello Robin", "robin-1", nil, ""); status != http.StatusOK {
		t.Fatalf("reply: %d", status)
	}
	eventually(t, "the reply was sent", func() bool {
		for _, m := range d.sim.Sent(sandbox.DemoTwilioAccountSID) {
			if m.Params.Get("Body") == "Hello Robin" {
				return m.Params.Get("To") == "whatsapp:+15550202020"
			}
		}
		return false
	})

	// Undo: the number goes back with its profile.
	merge := regexp.MustCompile(`/clients/` + robin + `/merges/(\d+)/undo`).FindStringSubmatch(page)[1]
	if status, _, _ := d.env.Post(t, d.client, "/clients/"+robin+"/merges/"+merge+"/undo", nil); status != http.StatusSeeOther {
		t.Fatalf("undo: %d", status)
	}
	cs, _, err := d.env.App.Clients.List(t.Context(), d.admin.TenantID, "Robin at work", 0, 5)
	if err != nil || len(cs) != 1 || cs[0].WhatsApp == nil || *cs[0].WhatsApp != "+15550202020" {
		t.Fatalf("after undo: %+v %v", cs, err)
	}
	work := cs[0].ID
	if _, page := d.env.Get(t, d.client, "/clients/"+robin); strings.Contains(page, "+15550202020") {
		t.Error("Robin's page still lists the number after the undo")
	}
	if status, _, _ := d.env.Post(t, d.client, "/chats/"+itoa(chat.ID)+"/end", url.Values{"status": {"solved"}}); status != http.StatusSeeOther {
		t.Fatalf("end: %d", status)
	}
	d.customerWrites(t, "+15550202020", "Work phone again")
	if got := d.liveChats(t); len(got) != 1 || got[0].ClientID != work {
		t.Fatalf("after the undo the number's message went to %+v, want client %d", got, work)
	}
}
