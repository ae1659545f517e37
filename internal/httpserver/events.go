package httpserver

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"parley/internal/conversation"
	"parley/internal/realtime"
	"parley/web"
)

// events streams server-sent events to an agent's page. Pages other than
// a case's or a client's get liveEvents: the indicator, and on the chats
// page the changes of the list and the open chat, by difference. A case's
// page (?view=case) and a client's (?client=) get pageEvents, which sends
// their fragments whole as they are now on a change of theirs.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("view") == "case" || r.URL.Query().Get("client") != "" {
		s.pageEvents(w, r)
		return
	}
	s.liveEvents(w, r)
}

// pageEvents serves a case's or a client's page: on a change of theirs,
// the fragments are sent again whole.
func (s *Server) pageEvents(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ctx := r.Context()
	sg := signed(r)
	caseID, _ := strconv.ParseInt(r.URL.Query().Get("case"), 10, 64)
	// A client's page (?client=) gives the profile's version it drew
	// (?clientv=) and is told to reload when another agent changes it.
	clientID, _ := strconv.ParseInt(r.URL.Query().Get("client"), 10, 64)
	clientVersion := r.URL.Query().Get("clientv")
	profileChanged := func() error {
		if clientID == 0 {
			return nil
		}
		v, err := s.Clients.Version(ctx, sg.Tenant.ID, clientID)
		if err != nil || v == clientVersion {
			return err
		}
		clientVersion = v
		_, err = fmt.Fprint(w, "event: client\ndata: changed\n\n")
		return err
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	sub := s.Hub.Subscribe(sg.Tenant.ID)
	defer s.Hub.Unsubscribe(sub)
	// An agent is online while one of their pages holds this stream open.
	online := func() {
		if err := s.Tenants.MarkOnline(ctx, sg.Tenant.ID, sg.Agent.ID); err != nil && ctx.Err() == nil {
			s.Log.WarnContext(ctx, "presence not recorded", "agent_id", sg.Agent.ID, "err", err)
		}
	}
	online()

	// The page says in the URL how it drew the composer (?composer=); the
	// composer is pushed only when that changes (the window opens or
	// closes, the chat ends), so that what an agent is typing is not
	// replaced — including a change between drawing and connecting.
	composerState := r.URL.Query().Get("composer")
	if err := s.pushFragments(ctx, w, r, caseID, realtime.Changes{Resync: true}, &composerState); err != nil {
		return
	}
	if err := profileChanged(); err != nil {
		return
	}
	flusher.Flush()
	keepAlive := time.NewTicker(25 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-keepAlive.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			online()
		case <-sub.C:
			changed := sub.Changes()
			if err := s.pushFragments(ctx, w, r, caseID, changed, &composerState); err != nil {
				return
			}
			if changed.Clients || changed.Resync {
				if err := profileChanged(); err != nil {
					return
				}
			}
		}
		flusher.Flush()
	}
}

// pushFragments writes the indicator, the conversation when
// it is among what changed, and the composer when its state differs from
// *composer (which it then updates).
func (s *Server) pushFragments(ctx context.Context, w http.ResponseWriter, r *http.Request, caseID int64, changed realtime.Changes, composer *string) error {
	sg := signed(r)
	n, err := s.Conversations.WaitingCount(ctx, sg.Tenant.ID, sg.Agent.ID)
	if err != nil {
		return err
	}
	// These pages show no chat list: the indicator, and the case.
	v := web.ChatsView{Now: s.Clock.Now(), Me: sg.Agent.ID}
	if caseID != 0 {
		if c, err := s.Conversations.Case(ctx, sg.Tenant.ID, caseID); err == nil {
			v.Open = &c
		}
	}
	if err := writeEvent(ctx, w, "indicator", web.ChatIndicator(n)); err != nil {
		return err
	}
	if v.Open != nil && (changed.Chat(v.Open.ID, senderOf(*v.Open)) || changed.Chat(v.Open.ID, senderByUserID(*v.Open))) {
		ms, err := s.Conversations.Messages(ctx, sg.Tenant.ID, caseID)
		if err != nil {
			return err
		}
		if v.Open.Unread > 0 {
			_ = s.Conversations.MarkRead(ctx, sg.Tenant.ID, sg.Agent.ID, caseID)
		}
		if err := writeEvent(ctx, w, "conversation", web.Messages(v.Now, *v.Open, ms, false)); err != nil {
			return err
		}
		// A case's page (?view=case) shows the case's status, group,
		// assignee and tags in its header.
		// Its status and assignee forms follow, for another agent's change.
		if r.URL.Query().Get("view") == "case" {
			if err := writeEvent(ctx, w, "casehead", web.CaseHead(v.Now, *v.Open)); err != nil {
				return err
			}
			cv := web.CaseView{Case: *v.Open}
			if cv.Groups, err = s.Tenants.Groups(ctx, sg.Tenant.ID); err != nil {
				return err
			}
			if cv.Agents, err = s.Tenants.Agents(ctx, sg.Tenant.ID); err != nil {
				return err
			}
			if cv.Statuses, err = s.Tenants.Statuses(ctx, sg.Tenant.ID); err != nil {
				return err
			}
			if err := writeEvent(ctx, w, "casecontrols", web.CaseControls(cv)); err != nil {
				return err
			}
		}
	}
	if v.Open != nil {
		if st := composerStateOf(*v.Open, v.Now); st != *composer {
			*composer = st
			cv, err := s.composerFor(r, *v.Open, web.Form{})
			if err != nil {
				return err
			}
			return writeEvent(ctx, w, "composer", web.Composer(cv))
		}
	}
	return nil
}

// writeEvent renders c as one SSE event; each line of HTML is a data line.
func writeEvent(ctx context.Context, w http.ResponseWriter, name string, c templ.Component) error {
	var buf bytes.Buffer
	if err := c.Render(ctx, &buf); err != nil {
		return err
	}
	var out strings.Builder
	out.WriteString("event: " + name + "\n")
	for _, line := range strings.Split(buf.String(), "\n") {
		out.WriteString("data: " + line + "\n")
	}
	out.WriteString("\n")
	_, err := w.Write([]byte(out.String()))
	return err
}

// composerStateOf names what decides the composer's look.
func composerStateOf(c conversation.Case, now time.Time) string {
	if c.State != conversation.StateLive {
		return "ended"
	}
	if c.WindowOpen(now) {
		return "open"
	}
	if c.AwaitingClient() {
		return "waiting"
	}
	return "closed"
}

// senderOf is the sender whose messages land in chat c: its client's
// WhatsApp number on its integration (none for a chat without either).
func senderOf(c conversation.Case) realtime.Sender {
	if c.IntegrationID == nil || c.ClientWhatsApp == nil {
		return realtime.Sender{}
	}
	return realtime.Sender{IntegrationID: *c.IntegrationID, Number: *c.ClientWhatsApp}
}

// senderByUserID is chat c's sender by its client's WhatsApp user id
// (BSUID), which messages of a client who hides their number carry.
func senderByUserID(c conversation.Case) realtime.Sender {
	if c.IntegrationID == nil || c.ClientWhatsAppUserID == nil {
		return realtime.Sender{}
	}
	return realtime.Sender{IntegrationID: *c.IntegrationID, Number: *c.ClientWhatsAppUserID}
}
