package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"parley/internal/sandbox"
)

// idKinds are the tables whose ids appear in Parley's URLs, with the
// columns a request of another tenant must never change.
var idKinds = []struct{ table, volatile string }{
	{"agents", "seen_at"},
	{"groups", ""},
	{"invitations", ""},
	{"integrations", ""},
	{"clients", "updated_at"},
	{"client_merges", ""},
	{"cases", "status,preview,unread,last_activity_at,activity_bin,window_closed_at"},
	{"messages", "status,updated_at,error_code,error_message,provider_message_id,meta"},
	{"attachments", "state,size,storage_key,error"},
	{"macros", ""},
	{"rules", ""},
}

var routeParam = regexp.MustCompile(`\{[^}]+\}|\*$`)

// R6: the demo tenant's admin requests every route of the router (walked,
// not listed), GET and POST, with every kind of id of the other tenant in
// every id place. Nothing of the other tenant may show, and nothing of it
// may change.
func runR6(ctx context.Context, w *world, o options, r *row) error {
	b, err := w.otherTenant(ctx)
	if err != nil {
		return err
	}
	type route struct{ method, pattern string }
	var routes []route
	walk := func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes = append(routes, route{method, pattern})
		return nil
	}
	mux, ok := w.app.Handler.(chi.Routes)
	if !ok {
		return fmt.Errorf("the app's handler is a %T, not a chi router", w.app.Handler)
	}
	if err := chi.Walk(mux, walk); err != nil {
		return err
	}
	// The other tenant's ids, of every kind, that are no id of the demo
	// tenant in any table: an answer can then only be the other tenant's
	// data or nothing.
	var demoTenant string
	if err := w.pool.QueryRow(ctx, `SELECT tenant_id FROM agents WHERE email = $1`, sandbox.DemoEmail).Scan(&demoTenant); err != nil {
		return err
	}
	demoIDs := map[int64]bool{}
	theirs := map[string][]int64{}
	for _, k := range idKinds {
		rows, err := w.pool.Query(ctx, `SELECT id, tenant_id = $1 FROM `+k.table+` WHERE tenant_id IN ($1, $2) ORDER BY id`, demoTenant, b.tenantID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			var demo bool
			if err := rows.Scan(&id, &demo); err != nil {
				return err
			}
			if demo {
				demoIDs[id] = true
			} else {
				theirs[k.table] = append(theirs[k.table], id)
			}
		}
		rows.Close()
	}
	var kinds []string
	ids := map[string]string{}
	for _, k := range idKinds {
		for _, id := range theirs[k.table] {
			if !demoIDs[id] {
				kinds = append(kinds, k.table)
				ids[k.table] = strconv.FormatInt(id, 10)
				break
			}
		}
	}
	if len(kinds) < 8 {
		return fmt.Errorf("the other tenant has ids of only %d kinds (%v)", len(kinds), kinds)
	}
	before, err := w.digest(ctx, b)
	if err != nil {
		return err
	}

	admin, err := login(ctx, w.replicas[0].url, sandbox.DemoEmail, sandbox.DemoPassword)
	if err != nil {
		return err
	}
	agents := []*agent{admin, admin.on(w.replicas[1].url)}
	skip := func(rt route) bool {
		return strings.HasPrefix(rt.pattern, "/sandbox") || strings.HasPrefix(rt.pattern, "/static") ||
			rt.pattern == "/events" || rt.pattern == "/logout" || rt.method == http.MethodPost && !strings.Contains(rt.pattern, "{")
	}
	requests, answered404, leaked := 0, 0, 0
	other := map[string]int{}
	var leaks []string
	patterns := 0
	for _, rt := range routes {
		if skip(rt) || (rt.method != http.MethodGet && rt.method != http.MethodPost) {
			continue
		}
		patterns++
		nParams := len(routeParam.FindAllString(rt.pattern, -1))
		// Every combination of kinds in the id places.
		combos := [][]string{{}}
		for range nParams {
			var next [][]string
			for _, c := range combos {
				for _, k := range kinds {
					next = append(next, append(slices.Clone(c), k))
				}
			}
			combos = next
		}
		for ci, c := range combos {
			i := 0
			path := routeParam.ReplaceAllStringFunc(rt.pattern, func(string) string {
				v := ids[c[i]]
				i++
				return v
			})
			path = strings.TrimSuffix(path, "/")
			if path == "" {
				path = "/"
			}
			a := agents[(requests+ci)%len(agents)]
			var st int
			var body []byte
			if rt.method == http.MethodGet {
				st, body, err = a.get(ctx, path)
			} else {
				st, body, err = a.post(ctx, path, nil)
			}
			if err != nil {
				return fmt.Errorf("%s %s: %w", rt.method, path, err)
			}
			requests++
			if n := bytes.Count(body, []byte(b.marker)); n > 0 {
				leaked += n * len(b.marker)
				leaks = append(leaks, rt.method+" "+rt.pattern)
			}
			if st == http.StatusNotFound {
				answered404++
			} else if nParams > 0 {
				other[fmt.Sprintf("%s %s → %d", rt.method, rt.pattern, st)]++
			}
		}
	}
	// The control: the other tenant's own admin sees its chat, marker and
	// all, through the same client; a detector that never fires proves
	// nothing.
	own, err := login(ctx, w.replicas[1].url, b.email, b.password)
	if err != nil {
		return err
	}
	if st, body, err := own.get(ctx, "/chats/"+ids["cases"]); err != nil || st != http.StatusOK || !bytes.Contains(body, []byte(b.marker)) {
		r.fail("control: the other tenant's admin does not see its own chat (%d, %v)", st, err)
	}
	after, err := w.digest(ctx, b)
	if err != nil {
		return err
	}
	var changed []string
	for t, d := range before {
		if after[t] != d {
			changed = append(changed, t)
		}
	}
	sort.Strings(changed)
	r.add("routes", patterns)
	r.add("id kinds", fmt.Sprintf("%d (%s)", len(kinds), strings.Join(kinds, ", ")))
	r.add("requests", requests)
	r.add("answered 404", answered404)
	var notFound []string
	for k, n := range other {
		notFound = append(notFound, fmt.Sprintf("%s (%d)", k, n))
	}
	sort.Strings(notFound)
	if len(notFound) > 0 {
		r.add("with an id, answered otherwise", strings.Join(notFound, "; "))
	}
	r.zero("bytes of the other tenant's data seen", leaked)
	r.zero("tables of the other tenant changed", len(changed))
	if len(leaks) > 0 {
		r.fail("leaked on %s", strings.Join(uniq(leaks), ", "))
	}
	if len(changed) > 0 {
		r.fail("changed: %s", strings.Join(changed, ", "))
	}
	return nil
}

// digest is a hash per table of the other tenant's rows, without the
// columns that its own background work changes.
func (w *world) digest(ctx context.Context, b *other) (map[string]string, error) {
	out := map[string]string{}
	for _, k := range idKinds {
		drop := "'{}'::text[]"
		if k.volatile != "" {
			drop = "'{" + k.volatile + "}'::text[]"
		}
		var d string
		if err := w.pool.QueryRow(ctx, `SELECT coalesce(md5(string_agg((to_jsonb(t) - `+drop+`)::text, ',' ORDER BY id)), '')
			FROM `+k.table+` t WHERE tenant_id = $1`, b.tenantID).Scan(&d); err != nil {
			return nil, fmt.Errorf("digest %s: %w", k.table, err)
		}
		out[k.table] = d
	}
	return out, nil
}
