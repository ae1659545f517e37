package httpserver_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"parley/internal/conversation"
	"parley/internal/sandbox"
)

// A Twilio client who hides their number writes from their business-scoped
// user id: the message opens a chat (it was refused with 400 and lost),
// the client is known by that id, the agent's reply reaches them through
// it, and when they later write with their number too, the number joins
// the same client and chat.
func TestTwilioClientKnownOnlyByUserID(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	const number, bsuid = "+919812345678", "IN.208142536475869"
	if _, err := d.sim.CustomerSends(context.Background(), sandbox.InboundMessage{From: number, To: d.ig.Sender, ProfileName: "Priya",
		Body: "Hi, I saw your catalogue", UserID: bsuid, ParentUserID: "IN.ENT.118157992128868", Username: "priya.s", HideNumber: true}); err != nil {
		t.Fatalf("customer who hides their number: %v", err)
	}
	chat := d.chatOn(t, d.ig.ID)
	if chat.ClientWhatsApp != nil || deref(chat.ClientWhatsAppUserID) != bsuid || deref(chat.ClientWhatsAppUsername) != "priya.s" || chat.ClientName != "Priya" {
		t.Fatalf("chat %+v: want a client known by %s only", chat, bsuid)
	}
	if status, _ := d.reply(t, chat.ID, "Welcome! What caught your eye?", "k1", nil, ""); status != http.StatusOK {
		t.Fatalf("reply: %d", status)
	}
	eventually(t, "the reply on the client's phone", func() bool {
		conv := d.sim.Conversation(sandbox.DemoTwilioSender, number)
		return len(conv) == 2 && conv[1].Body == "Welcome! What caught your eye?" && conv[1].Status != "failed"
	})
	if to := d.sim.Sent(sandbox.DemoTwilioAccountSID)[0].Params.Get("To"); to != "whatsapp:"+bsuid {
		t.Errorf("the reply went to %s, want whatsapp:%s", to, bsuid)
	}

	d.customerWritesAs(t, sandbox.InboundMessage{From: number, Body: "Here is my number too", UserID: bsuid, Username: "priya.s"})
	again := d.chatOn(t, d.ig.ID)
	if again.ID != chat.ID || deref(again.ClientWhatsApp) != number || deref(again.ClientWhatsAppUserID) != bsuid {
		t.Fatalf("chat after the number came: %+v, want chat %d with %s and %s", again, chat.ID, number, bsuid)
	}
	if n := d.count(t, `SELECT count(*) FROM clients`); n != 1 {
		t.Fatalf("%d clients, want the one", n)
	}
}

// The same through 1msg: an @lid chat with authorBsuid is a client known
// by that id (the item was skipped as "@lid chat without a phone number");
// replies go to 1msg with the id as the phone; the number joins later.
func TestOneMsgClientKnownOnlyByUserID(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	const number, bsuid = "+573214445566", "CO.9912387465501234"
	d.customerWrites1msg(t, sandbox.OneMsgInbound{From: number, SenderName: "Valentina", Body: "Hola, vi su anuncio", UserID: bsuid, Username: "valen.r", HideNumber: true})
	chat := d.chatOn(t, d.om.ID)
	if chat.ClientWhatsApp != nil || deref(chat.ClientWhatsAppUserID) != bsuid {
		t.Fatalf("chat %+v: want a client known by %s only", chat, bsuid)
	}
	if status, _ := d.reply(t, chat.ID, "¡Hola Valentina!", "k1", nil, ""); status != http.StatusOK {
		t.Fatalf("reply: %d", status)
	}
	eventually(t, "the reply on the client's phone", func() bool {
		conv := d.omsim.Conversation(sandbox.DemoOneMsgInstance, number)
		return len(conv) == 2 && conv[1].Body == "¡Hola Valentina!"
	})
	d.customerWrites1msg(t, sandbox.OneMsgInbound{From: number, SenderName: "Valentina", Body: "Este es mi número", UserID: bsuid})
	again := d.chatOn(t, d.om.ID)
	if again.ID != chat.ID || deref(again.ClientWhatsApp) != number {
		t.Fatalf("chat after the number came: %+v, want chat %d with %s", again, chat.ID, number)
	}
}

