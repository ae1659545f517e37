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
		return plainWords["63021"]
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

var plainWords = map[string]string{
	// Twilio REST and channel errors.
	"20003": "The provider rejected Parley's credentials: check the integration's Account SID and Auth Token",
	"20429": "The provider is rate-limiting us; the message will be retried",
	"21211": "This phone number is not valid for WhatsApp",
	"21408": "Sending to this region is not enabled on the Twilio account",
	"21606": "The sender number is not a WhatsApp sender of this Twilio account",
	"21610": "The client has opted out of messages from this number",
	"21614": "This number cannot receive WhatsApp messages",
	"21617": "The message is too long",
	"21619": "The message is empty",
	"21655": "This template does not exist (any more) on the provider: pick the template again",
	"21656": "WhatsApp does not accept these template variables (empty, or with line breaks, tabs or many spaces): delete the message and fill them again",
	"63003": "The client's number cannot be reached on WhatsApp",
	"63005": "WhatsApp did not accept the content of the message",
	"63007": "The sender number is not a WhatsApp sender of this Twilio account",
	"63013": "The message breaks WhatsApp's policy and was not delivered",
	"63016": WindowClosedMessage,
	"63018": "The WhatsApp sending rate limit was reached; try again in a little while",
	"63019": "WhatsApp could not download the file",
	"63021": "The file is too large for WhatsApp (16 MB at most)",
	"63024": "This number cannot receive WhatsApp messages",
	"63027": "The template variables do not match the template: pick the template again and fill every variable",
	"63028": "The number of template variables does not match the template: pick the template again and fill every variable",
	"63032": "WhatsApp did not deliver this marketing message to the client",
	"63040": "WhatsApp rejected this template: it cannot be sent",
	"63041": "This template is paused by WhatsApp",
	"63042": "This template is disabled by WhatsApp",
	// Meta codes (1msg passes them through).
	"131026": "This number cannot receive WhatsApp messages",
	"131047": WindowClosedMessage,
	"131049": "WhatsApp limits marketing messages to this person: try again in 24 hours",
	"131051": "WhatsApp does not support this kind of message",
	"132000": "The template variables do not match the template: pick the template again and fill every variable",
	"132001": "This template is not approved in this language (or no longer exists)",
	"132005": "The template text is too long once the variables are filled",
	"132007": "The template breaks WhatsApp's formatting rules",
	"132012": "The template variables do not match the template: pick the template again and fill every variable",
	"131053": "WhatsApp could not download the template's media file: check that its link works, or attach the file",
	"132015": "This template is paused by WhatsApp",
	"132016": "This template is disabled by WhatsApp",
	"130472": "The client's number is part of a WhatsApp experiment and did not receive the message",
	"131008": "A template variable is empty: pick the template again and fill every variable",
	"131056": "Too many messages to this client in a short time: wait a moment and send again",
}
