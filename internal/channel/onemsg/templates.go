package onemsg

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
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
	Category    text            `json:"category"`
	Components  json.RawMessage `json:"components"`
}

type component struct {
	Type    text            `json:"type"`   // HEADER, BODY, FOOTER, BUTTONS (CAROUSEL, LIMITED_TIME_OFFER…)
	Format  text            `json:"format"` // a header's: TEXT, IMAGE, DOCUMENT, VIDEO, LOCATION
	Text    text            `json:"text"`
	Buttons []button        `json:"buttons"`
	Example json.RawMessage `json:"example"` // Meta's samples: header_handle, header_text, body_text
}

type button struct {
	Type        text            `json:"type"` // QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP, FLOW…
	OTPType     text            `json:"otp_type"`
	Text        text            `json:"text"`
	URL         text            `json:"url"`
	PhoneNumber text            `json:"phone_number"`
	Example     json.RawMessage `json:"example"`
}

// example reads Meta's samples of a component: the media header's
// sample link, the header's and the body's sample values.
type example struct {
	HeaderHandle []text   `json:"header_handle"`
	HeaderText   []text   `json:"header_text"`
	BodyText     [][]text `json:"body_text"`
}

func examplesOf(raw json.RawMessage) example {
	var e example
	_ = json.Unmarshal(raw, &e) // samples only help the preview
	return e
}

// numberedRe is a numbered placeholder, {{1}}.
var numberedRe = regexp.MustCompile(`\{\{\s*([0-9]+)\s*\}\}`)

// anyPlaceholderRe is any placeholder, numbered or named.
var anyPlaceholderRe = regexp.MustCompile(`\{\{[^{}]*\}\}`)

// Templates lists the channel's approved templates (GET /templates)
// with what the client will see: a media header (image, document, video;
// the agent supplies the file), a text header, the body and the footer,
// whose numbered variables it fills, quick-reply, link, call and
// copy-code buttons. Header variables are renamed {{h1}}, {{h2}}…, a
// link button's variable {{b0}}, {{b1}}… (by the button's index) and a
// coupon code's {{c0}}… so they do not clash with the body's.
//
// Approved templates Parley cannot send (a location header, named
// variables, flow or catalog buttons, carousels) are listed with the
// reason; broken entries (no name, no language, no body text, no
// namespace anywhere in the list) are named in Unreadable. A list whose
// "total" is more than it holds says it was cut.
func (c *Client) Templates(ctx context.Context) (channel.Templates, error) {
	var raw json.RawMessage
	if err := c.get(ctx, "templates", &raw); err != nil {
		return channel.Templates{}, err // a deadline is "1msg did not answer in time", retryable
	}
	items, total, err := templateItems(raw)
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
	if total > len(items) {
		out.Cut = &channel.TemplatesCut{Read: len(items), Total: total}
	}
	for i, lt := range list {
		if !readable[i] {
			out.Unreadable = append(out.Unreadable, "a template 1msg listed (not readable)")
			continue
		}
		if !strings.EqualFold(strings.TrimSpace(string(lt.Status)), "approved") {
			continue
		}
		t, problem := templateOf(lt, defaultNS)
		if problem != "" {
			out.Unreadable = append(out.Unreadable, problem)
			continue
		}
		out.List = append(out.List, t)
	}
	channel.SortTemplates(out.List)
	return out, nil
}

// templateItems finds the entries of a list answer: a bare array or
// {"templates": [...]}.
// total is the wrapper's "total" (how many the channel has), 0 when absent.
func templateItems(raw json.RawMessage) (items []json.RawMessage, total int, err error) {
	if err := json.Unmarshal(raw, &items); err == nil {
		return items, 0, nil
	}
	var wrapped struct {
		Templates []json.RawMessage `json:"templates"`
		Total     text              `json:"total"`
	}
	if err := json.Unmarshal(raw, &wrapped); err != nil {
		return nil, 0, fmt.Errorf("1msg templates: %w", err)
	}
	total, _ = strconv.Atoi(strings.TrimSpace(string(wrapped.Total)))
	return wrapped.Templates, total, nil
}

