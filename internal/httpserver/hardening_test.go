package httpserver_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"parley/internal/app/apptest"
	"parley/internal/clock"
	"parley/internal/config"
	"parley/internal/sandbox"
)

// postFrom posts a form as if from the client address ip (the server
// trusts X-Forwarded-For in these tests, as behind a proxy) and returns
// the status, the Retry-After header and the body.
func postFrom(t *testing.T, env *apptest.Env, c *http.Client, ip, path string, form url.Values) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, env.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", ip)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
}

func behindProxy(c *config.Config) { c.TrustProxyHeaders = true }

// Wrong passwords slow further attempts from that address for that email,
// more with each one, but lock nothing: the agent signs in from their own
// address at once, and from the guessing address once the wait is over
// (issue 22: 10 wrong passwords a minute kept the right one out).
func TestLoginSlowsGuessesWithoutLockingOut(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Now())
	env := apptest.Start(t, apptest.Options{Clock: clk, Configure: behindProxy})
	env.SignUp(t, "Acme", "ada@acme.test")
	const attacker, ada = "203.0.113.5", "198.51.100.7"
	wrong := url.Values{"email": {"ada@acme.test"}, "password": {"guess guess guess"}}
	right := url.Values{"email": {"ADA@acme.test "}, "password": {"long enough password"}}
	for i := range 5 {
		if status, _, body := postFrom(t, env, env.Client(), attacker, "/login", wrong); status != http.StatusUnauthorized || !strings.Contains(body, "The email or password is wrong") {
			t.Fatalf("wrong password %d: %d", i+1, status)
		}
	}
	// Waits of 1, 2, 4, 8 s: an attempt before the wait is over is refused
	// unread, even with the right password; the wait grows per failure.
	for _, wait := range []int{1, 2, 4, 8} {
		status, retry, body := postFrom(t, env, env.Client(), attacker, "/login", right)
		unit := "seconds"
		if wait == 1 {
			unit = "second"
		}
		if status != http.StatusTooManyRequests || retry != fmt.Sprint(wait) || !strings.Contains(body, fmt.Sprintf("Try again in %d %s.", wait, unit)) {
			t.Fatalf("during a %d s wait: %d, Retry-After %q", wait, status, retry)
		}
		clk.Advance(time.Duration(wait) * time.Second)
		if status, _, _ := postFrom(t, env, env.Client(), attacker, "/login", wrong); status != http.StatusUnauthorized {
			t.Fatalf("after the %d s wait: %d", wait, status)
		}
	}
	// The agent, from their own address, is not slowed at all.
	if status, _, _ := postFrom(t, env, env.Client(), ada, "/login", right); status != http.StatusSeeOther {
		t.Fatalf("the right password from the agent's address: %d", status)
	}
	// Another email from the guessing address is not slowed either.
	if status, _, _ := postFrom(t, env, env.Client(), attacker, "/login", url.Values{"email": {"bob@acme.test"}, "password": {"x"}}); status != http.StatusUnauthorized {
		t.Fatalf("another email from the guessing address: %d", status)
	}
	// After the wait, the right password works from the guessing address
	// too, and clears the count.
	clk.Advance(16 * time.Second)
	if status, _, _ := postFrom(t, env, env.Client(), attacker, "/login", right); status != http.StatusSeeOther {
		t.Fatalf("the right password after the wait: %d", status)
	}
	if status, _, _ := postFrom(t, env, env.Client(), attacker, "/login", wrong); status != http.StatusUnauthorized {
		t.Fatalf("a wrong password after a sign-in counts from zero: %d", status)
	}
}

