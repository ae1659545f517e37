package httpserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/a-h/templ"
	"github.com/google/uuid"

	"parley/internal/conversation"
	"parley/web"
)

// tailSize is how many of the open conversation's last messages a stream
// watches for changes (delivery status, a failed send, a file arriving).
const tailSize = 20

// liveStream is one page's event stream: the indicator on every page; on
// the chats page (?list=1) the rows of the live list; for the open chat
// or case (?case=, on the chats page or a case's page ?view=case) its
// header, new and changed messages and the composer; on a client's page
// (?client=) word that another agent changed the profile. Its first
// events bring the page up to date (after a reconnect too); later ones
// carry only what changed.
type liveStream struct {
	s        *Server
	w        http.ResponseWriter
	r        *http.Request
	tid      uuid.UUID
	me       int64
	list     bool
	casePage bool
	open     int64
	pageTop  int64 // the open chat's last message the page drew
	client   int64
	clientV  string // the client's profile version last drawn

	groups    map[int64]bool
	chats     map[int64]chatState
	indicator int
	frags     map[string]string // the open chat's fragments as sent, by event
	composer  string
	tail      []int64 // ids of the open chat's last messages sent
	sent      map[int64]uint64
	out       []byte // events not yet written
}

// flush writes the events gathered, in one write.
func (ls *liveStream) flush(f http.Flusher) error {
	if len(ls.out) == 0 {
		return nil
	}
	_, err := ls.w.Write(ls.out)
	if cap(ls.out) > 16<<10 {
		ls.out = nil // a whole list: not kept for the small events to come
	} else {
		ls.out = ls.out[:0]
	}
	f.Flush()
	return err
}

// chatState is what a stream keeps of a chat the agent sees, for the
// indicator and the alerts.
type chatState struct {
	group, assignee, lastRead int64
	unread                    int
}

// events streams server-sent events to an agent's page (see liveStream).
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ctx := r.Context()
	sg := signed(r)
	q := r.URL.Query()
	ls := &liveStream{s: s, w: w, r: r, tid: sg.Tenant.ID, me: sg.Agent.ID, indicator: -1,
		list: q.Get("list") == "1", casePage: q.Get("view") == "case", composer: q.Get("composer"), clientV: q.Get("clientv")}
	ls.open, _ = strconv.ParseInt(q.Get("case"), 10, 64)
	ls.pageTop, _ = strconv.ParseInt(q.Get("last"), 10, 64)
	ls.client, _ = strconv.ParseInt(q.Get("client"), 10, 64)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	f, queue := s.feeds.join(sg.Tenant.ID)
	defer s.feeds.leave(f, queue)
	online := func() {
		if err := s.Tenants.MarkOnline(ctx, sg.Tenant.ID, sg.Agent.ID); err != nil && ctx.Err() == nil {
			s.Log.WarnContext(ctx, "presence not recorded", "agent_id", sg.Agent.ID, "err", err)
		}
	}
	online()
	if err := ls.sync(ctx, true); err != nil {
		return
	}
	if err := ls.flush(flusher); err != nil {
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
			if !ls.sessionHolds(ctx) {
				return
			}
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			online()
		case <-queue.C:
			bs, resync := queue.take()
			var err error
			if resync {
				err = ls.sync(ctx, false)
			} else {
				for _, b := range bs {
					if err = ls.apply(ctx, b); err != nil {
						break
					}
				}
			}
			if err != nil {
				return
			}
			if err := ls.flush(flusher); err != nil {
				return
			}
			continue
		}
		flusher.Flush()
	}
}

// sync reads everything the page shows and sends it: the whole list, the
// indicator, the open chat's header, its messages the page lacks; then a
// "synced" event (the page is up to date).
func (ls *liveStream) sync(ctx context.Context, first bool) error {
	if !first && !ls.sessionHolds(ctx) {
		// Who sees what may have changed: a deactivated agent's stream
		// ends (their session no longer opens another).
		return errSessionEnded
	}
	if err := ls.syncAll(ctx, first); err != nil {
		return err
	}
	return ls.sendRaw("synced", []byte("1"))
}

