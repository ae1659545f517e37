package twilio

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	content "github.com/twilio/twilio-go/rest/content/v1"

	"parley/internal/channel"
)

var contentSidRe = regexp.MustCompile(`^HX[0-9a-fA-F]{32}$`)

// maxTemplates bounds how many Content API entries one listing reads; a
// longer list is cut there and the listing says so. A variable so tests
// can lower it.
var maxTemplates = 2000

// Templates lists the account's content approved for WhatsApp
// (ContentAndApprovals, approval_requests.status "approved"), every
// content type: those Parley sends (twilio/text, twilio/media,
// twilio/quick-reply, twilio/call-to-action, twilio/card, whatsapp/card,
// whatsapp/authentication) with what the client will see, the others
// (list pickers, carousels, catalogs, flows…) named with the reason
// Parley cannot send them. List pickers and locations, which WhatsApp
// never approves (they are session-only content), are named too.
func (c *Client) Templates(ctx context.Context) (channel.Templates, error) {
	p := &content.ListContentAndApprovalsParams{}
	p.SetPageSize(500)
	p.SetLimit(maxTemplates + 1) // one more tells that the list goes on
	items, err := c.rest(ctx).ContentV1.ListContentAndApprovals(p)
	if ctx.Err() != nil {
		return channel.Templates{}, &channel.SendError{Message: "Twilio did not answer in time", Retryable: true, Err: ctx.Err()}
	}
	if err != nil {
		return channel.Templates{}, sendError(err, 0)
	}
	var out channel.Templates
	if len(items) > maxTemplates {
		items = items[:maxTemplates]
		out.Cut = &channel.TemplatesCut{Read: maxTemplates}
	}
	for _, it := range items {
		t, problem := templateOf(it)
		approved := approvalStatus(it.ApprovalRequests) == "approved"
		switch {
		case !approved && !sessionOnly[t.Kind]:
			continue
		case problem != "":
			out.Unreadable = append(out.Unreadable, problem)
		default:
			out.List = append(out.List, t)
		}
	}
	channel.SortTemplates(out.List)
	return out, nil
}

// sessionOnly are content types WhatsApp does not approve as templates
// (twilio.com/docs/errors/63016: they cannot start a conversation).
var sessionOnly = map[string]bool{"twilio/list-picker": true, "twilio/location": true}

// contentTypes are the Content API's types, the richest first: Twilio
// sends a channel the most complex type it supports
// (twilio.com/docs/content/content-types-overview), so for WhatsApp the
// first one present is what the client gets.
var contentTypes = []string{
	"whatsapp/authentication", "whatsapp/flows", "whatsapp/card", "twilio/flows", "twilio/carousel",
	"twilio/catalog", "twilio/card", "twilio/list-picker", "twilio/call-to-action", "twilio/quick-reply",
	"twilio/location", "twilio/schedule", "twilio/pay", "twilio/media", "twilio/text",
}

// sendable are the types Parley sends and previews.
var sendable = map[string]bool{
	"whatsapp/authentication": true, "whatsapp/card": true, "twilio/card": true, "twilio/call-to-action": true,
	"twilio/quick-reply": true, "twilio/media": true, "twilio/text": true,
}

func approvalStatus(ar *map[string]any) string {
	if ar == nil {
		return ""
	}
	s, _ := (*ar)["status"].(string)
	return strings.ToLower(s)
}

