package channel

import "strings"

// Explain turns a provider's error code (and its own text, when the code is
// unknown) into words an agent understands. It is the one place where
// Twilio's and Meta's codes are mapped; sources are in research/twilio.md
// and research/onemsg.md.
func Explain(code, providerText string) string {
	if m, ok := plainWords[code]; ok {
		return m
	}
	lower := strings.ToLower(providerText)
	switch {
	case strings.Contains(lower, "dialog window is closed"), strings.Contains(lower, "outside the allowed window"),
		strings.Contains(lower, "re-engagement"), strings.Contains(lower, "24 hour"):
		return WindowClosedMessage
	case strings.Contains(lower, "template is not defined"), strings.Contains(lower, "does not exist"):
		return plainWords["132001"]
	case strings.Contains(lower, "experiment"):
		return plainWords["130472"]
	case strings.Contains(lower, "healthy ecosystem"), strings.Contains(lower, "marketing") && strings.Contains(lower, "limit"):
		return plainWords["131049"]
	// 1msg's sent:false texts (research/onemsg.md §5).
	case strings.TrimSpace(lower) == "empty body":
		return plainWords["21619"]
	case strings.Contains(lower, "unsupported interactive message type"):
		return plainWords["131051"]
	case strings.Contains(lower, "wrong phone number"), strings.Contains(lower, "wrong chatid"):
		return plainWords["21211"]
	case strings.Contains(lower, "file is too large"):
		return plainWords["11751"]
	case strings.Contains(lower, "media upload error"):
		return plainWords["131053"]
	case strings.Contains(lower, "must be at most") && strings.Contains(lower, "characters"):
		return "The message is longer than WhatsApp allows: shorten it"
	case strings.Contains(lower, "failed to download the file"):
		return plainWords["63019"]
	}
	if providerText != "" {
		return "The provider refused the message: " + providerText
	}
	if code != "" {
		return "The provider refused the message (error " + code + ")."
	}
	return "The message could not be sent."
}

// plainWords are the codes' true meanings, in words an agent can act on.
// Twilio's come from its error dictionary, twilio.com/docs/api/errors/<code>
// (titles quoted in errors_test.go); Meta's from the WhatsApp Cloud API
// error codes (passed through by 1msg). None of them promises a retry: the
// words are also what a message that finally failed shows (see
// SendError.FinalMessage).
var plainWords = map[string]string{
	// Twilio REST errors (answered to the create request).
	"20001": "Twilio refused a parameter of the request",
	"20003": "The provider rejected Parley's credentials: check the integration's Account SID and Auth Token",
	"20004": "Twilio does not allow this request (method not allowed)",
	"20404": "Twilio does not know the requested resource (not found)",
	"20429": "The provider is limiting how fast Parley may send (too many requests)",
	"20500": "Twilio had an internal error",
	"20503": "Twilio is unavailable for the moment",
	"21211": "This phone number is not valid for WhatsApp",
	"21408": "Sending to this region is not enabled on the Twilio account",
	"21603": "The integration has no sender number: reconnect it in Settings",
	"21604": "The chat has no WhatsApp number to send to",
	"21606": "The sender number is not a WhatsApp sender of this Twilio account",
	"21610": "The client has opted out of messages from this number",
	"21614": "This number cannot receive WhatsApp messages",
	"21617": "The message is longer than Twilio's 1,600 characters: shorten it or send it in parts",
	"21619": "The message is empty",
	"21623": "Too many files in one message: WhatsApp carries one file per message",
	"21654": "A template's variables were sent without the template: pick the template again",
	"21655": "This template does not exist (any more) on the provider: pick the template again",
	"21656": "WhatsApp does not accept these template variables (empty, or with line breaks, tabs or many spaces): delete the message and fill them again",
	"21658": "A part of the message is longer than Twilio allows (1,600 characters for the text or for a template variable): shorten it",
	"21910": "The sender and the client's number are not both WhatsApp addresses",
	// Twilio channel errors (a status callback reports them after the send).
	"11751": "The file is larger than the provider sends on WhatsApp (16 MB, images 5 MB)",
	"63003": "The client's number cannot be reached on WhatsApp",
	"63005": "WhatsApp did not accept the content of the message",
	"63007": "The sender number is not a WhatsApp sender of this Twilio account",
	"63013": "The message breaks WhatsApp's policy and was not delivered",
	"63016": WindowClosedMessage,
	"63018": "The WhatsApp sending rate limit was reached; send it again in a little while",
	"63019": "The provider could not download the file from Parley",
	"63021": "WhatsApp does not take this content: a file type it does not support, or text longer than it allows",
	"63024": "This number cannot receive WhatsApp messages",
	"63027": "This template does not exist in this language (or is not approved): pick the template again",
	"63028": "The number of template variables does not match the template: pick the template again and fill every variable",
	"63032": "WhatsApp did not deliver this marketing message to the client",
	"63040": "WhatsApp rejected this template: it cannot be sent",
	"63041": "This template is paused by WhatsApp",
	"63042": "This template is disabled by WhatsApp",
	// Meta codes (1msg passes them through). 100, "Invalid parameter", is
	// left to the text matching in Explain: its text says which.
	"131026": "This number cannot receive WhatsApp messages",
	"131047": WindowClosedMessage,
	"131049": "WhatsApp limits marketing messages to this person: send it again in 24 hours",
	"131051": "WhatsApp does not support this kind of message",
	"131052": "WhatsApp could not download the file",
	"131053": "WhatsApp could not take the file: it could not be downloaded (check its link), or its type or size is not supported",
	"132000": "The template variables do not match the template: pick the template again and fill every variable",
	"132001": "This template is not approved in this language (or no longer exists)",
	"132005": "The template text is too long once the variables are filled",
	"132007": "The template breaks WhatsApp's formatting rules",
	"132012": "The template variables do not match the template: pick the template again and fill every variable",
	"132015": "This template is paused by WhatsApp",
	"132016": "This template is disabled by WhatsApp",
	"130472": "The client's number is part of a WhatsApp experiment and did not receive the message",
	"131008": "A template variable is empty: pick the template again and fill every variable",
	"131056": "Too many messages to this client in a short time: wait a moment and send again",
}

// FinalMessage is the error's words for a message that failed for good:
// no further try follows, so words promising a retry are dropped, and a
// failure that trying again might have cured says that Parley gave up.
func (e *SendError) FinalMessage() string {
	if !e.Retryable && !strings.Contains(e.Message, "retried") && e.Message != "" {
		return e.Message
	}
	var parts []string
	for p := range strings.SplitSeq(e.Message, "; ") {
		if !strings.Contains(strings.ToLower(p), "retried") {
			parts = append(parts, p)
		}
	}
	msg := strings.TrimRight(strings.Join(parts, "; "), " .;:,")
	if msg == "" {
		msg = "The message could not be sent"
	}
	if e.Retryable {
		return msg + ". Parley tried several times and gave up: send it again later."
	}
	return msg + "."
}
