package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"parley/internal/channel"
	"parley/internal/conversation"
	"parley/internal/integration"
	"parley/internal/problem"
	"parley/internal/tenant"
	"parley/web"
)

// maxReplyBytes is the reply route's body limit: a 16 MB file and the form.
const maxReplyBytes = channel.MaxOutboundFileBytes + 1<<20

func (s *Server) chatsPage(w http.ResponseWriter, r *http.Request) {
	s.renderChats(w, r, 0)
}

func (s *Server) chatPage(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderChats(w, r, id)
}

func (s *Server) renderChats(w http.ResponseWriter, r *http.Request, openID int64) {
	ctx := r.Context()
	sg := signed(r)
	v, err := s.chatsView(r, openID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if v.Open != nil && v.Open.Unread > 0 {
		if err := s.Conversations.MarkRead(ctx, sg.Tenant.ID, sg.Agent.ID, openID); err != nil {
			s.fail(w, r, err)
			return
		}
		for i := range v.Chats {
			if v.Chats[i].ID == openID {
				v.Chats[i].Unread = 0
			}
		}
	}
	p := s.page(r, "Chats", "chats")
	// The stream's first event sends the list again only if it differs
	// from the one this page draws (something changed meanwhile).
	lh, err := listHash(ctx, v)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := url.Values{"list": {"1"}, "lh": {lh}}
	if v.Open != nil {
		p.Title = v.Open.ClientName + " · Chats"
		if err := openStreamQuery(ctx, q, *v.Open, v.Now, v.Messages, chatFragments(*v.Open, v.Me)); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	p.Events = "/events?" + q.Encode()
	s.render(w, r, http.StatusOK, web.ChatsPage(p, v))
}

// chatsView gathers the chats page: the live chats and, when openID is
// set, that conversation and its composer.
func (s *Server) chatsView(r *http.Request, openID int64) (web.ChatsView, error) {
	ctx := r.Context()
	sg := signed(r)
	v := web.ChatsView{Now: s.Clock.Now(), Me: sg.Agent.ID}
	var err error
	if v.Chats, err = s.Conversations.LiveChats(ctx, sg.Tenant.ID, sg.Agent.ID); err != nil {
		return v, err
	}
	if openID == 0 {
		return v, nil
	}
	c, err := s.Conversations.CaseFor(ctx, sg.Tenant.ID, sg.Agent.ID, openID)
	if err != nil {
		return v, err
	}
	v.Open = &c
	if v.Messages, v.MoreBefore, err = s.Conversations.MessagePage(ctx, sg.Tenant.ID, openID, 0, web.MessagesShown); err != nil {
		return v, err
	}
	if v.ClientCases, err = s.Conversations.ClientCases(ctx, sg.Tenant.ID, c.ClientID, c.ID); err != nil {
		return v, err
	}
	if v.Groups, err = s.Tenants.Groups(ctx, sg.Tenant.ID); err != nil {
		return v, err
	}
	if v.Agents, err = s.Tenants.Agents(ctx, sg.Tenant.ID); err != nil {
		return v, err
	}
	v.Composer, err = s.composerFor(r, c, web.Form{})
	return v, err
}

// listHash names the chat list's markup, its times to the minute.
func listHash(ctx context.Context, v web.ChatsView) (string, error) {
	v.Now = v.Now.Truncate(time.Minute)
	h := fnv.New64a()
	if err := web.ChatList(v).Render(ctx, h); err != nil {
		return "", err
	}
	return strconv.FormatUint(h.Sum64(), 36), nil
}

// olderMessages answers the conversation's loader: the messages before
// ?before= (a message id), a page of them.
func (s *Server) olderMessages(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	before, err := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	if err != nil || before <= 0 {
		s.fail(w, r, problem.New(problem.Invalid, "Say which message to load the messages before."))
		return
	}
	sg := signed(r)
	c, err := s.Conversations.Case(r.Context(), sg.Tenant.ID, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ms, more, err := s.Conversations.MessagePage(r.Context(), sg.Tenant.ID, id, before, web.MessagesShown)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.OlderMessages(s.Clock.Now(), c, ms, more))
}

// composerFor is the composer of c with the tenant's default end status.
func (s *Server) composerFor(r *http.Request, c conversation.Case, f web.Form) (web.ComposerView, error) {
	tid := signed(r).Tenant.ID
	st, err := s.Tenants.ChatSettings(r.Context(), tid)
	v := s.composer(c, f)
	v.EndStatus = st.EndStatus
	if err == nil {
		v.Statuses, err = s.Tenants.Statuses(r.Context(), tid)
	}
	provider := ""
	if err == nil && c.IntegrationID != nil {
		var ig integration.Integration
		if ig, err = s.Integrations.Get(r.Context(), tid, *c.IntegrationID); err == nil {
			provider = ig.Provider
			v.ReplyButtons = ig.Provider == integration.OneMsg
		}
	}
	if cs, cerr := s.CloudStorage.Get(r.Context(), tid); cerr == nil {
		v.CloudMaxBytes = cs.MaxBytes
	}
	v.Admin = signed(r).Agent.IsAdmin()
	// The browser's own check of a file before it is uploaded.
	rules, _ := json.Marshal(channel.LimitsFor(provider).BrowserRules())
	v.FileRules = string(rules)
	return v, err
}

func (s *Server) composer(c conversation.Case, f web.Form) web.ComposerView {
	closed := "" // the composer's own words for a closed window
	if c.AwaitingClient() {
		closed = conversation.AwaitingClientMessage
	}
	return web.ComposerView{
		CaseID: c.ID, Live: c.State == conversation.StateLive, Open: c.WindowOpen(s.Clock.Now()), Ends: c.WindowEnds(),
		ClosedText: closed, Key: uuid.NewString(), Form: f, MaxBytes: channel.MaxOutboundFileBytes, Now: s.Clock.Now(),
	}
}

// reply stores an agent's reply (text or one file) and answers with a fresh
// composer; the conversation updates through server-sent events.
func (s *Server) reply(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sg := signed(r)
	id, err := idParam(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.Conversations.Case(ctx, sg.Tenant.ID, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// tooLarge answers an upload over Parley's cap; size is the request's
	// (the file and the form), or 0 when only the limit is known.
	tooLarge := func(size int64) {
		this := "larger"
		if size > 0 {
			this = channel.SizeWords(size)
		}
		f := web.Form{Values: map[string]string{}, Errors: map[string]string{
			"file": fmt.Sprintf("Parley sends files of at most %s; this one is %s. Nothing was sent. Larger files can be sent as links with cloud storage (Settings → Integrations → Cloud storage).",
				channel.SizeWords(channel.MaxOutboundFileBytes), this),
		}}
		v, err := s.composerFor(r, c, f)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		v.CloudHint = true
		s.render(w, r, http.StatusRequestEntityTooLarge, web.Composer(v))
	}
	if r.ContentLength > maxReplyBytes {
		// Over WhatsApp's limit: the tenant's cloud storage takes it, if
		// connected, and the client gets a link.
		if cs, err := s.CloudStorage.Get(ctx, sg.Tenant.ID); err == nil {
			s.replyAsLink(w, r, c, cs)
			return
		}
		tooLarge(r.ContentLength)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxReplyBytes)
	if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			tooLarge(0)
			return
		}
		s.renderComposer(w, r, http.StatusUnprocessableEntity, c, web.Form{Msg: "The message could not be read. Try again."})
		return
	}
	tpl, err := s.templateUse(r, c.IntegrationID)
	if _, ok := problem.As(err); ok {
		s.renderComposer(w, r, http.StatusUnprocessableEntity, c, formOf(r, err))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	reply := conversation.Reply{Body: r.FormValue("body"), Template: tpl, Buttons: r.Form["button"], Status: r.FormValue("status"),
		IdempotencyKey: r.FormValue("key"), Seen: r.FormValue("seen")}
	if f, ok := formUpload(r, "file"); ok && tpl == nil {
		reply.File = f
		// Just over 16 MB (within the form's margin): a link too, when the
		// tenant has cloud storage.
		if f.Size > channel.MaxOutboundFileBytes && s.CloudStorage.Connected(ctx, sg.Tenant.ID) {
			s.sendSmallAsLink(w, r, c, reply)
			return
		}
	}
	_, err = s.Conversations.SendReply(ctx, sg.Tenant.ID, sg.Agent.ID, id, reply)
	if p, ok := problem.As(err); ok && p.Kind != problem.NotFound {
		f := formOf(r, err)
		f.Values = map[string]string{"body": r.FormValue("body")}
		if c2, err := s.Conversations.Case(ctx, sg.Tenant.ID, id); err == nil {
			c = c2 // the chat may have ended or its window closed meanwhile
		}
		s.renderComposerWith(w, r, statusOf(p.Kind), c, f, keepTemplate(r, &f, tpl), reply.Status)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if reply.Seen == conversation.StateEnded {
		// The reply reopened the case: the agent goes on in the live chat.
		redirect(w, r, "/chats/"+strconv.FormatInt(id, 10))
		return
	}
	s.renderComposer(w, r, http.StatusOK, c, web.Form{})
}

func (s *Server) renderComposer(w http.ResponseWriter, r *http.Request, status int, c conversation.Case, f web.Form) {
	s.renderComposerWith(w, r, status, c, f, nil, "")
}

// renderComposerWith draws the composer with a template and a macro's
// status kept in it.
func (s *Server) renderComposerWith(w http.ResponseWriter, r *http.Request, status int, c conversation.Case, f web.Form, t *channel.Template, macroStatus string) {
	v, err := s.composerFor(r, c, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.Template, v.Status = t, macroStatus
	s.render(w, r, status, web.Composer(v))
}

func (s *Server) deleteMessage(w http.ResponseWriter, r *http.Request) {
	caseID, err := idParam(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	msgID, err := idParam(r, "msg")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Conversations.DeleteMessage(r.Context(), signed(r).Tenant.ID, caseID, msgID); err != nil {
		s.fail(w, r, err)
		return
	}
	if r.Header.Get("HX-Request") == "true" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	redirect(w, r, "/chats/"+strconv.FormatInt(caseID, 10))
}

// file serves an attachment to the tenant's agents.
func (s *Server) file(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a, f, err := s.Conversations.OpenAttachment(r.Context(), signed(r).Tenant.ID, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer f.Close()
	serveAttachment(w, r, a, f, r.URL.Query().Get("download") == "1" || !a.IsImage())
}

// publicMedia serves an agent's outgoing file to the provider, by the
// unguessable token in its URL.
func (s *Server) publicMedia(w http.ResponseWriter, r *http.Request) {
	a, f, err := s.Conversations.OpenPublicAttachment(r.Context(), chi.URLParam(r, "token"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	serveAttachment(w, r, a, f, false)
}

// formUpload is the form's file field as an Upload, read from where the
// form keeps it (a temporary file over 1 MB): never whole in memory. The
// request's end closes it.
func formUpload(r *http.Request, field string) (*conversation.Upload, bool) {
	file, hdr, err := r.FormFile(field)
	if err != nil {
		return nil, false
	}
	context.AfterFunc(r.Context(), func() { file.Close() })
	return conversation.NewUpload(hdr.Filename, hdr.Header.Get("Content-Type"), file, hdr.Size), true
}

func serveAttachment(w http.ResponseWriter, r *http.Request, a conversation.Attachment, f io.ReadSeeker, download bool) {
	h := w.Header()
	h.Set("Content-Type", a.ContentType)
	// A stored file is never a page of ours: nothing in it may run.
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox")
	disp := "inline"
	if download {
		disp = "attachment"
	}
	h.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": strings.ReplaceAll(a.Filename, "\"", "")}))
	http.ServeContent(w, r, "", time.Time{}, f)
}

// endChat ends a live chat with the status the agent picked.
func (s *Server) endChat(w http.ResponseWriter, r *http.Request) {
	id, ok := s.idForm(w, r)
	if !ok {
		return
	}
	sg := signed(r)
	if err := s.Conversations.EndChat(r.Context(), sg.Tenant.ID, id, r.PostFormValue("status"), sg.Agent.Name); err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/chats")
}

func (s *Server) takeChat(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sg := signed(r)
	c, err := s.Conversations.Case(r.Context(), sg.Tenant.ID, id)
	if err == nil {
		err = s.Conversations.Assign(r.Context(), sg.Tenant.ID, id, c.GroupID, &sg.Agent.ID, sg.Agent.Name)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/chats/"+strconv.FormatInt(id, 10))
}

// transferChat moves a chat to "g<group>" or "g<group>a<agent>".
func (s *Server) transferChat(w http.ResponseWriter, r *http.Request) {
	id, ok := s.idForm(w, r)
	if !ok {
		return
	}
	var groupID, agentID int64
	to := r.PostFormValue("to")
	if n, _ := fmt.Sscanf(to, "g%da%d", &groupID, &agentID); n == 0 || groupID <= 0 {
		s.fail(w, r, problem.New(problem.Invalid, "Choose where to transfer the chat."))
		return
	}
	var agent *int64
	if agentID > 0 {
		agent = &agentID
	}
	sg := signed(r)
	if err := s.Conversations.Assign(r.Context(), sg.Tenant.ID, id, groupID, agent, sg.Agent.Name); err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/chats/"+strconv.FormatInt(id, 10))
}

func (s *Server) addNote(w http.ResponseWriter, r *http.Request) {
	id, ok := s.idForm(w, r)
	if !ok {
		return
	}
	sg := signed(r)
	if err := s.Conversations.AddNote(r.Context(), sg.Tenant.ID, sg.Agent.ID, id, r.PostFormValue("note")); err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/chats/"+strconv.FormatInt(id, 10))
}

// alertsPage shows the agent's own alerts.
func (s *Server) alertsPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, web.AlertsPage(s.page(r, "Alerts", ""), r.URL.Query().Get("saved") == "1"))
}

// setAlerts records the agent's alerts.
func (s *Server) setAlerts(w http.ResponseWriter, r *http.Request) {
	sg := signed(r)
	a := tenant.Alerts{Desktop: r.PostFormValue("desktop") == "1", Sound: r.PostFormValue("sound") == "1"}
	if err := s.Tenants.SetAlerts(r.Context(), sg.Tenant.ID, sg.Agent.ID, a); err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/me/alerts?saved=1")
}
