package onemsg

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"parley/internal/channel"
)

// A template's ID (channel.Template.ID, channel.Outgoing.TemplateID) holds
// what sendTemplate needs: "<namespace>/<name>/<language>", each part
// path-escaped, e.g. "ca300906_cfbc_410b_99fb_dcee8e13d578/order_shipped/en".

func templateID(ns, name, lang string) string {
	return url.PathEscape(ns) + "/" + url.PathEscape(name) + "/" + url.PathEscape(lang)
}

func parseTemplateID(id string) (ns, name, lang string, ok bool) {
	parts := strings.Split(id, "/")
	if len(parts) != 3 {
		return "", "", "", false
	}
	for i, p := range parts {
		s, err := url.PathUnescape(p)
		if err != nil || strings.TrimSpace(s) == "" {
			return "", "", "", false
		}
		parts[i] = s
	}
	return parts[0], parts[1], parts[2], true
}

// listedTemplate is one entry of GET /templates, with the quirks of real
// lists (§2 "List quirks"): language a string or {"code"}, components a
// list or a JSON string of it, the namespace under either key or absent.
type listedTemplate struct {
	Name        text            `json:"name"`
	Status      text            `json:"status"`
	Language    json.RawMessage `json:"language"`
	Namespace   text            `json:"namespace"`
	MTNamespace text            `json:"message_template_namespace"`
	Components  json.RawMessage `json:"components"`
}

type component struct {
	Type    text     `json:"type"`   // HEADER, BODY, FOOTER, BUTTONS
	Format  text     `json:"format"` // a header's: TEXT, IMAGE, DOCUMENT, VIDEO, LOCATION
	Text    text     `json:"text"`
	Buttons []button `json:"buttons"`
}

type button struct {
	Type text `json:"type"` // QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP…
	Text text `json:"text"`
	URL  text `json:"url"`
}

// numberedRe is a numbered placeholder, {{1}}.
var numberedRe = regexp.MustCompile(`\{\{\s*([0-9]+)\s*\}\}`)

// anyPlaceholderRe is any placeholder, numbered or named.
var anyPlaceholderRe = regexp.MustCompile(`\{\{[^{}]*\}\}`)

// Templates lists the channel's approved templates (GET /templates) that
// Parley can send: a text header, a body and a footer, whose numbered
// variables it fills, and quick-reply buttons. The text agents see is the
// header, the body and the footer on their own lines; header variables are
// renamed {{h1}}, {{h2}}… so they do not clash with the body's.
//
// Templates with a media header (image, document, video, location) are not
// offered, as Parley has no file to put there: they are left out like
// Twilio's media content. Approved templates Parley cannot send otherwise
// (no name, no language, no body text, no namespace anywhere in the list,
// named variables, buttons that need a value) are named in Unreadable.
func (c *Client) Templates(ctx context.Context) (channel.Templates, error) {
	var raw json.RawMessage
	if err := c.get(ctx, "templates", &raw); err != nil {
		return channel.Templates{}, err // a deadline is "1msg did not answer in time", retryable
	}
	items, err := templateItems(raw)
	if err != nil {
		return channel.Templates{}, &channel.SendError{Message: "1msg gave a template list Parley could not read", Err: err}
	}
	list := make([]listedTemplate, len(items))
	readable := make([]bool, len(items))
	defaultNS := ""
	for i, it := range items {
		readable[i] = json.Unmarshal(it, &list[i]) == nil
		if defaultNS == "" && readable[i] {
			defaultNS = namespaceOf(list[i])
		}
	}
	out := channel.Templates{List: []channel.Template{}}
	for i, lt := range list {
		if !readable[i] {
			out.Unreadable = append(out.Unreadable, "a template 1msg listed (not readable)")
			continue
		}
		if !strings.EqualFold(strings.TrimSpace(string(lt.Status)), "approved") {
			continue
		}
		t, ok, problem := templateOf(lt, defaultNS)
		switch {
		case problem != "":
			out.Unreadable = append(out.Unreadable, problem)
		case ok:
			out.List = append(out.List, t)
		}
	}
	channel.SortTemplates(out.List)
	return out, nil
}

