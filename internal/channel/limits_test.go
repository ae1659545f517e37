package channel_test

import (
	"archive/zip"
	"bytes"
	"strings"
	"testing"

	"parley/internal/channel"
)

// Files as their first bytes make them (the rest is padding).
func jpeg(size int) []byte { return pad([]byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"), size) }
func png(size int) []byte  { return pad([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"), size) }

// isoFile is an ISO base media file (MP4, M4A, 3GP, HEIC) with these brands.
func isoFile(major string, compatible ...string) []byte {
	box := []byte{0, 0, 0, byte(16 + 4*len(compatible))}
	box = append(box, "ftyp"+major+"\x00\x00\x00\x00"...)
	for _, c := range compatible {
		box = append(box, c...)
	}
	return pad(box, 256)
}

// HEIC is what an iPhone photo is: HEIF with the heic brand.
func heic(size int) []byte { return pad(isoFile("heic", "mif1", "heic"), size) }

func zipOf(t *testing.T, names ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		if n == "mimetype" {
			w.Write([]byte("application/vnd.oasis.opendocument.text"))
		} else {
			w.Write([]byte("<x/>"))
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func webp(animated bool, size int) []byte {
	flags := byte(0)
	if animated {
		flags = 0x02
	}
	return pad(append([]byte("RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00"), flags, 0, 0, 0), size)
}

func oggOpus() []byte {
	return pad([]byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x13OpusHead\x01"), 512)
}
func oggVorbis() []byte {
	return pad([]byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1e\x01vorbis"), 512)
}

func pad(b []byte, size int) []byte {
	if len(b) >= size {
		return b
	}
	return append(b, make([]byte, size-len(b))...)
}

func TestSniffTypeReadsTheBytesNotTheName(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"photo.jpg", jpeg(100), "image/jpeg"},
		{"photo.png", png(100), "image/png"},
		{"IMG_0001.HEIC", heic(100), "image/heic"},
		{"IMG_0001.jpg", heic(100), "image/heic"}, // renamed by hand: still HEIC
		{"photo.avif", isoFile("avif", "mif1", "avif"), "image/avif"},
		{"clip.mp4", isoFile("isom", "isom", "avc1"), "video/mp4"},
		{"clip.mov", isoFile("qt  ", "qt  "), "video/quicktime"},
		{"clip.3gp", isoFile("3gp4", "3gp4"), "video/3gpp"},
		{"note.m4a", isoFile("M4A ", "M4A ", "isom"), "audio/mp4"},
		{"voice.ogg", oggOpus(), "audio/ogg"},
		{"song.mp3", pad([]byte("ID3\x04\x00"), 64), "audio/mpeg"},
		{"song.mp3", pad([]byte{0xFF, 0xFB, 0x90, 0x64}, 64), "audio/mpeg"},
		{"sound.aac", pad([]byte{0xFF, 0xF1, 0x50, 0x80}, 64), "audio/aac"},
		{"voice.amr", pad([]byte("#!AMR\n"), 64), "audio/amr"},
		{"sticker.webp", webp(false, 100), "image/webp"},
		{"anim.gif", pad([]byte("GIF89a"), 64), "image/gif"},
		{"invoice.pdf", pad([]byte("%PDF-1.7\n"), 64), "application/pdf"},
		{"invoice.jpg", pad([]byte("%PDF-1.7\n"), 64), "application/pdf"},
		{"files.zip", zipOf(t, "a.txt", "b.txt"), "application/zip"},
		{"files.jpg", zipOf(t, "a.txt"), "application/zip"},
		{"report.docx", zipOf(t, "[Content_Types].xml", "word/document.xml"), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"sheet.xlsx", zipOf(t, "[Content_Types].xml", "xl/workbook.xml"), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
		{"deck.pptx", zipOf(t, "[Content_Types].xml", "ppt/presentation.xml"), "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
		{"letter.odt", zipOf(t, "mimetype", "content.xml"), "application/vnd.oasis.opendocument.text"},
		{"old.doc", pad([]byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"), 64), "application/msword"},
		{"old.xls", pad([]byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"), 64), "application/vnd.ms-excel"},
		{"mail.msg", pad([]byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"), 64), "application/x-ole-storage"},
		{"notes.txt", []byte("Opening hours: 9 to 5\n"), "text/plain"},
		{"contact.vcf", []byte("BEGIN:VCARD\nVERSION:3.0\nFN:Ada\nEND:VCARD\n"), "text/vcard"},
		{"data.csv", []byte("a,b\n1,2\n"), "text/csv"},
		{"mystery.jpg", []byte{0x00, 0x01, 0x02, 0x03, 0xfe, 0x00, 0x10}, "application/octet-stream"},
	} {
		if got := channel.SniffType(tc.name, tc.data); got != tc.want {
			t.Errorf("SniffType(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCheckFileRefusesWhatWhatsAppAndTheProviderRefuse(t *testing.T) {
	twilio, onemsg := channel.LimitsFor(channel.ProviderTwilio), channel.LimitsFor(channel.ProviderOneMsg)
	const mb = 1 << 20
	docx := zipOf(t, "[Content_Types].xml", "word/document.xml")
	bigPDF := pad([]byte("%PDF-1.7\n"), 20*mb)
	for _, tc := range []struct {
		lim      channel.Limits
		provider string
		name     string
		data     []byte
		wantType string
		refusal  string // "" when it may be sent
	}{
		{twilio, "twilio", "IMG_0001.HEIC", heic(2 * mb), "image/heic", "HEIC photos cannot be sent on WhatsApp: send it as JPEG or PNG."},
		{onemsg, "1msg", "IMG_0001.jpg", heic(2 * mb), "image/heic", "HEIC photos cannot be sent on WhatsApp: send it as JPEG or PNG."},
		{twilio, "twilio", "files.zip", zipOf(t, "a.txt"), "application/zip", "ZIP archives cannot be sent on WhatsApp: send the files in it one by one."},
		{onemsg, "1msg", "photo.jpg", zipOf(t, "a.txt"), "application/zip", "ZIP archives cannot be sent on WhatsApp: send the files in it one by one."},
		{twilio, "twilio", "photo.jpg", jpeg(7549747), "image/jpeg", "Images on WhatsApp are at most 5 MB; this one is 7.2 MB."},
		{onemsg, "1msg", "photo.jpg", jpeg(5*mb + 1), "image/jpeg", "Images on WhatsApp are at most 5 MB; this one is 5.1 MB."},
		{twilio, "twilio", "photo.jpg", jpeg(5 * mb), "image/jpeg", ""},
		{onemsg, "1msg", "photo.png", png(mb), "image/png", ""},
		{twilio, "twilio", "report.docx", docx, "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ""},
		{twilio, "twilio", "big.pdf", bigPDF, "application/pdf", "Twilio sends files of at most 16 MB; this one is 20 MB."},
		{onemsg, "1msg", "big.pdf", bigPDF, "application/pdf", "Parley sends files of at most 16 MB; this one is 20 MB."},
		{onemsg, "1msg", "clip.mp4", pad(isoFile("isom", "isom"), 17*mb), "video/mp4", "Videos on WhatsApp are at most 16 MB; this one is 17 MB."},
		{onemsg, "1msg", "notes.txt", []byte("hello\n"), "text/plain", ""},
		{twilio, "twilio", "notes.txt", []byte("hello\n"), "text/plain", "Text files (.txt) cannot be sent through Twilio on WhatsApp: paste the text in a message, or send it as PDF."},
		{onemsg, "1msg", "note.m4a", isoFile("M4A ", "M4A "), "audio/mp4", ""},
		{twilio, "twilio", "contact.vcf", []byte("BEGIN:VCARD\nEND:VCARD\n"), "text/vcard", ""},
		{onemsg, "1msg", "voice.ogg", oggOpus(), "audio/ogg", ""},
		{onemsg, "1msg", "voice.ogg", oggVorbis(), "audio/ogg", "WhatsApp plays OGG audio only in the Opus codec: send it as OGG Opus, MP3 or AAC."},
		{onemsg, "1msg", "sticker.webp", webp(false, 200<<10), "image/webp", "Stickers (WebP images) on WhatsApp are at most 100 KB; this one is 200 KB."},
		{onemsg, "1msg", "sticker.webp", webp(true, 200<<10), "image/webp", ""},
		{onemsg, "1msg", "clip.mov", isoFile("qt  ", "qt  "), "video/quicktime", "QuickTime videos (.mov) cannot be sent on WhatsApp: send it as MP4."},
		{twilio, "twilio", "mystery.jpg", []byte{0, 1, 2, 3, 0xfe}, "application/octet-stream", "Parley cannot tell what kind of file this is, and WhatsApp takes only"},
	} {
		ct, err := tc.lim.CheckFile(tc.name, tc.data[:min(len(tc.data), channel.SniffBytes)], int64(len(tc.data)))
		if ct != tc.wantType {
			t.Errorf("%s %s: type %q, want %q", tc.provider, tc.name, ct, tc.wantType)
		}
		switch {
		case tc.refusal == "" && err != nil:
			t.Errorf("%s %s: refused (%v), want it sent", tc.provider, tc.name, err)
		case tc.refusal != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.refusal)):
			t.Errorf("%s %s: %v, want %q", tc.provider, tc.name, err, tc.refusal)
		}
	}
}

func TestCheckTextByProvider(t *testing.T) {
	twilio, onemsg := channel.LimitsFor(channel.ProviderTwilio), channel.LimitsFor(channel.ProviderOneMsg)
	text := func(n int) string { return strings.Repeat("é", n) } // characters, not bytes
	for _, tc := range []struct {
		lim  channel.Limits
		body string
		with channel.TextWith
		want string
	}{
		{twilio, text(1600), channel.TextAlone, ""},
		{twilio, text(1734), channel.TextAlone, "Twilio sends at most 1,600 characters; this message has 1,734."},
		{onemsg, text(1734), channel.TextAlone, ""},
		{onemsg, text(4096), channel.TextAlone, ""},
		{onemsg, text(5000), channel.TextAlone, "WhatsApp messages are at most 4,096 characters; this one has 5,000."},
		{twilio, text(1024), channel.TextWithFile, ""},
		{twilio, text(1100), channel.TextWithFile, "The text sent with a file is at most 1,024 characters on WhatsApp; this one has 1,100. Send the text as a message of its own."},
		{onemsg, text(1100), channel.TextWithButtons, "A text with reply buttons is at most 1,024 characters on WhatsApp; this one has 1,100."},
		{onemsg, text(1100), channel.TextWithFile, "The text sent with a file is at most 1,024 characters on WhatsApp; this one has 1,100. Send the text as a message of its own."},
	} {
		err := tc.lim.CheckText(tc.body, tc.with)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%d characters (with %d): %q, want %q", len([]rune(tc.body)), tc.with, got, tc.want)
		}
	}
	if channel.LimitsFor("").MaxTextRunes() != 1600 {
		t.Error("an unknown provider should get the strictest limits (Twilio's)")
	}
}

func TestBrowserRulesMatchTheServer(t *testing.T) {
	twilio := channel.LimitsFor(channel.ProviderTwilio).BrowserRules()
	if r := twilio[".heic"]; r.Refused != "HEIC photos cannot be sent on WhatsApp: send it as JPEG or PNG." {
		t.Errorf(".heic rule = %+v", r)
	}
	if r := twilio[".zip"]; !strings.HasPrefix(r.Refused, "ZIP archives cannot be sent on WhatsApp") {
		t.Errorf(".zip rule = %+v", r)
	}
	if r := twilio[".jpg"]; r.MaxBytes != 5<<20 || r.Say != "Images on WhatsApp are at most 5 MB" {
		t.Errorf(".jpg rule = %+v", r)
	}
	if r := twilio[".txt"]; r.Refused == "" {
		t.Errorf("Twilio .txt rule = %+v, want refused", r)
	}
	onemsg := channel.LimitsFor(channel.ProviderOneMsg).BrowserRules()
	if r := onemsg[".txt"]; r.Refused != "" || r.MaxBytes != channel.MaxOutboundFileBytes {
		t.Errorf("1msg .txt rule = %+v", r)
	}
}