func (ls *liveStream) syncAll(ctx context.Context, first bool) error {
	s := ls.s
	groups, err := s.Tenants.Groups(ctx, ls.tid)
	if err != nil {
		return err
	}
	ls.groups = map[int64]bool{}
	for _, g := range groups {
		if slices.Contains(g.MemberIDs, ls.me) {
			ls.groups[g.ID] = true
		}
	}
	chats, err := s.Conversations.LiveChats(ctx, ls.tid, ls.me)
	if err != nil {
		return err
	}
	reads, err := s.Conversations.Reads(ctx, ls.tid, ls.me)
	if err != nil {
		return err
	}
	ls.chats = make(map[int64]chatState, len(chats))
	for _, c := range chats {
		ls.chats[c.ID] = chatState{group: c.GroupID, assignee: deref64(c.AssigneeID), lastRead: reads[c.ID], unread: c.Unread}
	}
	var open *conversation.Case
	if ls.open != 0 {
		if c, err := s.Conversations.CaseFor(ctx, ls.tid, ls.me, ls.open); err == nil {
			open = &c
		}
	}
	if ls.list {
		v := web.ChatsView{Now: s.Clock.Now(), Chats: chats, Open: open, Me: ls.me}
		if open != nil {
			for i := range v.Chats {
				if v.Chats[i].ID == open.ID {
					v.Chats[i].Unread = 0 // read as the page opened
				}
			}
		}
		var same bool
		if first {
			h, err := listHash(ctx, v)
			if err != nil {
				return err
			}
			same = h == ls.r.URL.Query().Get("lh")
		}
		if !same {
			if err := ls.send(ctx, "chats", web.ChatList(v)); err != nil {
				return err
			}
		}
	}
	if err := ls.sendIndicator(ctx); err != nil {
		return err
	}
	if err := ls.clientChanged(ctx); err != nil {
		return err
	}
	if open == nil {
		return nil
	}
	if first {
		// The page drew the messages up to pageTop: as they are now, they
		// count as sent, unless one changed since (the hash the page gives
		// of its last ones differs) and they are all sent again. (So are
		// they when new messages came meanwhile: the last ones are others.)
		ms, _, err := s.Conversations.MessagePage(ctx, ls.tid, ls.open, 0, tailSize)
		if err != nil {
			return err
		}
		ms = slices.DeleteFunc(ms, func(m conversation.Message) bool { return m.ID > ls.pageTop })
		ls.sent = map[int64]uint64{}
		ls.tail = nil
		same := messagesHash(ms) == ls.r.URL.Query().Get("mh")
		for _, m := range ms {
			ls.tail = append(ls.tail, m.ID)
			if same {
				ls.sent[m.ID] = messageHash(m)
			}
		}
	}
	return ls.openChanged(ctx, *open, ls.r.URL.Query().Get("fh"))
}

// clientChanged tells a client's page that its profile changed since it
// was drawn (another agent edited or merged it): the page draws it again.
func (ls *liveStream) clientChanged(ctx context.Context) error {
	if ls.client == 0 {
		return nil
	}
	v, err := ls.s.Clients.Version(ctx, ls.tid, ls.client)
	if err != nil || v == ls.clientV {
		return err
	}
	ls.clientV = v
	return ls.sendRaw("client", []byte("changed"))
}

// sessionHolds says whether the stream's session still holds: a stream
// whose agent signed out of it, was deactivated or reset their password,
// or whose session expired, ends.
func (ls *liveStream) sessionHolds(ctx context.Context) bool {
	alive, err := ls.s.Sessions.Alive(ctx)
	holds := false
	if err == nil && alive {
		_, holds, err = ls.s.signedIn(ctx)
	}
	if err != nil && ctx.Err() == nil {
		ls.s.Log.WarnContext(ctx, "session not checked", "agent_id", ls.me, "err", err)
		return true // the next check decides
	}
	return holds
}

// errSessionEnded ends a stream whose session ended.
var errSessionEnded = errors.New("session ended")

