package channel_test

import (
	"strings"
	"testing"

	"parley/internal/channel"
)

// TestCodesSayWhatTheyMean checks the words of the codes that are easy to
// get wrong against the provider's own title for the code: each must carry
// the meaning (want) and must not say something else (not).
func TestCodesSayWhatTheyMean(t *testing.T) {
	for _, tc := range []struct {
		code, title, source string
		want, not           []string
	}{
		{"63021", "Channel invalid content error: message contains content that is rejected or unsupported by the messaging channel (media MIME type; a template over 1,024 characters)",
			"twilio.com/docs/api/errors/63021", []string{"does not take", "file type", "longer"}, []string{"large", "16 MB"}},
		{"11751", "Media Message - Media exceeds messaging provider size limit (WhatsApp 16 MB)",
			"twilio.com/docs/api/errors/11751", []string{"larger", "16 MB"}, nil},
		{"21658", "Parameter exceeded character limit (Body or a ContentVariables value over 1,600 characters)",
			"twilio.com/docs/api/errors/21658", []string{"longer", "1,600", "variable"}, nil},
		{"21617", "The concatenated message body exceeds the 1600 character limit",
			"twilio.com/docs/api/errors/21617", []string{"longer", "1,600"}, nil},
		{"63027", "Template does not exist for a language and locale",
			"twilio.com/docs/api/errors/63027", []string{"does not exist", "language"}, []string{"variables"}},
		{"63028", "Number of parameters provided does not match the expected number of parameters",
			"twilio.com/docs/api/errors/63028", []string{"number of template variables"}, nil},
		{"63019", "Media failed to download", "twilio.com/docs/api/errors/63019", []string{"download"}, nil},
		{"63016", "Failed to send freeform message because you are outside the allowed window",
			"twilio.com/docs/api/errors/63016", []string{"24-hour window"}, nil},
		{"63007", "Twilio could not find a Channel with the specified 'From' address",
			"twilio.com/docs/api/errors/63007", []string{"sender"}, nil},
		{"63003", "Channel could not find To address", "twilio.com/docs/api/errors/63003", []string{"cannot be reached"}, nil},
		{"63013", "Channel policy violation", "twilio.com/docs/api/errors/63013", []string{"policy"}, nil},
		{"21623", "Number of media files exceeds allowed limit", "twilio.com/docs/api/errors/21623", []string{"Too many files"}, nil},
		{"21910", "Invalid From and To pair. From and To should be of the same channel",
			"github.com/microsoft/botbuilder-dotnet/issues/5569 (Twilio's answer quoted)", []string{"WhatsApp addresses"}, nil},
		{"20429", "Too Many Requests", "twilio.com/docs/api/errors/20429", []string{"too many requests"}, []string{"retried"}},
		{"131053", "Media upload error: unable to upload the media used in the message",
			"developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes", []string{"file", "type or size"}, nil},
		{"131047", "Re-engagement message: more than 24 hours have passed since the recipient last replied",
			"developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes", []string{"24-hour window"}, nil},
	} {
		got := channel.Explain(tc.code, "")
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s (%s; %s): %q does not say %q", tc.code, tc.title, tc.source, got, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(got, n) {
				t.Errorf("%s (%s; %s): %q says %q, which the code does not mean", tc.code, tc.title, tc.source, got, n)
			}
		}
	}
}

// The providers' texts without a code still land on the right meaning.
func TestProviderTextsWithoutACode(t *testing.T) {
	for text, want := range map[string]string{
		"File is too large. Maximum file size is 16 MB":                  channel.Explain("11751", ""),
		"(#131053) Media upload error":                                   channel.Explain("131053", ""),
		"(#100) Param text['body'] must be at most 4096 characters long": "The message is longer than WhatsApp allows: shorten it",
	} {
		if got := channel.Explain("", text); got != want {
			t.Errorf("Explain(%q) = %q, want %q", text, got, want)
		}
	}
}

// A message that failed for good never says it will be retried.
func TestFinalMessageMakesNoPromise(t *testing.T) {
	for _, tc := range []struct {
		err  channel.SendError
		want string
	}{
		{channel.SendError{Message: "Twilio could not be reached; the message will be retried", Retryable: true},
			"Twilio could not be reached. Parley tried several times and gave up: send it again later."},
		{channel.SendError{Message: "1msg is limiting how fast Parley may call it; the request will be retried", Retryable: true},
			"1msg is limiting how fast Parley may call it. Parley tried several times and gave up: send it again later."},
		{channel.SendError{Code: "20429", Message: channel.Explain("20429", "Too Many Requests"), Retryable: true},
			"The provider is limiting how fast Parley may send (too many requests). Parley tried several times and gave up: send it again later."},
		{channel.SendError{Code: "21211", Message: channel.Explain("21211", "")},
			"This phone number is not valid for WhatsApp"},
		{channel.SendError{Message: "", Retryable: true},
			"The message could not be sent. Parley tried several times and gave up: send it again later."},
	} {
		if got := tc.err.FinalMessage(); got != tc.want {
			t.Errorf("FinalMessage(%q) = %q, want %q", tc.err.Message, got, tc.want)
		}
	}
}
