package sandbox

import (
	"fmt"
	"strings"
)

// Rich Content API templates: media, call-to-action, cards,
// authentication, and the types Parley does not send (list pickers,
// carousels, catalogs, flows). A Template with Types is served with
// exactly those types (the Content API's JSON shapes, schemas twilioMedia,
// twilioCallToAction, twilioCard, whatsappCard, whatsappAuthentication…
// of the Content API document) and sent as WhatsApp would show its richest
// type (twilio.com/docs/content/content-types-overview: Twilio sends the
// most complex type the channel supports).

// waTypes is the Content API's types, richest first.
var waTypes = []string{
	"whatsapp/authentication", "whatsapp/flows", "whatsapp/card", "twilio/flows", "twilio/carousel",
	"twilio/catalog", "twilio/card", "twilio/list-picker", "twilio/call-to-action", "twilio/quick-reply",
	"twilio/location", "twilio/schedule", "twilio/pay", "twilio/media", "twilio/text",
}

// waType is the type WhatsApp gets and its fields.
func waType(tpl Template) (string, map[string]any) {
	types := templateTypes(tpl)
	for _, k := range waTypes {
		if f, ok := types[k].(map[string]any); ok {
			return k, f
		}
	}
	return "", nil
}

// number reads a JSON number given as a Go int or float.
func number(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case float64:
		return int(n)
	}
	return 0
}

func field(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// waText is the text WhatsApp shows for the template's type, with its
// placeholders: a card's title or header, body and footer, the preset
// text of an authentication template.
func waText(tpl Template) string {
	kind, f := waType(tpl)
	var parts []string
	switch kind {
	case "whatsapp/authentication":
		// WhatsApp's preset text (developers.facebook.com … copy code
		// authentication templates); the code is variable 1.
		parts = append(parts, "{{1}} is your verification code.")
		if b, ok := f["add_security_recommendation"].(bool); !ok || b {
			parts[0] += " For your security, do not share this code."
		}
		if n := number(f["code_expiration_minutes"]); n > 0 {
			parts = append(parts, fmt.Sprintf("This code expires in %d minutes.", n))
		}
	case "twilio/card":
		parts = append(parts, field(f, "title"), field(f, "subtitle"))
	case "whatsapp/card":
		parts = append(parts, field(f, "header_text"), field(f, "body"), field(f, "footer"))
	default:
		parts = append(parts, field(f, "body"))
	}
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "\n")
}

// waMedia is the media link of the template's type (its first), with
// its placeholders, or "".
func waMedia(tpl Template) string {
	_, f := waType(tpl)
	media, _ := f["media"].([]any)
	if len(media) == 0 {
		return ""
	}
	s, _ := media[0].(string)
	return s
}

// waButtons are the quick replies the client can tap.
func waButtons(tpl Template) []string {
	if len(tpl.Types) == 0 {
		return tpl.QuickReplies
	}
	kind, f := waType(tpl)
	if kind == "twilio/call-to-action" || kind == "whatsapp/authentication" {
		return nil
	}
	actions, _ := f["actions"].([]any)
	var out []string
	for _, a := range actions {
		a, _ := a.(map[string]any)
		if t := field(a, "type"); (t == "" || t == "QUICK_REPLY") && field(a, "title") != "" {
			out = append(out, field(a, "title"))
		}
	}
	return out
}

// requiredVars are the variables that must come with the send: a media
// link's (the template's sample is no file for this client) and an
// authentication template's code ("a single variable must be defined at
// send time", twilio.com/docs/content/whatsappauthentication; 21656
// "Make sure all ContentVariables are defined … at time of send").
func requiredVars(tpl Template) []string {
	var out []string
	if kind, _ := waType(tpl); kind == "whatsapp/authentication" {
		out = append(out, "1")
	}
	for _, m := range placeholder.FindAllStringSubmatch(waMedia(tpl), -1) {
		out = append(out, m[1])
	}
	return out
}
