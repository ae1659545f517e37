package sandbox

import (
	"bytes"
	"mime"
	"net/http"
	"unicode/utf8"
)

// WhatsApp's rules for what a business may send, as both simulators apply
// them. The simulator reads a file's bytes on its own (it does not share
// Parley's code) so that Parley is tested against an independent reading.
//
// Sources: Meta's supported media types (restated by
// docs.aws.amazon.com/social-messaging/latest/userguide/supported-media-types.html):
// image/jpeg, image/png ≤ 5 MB; image/webp stickers ≤ 100 KB (500 KB
// animated); audio/aac, audio/amr, audio/mpeg, audio/mp4, audio/ogg (Opus
// only) ≤ 16 MB; video/mp4, video/3gpp ≤ 16 MB; text/plain, PDF and MS
// Office documents ≤ 100 MB; text ≤ 4,096 characters, captions ≤ 1,024.
// Twilio's WhatsApp formats (twilio.com/docs/whatsapp/guidance-whatsapp-media-messages):
// JPG/JPEG, PNG, WEBP stickers; OGG, AMR, 3GP, AAC, MPEG audio; PDF, DOC,
// DOCX, PPTX, XLSX; MP4 video; vCard; the whole message ≤ 16 MB.
const (
	maxStickerBytes         = 100 << 10
	maxAnimatedStickerBytes = 500 << 10
	maxAVBytes              = 16 << 20  // audio and video
	maxDocumentBytes        = 100 << 20 // WhatsApp's; Twilio caps the whole message at 16 MB
	maxWhatsAppText         = 4096
	maxWhatsAppCaption      = 1024
	twilioMaxBody           = 1600
)