// templateOf reads one Content API entry: the template as the client
// will see it on WhatsApp, or problem naming an entry whose fields are
// broken. A type Parley does not send comes back with Unsendable set.
func templateOf(it content.ContentV1ContentAndApprovals) (t channel.Template, problem string) {
	name := strings.TrimSpace(deref(it.FriendlyName))
	label := name
	if label == "" {
		label = "a template without a name"
	}
	var types map[string]any
	if it.Types != nil {
		types = *it.Types
	}
	hints := map[string]string{}
	if it.Variables != nil {
		for k, v := range *it.Variables {
			if s, ok := v.(string); ok {
				hints[k] = s
			}
		}
	}
	lang := strings.TrimSpace(deref(it.Language))
	if lang == "" {
		lang = "?"
	}
	sid := deref(it.Sid)
	t = channel.Template{ID: sid, Name: name, Language: lang}
	for _, k := range contentTypes {
		if _, ok := types[k]; ok {
			t.Kind = k
			break
		}
	}
	if t.Kind == "" {
		for k := range types {
			t.Kind = k // a type newer than this list
			break
		}
	}
	fields, _ := types[t.Kind].(map[string]any)
	switch {
	case !contentSidRe.MatchString(sid):
		return t, fmt.Sprintf("%s (no valid content SID)", label)
	case name == "":
		return t, fmt.Sprintf("%s (%s)", label, sid)
	case t.Kind == "":
		return t, fmt.Sprintf("%s (no content)", label)
	case !sendable[t.Kind]:
		t.Body = str(fields, "body")
		t.Unsendable = channel.CannotSend(channel.KindLabel(t.Kind))
		return t, ""
	}
	if t.Kind == "twilio/text" {
		t.Kind = "" // plain text: nothing to say
	}
	var media []any
	switch t.Kind {
	case "whatsapp/authentication":
		// The body is WhatsApp's preset text; the code is variable 1
		// (twilio.com/docs/content/whatsappauthentication). English here;
		// WhatsApp translates it for the template's language.
		t.Body = "{{1}} is your verification code."
		if b, ok := fields["add_security_recommendation"].(bool); !ok || b {
			t.Body += " For your security, do not share this code."
		}
		if n, ok := fields["code_expiration_minutes"].(float64); ok && n > 0 {
			t.Footer = fmt.Sprintf("This code expires in %d minutes.", int(n))
		}
		if _, ok := hints["1"]; !ok {
			hints["1"] = "The one-time code"
		}
	case "twilio/card":
		t.Body, t.Footer = str(fields, "title"), str(fields, "subtitle")
		media, _ = fields["media"].([]any)
	case "whatsapp/card":
		t.HeaderText, t.Body, t.Footer = str(fields, "header_text"), str(fields, "body"), str(fields, "footer")
		media, _ = fields["media"].([]any)
	case "twilio/media":
		t.Body = str(fields, "body")
		media, _ = fields["media"].([]any)
	default:
		t.Body = str(fields, "body")
	}
	if strings.TrimSpace(t.Body) == "" {
		return t, fmt.Sprintf("%s (no text)", label)
	}
	if len(media) > 0 {
		u, _ := media[0].(string)
		m, ok := mediaOf(strings.TrimSpace(u), hints)
		if !ok {
			t.Unsendable = "Its media link has a variable Parley cannot fill (only the end of a link can vary)"
		}
		t.Media = m
	}
	texts := []string{t.HeaderText, t.Body, t.Footer}
	actions, _ := fields["actions"].([]any)
	for i, a := range actions {
		a, _ := a.(map[string]any)
		b := channel.TemplateButton{Text: strings.TrimSpace(str(a, "title")), Index: i}
		switch strings.ToUpper(str(a, "type")) {
		case "", "QUICK_REPLY":
			if t.Kind == "twilio/call-to-action" || t.Kind == "whatsapp/authentication" {
				break
			}
			if b.Text != "" {
				t.Buttons = append(t.Buttons, b.Text)
			}
			continue
		case "URL":
			b.Kind, b.URL = channel.ButtonURL, strings.TrimSpace(str(a, "url"))
			b.Var = lastVar(b.URL)
		case "PHONE_NUMBER":
			b.Kind, b.Phone = channel.ButtonPhone, strings.TrimSpace(str(a, "phone"))
		case "COPY_CODE":
			b.Kind, b.Code = channel.ButtonCopyCode, strings.TrimSpace(str(a, "code"))
			if t.Kind == "whatsapp/authentication" {
				b.Text, b.Code, b.Var = strings.TrimSpace(str(a, "copy_code_text")), "", "1"
				if b.Text == "" {
					b.Text = "Copy code"
				}
			} else {
				b.Var = lastVar(b.Code)
			}
		default: // VOICE_CALL, VOICE_CALL_REQUEST: WhatsApp call buttons
			b.Kind = channel.ButtonOther
		}
		texts = append(texts, b.URL, b.Code)
		t.Links = append(t.Links, b)
	}
	t.Variables = channel.TemplateVariables(strings.Join(texts, "\n"), hints)
	if t.Media.NeedsFile() {
		for i, v := range t.Variables {
			if v.Key == t.Media.Var {
				// The media link is filled from the agent's file or link,
				// not typed (unless the text uses it too).
				if !strings.Contains(strings.Join(texts, "\n"), "{{"+v.Key+"}}") {
					t.Variables = append(t.Variables[:i:i], t.Variables[i+1:]...)
				}
				break
			}
		}
	}
	return t, ""
}

var mediaVarRe = regexp.MustCompile(`\{\{\s*([0-9A-Za-z_]+)\s*\}\}`)

// mediaOf reads a template's media link: fixed, or a fixed start that a
// variable completes ("https://cdn.example.com/{{1}}", as Twilio requires
// for variable media: twilio.com/docs/content/twilio-media), whose
// sample (the variable's default value) shows what it looks like. ok is
// false when a variable sits elsewhere than at the end.
func mediaOf(u string, hints map[string]string) (*channel.TemplateMedia, bool) {
	m := &channel.TemplateMedia{URL: u}
	loc := mediaVarRe.FindAllStringSubmatchIndex(u, -1)
	switch {
	case len(loc) == 0:
	case len(loc) == 1 && loc[0][1] == len(u):
		key := u[loc[0][2]:loc[0][3]]
		m.Var, m.Prefix = key, u[:loc[0][0]]
		m.URL = m.Prefix + hints[key]
	default:
		m.Kind = mediaKind(u)
		return m, false
	}
	m.Kind = mediaKind(m.URL)
	return m, true
}

// mediaKind guesses what WhatsApp shows from the link's extension, as
// WhatsApp classifies an approved media template by its sample (image,
// video or document).
func mediaKind(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	switch strings.ToLower(path.Ext(u)) {
	case ".jpg", ".jpeg", ".png", ".webp", ".gif":
		return channel.MediaImage
	case ".mp4", ".3gp", ".mov":
		return channel.MediaVideo
	}
	return channel.MediaDocument
}

// lastVar is the key of a placeholder ending s ("https://x.com/{{1}}"),
// or "".
func lastVar(s string) string {
	loc := mediaVarRe.FindAllStringSubmatchIndex(s, -1)
	if len(loc) == 0 {
		return ""
	}
	l := loc[len(loc)-1]
	return s[l[2]:l[3]]
}

func str(m map[string]any, k string) string {
	switch v := m[k].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