// apply sends what a batch changed.
func (ls *liveStream) apply(ctx context.Context, b *batch) error {
	if b.changes.SignedOut[ls.me] && !ls.sessionHolds(ctx) {
		return errSessionEnded
	}
	if b.changes.Resync {
		return ls.sync(ctx, false)
	}
	for _, rd := range b.changes.Reads {
		if rd.Agent != ls.me {
			continue
		}
		st, ok := ls.chats[rd.Case]
		if !ok || st.lastRead >= rd.Message {
			continue
		}
		st.lastRead, st.unread = rd.Message, 0
		ls.chats[rd.Case] = st
		if ls.list {
			if err := ls.sendRaw("unread", []byte(strconv.FormatInt(rd.Case, 10)+" 0")); err != nil {
				return err
			}
		}
	}
	var open *conversation.Case
	for _, row := range b.rows {
		assignee := deref64(row.AssigneeID)
		visible := row.State == conversation.StateLive && (ls.groups[row.GroupID] || assignee == ls.me)
		prev, had := ls.chats[row.ID]
		if row.ID == ls.open {
			c := row.Case
			open = &c
		}
		if !visible {
			if had {
				delete(ls.chats, row.ID)
				if ls.list {
					if err := ls.sendRaw("unrow", []byte(strconv.FormatInt(row.ID, 10))); err != nil {
						return err
					}
				}
			}
			continue
		}
		st := chatState{group: row.GroupID, assignee: assignee, lastRead: prev.lastRead}
		st.unread = row.Unread(st.lastRead)
		if row.ID == ls.open && st.unread > 0 {
			// The agent is looking at it: read, and no alert.
			if err := ls.s.Conversations.MarkRead(ctx, ls.tid, ls.me, row.ID); err != nil {
				return err
			}
			if len(row.InIDs) > 0 {
				st.lastRead = row.InIDs[0]
			}
			st.unread = 0
		}
		ls.chats[row.ID] = st
		if st.unread > prev.unread && (assignee == ls.me || assignee == 0) {
			// A client wrote in a chat of the agent's: live.js shows a
			// desktop notification and plays a sound if the agent chose so.
			ls.out = append(ls.out, b.alert(row)...)
		}
		if ls.list {
			ls.out = append(ls.out, b.row(ctx, row, ls.me, st.unread, row.ID == ls.open)...)
		}
	}
	if err := ls.sendIndicator(ctx); err != nil {
		return err
	}
	if b.changes.Clients {
		if err := ls.clientChanged(ctx); err != nil {
			return err
		}
	}
	if open == nil && ls.open != 0 && b.changes.Cases[ls.open] {
		c, err := ls.s.Conversations.CaseFor(ctx, ls.tid, ls.me, ls.open)
		if err != nil {
			return err
		}
		open = &c
	}
	if open != nil {
		return ls.openChanged(ctx, *open, "")
	}
	return nil
}

// fragmentsChanged sends those of the open chat's fragments (its header;
// a case page's controls) that changed since last sent. On the stream's
// first sync, pageHash names the fragments the page drew: when they are
// the same, none is sent.
func (ls *liveStream) fragmentsChanged(ctx context.Context, c conversation.Case, pageHash string) error {
	var frs []fragment
	if ls.casePage {
		v := web.CaseView{Case: c}
		if err := ls.s.caseChoices(ctx, ls.tid, &v); err != nil {
			return err
		}
		frs = caseFragments(ls.s.Clock.Now(), v)
	} else {
		frs = chatFragments(c, ls.me)
	}
	html, err := renderFragments(ctx, frs)
	if err != nil {
		return err
	}
	first := ls.frags == nil
	if first && pageHash != "" && fragmentsHash(html) == pageHash {
		ls.frags = html
		return nil
	}
	if first {
		ls.frags = map[string]string{}
	}
	for _, f := range frs {
		if h := html[f.event]; h != ls.frags[f.event] {
			ls.frags[f.event] = h
			if err := ls.sendRaw(f.event, []byte(h)); err != nil {
				return err
			}
		}
	}
	return nil
}

// openChanged sends the open chat's changed fragments (pageHash: see
// fragmentsChanged), its new and changed messages, and the composer when
// its state changed.
func (ls *liveStream) openChanged(ctx context.Context, c conversation.Case, pageHash string) error {
	s := ls.s
	if err := ls.fragmentsChanged(ctx, c, pageHash); err != nil {
		return err
	}
	var buf bytes.Buffer
	after := ls.pageTop
	if len(ls.tail) > 0 {
		after = ls.tail[0] - 1
	}
	ms, err := s.Conversations.MessagesAfter(ctx, ls.tid, ls.open, after)
	if err != nil {
		return err
	}
	now := s.Clock.Now()
	seen := map[int64]bool{}
	for _, m := range ms {
		seen[m.ID] = true
		buf.Reset()
		if err := web.MessageItem(now, c, m).Render(ctx, &buf); err != nil {
			return err
		}
		hash := messageHash(m)
		if old, ok := ls.sent[m.ID]; ok && old == hash {
			continue
		}
		ls.sent[m.ID] = hash
		if err := ls.sendRaw("msg", buf.Bytes()); err != nil {
			return err
		}
	}
	for _, id := range ls.tail {
		if !seen[id] {
			delete(ls.sent, id)
			if err := ls.sendRaw("unmsg", []byte("m-"+strconv.FormatInt(id, 10))); err != nil {
				return err
			}
		}
	}
	ids := make([]int64, 0, len(ms))
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	if len(ids) > tailSize {
		for _, id := range ids[:len(ids)-tailSize] {
			delete(ls.sent, id)
		}
		ids = ids[len(ids)-tailSize:]
	}
	ls.tail = ids
	if st := composerStateOf(c, now); st != ls.composer {
		ls.composer = st
		cv, err := s.composerFor(ls.r, c, web.Form{})
		if err != nil {
			return err
		}
		return ls.send(ctx, "composer", web.Composer(cv))
	}
	return nil
}

