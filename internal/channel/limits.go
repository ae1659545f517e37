package channel

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// What WhatsApp and each provider let through, in one place, so that
// Parley refuses a message before it is stored rather than have the
// provider fail it after it was sent. Sources:
//
//   - [META] WhatsApp Cloud API "Supported media types", as restated by
//     docs.aws.amazon.com/social-messaging/latest/userguide/supported-media-types.html
//     and help.vtex.com (supported-media-sending-whatsapp-cloud): image
//     image/jpeg, image/png ≤ 5 MB; sticker image/webp ≤ 100 KB static,
//     500 KB animated; audio audio/aac, audio/amr, audio/mpeg, audio/mp4,
//     audio/ogg (Opus codec only) ≤ 16 MB; video video/mp4, video/3gpp
//     ≤ 16 MB; document text/plain, application/pdf, MS Word, Excel and
//     PowerPoint (old and OOXML) ≤ 100 MB. Text messages ≤ 4,096
//     characters, media captions ≤ 1,024.
//   - [TW-MEDIA] twilio.com/docs/whatsapp/guidance-whatsapp-media-messages:
//     the whole message under 16 MB, images 5 MB; WhatsApp formats Twilio
//     supports: JPG/JPEG, PNG, WEBP (stickers); OGG, AMR, 3GP, AAC, MPEG
//     audio; PDF, DOC, DOCX, PPTX, XLSX; MP4 video; vCard. Twilio's
//     general table (twilio.com/docs/messaging/guides/accepted-mime-types)
//     marks more image types (HEIC, TIFF, BMP) as WhatsApp-capable; Meta
//     does not take them, so Parley follows the stricter WhatsApp guide.
//   - [TW-21617] twilio.com/docs/api/errors/21617 and 21658: Body is at
//     most 1,600 characters.
//
// Parley itself takes uploads of at most MaxOutboundFileBytes: the file is
// held in memory, and 1msg documents no size of its own for sendFile.

// Providers, as integrations name them.
const (
	ProviderTwilio = "twilio"
	ProviderOneMsg = "onemsg"
)

// Kinds of media WhatsApp sends.
const (
	KindImage    = "image"
	KindSticker  = "sticker"
	KindAudio    = "audio"
	KindVideo    = "video"
	KindDocument = "document"
)

// WhatsApp's own size limits per kind [META].
const (
	MaxImageBytes           = 5 << 20
	MaxStaticStickerBytes   = 100 << 10
	MaxAnimatedStickerBytes = 500 << 10
	MaxAudioBytes           = 16 << 20
	MaxVideoBytes           = 16 << 20
	MaxDocumentBytes        = 100 << 20
	MaxTextRunes            = 4096 // a text message [META]
	MaxCaptionRunes         = 1024 // the text sent with a file, or above reply buttons [META]
	TwilioMaxBodyRunes      = 1600 // Twilio's Body [TW-21617]
	TwilioMaxMessageBytes   = 16 << 20
)

// whatsappTypes are the MIME types WhatsApp accepts, by kind [META].
var whatsappTypes = map[string]string{
	"image/jpeg":                    KindImage,
	"image/png":                     KindImage,
	"image/webp":                    KindSticker,
	"audio/aac":                     KindAudio,
	"audio/amr":                     KindAudio,
	"audio/mpeg":                    KindAudio,
	"audio/mp4":                     KindAudio,
	"audio/ogg":                     KindAudio,
	"video/mp4":                     KindVideo,
	"video/3gpp":                    KindVideo,
	"text/plain":                    KindDocument,
	"application/pdf":               KindDocument,
	"application/msword":            KindDocument,
	"application/vnd.ms-excel":      KindDocument,
	"application/vnd.ms-powerpoint": KindDocument,
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   KindDocument,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         KindDocument,
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": KindDocument,
}

// twilioTypes are the WhatsApp formats Twilio lists [TW-MEDIA]: fewer
// documents and no M4A or 3GP video than WhatsApp itself, and vCards.
var twilioTypes = map[string]string{
	"image/jpeg":         KindImage,
	"image/png":          KindImage,
	"image/webp":         KindSticker,
	"audio/ogg":          KindAudio,
	"audio/amr":          KindAudio,
	"audio/3gpp":         KindAudio,
	"audio/aac":          KindAudio,
	"audio/mpeg":         KindAudio,
	"video/mp4":          KindVideo,
	"text/vcard":         KindDocument,
	"application/pdf":    KindDocument,
	"application/msword": KindDocument,
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   KindDocument,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         KindDocument,
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": KindDocument,
}