// realMediaType is what a file's bytes are, as far as WhatsApp's checks
// need to know; "" when the bytes say nothing the checks use.
func realMediaType(data []byte) string {
	has := func(at int, magic string) bool {
		return len(data) >= at+len(magic) && string(data[at:at+len(magic)]) == magic
	}
	switch {
	case has(0, "\xFF\xD8\xFF"):
		return "image/jpeg"
	case has(0, "\x89PNG\r\n\x1a\n"):
		return "image/png"
	case has(0, "RIFF") && has(8, "WEBP"):
		return "image/webp"
	case has(0, "GIF8"):
		return "image/gif"
	case has(0, "%PDF-"):
		return "application/pdf"
	case has(0, "OggS"):
		return "audio/ogg"
	case has(0, "#!AMR"):
		return "audio/amr"
	case has(0, "PK\x03\x04"):
		return "application/zip" // OOXML documents too: see typeMatches
	case has(0, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"):
		return "application/x-ole-storage" // DOC, XLS, PPT
	case has(4, "ftyp"):
		brands := string(data[8:min(len(data), 40)])
		for _, b := range []string{"heic", "heix", "hevc", "mif1", "msf1", "avif"} {
			if bytes.Contains([]byte(brands), []byte(b)) {
				return "image/heic"
			}
		}
		return "video/mp4" // MP4, M4A, 3GP: one container
	}
	return ""
}

// typeMatches reports whether a file's bytes can be of the declared type:
// Twilio refuses media whose Content-Type does not match the file
// (twilio.com/docs/whatsapp/guidance-whatsapp-media-messages). Types whose
// bytes the simulator does not recognise are taken at their word.
func typeMatches(declared string, data []byte) bool {
	real := realMediaType(data)
	switch declared {
	case "image/jpeg", "image/jpg":
		return real == "image/jpeg"
	case "image/png", "image/webp", "application/pdf", "audio/ogg", "audio/amr":
		return real == declared
	case "video/mp4", "video/3gpp", "audio/mp4", "audio/3gpp":
		return real == "video/mp4"
	case "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"application/vnd.openxmlformats-officedocument.presentationml.presentation":
		return real == "application/zip"
	case "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint":
		return real == "application/x-ole-storage"
	}
	return real == "" || real == declared
}

// twilioMediaCode is the error a Twilio WhatsApp message with this media
// fails with after its create was accepted, or 0: 63021 for a type
// WhatsApp does not take or a Content-Type the bytes contradict, 11751 for
// a file over the size limit (twilio.com/docs/api/errors/63021 and 11751).
// Which code Twilio gives a mismatch and an over-size sticker is
// UNVERIFIED: the closest in meaning is used.
func twilioMediaCode(contentType string, data []byte, caption string) int {
	ct, _, err := mime.ParseMediaType(contentType)
	switch {
	case err != nil || !whatsappMIMETypes[ct] || !typeMatches(ct, data):
		return codeInvalidContent
	case ct == "audio/ogg" && !opus(data):
		return codeInvalidContent
	case len(data) > maxMediaBytes:
		return codeMediaTooLarge
	case (ct == "image/jpeg" || ct == "image/jpg" || ct == "image/png") && len(data) > maxImageBytes:
		return codeMediaTooLarge
	case ct == "image/webp" && len(data) > stickerLimit(data):
		return codeMediaTooLarge
	case utf8.RuneCountInString(caption) > maxWhatsAppCaption:
		// 63021 names text longer than WhatsApp allows among its causes.
		return codeInvalidContent
	}
	return 0
}

// oneMsgMediaRefusal is the sent:false message 1msg answers a sendFile
// with when WhatsApp would not take the file or its caption, or "". The
// texts are Graph API errors (Meta's 131053 "Media upload error", 100
// "Invalid parameter") in the "(#code) message" form 1msg relays; that
// 1msg answers them synchronously and in these words is UNVERIFIED.
func oneMsgMediaRefusal(data []byte, caption string) string {
	ct := realMediaType(data)
	if ct == "" {
		ct, _, _ = mime.ParseMediaType(http.DetectContentType(data))
	}
	var max int
	switch ct {
	case "image/jpeg", "image/png":
		max = maxImageBytes
	case "image/webp":
		max = stickerLimit(data)
	case "video/mp4", "audio/amr", "audio/ogg", "audio/mpeg", "audio/aac":
		max = maxAVBytes
	case "application/pdf", "application/zip", "application/x-ole-storage", "text/plain":
		max = maxDocumentBytes // OOXML documents are ZIP files
	}
	switch {
	case ct == "application/zip" && !ooxml(data), ct == "image/heic", max == 0:
		return omMediaUploadError
	case ct == "audio/ogg" && !opus(data):
		return omMediaUploadError
	case len(data) > max:
		return omMediaUploadError
	case utf8.RuneCountInString(caption) > maxWhatsAppCaption:
		return omCaptionTooLong
	}
	return ""
}

// Graph API errors 1msg relays (UNVERIFIED wording, see oneMsgMediaRefusal).
const (
	omMediaUploadError  = "(#131053) Media upload error"
	omTextTooLong       = "(#100) Param text['body'] must be at most 4096 characters long."
	omCaptionTooLong    = "(#100) Param caption must be at most 1024 characters long."
	omButtonTextTooLong = "(#100) Param interactive['body']['text'] must be at most 1024 characters long."
)

// oneMsgTextRefusal is the sent:false message for a text WhatsApp would
// refuse (over 4,096 characters), or "".
func oneMsgTextRefusal(text string) string {
	if utf8.RuneCountInString(text) > maxWhatsAppText {
		return omTextTooLong
	}
	return ""
}

// oneMsgButtonTextRefusal is the sent:false message for reply buttons
// under a text longer than WhatsApp's 1,024 characters for an interactive
// message's body, or "".
func oneMsgButtonTextRefusal(text string) string {
	if utf8.RuneCountInString(text) > maxWhatsAppCaption {
		return omButtonTextTooLong
	}
	return ""
}

// twilioBodyRefusal is the synchronous error of a create whose Body is over
// 1,600 characters: 21617, whose text real Twilio answers are quoted with
// (github.com/twilio/twilio-node/issues/327, simpleiot/simpleiot#117;
// twilio.com/docs/api/errors/21617).
func twilioBodyRefusal(body string) (code int, msg string) {
	if utf8.RuneCountInString(body) > twilioMaxBody {
		return codeBodyTooLong, "The concatenated message body exceeds the 1600 character limit."
	}
	return 0, ""
}

func opus(data []byte) bool { return bytes.Contains(data[:min(len(data), 128)], []byte("OpusHead")) }

// ooxml reports whether a ZIP file is a Word, Excel or PowerPoint document
// (their parts live under word/, xl/, ppt/).
func ooxml(data []byte) bool {
	head := data[:min(len(data), 4096)]
	return bytes.Contains(head, []byte("word/")) || bytes.Contains(head, []byte("xl/")) || bytes.Contains(head, []byte("ppt/")) ||
		bytes.Contains(head, []byte("[Content_Types].xml"))
}

func stickerLimit(data []byte) int {
	if len(data) > 20 && string(data[12:16]) == "VP8X" && data[20]&0x02 != 0 {
		return maxAnimatedStickerBytes
	}
	return maxStickerBytes
}
