package onemsg

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"parley/internal/channel"
)

// rawHooksHint is what to do when 1msg posts Meta's own format and
// Parley cannot use it (a file named by a Meta media id, which only the
// Cloud API can download): with rawHooks off, 1msg sends its own format.
const rawHooksHint = "turn off rawHooks in the 1msg channel settings"

// rawEnvelope is a webhook in Meta's own format, which 1msg posts when the
// channel's rawHooks setting is on ([N8N] events.ts; Meta's Cloud API
// webhooks reference): {"object":"whatsapp_business_account","entry":[{
// "changes":[{"field":"messages","value":{"contacts","messages",
// "message_echoes","statuses"}}]}]}.
type rawEnvelope struct {
	InstanceID text `json:"instanceId"`
	Object     text `json:"object"`
	Entry      []struct {
		Changes []struct {
			Field text           `json:"field"`
			Value rawChangeValue `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

type rawChangeValue struct {
	Contacts []struct {
		Profile struct {
			Name     text `json:"name"`
			Username text `json:"username"`
		} `json:"profile"`
		WaID   text `json:"wa_id"`
		UserID text `json:"user_id"`
	} `json:"contacts"`
	Messages []json.RawMessage `json:"messages"`
	Echoes   []json.RawMessage `json:"message_echoes"`
	Statuses []json.RawMessage `json:"statuses"`
}

// metaMessage is one item of Meta's messages[] (or message_echoes[]).
type metaMessage struct {
	ID         text `json:"id"`
	From       text `json:"from"`
	FromUserID text `json:"from_user_id"`
	To         text `json:"to"`
	ToUserID   text `json:"to_user_id"`
	Timestamp  text `json:"timestamp"`
	Type       text `json:"type"`
	Text       struct {
		Body text `json:"body"`
	} `json:"text"`
	Context struct {
		ID text `json:"id"`
	} `json:"context"`
	Referral *struct {
		SourceURL  text `json:"source_url"`
		SourceID   text `json:"source_id"`
		SourceType text `json:"source_type"`
		Headline   text `json:"headline"`
		Body       text `json:"body"`
		ImageURL   text `json:"image_url"`
		VideoURL   text `json:"video_url"`
		CtwaClid   text `json:"ctwa_clid"`
	} `json:"referral"`
	Button struct {
		Text    text `json:"text"`
		Payload text `json:"payload"`
	} `json:"button"`
	Interactive struct {
		Type        text `json:"type"`
		ButtonReply struct {
			ID    text `json:"id"`
			Title text `json:"title"`
		} `json:"button_reply"`
		ListReply struct {
			ID    text `json:"id"`
			Title text `json:"title"`
		} `json:"list_reply"`
	} `json:"interactive"`
	Location *struct {
		Latitude  text `json:"latitude"`
		Longitude text `json:"longitude"`
		Name      text `json:"name"`
		Address   text `json:"address"`
	} `json:"location"`
	Contacts []struct {
		Name struct {
			FormattedName text `json:"formatted_name"`
			FirstName     text `json:"first_name"`
			LastName      text `json:"last_name"`
		} `json:"name"`
		Phones []struct {
			Phone text `json:"phone"`
		} `json:"phones"`
		Emails []struct {
			Email text `json:"email"`
		} `json:"emails"`
		Org struct {
			Company text `json:"company"`
		} `json:"org"`
	} `json:"contacts"`
	Image    *metaMedia `json:"image"`
	Video    *metaMedia `json:"video"`
	Audio    *metaMedia `json:"audio"`
	Voice    *metaMedia `json:"voice"`
	Document *metaMedia `json:"document"`
	Sticker  *metaMedia `json:"sticker"`
}

type metaMedia struct {
	ID       text `json:"id"`
	MimeType text `json:"mime_type"`
	Caption  text `json:"caption"`
	Filename text `json:"filename"`
	Link     text `json:"link"`
	URL      text `json:"url"`
}

type metaStatus struct {
	ID     text `json:"id"`
	Status text `json:"status"`
	Errors []struct {
		Code      text `json:"code"`
		Title     text `json:"title"`
		Message   text `json:"message"`
		ErrorData struct {
			Details text `json:"details"`
		} `json:"error_data"`
	} `json:"errors"`
}

// parseRaw reads a webhook in Meta's format; ok is false when body is not
// one. Its messages, echoes and statuses are read as 1msg's own format's
// are, item by item.
func parseRaw(body []byte) (w Webhook, ok bool, err error) {
	var env rawEnvelope
	if json.Unmarshal(body, &env) != nil || (env.Entry == nil && env.Object == "") {
		return Webhook{}, false, nil
	}
	if len(env.Entry) == 0 {
		return Webhook{}, true, errors.New("1msg webhook in Meta's format (rawHooks) without entries; " + rawHooksHint)
	}
	w = Webhook{InstanceID: strings.TrimSpace(string(env.InstanceID))}
	for _, e := range env.Entry {
		for _, ch := range e.Changes {
			v := ch.Value
			names := map[string]string{}
			for _, c := range v.Contacts {
				name := strings.TrimSpace(string(c.Profile.Name))
				for _, k := range []text{c.WaID, c.UserID} {
					if k != "" {
						names[string(k)] = name
					}
				}
			}
			for i, raw := range v.Messages {
				m, err := limitItem(raw, func(raw json.RawMessage) (Message, error) { return parseMetaMessage(raw, false, names) })
				if err != nil {
					w.Skipped = append(w.Skipped, fmt.Sprintf("message %s: %v", itemName(i, m.ProviderMessageID), err))
					continue
				}
				w.Messages = append(w.Messages, m)
			}
			for i, raw := range v.Echoes {
				m, err := limitItem(raw, func(raw json.RawMessage) (Message, error) { return parseMetaMessage(raw, true, names) })
				if err != nil {
					w.Skipped = append(w.Skipped, fmt.Sprintf("echo %s: %v", itemName(i, m.ProviderMessageID), err))
					continue
				}
				w.Messages = append(w.Messages, m)
			}
			for i, raw := range v.Statuses {
				st, err := limitItem(raw, parseMetaStatus)
				if err != nil {
					w.Skipped = append(w.Skipped, fmt.Sprintf("status %s: %v", itemName(i, st.ProviderMessageID), err))
					continue
				}
				w.Acks = append(w.Acks, st)
			}
		}
	}
	if len(w.Messages) == 0 && len(w.Acks) == 0 && len(w.Skipped) == 0 {
		return w, true, errors.New("1msg webhook in Meta's format (rawHooks) with neither messages nor statuses; " + rawHooksHint)
	}
	return w, true, nil
}

func parseMetaMessage(raw json.RawMessage, echo bool, names map[string]string) (Message, error) {
	var mm metaMessage
	if err := json.Unmarshal(raw, &mm); err != nil {
		return Message{}, fmt.Errorf("not readable: %w", err)
	}
	m := Message{Inbound: channel.Inbound{ProviderMessageID: strings.TrimSpace(string(mm.ID))}, FromMe: echo}
	if m.ProviderMessageID == "" {
		return m, errors.New("no id")
	}
	// The client is the sender of a message, the recipient of an echo.
	num, uid := mm.From, mm.FromUserID
	if echo {
		num, uid = mm.To, mm.ToUserID
	}
	if d := strings.TrimPrefix(strings.TrimSpace(string(num)), "+"); d != "" {
		n, err := clientNumber(d)
		if err != nil {
			return m, err
		}
		m.From = n
	}
	if u := strings.TrimSpace(string(uid)); channel.IsUserID(u) {
		m.UserID = u
	}
	if m.From == "" && m.UserID == "" {
		return m, errors.New("no client number or WhatsApp user id")
	}
	if !echo {
		m.ProfileName = cmp.Or(names[strings.TrimPrefix(string(num), "+")], names[m.UserID])
	}
	if at, ok := writtenAt(mm.Timestamp); ok {
		m.At = at
	}
	m.QuotedID = strings.TrimSpace(string(mm.Context.ID))
	if r := mm.Referral; r != nil {
		m.Referral = &channel.Referral{
			SourceURL: string(r.SourceURL), SourceID: string(r.SourceID), SourceType: string(r.SourceType),
			Headline: string(r.Headline), Body: string(r.Body), MediaURL: firstOf(r.ImageURL, r.VideoURL), CtwaClid: string(r.CtwaClid),
		}
	}
	kind := strings.ToLower(strings.TrimSpace(string(mm.Type)))
	media := map[string]*metaMedia{"image": mm.Image, "video": mm.Video, "audio": mm.Audio, "voice": mm.Voice, "document": mm.Document, "sticker": mm.Sticker}
	switch {
	case kind == "text":
		m.Body = string(mm.Text.Body)
	case kind == "button":
		m.ButtonText, m.ButtonPayload = string(mm.Button.Text), string(mm.Button.Payload)
		m.Body = m.ButtonText
	case kind == "interactive":
		if br := mm.Interactive.ButtonReply; br.Title != "" {
			m.ButtonText, m.ButtonPayload = string(br.Title), string(br.ID)
		} else {
			m.ButtonText, m.ButtonPayload = string(mm.Interactive.ListReply.Title), string(mm.Interactive.ListReply.ID)
		}
		m.Body = m.ButtonText
	case kind == "location" && mm.Location != nil:
		m.Location = &channel.Location{Latitude: string(mm.Location.Latitude), Longitude: string(mm.Location.Longitude),
			Label: string(mm.Location.Name), Address: string(mm.Location.Address)}
	case kind == "contacts":
		for _, c := range mm.Contacts {
			ct := channel.Contact{Name: firstOf(c.Name.FormattedName, text(strings.TrimSpace(string(c.Name.FirstName)+" "+string(c.Name.LastName)))), Org: string(c.Org.Company)}
			for _, p := range c.Phones {
				ct.Phones = append(ct.Phones, string(p.Phone))
			}
			for _, e := range c.Emails {
				ct.Emails = append(ct.Emails, string(e.Email))
			}
			m.Contacts = append(m.Contacts, ct)
		}
	case media[kind] != nil:
		md := media[kind]
		m.Body = string(md.Caption)
		if link := firstOf(md.Link, md.URL); strings.HasPrefix(link, "https://") || strings.HasPrefix(link, "http://") {
			m.Media = []channel.MediaRef{{URL: link, ContentType: string(md.MimeType), Filename: string(md.Filename)}}
			break
		}
		// Meta names the file by a media id only the Cloud API can fetch:
		// the agent sees that a file came, and how to get the next ones.
		m.Unsupported = kind
		m.Body = strings.TrimSpace(strings.Join([]string{string(md.Filename), m.Body}, " "))
		m.Body = strings.TrimSpace(m.Body + " (the file cannot be downloaded while rawHooks is on: " + rawHooksHint + ")")
	default:
		m.Unsupported = cmp.Or(kind, "unknown")
	}
	if m.Body == "" && len(m.Media) == 0 && m.Location == nil && len(m.Contacts) == 0 && m.Unsupported == "" && m.Referral == nil {
		return m, fmt.Errorf("empty %s message", kind)
	}
	return m, nil
}

func parseMetaStatus(raw json.RawMessage) (channel.Status, error) {
	var ms metaStatus
	if err := json.Unmarshal(raw, &ms); err != nil {
		return channel.Status{}, fmt.Errorf("not readable: %w", err)
	}
	st := channel.Status{ProviderMessageID: strings.TrimSpace(string(ms.ID))}
	if st.ProviderMessageID == "" {
		return st, errors.New("no id")
	}
	switch s := strings.ToLower(strings.TrimSpace(string(ms.Status))); s {
	case "sent":
		st.Status = channel.StatusSent
	case "delivered":
		st.Status = channel.StatusDelivered
	case "read":
		st.Status = channel.StatusRead
	case "failed":
		st.Status = channel.StatusFailed
		if len(ms.Errors) > 0 {
			e := ms.Errors[0]
			st.ErrorCode = strings.TrimSpace(string(e.Code))
			st.ErrorText = firstOf(e.ErrorData.Details, e.Message, e.Title)
		}
	default:
		return st, fmt.Errorf("status %q", s)
	}
	return st, nil
}