// Limits are what one provider lets through to WhatsApp.
type Limits struct {
	provider     string // as agents know it: "Twilio", "1msg"
	textRunes    int
	messageBytes int64 // the provider's cap on a whole message; 0: WhatsApp's per kind
	types        map[string]string
}

// LimitsFor returns the limits of a provider (ProviderTwilio,
// ProviderOneMsg); an unknown provider gets Twilio's, the stricter.
func LimitsFor(provider string) Limits {
	if provider == ProviderOneMsg {
		return Limits{provider: "1msg", textRunes: MaxTextRunes, types: whatsappTypes}
	}
	return Limits{provider: "Twilio", textRunes: TwilioMaxBodyRunes, messageBytes: TwilioMaxMessageBytes, types: twilioTypes}
}

// MaxTextRunes is the longest text message the provider sends.
func (l Limits) MaxTextRunes() int { return l.textRunes }

// Refusal is a message Parley will not send, with the reason in plain
// words for the agent (its Error text).
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return r.Reason }

func refuse(format string, args ...any) *Refusal {
	return &Refusal{Reason: fmt.Sprintf(format, args...)}
}

// TextWith is what a text goes with, which decides its limit.
type TextWith int

// A text goes alone, as a file's caption, or above reply buttons.
const (
	TextAlone TextWith = iota
	TextWithFile
	TextWithButtons
)

// CheckText refuses a text over the provider's length, or over WhatsApp's
// 1,024 characters for a file's caption or the body of reply buttons
// [META].
func (l Limits) CheckText(body string, with TextWith) error {
	n := utf8.RuneCountInString(body)
	switch {
	case with == TextWithFile && n > MaxCaptionRunes:
		return refuse("The text sent with a file is at most %s characters on WhatsApp; this one has %s. Send the text as a message of its own.",
			thousands(MaxCaptionRunes), thousands(n))
	case with == TextWithButtons && n > MaxCaptionRunes:
		return refuse("A text with reply buttons is at most %s characters on WhatsApp; this one has %s.", thousands(MaxCaptionRunes), thousands(n))
	case n > l.textRunes && l.provider == "Twilio":
		return refuse("Twilio sends at most %s characters; this message has %s.", thousands(l.textRunes), thousands(n))
	case n > l.textRunes:
		return refuse("WhatsApp messages are at most %s characters; this one has %s.", thousands(l.textRunes), thousands(n))
	}
	return nil
}

// CheckFile finds the real type of a file from its bytes (and its name
// where the bytes leave a choice), whatever the browser declared, and
// refuses it when WhatsApp or the provider would: a type they do not
// take, or a size over the kind's limit. head is the file's start (its
// first SniffBytes, or all of it), size its length. It returns the type to
// send the file with.
func (l Limits) CheckFile(name string, data []byte, size int64) (string, error) {
	ct := SniffType(name, data)
	kind, ok := l.types[ct]
	if !ok {
		return ct, l.unsupported(ct)
	}
	if ct == "audio/ogg" && !bytes.Contains(data[:min(len(data), 128)], []byte("OpusHead")) {
		return ct, refuse("WhatsApp plays OGG audio only in the Opus codec: send it as OGG Opus, MP3 or AAC.")
	}
	if size > 0 {
		if max, say := l.maxSize(kind, animatedWebP(data)); size > max {
			return ct, refuse("%s; this one is %s.", say, SizeWords(size))
		}
	}
	return ct, nil
}