// Two replicas behind one load balancer count the same guesses: five
// wrong passwords on one make the next attempt on the other wait, and
// sign-ups from one address count on both.
func TestReplicasShareTheThrottles(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Now())
	one := apptest.Start(t, apptest.Options{Clock: clk, Configure: behindProxy})
	two := apptest.Start(t, apptest.Options{Clock: clk, Configure: behindProxy, DBURL: one.DBURL})
	one.SignUp(t, "Acme", "ada@acme.test")
	const attacker = "203.0.113.5"
	wrong := url.Values{"email": {"ada@acme.test"}, "password": {"guess guess guess"}}
	right := url.Values{"email": {"ada@acme.test"}, "password": {"long enough password"}}
	for i := range 5 {
		if status, _, _ := postFrom(t, one, one.Client(), attacker, "/login", wrong); status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d on replica one: %d", i+1, status)
		}
	}
	if status, retry, _ := postFrom(t, two, two.Client(), attacker, "/login", right); status != http.StatusTooManyRequests || retry != "1" {
		t.Fatalf("replica two after five wrong passwords on replica one: %d, Retry-After %q; want 429 and 1 s", status, retry)
	}
	clk.Advance(time.Second)
	if status, _, _ := postFrom(t, two, two.Client(), attacker, "/login", right); status != http.StatusSeeOther {
		t.Fatalf("replica two after the wait: %d", status)
	}

	signUp := func(env *apptest.Env, i int) int {
		status, _, _ := postFrom(t, env, env.Client(), "203.0.113.9", "/signup", url.Values{
			"company": {fmt.Sprintf("Spam %d", i)}, "name": {"Spam"}, "email": {fmt.Sprintf("spam%d@spam.test", i)}, "password": {"long enough password"}})
		return status
	}
	for i := range 10 { // 10 an hour from one address
		env := one
		if i%2 == 1 {
			env = two
		}
		if status := signUp(env, i); status != http.StatusOK {
			t.Fatalf("sign-up %d: %d", i+1, status)
		}
	}
	for _, env := range []*apptest.Env{one, two} {
		if status := signUp(env, 99); status != http.StatusTooManyRequests {
			t.Fatalf("the 11th sign-up from one address, on %s: %d, want 429", env.URL, status)
		}
	}
}

// 1,000 sign-ups from one address in a minute create 10 companies; the
// rest are told to wait and create nothing. Another address signs up.
func TestSignUpIsLimitedPerAddress(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{Configure: behindProxy})
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		refusal  string
		wg       sync.WaitGroup
		next     = make(chan int)
	)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				status, retry, body := postFrom(t, env, env.Client(), "203.0.113.9", "/signup", url.Values{
					"company": {fmt.Sprintf("Spam %d", i)}, "name": {"Spam"}, "email": {fmt.Sprintf("spam%d@spam.test", i)}, "password": {"long enough password"}})
				mu.Lock()
				statuses[status]++
				if status == http.StatusTooManyRequests && retry == "3600" {
					refusal = body
				}
				mu.Unlock()
			}
		})
	}
	for i := range 1000 {
		next <- i
	}
	close(next)
	wg.Wait()
	if statuses[http.StatusOK] != 10 || statuses[http.StatusTooManyRequests] != 990 || !strings.Contains(refusal, "Too many sign-ups from your address. Try again in an hour.") {
		t.Fatalf("1,000 sign-ups from one address: %v", statuses)
	}
	// Who can sign in, asked as the login form asks (the serving role sees
	// no tenant's rows outside a tenant's transaction).
	var n int
	if err := env.App.DB.InSystem(t.Context(), func(tx pgx.Tx) error {
		return tx.QueryRow(t.Context(), `SELECT count(*) FROM generate_series(0, 999) i, login_lookup('spam' || i || '@spam.test')`).Scan(&n)
	}); err != nil || n != 10 {
		t.Fatalf("%d accounts (%v), want 10", n, err)
	}
	if status, _, _ := postFrom(t, env, env.Client(), "198.51.100.20", "/signup", url.Values{
		"company": {"Real"}, "name": {"Rita"}, "email": {"rita@real.test"}, "password": {"long enough password"}}); status != http.StatusOK {
		t.Fatalf("a sign-up from another address: %d", status)
	}
}

// A 1msg item over WhatsApp's 4,096 characters, or over the size an item
// may have, is left out; the other items of the batch are stored
// (issue 22: a 5 MB text was stored and made a 5.5 MB page).
func TestOneMsgTextAndItemLimits(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	item := func(id, body string) map[string]any {
		return map[string]any{"id": id, "body": body, "fromMe": false, "self": 0, "time": 1700000000,
			"chatId": "15558000001@c.us", "type": "chat", "senderName": "Big"}
	}
	limit := strings.Repeat("é", 4096)
	items := []map[string]any{
		item("at-limit", limit),
		item("over-limit", limit+"é"),
		item("five-mb", strings.Repeat("x", 5<<20)),
	}
	big := item("big-item", "hi")
	big["senderName"] = strings.Repeat("n", 70<<10)
	items = append(items, big)
	b, _ := json.Marshal(map[string]any{"instanceId": sandbox.DemoOneMsgInstance, "messages": items})
	if status, body := d.post1msg(t, string(b)); status != http.StatusOK {
		t.Fatalf("the batch: %d %s", status, body)
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE direction = 'in'`); n != 1 {
		t.Fatalf("%d messages stored, want only the one at the limit", n)
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE provider_message_id = 'at-limit' AND length(body) = 4096`); n != 1 {
		t.Fatal("the 4,096-character text is not stored whole")
	}
	// The chat page stays small.
	chat := d.chatOn(t, d.om.ID)
	if status, body := d.env.Get(t, d.client, fmt.Sprintf("/chats/%d", chat.ID)); status != http.StatusOK || len(body) > 200<<10 {
		t.Fatalf("chat page: %d, %d bytes", status, len(body))
	}
}