// customerWritesAs sends a Twilio customer's message with every field the
// test sets, to the demo sender.
func (d *demo) customerWritesAs(t *testing.T, in sandbox.InboundMessage) string {
	t.Helper()
	in.To = d.ig.Sender
	if in.ProfileName == "" {
		in.ProfileName = "Casey Customer"
	}
	sid, err := d.sim.CustomerSends(context.Background(), in)
	if err != nil {
		t.Fatalf("customer sends: %v", err)
	}
	return sid
}

// message is the conversation's message with this provider id.
func (d *demo) message(t *testing.T, caseID int64, providerID string) conversation.Message {
	t.Helper()
	for _, m := range d.messages(t, caseID) {
		if m.ProviderMessageID != nil && *m.ProviderMessageID == providerID {
			return m
		}
	}
	t.Fatalf("no message %s in chat %d", providerID, caseID)
	return conversation.Message{}
}

// A swipe-reply shows the message it quotes, an ad's referral stays on
// the chat, a button tap keeps its text and payload, a shared contact is a
// card with its name and numbers.
func TestTwilioQuoteReferralButtonAndContact(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	const client = "+5511987654321"
	first := d.customerWritesAs(t, sandbox.InboundMessage{From: client, Body: "Quero saber mais",
		Referral: &sandbox.AdReferral{Headline: "Tênis Corrida X", Body: "30% off até domingo", SourceURL: "https://fb.me/3xAmPlE9", SourceType: "ad", SourceID: "1202"}})
	chat := d.chatOn(t, d.ig.ID)
	if r := chat.Referral; r == nil || r.Headline != "Tênis Corrida X" || r.Body != "30% off até domingo" || r.SourceURL != "https://fb.me/3xAmPlE9" || r.SourceType != "ad" {
		t.Fatalf("chat referral %+v", chat.Referral)
	}
	quote := d.customerWritesAs(t, sandbox.InboundMessage{From: client, Body: "Tem no tamanho 42?", QuotedSid: first})
	if m := d.message(t, chat.ID, quote); m.Meta.QuotedID != first || deref(m.QuotedBody) != "Quero saber mais" {
		t.Fatalf("swipe-reply %+v quotes %q", m.Meta, deref(m.QuotedBody))
	}
	tap := d.customerWritesAs(t, sandbox.InboundMessage{From: client, ButtonText: "Sim", ButtonPayload: "YES_42"})
	if m := d.message(t, chat.ID, tap); m.Meta.ButtonText != "Sim" || m.Meta.ButtonPayload != "YES_42" {
		t.Fatalf("button tap %+v", m.Meta)
	}
	card := d.customerWritesAs(t, sandbox.InboundMessage{From: client, Media: []sandbox.MediaFile{{ContentType: "text/vcard",
		Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Budi Santoso\r\nTEL;type=CELL:+62 812-3456-7890\r\nEND:VCARD\r\n")}}})
	eventually(t, "the contact card", func() bool {
		m := d.message(t, chat.ID, card)
		return m.Kind == "contact" && len(m.Meta.Contacts) == 1 && m.Meta.Contacts[0].Name == "Budi Santoso" &&
			len(m.Meta.Contacts[0].Phones) == 1 && m.Meta.Contacts[0].Phones[0] == "+62 812-3456-7890"
	})
}

// A file Twilio no longer has (404) is reported gone after a short retry,
// not left "downloading" while the job waits to retry for an hour.
func TestTwilioMediaGoneIsReportedSoon(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	sid := d.customerWritesAs(t, sandbox.InboundMessage{From: "+15557654321", MediaGone: true,
		Media: []sandbox.MediaFile{{ContentType: "image/jpeg", Data: []byte("\xff\xd8\xff\xe0 gone")}}})
	chat := d.chatOn(t, d.ig.ID)
	eventually(t, "the file reported gone", func() bool {
		m := d.message(t, chat.ID, sid)
		return len(m.Attachments) == 1 && m.Attachments[0].State == "failed" && strings.Contains(deref(m.Attachments[0].Error), "expired")
	})
}

// Files keep the names and types 1msg gives: a document whose caption is
// its name, served by storage as octet-stream, is that PDF, not file.bin.
func TestOneMsgDocumentKeepsNameAndType(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	id := d.customerWrites1msg(t, sandbox.OneMsgInbound{From: "+573001112233",
		Media: &sandbox.MediaFile{ContentType: "application/pdf", Filename: "Factura 2026-07.pdf", Data: []byte("%PDF-1.4 factura")}})
	chat := d.chatOn(t, d.om.ID)
	eventually(t, "the document stored", func() bool {
		m := d.message(t, chat.ID, id)
		return len(m.Attachments) == 1 && m.Attachments[0].State == "stored"
	})
	a := d.message(t, chat.ID, id).Attachments[0]
	if a.Filename != "Factura 2026-07.pdf" || a.ContentType != "application/pdf" {
		t.Fatalf("document stored as %q %s", a.Filename, a.ContentType)
	}
}

// What 1msg sends that Parley cannot show (a reaction, an order) is kept
// as an unsupported message the agent sees, never dropped; a shared
// contact is a card; a swipe-reply quotes.
func TestOneMsgUnsupportedContactAndQuote(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	const client = "+573001112233"
	first := d.customerWrites1msg(t, sandbox.OneMsgInbound{From: client, Body: "Hola"})
	chat := d.chatOn(t, d.om.ID)
	reaction := d.customerWrites1msg(t, sandbox.OneMsgInbound{From: client, Type: "reaction", Body: "👍", QuotedID: first})
	if m := d.message(t, chat.ID, reaction); m.Kind != "unsupported" || m.Body != "👍" || m.Meta.Unsupported != "reaction" || deref(m.QuotedBody) != "Hola" {
		t.Fatalf("reaction stored as %+v (quote %q)", m, deref(m.QuotedBody))
	}
	order := d.customerWrites1msg(t, sandbox.OneMsgInbound{From: client, Type: "order"})
	if m := d.message(t, chat.ID, order); m.Kind != "unsupported" || conversation.UnsupportedName(m.Meta.Unsupported) != "an order" {
		t.Fatalf("order stored as %+v", m)
	}
	card := d.customerWrites1msg(t, sandbox.OneMsgInbound{From: client, VCard: "BEGIN:VCARD\nVERSION:3.0\nFN:Juan Pérez\nTEL:+57 310 5556677\nEND:VCARD"})
	if m := d.message(t, chat.ID, card); m.Kind != "contact" || len(m.Meta.Contacts) != 1 || m.Meta.Contacts[0].Name != "Juan Pérez" {
		t.Fatalf("contact stored as %+v", m)
	}
	if c := d.chatOn(t, d.om.ID); !strings.HasPrefix(c.Preview, "👤 Juan Pérez") {
		t.Errorf("chat preview %q", c.Preview)
	}
}

// A message's own time orders it and drives the 24-hour window: a message
// 1msg delivers late comes before those written after it, and does not
// open the window later than the client wrote; a time ahead of the
// server's is taken as its arrival.
func TestMessageTimeOrdersAndDrivesWindow(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	now := time.Now()
	item := func(id string, at time.Time, body string) string {
		return fmt.Sprintf(`{"id":%q,"body":%q,"fromMe":false,"self":0,"time":%d,"chatId":"15557000009@c.us","type":"chat","senderName":"Tia"}`, id, body, at.Unix())
	}
	post := func(items ...string) {
		t.Helper()
		if status, body := d.post1msg(t, `{"instanceId":"demo1msg","messages":[`+strings.Join(items, ",")+`]}`); status != http.StatusOK {
			t.Fatalf("webhook: %d %s", status, body)
		}
	}
	post(item("late-2", now.Add(-2*time.Hour), "second"))
	post(item("late-1", now.Add(-3*time.Hour), "first"))
	chat := d.chatOn(t, d.om.ID)
	var bodies []string
	for _, m := range d.messages(t, chat.ID) {
		if m.Direction == "in" {
			bodies = append(bodies, m.Body)
		}
	}
	if strings.Join(bodies, ",") != "first,second" {
		t.Fatalf("conversation order %q, want first,second", bodies)
	}
	if ends := chat.WindowEnds(); ends.Sub(now.Add(22*time.Hour)).Abs() > 2*time.Second {
		t.Fatalf("window ends %s, want 24 h after the client wrote (%s)", ends, now.Add(22*time.Hour))
	}
	post(item("ahead", now.Add(time.Hour), "from the future"))
	chat = d.chatOn(t, d.om.ID)
	if chat.LastClientMessageAt.After(time.Now()) {
		t.Fatalf("window opened in the future: %s", chat.LastClientMessageAt)
	}
}