// maxSize is the largest file of a kind the provider sends, with the
// limit in words: WhatsApp's for the kind, the provider's for a whole
// message, or Parley's for an upload, whichever is smallest.
func (l Limits) maxSize(kind string, animated bool) (int64, string) {
	var max int64
	var what string
	switch kind {
	case KindImage:
		max, what = MaxImageBytes, "Images"
	case KindSticker:
		max, what = MaxStaticStickerBytes, "Stickers (WebP images)"
		if animated {
			max, what = MaxAnimatedStickerBytes, "Animated stickers (WebP images)"
		}
	case KindAudio:
		max, what = MaxAudioBytes, "Audio files"
	case KindVideo:
		max, what = MaxVideoBytes, "Videos"
	default:
		max, what = MaxDocumentBytes, "Documents"
	}
	say := fmt.Sprintf("%s on WhatsApp are at most %s", what, SizeWords(max))
	if l.messageBytes > 0 && l.messageBytes < max {
		max, say = l.messageBytes, fmt.Sprintf("%s sends files of at most %s", l.provider, SizeWords(l.messageBytes))
	}
	if MaxOutboundFileBytes < max {
		max, say = MaxOutboundFileBytes, fmt.Sprintf("Parley sends files of at most %s", SizeWords(MaxOutboundFileBytes))
	}
	return max, say
}

// FileRule is what a browser checks before uploading a file with a given
// extension: the largest size (with the limit in words), or Refused, the
// reason the provider never sends such files.
type FileRule struct {
	MaxBytes int64  `json:"max,omitempty"`
	Say      string `json:"say,omitempty"`
	Refused  string `json:"refused,omitempty"`
}

// BrowserRules are the checks the composer makes before uploading, by
// lower-case extension (".jpg"). They are a courtesy: the server's
// CheckFile, which reads the bytes, is the one that counts. An extension
// not listed is left to the server.
func (l Limits) BrowserRules() map[string]FileRule {
	out := map[string]FileRule{}
	for ext, ct := range extTypes {
		if kind, ok := l.types[ct]; ok {
			max, say := l.maxSize(kind, true)
			out[ext] = FileRule{MaxBytes: max, Say: say}
		} else {
			out[ext] = FileRule{Refused: l.unsupported(ct).Reason}
		}
	}
	return out
}

// extTypes are the types of the extensions agents and clients meet, by
// Parley's own table rather than the system's mime.types, so that a file's
// type does not depend on the machine.
var extTypes = map[string]string{
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
	".aac": "audio/aac", ".amr": "audio/amr", ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".ogg": "audio/ogg", ".opus": "audio/ogg", ".3ga": "audio/3gpp",
	".mp4": "video/mp4", ".3gp": "video/3gpp",
	".txt": "text/plain", ".pdf": "application/pdf",
	".doc": "application/msword", ".xls": "application/vnd.ms-excel", ".ppt": "application/vnd.ms-powerpoint",
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".vcf":  "text/vcard",
	".heic": "image/heic", ".heif": "image/heic", ".avif": "image/avif", ".gif": "image/gif", ".bmp": "image/bmp",
	".tif": "image/tiff", ".tiff": "image/tiff", ".svg": "image/svg+xml",
	".zip": "application/zip", ".gz": "application/x-gzip", ".tgz": "application/x-gzip", ".rar": "application/x-rar-compressed", ".7z": "application/x-7z-compressed",
	".mov": "video/quicktime", ".webm": "video/webm", ".avi": "video/avi", ".wav": "audio/wave", ".aif": "audio/aiff", ".aiff": "audio/aiff",
	".html": "text/html", ".htm": "text/html", ".csv": "text/csv", ".msg": "application/x-ole-storage",
}

// unsupported explains a type the provider does not send.
func (l Limits) unsupported(ct string) *Refusal {
	if _, whatsapp := whatsappTypes[ct]; whatsapp {
		// WhatsApp takes it, the provider does not list it [TW-MEDIA].
		return refuse("%s cannot be sent through %s on WhatsApp: %s.", typeNames[ct].name, l.provider, typeNames[ct].instead)
	}
	if n, ok := typeNames[ct]; ok {
		return refuse("%s cannot be sent on WhatsApp: %s.", n.name, n.instead)
	}
	if ct == "application/octet-stream" {
		return refuse("Parley cannot tell what kind of file this is, and WhatsApp takes only %s.", l.accepted())
	}
	return refuse("Files of type %s cannot be sent on WhatsApp, which takes only %s.", ct, l.accepted())
}

