package twilio_test

import (
	"reflect"
	"testing"

	"parley/internal/channel"
	"parley/internal/channel/twilio"
)

// A client who hides their number writes from their business-scoped user
// id (From=whatsapp:IN.…, no WaId): read, not refused; beside a number the
// id comes as ExternalUserId. Referral* parameters are the ad.
func TestParseWebhookUserIDAndReferral(t *testing.T) {
	ev, err := twilio.ParseWebhook(inboundForm(inSid, "From", "whatsapp:IN.208142536475869", "WaId", "-", "ExternalUserId", "IN.208142536475869",
		"ParentExternalUserId", "IN.ENT.118157992128868", "ProfileUsername", "priya.s", "Body", "hi"), webhookNow)
	if err != nil {
		t.Fatal(err)
	}
	want := &channel.Inbound{ProviderMessageID: inSid, UserID: "IN.208142536475869", Username: "priya.s", ProfileName: "teknisee", To: testSender, Body: "hi", At: webhookNow}
	if !reflect.DeepEqual(ev.Inbound, want) {
		t.Errorf("BSUID sender\n got %+v\nwant %+v", *ev.Inbound, *want)
	}

	ev, err = twilio.ParseWebhook(inboundForm(inSid, "ExternalUserId", "whatsapp:ID.456651234567890", "Body", "Olá",
		"ReferralHeadline", "Sale", "ReferralBody", "30% off", "ReferralSourceUrl", "https://fb.me/x", "ReferralSourceType", "ad",
		"ReferralSourceId", "1202", "ReferralCtwaClid", "ARAk", "ReferralNumMedia", "0"), webhookNow)
	if err != nil {
		t.Fatal(err)
	}
	if in := ev.Inbound; in.From != waClient || in.UserID != "ID.456651234567890" ||
		!reflect.DeepEqual(in.Referral, &channel.Referral{Headline: "Sale", Body: "30% off", SourceURL: "https://fb.me/x", SourceType: "ad", SourceID: "1202", CtwaClid: "ARAk"}) {
		t.Errorf("number with ExternalUserId and an ad: %+v, referral %+v", in, in.Referral)
	}

	for _, from := range []string{"whatsapp:IN.", "whatsapp:in.2081", "whatsapp:hello", "whatsapp:+12"} {
		if _, err := twilio.ParseWebhook(inboundForm(inSid, "From", from, "Body", "x"), webhookNow); err == nil {
			t.Errorf("From %q read as a client", from)
		}
	}
}