// messageHash tells whether a message looks different than when sent.
func messageHash(m conversation.Message) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d|%s|%s|%d|%s", m.ID, m.Status, m.Body, len(m.Attachments), deref(m.ErrorMessage))
	for _, a := range m.Attachments {
		fmt.Fprintf(h, "|%s", a.State)
	}
	return h.Sum64()
}

// messagesHash names the messages a page drew last (up to tailSize): a
// page gives it in its stream's URL (?mh=), and the stream's first sync
// sends them again if they changed since.
func messagesHash(ms []conversation.Message) string {
	if len(ms) > tailSize {
		ms = ms[len(ms)-tailSize:]
	}
	h := fnv.New64a()
	for _, m := range ms {
		fmt.Fprintf(h, "%d,", messageHash(m))
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

// fragment is a part of a page an event replaces whole: the open chat's
// header on the chats page; a case page's header and its controls.
type fragment struct {
	event string
	c     templ.Component
}

func chatFragments(c conversation.Case, me int64) []fragment {
	return []fragment{{"head", web.ConvHead(web.HeadView{Case: c, Me: me})}}
}

// caseFragments are a case page's header and controls, as drawn with no
// form's problem, their times to the minute.
func caseFragments(now time.Time, v web.CaseView) []fragment {
	v.Form = web.Form{}
	return []fragment{{"casehead", web.CaseHead(now.Truncate(time.Minute), v.Case)}, {"casecontrols", web.CaseControls(v)}}
}

func renderFragments(ctx context.Context, frs []fragment) (map[string]string, error) {
	html := make(map[string]string, len(frs))
	var buf bytes.Buffer
	for _, f := range frs {
		buf.Reset()
		if err := f.c.Render(ctx, &buf); err != nil {
			return nil, err
		}
		html[f.event] = buf.String()
	}
	return html, nil
}

// fragmentsHash names the fragments a page drew: a page gives it in its
// stream's URL (?fh=), and the stream's first sync sends them only if
// they differ now.
func fragmentsHash(html map[string]string) string {
	h := fnv.New64a()
	for _, k := range slices.Sorted(maps.Keys(html)) {
		fmt.Fprintf(h, "%s\n%s\n", k, html[k])
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

// openStreamQuery adds to q what a page showing chat or case c drew (its
// messages ms, its fragments frs): the stream's first sync sends what
// changed since.
func openStreamQuery(ctx context.Context, q url.Values, c conversation.Case, now time.Time, ms []conversation.Message, frs []fragment) error {
	html, err := renderFragments(ctx, frs)
	if err != nil {
		return err
	}
	var last int64
	if len(ms) > 0 {
		last = ms[len(ms)-1].ID
	}
	q.Set("case", strconv.FormatInt(c.ID, 10))
	q.Set("composer", composerStateOf(c, now))
	q.Set("last", strconv.FormatInt(last, 10))
	q.Set("mh", messagesHash(ms))
	q.Set("fh", fragmentsHash(html))
	return nil
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

func (ls *liveStream) sendIndicator(ctx context.Context) error {
	n := 0
	for _, st := range ls.chats {
		switch {
		case st.assignee == ls.me:
			n += st.unread
		case st.assignee == 0 && ls.groups[st.group] && st.unread > 0:
			n++
		}
	}
	if n == ls.indicator {
		return nil
	}
	ls.indicator = n
	return ls.send(ctx, "indicator", web.ChatIndicator(n))
}

func (ls *liveStream) send(ctx context.Context, name string, c templ.Component) error {
	var buf bytes.Buffer
	if err := c.Render(ctx, &buf); err != nil {
		return err
	}
	return ls.sendRaw(name, buf.Bytes())
}

// sendRaw adds one event to those the stream writes next.
func (ls *liveStream) sendRaw(name string, data []byte) error {
	ls.out = appendEvent(ls.out, name, data)
	return nil
}

func deref64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