// accepted lists, in words, what the provider sends.
func (l Limits) accepted() string {
	if l.provider == "Twilio" {
		return "JPEG and PNG images, MP4 videos, MP3, AAC, AMR and OGG (Opus) audio, and PDF, Word, Excel (.xlsx) and PowerPoint (.pptx) documents"
	}
	return "JPEG and PNG images, MP4 and 3GP videos, MP3, AAC, AMR, M4A and OGG (Opus) audio, and PDF, text, Word, Excel and PowerPoint documents"
}

// typeNames name the types agents meet, with what to send instead.
var typeNames = map[string]struct{ name, instead string }{
	"image/heic":                   {"HEIC photos", "send it as JPEG or PNG"},
	"image/avif":                   {"AVIF images", "send it as JPEG or PNG"},
	"image/gif":                    {"GIF images", "send it as JPEG or PNG, or an animation as MP4 video"},
	"image/bmp":                    {"BMP images", "send it as JPEG or PNG"},
	"image/tiff":                   {"TIFF images", "send it as JPEG or PNG"},
	"image/svg+xml":                {"SVG images", "send it as PNG"},
	"application/zip":              {"ZIP archives", "send the files in it one by one"},
	"application/x-gzip":           {"GZIP archives", "send the files in it one by one"},
	"application/x-rar-compressed": {"RAR archives", "send the files in it one by one"},
	"application/x-7z-compressed":  {"7-Zip archives", "send the files in it one by one"},
	"video/quicktime":              {"QuickTime videos (.mov)", "send it as MP4"},
	"video/webm":                   {"WebM videos", "send it as MP4"},
	"video/avi":                    {"AVI videos", "send it as MP4"},
	"audio/wave":                   {"WAV audio", "send it as MP3 or AAC"},
	"audio/aiff":                   {"AIFF audio", "send it as MP3 or AAC"},
	"text/html":                    {"Web pages (HTML)", "send it as PDF"},
	"text/csv":                     {"CSV files", "send it as an Excel sheet (.xlsx) or PDF"},
	"text/vcard":                   {"Contact cards (vCard)", "type the contact's details in a message"},
	"application/x-ole-storage":    {"Outlook and other Office container files", "send it as PDF"},
	// WhatsApp takes these; Twilio does not list them [TW-MEDIA].
	"text/plain":                    {"Text files (.txt)", "paste the text in a message, or send it as PDF"},
	"application/vnd.ms-excel":      {"Excel 97–2003 files (.xls)", "save it as .xlsx"},
	"application/vnd.ms-powerpoint": {"PowerPoint 97–2003 files (.ppt)", "save it as .pptx"},
	"audio/mp4":                     {"M4A audio", "send it as MP3 or AAC"},
	"video/3gpp":                    {"3GP videos", "send it as MP4"},
}

// SniffType is a file's real MIME type, read from its first bytes (magic
// numbers), the file name deciding only between formats that share a
// container (an Office file inside OLE, M4A inside MP4). A file whose
// bytes are unknown is application/octet-stream: a name alone never makes
// a file a JPEG.
func SniffType(name string, data []byte) string {
	data = data[:min(len(data), SniffBytes)]
	ext := strings.ToLower(filepath.Ext(name))
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
	case has(0, "RIFF") && has(8, "WAVE"):
		return "audio/wave"
	case has(0, "RIFF") && has(8, "AVI "):
		return "video/avi"
	case has(0, "GIF87a"), has(0, "GIF89a"):
		return "image/gif"
	case has(0, "%PDF-"):
		return "application/pdf"
	case has(0, "#!AMR"):
		return "audio/amr"
	case has(0, "OggS"):
		return "audio/ogg"
	case has(0, "ID3"):
		return "audio/mpeg"
	case has(0, "II*\x00"), has(0, "MM\x00*"):
		return "image/tiff"
	case has(0, "BM") && len(data) > 14 && ext == ".bmp":
		return "image/bmp"
	case has(4, "ftyp"):
		return isoMediaType(data, ext)
	case has(0, "PK\x03\x04"):
		return zipType(data)
	case has(0, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"):
		switch ext {
		case ".doc":
			return "application/msword"
		case ".xls":
			return "application/vnd.ms-excel"
		case ".ppt":
			return "application/vnd.ms-powerpoint"
		}
		return "application/x-ole-storage"
	case has(0, "Rar!\x1a\x07"):
		return "application/x-rar-compressed"
	case has(0, "7z\xBC\xAF\x27\x1C"):
		return "application/x-7z-compressed"
	case has(0, "\x1f\x8b"):
		return "application/x-gzip"
	case len(data) >= 2 && data[0] == 0xFF && data[1]&0xF6 == 0xF0:
		return "audio/aac" // ADTS: 12-bit sync, layer 00
	case len(data) >= 2 && data[0] == 0xFF && data[1]&0xE0 == 0xE0 && data[1]&0x06 != 0:
		return "audio/mpeg" // an MPEG audio frame without an ID3 tag
	case has(0, "\x1A\x45\xDF\xA3"):
		return "video/webm"
	}
	ct, _, _ := mime.ParseMediaType(http.DetectContentType(data))
	if ct == "text/plain" {
		switch ext {
		case ".vcf", ".vcard":
			return "text/vcard"
		case ".csv":
			return "text/csv"
		case ".svg":
			return "image/svg+xml"
		}
	}
	if ct == "text/xml" && ext == ".svg" {
		return "image/svg+xml"
	}
	return ct
}

