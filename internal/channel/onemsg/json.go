package onemsg

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// text is a JSON scalar read as a string. 1msg sends some fields as a
// string or a number (phone, instanceId, self, time); null, objects and
// arrays read as "" so that one odd field does not lose a whole item.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		*t = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
	case b[0] == '{', b[0] == '[', string(b) == "null":
		*t = ""
	default: // a number, true or false
		*t = text(b)
	}
	return nil
}

// flag reads a JSON boolean that may come as true, "true", 1 or "1".
// ok is false when raw is absent or none of these.
func flag(raw json.RawMessage) (value, ok bool) {
	var t text
	if len(raw) == 0 || json.Unmarshal(raw, &t) != nil {
		return false, false
	}
	switch strings.ToLower(strings.TrimSpace(string(t))) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

// metaCodeRe finds a Meta error code in a text: "(#131047) Message failed…".
var metaCodeRe = regexp.MustCompile(`\(#(\d{1,9})\)`)

// metaCode is the Meta error code in s, or "".
func metaCode(s string) string {
	if m := metaCodeRe.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// errorBody is the error part of a 1msg answer in any of its shapes (§5):
// {"message": "…"}, {"error": "…"}, {"error": {"message", "code" |
// "error_code", "error_user_msg"}}, with "code" at the top as well.
type errorBody struct {
	Message text            `json:"message"`
	Error   json.RawMessage `json:"error"`
	Code    text            `json:"code"`
}

// graphError is Meta's error object, which 1msg passes on.
type graphError struct {
	Message     text `json:"message"`
	UserMessage text `json:"error_user_msg"`
	Code        text `json:"code"`
	ErrorCode   text `json:"error_code"`
}

// providerError reads 1msg's words and error code from an answer: the text
// from message, then error (a string), then error.error_user_msg and
// error.message; the code from error.code, error.error_code, code, and
// else a Meta code quoted in the text. A body that is not JSON is taken as
// plain text when it looks like a sentence (403 answers are plain text).
func providerError(body []byte) (msg, code string) {
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err != nil {
		return plainText(body), metaCode(string(body))
	}
	errMsg, errCode := errorField(eb.Error)
	msg = firstOf(eb.Message, text(errMsg))
	code = firstOf(text(errCode), eb.Code)
	if code == "" {
		code = metaCode(msg)
	}
	return msg, code
}

// errorField reads an "error" field: a string, or Meta's error object
// (text from error_user_msg, then message; code from code, then
// error_code). A Meta code quoted in the text is not looked for here.
func errorField(raw json.RawMessage) (msg, code string) {
	if len(raw) == 0 {
		return "", ""
	}
	var s text
	if json.Unmarshal(raw, &s) == nil && strings.TrimSpace(string(s)) != "" {
		return strings.TrimSpace(string(s)), ""
	}
	var ge graphError
	if json.Unmarshal(raw, &ge) != nil {
		return "", ""
	}
	return firstOf(ge.UserMessage, ge.Message), firstOf(ge.Code, ge.ErrorCode)
}

// firstOf is the first of vs that is not blank, trimmed.
func firstOf(vs ...text) string {
	for _, v := range vs {
		if s := strings.TrimSpace(string(v)); s != "" {
			return s
		}
	}
	return ""
}

// plainText is a non-JSON answer as words for a message: trimmed and
// short, and nothing when it is an HTML page.
func plainText(body []byte) string {
	s := strings.TrimSpace(string(body))
	if s == "" || strings.HasPrefix(s, "<") || !utf8.ValidString(s) {
		return ""
	}
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "…"
	}
	return s
}

// isTimeout reports whether a transport error is a timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// writtenAt reads a message's time, unix seconds. WhatsApp gives whole
// seconds: the message was written within that second, and its time is
// taken as the second's end, so that a client's quick answer never sorts
// before the agent's message it answers (Parley's own times have
// microseconds). Parley keeps the earlier of this and the arrival.
func writtenAt(t text) (time.Time, bool) {
	s := strings.TrimSpace(string(t))
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f < 0 || f >= 1e12 {
			return time.Time{}, false
		}
		sec = int64(f)
	}
	if sec <= 0 {
		return time.Time{}, false
	}
	return time.Unix(sec+1, 0).Add(-time.Microsecond).UTC(), true
}
