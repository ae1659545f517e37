package main

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"parley/internal/sandbox"
)

// R1: forged webhooks. Each is a customer's message to the demo tenant
// that a provider did not send, or did not send like this; each must be
// refused and store nothing. The marker in every forged body finds any row
// that got through.
func runR1(ctx context.Context, w *world, o options, r *row) error {
	b, err := w.otherTenant(ctx)
	if err != nil {
		return err
	}
	marker := "zqforged" + randHex(6)
	rounds := 20
	if o.Short {
		rounds = 3
	}
	path := hookPath(w.twilioHook)
	type forgery struct {
		name string
		send func(rep *replica, i int) (int, error)
	}
	form := func(i int) url.Values {
		return twilioInbound(newSid(), "+1555888"+pad4(i), sandbox.DemoTwilioSender, "Forged "+marker)
	}
	forgeries := []forgery{
		{"no signature", func(rep *replica, i int) (int, error) {
			return postTwilio(ctx, rep.url, path, form(i), "", "")
		}},
		{"wrong signature", func(rep *replica, i int) (int, error) {
			return postTwilio(ctx, rep.url, path, form(i), randHex(16), w.twilioHook)
		}},
		{"signature over another URL", func(rep *replica, i int) (int, error) {
			return postTwilio(ctx, rep.url, path, form(i), sandbox.DemoTwilioAuthToken, strings.Replace(w.twilioHook, "/webhooks/twilio/", "/webhooks/twilio/x", 1))
		}},
		{"signature over another host", func(rep *replica, i int) (int, error) {
			return postTwilio(ctx, rep.url, path, form(i), sandbox.DemoTwilioAuthToken, strings.Replace(w.twilioHook, "127.0.0.1", "evil.example.com", 1))
		}},
		{"another integration's token", func(rep *replica, i int) (int, error) {
			// Signed by the other tenant's account, over the demo URL.
			return postTwilio(ctx, rep.url, path, form(i), b.authToken, w.twilioHook)
		}},
		{"the other tenant's URL, signed by the demo account", func(rep *replica, i int) (int, error) {
			return postTwilio(ctx, rep.url, hookPath(b.hook), form(i), sandbox.DemoTwilioAuthToken, b.hook)
		}},
		{"replayed body with changes", func(rep *replica, i int) (int, error) {
			f := twilioInbound(newSid(), "+1555888"+pad4(i), sandbox.DemoTwilioSender, "Genuine")
			sig := sandbox.SignTwilio(sandbox.DemoTwilioAuthToken, w.twilioHook, f)
			f.Set("Body", "Forged "+marker)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, rep.url+path, strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Twilio-Signature", sig)
			return do(req)
		}},
		{"replayed body with a field added", func(rep *replica, i int) (int, error) {
			f := twilioInbound(newSid(), "+1555888"+pad4(i), sandbox.DemoTwilioSender, "Forged "+marker)
			sig := sandbox.SignTwilio(sandbox.DemoTwilioAuthToken, w.twilioHook, f)
			f.Set("ProfileName", "Forged "+marker)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, rep.url+path, strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Twilio-Signature", sig)
			return do(req)
		}},
		{"unknown Twilio token", func(rep *replica, i int) (int, error) {
			hook := w.baseURL + "/webhooks/twilio/" + randHex(16)
			return postTwilio(ctx, rep.url, hookPath(hook), form(i), sandbox.DemoTwilioAuthToken, hook)
		}},
		{"unknown 1msg token", func(rep *replica, i int) (int, error) {
			return postJSON(ctx, rep.url+"/webhooks/1msg/"+randHex(16), oneMsgInbound([]string{newWamid()}, "+1555888"+pad4(i), "Forged "+marker))
		}},
		{"1msg body at a Twilio URL", func(rep *replica, i int) (int, error) {
			return postJSON(ctx, rep.url+path, oneMsgInbound([]string{newWamid()}, "+1555888"+pad4(i), "Forged "+marker))
		}},
	}
	tried, refused := 0, 0
	var accepted []string
	for i := range rounds {
		for j, f := range forgeries {
			rep := w.replicas[(i+j)%len(w.replicas)]
			st, err := f.send(rep, i*len(forgeries)+j)
			if err != nil {
				return err
			}
			tried++
			if st >= 400 && st < 500 {
				refused++
			} else {
				accepted = append(accepted, f.name+": "+http.StatusText(st))
			}
		}
	}
	rows := w.count(ctx, `SELECT count(*) FROM messages WHERE body LIKE '%'||$1||'%'`, marker) +
		w.count(ctx, `SELECT count(*) FROM clients WHERE whatsapp LIKE '+1555888%' OR name LIKE '%'||$1||'%'`, marker)
	r.add("tried", tried)
	r.add("refused (4xx)", refused)
	r.zero("not refused", tried-refused)
	r.zero("rows written", rows)
	if len(accepted) > 0 {
		r.fail("accepted: %s", strings.Join(uniq(accepted), ", "))
	}
	return nil
}

func pad4(i int) string {
	s := "0000" + strconv.Itoa(i)
	return s[len(s)-4:]
}

func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