func namespaceOf(t listedTemplate) string {
	if ns := strings.TrimSpace(string(t.Namespace)); ns != "" {
		return ns
	}
	return strings.TrimSpace(string(t.MTNamespace))
}

// templateOf reads one approved entry: the template as the client will
// see it, with Unsendable set when Parley cannot send it; problem names an
// entry too broken to show.
func templateOf(lt listedTemplate, defaultNS string) (t channel.Template, problem string) {
	name := strings.TrimSpace(string(lt.Name))
	label := name
	if label == "" {
		label = "a template without a name"
	}
	lang := languageOf(lt.Language)
	comps, err := componentsOf(lt.Components)
	if err != nil {
		return t, label + " (its parts could not be read)"
	}
	hints := map[string]string{}
	var unsendable []string
	var texts []string
	index := 0 // a button's position among all the template's buttons
	for _, c := range comps {
		switch kind := strings.ToUpper(strings.TrimSpace(string(c.Type))); kind {
		case "HEADER":
			ex := examplesOf(c.Example)
			switch format := strings.ToUpper(strings.TrimSpace(string(c.Format))); format {
			case "", "TEXT":
				if hasNamedPlaceholder(string(c.Text)) {
					unsendable = append(unsendable, "Templates with named variables cannot be sent from Parley")
				}
				t.HeaderText = numberedRe.ReplaceAllString(strings.TrimSpace(string(c.Text)), "{{h$1}}")
				for i, v := range ex.HeaderText {
					hints["h"+strconv.Itoa(i+1)] = string(v)
				}
			case "IMAGE", "DOCUMENT", "VIDEO":
				// Meta requires the media at send time (a header
				// parameter); the approved sample only shows what it
				// looks like.
				t.Media = &channel.TemplateMedia{Kind: strings.ToLower(format), Var: "media"}
				if len(ex.HeaderHandle) > 0 {
					t.Media.URL = strings.TrimSpace(string(ex.HeaderHandle[0]))
				}
			case "LOCATION":
				t.Media = &channel.TemplateMedia{Kind: channel.MediaLocation}
				unsendable = append(unsendable, "Templates with a location header cannot be sent from Parley")
			default:
				unsendable = append(unsendable, fmt.Sprintf("Templates with a %s header cannot be sent from Parley", strings.ToLower(format)))
			}
		case "BODY":
			t.Body = strings.TrimSpace(string(c.Text))
			if ex := examplesOf(c.Example); len(ex.BodyText) > 0 {
				for i, v := range ex.BodyText[0] {
					hints[strconv.Itoa(i+1)] = string(v)
				}
			}
		case "FOOTER":
			t.Footer = strings.TrimSpace(string(c.Text))
		case "BUTTONS":
			for _, b := range c.Buttons {
				tb, quick, why := buttonOf(b, index, hints)
				index++
				switch {
				case why != "":
					unsendable = append(unsendable, why)
				case quick:
					t.Buttons = append(t.Buttons, tb.Text)
				default:
					t.Links = append(t.Links, tb)
					texts = append(texts, tb.URL, tb.Code)
					if tb.Var != "" && tb.Var != "1" {
						texts = append(texts, "{{"+tb.Var+"}}")
					}
				}
			}
		default: // CAROUSEL, LIMITED_TIME_OFFER…
			unsendable = append(unsendable, fmt.Sprintf("Templates with a %s part cannot be sent from Parley", strings.ToLower(strings.ReplaceAll(kind, "_", " "))))
		}
	}
	ns := namespaceOf(lt)
	if ns == "" {
		ns = defaultNS
	}
	switch {
	case name == "":
		return t, label + " (" + orUnknown(lang) + ")"
	case lang == "":
		return t, label + " (no language)"
	case t.Body == "":
		return t, label + " (no text)"
	case ns == "":
		return t, label + " (no namespace)"
	case hasNamedPlaceholder(t.Body):
		unsendable = append(unsendable, "Templates with named variables cannot be sent from Parley")
	}
	t.ID, t.Name, t.Language = templateID(ns, name, lang), name, lang
	if t.Media != nil {
		t.Kind = t.Media.Kind + " header"
	}
	if strings.EqualFold(strings.TrimSpace(string(lt.Category)), "AUTHENTICATION") {
		t.Kind = "authentication"
		if _, ok := hints["1"]; !ok {
			hints["1"] = "The one-time code"
		}
	}
	if len(unsendable) > 0 {
		t.Unsendable = unsendable[0]
	}
	t.Variables = channel.TemplateVariables(strings.Join(append([]string{t.HeaderText, t.Body}, texts...), "\n"), hints)
	return t, ""
}