// isoMediaType reads an ISO base media file's brands (MP4, M4A, 3GP,
// QuickTime, HEIC, AVIF all start with an ftyp box).
func isoMediaType(data []byte, ext string) string {
	size := int(uint32(data[0])<<24 | uint32(data[1])<<16 | uint32(data[2])<<8 | uint32(data[3]))
	if size < 16 || size > len(data) {
		size = min(len(data), 64)
	}
	var brands []string
	for i := 8; i+4 <= size; i += 4 {
		if i == 12 {
			continue // minor version
		}
		brands = append(brands, string(data[i:i+4]))
	}
	is := func(bs ...string) bool {
		for _, b := range brands {
			for _, want := range bs {
				if b == want {
					return true
				}
			}
		}
		return false
	}
	major := ""
	if len(brands) > 0 {
		major = brands[0]
	}
	switch {
	case is("avif", "avis"):
		return "image/avif"
	case is("heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs", "mif1", "msf1"):
		return "image/heic"
	case major == "qt  ":
		return "video/quicktime"
	case strings.HasPrefix(major, "3gp"), strings.HasPrefix(major, "3g2"):
		if ext == ".3ga" {
			return "audio/3gpp"
		}
		return "video/3gpp"
	case major == "M4A ", major == "M4B ", major == "M4P ", ext == ".m4a":
		return "audio/mp4"
	}
	return "video/mp4"
}

// zipType tells OOXML (docx, xlsx, pptx) and OpenDocument files from other
// ZIP archives by their entries.
func zipType(data []byte) string {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "application/zip"
	}
	for _, f := range zr.File {
		switch {
		case f.Name == "mimetype" && f.UncompressedSize64 < 100:
			if rc, err := f.Open(); err == nil {
				b, _ := io.ReadAll(rc)
				rc.Close()
				if ct := strings.TrimSpace(string(b)); ct != "" {
					return ct // OpenDocument, EPUB
				}
			}
		case strings.HasPrefix(f.Name, "word/"):
			return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
		case strings.HasPrefix(f.Name, "xl/"):
			return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
		case strings.HasPrefix(f.Name, "ppt/"):
			return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
		}
	}
	return "application/zip"
}

// SniffBytes is how much of a file's start SniffType and CheckFile read:
// what they look at lies well within it.
const SniffBytes = 4096

// animatedWebP reports whether a WebP has the animation flag of its
// extended (VP8X) header.
func animatedWebP(data []byte) bool {
	return len(data) > 20 && string(data[12:16]) == "VP8X" && data[20]&0x02 != 0
}

// SizeWords is a size as agents read it, rounded up so that a file just
// over a limit never reads as the limit itself: "7.2 MB", "120 KB".
func SizeWords(n int64) string {
	if n < 1<<20 {
		return strconv.FormatInt(int64(math.Ceil(float64(n)/(1<<10))), 10) + " KB"
	}
	mb := math.Ceil(float64(n)/(1<<20)*10) / 10
	if mb == math.Trunc(mb) {
		return strconv.FormatFloat(mb, 'f', 0, 64) + " MB"
	}
	return strconv.FormatFloat(mb, 'f', 1, 64) + " MB"
}

// thousands writes n with thousands separators: 1,600.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