// /static/ lists nothing; its files are served.
func TestStaticHasNoDirectoryListing(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	c := env.Client()
	for _, p := range []string{"/static/", "/static", "/static/.", "/static/../static/"} {
		if status, body := env.Get(t, c, p); status != http.StatusNotFound || strings.Contains(body, `href="app.css"`) || strings.Contains(body, "<pre>") {
			t.Errorf("%s: %d\n%.300s", p, status, body)
		}
	}
	if status, _ := env.Get(t, c, "/static/app.css"); status != http.StatusOK {
		t.Errorf("/static/app.css: %d", status)
	}
}

// HSTS is sent when the public base URL is https, and not on plain http.
func TestHSTSWhenTheBaseURLIsHTTPS(t *testing.T) {
	t.Parallel()
	hsts := func(env *apptest.Env) string {
		resp, err := env.Client().Get(env.URL + "/login")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Strict-Transport-Security")
	}
	if h := hsts(apptest.Start(t, apptest.Options{})); h != "" {
		t.Errorf("an http server sends HSTS: %q", h)
	}
	env := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) { c.BaseURL = "https://help.example.com" }})
	if h := hsts(env); h != "max-age=31536000" {
		t.Errorf("an https server sends HSTS %q", h)
	}
}

// Origin is compared by scheme and host: "https://host" is another origin
// for an http server (issue 22: it was accepted), as "http://host" is for
// an https one.
func TestOriginIsComparedBySchemeAndHost(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	c := env.SignUp(t, "Acme", "ada@acme.test")
	host := strings.TrimPrefix(env.URL, "http://")
	post := func(origin, name string) int {
		req, _ := http.NewRequest(http.MethodPost, env.URL+"/settings/groups", strings.NewReader("name="+name))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, o := range []string{"https://" + host, "null", "http://" + host + ".evil.example", "http://evil.example"} {
		if status := post(o, "Forged"); status != http.StatusForbidden {
			t.Errorf("Origin %s: %d, want 403", o, status)
		}
	}
	if _, body := env.Get(t, c, "/settings/groups"); strings.Contains(body, "Forged") {
		t.Error("a cross-origin POST created a group")
	}
	if status := post("http://"+host, "Same"); status != http.StatusSeeOther {
		t.Errorf("same origin: %d", status)
	}
	if _, body := env.Get(t, c, "/settings/groups"); !strings.Contains(body, "Same") {
		t.Error("the same-origin POST created no group")
	}
}

// A sent file's public link is signed and works for 7 days (the default
// of PARLEY_MEDIA_LINK_TTL); after that, or with its expiry changed, it
// is not found (issue 22: public media links never expired).
func TestPublicMediaLinksExpire(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Now())
	d := demoOf(t, apptest.Start(t, apptest.Options{Sandbox: true, Clock: clk}))
	d.customerWrites(t, "+15557654321", "send me the receipt")
	chat := d.liveChats(t)[0]
	if status, body := d.reply(t, chat.ID, "", "key-pdf", []byte(receiptPDF), "receipt.pdf"); status != http.StatusOK {
		t.Fatalf("reply with a file: %d\n%.300s", status, body)
	}
	var link string
	eventually(t, "the file to be sent", func() bool {
		sent := d.sim.Sent(sandbox.DemoTwilioAccountSID)
		if len(sent) == 1 {
			link = sent[0].Params.Get("MediaUrl")
		}
		return link != ""
	})
	get := func(u string) int {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	u, _ := url.Parse(link)
	token := strings.Split(u.Path, "/")[3]
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("the link %s is not signed", link)
	}
	moved := strings.Replace(link, "."+parts[1]+".", ".zzzzzz.", 1)
	clk.Advance(7*24*time.Hour - time.Minute)
	if status := get(link); status != http.StatusOK {
		t.Fatalf("the link within 7 days: %d", status)
	}
	if status := get(moved); status != http.StatusNotFound {
		t.Fatalf("the link with its expiry moved: %d", status)
	}
	if status := get(strings.Replace(link, token, parts[0], 1)); status != http.StatusNotFound {
		t.Fatalf("the unsigned token: %d", status)
	}
	clk.Advance(time.Minute)
	if status := get(link); status != http.StatusNotFound {
		t.Fatalf("the link after 7 days: %d", status)
	}
}