// otpURLRe is the link Meta lists for an authentication template's
// copy-code button (created as type OTP, listed as URL).
var otpURLRe = regexp.MustCompile(`(?i)otp_type=COPY_CODE`)

// buttonOf reads one button at index: a quick reply (quick), a link,
// call or copy-code button, or why Parley cannot send a template with it.
func buttonOf(b button, index int, hints map[string]string) (tb channel.TemplateButton, quick bool, why string) {
	tb = channel.TemplateButton{Text: strings.TrimSpace(string(b.Text)), Index: index}
	var samples []text
	_ = json.Unmarshal(b.Example, &samples)
	switch kind := strings.ToUpper(strings.TrimSpace(string(b.Type))); {
	case kind == "QUICK_REPLY":
		return tb, tb.Text != "", ""
	case kind == "OTP", kind == "URL" && otpURLRe.MatchString(string(b.URL)):
		// An authentication template's code button: it copies the code,
		// the body's {{1}}, which it takes again as its parameter.
		tb.Kind, tb.Var, tb.URL = channel.ButtonCopyCode, "1", strings.TrimSpace(string(b.URL))
		if tb.URL == "" {
			tb.URL = "https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=otp{{1}}"
		}
		if tb.Text == "" {
			tb.Text = "Copy code"
		}
		if !strings.EqualFold(string(b.OTPType), "") && !strings.EqualFold(string(b.OTPType), "COPY_CODE") {
			return tb, false, "Authentication templates with a " + strings.ToLower(strings.ReplaceAll(string(b.OTPType), "_", "-")) + " button cannot be sent from Parley"
		}
	case kind == "URL":
		tb.Kind, tb.URL = channel.ButtonURL, strings.TrimSpace(string(b.URL))
		phs := anyPlaceholderRe.FindAllString(tb.URL, -1)
		switch {
		case len(phs) > 1 || len(phs) == 1 && !strings.HasSuffix(tb.URL, phs[0]):
			return tb, false, "Templates whose link has more than a variable end cannot be sent from Parley"
		case len(phs) == 1:
			tb.Var = "b" + strconv.Itoa(index)
			tb.URL = strings.TrimSuffix(tb.URL, phs[0]) + "{{" + tb.Var + "}}"
			if len(samples) > 0 {
				hints[tb.Var] = "End of the link of “" + tb.Text + "”, e.g. " + string(samples[0])
			} else {
				hints[tb.Var] = "End of the link of “" + tb.Text + "”"
			}
		}
	case kind == "PHONE_NUMBER":
		tb.Kind, tb.Phone = channel.ButtonPhone, strings.TrimSpace(string(b.PhoneNumber))
	case kind == "COPY_CODE":
		// A coupon code, given at send time (Meta's coupon_code parameter).
		tb.Kind, tb.Var = channel.ButtonCopyCode, "c"+strconv.Itoa(index)
		hints[tb.Var] = "The code “" + tb.Text + "” copies"
		if len(samples) > 0 {
			hints[tb.Var] += ", e.g. " + string(samples[0])
		}
	case kind == "":
		return tb, false, "Templates with a button without a type cannot be sent from Parley"
	default: // FLOW, CATALOG, MPM, VOICE_CALL…
		return tb, false, fmt.Sprintf("Templates with a %s button cannot be sent from Parley", strings.ToLower(strings.ReplaceAll(kind, "_", " ")))
	}
	return tb, false, ""
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
