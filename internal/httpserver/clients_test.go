package httpserver_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestClientsSearchAndProfileHistory(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557654321", "first chat")
	d.customerWrites(t, "+4930123456", "hallo")
	for _, q := range []string{"+1 (555) 765-4321", "15557654321", "765-4321"} {
		status, body := d.env.Get(t, d.client, "/clients?"+url.Values{"q": {q}}.Encode())
		if status != http.StatusOK || !strings.Contains(body, "+15557654321") || strings.Contains(body, "+4930123456") {
			t.Errorf("search %q: %d, want only the matching client", q, status)
		}
	}
	if _, body := d.env.Get(t, d.client, "/clients?q=nobody"); !strings.Contains(body, "No clients found.") {
		t.Error("a search for nobody found someone")
	}
	chat := d.liveChats(t)[0]
	status, body := d.env.Get(t, d.client, fmt.Sprintf("/clients/%d", chat.ClientID))
	if status != http.StatusOK || !strings.Contains(body, "whatsapp") || !strings.Contains(body, fmt.Sprintf("#%d", chat.Number)) {
		t.Fatalf("profile: %d", status)
	}
}

// newClient inserts a client the way a telephony channel or an agent
// would have made it.
func (d *demo) newClient(t *testing.T, name, phone string) int64 {
	t.Helper()
	var id int64
	err := d.env.App.DB.InTenant(t.Context(), d.admin.TenantID, func(tx pgx.Tx) error {
		return tx.QueryRow(t.Context(), `INSERT INTO clients (tenant_id, name, phone, created_channel) VALUES (current_tenant(), $1, nullif($2, ''), 'phone') RETURNING id`, name, phone).Scan(&id)
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Agents edit a profile in place: the email is checked, numbers are read
// in the tenant's default country and kept in E.164, very long values are
// refused; a number another profile has brings the merge offer, and a
// WhatsApp number another profile has is refused with it.
func TestClientFieldsEditedInPlace(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557654321", "Hi")
	casey := d.liveChats(t)[0].ClientID
	pat := d.newClient(t, "Pat", "")
	path := "/clients/" + itoa(pat)
	form := func(kv ...string) url.Values {
		f := url.Values{"name": {"Pat"}}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	for _, tt := range []struct {
		form url.Values
		want string
	}{
		{form("email", "pat@"), "not an email address"},
		{form("phone", "call me"), "not a phone number"},
		{form("whatsapp", "12"), "not a phone number"},
		{form("name", ""), "Give the client a name."},
		{form("name", strings.Repeat("n", 201)), "at most 200 characters"},
		{form("notes", strings.Repeat("n", 10001)), "at most 10,000 characters"},
		{form("whatsapp", "+1 555 765 4321"), "Casey Customer, has this WhatsApp number"},
	} {
		status, _, body := d.env.Post(t, d.client, path, tt.form)
		if status != http.StatusUnprocessableEntity || !strings.Contains(body, tt.want) {
			t.Errorf("%v: %d, want 422 with %q", tt.form, status, tt.want)
		}
	}
	if n := d.count(t, `SELECT count(*) FROM clients WHERE name = 'Pat' AND phone IS NULL AND whatsapp IS NULL AND email IS NULL`); n != 1 {
		t.Fatal("a refused edit changed the profile")
	}

	// Numbers typed without a country code are read in the tenant's country.
	if status, _, _ := d.env.Post(t, d.client, "/settings/clients", url.Values{"default_country": {"DE"}}); status != http.StatusSeeOther {
		t.Fatalf("default country: %d", status)
	}
	status, loc, _ := d.env.Post(t, d.client, path, form("phone", "030 1234567", "email", "pat@example.com", "notes", "Prefers calls"))
	if status != http.StatusSeeOther || strings.Contains(loc, "dup=") {
		t.Fatalf("save: %d %s", status, loc)
	}
	if n := d.count(t, `SELECT count(*) FROM clients WHERE phone = '+49301234567' AND email = 'pat@example.com' AND notes = 'Prefers calls'`); n != 1 {
		t.Fatal("the edit was not saved in E.164")
	}
	// Casey's number as Pat's phone: saved, and the merge offer names Casey.
	status, loc, _ = d.env.Post(t, d.client, path, form("phone", "+1 (555) 765-4321"))
	if status != http.StatusSeeOther || !strings.Contains(loc, "dup="+itoa(casey)) {
		t.Fatalf("save a number Casey has: %d %s", status, loc)
	}
	_, page := d.env.Get(t, d.client, loc)
	if !strings.Contains(page, "Another profile has the same number") || !strings.Contains(page, "/clients/"+itoa(pat)+"/merge/"+itoa(casey)) {
		t.Errorf("no merge offer on the profile")
	}
	if status, _, _ := d.env.Post(t, d.client, "/settings/clients", url.Values{"default_country": {"XX"}}); status != http.StatusUnprocessableEntity {
		t.Errorf("an unknown country: %d", status)
	}
}

// An incoming WhatsApp message is matched by WhatsApp number first, then
// by phone number (the client gets the WhatsApp field and the chat joins
// their history), and only then creates a client.
func TestInboundMatchesWhatsAppThenPhone(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	pat := d.newClient(t, "Pat Phone", "+15557654321")
	d.customerWrites(t, "+15557654321", "Hi, Pat here on WhatsApp")
	chat := d.liveChats(t)[0]
	if chat.ClientID != pat {
		t.Fatalf("the chat went to client %d, want Pat (%d)", chat.ClientID, pat)
	}
	if n := d.count(t, `SELECT count(*) FROM clients`); n != 1 {
		t.Fatalf("%d clients, want Pat only", n)
	}
	if n := d.count(t, `SELECT count(*) FROM clients WHERE whatsapp = '+15557654321' AND phone = '+15557654321' AND name = 'Pat Phone'`); n != 1 {
		t.Fatal("Pat did not get the WhatsApp field")
	}
	// Another number: a new client.
	d.customerWrites(t, "+15557654322", "Someone new")
	if n := d.count(t, `SELECT count(*) FROM clients`); n != 2 {
		t.Fatalf("%d clients after a new number", n)
	}
}

// "Merge with…": search, pick, confirm with a choice for each conflicting
// field. Merging a profile into itself, or one another agent has just
// merged away, is refused in words and changes nothing.
func TestManualMerge(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557654321", "Hi")
	casey := d.liveChats(t)[0].ClientID
	pat := d.newClient(t, "Pat", "+15550009999")
	path := "/clients/" + itoa(pat)

	_, page := d.env.Get(t, d.client, path+"?merge_q=casey")
	if !strings.Contains(page, path+"/merge/"+itoa(casey)) {
		t.Fatal("the search does not offer Casey")
	}
	_, confirm := d.env.Get(t, d.client, path+"/merge/"+itoa(casey))
	if !strings.Contains(confirm, `name="choose_name"`) || !strings.Contains(confirm, "Casey Customer") {
		t.Fatalf("confirm page lacks the name choice")
	}
	if status, _, body := d.env.Post(t, d.client, path+"/merge/"+itoa(casey), nil); status != http.StatusUnprocessableEntity || !strings.Contains(body, "choose") {
		t.Fatalf("merge without choosing the name: %d", status)
	}
	if status, _, body := d.env.Post(t, d.client, path+"/merge/"+itoa(pat), nil); status < 400 || !strings.Contains(body, "itself") {
		t.Fatalf("merge into itself: %d", status)
	}
	if status, loc, _ := d.env.Post(t, d.client, path+"/merge/"+itoa(casey), url.Values{"choose_name": {"merged"}}); status != http.StatusSeeOther || loc != path {
		t.Fatalf("merge: %d %s", status, loc)
	}
	if n := d.count(t, `SELECT count(*) FROM clients WHERE id = `+itoa(pat)+` AND name = 'Casey Customer' AND whatsapp = '+15557654321' AND phone = '+15550009999'`); n != 1 {
		t.Fatal("the fields were not combined with the chosen name")
	}
	if n := d.count(t, `SELECT count(*) FROM cases WHERE client_id = `+itoa(pat)); n != 1 {
		t.Fatal("Casey's chat did not move")
	}
	// A second agent's stale confirm page: Casey is gone.
	if status, _, body := d.env.Post(t, d.client, path+"/merge/"+itoa(casey), url.Values{"choose_name": {"merged"}}); status != http.StatusConflict || !strings.Contains(body, "just merged") {
		t.Fatalf("merging a merged-away profile: %d", status)
	}
	if status, _, _ := d.env.Post(t, d.client, "/clients/"+itoa(casey), url.Values{"name": {"Edit the gone one"}}); status != http.StatusNotFound {
		t.Errorf("editing a merged-away profile: %d", status)
	}
	// A new message from Casey's WhatsApp lands in the merged profile.
	d.customerWrites(t, "+15557654321", "Still me")
	if n := d.count(t, `SELECT count(*) FROM clients`); n != 2 {
		t.Errorf("%d clients after Casey wrote again, want the 2 (one merged away)", n)
	}
	if n := d.count(t, `SELECT count(*) FROM messages m JOIN cases c ON c.id = m.case_id WHERE c.client_id = `+itoa(pat)+` AND m.body = 'Still me'`); n != 1 {
		t.Error("Casey's new message is not in the merged profile")
	}
}

// The merge offer stands on the client's page whenever another profile
// shares a number with it — on a plain load, after a reload — and the
// merge speaks in words: field names, "1 case moved".
func TestMergeOfferStandsAndSpeaksPlainly(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557654399", "Hi")
	casey := d.liveChats(t)[0].ClientID
	pat := d.newClient(t, "Pat", "+15557654399")
	offer := "/clients/" + itoa(pat) + "/merge/" + itoa(casey)
	for range 2 {
		if _, page := d.env.Get(t, d.client, "/clients/"+itoa(pat)); !strings.Contains(page, "Another profile has the same number") || !strings.Contains(page, offer) {
			t.Fatalf("Pat's page offers no merge with Casey:\n%s", page)
		}
	}
	if _, page := d.env.Get(t, d.client, "/clients/"+itoa(casey)); !strings.Contains(page, "/clients/"+itoa(casey)+"/merge/"+itoa(pat)) {
		t.Errorf("Casey's page offers no merge with Pat")
	}
	_, confirm := d.env.Get(t, d.client, offer)
	if !strings.Contains(confirm, "Name: which one to keep?") || strings.Contains(confirm, "name: which") {
		t.Errorf("the merge page names the field:\n%s", confirm)
	}
	if status, _, body := d.env.Post(t, d.client, offer, url.Values{"choose_name": {"merged"}}); status != http.StatusSeeOther {
		t.Fatalf("merge: %d\n%s", status, body)
	}
	_, page := d.env.Get(t, d.client, "/clients/"+itoa(pat))
	if !strings.Contains(page, "1 case moved") || strings.Contains(page, "1 cases") {
		t.Errorf("after the merge the page says:\n%s", page)
	}
	if strings.Contains(page, "Another profile has the same number") {
		t.Errorf("after the merge the offer is still there")
	}
	if strings.Contains(page, ">whatsapp ·") || !strings.Contains(page, "WhatsApp ·") {
		t.Errorf("the history names the channel by its key:\n%s", page)
	}
}