// templateItems finds the entries of a list answer: a bare array or
// {"templates": [...]}.
func templateItems(raw json.RawMessage) ([]json.RawMessage, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err == nil {
		return items, nil
	}
	var wrapped struct {
		Templates []json.RawMessage `json:"templates"`
	}
	if err := json.Unmarshal(raw, &wrapped); err != nil {
		return nil, fmt.Errorf("1msg templates: %w", err)
	}
	return wrapped.Templates, nil
}

func namespaceOf(t listedTemplate) string {
	if ns := strings.TrimSpace(string(t.Namespace)); ns != "" {
		return ns
	}
	return strings.TrimSpace(string(t.MTNamespace))
}

// templateOf reads one approved entry. ok is false for templates Parley
// does not offer (media headers); problem names an entry it cannot send.
func templateOf(lt listedTemplate, defaultNS string) (t channel.Template, ok bool, problem string) {
	name := strings.TrimSpace(string(lt.Name))
	label := name
	if label == "" {
		label = "a template without a name"
	}
	lang := languageOf(lt.Language)
	comps, err := componentsOf(lt.Components)
	if err != nil {
		return t, false, label + " (its parts could not be read)"
	}
	var header, body, footer string
	var buttons []string
	for _, c := range comps {
		switch strings.ToUpper(strings.TrimSpace(string(c.Type))) {
		case "HEADER":
			switch format := strings.ToUpper(strings.TrimSpace(string(c.Format))); format {
			case "", "TEXT":
				header = strings.TrimSpace(string(c.Text))
			default:
				return t, false, "" // a media header: not offered
			}
		case "BODY":
			body = strings.TrimSpace(string(c.Text))
		case "FOOTER":
			footer = strings.TrimSpace(string(c.Text))
		case "BUTTONS":
			for _, b := range c.Buttons {
				switch kind := strings.ToUpper(strings.TrimSpace(string(b.Type))); kind {
				case "QUICK_REPLY":
					if title := strings.TrimSpace(string(b.Text)); title != "" {
						buttons = append(buttons, title)
					}
				case "URL":
					if anyPlaceholderRe.MatchString(string(b.URL)) {
						return t, false, label + " (a link button with a variable)"
					}
				case "PHONE_NUMBER":
				case "":
					return t, false, label + " (a button without a type)"
				default: // COPY_CODE, OTP, FLOW…: they need values Parley does not ask for
					return t, false, fmt.Sprintf("%s (a button of type %s)", label, kind)
				}
			}
		}
	}
	ns := namespaceOf(lt)
	if ns == "" {
		ns = defaultNS
	}
	switch {
	case name == "":
		return t, false, label + " (" + orUnknown(lang) + ")"
	case lang == "":
		return t, false, label + " (no language)"
	case body == "":
		return t, false, label + " (no text)"
	case ns == "":
		return t, false, label + " (no namespace)"
	case hasNamedPlaceholder(header) || hasNamedPlaceholder(body):
		return t, false, label + " (named variables)"
	}
	shown := body
	if header != "" {
		shown = numberedRe.ReplaceAllString(header, "{{h$1}}") + "\n" + shown
	}
	if footer != "" {
		shown += "\n" + footer
	}
	return channel.Template{
		ID: templateID(ns, name, lang), Name: name, Language: lang, Body: shown,
		Variables: channel.TemplateVariables(shown, nil), Buttons: buttons,
	}, true, ""
}

// hasNamedPlaceholder reports a placeholder that is not numbered: Meta's
// named parameters, which sendTemplate would need by name.
func hasNamedPlaceholder(s string) bool {
	for _, ph := range anyPlaceholderRe.FindAllString(s, -1) {
		if !numberedRe.MatchString(ph) {
			return true
		}
	}
	return false
}

func orUnknown(s string) string {
	if s == "" {
		return "no language"
	}
	return s
}

// languageOf reads "en" or {"code": "en"}.
func languageOf(raw json.RawMessage) string {
	var s text
	if json.Unmarshal(raw, &s) == nil && s != "" {
		return strings.TrimSpace(string(s))
	}
	var obj struct {
		Code text `json:"code"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return strings.TrimSpace(string(obj.Code))
	}
	return ""
}

// componentsOf reads the components, a list or a JSON string of one.
func componentsOf(raw json.RawMessage) ([]component, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		raw = json.RawMessage(s)
	}
	var comps []component
	if err := json.Unmarshal(raw, &comps); err != nil {
		return nil, err
	}
	return comps, nil
}
