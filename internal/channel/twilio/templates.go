package twilio

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	content "github.com/twilio/twilio-go/rest/content/v1"

	"parley/internal/channel"
)

var contentSidRe = regexp.MustCompile(`^HX[0-9a-fA-F]{32}$`)

// maxTemplates bounds how many Content API entries one listing reads.
const maxTemplates = 2000

// Templates lists the account's content approved for WhatsApp
// (ContentAndApprovals, approval_requests.status "approved") that Parley
// can send: twilio/text and twilio/quick-reply.
func (c *Client) Templates(ctx context.Context) (channel.Templates, error) {
	p := &content.ListContentAndApprovalsParams{}
	p.SetPageSize(500)
	p.SetLimit(maxTemplates)
	items, err := c.rest(ctx).ContentV1.ListContentAndApprovals(p)
	if ctx.Err() != nil {
		return channel.Templates{}, &channel.SendError{Message: "Twilio did not answer in time", Retryable: true, Err: ctx.Err()}
	}
	if err != nil {
		return channel.Templates{}, sendError(err, 0)
	}
	var out channel.Templates
	for _, it := range items {
		if approvalStatus(it.ApprovalRequests) != "approved" {
			continue
		}
		t, ok, problem := templateOf(it)
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

func approvalStatus(ar *map[string]any) string {
	if ar == nil {
		return ""
	}
	s, _ := (*ar)["status"].(string)
	return strings.ToLower(s)
}

// templateOf reads one Content API entry. ok is false for content types
// Parley does not send (cards, media, list pickers); problem names an
// entry whose fields are broken.
func templateOf(it content.ContentV1ContentAndApprovals) (t channel.Template, ok bool, problem string) {
	name := strings.TrimSpace(deref(it.FriendlyName))
	label := name
	if label == "" {
		label = "a template without a name"
	}
	var types map[string]any
	if it.Types != nil {
		types = *it.Types
	}
	var body string
	var buttons []string
	text, isText := types["twilio/text"].(map[string]any)
	qr, isQR := types["twilio/quick-reply"].(map[string]any)
	switch {
	case isQR:
		body, _ = qr["body"].(string)
		actions, _ := qr["actions"].([]any)
		for _, a := range actions {
			if a, ok := a.(map[string]any); ok {
				if title, _ := a["title"].(string); strings.TrimSpace(title) != "" {
					buttons = append(buttons, title)
				}
			}
		}
	case isText:
		body, _ = text["body"].(string)
	case len(types) > 0:
		return t, false, "" // another content type: not offered
	}
	sid := deref(it.Sid)
	switch {
	case !contentSidRe.MatchString(sid):
		return t, false, fmt.Sprintf("%s (no valid content SID)", label)
	case name == "":
		return t, false, fmt.Sprintf("%s (%s)", label, sid)
	case strings.TrimSpace(body) == "":
		return t, false, fmt.Sprintf("%s (no text)", label)
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
	return channel.Template{
		ID: sid, Name: name, Language: lang, Body: body,
		Variables: channel.TemplateVariables(body, hints), Buttons: buttons,
	}, true, ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
